// File-tree deltas for H5 / HCF / bundle packages: two directory trees ->
// a patch of per-file operations (docs/formats/tree-patch.md) -> a fresh
// staging directory verified against the new tree's manifest.
#ifndef STRATA_DIFF_TREE_DELTA_H_
#define STRATA_DIFF_TREE_DELTA_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/sha256.h"
#include "strata/diff/delta.h"

namespace strata::diff {

enum class EntryType : uint8_t { kFile = 1, kSymlink = 2 };

// One file of a tree. Directories are implied by the paths (empty
// directories are not represented).
struct TreeEntry {
  std::string path;  // relative, '/'-separated; see ValidateTreePath
  EntryType type = EntryType::kFile;
  uint32_t mode = 0644;     // permission bits, <= 0777 (files only)
  uint64_t size = 0;        // file size; for a symlink, its target's length
  Sha256Digest sha256{};    // of the content; for a symlink, of its target
  std::string link_target;  // symlinks only: relative, stays in the tree
  bool operator==(const TreeEntry&) const = default;
};

// Sorted by path, unique.
using TreeManifest = std::vector<TreeEntry>;

// OK for a relative path whose '/'-separated components are non-empty, not
// "." or "..", without NUL, backslash or control characters, at most 4096
// bytes. kInvalidArgument otherwise.
absl::Status ValidateTreePath(std::string_view path);

// OK if symlink `target`, placed at `link_path`, resolves inside the tree
// (relative, never climbing above the root). kInvalidArgument otherwise.
absl::Status ValidateLinkTarget(std::string_view link_path,
                                std::string_view target);

// Walks `root` (not following symlinks) and hashes every file. Rejects
// (kInvalidArgument) invalid names and symlinks that escape the tree.
// Symlinks are only seen on the POSIX file system.
absl::StatusOr<TreeManifest> ScanTree(FileSystem& fs, std::string_view root);

enum class TreeOp : uint8_t {
  kKeep = 1,     // copy old file `source` (same content; maybe renamed)
  kDelta = 2,    // binary patch (in the data stream) against old `source`
  kLiteral = 3,  // full content in the data stream
  kDelete = 4,   // old path not in the new tree (informational)
  kSymlink = 5,  // create a symlink to entry.link_target
};

struct TreePatchEntry {
  TreeOp op = TreeOp::kLiteral;
  TreeEntry entry;        // kDelete: only entry.path is set
  std::string source;     // old path for kKeep and kDelta
  uint64_t data_len = 0;  // bytes in the data stream (kDelta, kLiteral)
};

struct TreePatchInfo {
  uint32_t version = 0;
  uint32_t window_log = 0;  // largest zstd window in the patch
  // New-tree entries sorted by path, then kDelete entries sorted by path.
  std::vector<TreePatchEntry> entries;
  uint64_t new_tree_bytes = 0;     // sum of the new files' sizes
  uint64_t data_bytes = 0;         // compressed data stream
  uint64_t data_raw_bytes = 0;     // decompressed data stream
  Sha256Digest manifest_sha256{};  // of the encoded manifest (identity)
  TreeManifest NewManifest() const;
};

struct TreeDiffOptions {
  // Level, window and threads for the per-file deltas and the data stream.
  DiffOptions delta;
  // log2 of the window of the solid data stream (the applier needs this
  // much memory); larger windows find more cross-file redundancy.
  int data_window_log = 23;
};

struct TreeApplyOptions {
  // Refuse a patch whose new tree is larger in total (kResourceExhausted).
  uint64_t max_total_size = std::numeric_limits<uint64_t>::max();
  int max_window_log = 27;
  ProgressFn progress;
};

absl::StatusOr<std::string> CreateTreePatch(
    FileSystem& fs, std::string_view old_root, std::string_view new_root,
    const TreeDiffOptions& options = {});

// Parses and validates the header and the manifest (paths, order, sizes);
// kDataLoss on anything malformed.
absl::StatusOr<TreePatchInfo> ReadTreePatch(std::string_view patch);

// True if `patch` starts with the tree-patch magic.
bool IsTreePatch(std::string_view patch);

// Builds the new tree in `staging_dir`, which must not exist yet
// (kFailedPrecondition). Every file is verified (size, SHA-256, mode) and
// the finished directory is re-scanned and compared with the manifest. On
// any error `staging_dir` is removed again. Old files are checked against
// the hashes the patch expects (kDataLoss: wrong base).
absl::Status ApplyTreePatch(FileSystem& fs, std::string_view old_root,
                            std::string_view patch,
                            std::string_view staging_dir,
                            const TreeApplyOptions& options = {});

}  // namespace strata::diff

#endif  // STRATA_DIFF_TREE_DELTA_H_
