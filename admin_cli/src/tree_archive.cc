#include "strata/admin_cli/tree_archive.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

constexpr size_t kBlock = 512;

absl::Status Walk(FileSystem& fs, const std::string& root,
                  const std::string& rel, std::vector<std::string>& files) {
  const std::string dir = rel.empty() ? root : JoinPath(root, rel);
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(dir));
  for (const std::string& name : names) {
    const std::string child = rel.empty() ? name : JoinPath(rel, name);
    STRATA_ASSIGN_OR_RETURN(FileInfo info, fs.Stat(JoinPath(root, child)));
    if (info.is_directory) {
      STRATA_RETURN_IF_ERROR(Walk(fs, root, child, files));
    } else {
      files.push_back(child);
    }
  }
  return absl::OkStatus();
}

void Octal(char* field, size_t width, uint64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

}  // namespace

absl::StatusOr<std::string> ArchiveTree(FileSystem& fs,
                                        std::string_view root_view) {
  const std::string root(root_view);
  STRATA_ASSIGN_OR_RETURN(FileInfo top, fs.Stat(root));
  if (!top.is_directory) {
    return absl::InvalidArgumentError(StrCat(root, " is not a directory"));
  }
  std::vector<std::string> files;
  STRATA_RETURN_IF_ERROR(Walk(fs, root, "", files));
  std::sort(files.begin(), files.end());
  if (files.empty())
    return absl::InvalidArgumentError(StrCat(root, " holds no files"));
  std::string out;
  for (const std::string& path : files) {
    STRATA_ASSIGN_OR_RETURN(FileInfo info, fs.Stat(JoinPath(root, path)));
    STRATA_ASSIGN_OR_RETURN(std::string data,
                            fs.ReadFile(JoinPath(root, path)));
    char h[kBlock] = {};
    // name (100) or prefix (155) + "/" + name.
    std::string name = path, prefix;
    if (name.size() > 100) {
      size_t slash = path.rfind('/', 155);
      if (path.size() > 255 || slash == std::string::npos ||
          path.size() - slash - 1 > 100) {
        return absl::InvalidArgumentError(
            StrCat("path '", path,
                   "' is too long for the archive (ustar: 255 bytes)"));
      }
      prefix = path.substr(0, slash);
      name = path.substr(slash + 1);
    }
    std::memcpy(h, name.data(), name.size());
    Octal(h + 100, 8, (info.mode & 0111) ? 0755 : 0644);
    Octal(h + 108, 8, 0);
    Octal(h + 116, 8, 0);
    Octal(h + 124, 12, data.size());
    Octal(h + 136, 12, 0);
    std::memset(h + 148, ' ', 8);
    h[156] = '0';
    std::memcpy(h + 257, "ustar", 6);  // "ustar\0"
    std::memcpy(h + 263, "00", 2);
    std::memcpy(h + 345, prefix.data(), prefix.size());
    unsigned sum = 0;
    for (unsigned char c : std::string_view(h, kBlock)) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
    out.append(h, kBlock);
    out.append(data);
    out.append((kBlock - data.size() % kBlock) % kBlock, '\0');
  }
  out.append(2 * kBlock, '\0');
  return out;
}

}  // namespace strata::admin
