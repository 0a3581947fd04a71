#include "store_internal.h"

#include <zstd.h>

#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server::internal {
namespace {

constexpr char kCodecRaw = 0;
constexpr char kCodecZstd = 1;
constexpr int kZstdLevel = 3;

}  // namespace

std::string EncodeChunk(std::string_view data) {
  std::string value(1, kCodecZstd);
  value.resize(1 + ZSTD_compressBound(data.size()));
  size_t n = ZSTD_compress(value.data() + 1, value.size() - 1, data.data(),
                           data.size(), kZstdLevel);
  if (ZSTD_isError(n) || n >= data.size()) {
    value.assign(1, kCodecRaw);
    value.append(data);
  } else {
    value.resize(1 + n);
  }
  return value;
}

absl::StatusOr<std::string> DecodeChunk(std::string_view value,
                                        std::string_view chunk_sha256) {
  if (value.empty()) return absl::DataLossError("empty blob chunk record");
  std::string out;
  if (value[0] == kCodecRaw) {
    out.assign(value.data() + 1, value.size() - 1);
  } else if (value[0] == kCodecZstd) {
    unsigned long long size =
        ZSTD_getFrameContentSize(value.data() + 1, value.size() - 1);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > (uint64_t{1} << 30)) {
      return absl::DataLossError(
          StrCat("blob chunk ", chunk_sha256, " is corrupt"));
    }
    out.resize(size);
    size_t n = ZSTD_decompress(out.data(), out.size(), value.data() + 1,
                               value.size() - 1);
    if (ZSTD_isError(n) || n != size) {
      return absl::DataLossError(
          StrCat("blob chunk ", chunk_sha256, " is corrupt"));
    }
  } else {
    return absl::DataLossError(
        StrCat("blob chunk ", chunk_sha256, " has unknown codec"));
  }
  return out;
}

v1::StoredBlob ToStoredBlob(const BlobManifest& blob) {
  v1::StoredBlob stored;
  stored.set_size(blob.size);
  for (const BlobChunk& c : blob.chunks) {
    auto* chunk = stored.add_chunks();
    chunk->set_sha256(c.sha256);
    chunk->set_size(c.size);
  }
  return stored;
}

std::vector<std::string> PatchesOf(const v1::StoredDelta& delta) {
  std::vector<std::string> out;
  if (delta.worthwhile() && !delta.patch_sha256().empty()) {
    out.push_back(delta.patch_sha256());
  }
  if (!delta.tree_patch_sha256().empty()) {
    out.push_back(delta.tree_patch_sha256());
  }
  return out;
}

BlobManifest FromStoredBlob(std::string_view sha256,
                            const v1::StoredBlob& stored) {
  BlobManifest m;
  m.sha256 = std::string(sha256);
  m.size = stored.size();
  for (const auto& c : stored.chunks()) {
    m.chunks.push_back({c.sha256(), c.size()});
  }
  return m;
}

std::string ModuleKey(std::string_view app, const v1::ModuleId& m) {
  return StrCat(app, "/", static_cast<int>(m.layer()), "/", m.name());
}

absl::StatusOr<std::string> ReadBlobOf(Store& store, std::string_view sha256,
                                       uint64_t offset, uint64_t max_bytes) {
  STRATA_ASSIGN_OR_RETURN(std::optional<BlobManifest> m,
                          store.GetBlobManifest(sha256));
  if (!m.has_value()) {
    return absl::NotFoundError(StrCat("no blob with sha256 ", sha256));
  }
  if (offset > m->size) {
    return absl::OutOfRangeError(StrCat("offset ", offset,
                                        " is past the end of blob ", sha256,
                                        " (", m->size, " bytes)"));
  }
  std::string out;
  STRATA_RETURN_IF_ERROR(StreamBlob(store, *m, offset, max_bytes,
                                    [&](uint64_t, std::string_view piece) {
                                      out.append(piece);
                                      return true;
                                    }));
  return out;
}

}  // namespace strata::server::internal
