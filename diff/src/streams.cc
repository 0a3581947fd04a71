#include "src/streams.h"

#include <bzlib.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_WINDOWLOG_MIN
#include <zstd.h>
#include <zstd_errors.h>

#include <cstring>
#include <vector>

#include "strata/base/strings.h"

namespace strata::diff::internal {
namespace {

constexpr size_t kReadBuffer = 64 * 1024;

absl::Status ZstdError(std::string_view what, size_t code) {
  return absl::InternalError(
      strata::StrCat("zstd ", what, ": ", ZSTD_getErrorName(code)));
}

// Decompressed bytes are produced into a small buffer and handed out.
class BufferedReader : public StreamReader {
 public:
  absl::StatusOr<size_t> ReadSome(char* out, size_t n) override {
    if (pos_ == buf_.size()) {
      buf_.resize(kReadBuffer);
      pos_ = 0;
      auto got = Fill(buf_.data(), buf_.size());
      if (!got.ok()) {
        buf_.clear();
        return got.status();
      }
      buf_.resize(*got);
      if (*got == 0) return 0;
    }
    size_t take = std::min(n, buf_.size() - pos_);
    std::memcpy(out, buf_.data() + pos_, take);
    pos_ += take;
    position_ += take;
    return take;
  }

 protected:
  explicit BufferedReader(std::string name) : StreamReader(std::move(name)) {}
  // Produces up to `cap` bytes; 0 at a clean end of stream.
  virtual absl::StatusOr<size_t> Fill(char* out, size_t cap) = 0;

 private:
  std::vector<char> buf_;
  size_t pos_ = 0;
};

class ZstdReader : public BufferedReader {
 public:
  ZstdReader(std::string_view in, std::string name, int max_window_log)
      : BufferedReader(std::move(name)), dctx_(ZSTD_createDCtx()) {
    in_ = {in.data(), in.size(), 0};
    ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, max_window_log);
  }
  ~ZstdReader() override { ZSTD_freeDCtx(dctx_); }

 protected:
  absl::StatusOr<size_t> Fill(char* out, size_t cap) override {
    ZSTD_outBuffer ob = {out, cap, 0};
    while (ob.pos < ob.size) {
      if (in_.pos == in_.size && frame_done_) break;
      size_t out_before = ob.pos, in_before = in_.pos;
      size_t r = ZSTD_decompressStream(dctx_, &ob, &in_);
      if (ZSTD_isError(r)) {
        if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge) {
          // The header declared a smaller window: the frame is damaged.
          return Corrupt(
              "frame needs a larger window than the header declares");
        }
        return Corrupt(ZSTD_getErrorName(r));
      }
      frame_done_ = (r == 0);
      if (ob.pos == out_before && in_.pos == in_before) {
        return Corrupt("truncated (ends mid-frame)");
      }
    }
    return ob.pos;
  }

 private:
  ZSTD_DCtx* dctx_;
  ZSTD_inBuffer in_;
  bool frame_done_ = true;  // an empty input is an empty stream
};

class Bzip2Reader : public BufferedReader {
 public:
  Bzip2Reader(std::string_view in, std::string name)
      : BufferedReader(std::move(name)), in_(in) {
    std::memset(&strm_, 0, sizeof(strm_));
    init_ = BZ2_bzDecompressInit(&strm_, 0, 0);
    strm_.next_in = const_cast<char*>(in_.data());
    strm_.avail_in = static_cast<unsigned>(in_.size());
  }
  ~Bzip2Reader() override {
    if (init_ == BZ_OK) BZ2_bzDecompressEnd(&strm_);
  }

 protected:
  absl::StatusOr<size_t> Fill(char* out, size_t cap) override {
    if (init_ != BZ_OK) return absl::InternalError("bzip2 init failed");
    if (in_.size() > UINT32_MAX) return Corrupt("stream too large for bzip2");
    if (ended_) return 0;
    strm_.next_out = out;
    strm_.avail_out = static_cast<unsigned>(cap);
    while (strm_.avail_out > 0) {
      int r = BZ2_bzDecompress(&strm_);
      if (r == BZ_STREAM_END) {
        ended_ = true;
        break;
      }
      if (r != BZ_OK) return Corrupt(strata::StrCat("bzip2 error ", r));
      if (strm_.avail_in == 0 && strm_.avail_out > 0) {
        return Corrupt("truncated");
      }
    }
    return cap - strm_.avail_out;
  }

