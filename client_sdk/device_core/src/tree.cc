// File trees on the device core: an H5/HCF module published as a ustar
// archive (`strata publish --dir`) is unpacked into a directory the app
// serves files from. The archive is untrusted input even after its hash
// verified (the publisher's build could be hostile or broken), so it is
// checked as the full SDK checks it (diff/ustar_reader.cc): header
// checksums and number fields, entries inside the archive, relative paths
// without "." or ".." components, control characters or backslashes,
// symlinks that stay in the tree, no hard links, devices or FIFOs, no path
// twice and none below a file or a symlink. Everything is checked before
// the first file is written.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <vector>

#include "posix_files.h"
#include "strata/base/ustar_fields.h"
#include "strata/device/device_core.h"

namespace strata::device {
namespace {

using internal::Cat;

constexpr size_t kBlock = 512;
constexpr size_t kMaxEntries = 200000;  // as the full SDK

struct Entry {
  enum Type { kFile, kDirectory, kSymlink } type = kFile;
  std::string path;
  uint32_t mode = 0644;
  std::string_view data;  // files: their bytes in the archive
  std::string link;       // symlinks: the target
};

Error Bad(size_t index, uint64_t at, const std::string& what) {
  return {3, Cat({"archive entry ", std::to_string(index + 1),
                  " (header at byte ", std::to_string(at), "): ", what})};
}

// Why `path` is not a safe relative path ("" when it is).
std::string PathProblem(std::string_view path) {
  if (path.size() > 4096) return "is too long";
  if (path.front() == '/') return "is absolute";
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') {
      return "contains a control character or backslash";
    }
  }
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view comp = path.substr(start, end - start);
    if (comp.empty()) return "has an empty component";
    if (comp == "." || comp == "..") return "has a \".\" or \"..\" component";
    start = end + 1;
  }
  return "";
}

// Why the symlink `path` -> `target` is unsafe ("" when it stays inside).
std::string LinkProblem(std::string_view path, std::string_view target) {
  if (target.empty()) return "has an empty target";
  if (target.front() == '/') return "is absolute";
  for (char c : target) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\') {
      return "contains a control character or backslash";
    }
  }
  int64_t depth = std::count(path.begin(), path.end(), '/');
  for (size_t start = 0; start <= target.size();) {
    size_t end = target.find('/', start);
    if (end == std::string_view::npos) end = target.size();
    const std::string_view comp = target.substr(start, end - start);
    if (comp == "..") {
      if (--depth < 0) return "climbs above the tree";
    } else if (!comp.empty() && comp != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return "";
}

Error ReadEntries(std::string_view archive, std::vector<Entry>* out) {
  uint64_t at = 0;
  bool ended = false;
  while (at < archive.size()) {
    if (archive.size() - at < kBlock) {
      return {3, Cat({"the archive is cut short at byte ", std::to_string(at),
                      "; it is damaged or truncated"})};
    }
    const std::string_view h = archive.substr(at, kBlock);
    if (h.find_first_not_of('\0') == std::string_view::npos) {
      ended = true;  // end-of-archive blocks
      at += kBlock;
      continue;
    }
    const size_t i = out->size();
    if (ended) return Bad(i, at, "data after the end-of-archive block");
    if (h.substr(257, 5) != "ustar") return Bad(i, at, "not a ustar header");
    if (!ustar::ChecksumOk(h)) {
      return Bad(i, at, "the header checksum is wrong");
    }
    std::string path(ustar::Field(h, 0, 100));
    if (h[262] == '\0' && h[345] != '\0') {  // POSIX "ustar\0": a prefix
      path = Cat({ustar::Field(h, 345, 155), "/", path});
    }
    const std::optional<uint64_t> size = ustar::Octal(h.substr(124, 12));
    const std::optional<uint64_t> mode = ustar::Octal(h.substr(100, 8));
    // The data and its padding to a whole block lie inside the archive.
    if (!size.has_value() || !mode.has_value() ||
        *size > archive.size() - at - kBlock ||
        (*size + kBlock - 1) / kBlock * kBlock > archive.size() - at - kBlock) {
      return Bad(i, at,
                 Cat({"'", path.substr(0, 120),
                      "' has a malformed size or mode, or runs past "
                      "the archive"}));
    }
    Entry e;
    switch (h[156]) {
      case '0':
      case '\0':
        e.type = Entry::kFile;
        break;
      case '5':
        e.type = Entry::kDirectory;
        break;
      case '2':
        e.type = Entry::kSymlink;
        break;
      default:
        return Bad(i, at,
                   Cat({"'", path.substr(0, 120), "' has entry type '",
                        std::string(1, h[156]),
                        "'; archives may hold files, directories and "
                        "symlinks only"}));
    }
    while (path.rfind("./", 0) == 0) path.erase(0, 2);
    while (e.type == Entry::kDirectory && !path.empty() && path.back() == '/') {
      path.pop_back();
    }
    const uint64_t data_at = at + kBlock;
    at = data_at + (*size + kBlock - 1) / kBlock * kBlock;
    if (path.empty() || path == ".") {
      if (e.type == Entry::kDirectory) continue;  // the root
      return Bad(i, data_at - kBlock, "an entry has an empty path");
    }
    if (const std::string p = PathProblem(path); !p.empty()) {
      return Bad(i, data_at - kBlock, Cat({"'", path.substr(0, 120), "' ", p}));
    }
    e.mode = static_cast<uint32_t>(*mode & 0777);
    if (e.type == Entry::kFile) {
      e.data = archive.substr(data_at, *size);
    } else if (e.type == Entry::kSymlink) {
      e.link = std::string(ustar::Field(h, 157, 100));
      if (const std::string p = LinkProblem(path, e.link); !p.empty()) {
        return Bad(i, data_at - kBlock,
                   Cat({"symlink '", path, "' -> '", e.link, "' ", p}));
      }
    }
    if (out->size() >= kMaxEntries) {
      return {8, Cat({"the archive has more than ", std::to_string(kMaxEntries),
                      " entries"})};
    }
    e.path = std::move(path);
    out->push_back(std::move(e));
  }
  std::set<std::string_view> seen, leaves;
  for (const Entry& e : *out) {
    if (!seen.insert(e.path).second) {
      return {3, Cat({"the archive holds '", e.path, "' twice"})};
    }
    if (e.type != Entry::kDirectory) leaves.insert(e.path);
  }
  for (const Entry& e : *out) {
    for (size_t slash = e.path.find('/'); slash != std::string::npos;
         slash = e.path.find('/', slash + 1)) {
      const std::string_view parent = std::string_view(e.path).substr(0, slash);
      if (leaves.count(parent) != 0) {
        return {3, Cat({"the archive holds '", e.path, "' below '", parent,
                        "', which is a file or a symlink"})};
      }
    }
  }
  return {};
}

// Creates `rel`'s parent directories under `root` (recording each).
Error MakeParents(const std::string& root, const std::string& rel,
                  std::set<std::string>* dirs) {
  for (size_t slash = rel.find('/'); slash != std::string::npos;
       slash = rel.find('/', slash + 1)) {
    const std::string dir = Cat({root, "/", rel.substr(0, slash)});
    if (dirs->insert(dir).second) {
      Error e = internal::MakeDir(dir);
      if (!e.ok()) return e;
    }
  }
  return {};
}

// Whether `path` is a regular file holding exactly `data` with `mode`.
bool SameFile(const std::string& path, std::string_view data, unsigned mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      (st.st_mode & 0777) != mode ||
      static_cast<uint64_t>(st.st_size) != data.size()) {
    return false;
  }
  std::string bytes;
  Error ignored;
  return internal::ReadFile(path, &bytes, &ignored) && bytes == data;
}

}  // namespace

