// File-tree deltas for H5 / HCF / bundle packages: two directory trees ->
// a patch of per-file operations (docs/formats/tree-patch.md) -> a fresh
// staging directory verified against the new tree's manifest.
#ifndef STRATA_DIFF_TREE_DELTA_H_
#define STRATA_DIFF_TREE_DELTA_H_

#include <cstdint>
#include <limits>
#include <optional>
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
// The same, and every file's bytes as they were hashed, concatenated in
// manifest order in `*files` (symlinks add nothing), so that a caller that
// needs them does not read the tree again. kAborted if a file's size
// changed between the listing and its read; kResourceExhausted if the
// files do not fit in memory together.
absl::StatusOr<TreeManifest> ScanTree(FileSystem& fs, std::string_view root,
                                      std::string* files);

// The SHA-256 of a manifest's canonical encoding (docs/formats/tree-patch.md):
// the identity of a whole tree (paths, types, modes, sizes, contents).
Sha256Digest TreeDigest(const TreeManifest& manifest);

// One record of a tree patch's manifest (format version 2). The new tree
// is built from the old tree's manifest (ScanTree order) and these records.
enum class TreeOp : uint8_t {
  kKeep = 0,     // `count` old entries from `old_index` on, unchanged
  kContent = 1,  // new file; its bytes come next from the patch body
  kCopy = 2,     // new file with the content of old file `old_index`
  kSymlink = 3,  // new symlink to entry.link_target
  kChange = 4,   // old file `old_index` at the same path and mode, new
                 // content (entry.size bytes) from the body
};

struct TreePatchEntry {
  TreeOp op = TreeOp::kContent;
  // kContent, kCopy, kSymlink: path and mode (size for kContent, target for
  // kSymlink); kChange: size only (path and mode are the old entry's);
  // sha256 is not stored (the new tree digest covers it).
  TreeEntry entry;
  uint64_t old_index = 0;  // kKeep, kCopy, kChange
  uint64_t count = 0;      // kKeep
};

struct TreePatchInfo {
  // 2: the per-file form (the fields below). 3: the archive form
  // (archive_form; docs/formats/tree-patch.md), a compact binary patch
  // between the two trees' canonical ustar archives: only archive_bytes,
  // body_bytes and the first 4 bytes of old_tree (of the old archive's
  // SHA-256) are set; the new tree is known once the archive is rebuilt.
  uint32_t version = 0;
  bool archive_form = false;
  uint64_t archive_bytes = 0;  // archive form: the new archive's size
  uint32_t window_log = 0;     // largest decoding window (manifest, body)
  uint64_t old_entries = 0;    // entries of the old tree the patch expects
  uint64_t new_entries = 0;    // entries of the new tree
  std::vector<TreePatchEntry> entries;
  uint64_t new_tree_bytes = 0;  // sum of the new files' sizes
  uint64_t content_bytes = 0;   // sum of the kContent files' sizes
  uint64_t body_bytes = 0;      // the embedded binary patch
  uint64_t manifest_bytes = 0;  // compressed manifest
  Sha256Digest old_tree{};      // TreeDigest of the old tree
  Sha256Digest new_tree{};      // TreeDigest of the new tree
  // The new tree's manifest built from the old one: every path rule
  // checked (kDataLoss on a violation); sha256 is left zero for kContent
  // entries (known only once applied). kFailedPrecondition for the archive
  // form.
  absl::StatusOr<TreeManifest> NewManifest(const TreeManifest& old) const;
};

enum class TreePatchForm { kAuto = 0, kPerFile = 1, kArchive = 2 };

struct TreeDiffOptions {
  // Level, window, threads and method for the body: one binary patch from
  // all old files (concatenated in manifest order) to the new or changed
  // files (concatenated), so content that moved between files matches.
  DiffOptions delta;
  // Which form to write (docs/formats/tree-patch.md). kAuto makes the
  // per-file form and, when the trees can take it and their archives are
  // at most 1 MiB together, the archive form (a compact patch between the
  // canonical ustar archives of both trees, rebuilt by the applier), and
  // keeps the smaller. The archive form wins on small packages, where the
  // per-file form's header and manifest (~60 bytes) are a large part of
  // the patch. kArchive makes only the archive form, up to
  // 2^delta.prefix_window_log together, and fails
  // (kFailedPrecondition, saying why) for trees it cannot take: a new file
  // mode other than 0644 or 0755, a path or link target a ustar header
  // cannot hold, or archives over 2^delta.prefix_window_log together.
  // stratad asks for kPerFile: there the byte patch of the archive is
  // offered instead (the same bytes without the 4-byte output check).
  TreePatchForm form = TreePatchForm::kAuto;
};

