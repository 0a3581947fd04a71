// Binary deltas: old + new -> patch, old + patch -> new.
//
// The core works on buffers and abstract files only (no paths); see
// file_delta.h for the file layer and tree_delta.h for directory trees.
// Patch formats: Strata's own container (docs/formats/patch.md) and classic
// BSDIFF40 for interoperability with bsdiff/bspatch 4.3.
#ifndef STRATA_DIFF_DELTA_H_
#define STRATA_DIFF_DELTA_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/sha256.h"
#include "strata/diff/byte_sink.h"

namespace strata::diff {

enum class PatchFormat {
  kStrata = 1,    // "STRDIFF\x1a": zstd streams, sizes and SHA-256s
  kBsdiff40 = 2,  // "BSDIFF40": bzip2 streams, no hashes
};

// How a Strata patch encodes the new file (docs/formats/patch.md).
enum class PatchMethod {
  // DiffOptions only: make both, keep the smaller.
  kAuto = 0,
  // Format version 1: bsdiff-style control, diff and extra streams from a
  // suffix-array match; the applier reads the old file by random access.
  kSuffixArray = 1,
  // The new file as zstd frames made against the old file (zstd
  // --patch-from style). Usually smaller on text and JSON. Inputs that fit
  // the prefix window together make one frame behind a 9-byte header
  // (format version 3, "compact"); larger ones make blocks, each against a
  // window of the old file, so the applier holds one window at a time
  // (format version 2).
  kZstdPrefix = 2,
};

// Who checks the output of a compact (version 3) patch.
enum class OutputCheck {
  // The patch carries zstd's 32-bit content checksum of the output (4
  // bytes); any applier verifies it.
  kInPatch = 0,
  // The patch carries no output check; the applier must be given the
  // expected SHA-256 of the new file (ApplyOptions::expected_new_sha256),
  // as Strata's delivery path always has it from the signed statement.
  // 4 bytes smaller. Versions 1 and 2 always carry their own check.
  kByCaller = 1,
};

// `stage` names the phase ("hashing", "sorting", "matching", "compressing",
// "applying"); `fraction` is in [0, 1]. Called on the caller's thread.
using ProgressFn = std::function<void(std::string_view stage, double fraction)>;

struct DiffOptions {
  PatchFormat format = PatchFormat::kStrata;
  // zstd level for the patch streams (1..22). Ignored for BSDIFF40.
  int level = 19;
  // log2 of the zstd window of each stream; bounds the memory the applier
  // needs (about 3 * 2^window_log bytes). 10..27.
  // 20 since issue 20 (was 21): the same patch sizes on every bench pair,
  // up to 1 MiB less apply memory per stream.
  int window_log = 20;
  // Threads for matching and compression (the machine has 2 cores).
  int threads = 2;
  // kAuto tries kZstdPrefix as well and keeps the smaller patch. A
  // kZstdPrefix patch needs a reader of format version 2.
  PatchMethod method = PatchMethod::kAuto;
  // kZstdPrefix: log2 of the bytes the applier holds at once (one window of
  // the old file plus one block of the new), 16..27.
  int prefix_window_log = 23;
  OutputCheck output_check = OutputCheck::kInPatch;
  ProgressFn progress;
};

struct ApplyOptions {
  // Refuse (kResourceExhausted) a patch that declares a larger output.
  uint64_t max_output_size = std::numeric_limits<uint64_t>::max();
  // Refuse a patch whose streams need a zstd window above 2^max_window_log.
  int max_window_log = 27;
  // The SHA-256 the output must have (e.g. from a signed statement); checked
  // at the end for every format (kDataLoss). Required for a compact patch
  // made with OutputCheck::kByCaller (kInvalidArgument without it).
  std::optional<Sha256Digest> expected_new_sha256;
  ProgressFn progress;
};

// What a patch says about itself (from its header, without applying it).
struct PatchInfo {
  PatchFormat format = PatchFormat::kStrata;
  uint32_t version = 0;
  PatchMethod method = PatchMethod::kSuffixArray;  // Strata patches
  uint64_t old_size = 0;                           // unknown (0) for BSDIFF40
  uint64_t new_size = 0;
  bool has_hashes = false;  // false for BSDIFF40
  // SHA-256s of the old and new file; versions 2 and 3 keep only the first
  // old_hash_bytes / new_hash_bytes of them (the rest reads as zero).
  Sha256Digest old_sha256{};
  Sha256Digest new_sha256{};
  uint32_t old_hash_bytes = 32, new_hash_bytes = 32;
  // Control entries; for kZstdPrefix the number of blocks. 0 if unknown.
  uint64_t segments = 0;
  // Compressed stream sizes; for kZstdPrefix ctrl is the (raw) block table
  // and extra the zstd frames.
  uint64_t ctrl_bytes = 0, diff_bytes = 0, extra_bytes = 0;
  uint64_t diff_raw_bytes = 0, extra_raw_bytes = 0;  // 0 if unknown
  // Strata: log2 of the largest zstd window of the streams; for kZstdPrefix
  // of the largest old window plus block the applier holds. Version 3: 0
  // (it follows from the old file's size and new_size).
  uint32_t window_log = 0;
  // Version 3: the zstd frame ends in its 32-bit content checksum; if not,
  // applying needs ApplyOptions::expected_new_sha256. Version 3 does not
  // record the old size (old_size reads 0): the old check covers it.
  bool frame_checksum = false;
};

// Patch turning `old_data` into `new_data`. kInvalidArgument for bad
// options or an old input of 2 GiB or more.
absl::StatusOr<std::string> CreatePatch(std::string_view old_data,
                                        std::string_view new_data,
                                        const DiffOptions& options = {});

// Parses and checks the header; kDataLoss if it is not a well-formed patch.
absl::StatusOr<PatchInfo> ReadPatchInfo(std::string_view patch);
// The same for a patch in a file (reads only its header).
absl::StatusOr<PatchInfo> ReadPatchInfo(const RandomAccessFile& patch);

// Applies `patch` (either format, detected by magic) to `old_file`, writing
// the result to `out` sequentially with bounded memory. Before any output:
// the declared new size is checked against the limit (kResourceExhausted),
// and, for Strata patches, the old size and SHA-256 (kDataLoss: wrong base).
// The output SHA-256 is verified at the end (kDataLoss); on error the sink
// may have received partial output, which the caller must discard.
absl::Status ApplyPatch(const RandomAccessFile& old_file,
                        std::string_view patch, ByteSink& out,
                        const ApplyOptions& options = {});

// The same, reading the patch from a file in small pieces: peak memory is
// the decoding windows plus fixed buffers, whatever the patch size.
absl::Status ApplyPatch(const RandomAccessFile& old_file,
                        const RandomAccessFile& patch, ByteSink& out,
                        const ApplyOptions& options = {});

// Convenience: buffers in, buffer out.
absl::StatusOr<std::string> ApplyPatchToString(
    std::string_view old_data, std::string_view patch,
    const ApplyOptions& options = {});

}  // namespace strata::diff

#endif  // STRATA_DIFF_DELTA_H_