bool LooksLikeTreeArchive(std::string_view content) {
  return content.size() >= kBlock && content.substr(257, 5) == "ustar";
}

Error UnpackTree(std::string_view archive, const std::string& dir,
                 const std::string& previous, uint64_t* linked) {
  if (linked != nullptr) *linked = 0;
  std::vector<Entry> entries;
  Error e = ReadEntries(archive, &entries);
  if (!e.ok()) return e;
  e = internal::RemoveAll(dir);  // a leftover of a crash
  if (e.ok()) e = internal::MakeDir(dir);
  std::set<std::string> dirs = {dir};
  for (const Entry& entry : entries) {
    if (!e.ok()) break;
    const std::string path = Cat({dir, "/", entry.path});
    e = MakeParents(dir, entry.path, &dirs);
    if (!e.ok()) break;
    if (entry.type == Entry::kDirectory) {
      if (dirs.insert(path).second) e = internal::MakeDir(path);
    } else if (entry.type == Entry::kSymlink) {
      if (::symlink(entry.link.c_str(), path.c_str()) != 0) {
        e = internal::Errno("creating the symlink", path);
      }
    } else {
      // Unchanged since the previous version: shared, never written in
      // place (a new version is always a new directory).
      const unsigned mode = (entry.mode & 0755) | 0600;
      const std::string old = Cat({previous, "/", entry.path});
      if (!previous.empty() && SameFile(old, entry.data, mode) &&
          ::link(old.c_str(), path.c_str()) == 0) {
        if (linked != nullptr) ++*linked;
        continue;
      }
      e = internal::WriteNewFile(path, entry.data, mode);
    }
  }
  // Every directory synced, deepest first, then the tree's parent.
  for (auto it = dirs.rbegin(); e.ok() && it != dirs.rend(); ++it) {
    e = internal::SyncDir(*it);
  }
  if (e.ok()) e = internal::SyncDir(dir.substr(0, dir.rfind('/')));
  if (!e.ok()) (void)internal::RemoveAll(dir);
  return e;
}

}  // namespace strata::device
