// Tree paths, scanning and manifest helpers.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "src/streams.h"
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

// What one lstat says of a path: on the real POSIX file system one call
// tells symlinks, directories and files apart (the Env interface has no
// lstat, so elsewhere there are no symlinks and fs.Stat follows).
struct Kind {
  bool symlink = false;
  std::string link_target;
  FileInfo info;
};

absl::StatusOr<Kind> KindOf(FileSystem& fs, const std::string& path) {
  Kind k;
  if (&fs != PosixFileSystem()) {
    STRATA_ASSIGN_OR_RETURN(k.info, fs.Stat(path));
    return k;
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    // Gone or unreadable: fs.Stat gives the usual error.
    STRATA_ASSIGN_OR_RETURN(k.info, fs.Stat(path));
    return k;
  }
  if (S_ISLNK(st.st_mode)) {
    std::string buf(4096, '\0');
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n >= 0) {
      buf.resize(static_cast<size_t>(n));
      k.symlink = true;
      k.link_target = std::move(buf);
      return k;
    }
    STRATA_ASSIGN_OR_RETURN(k.info, fs.Stat(path));
    return k;
  }
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
    // A FIFO would block the read below; a device has no place in a package.
    return absl::InvalidArgumentError(strata::StrCat(
        path,
        " is not a regular file, directory or symlink: remove it from "
        "the tree"));
  }
  k.info.is_directory = S_ISDIR(st.st_mode);
  k.info.size = static_cast<uint64_t>(st.st_size);
  k.info.mode = st.st_mode & 07777;
  return k;
}

// The file's SHA-256 and size. The file is read up to the size it had when
// opened (one read call fewer per file than reading to the end: a tree is
// mostly small files, and the calls were most of a scan's time).
absl::StatusOr<Sha256Digest> HashFileAt(FileSystem& fs, const std::string& path,
                                        uint64_t* size) {
  STRATA_ASSIGN_OR_RETURN(auto file, fs.NewRandomAccessFile(path));
  const uint64_t expected = file->Size();
  Sha256 h;
  // No bigger than the file: a tree is mostly small files.
  std::string buf(
      static_cast<size_t>(std::clamp<uint64_t>(expected, 1, 256 << 10)), '\0');
  uint64_t off = 0;
  while (off < expected) {
    STRATA_ASSIGN_OR_RETURN(size_t n, file->Read(off, buf.size(), buf.data()));
    if (n == 0) break;
    h.Update(std::string_view(buf.data(), n));
    off += n;
  }
  *size = off;
  return h.Finish();
}

// Lists the tree: symlinks complete, files with their path, mode and size
// (hashed later, in manifest order).
absl::Status Walk(FileSystem& fs, const std::string& root,
                  const std::string& rel, TreeManifest* out) {
  std::string dir = rel.empty() ? root : JoinPath(root, rel);
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(dir));
  for (const std::string& name : names) {
    std::string child_rel = rel.empty() ? name : strata::StrCat(rel, "/", name);
    STRATA_RETURN_IF_ERROR(ValidateTreePath(child_rel));
    std::string full = JoinPath(root, child_rel);
    STRATA_ASSIGN_OR_RETURN(Kind kind, KindOf(fs, full));
    if (kind.symlink) {
      STRATA_RETURN_IF_ERROR(ValidateLinkTarget(child_rel, kind.link_target));
      TreeEntry e;
      e.path = child_rel;
      e.type = EntryType::kSymlink;
      e.mode = 0777;
      e.size = kind.link_target.size();
      e.sha256 = Sha256::Hash(kind.link_target);
      e.link_target = std::move(kind.link_target);
      out->push_back(std::move(e));
      continue;
    }
    if (kind.info.is_directory) {
      STRATA_RETURN_IF_ERROR(Walk(fs, root, child_rel, out));
      continue;
    }
    TreeEntry e;
    e.path = child_rel;
    e.mode = kind.info.mode & 0777;
    e.size = kind.info.size;
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
  return ScanTree(fs, root, nullptr);
}

absl::StatusOr<TreeManifest> ScanTree(FileSystem& fs, std::string_view root,
                                      std::string* files) {
  STRATA_ASSIGN_OR_RETURN(FileInfo info, fs.Stat(root));
  if (!info.is_directory) {
    return absl::InvalidArgumentError(
        strata::StrCat(root, " is not a directory"));
  }
  TreeManifest out;
  const std::string base(root);
  STRATA_RETURN_IF_ERROR(Walk(fs, base, "", &out));
  std::sort(out.begin(), out.end(), [](const TreeEntry& a, const TreeEntry& b) {
    return a.path < b.path;
  });
  if (files == nullptr) {
    for (TreeEntry& e : out) {
      if (e.type != EntryType::kFile) continue;
      STRATA_ASSIGN_OR_RETURN(e.sha256,
                              HashFileAt(fs, JoinPath(base, e.path), &e.size));
    }
    return out;
  }
  // Every file read once, in manifest order, straight into its place.
  uint64_t total = 0;
  for (const TreeEntry& e : out) {
    if (e.type == EntryType::kFile) total += e.size;
  }
  files->clear();
  try {
    // 2 MiB pages before the buffer is first touched (by the zero fill).
    files->reserve(static_cast<size_t>(total));
    internal::AdviseLargePages(files->data(), files->capacity());
    files->resize(static_cast<size_t>(total));
  } catch (const std::exception&) {  // bad_alloc, length_error
    return absl::ResourceExhaustedError(strata::StrCat(
        "the files of ", root, " (", total, " bytes) do not fit in memory"));
  }
  uint64_t at = 0;
  for (TreeEntry& e : out) {
    if (e.type != EntryType::kFile) continue;
    const std::string path = JoinPath(base, e.path);
    STRATA_ASSIGN_OR_RETURN(auto file, fs.NewRandomAccessFile(path));
    uint64_t got = 0;
    while (got < e.size) {
      STRATA_ASSIGN_OR_RETURN(
          size_t n, file->Read(got, static_cast<size_t>(e.size - got),
                               files->data() + static_cast<size_t>(at + got)));
      if (n == 0) break;
      got += n;
    }
    if (got != e.size || file->Size() != e.size) {
      return absl::AbortedError(strata::StrCat(
          e.path, " changed while the tree was read: read it again"));
    }
    e.sha256 = Sha256::Hash(std::string_view(*files).substr(
        static_cast<size_t>(at), static_cast<size_t>(e.size)));
    at += e.size;
  }
  return out;
}

}  // namespace strata::diff
