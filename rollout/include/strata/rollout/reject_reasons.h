// Every strata.v1.RejectReason by name, each with an explicit decision of
// how release health counts it. rollout/ does not depend on protobuf, so
// the names and numbers are written out here;
// tests/rollout/reject_reasons_test.cc parses proto/strata/v1/common.proto
// and fails when the proto has a reason this table does not decide, or a
// name or number differs.
#ifndef STRATA_ROLLOUT_REJECT_REASONS_H_
#define STRATA_ROLLOUT_REJECT_REASONS_H_

#include <optional>
#include <span>
#include <string_view>

namespace strata::rollout {

// What a rejection says about the release it was reported for.
enum class RejectClass : int {
  // Never set by a well-behaved SDK.
  kUnspecified,
  // The delivered bytes or signed metadata do not verify: a signature,
  // threshold, hash or length that does not match, a director entry that
  // no publisher signed or that differs from the signed one, a delegated
  // key signing outside its paths, a patch producing other bytes. Points at
  // a mis-signed or corrupt release (or tampering on its way): the
  // `integrity_failures` gate halts on a handful of these.
  kIntegrity,
  // Bytes that are not metadata of the expected shape or type, or a name
  // that is not a safe path: refused before any signature is checked.
  kFormat,
  // Replay, rollback, freeze and mix-and-match: metadata that verifies but
  // is older than, or inconsistent with, what the device trusts. Says more
  // about the channel or the device's clock than about this release.
  kFreshness,
  // Verified content that is not for this device: another app, layer,
  // module, host build or device, or outside its compatibility range.
  kTargeting,
  // The download or metadata fetch did not complete.
  kRetrieval,
  // The device itself: its trusted state, its limits, its disk, the apply.
  kDevice,
};
std::string_view RejectClassName(RejectClass c);  // "integrity", ...

struct RejectReasonInfo {
  int number = 0;
  std::string_view name;  // the proto value name, e.g. "REJECT_BAD_SIGNATURE"
  RejectClass decision = RejectClass::kUnspecified;
};

// Every strata.v1.RejectReason value, in number order, with its decision.
std::span<const RejectReasonInfo> RejectReasons();
// The entry for `number` or `name`; nullptr when the table does not know it.
const RejectReasonInfo* FindRejectReason(int number);
const RejectReasonInfo* FindRejectReason(std::string_view name);
// The number of the reason named `name` (proto value name).
std::optional<int> RejectReasonNumber(std::string_view name);

// True when `reject_reason` (a strata.v1.RejectReason number) is decided
// kIntegrity. Numbers the table does not know are not integrity failures.
bool IsIntegrityFailure(int reject_reason);

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_REJECT_REASONS_H_
