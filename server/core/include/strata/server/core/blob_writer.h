// Streams content into the store as content-addressed chunks, hashing it on
// the way, with memory bounded by one chunk.
//
// File trees (H5 packages, HCF modules, bundles) are published as ustar
// archives. The writer recognises one from its first header and cuts chunks
// at every entry's header and data boundaries, so each file's bytes start a
// chunk of their own: a file unchanged between versions maps to the same
// content-addressed chunks and is stored once. The blob's manifest is then
// the tree's manifest (header chunks name the paths and modes).
#ifndef STRATA_SERVER_CORE_BLOB_WRITER_H_
#define STRATA_SERVER_CORE_BLOB_WRITER_H_

#include <algorithm>
#include <deque>
#include <string>

#include "absl/status/statusor.h"
#include "strata/base/sha256.h"
#include "strata/server/storage/store.h"

namespace strata::server {

class BlobWriter {
 public:
  static constexpr size_t kDefaultChunkBytes = 1 << 20;

  // `chunk_bytes` must be at least 4096 (a ustar header and its padding
  // always fit in one chunk).
  explicit BlobWriter(Store* store, size_t chunk_bytes = kDefaultChunkBytes)
      : store_(store), chunk_bytes_(std::max<size_t>(chunk_bytes, 4096)) {}

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
  // Finds ustar headers in the bytes received and records where chunks
  // must end.
  void ParseTarHeaders();
  // Where the current chunk must end: its size limit or the next cut.
  uint64_t NextCut();
  // Stores every complete chunk the received bytes reach past.
  absl::Status FlushReadyChunks();

  Store* store_;
  size_t chunk_bytes_;
  std::string pending_;
  Sha256 hash_;
  uint64_t size_ = 0;
  BlobManifest manifest_;
  uint64_t chunk_start_ = 0;  // stream offset of pending_[0]
  enum class Tar { kUnknown, kYes, kNo } tar_ = Tar::kUnknown;
  uint64_t next_header_ = 0;   // stream offset of the next ustar header
  std::deque<uint64_t> cuts_;  // ascending stream offsets to cut at
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_BLOB_WRITER_H_