 public:
  bool InputLeft() const override { return strm_.avail_in != 0; }

 private:
  std::string_view in_;
  bz_stream strm_;
  int init_;
  bool ended_ = false;
};

}  // namespace

absl::Status StreamReader::Corrupt(std::string_view what) const {
  return absl::DataLossError(strata::StrCat(
      "patch stream '", name_, "' is corrupt: ", what,
      "; the patch file is damaged or truncated, fetch it again"));
}

absl::Status StreamReader::ReadExact(char* out, size_t n) {
  while (n > 0) {
    auto got = ReadSome(out, n);
    if (!got.ok()) return got.status();
    if (*got == 0) return Corrupt("ends early");
    out += *got;
    n -= *got;
  }
  return absl::OkStatus();
}

absl::Status StreamReader::ReadVarint(uint64_t* v) {
  uint64_t result = 0;
  for (int i = 0, shift = 0; i < 10; ++i, shift += 7) {
    char c;
    absl::Status s = ReadExact(&c, 1);
    if (!s.ok()) return s;
    uint8_t b = static_cast<uint8_t>(c);
    if (i == 9 && b > 1) break;
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return absl::OkStatus();
    }
  }
  return Corrupt("bad varint");
}

absl::Status StreamReader::ExpectEnd() {
  char c;
  auto got = ReadSome(&c, 1);
  if (!got.ok()) return got.status();
  if (*got != 0) return Corrupt("has unused trailing data");
  if (InputLeft()) return Corrupt("has unused trailing data");
  return absl::OkStatus();
}

std::unique_ptr<StreamReader> NewZstdReader(std::string_view compressed,
                                            std::string name,
                                            int max_window_log) {
  return std::make_unique<ZstdReader>(compressed, std::move(name),
                                      max_window_log);
}

std::unique_ptr<StreamReader> NewBzip2Reader(std::string_view compressed,
                                             std::string name) {
  return std::make_unique<Bzip2Reader>(compressed, std::move(name));
}

absl::StatusOr<std::string> ZstdCompress(std::string_view data,
                                         const ZstdParams& params) {
  if (data.empty()) return std::string();
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (cctx == nullptr) return absl::ResourceExhaustedError("zstd: no memory");
  auto set = [&](ZSTD_cParameter p, int v) {
    return ZSTD_CCtx_setParameter(cctx, p, v);
  };
  size_t r = set(ZSTD_c_compressionLevel, params.level);
  if (!ZSTD_isError(r) && params.window_log > 0) {
    // A window larger than the data only costs decoder memory.
    int wl = params.window_log;
    while (wl > ZSTD_WINDOWLOG_MIN && (uint64_t{1} << (wl - 1)) >= data.size())
      --wl;
    r = set(ZSTD_c_windowLog, wl);
  }
  if (!ZSTD_isError(r)) r = set(ZSTD_c_checksumFlag, params.checksum ? 1 : 0);
  if (!ZSTD_isError(r) && params.long_distance) {
    r = set(ZSTD_c_enableLongDistanceMatching, 1);
  }
  if (!ZSTD_isError(r) && params.workers > 0 && data.size() > (4u << 20)) {
    // Ignored (error) when libzstd lacks threads; compress single-threaded.
    set(ZSTD_c_nbWorkers, params.workers);
  }
  std::string out;
  if (!ZSTD_isError(r)) {
    out.resize(ZSTD_compressBound(data.size()));
    r = ZSTD_compress2(cctx, out.data(), out.size(), data.data(), data.size());
  }
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(r)) return ZstdError("compress", r);
  out.resize(r);
  out.shrink_to_fit();
  return out;
}

absl::StatusOr<std::string> Bzip2Compress(std::string_view data) {
  if (data.size() > UINT32_MAX / 2) {
    return absl::InvalidArgumentError("input too large for a BSDIFF40 stream");
  }
  unsigned int cap =
      static_cast<unsigned>(data.size() + data.size() / 100 + 600);
  std::string out(cap, '\0');
  int r =
      BZ2_bzBuffToBuffCompress(out.data(), &cap, const_cast<char*>(data.data()),
                               static_cast<unsigned>(data.size()), 9, 0, 0);
  if (r != BZ_OK) {
    return absl::InternalError(strata::StrCat("bzip2 compress error ", r));
  }
  out.resize(cap);
  return out;
}

}  // namespace strata::diff::internal
