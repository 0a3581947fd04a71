// Report tickets: what a device's Check told it it counts for, signed by
// stratad, so a report counts only for releases that were offered to that
// device (or hold it back as their control).
//
// At Check the server writes a ReportTicket (app, device id, issue and
// expiry of the plan, and per live release still being judged the device's
// cohort, treatment or control) and MACs it: SignedReportTicket{body,
// key_id, mac = HMAC-SHA256(key, "strata-report-ticket-v1\n" || body)}. The
// key is 32 random bytes made once and kept in the Store, so tickets stay
// valid across restarts; key_id leaves room for rotation. The device sends
// the latest ticket back with every report; Verify decides whether it is
// this device's, unexpired and unforged. There is no device attestation: a
// ticket proves only that someone asked Check with that device id.
#ifndef STRATA_SERVER_CORE_REPORT_TICKET_H_
#define STRATA_SERVER_CORE_REPORT_TICKET_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/base/sha256.h"
#include "strata/server/storage/store.h"
#include "strata/v1/storage.pb.h"

namespace strata::server {

// Why a report's ticket does not count; the names are metric labels.
enum class TicketProblem {
  kNone,
  kNoTicket,     // "no_ticket": the report carries none
  kBadTicket,    // "bad_ticket": unparseable, unknown key, bad MAC, other app
  kExpired,      // "expired_ticket"
  kWrongDevice,  // "wrong_device": another device id's ticket
};
std::string_view TicketProblemName(TicketProblem p);

struct CheckedTicket {
  TicketProblem problem = TicketProblem::kNone;
  v1::ReportTicket ticket;  // set when problem is kNone
};

class ReportTickets {
 public:
  static constexpr uint32_t kKeyId = 1;
  // Tickets larger than this are refused unread.
  static constexpr size_t kMaxTicketBytes = 64 * 1024;

  // Loads the MAC key from `store`, creating it once from `random`.
  static absl::StatusOr<std::unique_ptr<ReportTickets>> Open(Store* store,
                                                             Random* random);
  // A ticket with `key` as key kKeyId (tests).
  explicit ReportTickets(const std::string& key) {
    keys_[kKeyId] = std::make_unique<HmacSha256Key>(key);
  }

  // The serialized SignedReportTicket for `ticket`.
  std::string Sign(const v1::ReportTicket& ticket) const;
  // Checks `bytes` for a report of (`app_id`, `device_id`) received at
  // `now`.
  CheckedTicket Verify(std::string_view bytes, std::string_view app_id,
                       std::string_view device_id, absl::Time now) const;

 private:
  std::map<uint32_t, std::unique_ptr<HmacSha256Key>> keys_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_REPORT_TICKET_H_
