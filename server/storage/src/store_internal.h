// What the RocksDB and PostgreSQL stores share: how a chunk is encoded at
// rest, how a manifest is stored, and the reads built on the interface.
#ifndef STRATA_SERVER_STORAGE_SRC_STORE_INTERNAL_H_
#define STRATA_SERVER_STORAGE_SRC_STORE_INTERNAL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/server/storage/store.h"
#include "strata/v1/storage.pb.h"

namespace strata::server::internal {

// A chunk at rest: one codec byte (raw or zstd), then the bytes.
std::string EncodeChunk(std::string_view data);
// The chunk's bytes back; DATA_LOSS naming `chunk_sha256` when corrupt.
absl::StatusOr<std::string> DecodeChunk(std::string_view value,
                                        std::string_view chunk_sha256);

v1::StoredBlob ToStoredBlob(const BlobManifest& blob);
BlobManifest FromStoredBlob(std::string_view sha256,
                            const v1::StoredBlob& stored);

// The patch blobs a delta record names (byte patch when worthwhile, tree
// patch when present).
std::vector<std::string> PatchesOf(const v1::StoredDelta& delta);

// "<app>/<layer number>/<module name>": how modules are keyed.
std::string ModuleKey(std::string_view app, const v1::ModuleId& m);

// Store::ReadBlob on top of GetBlobManifest and ReadChunk.
absl::StatusOr<std::string> ReadBlobOf(Store& store, std::string_view sha256,
                                       uint64_t offset, uint64_t max_bytes);

}  // namespace strata::server::internal

#endif  // STRATA_SERVER_STORAGE_SRC_STORE_INTERNAL_H_
