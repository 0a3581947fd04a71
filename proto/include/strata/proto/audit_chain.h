// The audit log's hash chain, shared by the server (which appends) and the
// CLI (which verifies independently).
#ifndef STRATA_PROTO_AUDIT_CHAIN_H_
#define STRATA_PROTO_AUDIT_CHAIN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "strata/v1/admin.pb.h"

namespace strata {

// Hex SHA-256 over a length-prefixed encoding of every field but `hash`
// (seq, at_unix, actor, action, app_id, detail, prev_hash).
std::string AuditEntryHash(const v1::AuditEntry& entry);

// Checks that entries are consecutive from `first_seq`, that each names the
// previous entry's hash (`prev_hash` of the first must equal
// `expected_prev`), and that each hash is right. kDataLoss naming the first
// bad entry otherwise.
absl::Status VerifyAuditChain(const std::vector<v1::AuditEntry>& entries,
                              uint64_t first_seq,
                              const std::string& expected_prev);

}  // namespace strata

#endif  // STRATA_PROTO_AUDIT_CHAIN_H_
