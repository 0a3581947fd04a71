#include "module_store.h"

#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "tree_store.h"

namespace strata::client {
namespace {

constexpr char kState[] = "state";
constexpr char kBlobSuffix[] = ".blob";
constexpr char kPartSuffix[] = ".part";
constexpr std::string_view kLayerDirs[] = {"unspecified", "config",   "h5",
                                           "hcf",         "hotpatch", "native"};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

absl::StatusOr<std::string> HashFile(FileSystem& fs, std::string_view path) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> f,
                          fs.NewRandomAccessFile(path));
  Sha256 hasher;
  const size_t cap = ReadBufferSize(f->Size());
  std::unique_ptr<char[]> buf = std::make_unique_for_overwrite<char[]>(cap);
  for (uint64_t off = 0; off < f->Size();) {
    STRATA_ASSIGN_OR_RETURN(size_t n, f->Read(off, cap, buf.get()));
    if (n == 0) break;
    hasher.Update(std::string_view(buf.get(), n));
    off += n;
  }
  return ToHex(hasher.Finish());
}

std::string_view LayerDirName(int layer) {
  return layer >= 0 && layer < 6 ? kLayerDirs[layer] : kLayerDirs[0];
}

absl::StatusOr<ModuleStore> ModuleStore::Open(FileSystem* fs, std::string root,
                                              std::string embedded_dir) {
  ModuleStore store(fs, std::move(root), std::move(embedded_dir));
  for (const char* sub :
       {"blobs", "staging", "reports", "user_data", "trees"}) {
    STRATA_RETURN_IF_ERROR(CreateDirs(*fs, JoinPath(store.root_, sub)));
  }
  absl::StatusOr<std::string> text =
      fs->ReadFile(JoinPath(store.root_, kState));
  if (text.ok()) {
    STRATA_ASSIGN_OR_RETURN(store.state_, ClientState::Parse(*text));
  } else if (!absl::IsNotFound(text.status())) {
    return text.status();
  }
  // Leftovers: a temp state file, temp or unreferenced blobs, and anything
  // in staging/ that is not a resumable partial download.
  if (fs->Exists(JoinPath(store.root_, "state.tmp"))) {
    STRATA_RETURN_IF_ERROR(fs->DeleteFile(JoinPath(store.root_, "state.tmp")));
    STRATA_RETURN_IF_ERROR(fs->SyncDir(store.root_));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> staged,
                          fs->ListDir(store.StagingDir()));
  bool removed = false;
  for (const std::string& f : staged) {
    if (EndsWith(f, kPartSuffix)) continue;
    STRATA_RETURN_IF_ERROR(
        DeleteRecursively(*fs, JoinPath(store.StagingDir(), f)));
    removed = true;
  }
  if (removed) STRATA_RETURN_IF_ERROR(fs->SyncDir(store.StagingDir()));
  STRATA_RETURN_IF_ERROR(store.RemoveUnreferencedBlobs());
  return store;
}

absl::Status ModuleStore::RemoveUnreferencedBlobs() {
  const std::set<std::string> keep = state_.ReferencedBlobs();
  const std::string dir = JoinPath(root_, "blobs");
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> files, fs_->ListDir(dir));
  bool removed = false;
  for (const std::string& f : files) {
    if (EndsWith(f, kBlobSuffix) &&
        keep.count(f.substr(0, f.size() - sizeof(kBlobSuffix) + 1)) > 0) {
      continue;
    }
    STRATA_RETURN_IF_ERROR(fs_->DeleteFile(JoinPath(dir, f)));
    removed = true;
  }
  if (removed) STRATA_RETURN_IF_ERROR(fs_->SyncDir(dir));
  // Unpacked trees of blobs that went, and of embedded content not asked
  // for in this process, go too (unpacked again when asked for).
  std::set<std::string> trees = keep;
  for (const auto& [key, e] : embedded_cache_) {
    if (e.has_value()) trees.insert(e->sha256);
  }
  return TreeStore(fs_, TreesDir()).Collect(trees);
}

absl::Status ModuleStore::Commit(ClientState next) {
  if (next == state_) return absl::OkStatus();
  // The switch: after this rename the new state is the one in force.
  const std::string path = JoinPath(root_, kState);
  const std::string text = next.Serialize();
  absl::Status s = WriteFileAtomically(*fs_, path, text);
  if (absl::IsResourceExhausted(s) && EmptyStaging().value_or(false)) {
    s = WriteFileAtomically(*fs_, path, text);
  }
  if (!s.ok() && fs_->ReadFile(path).value_or("") == text) {
    // Renamed into place, the directory sync failed: the new state is the
    // visible one, so it is the one in force once the sync succeeds.
    s = fs_->SyncDir(root_);
  }
  STRATA_RETURN_IF_ERROR(s);
  state_ = std::move(next);
  // Garbage either way; Open() collects it if this fails.
  (void)RemoveUnreferencedBlobs();
  return absl::OkStatus();
}

