// Deterministic ustar archives of a directory tree: how H5 packages, HCF
// modules and native bundles are published. Same tree, same bytes: paths
// sorted, mtime 0, owner 0, modes 0644 or 0755 (executable bit kept).
// The server cuts its content-addressed chunks at entry boundaries, so an
// unchanged file is stored once across versions.
#ifndef STRATA_ADMIN_CLI_TREE_ARCHIVE_H_
#define STRATA_ADMIN_CLI_TREE_ARCHIVE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "strata/base/env.h"

namespace strata::admin {

// Regular files below `root` only; paths of at most 255 bytes (ustar);
// kInvalidArgument otherwise.
absl::StatusOr<std::string> ArchiveTree(FileSystem& fs, std::string_view root);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_TREE_ARCHIVE_H_
