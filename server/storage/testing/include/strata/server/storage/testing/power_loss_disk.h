// A disk for the server's RocksDB that knows what a power cut would leave
// on it, and can fill up (test support; tests pass env() as
// ServerOptions::storage_env or StoreOptions::env).
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
#ifndef STRATA_SERVER_STORAGE_TESTING_POWER_LOSS_DISK_H_
#define STRATA_SERVER_STORAGE_TESTING_POWER_LOSS_DISK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace strata::testing {

class PowerLossDisk {
 public:
  enum class Tail { kDropped, kTorn, kZeroFilled };

  PowerLossDisk();
  ~PowerLossDisk();
  PowerLossDisk(const PowerLossDisk&) = delete;
  PowerLossDisk& operator=(const PowerLossDisk&) = delete;

  // The RocksDB Env on this disk (owned here; outlive every database on it).
  rocksdb::Env* env();

  // Called with the operation's number before every mutating operation,
  // with the lock held: it may call HasUnsyncedData and CopyDurableImage,
  // nothing else here.
  void SetHook(std::function<void(uint64_t op)> hook);
  // Mutating operations so far.
  uint64_t ops() const;
  // While set, creating files, appending and syncing unsynced data fail
  // with ENOSPC ("No space left on device"), and the free space reads 0.
  void SetFull(bool full);
  // Failures returned because the disk was full.
  uint64_t full_failures() const;

  // Whether some file holds data not synced yet (then the tail models
  // differ). Call from the hook.
  bool HasUnsyncedData();
  // Writes into `to` (created) a copy of the tree `from` as it would be
  // after a power cut now. Call from the hook, or when nothing writes.
  absl::Status CopyDurableImage(const std::string& from, const std::string& to,
                                Tail tail);

 private:
  class FileSystem;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

}  // namespace strata::testing

#endif  // STRATA_SERVER_STORAGE_TESTING_POWER_LOSS_DISK_H_
