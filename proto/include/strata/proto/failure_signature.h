// Failure signatures (docs/remedies.md): the one normalisation and id the
// SDK computes and stratad re-checks, so the same failure on different
// devices aggregates under one id.
#ifndef STRATA_PROTO_FAILURE_SIGNATURE_H_
#define STRATA_PROTO_FAILURE_SIGNATURE_H_

#include <string>

#include "absl/status/status.h"
#include "strata/v1/common.pb.h"

namespace strata {

// Bounds of a signature's fields (the server refuses more; the SDK cuts
// frames to them before hashing).
inline constexpr size_t kMaxFailureExceptionBytes = 128;
inline constexpr int kMaxFailureFrames = 8;
inline constexpr size_t kMaxFailureFrameBytes = 256;
inline constexpr size_t kMaxFailureHostHash = 64;

// Normalises `sig` in place: surrounding white space trimmed from the
// exception type and frames, runs of white space inside them made one
// space, hexadecimal addresses ("0x7f3a...") in frames replaced by "0x?"
// (they differ per process), empty frames dropped, the host hash
// lowercased. Then checks it: a valid kind, at least one of exception
// type, frames or host hash, the bounds above, a module name and version
// that follow the naming rule when given. kInvalidArgument naming the
// field otherwise. Leaves signature_id alone.
absl::Status NormalizeFailureSignature(v1::FailureSignature& sig);

// The id of a normalised signature: the first 16 lowercase hex digits of
// the SHA-256 of "strata-failure-1", kind, exception type, frames, host
// hash, layer and module name, each followed by a newline (the module
// version is not part of it).
std::string FailureSignatureId(const v1::FailureSignature& sig);

// Whether `id` looks like a signature id (16 lowercase hex digits).
bool IsFailureSignatureId(std::string_view id);

}  // namespace strata

#endif  // STRATA_PROTO_FAILURE_SIGNATURE_H_
