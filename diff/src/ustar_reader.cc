#include "strata/diff/ustar_reader.h"

#include <algorithm>
#include <optional>
#include <set>

#include "strata/base/strings.h"
#include "strata/base/ustar_fields.h"
#include "strata/diff/tree_delta.h"

namespace strata::diff {
namespace {

constexpr size_t kBlock = 512;
// Larger entries are refused (no artifact comes near).
constexpr uint64_t kMaxEntryBytes = uint64_t{1} << 40;

}  // namespace

bool LooksLikeUstar(std::string_view content) {
  return content.size() >= kBlock && content.substr(257, 5) == "ustar";
}

absl::Status UstarReader::Header(std::string_view h) {
  const uint64_t at = offset_;
  const std::string where = StrCat("archive entry ", entries_.size() + 1,
                                   " (header at byte ", at, ")");
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(StrCat(where, ": ", what));
  };
  if (h.substr(257, 5) != "ustar") {
    return bad("not a ustar header; the archive is damaged or not a tar file");
  }
  if (!ustar::ChecksumOk(h)) {
    return bad("the header checksum is wrong; the archive is damaged");
  }
  const bool posix = h[262] == '\0';  // "ustar\0" (GNU writes "ustar ")
  std::string path(ustar::Field(h, 0, 100));
  if (posix && h[345] != '\0')
    path = StrCat(ustar::Field(h, 345, 155), "/", path);
  const std::string shown = path.size() > 120 ? path.substr(0, 120) : path;
  std::optional<uint64_t> size = ustar::Octal(h.substr(124, 12));
  std::optional<uint64_t> mode = ustar::Octal(h.substr(100, 8));
  if (!size.has_value() || !mode.has_value() || *size > kMaxEntryBytes) {
    return bad(StrCat("'", shown, "' has a malformed size or mode field"));
  }
  UstarEntry e;
  const char type = h[156];
  switch (type) {
    case '0':
    case '\0':
      e.type = UstarEntry::Type::kFile;
      break;
    case '5':
      e.type = UstarEntry::Type::kDirectory;
      break;
    case '2':
      e.type = UstarEntry::Type::kSymlink;
      break;
    case '1':
      return bad(StrCat("'", shown,
                        "' is a hard link; archives may hold "
                        "files, directories and symlinks only"));
    case 'x':
    case 'g':
    case 'L':
    case 'K':
      return bad(StrCat("'", shown, "' is a pax or GNU extension header ('",
                        std::string(1, type),
                        "'), which is not supported; publish the directory "
                        "with `strata publish --dir`, which writes plain "
                        "ustar"));
    default:
      return bad(StrCat("'", shown, "' has entry type '", std::string(1, type),
                        "' (device, FIFO or unknown); archives may hold "
                        "files, directories and symlinks only"));
  }
  while (path.rfind("./", 0) == 0) path.erase(0, 2);
  while (e.type == UstarEntry::Type::kDirectory && !path.empty() &&
         path.back() == '/') {
    path.pop_back();
  }
  const uint64_t padded = (*size + kBlock - 1) / kBlock * kBlock;
  skip_ = padded;
  if (path.empty() || path == ".") {
    if (e.type == UstarEntry::Type::kDirectory) return absl::OkStatus();
    return bad("an entry has an empty path");
  }
  if (absl::Status s = ValidateTreePath(path); !s.ok()) {
    return bad(ToStd(s.message()));
  }
  e.path = std::move(path);
  e.mode = static_cast<uint32_t>(*mode & 0777);
  if (e.type == UstarEntry::Type::kFile) {
    e.size = *size;
    e.data_offset = at + kBlock;
  } else if (e.type == UstarEntry::Type::kSymlink) {
    e.link_target = std::string(ustar::Field(h, 157, 100));
    if (absl::Status s = ValidateLinkTarget(e.path, e.link_target); !s.ok()) {
      return bad(ToStd(s.message()));
    }
  }
  if (entries_.size() >= kMaxEntries) {
    return absl::ResourceExhaustedError(
        StrCat("the archive has more than ", kMaxEntries, " entries"));
  }
  entries_.push_back(std::move(e));
  return absl::OkStatus();
}

absl::Status UstarReader::Append(std::string_view bytes) {
  if (!failed_.ok()) return failed_;
  while (!bytes.empty()) {
    if (skip_ > 0) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(skip_, bytes.size()));
      skip_ -= n;
      offset_ += n;
      bytes.remove_prefix(n);
      continue;
    }
    const size_t n = std::min(kBlock - block_.size(), bytes.size());
    block_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    if (block_.size() < kBlock) break;
    const bool zero = block_.find_first_not_of('\0') == std::string::npos;
    absl::Status s;
    if (zero) {
      ++zero_blocks_;
    } else if (zero_blocks_ > 0) {
      s = absl::InvalidArgumentError(
          StrCat("the archive has data after its end-of-archive block (byte ",
                 offset_, "); it is damaged"));
    } else {
      s = Header(block_);
    }
    if (!s.ok()) {
      failed_ = s;
      return s;
    }
    offset_ += kBlock;
    block_.clear();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<UstarEntry>> UstarReader::Finish() {
  if (!failed_.ok()) return failed_;
  if (skip_ > 0 || !block_.empty()) {
    return absl::InvalidArgumentError(StrCat(
        "the archive is cut short in entry ", entries_.size(), " at byte ",
        offset_ + block_.size(), "; it is damaged or truncated"));
  }
  std::set<std::string_view> seen;
  std::set<std::string_view> leaves;  // files and symlinks
  for (const UstarEntry& e : entries_) {
    if (!seen.insert(e.path).second) {
      return absl::InvalidArgumentError(
          StrCat("the archive holds '", e.path, "' twice"));
    }
    if (e.type != UstarEntry::Type::kDirectory) leaves.insert(e.path);
  }
  for (const UstarEntry& e : entries_) {
    for (size_t slash = e.path.find('/'); slash != std::string::npos;
         slash = e.path.find('/', slash + 1)) {
      std::string_view parent = std::string_view(e.path).substr(0, slash);
      if (leaves.count(parent)) {
        return absl::InvalidArgumentError(
            StrCat("the archive holds '", e.path, "' below '", parent,
                   "', which is a file or a symlink"));
      }
    }
  }
  return std::move(entries_);
}

absl::StatusOr<std::vector<UstarEntry>> UstarReader::Read(
    std::string_view archive) {
  UstarReader reader;
  if (absl::Status s = reader.Append(archive); !s.ok()) return s;
  return reader.Finish();
}

}  // namespace strata::diff
