#include "strata/proto/audit_chain.h"

#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

void Field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ',';
}

}  // namespace

std::string AuditEntryHash(const v1::AuditEntry& e) {
  std::string canonical = "strata-audit-v1,";
  Field(canonical, std::to_string(e.seq()));
  Field(canonical, std::to_string(e.at_unix()));
  Field(canonical, e.actor());
  Field(canonical, e.action());
  Field(canonical, e.app_id());
  Field(canonical, e.detail());
  Field(canonical, e.prev_hash());
  return Sha256::HexHash(canonical);
}

absl::Status VerifyAuditChain(const std::vector<v1::AuditEntry>& entries,
                              uint64_t first_seq,
                              const std::string& expected_prev) {
  std::string prev = expected_prev;
  uint64_t seq = first_seq;
  for (const v1::AuditEntry& e : entries) {
    if (e.seq() != seq) {
      return absl::DataLossError(StrCat("audit entry ", seq,
                                        " is missing (found ", e.seq(),
                                        " in its place)"));
    }
    if (e.prev_hash() != prev) {
      return absl::DataLossError(
          StrCat("audit entry ", seq,
                 " does not chain to the entry before it (prev_hash differs)"));
    }
    if (AuditEntryHash(e) != e.hash()) {
      return absl::DataLossError(
          StrCat("audit entry ", seq, " (", e.action(),
                 ") was altered: its hash does not match"));
    }
    prev = e.hash();
    ++seq;
  }
  return absl::OkStatus();
}

}  // namespace strata
