// The fixed-size header of the Strata patch container (docs/formats/patch.md).
#ifndef STRATA_DIFF_SRC_PATCH_HEADER_H_
#define STRATA_DIFF_SRC_PATCH_HEADER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "strata/diff/delta.h"

namespace strata::diff::internal {

inline constexpr std::string_view kStrataMagic{"STRDIFF\x1a", 8};
inline constexpr std::string_view kBsdiffMagic{"BSDIFF40", 8};
inline constexpr uint32_t kStrataVersion = 1;
inline constexpr size_t kBsdiffHeaderSize = 32;

std::string EncodeStrataHeader(const PatchInfo& info);
// Size of the header at the front of `patch` (valid after a successful
// DecodeStrataHeader).
size_t StrataHeaderSize(const PatchInfo& info, std::string_view patch);
// Checks magic, version, checksum and that the stream lengths add up to
// exactly `patch.size()`.
absl::StatusOr<PatchInfo> DecodeStrataHeader(std::string_view patch);
absl::StatusOr<PatchInfo> DecodeBsdiffHeader(std::string_view patch);

// BSDIFF40's sign-magnitude 64-bit integers.
void PutOfft(std::string& out, int64_t v);
// False for "negative zero" or magnitudes that do not fit in int64.
bool GetOfft(const char* p, int64_t* v);

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_PATCH_HEADER_H_
