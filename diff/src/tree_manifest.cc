// Tree paths, scanning and manifest helpers.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/tree_delta.h"

namespace strata::diff {
namespace {

absl::Status BadPath(std::string_view path, std::string_view why) {
  return absl::InvalidArgumentError(
      strata::StrCat("invalid tree path \"", path, "\": ", why));
}

// Symlinks are only visible through the real POSIX file system; the Env
// interface has no lstat.
bool ReadSymlink(FileSystem& fs, const std::string& path, std::string* target) {
  if (&fs != PosixFileSystem()) return false;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return false;
  std::string buf(4096, '\0');
  ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0) return false;
  buf.resize(static_cast<size_t>(n));
  *target = buf;
  return true;
}

absl::StatusOr<Sha256Digest> HashFileAt(FileSystem& fs, const std::string& path,
                                        uint64_t* size) {
  STRATA_ASSIGN_OR_RETURN(auto file, fs.NewRandomAccessFile(path));
  Sha256 h;
  // No bigger than the file: a tree is mostly small files.
  std::string buf(
      static_cast<size_t>(std::clamp<uint64_t>(file->Size(), 1, 256 << 10)),
      '\0');
  uint64_t off = 0;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(size_t n, file->Read(off, buf.size(), buf.data()));
    if (n == 0) break;
    h.Update(std::string_view(buf.data(), n));
    off += n;
  }
  *size = off;
  return h.Finish();
}

absl::Status Walk(FileSystem& fs, const std::string& root,
                  const std::string& rel, TreeManifest* out) {
  std::string dir = rel.empty() ? root : JoinPath(root, rel);
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(dir));
  for (const std::string& name : names) {
    std::string child_rel = rel.empty() ? name : strata::StrCat(rel, "/", name);
    STRATA_RETURN_IF_ERROR(ValidateTreePath(child_rel));
    std::string full = JoinPath(root, child_rel);
    std::string target;
    if (ReadSymlink(fs, full, &target)) {
      STRATA_RETURN_IF_ERROR(ValidateLinkTarget(child_rel, target));
      TreeEntry e;
      e.path = child_rel;
      e.type = EntryType::kSymlink;
      e.mode = 0777;
      e.size = target.size();
      e.sha256 = Sha256::Hash(target);
      e.link_target = target;
      out->push_back(std::move(e));
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(FileInfo info, fs.Stat(full));
    if (info.is_directory) {
      STRATA_RETURN_IF_ERROR(Walk(fs, root, child_rel, out));
      continue;
    }
    TreeEntry e;
    e.path = child_rel;
    e.mode = info.mode & 0777;
    STRATA_ASSIGN_OR_RETURN(e.sha256, HashFileAt(fs, full, &e.size));
    out->push_back(std::move(e));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTreePath(std::string_view path) {
  if (path.empty()) return BadPath(path, "empty");
  if (path.size() > 4096) return BadPath(path.substr(0, 64), "too long");
  if (path.front() == '/')
    return BadPath(path, "absolute paths are not allowed");
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') {
      return BadPath(path, "contains a control character or backslash");
    }
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(start, end - start);
    if (comp.empty()) return BadPath(path, "empty component");
    if (comp == "." || comp == "..") {
      return BadPath(path, "\".\" and \"..\" components are not allowed");
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

absl::Status ValidateLinkTarget(std::string_view link_path,
                                std::string_view target) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(strata::StrCat(
        "symlink \"", link_path, "\" -> \"", target, "\" ", why));
  };
  if (target.empty()) return bad("has an empty target");
  if (target.front() == '/')
    return bad("is absolute; it would escape the tree");
  for (char c : target) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\') {
      return bad("contains a control character or backslash");
    }
  }
  // Depth of the link's directory, then walk the target's components.
  int64_t depth = std::count(link_path.begin(), link_path.end(), '/');
  size_t start = 0;
  while (start <= target.size()) {
    size_t end = target.find('/', start);
    if (end == std::string_view::npos) end = target.size();
    std::string_view comp = target.substr(start, end - start);
    if (comp == "..") {
      if (--depth < 0) return bad("climbs above the tree root");
    } else if (!comp.empty() && comp != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<TreeManifest> ScanTree(FileSystem& fs, std::string_view root) {
  STRATA_ASSIGN_OR_RETURN(FileInfo info, fs.Stat(root));
  if (!info.is_directory) {
    return absl::InvalidArgumentError(
        strata::StrCat(root, " is not a directory"));
  }
  TreeManifest out;
  STRATA_RETURN_IF_ERROR(Walk(fs, std::string(root), "", &out));
  std::sort(out.begin(), out.end(), [](const TreeEntry& a, const TreeEntry& b) {
    return a.path < b.path;
  });
  return out;
}

}  // namespace strata::diff
