// Streams content into the store as content-addressed chunks, hashing it on
// the way, with memory bounded by one chunk.
#ifndef STRATA_SERVER_CORE_BLOB_WRITER_H_
#define STRATA_SERVER_CORE_BLOB_WRITER_H_

#include <string>

#include "absl/status/statusor.h"
#include "strata/base/sha256.h"
#include "strata/server/storage/store.h"

namespace strata::server {

class BlobWriter {
 public:
  static constexpr size_t kDefaultChunkBytes = 1 << 20;

  explicit BlobWriter(Store* store, size_t chunk_bytes = kDefaultChunkBytes)
      : store_(store), chunk_bytes_(chunk_bytes) {}

  absl::Status Append(std::string_view data);
  // The manifest of everything appended (chunks are in the store, not yet
  // referenced: the caller's batch makes them part of a blob).
  absl::StatusOr<BlobManifest> Finish();
  uint64_t size() const { return size_; }

  // Convenience: the whole of `content` as one blob's chunks.
  static absl::StatusOr<BlobManifest> WriteAll(Store* store,
                                               std::string_view content);

 private:
  absl::Status Flush();

  Store* store_;
  size_t chunk_bytes_;
  std::string pending_;
  Sha256 hash_;
  uint64_t size_ = 0;
  BlobManifest manifest_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_BLOB_WRITER_H_
