// The file layer over delta.h: paths in, files out, through an injected
// FileSystem. Output files appear only complete and verified.
#ifndef STRATA_DIFF_FILE_DELTA_H_
#define STRATA_DIFF_FILE_DELTA_H_

#include <string_view>

#include "absl/status/status.h"
#include "strata/base/env.h"
#include "strata/diff/delta.h"

namespace strata::diff {

// Diffs two files and publishes the patch at `patch_path` atomically.
// Memory: both inputs plus about 5 bytes per old byte (see docs).
absl::Status DiffFiles(FileSystem& fs, std::string_view old_path,
                       std::string_view new_path, std::string_view patch_path,
                       const DiffOptions& options = {});

// Applies the patch at `patch_path` to `old_path`, streaming the output to
// a temporary file next to `out_path` that is synced, verified and renamed
// into place only on success; on any error nothing is left at `out_path`
// or beside it. The old file is read by random access (never loaded whole).
absl::Status ApplyPatchFile(FileSystem& fs, std::string_view old_path,
                            std::string_view patch_path,
                            std::string_view out_path,
                            const ApplyOptions& options = {});

}  // namespace strata::diff

#endif  // STRATA_DIFF_FILE_DELTA_H_
