// The Env seam: every file, clock and randomness access of Strata goes
// through these interfaces, so tests can inject faults, crash a write at any
// step, or move time forward without sleeping.
#ifndef STRATA_BASE_ENV_H_
#define STRATA_BASE_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace strata {

// A file being written sequentially. Data is durable only after Sync().
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
};

// A file read at arbitrary offsets; safe for concurrent readers.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into `scratch`; returns the bytes read
  // (fewer only at end of file).
  virtual absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                                      char* scratch) const = 0;
  virtual uint64_t Size() const = 0;
};

struct FileInfo {
  bool is_directory = false;
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Creates or truncates `path` for writing.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      std::string_view path) = 0;
  // Opens `path` for appending, creating it if missing.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      std::string_view path) = 0;
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      std::string_view path) = 0;

  virtual absl::StatusOr<std::string> ReadFile(std::string_view path) = 0;
  virtual absl::StatusOr<FileInfo> Stat(std::string_view path) = 0;
  // Names (not paths) of the entries of directory `path`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(
      std::string_view path) = 0;

  // Atomically replaces `to` with `from` (POSIX rename semantics).
  virtual absl::Status Rename(std::string_view from, std::string_view to) = 0;
  virtual absl::Status DeleteFile(std::string_view path) = 0;
  // Creates one directory; OK if it already exists as a directory.
  virtual absl::Status CreateDir(std::string_view path) = 0;
  // Deletes an empty directory.
  virtual absl::Status DeleteDir(std::string_view path) = 0;
  // Makes the directory's entries (creations, renames, deletions) durable.
  virtual absl::Status SyncDir(std::string_view path) = 0;
  virtual absl::Status SetPermissions(std::string_view path, uint32_t mode) = 0;

  bool Exists(std::string_view path) { return Stat(path).ok(); }
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Waits for `d`; a simulated clock just advances.
  virtual void SleepFor(absl::Duration d) = 0;
};

class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t Next64() = 0;
  // Fills `out` with `n` random bytes.
  virtual void Fill(void* out, size_t n);
  // Uniform in [0, n); n > 0.
  uint64_t Uniform(uint64_t n);
};

// The three seams together. Not owning; outlives the objects that use it.
struct Env {
  FileSystem* fs = nullptr;
  Clock* clock = nullptr;
  Random* random = nullptr;

  // The real machine: POSIX files, the system clock, the OS's random source.
  static Env Default();
};

FileSystem* PosixFileSystem();
Clock* SystemClock();
Random* SystemRandom();

}  // namespace strata

#endif  // STRATA_BASE_ENV_H_
