// Reads the entry list of a ustar archive (how file trees are published:
// `strata publish --dir`), checking it as untrusted input: header
// checksums and number fields, every entry inside the archive, safe paths,
// symlinks that stay in the tree. Only headers are kept, so an archive can
// be checked as it streams by with memory bounded by its entry list.
#ifndef STRATA_DIFF_USTAR_READER_H_
#define STRATA_DIFF_USTAR_READER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strata::diff {

struct UstarEntry {
  enum class Type { kFile, kDirectory, kSymlink };
  // Relative, '/'-separated, valid per ValidateTreePath (a leading "./"
  // and a directory's trailing '/' are dropped).
  std::string path;
  Type type = Type::kFile;
  uint32_t mode = 0644;      // permission bits
  uint64_t size = 0;         // bytes of file data (0 for the others)
  uint64_t data_offset = 0;  // where the file's data starts in the archive
  std::string link_target;   // symlinks: relative, stays in the tree
};

// True when `content` starts with a ustar header ("ustar" magic at 257).
bool LooksLikeUstar(std::string_view content);

class UstarReader {
 public:
  // At most this many entries (a bound on memory).
  static constexpr size_t kMaxEntries = 200000;

  // Feeds the next bytes of the archive. Errors are kInvalidArgument and
  // name the entry and what is wrong with it; after one, the reader stays
  // failed.
  absl::Status Append(std::string_view bytes);
  // The archive ended: checks it was complete (the end-of-archive blocks or
  // at least a whole last entry) and that no path lies below a file or a
  // symlink; returns the entries in archive order.
  absl::StatusOr<std::vector<UstarEntry>> Finish();

  // The whole archive at once.
  static absl::StatusOr<std::vector<UstarEntry>> Read(std::string_view archive);

 private:
  absl::Status Header(std::string_view block);

  absl::Status failed_;
  std::string block_;    // a header block being assembled
  uint64_t offset_ = 0;  // archive bytes consumed
  uint64_t skip_ = 0;    // data and padding bytes still to skip
  int zero_blocks_ = 0;  // end-of-archive blocks seen
  std::vector<UstarEntry> entries_;
};

}  // namespace strata::diff

#endif  // STRATA_DIFF_USTAR_READER_H_
