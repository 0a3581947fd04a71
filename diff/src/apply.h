// Internal entry points of the binary applier shared with the tree applier.
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

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_APPLY_H_
