// Internal entry points of the binary differ and applier shared with the
// tree differ and applier.
#ifndef STRATA_DIFF_SRC_APPLY_H_
#define STRATA_DIFF_SRC_APPLY_H_

#include "absl/status/status.h"
#include "strata/base/env.h"
#include "strata/diff/byte_sink.h"
#include "strata/diff/delta.h"

namespace strata::diff::internal {

// ApplyPatch; with `verify_base_hash` false the old file's SHA-256 is not
// computed up front (its size still is). Only for callers that verified
// the base themselves (the tree applier checks the old tree's digest); the
// output SHA-256 is verified either way.
absl::Status ApplyPatchWithBase(const RandomAccessFile& old_file,
                                const RandomAccessFile& patch, ByteSink& out,
                                const ApplyOptions& options,
                                bool verify_base_hash);

// Applies the streams described by `info` (from DecodeBareHeader) at the
// end of `patch`; checks the window against the caller's limit first
// (kResourceExhausted). No hashes are checked: the caller verifies.
absl::Status ApplyWithInfo(const RandomAccessFile& old_file,
                           const RandomAccessFile& patch, const PatchInfo& info,
                           ByteSink& out, const ApplyOptions& options);

// CreatePatch; with `compact` false a one-frame zstd-prefix patch is
// written as version 2 (a standard zstd frame, no block table) instead of
// version 3: tree patch bodies keep that form (docs/formats/tree-patch.md).
// With `compact` false the inputs are not hashed: the header's hashes are
// zero, for a caller that replaces the header (EncodeBareHeader) and
// checks the input and output itself; ApplyPatch would refuse the patch.
absl::StatusOr<std::string> CreatePatchWithForm(std::string_view old_data,
                                                std::string_view new_data,
                                                const DiffOptions& options,
                                                bool compact);

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_APPLY_H_
