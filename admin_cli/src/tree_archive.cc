#include "strata/admin_cli/tree_archive.h"

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/tree_delta.h"
#include "strata/diff/ustar_writer.h"

namespace strata::admin {
namespace {

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// Whether the pattern components from `p` match the path components from
// `n`; "**" matches any number of components.
bool MatchParts(const std::vector<std::string>& pat, size_t p,
                const std::vector<std::string>& name, size_t n) {
  for (; p < pat.size(); ++p, ++n) {
    if (pat[p] == "**") {
      // A trailing "**" matches what is inside, not the directory itself.
      const size_t least = p + 1 == pat.size() ? n + 1 : n;
      for (size_t k = least; k <= name.size(); ++k) {
        if (MatchParts(pat, p + 1, name, k)) return true;
      }
      return false;
    }
    if (n >= name.size() ||
        ::fnmatch(pat[p].c_str(), name[n].c_str(), 0) != 0) {
      return false;
    }
  }
  return n == name.size();
}

enum class Kind { kFile, kDirectory, kSymlink, kOther };

struct Found {
  Kind kind = Kind::kFile;
  uint64_t size = 0;
  bool executable = false;
  std::string link_target;
};

// Without following symlinks on the real file system; the Env interface
// (in-memory file systems in tests) has no lstat and no symlinks.
absl::StatusOr<Found> Look(FileSystem& fs, const std::string& path) {
  Found f;
  if (&fs == PosixFileSystem()) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      return absl::NotFoundError(
          StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    if (S_ISLNK(st.st_mode)) {
      f.kind = Kind::kSymlink;
      std::string buf(4096, '\0');
      ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
      if (n < 0) {
        return absl::NotFoundError(
            StrCat("cannot read symlink ", path, ": ", std::strerror(errno)));
      }
      buf.resize(static_cast<size_t>(n));
      f.link_target = std::move(buf);
    } else if (S_ISDIR(st.st_mode)) {
      f.kind = Kind::kDirectory;
    } else if (S_ISREG(st.st_mode)) {
      f.size = static_cast<uint64_t>(st.st_size);
      f.executable = (st.st_mode & 0111) != 0;
    } else {
      f.kind = Kind::kOther;
    }
    return f;
  }
  STRATA_ASSIGN_OR_RETURN(FileInfo info, fs.Stat(path));
  f.kind = info.is_directory ? Kind::kDirectory : Kind::kFile;
  f.size = info.size;
  f.executable = (info.mode & 0111) != 0;
  return f;
}

struct Walker {
  FileSystem& fs;
  const std::string& root;
  const IgnoreRules& rules;
  PackedTree& out;

