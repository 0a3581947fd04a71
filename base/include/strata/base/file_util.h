#ifndef STRATA_BASE_FILE_UTIL_H_
#define STRATA_BASE_FILE_UTIL_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "strata/base/env.h"

namespace strata {

// Publishes `data` at `path` so that a crash at any instant leaves either the
// old content or the new one: writes `path.tmp`, fsyncs it, renames it over
// `path`, then fsyncs the parent directory. On error the temp file is
// removed when possible and `path` is untouched.
absl::Status WriteFileAtomically(FileSystem& fs, std::string_view path,
                                 std::string_view data);

// Creates `path` and any missing parents (each made durable in its parent).
absl::Status CreateDirs(FileSystem& fs, std::string_view path);

// Deletes `path` and everything below it; OK if it does not exist.
absl::Status DeleteRecursively(FileSystem& fs, std::string_view path);

// "a/b" + "c" -> "a/b/c".
std::string JoinPath(std::string_view a, std::string_view b);
// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/".
std::string Dirname(std::string_view path);
// "a/b/c" -> "c".
std::string Basename(std::string_view path);

}  // namespace strata

#endif  // STRATA_BASE_FILE_UTIL_H_
