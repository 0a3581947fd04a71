#include "strata/server/storage/testing/power_loss_disk.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <system_error>
#include <utility>

#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "strata/base/mutex.h"

namespace strata::testing {

class PowerLossDisk::FileSystem : public rocksdb::FileSystemWrapper {
 public:
  using Tail = PowerLossDisk::Tail;

  FileSystem();
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
  bool HasUnsyncedData() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes into `to` (created) a copy of the tree `from` as it would be
  // after a power cut now. Call from the hook, or when nothing writes.
  absl::Status CopyDurableImage(const std::string& from, const std::string& to,
                                Tail tail) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

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

  // Runs the hook for the next operation.
  void Step() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool FullNow();
  rocksdb::IOStatus Track(const std::string& f, bool reopen,
                          std::unique_ptr<rocksdb::FSWritableFile>* result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The bytes of `path` that survive a power cut now (nullopt: the name
  // does not).
  std::optional<std::string> Durable(const std::string& path, Tail tail)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks every new name in `dir` durable.
  void DirectorySynced(const std::string& dir)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Mutex mu_;
  std::function<void(uint64_t)> hook_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, NewEntry> new_entries_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> ops_{0};
  std::atomic<bool> full_{false};
  std::atomic<uint64_t> full_failures_{0};
};

namespace {

namespace fs = std::filesystem;

std::string Normal(const std::string& path) {
  std::string n = fs::path(path).lexically_normal().string();
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  return n;
}

std::string Parent(const std::string& path) {
  return Normal(fs::path(path).parent_path().string());
}

std::optional<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

rocksdb::IOStatus NoSpace() {
  return rocksdb::IOStatus::NoSpace("No space left on device (simulated)");
}

}  // namespace

class PowerLossDisk::FileSystem::File
    : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(PowerLossDisk::FileSystem* fs, std::string path,
       std::unique_ptr<rocksdb::FSWritableFile> target)
      : FSWritableFileOwnerWrapper(std::move(target)),
        fs_(fs),
        path_(std::move(path)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    return Write([&] { return target()->Append(data, options, dbg); });
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    return Write([&] { return target()->Append(data, options, info, dbg); });
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                     uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    return Write(
        [&] { return target()->PositionedAppend(data, offset, options, dbg); });
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                     uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    return Write([&] {
      return target()->PositionedAppend(data, offset, options, info, dbg);
    });
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    MutexLock lock(&fs_->mu_);
    fs_->Step();
    rocksdb::IOStatus s = target()->Truncate(size, options, dbg);
    auto it = fs_->files_.find(path_);
    if (s.ok() && it != fs_->files_.end() && it->second.synced > size) {
      it->second.synced = size;
    }
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                         rocksdb::IODebugContext* dbg) override {
    return SyncWith(options, dbg, /*full=*/false);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return SyncWith(options, dbg, /*full=*/true);
  }
  // A range sync starts write-back; it promises nothing: not an operation
  // that makes data durable here.
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&,
                              rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }

 private:
  // One numbered operation that writes data: refused on a full disk.
  template <typename Fn>
  rocksdb::IOStatus Write(const Fn& write) {
    MutexLock lock(&fs_->mu_);
    fs_->Step();
    if (fs_->FullNow()) return NoSpace();
    return write();
  }
  rocksdb::IOStatus SyncWith(const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg, bool full) {
    MutexLock lock(&fs_->mu_);
    fs_->Step();
    const uint64_t size = target()->GetFileSize(options, dbg);
    auto it = fs_->files_.find(path_);
    const bool dirty = it == fs_->files_.end() || it->second.synced < size;
    // A delayed-allocation file system reports a full disk at fsync.
    if (dirty && fs_->FullNow()) return NoSpace();
    rocksdb::IOStatus s =
        full ? target()->Fsync(options, dbg) : target()->Sync(options, dbg);
    if (s.ok() && it != fs_->files_.end()) it->second.synced = size;
    return s;
  }

  PowerLossDisk::FileSystem* fs_;
  std::string path_;
};

class PowerLossDisk::FileSystem::Directory
    : public rocksdb::FSDirectoryWrapper {
 public:
  Directory(PowerLossDisk::FileSystem* fs, std::string path,
            std::unique_ptr<rocksdb::FSDirectory> target)
      : FSDirectoryWrapper(std::move(target)),
        fs_(fs),
        path_(std::move(path)) {}

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    MutexLock lock(&fs_->mu_);
    fs_->Step();
    rocksdb::IOStatus s = FSDirectoryWrapper::Fsync(options, dbg);
    if (s.ok()) fs_->DirectorySynced(path_);
    return s;
  }
  rocksdb::IOStatus FsyncWithDirOptions(
      const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg,
      const rocksdb::DirFsyncOptions& dir_options) override {
    MutexLock lock(&fs_->mu_);
    fs_->Step();
    rocksdb::IOStatus s =
        FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options);
    if (s.ok()) fs_->DirectorySynced(path_);
    return s;
  }

 private:
  PowerLossDisk::FileSystem* fs_;
  std::string path_;
};