  absl::Status Walk(const std::string& rel) {
    const std::string dir = rel.empty() ? root : JoinPath(root, rel);
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(dir));
    for (const std::string& name : names) {
      const std::string child = rel.empty() ? name : StrCat(rel, "/", name);
      STRATA_ASSIGN_OR_RETURN(Found f, Look(fs, JoinPath(root, child)));
      const bool is_dir = f.kind == Kind::kDirectory;
      if (rules.Ignored(child, is_dir)) {
        out.skipped.push_back(is_dir ? child + "/" : child);
        continue;
      }
      if (absl::Status s = diff::ValidateTreePath(child); !s.ok()) {
        return absl::InvalidArgumentError(
            StrCat("cannot pack '", child, "': ", ToStd(s.message()),
                   "; rename it or list it in .strataignore"));
      }
      switch (f.kind) {
        case Kind::kDirectory:
          STRATA_RETURN_IF_ERROR(Walk(child));
          break;
        case Kind::kSymlink: {
          if (absl::Status s = diff::ValidateLinkTarget(child, f.link_target);
              !s.ok()) {
            return absl::InvalidArgumentError(StrCat(
                "symlink '", child, "' -> '", f.link_target,
                "' leaves the tree: ", ToStd(s.message()),
                ". Only symlinks that point inside the tree are packed (as "
                "symlinks); copy the file in, or list the link in "
                ".strataignore"));
          }
          PackedEntry e;
          e.path = child;
          e.link_target = f.link_target;
          out.entries.push_back(std::move(e));
          break;
        }
        case Kind::kFile: {
          PackedEntry e;
          e.path = child;
          e.size = f.size;
          e.executable = f.executable;
          out.entries.push_back(std::move(e));
          break;
        }
        case Kind::kOther:
          return absl::InvalidArgumentError(
              StrCat("cannot pack '", child,
                     "': it is not a regular file, directory or symlink "
                     "(a FIFO, socket or device); list it in .strataignore"));
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

IgnoreRules::IgnoreRules() {
  for (const char* builtin : {".*", "CVS", "_darcs", "Thumbs.db"}) {
    rules_.push_back(*ParseRule(builtin));
  }
}

absl::StatusOr<IgnoreRules::Rule> IgnoreRules::ParseRule(
    std::string_view line) {
  Rule r;
  if (!line.empty() && line.front() == '!') {
    r.negate = true;
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    r.directory_only = true;
    line.remove_suffix(1);
  }
  if (!line.empty() && line.front() == '/') {
    r.anchored = true;
    line.remove_prefix(1);
  }
  if (line.empty()) {
    return absl::InvalidArgumentError("the pattern is empty");
  }
  if (line.find('/') != std::string_view::npos) r.anchored = true;
  r.parts = Split(line);
  for (const std::string& part : r.parts) {
    if (part.empty()) {
      return absl::InvalidArgumentError("the pattern has an empty component");
    }
  }
  return r;
}

absl::StatusOr<IgnoreRules> IgnoreRules::Parse(std::string_view text,
                                               std::string_view file_name) {
  IgnoreRules rules;
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    // Trailing blanks (and a CR) go, unless escaped.
    while (!line.empty() &&
           (line.back() == ' ' || line.back() == '\t' || line.back() == '\r') &&
           !(line.size() >= 2 && line[line.size() - 2] == '\\')) {
      line.remove_suffix(1);
    }
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<Rule> rule = ParseRule(line);
    if (!rule.ok()) {
      return absl::InvalidArgumentError(
          StrCat(file_name, ":", number, ": '", line,
                 "': ", ToStd(rule.status().message())));
    }
    rules.rules_.push_back(*std::move(rule));
  }
  return rules;
}

bool IgnoreRules::Ignored(std::string_view path, bool is_directory) const {
  const std::vector<std::string> parts = Split(path);
  const std::vector<std::string> name = {parts.back()};
  bool ignored = false;
  for (const Rule& r : rules_) {
    if (r.directory_only && !is_directory) continue;
    const bool match = r.anchored ? MatchParts(r.parts, 0, parts, 0)
                                  : MatchParts(r.parts, 0, name, 0);
    if (match) ignored = !r.negate;
  }
  return ignored;
}

absl::StatusOr<PackedTree> PackTree(FileSystem& fs, std::string_view root_view,
                                    const PackOptions& options) {
  const std::string root(root_view);
  STRATA_ASSIGN_OR_RETURN(FileInfo top, fs.Stat(root));
  if (!top.is_directory) {
    return absl::InvalidArgumentError(StrCat(root, " is not a directory"));
  }
  IgnoreRules rules;
  const std::string ignore_path = JoinPath(root, options.ignore_file);
  if (!options.ignore_file.empty() && fs.Exists(ignore_path)) {
    STRATA_ASSIGN_OR_RETURN(std::string text, fs.ReadFile(ignore_path));
    STRATA_ASSIGN_OR_RETURN(rules, IgnoreRules::Parse(text, ignore_path));
  }
  PackedTree out;
  Walker walker{fs, root, rules, out};
  STRATA_RETURN_IF_ERROR(walker.Walk(""));
  std::sort(out.entries.begin(), out.entries.end(),
            [](const PackedEntry& a, const PackedEntry& b) {
              return a.path < b.path;
            });
  std::sort(out.skipped.begin(), out.skipped.end());
  if (out.entries.empty()) {
    return absl::InvalidArgumentError(StrCat(
        root, " holds no files to publish",
        out.skipped.empty()
            ? std::string()
            : StrCat(" (", out.skipped.size(),
                     " skipped as dot files, VCS files or by .strataignore)")));
  }
  // The archive's size from the files' sizes, before reading any of them.
  uint64_t total = 2 * diff::kUstarBlock;
  for (const PackedEntry& e : out.entries)
    total += diff::kUstarBlock + diff::UstarPadded(e.size);
  if (total > options.max_bytes) {
    return absl::ResourceExhaustedError(StrCat(
        root, " packs to ", total, " bytes (", out.entries.size(),
        " entries); a publish is at most ", options.max_bytes,
        " bytes (512 MiB). List what devices do not need in .strataignore"));
  }
  out.archive.reserve(total);
  for (PackedEntry& e : out.entries) {
    std::string data;
    if (e.link_target.empty()) {
      STRATA_ASSIGN_OR_RETURN(data, fs.ReadFile(JoinPath(root, e.path)));
      e.size = data.size();
    }
    STRATA_ASSIGN_OR_RETURN(
        std::string header,
        diff::CanonicalUstarHeader(e.path, data.size(), e.executable,
                                   e.link_target));
    out.archive.append(header);
    out.archive.append(data);
    out.archive.append(diff::UstarPadded(data.size()) - data.size(), '\0');
    if (out.archive.size() > options.max_bytes) {
      return absl::ResourceExhaustedError(
          StrCat(root, " grew past ", options.max_bytes,
                 " bytes while it was packed; a publish is at most 512 MiB"));
    }
  }
  out.archive.append(2 * diff::kUstarBlock, '\0');
  return out;
}

absl::StatusOr<std::string> ArchiveTree(FileSystem& fs, std::string_view root) {
  STRATA_ASSIGN_OR_RETURN(PackedTree tree, PackTree(fs, root));
  return std::move(tree.archive);
}

}  // namespace strata::admin
