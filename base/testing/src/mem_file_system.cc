#include "strata/base/testing/mem_file_system.h"

#include <cstring>

#include "strata/base/file_util.h"
#include "strata/base/mutex.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::testing {

class MemFileSystem::MemWritable : public WritableFile {
 public:
  MemWritable(MemFileSystem* fs, std::shared_ptr<Node> node, std::string path,
              uint64_t generation)
      : fs_(fs),
        node_(std::move(node)),
        path_(std::move(path)),
        generation_(generation) {}

  absl::Status Append(std::string_view data) override {
    MutexLock lock(&fs_->mu_);
    STRATA_RETURN_IF_ERROR(Check());
    return fs_->AppendLocked(*node_, path_, data);
  }
  absl::Status Sync() override {
    MutexLock lock(&fs_->mu_);
    STRATA_RETURN_IF_ERROR(Check());
    STRATA_RETURN_IF_ERROR(fs_->SpaceLocked("fsync", path_));
    node_->synced = node_->data;
    node_->truncated = false;
    return absl::OkStatus();
  }
  absl::Status Close() override {
    MutexLock lock(&fs_->mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;  // closed even when the close reports an error
    return fs_->SpaceLocked("close", path_);
  }

 private:
  absl::Status Check() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(fs_->mu_) {
    if (closed_) return absl::FailedPreconditionError(path_ + " is closed");
    if (generation_ != fs_->generation_) {
      return absl::UnavailableError(path_ + ": handle lost in simulated crash");
    }
    return absl::OkStatus();
  }

  MemFileSystem* fs_;
  std::shared_ptr<Node> node_;
  std::string path_;
  uint64_t generation_;
  bool closed_ = false;
};

class MemFileSystem::MemReadable : public RandomAccessFile {
 public:
  explicit MemReadable(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                              char* scratch) const override {
    if (offset >= data_.size()) return size_t{0};
    size_t k = std::min<uint64_t>(n, data_.size() - offset);
    std::memcpy(scratch, data_.data() + offset, k);
    return k;
  }
  uint64_t Size() const override { return data_.size(); }

