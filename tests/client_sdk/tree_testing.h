// Helpers of the SDK's tree tests: hand-made ustar archives (well-formed
// trees as `strata publish --dir` packs them, and hostile entries it never
// would: absolute paths, "..", escaping symlinks, device files) and a temp
// directory on the real file system.
#ifndef STRATA_TESTS_CLIENT_SDK_TREE_TESTING_H_
#define STRATA_TESTS_CLIENT_SDK_TREE_TESTING_H_

#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "strata/diff/ustar_writer.h"

namespace strata::client::tree_testing {

struct TarItem {
  TarItem(std::string path, std::string data = "", char type = '0',
          std::string link = "", unsigned mode = 0644)
      : path(std::move(path)),
        data(std::move(data)),
        type(type),
        link(std::move(link)),
        mode(mode) {}
  std::string path;
  std::string data;  // files
  char type;         // '0' file, '5' directory, '2' symlink, '3' device...
  std::string link;  // symlinks
  unsigned mode;
};

inline std::string TarHeaderAndData(const TarItem& item) {
  char h[512] = {};
  std::memcpy(h, item.path.data(), std::min<size_t>(item.path.size(), 100));
  std::snprintf(h + 100, 8, "%07o", item.mode);
  std::snprintf(h + 108, 8, "%07o", 0u);
  std::snprintf(h + 116, 8, "%07o", 0u);
  std::snprintf(h + 124, 12, "%011llo",
                static_cast<unsigned long long>(item.data.size()));
  std::snprintf(h + 136, 12, "%011o", 0u);
  h[156] = item.type;
  std::memcpy(h + 157, item.link.data(),
              std::min<size_t>(item.link.size(), 100));
  std::memcpy(h + 257,
              "ustar\0"
              "00",
              8);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < sizeof(h); ++i)
    sum += static_cast<unsigned char>(h[i]);
  std::snprintf(h + 148, 7, "%06o", sum);
  std::string out(h, sizeof(h));
  out += item.data;
  out.append((512 - item.data.size() % 512) % 512, '\0');
  return out;
}

// The archive of `items`, in the order given, with the end blocks.
inline std::string Tar(const std::vector<TarItem>& items) {
  std::string out;
  for (const TarItem& item : items) out += TarHeaderAndData(item);
  return out + std::string(1024, '\0');
}

// The canonical archive (diff/ustar_writer.h) of `files` (path ->
// content, mode 0644), as `strata publish --dir` packs a tree: the kind
// stratad makes tree patches for.
inline std::string CanonicalTar(
    const std::map<std::string, std::string>& files) {
  std::string out;
  for (const auto& [path, data] : files) {  // std::map: sorted bytewise
    absl::StatusOr<std::string> header =
        diff::CanonicalUstarHeader(path, data.size(), false, "");
    if (!header.ok()) return "";
    out += *header;
    out += data;
    out.append(diff::UstarPadded(data.size()) - data.size(), '\0');
  }
  return out + std::string(1024, '\0');
}

// A fresh directory under /tmp, removed with everything in it (symlinks
// are removed, never followed).
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/strata_tree_test_XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    path_ = made == nullptr ? "" : made;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace strata::client::tree_testing

#endif  // STRATA_TESTS_CLIENT_SDK_TREE_TESTING_H_
