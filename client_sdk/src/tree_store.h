// File trees on the device: an H5/HCF module whose content is a ustar
// archive (how `strata publish --dir` publishes a tree) is unpacked into a
// directory named by the archive's SHA-256, so the app serves its files.
//
// Layout under the storage directory (module_store.h has the rest):
//   trees/<sha256>/     one version's tree
//   trees/<sha256>.ok   written (atomically) once that tree is complete
// A tree is unpacked into its directory, every file and directory fsynced,
// then its marker is published (write-temp, fsync, rename, fsync-dir), all
// before the state that names its archive is committed: the state file is
// the one pointer switched atomically, and a tree without its marker is a
// leftover (Collect removes it). The archive blob stays the source of
// truth (the signed hash is the archive's): a missing tree is unpacked
// again from it.
//
// Path rules (untrusted archives): only files, directories and symlinks
// that stay inside the tree (diff/ustar_reader.h refuses absolute paths,
// "..", escaping symlinks, device files, FIFOs and hard links); no path
// twice. Files are never written in place: an unchanged file (same path,
// size, mode and SHA-256) of the previous version's tree is hard-linked on
// the POSIX file system, copied from the archive elsewhere.
#ifndef STRATA_CLIENT_SRC_TREE_STORE_H_
#define STRATA_CLIENT_SRC_TREE_STORE_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"

namespace strata::client {

struct UnpackStats {
  uint64_t files = 0;
  uint64_t linked = 0;         // hard-linked from the previous tree
  uint64_t bytes_written = 0;  // file bytes written (not linked)
};

class TreeStore {
 public:
  // `root`: <storage>/trees (created by Open). Not owning.
  TreeStore(FileSystem* fs, std::string root)
      : fs_(fs), root_(std::move(root)) {}

  absl::Status Open();

  // Whether the file at `path` is a ustar archive (a published tree).
  static absl::StatusOr<bool> IsTreeArchive(FileSystem& fs,
                                            std::string_view path);

  std::string DirOf(std::string_view sha256) const;
  bool Has(std::string_view sha256);

  // Unpacks the archive at `archive_path` (its content already verified
  // against `sha256`) into DirOf(sha256), unless that exists. `previous`:
  // the tree directory of the version being replaced, whose unchanged
  // files are shared. kInvalidArgument naming the entry for an archive
  // breaking the path rules (nothing is left behind); file errors as they
  // are (RESOURCE_EXHAUSTED for a full storage).
  absl::Status Unpack(std::string_view sha256, std::string_view archive_path,
                      const std::optional<std::string>& previous,
                      UnpackStats* stats = nullptr);

  // Builds DirOf(sha256) from the tree `from_dir` and the tree patch at
  // `patch_path` (diff/tree_delta.h; unchanged files hard-linked on the
  // POSIX file system), then re-packs it canonically
  // (diff/ustar_writer.h) into `archive_out`, synced. OK only when that
  // archive has `size` bytes and SHA-256 `sha256`, the signed statement's:
  // the caller adopts it as the blob, then calls MarkComplete. kDataLoss
  // when the patch does not apply to `from_dir` or the result differs; on
  // any error the directory and `archive_out` are removed.
  absl::Status ApplyPatch(std::string_view sha256, uint64_t size,
                          std::string_view from_dir,
                          std::string_view patch_path,
                          std::string_view archive_out);
  // Publishes the marker of a tree ApplyPatch built, once its archive is
  // a blob.
  absl::Status MarkComplete(std::string_view sha256);

  // Compares every file of the unpacked tree `sha256` with its archive
  // (re-hashing both); kDataLoss naming the first missing or different
  // file. OK when the tree is not unpacked (it is unpacked when asked for).
  absl::Status Verify(std::string_view sha256, std::string_view archive_path);

  // Removes every tree not named in `keep` and every incomplete one.
  absl::Status Collect(const std::set<std::string>& keep);

 private:
  std::string MarkerOf(std::string_view sha256) const;
  absl::Status RemoveTree(const std::string& path);

  FileSystem* fs_;
  std::string root_;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_TREE_STORE_H_