 private:
  std::string data_;  // a snapshot taken at open
};

const char* TailModelName(TailModel model) {
  switch (model) {
    case TailModel::kDrop:
      return "dropped";
    case TailModel::kTorn:
      return "torn";
    case TailModel::kZero:
      return "zeroed";
  }
  return "?";
}

namespace {

absl::Status NoSpace(std::string_view op, std::string_view path) {
  return absl::ResourceExhaustedError(
      strata::StrCat(op, " ", path, ": No space left on device"));
}

}  // namespace

MemFileSystem::MemFileSystem() {
  dirs_ = {"/", "."};
  durable_dirs_ = dirs_;
}

bool MemFileSystem::ParentExistsLocked(const std::string& path) const {
  return dirs_.count(Dirname(path)) > 0;
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemFileSystem::Open(
    std::string_view path, bool truncate) {
  MutexLock lock(&mu_);
  std::string p(path);
  if (dirs_.count(p)) return absl::InvalidArgumentError(p + " is a directory");
  if (!ParentExistsLocked(p)) {
    return absl::NotFoundError(
        strata::StrCat("open ", p, ": no parent directory"));
  }
  auto it = files_.find(p);
  std::shared_ptr<Node> node;
  if (it == files_.end()) {
    STRATA_RETURN_IF_ERROR(SpaceLocked("open", p, 0, /*need_entry=*/true));
    node = std::make_shared<Node>();
    files_[p] = node;
  } else {
    STRATA_RETURN_IF_ERROR(SpaceLocked("open", p));
    node = it->second;
    if (truncate) {
      node->data.clear();
      node->truncated = true;
    }
  }
  return std::unique_ptr<WritableFile>(
      new MemWritable(this, std::move(node), p, generation_));
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemFileSystem::NewWritableFile(
    std::string_view path) {
  return Open(path, /*truncate=*/true);
}
absl::StatusOr<std::unique_ptr<WritableFile>> MemFileSystem::NewAppendableFile(
    std::string_view path) {
  return Open(path, /*truncate=*/false);
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>>
MemFileSystem::NewRandomAccessFile(std::string_view path) {
  std::string p(path);
  MutexLock lock(&mu_);
  auto it = files_.find(p);
  if (it == files_.end())
    return absl::NotFoundError("open " + p + ": no such file");
  return std::unique_ptr<RandomAccessFile>(new MemReadable(it->second->data));
}

absl::StatusOr<std::string> MemFileSystem::ReadFile(std::string_view path) {
  std::string p(path);
  MutexLock lock(&mu_);
  auto it = files_.find(p);
  if (it == files_.end())
    return absl::NotFoundError("read " + p + ": no such file");
  return it->second->data;
}

absl::StatusOr<FileInfo> MemFileSystem::Stat(std::string_view path) {
  std::string p(path);
  MutexLock lock(&mu_);
  FileInfo info;
  if (dirs_.count(p)) {
    info.is_directory = true;
    info.mode = 0755;
    return info;
  }
  auto it = files_.find(p);
  if (it == files_.end())
    return absl::NotFoundError("stat " + p + ": no such file");
  info.size = it->second->data.size();
  info.mode = it->second->mode;
  return info;
}

absl::StatusOr<std::vector<std::string>> MemFileSystem::ListDir(
    std::string_view path) {
  std::string p(path);
  MutexLock lock(&mu_);
  if (!dirs_.count(p))
    return absl::NotFoundError("list " + p + ": no such directory");
  std::set<std::string> names;
  for (const auto& [f, node] : files_) {
    if (Dirname(f) == p) names.insert(Basename(f));
  }
  for (const std::string& d : dirs_) {
    if (d != p && d != "/" && d != "." && Dirname(d) == p)
      names.insert(Basename(d));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

absl::Status MemFileSystem::Rename(std::string_view from, std::string_view to) {
  std::string f(from), t(to);
  MutexLock lock(&mu_);
  auto it = files_.find(f);
  if (it == files_.end())
    return absl::NotFoundError("rename " + f + ": no such file");
  if (!ParentExistsLocked(t))
    return absl::NotFoundError("rename to " + t + ": no parent");
  if (dirs_.count(t))
    return absl::InvalidArgumentError("rename onto directory " + t);
  STRATA_RETURN_IF_ERROR(SpaceLocked("rename", f + " -> " + t));
  std::shared_ptr<Node> node = it->second;
  files_.erase(it);
  files_[t] = std::move(node);
  return absl::OkStatus();
}

absl::Status MemFileSystem::DeleteFile(std::string_view path) {
  std::string p(path);
  MutexLock lock(&mu_);
  if (files_.erase(p) == 0)
    return absl::NotFoundError("unlink " + p + ": no such file");
  return absl::OkStatus();
}

absl::Status MemFileSystem::CreateDir(std::string_view path) {
  std::string p(path);
  MutexLock lock(&mu_);
  if (dirs_.count(p)) return absl::OkStatus();
  if (files_.count(p))
    return absl::AlreadyExistsError("mkdir " + p + ": a file exists");
  if (!ParentExistsLocked(p))
    return absl::NotFoundError("mkdir " + p + ": no parent");
  STRATA_RETURN_IF_ERROR(SpaceLocked("mkdir", p, 0, /*need_entry=*/true));
  dirs_.insert(p);
  return absl::OkStatus();
}

absl::Status MemFileSystem::DeleteDir(std::string_view path) {
  std::string p(path);
  MutexLock lock(&mu_);
  if (!dirs_.count(p))
    return absl::NotFoundError("rmdir " + p + ": no such directory");
  for (const auto& [f, node] : files_) {
    if (Dirname(f) == p)
      return absl::AlreadyExistsError("rmdir " + p + ": not empty");
  }
  for (const std::string& d : dirs_) {
    if (d != p && Dirname(d) == p)
      return absl::AlreadyExistsError("rmdir " + p + ": not empty");
  }
  dirs_.erase(p);
  return absl::OkStatus();
}

absl::Status MemFileSystem::SyncDir(std::string_view path) {
  std::string p(path.empty() ? "." : path);
  MutexLock lock(&mu_);
  if (!dirs_.count(p))
    return absl::NotFoundError("sync " + p + ": no such directory");
  STRATA_RETURN_IF_ERROR(SpaceLocked("fsync", p));
  for (auto it = durable_files_.begin(); it != durable_files_.end();) {
    it = Dirname(it->first) == p ? durable_files_.erase(it) : std::next(it);
  }
  for (const auto& [f, node] : files_) {
    if (Dirname(f) == p) durable_files_[f] = node;
  }
  for (auto it = durable_dirs_.begin(); it != durable_dirs_.end();) {
    bool child = *it != p && *it != "/" && *it != "." && Dirname(*it) == p;
    it = child ? durable_dirs_.erase(it) : std::next(it);
  }
  for (const std::string& d : dirs_) {
    if (d != p && d != "/" && d != "." && Dirname(d) == p)
      durable_dirs_.insert(d);
  }
  return absl::OkStatus();
}

absl::Status MemFileSystem::SetPermissions(std::string_view path,
                                           uint32_t mode) {
  std::string p(path);
  MutexLock lock(&mu_);
  auto it = files_.find(p);
  if (it == files_.end())
    return absl::NotFoundError("chmod " + p + ": no such file");
  STRATA_RETURN_IF_ERROR(SpaceLocked("chmod", p));
  it->second->mode = mode;
  return absl::OkStatus();
}

uint64_t MemFileSystem::DropUnsyncedData(TailModel model) {
  MutexLock lock(&mu_);
  uint64_t tails = 0;
  ++generation_;
  // A durable name whose directory was itself never made durable is lost too.
  std::set<std::string> dirs;
  for (const std::string& d : durable_dirs_) {
    std::string cur = d;
    bool reachable = true;
    while (cur != "/" && cur != ".") {
      if (!durable_dirs_.count(cur)) {
        reachable = false;
        break;
      }
      cur = Dirname(cur);
    }
    if (reachable) dirs.insert(d);
  }
  dirs_ = dirs;
  durable_dirs_ = dirs;
  files_.clear();
  for (const auto& [f, node] : durable_files_) {
    if (!dirs_.count(Dirname(f))) continue;
    if (model != TailModel::kDrop &&
        (node->truncated || node->data.size() > node->synced.size())) {
      // What was written since the last sync: appended to the synced bytes,
      // or (after a truncation) all of the content.
      const std::string_view fresh =
          node->truncated
              ? std::string_view(node->data)
              : std::string_view(node->data).substr(node->synced.size());
      const std::string lost =
          model == TailModel::kTorn
              ? std::string(fresh.substr(0, fresh.size() / 2))
              : std::string(fresh.size(), '\0');
      node->synced = node->truncated ? lost : node->synced + lost;
      node->truncated = false;
      ++tails;
    }
    node->data = node->synced;
    node->truncated = false;
    files_[f] = node;
  }
  durable_files_ = files_;
  return tails;
}

std::vector<std::string> MemFileSystem::AllFiles() const {
  MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [f, node] : files_) out.push_back(f);
  return out;
}

uint64_t MemFileSystem::UsedLocked() const {
  uint64_t used = 0;
  for (const auto& [f, node] : files_) used += node->data.size();
  return used;
}

absl::Status MemFileSystem::SpaceLocked(std::string_view op,
                                        std::string_view path, uint64_t need,
                                        bool need_entry) {
  ++space_ops_;
  if (fill_at_ != 0 && !filled_ && space_ops_ == fill_at_) {
    filled_ = true;
    capacity_ = UsedLocked();
    return NoSpace(op, path);
  }
  if (!capacity_.has_value()) return absl::OkStatus();
  const uint64_t used = UsedLocked();
  if ((need_entry && used >= *capacity_) || used + need > *capacity_) {
    return NoSpace(op, path);
  }
  return absl::OkStatus();
}

absl::Status MemFileSystem::AppendLocked(Node& node, std::string_view path,
                                         std::string_view data) {
  ++space_ops_;
  if (fill_at_ != 0 && !filled_ && space_ops_ == fill_at_) {
    // A short write: half of it reached the file, then the disk was full.
    filled_ = true;
    node.data.append(data.substr(0, data.size() / 2));
    capacity_ = UsedLocked();
    return NoSpace("write", path);
  }
  if (capacity_.has_value()) {
    const uint64_t used = UsedLocked();
    const uint64_t free = *capacity_ > used ? *capacity_ - used : 0;
    if (data.size() > free) {
      node.data.append(data.substr(0, free));
      return NoSpace("write", path);
    }
  }
  node.data.append(data);
  return absl::OkStatus();
}

void MemFileSystem::SetCapacity(std::optional<uint64_t> bytes) {
  MutexLock lock(&mu_);
  capacity_ = bytes;
}

void MemFileSystem::FillDisk() {
  MutexLock lock(&mu_);
  capacity_ = UsedLocked();
}

void MemFileSystem::FreeSpace() {
  MutexLock lock(&mu_);
  capacity_.reset();
  fill_at_ = 0;
}

void MemFileSystem::FillDiskAt(uint64_t n) {
  MutexLock lock(&mu_);
  fill_at_ = n;
  space_ops_ = 0;
  filled_ = false;
}

uint64_t MemFileSystem::space_operations() const {
  MutexLock lock(&mu_);
  return space_ops_;
}

bool MemFileSystem::disk_filled() const {
  MutexLock lock(&mu_);
  return filled_;
}

uint64_t MemFileSystem::UsedBytes() const {
  MutexLock lock(&mu_);
  return UsedLocked();
}

}  // namespace strata::testing
