#include "strata/diff/byte_sink.h"

#include <algorithm>
#include <cstring>

namespace strata::diff {
namespace {
// Output is written in pieces of this size: large enough that write calls
// cost nothing next to decoding, small enough to stay out of the apply
// process's peak RSS (issue 20: a 256 KiB buffer was 3% of it).
constexpr size_t kSinkBuffer = 64 * 1024;
}  // namespace

absl::Status WritableFileSink::Append(std::string_view data) {
  if (buffer_.size() + data.size() < kSinkBuffer) {
    buffer_.append(data);
    return absl::OkStatus();
  }
  if (!buffer_.empty()) {
    absl::Status s = file_->Append(buffer_);
    buffer_.clear();
    if (!s.ok()) return s;
  }
  if (data.size() >= kSinkBuffer) return file_->Append(data);
  buffer_.append(data);
  return absl::OkStatus();
}

absl::Status WritableFileSink::Flush() {
  if (buffer_.empty()) return absl::OkStatus();
  absl::Status s = file_->Append(buffer_);
  buffer_.clear();
  return s;
}

absl::StatusOr<size_t> MemoryRandomAccessFile::Read(uint64_t offset, size_t n,
                                                    char* scratch) const {
  if (offset >= data_.size()) return 0;
  size_t take = std::min<uint64_t>(n, data_.size() - offset);
  std::memcpy(scratch, data_.data() + offset, take);
  return take;
}

}  // namespace strata::diff
