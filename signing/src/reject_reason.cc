#include "strata/signing/reject_reason.h"

#include <string>

#include "absl/strings/cord.h"
#include "strata/base/strings.h"

namespace strata::signing {
namespace {

constexpr char kPayloadUrl[] = "type.strata.dev/strata.v1.RejectReason";

struct Entry {
  RejectReason reason;
  std::string_view name;
};

constexpr Entry kEntries[] = {
    {RejectReason::kUnspecified, "REJECT_REASON_UNSPECIFIED"},
    {RejectReason::kMalformedMetadata, "MALFORMED_METADATA"},
    {RejectReason::kWrongMetadataType, "WRONG_METADATA_TYPE"},
    {RejectReason::kUnsigned, "UNSIGNED"},
    {RejectReason::kBadSignature, "BAD_SIGNATURE"},
    {RejectReason::kThresholdNotMet, "THRESHOLD_NOT_MET"},
    {RejectReason::kRootRotationOldThresholdNotMet,
     "ROOT_ROTATION_OLD_THRESHOLD_NOT_MET"},
    {RejectReason::kRootRotationNewThresholdNotMet,
     "ROOT_ROTATION_NEW_THRESHOLD_NOT_MET"},
    {RejectReason::kRootRotationVersionMismatch,
     "ROOT_ROTATION_VERSION_MISMATCH"},
    {RejectReason::kRootRotationTooManySteps, "ROOT_ROTATION_TOO_MANY_STEPS"},
    {RejectReason::kRoleVersionRollback, "ROLE_VERSION_ROLLBACK"},
    {RejectReason::kExpiredMetadata, "EXPIRED_METADATA"},
    {RejectReason::kVersionMismatch, "VERSION_MISMATCH"},
    {RejectReason::kHashMismatch, "HASH_MISMATCH"},
    {RejectReason::kLengthMismatch, "LENGTH_MISMATCH"},
    {RejectReason::kEndlessData, "ENDLESS_DATA"},
    {RejectReason::kSlowRetrieval, "SLOW_RETRIEVAL"},
    {RejectReason::kMetadataUnavailable, "METADATA_UNAVAILABLE"},
    {RejectReason::kDelegationPathNotAllowed, "DELEGATION_PATH_NOT_ALLOWED"},
    {RejectReason::kUnsignedDirectorTarget, "UNSIGNED_DIRECTOR_TARGET"},
    {RejectReason::kDirectorTargetMismatch, "DIRECTOR_TARGET_MISMATCH"},
    {RejectReason::kReleaseCounterRollback, "RELEASE_COUNTER_ROLLBACK"},
    {RejectReason::kWrongApp, "WRONG_APP"},
    {RejectReason::kWrongLayer, "WRONG_LAYER"},
    {RejectReason::kWrongModule, "WRONG_MODULE"},
    {RejectReason::kWrongHostBuild, "WRONG_HOST_BUILD"},
    {RejectReason::kIncompatible, "INCOMPATIBLE"},
    {RejectReason::kWrongDevice, "WRONG_DEVICE"},
    {RejectReason::kTrustedStateCorrupt, "TRUSTED_STATE_CORRUPT"},
    {RejectReason::kTrustedStatePersistFailed, "TRUSTED_STATE_PERSIST_FAILED"},
};

constexpr size_t kCount = sizeof(kEntries) / sizeof(kEntries[0]);

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  const int n = static_cast<int>(reason);
  if (n >= 0 && static_cast<size_t>(n) < kCount &&
      kEntries[n].reason == reason) {
    return kEntries[n].name;
  }
  return "UNKNOWN_REJECT_REASON";
}

const RejectReason* AllRejectReasons(size_t* count) {
  static const auto* all = [] {
    auto* v = new RejectReason[kCount];
    for (size_t i = 0; i < kCount; ++i) v[i] = kEntries[i].reason;
    return v;
  }();
  *count = kCount;
  return all;
}

absl::Status Reject(RejectReason reason, absl::StatusCode code,
                    std::string_view message) {
  absl::Status status(code,
                      strata::StrCat(RejectReasonName(reason), ": ", message));
  status.SetPayload(kPayloadUrl,
                    absl::Cord(std::to_string(static_cast<int>(reason))));
  return status;
}

std::optional<RejectReason> GetRejectReason(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  const std::string text(*payload);
  if (text.empty() || text.size() > 6 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<RejectReason>(std::stoi(text));
}

absl::Status WithRejectReason(absl::Status status, RejectReason reason) {
  if (status.ok()) return status;
  status.SetPayload(kPayloadUrl,
                    absl::Cord(std::to_string(static_cast<int>(reason))));
  return status;
}

}  // namespace strata::signing
