// Wraps a FileSystem and fails its N-th mutating operation (create, append,
// sync, close, rename, delete, mkdir, rmdir, dir sync, chmod). In crash mode
// every operation after the injected failure fails too, as if the process
// had died there; combine with MemFileSystem::DropUnsyncedData() to model a
// power cut at that instant.
#ifndef STRATA_BASE_TESTING_FAULT_INJECTION_FILE_SYSTEM_H_
#define STRATA_BASE_TESTING_FAULT_INJECTION_FILE_SYSTEM_H_

#include <atomic>
#include <cstdint>

#include "strata/base/env.h"

namespace strata::testing {

class FaultInjectionFileSystem : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem* base) : base_(base) {}

  // Fails the `n`-th mutating operation from now on (1-based); 0 disables.
  // With `crash`, everything after it fails as well.
  void FailNthMutation(uint64_t n, bool crash = true);
  // Mutating operations seen since the last FailNthMutation/Reset.
  uint64_t mutation_count() const { return count_.load(); }
  bool crashed() const { return crashed_.load(); }
  void Reset();

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

  // Called by every mutating operation (also through open files).
  absl::Status MaybeFail(std::string_view op, std::string_view path);

 private:
  class FaultyWritable;

  FileSystem* base_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> fail_at_{0};
  std::atomic<bool> crash_{false};
  std::atomic<bool> crashed_{false};
};

}  // namespace strata::testing

#endif  // STRATA_BASE_TESTING_FAULT_INJECTION_FILE_SYSTEM_H_
