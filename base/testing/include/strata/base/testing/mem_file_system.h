// An in-memory FileSystem that models durability: file contents are durable
// only once synced, and directory entries (creations, renames, deletions)
// only once their directory is synced. DropUnsyncedData() simulates a power
// cut by returning to the durable state, optionally leaving torn or
// zero-filled tails. It also models a disk that fills up (ENOSPC).
#ifndef STRATA_BASE_TESTING_MEM_FILE_SYSTEM_H_
#define STRATA_BASE_TESTING_MEM_FILE_SYSTEM_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "strata/base/env.h"
#include "strata/base/mutex.h"

namespace strata::testing {

// What a power cut does to the bytes appended to a file since its last
// sync: kDrop loses them all; kTorn keeps the first half of them; kZero
// keeps their length but not their content (zeros), as when the size
// reached the disk and the data did not. A file truncated and rewritten
// since its last sync gets the torn or zeroed new content in place of the
// old.
enum class TailModel { kDrop, kTorn, kZero };
const char* TailModelName(TailModel model);

class MemFileSystem : public FileSystem {
 public:
  MemFileSystem();

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      std::string_view path) override;
  absl::StatusOr<std::string> ReadFile(std::string_view path) override;
  absl::StatusOr<FileInfo> Stat(std::string_view path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      std::string_view path) override;
  absl::Status Rename(std::string_view from, std::string_view to) override;
  absl::Status DeleteFile(std::string_view path) override;
  absl::Status CreateDir(std::string_view path) override;
  absl::Status DeleteDir(std::string_view path) override;
  absl::Status SyncDir(std::string_view path) override;
  absl::Status SetPermissions(std::string_view path, uint32_t mode) override;

  // Forgets everything not made durable: unsynced file bytes and directory
  // changes whose directory was not synced. Open files stop working. Files
  // that survive with unsynced appends keep the tail `model` says, durably.
  // Returns how many files were left with a torn or zeroed tail.
  uint64_t DropUnsyncedData(TailModel model = TailModel::kDrop);

  // Every file path currently visible, sorted (for leftover checks).
  std::vector<std::string> AllFiles() const;

  // Disk space (issue 15, item 4). With a capacity, the bytes of the
  // visible files never exceed it: an append writes what fits and fails
  // with RESOURCE_EXHAUSTED "<op> <path>: No space left on device" (what
  // PosixFileSystem makes of ENOSPC); creating a file or a directory fails
  // the same way when no byte is free; deleting or truncating frees space.
  // nullopt: unlimited (the default).
  void SetCapacity(std::optional<uint64_t> bytes);
  // The disk is full now: the capacity becomes the bytes in use.
  void FillDisk();
  // Space returns: no capacity, nothing armed.
  void FreeSpace();
  // The disk fills during the `n`-th space-taking operation from now on
  // (1-based; create, open for append, append, sync, close, rename, mkdir,
  // directory sync, chmod: every mutation but deletions). That operation
  // fails with RESOURCE_EXHAUSTED (an append after writing the first half
  // of its bytes, as a short write does) and the capacity becomes the
  // bytes in use then. 0 disarms.
  void FillDiskAt(uint64_t n);
  // Space-taking operations seen since FillDiskAt, and whether the armed
  // one was reached.
  uint64_t space_operations() const;
  bool disk_filled() const;
  // Bytes of all visible files.
  uint64_t UsedBytes() const;

 private:
  struct Node {
    std::string data;
    std::string synced;
    bool truncated = false;  // since the last sync
    uint32_t mode = 0644;
    uint64_t generation = 0;  // bumped by DropUnsyncedData
  };
  class MemWritable;
  class MemReadable;

  absl::StatusOr<std::unique_ptr<WritableFile>> Open(std::string_view path,
                                                     bool truncate);
  bool ParentExistsLocked(const std::string& path) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t UsedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts a space-taking operation; fails it if the disk fills here or if
  // it needs `need` bytes (or a new entry, need_entry) that are not free.
  absl::Status SpaceLocked(std::string_view op, std::string_view path,
                           uint64_t need = 0, bool need_entry = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends to `node` what fits of `data`; fails when not all of it did.
  absl::Status AppendLocked(Node& node, std::string_view path,
                            std::string_view data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<Node>> files_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Node>> durable_files_
      ABSL_GUARDED_BY(mu_);
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> durable_dirs_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<uint64_t> capacity_ ABSL_GUARDED_BY(mu_);
  uint64_t fill_at_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t space_ops_ ABSL_GUARDED_BY(mu_) = 0;
  bool filled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace strata::testing

#endif  // STRATA_BASE_TESTING_MEM_FILE_SYSTEM_H_
