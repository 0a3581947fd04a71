// The device core's file helpers (POSIX, no Abseil): errors as Error with
// the path and errno's text; ENOSPC is RESOURCE_EXHAUSTED (8), other
// failures INTERNAL (13).
#ifndef STRATA_DEVICE_SRC_POSIX_FILES_H_
#define STRATA_DEVICE_SRC_POSIX_FILES_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "strata/device/device_core.h"

namespace strata::device::internal {

std::string Cat(std::initializer_list<std::string_view> parts);
// An Error for the failed `what` ("creating", "syncing" ...) on `path`,
// from errno.
Error Errno(std::string_view what, const std::string& path);
// mkdir 0700; an existing directory is fine.
Error MakeDir(const std::string& path);
Error SyncDir(const std::string& dir);
// Written to <path>.tmp, synced, renamed over `path`, `dir` synced: a
// crash leaves the old file or the new one.
Error WriteAtomically(const std::string& dir, const std::string& path,
                      std::string_view bytes);
// Creates `path` (which must not exist) with `bytes` and `mode`, synced.
Error WriteNewFile(const std::string& path, std::string_view bytes,
                   unsigned mode);
// The file's bytes; false when it does not exist (or on an error, which
// is then set).
bool ReadFile(const std::string& path, std::string* out, Error* error);
// Removes `path` and, for a directory, everything below it (symlinks are
// removed, never followed). A missing path is fine.
Error RemoveAll(const std::string& path);
// The names in directory `dir` (not "." and ".."); empty if it is missing.
std::vector<std::string> ListDir(const std::string& dir);

}  // namespace strata::device::internal

#endif  // STRATA_DEVICE_SRC_POSIX_FILES_H_
