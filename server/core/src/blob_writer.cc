#include "strata/server/core/blob_writer.h"

#include "strata/base/status_macros.h"

namespace strata::server {

absl::Status BlobWriter::Append(std::string_view data) {
  hash_.Update(data);
  size_ += data.size();
  while (!data.empty()) {
    size_t take = std::min(data.size(), chunk_bytes_ - pending_.size());
    pending_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (pending_.size() == chunk_bytes_) STRATA_RETURN_IF_ERROR(Flush());
  }
  return absl::OkStatus();
}

absl::Status BlobWriter::Flush() {
  if (pending_.empty()) return absl::OkStatus();
  STRATA_ASSIGN_OR_RETURN(BlobChunk chunk, store_->PutChunk(pending_));
  manifest_.chunks.push_back(std::move(chunk));
  pending_.clear();
  return absl::OkStatus();
}

absl::StatusOr<BlobManifest> BlobWriter::Finish() {
  STRATA_RETURN_IF_ERROR(Flush());
  manifest_.sha256 = ToHex(hash_.Finish());
  manifest_.size = size_;
  return std::move(manifest_);
}

absl::StatusOr<BlobManifest> BlobWriter::WriteAll(Store* store,
                                                  std::string_view content) {
  BlobWriter writer(store);
  STRATA_RETURN_IF_ERROR(writer.Append(content));
  return writer.Finish();
}

}  // namespace strata::server
