#include "strata/base/testing/mem_file_system.h"

#include <cstring>

#include "strata/base/file_util.h"
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
    std::lock_guard<std::mutex> lock(fs_->mu_);
    STRATA_RETURN_IF_ERROR(Check());
    node_->data.append(data);
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    std::lock_guard<std::mutex> lock(fs_->mu_);
    STRATA_RETURN_IF_ERROR(Check());
    node_->synced = node_->data;
    return absl::OkStatus();
  }
  absl::Status Close() override {
    std::lock_guard<std::mutex> lock(fs_->mu_);
    closed_ = true;
    return absl::OkStatus();
  }

 private:
  absl::Status Check() const {
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

MemFileSystem::MemFileSystem() {
  dirs_ = {"/", "."};
  durable_dirs_ = dirs_;
}

bool MemFileSystem::ParentExistsLocked(const std::string& path) const {
  return dirs_.count(Dirname(path)) > 0;
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemFileSystem::Open(
    std::string_view path, bool truncate) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string p(path);
  if (dirs_.count(p)) return absl::InvalidArgumentError(p + " is a directory");
  if (!ParentExistsLocked(p)) {
    return absl::NotFoundError(
        strata::StrCat("open ", p, ": no parent directory"));
  }
  auto it = files_.find(p);
  std::shared_ptr<Node> node;
  if (it == files_.end()) {
    node = std::make_shared<Node>();
    files_[p] = node;
  } else {
    node = it->second;
    if (truncate) node->data.clear();
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
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(p);
  if (it == files_.end())
    return absl::NotFoundError("open " + p + ": no such file");
  return std::unique_ptr<RandomAccessFile>(new MemReadable(it->second->data));
}

absl::StatusOr<std::string> MemFileSystem::ReadFile(std::string_view path) {
  std::string p(path);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(p);
  if (it == files_.end())
    return absl::NotFoundError("read " + p + ": no such file");
  return it->second->data;
}

absl::StatusOr<FileInfo> MemFileSystem::Stat(std::string_view path) {
  std::string p(path);
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(f);
  if (it == files_.end())
    return absl::NotFoundError("rename " + f + ": no such file");
  if (!ParentExistsLocked(t))
    return absl::NotFoundError("rename to " + t + ": no parent");
  if (dirs_.count(t))
    return absl::InvalidArgumentError("rename onto directory " + t);
  std::shared_ptr<Node> node = it->second;
  files_.erase(it);
  files_[t] = std::move(node);
  return absl::OkStatus();
}

absl::Status MemFileSystem::DeleteFile(std::string_view path) {
  std::string p(path);
  std::lock_guard<std::mutex> lock(mu_);
  if (files_.erase(p) == 0)
    return absl::NotFoundError("unlink " + p + ": no such file");
  return absl::OkStatus();
}

absl::Status MemFileSystem::CreateDir(std::string_view path) {
  std::string p(path);
  std::lock_guard<std::mutex> lock(mu_);
  if (dirs_.count(p)) return absl::OkStatus();
  if (files_.count(p))
    return absl::AlreadyExistsError("mkdir " + p + ": a file exists");
  if (!ParentExistsLocked(p))
    return absl::NotFoundError("mkdir " + p + ": no parent");
  dirs_.insert(p);
  return absl::OkStatus();
}

absl::Status MemFileSystem::DeleteDir(std::string_view path) {
  std::string p(path);
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  if (!dirs_.count(p))
    return absl::NotFoundError("sync " + p + ": no such directory");
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
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(p);
  if (it == files_.end())
    return absl::NotFoundError("chmod " + p + ": no such file");
  it->second->mode = mode;
  return absl::OkStatus();
}

void MemFileSystem::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
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
    node->data = node->synced;
    files_[f] = node;
  }
  durable_files_ = files_;
}

std::vector<std::string> MemFileSystem::AllFiles() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [f, node] : files_) out.push_back(f);
  return out;
}

}  // namespace strata::testing
