// Where patch application writes its output: sequentially, in order.
#ifndef STRATA_DIFF_BYTE_SINK_H_
#define STRATA_DIFF_BYTE_SINK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "strata/base/env.h"

namespace strata::diff {

// Receives output bytes in order. Implementations may buffer.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual absl::Status Append(std::string_view data) = 0;
};

// Collects output in a string (tests, small outputs).
class StringSink : public ByteSink {
 public:
  StringSink() = default;
  // Appends to `buffer` (e.g. one with capacity reserved).
  explicit StringSink(std::string buffer) : out_(std::move(buffer)) {}
  absl::Status Append(std::string_view data) override {
    out_.append(data);
    return absl::OkStatus();
  }
  const std::string& data() const { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  std::string out_;
};

// Forwards output to a WritableFile (not owned) through a small buffer.
// Call Flush() before syncing or closing the file.
class WritableFileSink : public ByteSink {
 public:
  explicit WritableFileSink(WritableFile* file) : file_(file) {}
  absl::Status Append(std::string_view data) override;
  absl::Status Flush();

 private:
  WritableFile* file_;
  std::string buffer_;
};

// A read-only RandomAccessFile over bytes the caller keeps alive.
class MemoryRandomAccessFile : public RandomAccessFile {
 public:
  explicit MemoryRandomAccessFile(std::string_view data) : data_(data) {}
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                              char* scratch) const override;
  uint64_t Size() const override { return data_.size(); }

 private:
  std::string_view data_;
};

}  // namespace strata::diff

#endif  // STRATA_DIFF_BYTE_SINK_H_
