#include "strata/base/file_util.h"

#include <sys/stat.h>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata {

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  if (a.back() == '/') return strata::StrCat(a, b);
  return strata::StrCat(a, "/", b);
}

std::string Dirname(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string Basename(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::string(path);
  return std::string(path.substr(slash + 1));
}

absl::Status WriteFileAtomically(FileSystem& fs, std::string_view path,
                                 std::string_view data) {
  const std::string tmp = strata::StrCat(path, ".tmp");
  absl::Status status = [&]() -> absl::Status {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                            fs.NewWritableFile(tmp));
    absl::Status s = file->Append(data);
    if (s.ok()) s = file->Sync();
    absl::Status closed = file->Close();
    STRATA_RETURN_IF_ERROR(s);
    STRATA_RETURN_IF_ERROR(closed);
    return fs.Rename(tmp, path);
  }();
  if (!status.ok()) {
    // Best effort: the temp file is garbage either way and a later write
    // truncates it.
    (void)fs.DeleteFile(tmp);
    return Annotate(status, strata::StrCat("writing ", path, " atomically"));
  }
  return Annotate(fs.SyncDir(Dirname(path)),
                  strata::StrCat("making ", path, " durable"));
}

absl::Status CreateDirs(FileSystem& fs, std::string_view path) {
  if (path.empty() || path == "." || path == "/") return absl::OkStatus();
  absl::StatusOr<FileInfo> info = fs.Stat(path);
  if (info.ok()) {
    if (info->is_directory) return absl::OkStatus();
    return absl::FailedPreconditionError(
        strata::StrCat(path, " exists and is not a directory"));
  }
  const std::string parent = Dirname(path);
  STRATA_RETURN_IF_ERROR(CreateDirs(fs, parent));
  STRATA_RETURN_IF_ERROR(fs.CreateDir(path));
  return fs.SyncDir(parent);
}

namespace {

bool IsLinkOnDisk(std::string_view path) {
  struct stat st;
  return ::lstat(std::string(path).c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

}  // namespace

absl::Status DeleteRecursively(FileSystem& fs, std::string_view path) {
  if (IsLinkOnDisk(path)) return fs.DeleteFile(path);  // dangling ones too
  absl::StatusOr<FileInfo> info = fs.Stat(path);
  if (!info.ok()) {
    if (absl::IsNotFound(info.status())) return absl::OkStatus();
    return info.status();
  }
  // A link is removed, never followed: a link to /etc inside a temporary
  // tree must not take /etc with it. FileSystem::Stat follows links, so
  // the real disk is asked directly (a path of an in-memory file system
  // is not a link there).
  if (!info->is_directory || IsLinkOnDisk(path)) return fs.DeleteFile(path);
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(path));
  for (const std::string& name : names) {
    STRATA_RETURN_IF_ERROR(DeleteRecursively(fs, JoinPath(path, name)));
  }
  return fs.DeleteDir(path);
}

}  // namespace strata
