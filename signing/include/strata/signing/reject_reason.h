// Why the client refused metadata or an artifact. The numbers are stable and
// append-only: proto/strata/v1 mirrors them in `enum RejectReason`, and the
// SDK reports them to the server. Never renumber or reuse a value.
#ifndef STRATA_SIGNING_REJECT_REASON_H_
#define STRATA_SIGNING_REJECT_REASON_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace strata::signing {

enum class RejectReason : int {
  kUnspecified = 0,
  // Bytes that are not valid metadata of the expected shape.
  kMalformedMetadata = 1,
  // Metadata of another type than requested (e.g. a timestamp served as
  // snapshot).
  kWrongMetadataType = 2,
  // No signature at all.
  kUnsigned = 3,
  // Threshold not met and at least one signature was invalid or made by a key
  // the role does not trust.
  kBadSignature = 4,
  // Only valid signatures from trusted keys, but fewer distinct keys than the
  // threshold (duplicates of one key or key id count once).
  kThresholdNotMet = 5,
  // A new root not signed by a threshold of the previous root's keys.
  kRootRotationOldThresholdNotMet = 6,
  // A new root not signed by a threshold of its own keys.
  kRootRotationNewThresholdNotMet = 7,
  // Root N+1 carries another version than N+1 (skip or repeat).
  kRootRotationVersionMismatch = 8,
  // More root versions than the client accepts in one update.
  kRootRotationTooManySteps = 9,
  // A role's version is lower than the trusted one (replay/rollback).
  kRoleVersionRollback = 10,
  // Metadata expired before the update started (freeze attack).
  kExpiredMetadata = 11,
  // The version differs from the one the parent metadata lists
  // (mix-and-match).
  kVersionMismatch = 12,
  // Bytes whose hash differs from the one the parent metadata lists.
  kHashMismatch = 13,
  // Fewer bytes than the listed length.
  kLengthMismatch = 14,
  // More bytes than the listed length or cap (endless data).
  kEndlessData = 15,
  // The download did not finish before the deadline (slow retrieval).
  kSlowRetrieval = 16,
  // Required metadata could not be fetched.
  kMetadataUnavailable = 17,
  // A delegated role listed a target outside the paths it was delegated.
  kDelegationPathNotAllowed = 18,
  // The director names a target no publisher signed.
  kUnsignedDirectorTarget = 19,
  // The director's entry differs from the publisher-signed one (hash,
  // length or release counter).
  kDirectorTargetMismatch = 20,
  // A release counter lower than the one installed (downgrade/replay).
  kReleaseCounterRollback = 21,
  // An artifact for another app.
  kWrongApp = 22,
  // An artifact for another layer.
  kWrongLayer = 23,
  // An artifact for another module.
  kWrongModule = 24,
  // A hotpatch for another exact host build.
  kWrongHostBuild = 25,
  // Outside the app-version range, runtime-version range or minimum SDK.
  kIncompatible = 26,
  // Director metadata bound to another device or app.
  kWrongDevice = 27,
  // The local trusted state could not be read or verified.
  kTrustedStateCorrupt = 28,
  // The new trusted state could not be persisted (nothing was changed).
  kTrustedStatePersistFailed = 29,
};

// "BAD_SIGNATURE" etc.: the proto enum's value names without the prefix.
std::string_view RejectReasonName(RejectReason reason);

// Every value, in numeric order (for tests and for mirroring in proto).
const RejectReason* AllRejectReasons(size_t* count);

// A status carrying `reason` as a payload.
absl::Status Reject(RejectReason reason, absl::StatusCode code,
                    std::string_view message);
// The reason carried by `status`, if any.
std::optional<RejectReason> GetRejectReason(const absl::Status& status);
// Adds or replaces the reason on `status` (not OK).
absl::Status WithRejectReason(absl::Status status, RejectReason reason);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_REJECT_REASON_H_
