#include "strata/server/core/blob_writer.h"

#include <optional>

#include "strata/base/status_macros.h"
#include "strata/base/ustar_fields.h"

namespace strata::server {

namespace {

constexpr uint64_t kBlock = 512;

}  // namespace

void BlobWriter::ParseTarHeaders() {
  while (tar_ != Tar::kNo && next_header_ != UINT64_MAX &&
         next_header_ >= chunk_start_ && next_header_ + kBlock <= size_) {
    std::string_view h(pending_.data() + (next_header_ - chunk_start_), kBlock);
    if (h.find_first_not_of('\0') == std::string_view::npos) {
      next_header_ = UINT64_MAX;  // end-of-archive block
      return;
    }
    std::optional<uint64_t> size = ustar::Octal(h.substr(124, 12));
    if (h.substr(257, 5) != "ustar" || !size.has_value()) {
      if (tar_ == Tar::kUnknown)
        tar_ = Tar::kNo;  // not an archive: plain chunks
      next_header_ = UINT64_MAX;
      return;
    }
    tar_ = Tar::kYes;
    const uint64_t data = next_header_ + kBlock;
    cuts_.push_back(data);
    if (*size > 0) cuts_.push_back(data + *size);
    next_header_ = data + (*size + kBlock - 1) / kBlock * kBlock;
  }
}

uint64_t BlobWriter::NextCut() {
  while (!cuts_.empty() && cuts_.front() <= chunk_start_) cuts_.pop_front();
  uint64_t limit = chunk_start_ + chunk_bytes_;
  if (!cuts_.empty()) limit = std::min(limit, cuts_.front());
  return limit;
}

absl::Status BlobWriter::FlushReadyChunks() {
  for (uint64_t cut = NextCut(); size_ >= cut; cut = NextCut()) {
    std::string rest = pending_.substr(static_cast<size_t>(cut - chunk_start_));
    pending_.resize(static_cast<size_t>(cut - chunk_start_));
    STRATA_RETURN_IF_ERROR(Flush());
    chunk_start_ = cut;
    pending_ = std::move(rest);
  }
  return absl::OkStatus();
}

absl::Status BlobWriter::Append(std::string_view data) {
  hash_.Update(data);
  while (!data.empty()) {
    const uint64_t cut = NextCut();
    const size_t take =
        static_cast<size_t>(std::min<uint64_t>(data.size(), cut - size_));
    pending_.append(data.substr(0, take));
    data.remove_prefix(take);
    size_ += take;
    ParseTarHeaders();
    STRATA_RETURN_IF_ERROR(FlushReadyChunks());
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
