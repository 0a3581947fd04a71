#include "strata/server/http/blob_cache.h"

#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {

BlobCache::BlobCache(Store* store, uint64_t budget_bytes)
    : store_(store), budget_(budget_bytes) {}

absl::StatusOr<std::shared_ptr<const std::string>> BlobCache::Get(
    const BlobManifest& blob) {
  if (!Keeps(blob.size)) return nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(blob.sha256);
    if (it != entries_.end()) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.bytes;
    }
    ++misses_;
  }
  // Read outside the lock; two readers of one cold blob both read it.
  auto bytes = std::make_shared<std::string>();
  bytes->reserve(blob.size);
  STRATA_RETURN_IF_ERROR(StreamBlob(*store_, blob, 0, blob.size,
                                    [&](uint64_t, std::string_view piece) {
                                      bytes->append(piece);
                                      return true;
                                    }));
  if (bytes->size() != blob.size || Sha256::HexHash(*bytes) != blob.sha256) {
    return absl::DataLossError(
        StrCat("blob ", blob.sha256, " reads back as ", bytes->size(),
               " bytes that do not hash to its name; the store is damaged: "
               "restore it from a backup"));
  }
  std::shared_ptr<const std::string> result = std::move(bytes);
  absl::MutexLock lock(&mu_);
  if (entries_.count(blob.sha256) == 0) {
    while (bytes_ + blob.size > budget_ && !lru_.empty()) {
      auto victim = entries_.find(lru_.back());
      bytes_ -= victim->second.bytes->size();
      entries_.erase(victim);
      lru_.pop_back();
    }
    lru_.push_front(blob.sha256);
    entries_[blob.sha256] = Entry{result, lru_.begin()};
    bytes_ += blob.size;
  }
  return result;
}

BlobCache::Stats BlobCache::stats() const {
  absl::MutexLock lock(&mu_);
  return Stats{hits_, misses_, bytes_, entries_.size()};
}

}  // namespace strata::server
