// Whole blobs, decompressed and verified once, kept in memory for the HTTP
// front within a byte budget (least recently served go first). A blob is
// stored as zstd chunks in RocksDB; without this every GET decompressed
// them again. Blobs larger than a quarter of the budget are not kept: they
// are streamed from the store chunk by chunk.
#ifndef STRATA_SERVER_HTTP_BLOB_CACHE_H_
#define STRATA_SERVER_HTTP_BLOB_CACHE_H_

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "strata/server/storage/store.h"

namespace strata::server {

class BlobCache {
 public:
  // `budget_bytes` 0: nothing is kept.
  BlobCache(Store* store, uint64_t budget_bytes);

  // The bytes of `blob`, from memory or read, decompressed and checked
  // against its SHA-256 now (kDataLoss when they do not match). nullptr
  // when the blob is too large to keep: stream it with StreamBlob.
  absl::StatusOr<std::shared_ptr<const std::string>> Get(
      const BlobManifest& blob);

  // Whether Get would keep a blob of `size` bytes.
  bool Keeps(uint64_t size) const { return budget_ > 0 && size <= budget_ / 4; }

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t bytes = 0;    // held now
    uint64_t entries = 0;  // held now
  };
  Stats stats() const;

 private:
  struct Entry {
    std::shared_ptr<const std::string> bytes;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  Store* store_;
  const uint64_t budget_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // front: most recent
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_BLOB_CACHE_H_
