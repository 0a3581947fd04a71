#include "strata/rollout/reject_reasons.h"

#include <array>

namespace strata::rollout {
namespace {

using C = RejectClass;

// One line per value of `enum RejectReason` in
// proto/strata/v1/common.proto, in number order. A new value there fails
// RejectReasonsTest until it is added here with a decision.
constexpr std::array kReasons = {
    RejectReasonInfo{0, "REJECT_REASON_UNSPECIFIED", C::kUnspecified},
    RejectReasonInfo{1, "REJECT_MALFORMED_METADATA", C::kFormat},
    RejectReasonInfo{2, "REJECT_WRONG_METADATA_TYPE", C::kFormat},
    RejectReasonInfo{3, "REJECT_UNSIGNED", C::kIntegrity},
    RejectReasonInfo{4, "REJECT_BAD_SIGNATURE", C::kIntegrity},
    RejectReasonInfo{5, "REJECT_THRESHOLD_NOT_MET", C::kIntegrity},
    RejectReasonInfo{6, "REJECT_ROOT_ROTATION_OLD_THRESHOLD_NOT_MET",
                     C::kIntegrity},
    RejectReasonInfo{7, "REJECT_ROOT_ROTATION_NEW_THRESHOLD_NOT_MET",
                     C::kIntegrity},
    RejectReasonInfo{8, "REJECT_ROOT_ROTATION_VERSION_MISMATCH", C::kFreshness},
    // The device's own cap on root rotations per update.
    RejectReasonInfo{9, "REJECT_ROOT_ROTATION_TOO_MANY_STEPS", C::kDevice},
    RejectReasonInfo{10, "REJECT_ROLE_VERSION_ROLLBACK", C::kFreshness},
    RejectReasonInfo{11, "REJECT_EXPIRED_METADATA", C::kFreshness},
    RejectReasonInfo{12, "REJECT_VERSION_MISMATCH", C::kFreshness},
    RejectReasonInfo{13, "REJECT_HASH_MISMATCH", C::kIntegrity},
    RejectReasonInfo{14, "REJECT_LENGTH_MISMATCH", C::kIntegrity},
    RejectReasonInfo{15, "REJECT_ENDLESS_DATA", C::kIntegrity},
    RejectReasonInfo{16, "REJECT_SLOW_RETRIEVAL", C::kRetrieval},
    RejectReasonInfo{17, "REJECT_METADATA_UNAVAILABLE", C::kRetrieval},
    RejectReasonInfo{18, "REJECT_DELEGATION_PATH_NOT_ALLOWED", C::kIntegrity},
    RejectReasonInfo{19, "REJECT_UNSIGNED_DIRECTOR_TARGET", C::kIntegrity},
    RejectReasonInfo{20, "REJECT_DIRECTOR_TARGET_MISMATCH", C::kIntegrity},
    RejectReasonInfo{21, "REJECT_RELEASE_COUNTER_ROLLBACK", C::kFreshness},
    RejectReasonInfo{22, "REJECT_WRONG_APP", C::kTargeting},
    RejectReasonInfo{23, "REJECT_WRONG_LAYER", C::kTargeting},
    RejectReasonInfo{24, "REJECT_WRONG_MODULE", C::kTargeting},
    RejectReasonInfo{25, "REJECT_WRONG_HOST_BUILD", C::kTargeting},
    RejectReasonInfo{26, "REJECT_INCOMPATIBLE", C::kTargeting},
    RejectReasonInfo{27, "REJECT_WRONG_DEVICE", C::kTargeting},
    RejectReasonInfo{28, "REJECT_TRUSTED_STATE_CORRUPT", C::kDevice},
    RejectReasonInfo{29, "REJECT_TRUSTED_STATE_PERSIST_FAILED", C::kDevice},
    RejectReasonInfo{30, "REJECT_CONTENT_HASH_MISMATCH", C::kIntegrity},
    RejectReasonInfo{31, "REJECT_DELTA_OUTPUT_MISMATCH", C::kIntegrity},
    // A lower version without a signed rollback: a downgrade attempt.
    RejectReasonInfo{32, "REJECT_UNAUTHORIZED_DOWNGRADE", C::kFreshness},
    RejectReasonInfo{33, "REJECT_DISK_BUDGET_EXCEEDED", C::kDevice},
    RejectReasonInfo{34, "REJECT_APPLY_FAILED", C::kDevice},
    RejectReasonInfo{35, "REJECT_UNSAFE_NAME", C::kFormat},
    // A remedy rule (docs/remedies.md) keeps this version off the device:
    // verified content the operators said is not for it.
    RejectReasonInfo{36, "REJECT_BLOCKED_BY_REMEDY", C::kTargeting},
};

// The table is indexed by number: entry i has number i.
constexpr bool NumberedInOrder() {
  for (size_t i = 0; i < kReasons.size(); ++i) {
    if (kReasons[i].number != static_cast<int>(i)) return false;
  }
  return true;
}
static_assert(NumberedInOrder(), "kReasons must list numbers 0, 1, 2, ...");

}  // namespace

std::string_view RejectClassName(RejectClass c) {
  switch (c) {
    case RejectClass::kUnspecified:
      return "unspecified";
    case RejectClass::kIntegrity:
      return "integrity";
    case RejectClass::kFormat:
      return "format";
    case RejectClass::kFreshness:
      return "freshness";
    case RejectClass::kTargeting:
      return "targeting";
    case RejectClass::kRetrieval:
      return "retrieval";
    case RejectClass::kDevice:
      return "device";
  }
  return "unknown";
}

std::span<const RejectReasonInfo> RejectReasons() { return kReasons; }

const RejectReasonInfo* FindRejectReason(int number) {
  if (number < 0 || static_cast<size_t>(number) >= kReasons.size()) {
    return nullptr;
  }
  return &kReasons[static_cast<size_t>(number)];
}

const RejectReasonInfo* FindRejectReason(std::string_view name) {
  for (const RejectReasonInfo& r : kReasons) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::optional<int> RejectReasonNumber(std::string_view name) {
  const RejectReasonInfo* r = FindRejectReason(name);
  if (r == nullptr) return std::nullopt;
  return r->number;
}

bool IsIntegrityFailure(int reject_reason) {
  const RejectReasonInfo* r = FindRejectReason(reject_reason);
  return r != nullptr && r->decision == RejectClass::kIntegrity;
}

}  // namespace strata::rollout