PowerLossDisk::FileSystem::FileSystem()
    : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

void PowerLossDisk::FileSystem::SetHook(std::function<void(uint64_t)> hook) {
  MutexLock lock(&mu_);
  hook_ = std::move(hook);
}

void PowerLossDisk::FileSystem::Step() {
  const uint64_t op = ops_.fetch_add(1);
  if (hook_) hook_(op);
}

bool PowerLossDisk::FileSystem::FullNow() {
  if (!full_.load()) return false;
  full_failures_.fetch_add(1);
  return true;
}

rocksdb::IOStatus PowerLossDisk::FileSystem::Track(
    const std::string& f, bool reopen,
    std::unique_ptr<rocksdb::FSWritableFile>* result) {
  const std::string path = Normal(f);
  if (!reopen || files_.count(path) == 0) {
    // An existing file counts as durable as it is (it was there before
    // this file system saw it, or it is being rewritten from empty).
    files_[path].synced = reopen ? fs::file_size(path) : 0;
  }
  *result = std::make_unique<File>(this, path, std::move(*result));
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossDisk::FileSystem::NewWritableFile(
    const std::string& f, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  MutexLock lock(&mu_);
  Step();
  if (FullNow()) return NoSpace();
  const std::string path = Normal(f);
  std::optional<std::string> previous;
  auto entry = new_entries_.find(path);
  if (entry != new_entries_.end()) {
    previous = entry->second.previous;
  } else {
    previous = Durable(path, Tail::kDropped);
  }
  rocksdb::IOStatus s = target()->NewWritableFile(f, options, result, dbg);
  if (!s.ok()) return s;
  new_entries_[path].previous = std::move(previous);
  return Track(f, /*reopen=*/false, result);
}

rocksdb::IOStatus PowerLossDisk::FileSystem::ReopenWritableFile(
    const std::string& f, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  MutexLock lock(&mu_);
  Step();
  rocksdb::IOStatus s = target()->ReopenWritableFile(f, options, result, dbg);
  if (!s.ok()) return s;
  return Track(f, /*reopen=*/true, result);
}

rocksdb::IOStatus PowerLossDisk::FileSystem::ReuseWritableFile(
    const std::string& f, const std::string& old_f,
    const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  // Recycled logs are off (RocksDB's default); stay exact if that changes.
  rocksdb::IOStatus s = RenameFile(old_f, f, options.io_options, dbg);
  if (!s.ok()) return s;
  return ReopenWritableFile(f, options, result, dbg);
}

rocksdb::IOStatus PowerLossDisk::FileSystem::NewDirectory(
    const std::string& name, const rocksdb::IOOptions& options,
    std::unique_ptr<rocksdb::FSDirectory>* result,
    rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->NewDirectory(name, options, result, dbg);
  if (!s.ok()) return s;
  *result = std::make_unique<Directory>(this, Normal(name), std::move(*result));
  return s;
}

rocksdb::IOStatus PowerLossDisk::FileSystem::RenameFile(
    const std::string& src, const std::string& dst,
    const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) {
  MutexLock lock(&mu_);
  Step();
  const std::string from = Normal(src), to = Normal(dst);
  std::optional<std::string> previous;
  auto entry = new_entries_.find(to);
  if (entry != new_entries_.end()) {
    previous = entry->second.previous;
  } else {
    previous = Durable(to, Tail::kDropped);
  }
  rocksdb::IOStatus s = target()->RenameFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  new_entries_.erase(from);
  new_entries_[to].previous = std::move(previous);
  auto state = files_.find(from);
  if (state != files_.end()) {
    files_[to] = state->second;
    files_.erase(state);
  } else {
    files_.erase(to);
  }
  return s;
}

rocksdb::IOStatus PowerLossDisk::FileSystem::DeleteFile(
    const std::string& f, const rocksdb::IOOptions& options,
    rocksdb::IODebugContext* dbg) {
  MutexLock lock(&mu_);
  Step();
  rocksdb::IOStatus s = target()->DeleteFile(f, options, dbg);
  if (s.ok()) {
    files_.erase(Normal(f));
    new_entries_.erase(Normal(f));
  }
  return s;
}

rocksdb::IOStatus PowerLossDisk::FileSystem::Truncate(
    const std::string& f, size_t size, const rocksdb::IOOptions& options,
    rocksdb::IODebugContext* dbg) {
  MutexLock lock(&mu_);
  Step();
  rocksdb::IOStatus s = target()->Truncate(f, size, options, dbg);
  auto it = files_.find(Normal(f));
  if (s.ok() && it != files_.end() && it->second.synced > size) {
    it->second.synced = size;
  }
  return s;
}

rocksdb::IOStatus PowerLossDisk::FileSystem::GetFreeSpace(
    const std::string& path, const rocksdb::IOOptions& options,
    uint64_t* free_bytes, rocksdb::IODebugContext* dbg) {
  if (full_.load()) {
    *free_bytes = 0;
    return rocksdb::IOStatus::OK();
  }
  return target()->GetFreeSpace(path, options, free_bytes, dbg);
}

void PowerLossDisk::FileSystem::DirectorySynced(const std::string& dir) {
  for (auto it = new_entries_.begin(); it != new_entries_.end();) {
    if (Parent(it->first) == dir) {
      it = new_entries_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<std::string> PowerLossDisk::FileSystem::Durable(
    const std::string& path, Tail tail) {
  auto entry = new_entries_.find(path);
  if (entry != new_entries_.end()) return entry->second.previous;
  std::optional<std::string> bytes = ReadAll(path);
  if (!bytes) return std::nullopt;
  auto state = files_.find(path);
  if (state == files_.end() || state->second.synced >= bytes->size()) {
    return bytes;
  }
  const uint64_t synced = state->second.synced;
  const uint64_t unsynced = bytes->size() - synced;
  switch (tail) {
    case Tail::kDropped:
      bytes->resize(synced);
      break;
    case Tail::kTorn:
      // The cut fell in the last sector written: every earlier record of
      // the tail is whole, the last one is not.
      bytes->resize(synced + (unsynced > 512 ? unsynced - 512 : unsynced / 2));
      break;
    case Tail::kZeroFilled:
      bytes->replace(synced, unsynced, std::string(unsynced, '\0'));
      break;
  }
  return bytes;
}

bool PowerLossDisk::FileSystem::HasUnsyncedData() {
  std::error_code ec;
  for (const auto& [path, state] : files_) {
    const uint64_t size = fs::file_size(path, ec);
    if (!ec && size > state.synced) return true;
  }
  return false;
}

absl::Status PowerLossDisk::FileSystem::CopyDurableImage(
    const std::string& from, const std::string& to, Tail tail) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return absl::InternalError("creating " + to + ": " + ec.message());
  const fs::path root(Normal(from));
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path rel = it->path().lexically_relative(root);
    const fs::path out = fs::path(to) / rel;
    if (it->is_directory()) {
      fs::create_directories(out, ec);
      if (ec) break;
      fs::permissions(out, fs::status(it->path()).permissions(), ec);
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::optional<std::string> bytes = Durable(Normal(it->path()), tail);
    if (!bytes) continue;
    std::ofstream o(out, std::ios::binary | std::ios::trunc);
    o.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
    if (!o) return absl::InternalError("writing " + out.string());
    o.close();
    fs::permissions(out, fs::status(it->path()).permissions(), ec);
  }
  if (ec) {
    return absl::InternalError("copying " + from + ": " + ec.message());
  }
  return absl::OkStatus();
}

PowerLossDisk::PowerLossDisk()
    : fs_(std::make_shared<FileSystem>()),
      env_(rocksdb::NewCompositeEnv(fs_)) {}
PowerLossDisk::~PowerLossDisk() = default;
rocksdb::Env* PowerLossDisk::env() { return env_.get(); }
void PowerLossDisk::SetHook(std::function<void(uint64_t)> hook) {
  fs_->SetHook(std::move(hook));
}
uint64_t PowerLossDisk::ops() const { return fs_->ops(); }
void PowerLossDisk::SetFull(bool full) { fs_->SetFull(full); }
uint64_t PowerLossDisk::full_failures() const { return fs_->full_failures(); }
// Both are called from the hook, which runs with the file system's lock
// held (or when nothing writes): the analysis cannot follow the hook.
bool PowerLossDisk::HasUnsyncedData() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return fs_->HasUnsyncedData();
}
absl::Status PowerLossDisk::CopyDurableImage(const std::string& from,
                                             const std::string& to, Tail tail)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return fs_->CopyDurableImage(from, to, tail);
}

}  // namespace strata::testing
