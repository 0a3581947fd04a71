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
// Version 1: suffix-array streams (method 0, implied). Version 2 adds a
// method field; it is written only for the zstd-prefix method, so patches
// older readers can apply stay version 1.
inline constexpr uint32_t kStrataVersion = 2;
inline constexpr size_t kBsdiffHeaderSize = 32;
// Version 3 (compact, one zstd-prefix frame of the whole files): a 2-byte
// magic whose second byte is the version, varint new_size, the first
// kV3OldCheck bytes of SHA-256(old), then one magicless zstd frame.
inline constexpr char kCompactMagic = '\xd3';
inline constexpr uint32_t kCompactVersion = 3;
inline constexpr size_t kV3OldCheck = 4;
// A tree patch in archive form (docs/formats/tree-patch.md): a version 3
// patch between two canonical tar archives, with this second byte.
inline constexpr uint32_t kTreeArchiveVersion = 4;
// Bytes of the old and new SHA-256 a version 2 header keeps.
inline constexpr size_t kV2OldCheck = 8;
inline constexpr size_t kV2NewCheck = 16;
// No Strata header is longer (11 varints of at most 10 bytes, the hashes,
// the magic and the checksum).
inline constexpr size_t kMaxStrataHeaderSize = 8 + 11 * 10 + 64 + 4;

std::string EncodeStrataHeader(const PatchInfo& info);
// Size of the header at the front of a patch of `patch_size` bytes (valid
// after a successful DecodeStrataHeader).
uint64_t StrataHeaderSize(const PatchInfo& info, uint64_t patch_size);
// Checks magic, version, checksum and that the stream lengths add up to
// exactly `patch_size`; `head` holds the first bytes of the patch (at least
// kMaxStrataHeaderSize of them, or all).
absl::StatusOr<PatchInfo> DecodeStrataHeader(std::string_view head,
                                             uint64_t patch_size);
absl::StatusOr<PatchInfo> DecodeBsdiffHeader(std::string_view head,
                                             uint64_t patch_size);

// A bare body (tree patches, docs/formats/tree-patch.md): a Strata patch's
// streams behind a short header, the sizes and checks coming from the
// caller: varint method (0 suffix-array, 1 zstd-prefix), then for 0 varint
// segments, ctrl_len, diff_len, extra_len, diff_raw, window_log; for 1
// varint blocks (0: one block, no table), table_len (if blocks > 0),
// window_log.
std::string EncodeBareHeader(const PatchInfo& info);
// `head`: the first bytes of the body (up to kMaxStrataHeaderSize);
// `old_size`, `new_size`: the sizes the caller knows. The result has no
// hashes to check (old_hash_bytes = new_hash_bytes = 0).
absl::StatusOr<PatchInfo> DecodeBareHeader(std::string_view head,
                                           uint64_t body_size,
                                           uint64_t old_size,
                                           uint64_t new_size);

// Version 3 (compact): header bytes for `info` (new_size, old_sha256).
std::string EncodeCompactHeader(const PatchInfo& info);
// `head`: the first bytes of the patch (up to kMaxStrataHeaderSize). Sets
// version 3, method kZstdPrefix, new_size, the old check, one block and
// extra_bytes (the frame); old_size and window_log are 0 (the applier takes
// them from the old file). frame_checksum says whether the frame carries
// zstd's content checksum.
absl::StatusOr<PatchInfo> DecodeCompactHeader(std::string_view head,
                                              uint64_t patch_size);

// BSDIFF40's sign-magnitude 64-bit integers.
void PutOfft(std::string& out, int64_t v);
// False for "negative zero" or magnitudes that do not fit in int64.
bool GetOfft(const char* p, int64_t* v);

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_PATCH_HEADER_H_
