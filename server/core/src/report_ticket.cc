#include "strata/server/core/report_ticket.h"

#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"

namespace strata::server {
namespace {

constexpr std::string_view kDomain = "strata-report-ticket-v1\n";
constexpr size_t kKeyBytes = 32;

std::string Mac(const HmacSha256Key& key, std::string_view body) {
  std::string input(kDomain);
  input.append(body);
  const Sha256Digest d = key.Mac(input);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

std::string_view TicketProblemName(TicketProblem p) {
  switch (p) {
    case TicketProblem::kNone:
      return "none";
    case TicketProblem::kNoTicket:
      return "no_ticket";
    case TicketProblem::kBadTicket:
      return "bad_ticket";
    case TicketProblem::kExpired:
      return "expired_ticket";
    case TicketProblem::kWrongDevice:
      return "wrong_device";
  }
  return "bad_ticket";
}

absl::StatusOr<std::unique_ptr<ReportTickets>> ReportTickets::Open(
    Store* store, Random* random) {
  std::string candidate(kKeyBytes, '\0');
  random->Fill(candidate.data(), candidate.size());
  STRATA_ASSIGN_OR_RETURN(std::string key,
                          store->GetOrCreateReportTicketKey(kKeyId, candidate));
  if (key.size() != kKeyBytes) {
    return absl::DataLossError(
        "the stored report ticket key has the wrong length; restore the data "
        "directory from a backup");
  }
  return std::make_unique<ReportTickets>(std::move(key));
}

std::string ReportTickets::Sign(const v1::ReportTicket& ticket) const {
  v1::SignedReportTicket signed_ticket;
  signed_ticket.set_body(ticket.SerializeAsString());
  signed_ticket.set_key_id(kKeyId);
  signed_ticket.set_mac(Mac(*keys_.at(kKeyId), signed_ticket.body()));
  return signed_ticket.SerializeAsString();
}

CheckedTicket ReportTickets::Verify(std::string_view bytes,
                                    std::string_view app_id,
                                    std::string_view device_id,
                                    absl::Time now) const {
  CheckedTicket out;
  if (bytes.empty()) {
    out.problem = TicketProblem::kNoTicket;
    return out;
  }
  out.problem = TicketProblem::kBadTicket;
  v1::SignedReportTicket signed_ticket;
  if (bytes.size() > kMaxTicketBytes ||
      !signed_ticket.ParseFromArray(bytes.data(),
                                    static_cast<int>(bytes.size()))) {
    return out;
  }
  auto key = keys_.find(signed_ticket.key_id());
  if (key == keys_.end() ||
      !ConstantTimeEquals(Mac(*key->second, signed_ticket.body()),
                          signed_ticket.mac())) {
    return out;
  }
  v1::ReportTicket ticket;
  if (!ticket.ParseFromString(signed_ticket.body()) ||
      ticket.app_id() != app_id) {
    return out;
  }
  if (ticket.device_id() != device_id) {
    out.problem = TicketProblem::kWrongDevice;
    return out;
  }
  if (absl::ToUnixSeconds(now) >= ticket.expires_at_unix()) {
    out.problem = TicketProblem::kExpired;
    return out;
  }
  out.problem = TicketProblem::kNone;
  out.ticket = std::move(ticket);
  return out;
}

}  // namespace strata::server