struct TreeApplyOptions {
  // Refuse a patch whose new tree is larger in total (kResourceExhausted).
  uint64_t max_total_size = std::numeric_limits<uint64_t>::max();
  // Refuse (kResourceExhausted) a patch whose new tree has more entries, or
  // whose manifest decodes to more bytes, before the records are decoded:
  // memory bounded by what the caller expects (the SDK: what an archive of
  // the signed size can hold).
  uint64_t max_entries = std::numeric_limits<uint64_t>::max();
  uint64_t max_manifest_bytes = uint64_t{256} << 20;
  int max_window_log = 27;
  ProgressFn progress;
  // The archive form only (its own check of the new archive is zstd's
  // 32-bit checksum): the new archive must be this many bytes (kDataLoss,
  // checked before it is decoded) and have this SHA-256 (kDataLoss, before
  // anything is written), e.g. from a signed statement. The per-file form
  // checks 128 bits of the new tree's digest itself and ignores them.
  std::optional<uint64_t> expected_archive_size;
  std::optional<Sha256Digest> expected_archive_sha256;
  // Hard-link kept and copied files (same mode) from the old tree instead
  // of copying them, on the POSIX file system. Only for trees whose files
  // are never written in place (the SDK's versioned directories).
  bool link_unchanged = false;
};

absl::StatusOr<std::string> CreateTreePatch(
    FileSystem& fs, std::string_view old_root, std::string_view new_root,
    const TreeDiffOptions& options = {});

// The same patch as CreateTreePatch between the trees two ustar archives
// unpack to on a device (ManifestOfArchive in ustar_writer.h: file modes
// 0644 or 0755, directories implied), built in memory from the archives.
// kInvalidArgument for an archive UstarReader refuses.
absl::StatusOr<std::string> CreateTreePatchFromArchives(
    std::string_view old_archive, std::string_view new_archive,
    const TreeDiffOptions& options = {});

// Parses and validates the header and the manifest (paths, record
// structure); kDataLoss on anything malformed. The rules that need the old
// tree (order, file/directory clashes) are checked by NewManifest().
absl::StatusOr<TreePatchInfo> ReadTreePatch(std::string_view patch);
absl::StatusOr<TreePatchInfo> ReadTreePatch(const RandomAccessFile& patch);

// True if `patch` starts with the tree-patch magic (either form).
bool IsTreePatch(std::string_view patch);

// Builds the new tree in `staging_dir`, which must not exist yet
// (kFailedPrecondition). The old tree is scanned and must have the digest
// the patch expects (kDataLoss: wrong base); the finished directory is
// re-scanned and its digest must be the new tree's (kDataLoss). On any
// error `staging_dir` is removed again. The patch is read in pieces: peak
// memory is the decoding windows plus fixed buffers and the manifests.
// The archive form holds both archives instead (the old one rebuilt from
// the old tree, the new one decoded), bounded before either is built: by
// 2^max_window_log together, and the new one by what max_total_size and
// max_entries allow an archive to hold (kResourceExhausted).
absl::Status ApplyTreePatch(FileSystem& fs, std::string_view old_root,
                            std::string_view patch,
                            std::string_view staging_dir,
                            const TreeApplyOptions& options = {});
absl::Status ApplyTreePatch(FileSystem& fs, std::string_view old_root,
                            const RandomAccessFile& patch,
                            std::string_view staging_dir,
                            const TreeApplyOptions& options = {});
// The same, returning the staged tree's manifest as its final scan saw it
// (what ScanTree(staging_dir) would return), so a caller that needs it
// does not hash every file again.
absl::StatusOr<TreeManifest> ApplyTreePatchAndScan(
    FileSystem& fs, std::string_view old_root, const RandomAccessFile& patch,
    std::string_view staging_dir, const TreeApplyOptions& options = {});

}  // namespace strata::diff

#endif  // STRATA_DIFF_TREE_DELTA_H_
