// Deterministic ustar archives of a directory tree: how H5 packages, HCF
// modules and native bundles are published. Same tree, same bytes: paths
// sorted, mtime 0, owner 0, modes 0644 or 0755 (executable bit kept).
// The server cuts its content-addressed chunks at entry boundaries, so an
// unchanged file is stored once across versions.
//
// What is packed (docs/cli.md, "publish --dir"):
// - Skipped: every name starting with '.' (dot files and directories:
//   .git, .svn, .hg, .DS_Store, .env, .strataignore itself, ...) and the
//   names CVS, _darcs and Thumbs.db, at any depth; and what the ignore file
//   `.strataignore` at the root of the tree lists.
// - The ignore file: one glob per line; blank lines and lines starting
//   with '#' are skipped. `*` matches within a path component, `?` one
//   character, `[abc]`/`[a-z]`/`[!a]` a set, `**` any number of
//   components ("docs/**", "**/tmp"). A pattern without '/' (other than a
//   trailing one) matches a name at any depth; with one, the path from the
//   root ("/build" or "src/gen/*"). A trailing '/' matches directories
//   only. `!pattern` includes again what an earlier line (or the built-in
//   rules) skipped, e.g. "!.well-known/". The last matching line wins; a
//   skipped directory is not entered, so nothing below it can be included
//   again. `\` escapes the next character ("\#notes", "\!important").
// - Symlinks are packed as symlinks (never followed) when they point
//   inside the tree (relative, not climbing above the root); a symlink that
//   leaves the tree (absolute, or climbing out) is refused, naming it.
// - Anything else that is not a regular file or a directory (FIFOs,
//   sockets, devices) is refused, naming it.
#ifndef STRATA_ADMIN_CLI_TREE_ARCHIVE_H_
#define STRATA_ADMIN_CLI_TREE_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/env.h"

namespace strata::admin {

// The server's limit on one artifact (AdminLimits::max_artifact_bytes).
inline constexpr uint64_t kMaxPublishBytes = uint64_t{512} << 20;

// The gitignore-like rules above (built-in ones first).
class IgnoreRules {
 public:
  // The built-in rules only.
  IgnoreRules();
  // The built-in rules, then the lines of an ignore file. kInvalidArgument
  // naming the line for a malformed pattern (an unclosed '[').
  static absl::StatusOr<IgnoreRules> Parse(std::string_view text,
                                           std::string_view file_name);
  // Whether `path` (relative, '/'-separated) is skipped.
  bool Ignored(std::string_view path, bool is_directory) const;

 private:
  struct Rule {
    std::vector<std::string> parts;  // split on '/'; "**" is its own part
    bool negate = false;
    bool directory_only = false;
    bool anchored = false;
  };
  static absl::StatusOr<Rule> ParseRule(std::string_view line);
  std::vector<Rule> rules_;
};

struct PackedEntry {
  std::string path;
  uint64_t size = 0;        // files
  std::string link_target;  // symlinks ("" for files)
  bool executable = false;
};

struct PackedTree {
  std::string archive;
  std::vector<PackedEntry> entries;  // sorted by path
  // What was left out, sorted; directories end with '/'.
  std::vector<std::string> skipped;
};

struct PackOptions {
  // Refused (kResourceExhausted) when the archive would be larger, from the
  // files' sizes, before any file is read.
  uint64_t max_bytes = kMaxPublishBytes;
  // Read from the root of the tree when present.
  std::string ignore_file = ".strataignore";
};

// Packs the tree at `root` by the rules above. kInvalidArgument for a
// symlink leaving the tree, a special file, a bad ignore file, a path too
// long for ustar (255 bytes), a link target above 100 bytes, or a tree with
// nothing to pack; kResourceExhausted above `max_bytes`.
absl::StatusOr<PackedTree> PackTree(FileSystem& fs, std::string_view root,
                                    const PackOptions& options = {});

// PackTree(fs, root).archive.
absl::StatusOr<std::string> ArchiveTree(FileSystem& fs, std::string_view root);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_TREE_ARCHIVE_H_