absl::StatusOr<bool> ModuleStore::EmptyStaging() {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> staged,
                          fs_->ListDir(StagingDir()));
  for (const std::string& f : staged) {
    STRATA_RETURN_IF_ERROR(DeleteRecursively(*fs_, JoinPath(StagingDir(), f)));
  }
  return !staged.empty();
}

absl::Status ModuleStore::CollectGarbage(
    const std::set<std::string>& keep_partials) {
  STRATA_RETURN_IF_ERROR(RemoveUnreferencedBlobs());
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> staged,
                          fs_->ListDir(StagingDir()));
  bool removed = false;
  for (const std::string& f : staged) {
    if (EndsWith(f, kPartSuffix) &&
        keep_partials.count(f.substr(0, f.size() - sizeof(kPartSuffix) + 1))) {
      continue;
    }
    STRATA_RETURN_IF_ERROR(DeleteRecursively(*fs_, JoinPath(StagingDir(), f)));
    removed = true;
  }
  if (removed) STRATA_RETURN_IF_ERROR(fs_->SyncDir(StagingDir()));
  return absl::OkStatus();
}

std::string ModuleStore::TreesDir() const { return JoinPath(root_, "trees"); }

std::string ModuleStore::BlobPath(std::string_view sha256) const {
  return JoinPath(JoinPath(root_, "blobs"), StrCat(sha256, kBlobSuffix));
}
std::string ModuleStore::PartialPath(std::string_view sha256) const {
  return JoinPath(StagingDir(), StrCat(sha256, kPartSuffix));
}
std::string ModuleStore::StagingDir() const {
  return JoinPath(root_, "staging");
}
std::string ModuleStore::UserDataDir() const {
  return JoinPath(root_, "user_data");
}
std::string ModuleStore::ReportsDir() const {
  return JoinPath(root_, "reports");
}
bool ModuleStore::HasBlob(std::string_view sha256) {
  return fs_->Exists(BlobPath(sha256));
}

absl::Status ModuleStore::PutBlob(std::string_view sha256,
                                  std::string_view content) {
  const std::string actual = Sha256::HexHash(content);
  if (actual != sha256) {
    return absl::DataLossError(StrCat("content hashes to ", actual,
                                      ", expected ", sha256,
                                      "; it was not installed"));
  }
  return WriteFileAtomically(*fs_, BlobPath(sha256), content);
}

absl::Status ModuleStore::AdoptBlob(std::string_view from_path,
                                    std::string_view sha256) {
  STRATA_RETURN_IF_ERROR(fs_->Rename(from_path, BlobPath(sha256)));
  STRATA_RETURN_IF_ERROR(fs_->SyncDir(JoinPath(root_, "blobs")));
  return fs_->SyncDir(Dirname(from_path));
}

absl::StatusOr<std::string> ModuleStore::ReadBlob(
    std::string_view sha256) const {
  STRATA_ASSIGN_OR_RETURN(std::string content, fs_->ReadFile(BlobPath(sha256)));
  if (Sha256::HexHash(content) != sha256) {
    return absl::DataLossError(StrCat("installed blob ", sha256,
                                      " is damaged; it will be downloaded "
                                      "again at the next check"));
  }
  return content;
}

absl::Status ModuleStore::VerifyBlob(std::string_view sha256) const {
  STRATA_ASSIGN_OR_RETURN(std::string actual, HashFile(*fs_, BlobPath(sha256)));
  if (actual != sha256) {
    return absl::DataLossError(StrCat("installed blob ", sha256,
                                      " is damaged; it will be downloaded "
                                      "again at the next check"));
  }
  return absl::OkStatus();
}

std::optional<ModuleStore::Embedded> ModuleStore::FindEmbedded(
    int layer, std::string_view name) {
  if (embedded_dir_.empty()) return std::nullopt;
  ModuleKey key{layer, std::string(name)};
  auto it = embedded_cache_.find(key);
  if (it != embedded_cache_.end()) return it->second;
  std::optional<Embedded> found;
  const std::string path =
      JoinPath(JoinPath(embedded_dir_, LayerDirName(layer)), name);
  absl::StatusOr<std::string> sha = HashFile(*fs_, path);
  if (sha.ok()) found = Embedded{path, *sha};
  embedded_cache_[key] = found;
  return found;
}

std::vector<ModuleKey> ModuleStore::ListEmbedded() {
  std::vector<ModuleKey> out;
  if (embedded_dir_.empty()) return out;
  for (int layer = 1; layer <= 5; ++layer) {
    absl::StatusOr<std::vector<std::string>> names =
        fs_->ListDir(JoinPath(embedded_dir_, LayerDirName(layer)));
    if (!names.ok()) continue;
    for (const std::string& n : *names) out.push_back({layer, n});
  }
  return out;
}

absl::StatusOr<uint64_t> ModuleStore::DiskUsage() const {
  uint64_t total = 0;
  for (const std::string& dir : {JoinPath(root_, "blobs"), StagingDir()}) {
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> files, fs_->ListDir(dir));
    for (const std::string& f : files) {
      absl::StatusOr<FileInfo> info = fs_->Stat(JoinPath(dir, f));
      if (info.ok() && !info->is_directory) total += info->size;
    }
  }
  return total;
}

}  // namespace strata::client
