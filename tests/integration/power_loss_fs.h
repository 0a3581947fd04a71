// A RocksDB FileSystem that knows what a power cut would leave on disk, and
// can play a full disk.
//
// The model (pessimistic, like RocksDB's own FaultInjectionTestFS):
// - bytes appended to a file but not yet fsynced may be lost; what is left
//   of them is chosen by `Tail`: nothing, all but the last sector written
//   (a torn write), or as many zero bytes (a file system that extended the
//   file but never wrote the data);
// - a file created or renamed into place is lost (a rename is undone) until
//   its directory is fsynced;
// - deletions and truncations are taken as durable at once (they only ever
//   remove what RocksDB no longer needs).
//
// Every mutating call (create, append, sync, truncate, rename, delete,
// directory sync) is one numbered operation and runs under one lock, so a
// hook called before operation N sees the disk between N-1 and N: the
// moment a power cut at point N would freeze.
#ifndef STRATA_TESTS_INTEGRATION_POWER_LOSS_FS_H_
#define STRATA_TESTS_INTEGRATION_POWER_LOSS_FS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace strata::testing {

class PowerLossFileSystem : public rocksdb::FileSystemWrapper {
 public:
  enum class Tail { kDropped, kTorn, kZeroFilled };

  PowerLossFileSystem();
  const char* Name() const override { return "PowerLossFileSystem"; }

  // Called with the operation's number before every mutating operation,
  // with the lock held: it may call CopyDurableImage, nothing else here.
  void SetHook(std::function<void(uint64_t op)> hook);
  // Mutating operations so far.
  uint64_t ops() const { return ops_.load(); }
  // While set, creating files, appending and syncing unsynced data fail
  // with ENOSPC ("No space left on device"), as on a full disk.
  void SetFull(bool full) { full_.store(full); }
  // Failures returned because the disk was full.
  uint64_t full_failures() const { return full_failures_.load(); }

  // Whether some file holds data not synced yet (then the tail models
  // differ). Call from the hook.
  bool HasUnsyncedData();
  // Writes into `to` (created) a copy of the tree `from` as it would be
  // after a power cut now. Call from the hook, or when nothing writes.
  absl::Status CopyDurableImage(const std::string& from, const std::string& to,
                                Tail tail);

  // rocksdb::FileSystem
  rocksdb::IOStatus NewWritableFile(
      const std::string& f, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(
      const std::string& f, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& f, const std::string& old_f,
      const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name,
                                 const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& f, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  // Zero while the disk is full.
  rocksdb::IOStatus GetFreeSpace(const std::string& path,
                                 const rocksdb::IOOptions& options,
                                 uint64_t* free_bytes,
                                 rocksdb::IODebugContext* dbg) override;

 private:
  class File;
  class Directory;
  struct FileState {
    uint64_t synced = 0;  // bytes known to be on disk
  };
  // A name not yet made durable by a directory sync, with what the name
  // held before (durable bytes) if anything.
  struct NewEntry {
    std::optional<std::string> previous;
  };

  // Runs the hook for the next operation. Caller holds mu_.
  void Step();
  bool FullNow();
  rocksdb::IOStatus Track(const std::string& f, bool reopen,
                          std::unique_ptr<rocksdb::FSWritableFile>* result);
  // The bytes of `path` that survive a power cut now (nullopt: the name
  // does not). Caller holds mu_.
  std::optional<std::string> Durable(const std::string& path, Tail tail);
  // Marks every new name in `dir` durable. Caller holds mu_.
  void DirectorySynced(const std::string& dir);

  std::mutex mu_;
  std::function<void(uint64_t)> hook_;
  std::map<std::string, FileState> files_;
  std::map<std::string, NewEntry> new_entries_;
  std::atomic<uint64_t> ops_{0};
  std::atomic<bool> full_{false};
  std::atomic<uint64_t> full_failures_{0};
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_INTEGRATION_POWER_LOSS_FS_H_
