// An in-memory FileSystem that models durability: file contents are durable
// only once synced, and directory entries (creations, renames, deletions)
// only once their directory is synced. DropUnsyncedData() simulates a power
// cut by returning to the durable state.
#ifndef STRATA_BASE_TESTING_MEM_FILE_SYSTEM_H_
#define STRATA_BASE_TESTING_MEM_FILE_SYSTEM_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "strata/base/env.h"

namespace strata::testing {

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
  // changes whose directory was not synced. Open files stop working.
  void DropUnsyncedData();

  // Every file path currently visible, sorted (for leftover checks).
  std::vector<std::string> AllFiles() const;

 private:
  struct Node {
    std::string data;
    std::string synced;
    uint32_t mode = 0644;
    uint64_t generation = 0;  // bumped by DropUnsyncedData
  };
  class MemWritable;
  class MemReadable;

  absl::StatusOr<std::unique_ptr<WritableFile>> Open(std::string_view path,
                                                     bool truncate);
  bool ParentExistsLocked(const std::string& path) const;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Node>> files_;
  std::map<std::string, std::shared_ptr<Node>> durable_files_;
  std::set<std::string> dirs_;
  std::set<std::string> durable_dirs_;
  uint64_t generation_ = 0;
};

}  // namespace strata::testing

#endif  // STRATA_BASE_TESTING_MEM_FILE_SYSTEM_H_
