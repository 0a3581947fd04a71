#include "strata/diff/ustar_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>

#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/ustar_reader.h"

namespace strata::diff {
namespace {

void Octal(char* field, size_t width, uint64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

uint32_t DeviceMode(uint32_t mode) { return (mode & 0111) != 0 ? 0755 : 0644; }

}  // namespace

absl::StatusOr<std::string> CanonicalUstarHeader(std::string_view path,
                                                 uint64_t size, bool executable,
                                                 std::string_view link_target) {
  char h[kUstarBlock] = {};
  // name (100) or prefix (155) + "/" + name.
  std::string_view name = path, prefix;
  if (name.size() > 100) {
    const size_t slash = path.rfind('/', 155);
    if (path.size() > 255 || slash == std::string_view::npos ||
        path.size() - slash - 1 > 100) {
      return absl::InvalidArgumentError(StrCat(
          "path '", path, "' is too long for the archive (ustar: 255 bytes)"));
    }
    prefix = path.substr(0, slash);
    name = path.substr(slash + 1);
  }
  const bool link = !link_target.empty();
  if (link_target.size() > 100) {
    return absl::InvalidArgumentError(
        StrCat("symlink '", path,
               "' has a target longer than 100 bytes, which ustar cannot "
               "hold"));
  }
  // std::copy, not memcpy: an empty string_view may hold a null pointer.
  std::copy(name.begin(), name.end(), h);
  Octal(h + 100, 8, link ? 0777 : executable ? 0755 : 0644);
  Octal(h + 108, 8, 0);
  Octal(h + 116, 8, 0);
  Octal(h + 124, 12, link ? 0 : size);
  Octal(h + 136, 12, 0);
  std::memset(h + 148, ' ', 8);
  h[156] = link ? '2' : '0';
  std::copy(link_target.begin(), link_target.end(), h + 157);
  std::memcpy(h + 257, "ustar", 6);  // "ustar\0"
  std::memcpy(h + 263, "00", 2);
  std::copy(prefix.begin(), prefix.end(), h + 345);
  unsigned sum = 0;
  for (unsigned char c : std::string_view(h, kUstarBlock)) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  return std::string(h, kUstarBlock);
}

absl::StatusOr<TreeManifest> ManifestOfArchive(
    std::string_view archive, std::vector<std::string_view>* contents) {
  STRATA_ASSIGN_OR_RETURN(std::vector<UstarEntry> entries,
                          UstarReader::Read(archive));
  std::vector<size_t> order;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].type != UstarEntry::Type::kDirectory) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return entries[a].path < entries[b].path;
  });
  TreeManifest out;
  out.reserve(order.size());
  if (contents != nullptr) contents->clear();
  for (size_t i : order) {
    const UstarEntry& u = entries[i];
    if (!out.empty() && out.back().path == u.path) {
      return absl::InvalidArgumentError(
          StrCat("the archive holds '", u.path, "' twice"));
    }
    TreeEntry e;
    e.path = u.path;
    std::string_view data;
    if (u.type == UstarEntry::Type::kSymlink) {
      e.type = EntryType::kSymlink;
      e.mode = 0777;
      e.link_target = u.link_target;
      data = u.link_target;
    } else {
      e.type = EntryType::kFile;
      e.mode = DeviceMode(u.mode);
      data = archive.substr(u.data_offset, u.size);
    }
    e.size = data.size();
    e.sha256 = Sha256::Hash(data);
    if (contents != nullptr) {
      contents->push_back(e.type == EntryType::kFile ? data
                                                     : std::string_view());
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool IsCanonicalUstar(std::string_view archive) {
  absl::StatusOr<std::vector<UstarEntry>> entries = UstarReader::Read(archive);
  if (!entries.ok() || entries->empty()) return false;
  uint64_t at = 0;
  for (size_t i = 0; i < entries->size(); ++i) {
    const UstarEntry& e = (*entries)[i];
    if (e.type == UstarEntry::Type::kDirectory) return false;
    if (i > 0 && !((*entries)[i - 1].path < e.path)) return false;
    const bool link = e.type == UstarEntry::Type::kSymlink;
    if (!link && e.mode != 0644 && e.mode != 0755) return false;
    absl::StatusOr<std::string> header =
        CanonicalUstarHeader(e.path, e.size, e.mode == 0755, e.link_target);
    if (!header.ok() || archive.substr(at, kUstarBlock) != *header) {
      return false;
    }
    at += kUstarBlock;
    if (!link && e.data_offset != at) return false;
    at += e.size;
    const uint64_t pad = UstarPadded(e.size) - e.size;
    if (archive.substr(at, pad) != std::string(pad, '\0')) return false;
    at += pad;
  }
  return archive.size() == at + 2 * kUstarBlock &&
         archive.substr(at) == std::string(2 * kUstarBlock, '\0');
}

namespace {

// Writes entry i's data (not its padding) to the sink; returns its length.
using DataWriter = std::function<absl::StatusOr<uint64_t>(size_t, ByteSink&)>;

absl::StatusOr<uint64_t> WriteCanonical(const TreeManifest& manifest,
                                        const DataWriter& write_data,
                                        ByteSink& sink) {
  std::vector<size_t> order(manifest.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return manifest[a].path < manifest[b].path;
  });
  uint64_t written = 0;
  for (size_t i : order) {
    const TreeEntry& e = manifest[i];
    const bool link = e.type == EntryType::kSymlink;
    STRATA_ASSIGN_OR_RETURN(
        std::string header,
        CanonicalUstarHeader(
            e.path, link ? 0 : e.size, (e.mode & 0111) != 0,
            link ? std::string_view(e.link_target) : std::string_view()));
    STRATA_RETURN_IF_ERROR(sink.Append(header));
    written += header.size();
    if (link) continue;
    STRATA_ASSIGN_OR_RETURN(uint64_t n, write_data(i, sink));
    if (n != e.size) {
      return absl::AbortedError(
          StrCat(e.path, " changed size while the tree was archived"));
    }
    written += e.size;
    const uint64_t pad = UstarPadded(e.size) - e.size;
    if (pad > 0) {
      STRATA_RETURN_IF_ERROR(
          sink.Append(std::string(static_cast<size_t>(pad), '\0')));
      written += pad;
    }
  }
  STRATA_RETURN_IF_ERROR(sink.Append(std::string(2 * kUstarBlock, '\0')));
  return written + 2 * kUstarBlock;
}

}  // namespace

absl::StatusOr<uint64_t> WriteCanonicalUstar(FileSystem& fs,
                                             std::string_view root,
                                             const TreeManifest& manifest,
                                             ByteSink& sink) {
  std::string buf;
  auto write_data = [&](size_t i, ByteSink& out) -> absl::StatusOr<uint64_t> {
    const TreeEntry& e = manifest[i];
    const std::string path = JoinPath(root, e.path);
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file,
                            fs.NewRandomAccessFile(path));
    if (file->Size() != e.size) {
      return absl::AbortedError(
          StrCat(path, " changed size while the tree was archived"));
    }
    buf.resize(static_cast<size_t>(
        std::clamp<uint64_t>(e.size, 1, uint64_t{256} << 10)));
    uint64_t off = 0;
    while (off < e.size) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(buf.size(), e.size - off));
      STRATA_ASSIGN_OR_RETURN(size_t n, file->Read(off, want, buf.data()));
      if (n == 0) {
        return absl::AbortedError(
            StrCat(path, " ended early while the tree was archived"));
      }
      STRATA_RETURN_IF_ERROR(out.Append(std::string_view(buf.data(), n)));
      off += n;
    }
    return off;
  };
  return WriteCanonical(manifest, write_data, sink);
}

absl::StatusOr<uint64_t> WriteCanonicalUstar(
    const TreeManifest& manifest, const std::vector<std::string_view>& contents,
    ByteSink& sink) {
  if (contents.size() != manifest.size()) {
    return absl::InvalidArgumentError(
        "WriteCanonicalUstar: one content per manifest entry expected");
  }
  auto write_data = [&](size_t i, ByteSink& out) -> absl::StatusOr<uint64_t> {
    STRATA_RETURN_IF_ERROR(out.Append(contents[i]));
    return contents[i].size();
  };
  return WriteCanonical(manifest, write_data, sink);
}

}  // namespace strata::diff
