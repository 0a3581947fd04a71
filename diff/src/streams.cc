#include "src/streams.h"

#include <bzlib.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_WINDOWLOG_MIN,
                                  // ZSTD_d_forceIgnoreChecksum
#include <sys/mman.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "src/fuzzing.h"
#include "strata/base/strings.h"

namespace strata::diff::internal {
namespace {

// Compressed input is read, and decompressed output handed out, in pieces of
// this size per stream (three streams at once in version 1).
constexpr size_t kReadBuffer = 32 * 1024;

absl::Status ZstdError(std::string_view what, size_t code) {
  return absl::InternalError(
      strata::StrCat("zstd ", what, ": ", ZSTD_getErrorName(code)));
}

// Allocations at least this large go on 2 MiB pages (see NewZstdCCtx).
constexpr size_t kLargePage = size_t{2} << 20;
constexpr size_t kLargePageMin = size_t{2} * kLargePage;

void* AllocateMaybeLarge(void* /*opaque*/, size_t size) {
#ifdef MADV_HUGEPAGE
  if (size >= kLargePageMin) {
    if (size > SIZE_MAX - kLargePage) return nullptr;  // as malloc would
    const size_t rounded = (size + kLargePage - 1) / kLargePage * kLargePage;
    void* p = std::aligned_alloc(kLargePage, rounded);
    // Advice only: without transparent huge pages the memory is ordinary.
    if (p != nullptr) madvise(p, rounded, MADV_HUGEPAGE);
    return p;
  }
#endif
  return std::malloc(size);
}

void FreeMaybeLarge(void* /*opaque*/, void* p) { std::free(p); }

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
  ZstdReader(ByteSource source, std::string name, int max_window_log,
             std::string_view prefix, bool magicless)
      : BufferedReader(std::move(name)),
        dctx_(ZSTD_createDCtx()),
        source_(std::move(source)) {
    in_ = {nullptr, 0, 0};
    ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, max_window_log);
    if (magicless) {
      ZSTD_DCtx_setParameter(dctx_, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    }
    if (kSkipIntegrityChecksForFuzzing) {
      // So mutated frames reach what reads their output (fuzzing.h).
      ZSTD_DCtx_setParameter(dctx_, ZSTD_d_forceIgnoreChecksum,
                             ZSTD_d_ignoreChecksum);
    }
    if (!prefix.empty()) {
      ZSTD_DCtx_refPrefix(dctx_, prefix.data(), prefix.size());
    }
  }
  ~ZstdReader() override { ZSTD_freeDCtx(dctx_); }
  bool InputLeft() const override {
    return in_.pos < in_.size || !source_.AtEnd();
  }

 protected:
  absl::StatusOr<size_t> Fill(char* out, size_t cap) override {
    ZSTD_outBuffer ob = {out, cap, 0};
    while (ob.pos < ob.size) {
      if (in_.pos == in_.size && !source_.AtEnd()) {
        auto piece = source_.Next();
        if (!piece.ok()) return piece.status();
        in_ = {piece->data(), piece->size(), 0};
      }
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
  ByteSource source_;
  ZSTD_inBuffer in_;
  bool frame_done_ = true;  // an empty input is an empty stream
};

class Bzip2Reader : public BufferedReader {
 public:
  Bzip2Reader(ByteSource source, std::string name)
      : BufferedReader(std::move(name)), source_(std::move(source)) {
    std::memset(&strm_, 0, sizeof(strm_));
    init_ = BZ2_bzDecompressInit(&strm_, 0, 0);
  }
  ~Bzip2Reader() override {
    if (init_ == BZ_OK) BZ2_bzDecompressEnd(&strm_);
  }

 protected:
  absl::StatusOr<size_t> Fill(char* out, size_t cap) override {
    if (init_ != BZ_OK) return absl::InternalError("bzip2 init failed");
    if (ended_) return 0;
    strm_.next_out = out;
    strm_.avail_out = static_cast<unsigned>(cap);
    while (strm_.avail_out > 0) {
      if (strm_.avail_in == 0 && !source_.AtEnd()) {
        auto piece = source_.Next();
        if (!piece.ok()) return piece.status();
        strm_.next_in = const_cast<char*>(piece->data());
        strm_.avail_in = static_cast<unsigned>(piece->size());
      }
      int r = BZ2_bzDecompress(&strm_);
      if (r == BZ_STREAM_END) {
        ended_ = true;
        break;
      }
      if (r != BZ_OK) return Corrupt(strata::StrCat("bzip2 error ", r));
      if (strm_.avail_in == 0 && source_.AtEnd() && strm_.avail_out > 0) {
        return Corrupt("truncated");
      }
    }
    return cap - strm_.avail_out;
  }

 public:
  bool InputLeft() const override {
    return strm_.avail_in != 0 || !source_.AtEnd();
  }

 private:
  ByteSource source_;
  bz_stream strm_;
  int init_;
  bool ended_ = false;
};

class RawReader : public StreamReader {
 public:
  RawReader(ByteSource source, std::string name)
      : StreamReader(std::move(name)), source_(std::move(source)) {}
  absl::StatusOr<size_t> ReadSome(char* out, size_t n) override {
    if (piece_.empty()) {
      if (source_.AtEnd()) return 0;
      auto p = source_.Next();
      if (!p.ok()) return p.status();
      piece_ = *p;
    }
    size_t take = std::min(n, piece_.size());
    std::memcpy(out, piece_.data(), take);
    piece_.remove_prefix(take);
    position_ += take;
    return take;
  }

 private:
  ByteSource source_;
  std::string_view piece_;
};

}  // namespace

ByteSource ByteSource::Memory(std::string_view data) {
  ByteSource s;
  s.memory_ = data;
  s.left_ = data.size();
  return s;
}

ByteSource ByteSource::File(const RandomAccessFile* file, uint64_t offset,
                            uint64_t length) {
  ByteSource s;
  s.file_ = file;
  s.offset_ = offset;
  s.left_ = length;
  return s;
}

absl::StatusOr<std::string_view> ByteSource::Next() {
  if (left_ == 0) return std::string_view();
  if (file_ == nullptr) {
    // Pieces below 4 GiB: bzip2 counts its input in 32 bits.
    std::string_view piece = memory_.substr(0, size_t{1} << 30);
    memory_.remove_prefix(piece.size());
    left_ -= piece.size();
    return piece;
  }
  size_t n = static_cast<size_t>(std::min<uint64_t>(left_, kReadBuffer));
  buffer_.resize(kReadBuffer);
  auto got = file_->Read(offset_, n, buffer_.data());
  if (!got.ok()) return got.status();
  if (*got != n) {
    return absl::DataLossError(strata::StrCat(
        "patch file is shorter than its header declares (read ", *got, " of ",
        n, " bytes at offset ", offset_, "); it is truncated, fetch it again"));
  }
  offset_ += n;
  left_ -= n;
  return std::string_view(buffer_.data(), n);
}

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
  return std::make_unique<ZstdReader>(ByteSource::Memory(compressed),
                                      std::move(name), max_window_log,
                                      std::string_view(), /*magicless=*/false);
}

std::unique_ptr<StreamReader> NewZstdReader(ByteSource source, std::string name,
                                            int max_window_log,
                                            std::string_view prefix,
                                            bool magicless) {
  return std::make_unique<ZstdReader>(std::move(source), std::move(name),
                                      max_window_log, prefix, magicless);
}

absl::StatusOr<bool> MagiclessFrameHasChecksum(std::string_view head) {
  ZSTD_frameHeader fh;
  size_t r = ZSTD_getFrameHeader_advanced(&fh, head.data(), head.size(),
                                          ZSTD_f_zstd1_magicless);
  if (ZSTD_isError(r) || head.empty()) {
    return absl::DataLossError(strata::StrCat(
        "patch is corrupt: bad zstd frame header (",
        head.empty() ? "missing" : ZSTD_getErrorName(r),
        "); the patch file is damaged or truncated, fetch it again"));
  }
  // r > 0: `head` holds only part of the header; the descriptor byte (the
  // first) is enough for the checksum flag (RFC 8878, 3.1.1.1.1).
  if (r > 0) return (static_cast<uint8_t>(head[0]) & 0x04) != 0;
  return fh.checksumFlag != 0;
}

std::unique_ptr<StreamReader> NewBzip2Reader(std::string_view compressed,
                                             std::string name) {
  return NewBzip2Reader(ByteSource::Memory(compressed), std::move(name));
}

std::unique_ptr<StreamReader> NewBzip2Reader(ByteSource source,
                                             std::string name) {
  return std::make_unique<Bzip2Reader>(std::move(source), std::move(name));
}

std::unique_ptr<StreamReader> NewRawReader(ByteSource source,
                                           std::string name) {
  return std::make_unique<RawReader>(std::move(source), std::move(name));
}

namespace {

absl::StatusOr<std::string> Compress(std::string_view data,
                                     std::string_view prefix,
                                     const ZstdParams& params) {
  if (data.empty()) return std::string();
  const ZstdCCtxPtr owned = NewZstdCCtx();
  ZSTD_CCtx* const cctx = owned.get();
  if (cctx == nullptr) return absl::ResourceExhaustedError("zstd: no memory");
  auto set = [&](ZSTD_cParameter p, int v) {
    return ZSTD_CCtx_setParameter(cctx, p, v);
  };
  size_t r = set(ZSTD_c_compressionLevel, params.level);
  if (!ZSTD_isError(r) && params.window_log > 0) {
    // A window larger than the data (and its history) only costs decoder
    // memory.
    uint64_t span = data.size() + prefix.size();
    int wl = params.window_log;
    while (wl > ZSTD_WINDOWLOG_MIN && (uint64_t{1} << (wl - 1)) >= span) --wl;
    r = set(ZSTD_c_windowLog, wl);
  }
  if (!ZSTD_isError(r)) r = set(ZSTD_c_checksumFlag, params.checksum ? 1 : 0);
  if (!ZSTD_isError(r)) {
    r = set(ZSTD_c_contentSizeFlag, params.content_size ? 1 : 0);
  }
  if (!ZSTD_isError(r) && params.magicless) {
    r = set(ZSTD_c_format, ZSTD_f_zstd1_magicless);
  }
  if (!ZSTD_isError(r) && params.long_distance) {
    r = set(ZSTD_c_enableLongDistanceMatching, 1);
  }
  if (!ZSTD_isError(r) && params.workers > 0 && data.size() > (4u << 20)) {
    // Ignored (error) when libzstd lacks threads; compress single-threaded.
    set(ZSTD_c_nbWorkers, params.workers);
  }
  if (!ZSTD_isError(r) && !prefix.empty()) {
    r = ZSTD_CCtx_refPrefix(cctx, prefix.data(), prefix.size());
  }
  std::string out;
  if (!ZSTD_isError(r)) {
    out.resize(ZSTD_compressBound(data.size()));
    r = ZSTD_compress2(cctx, out.data(), out.size(), data.data(), data.size());
  }
  if (ZSTD_isError(r)) return ZstdError("compress", r);
  out.resize(r);
  out.shrink_to_fit();
  return out;
}

}  // namespace

void* AllocateLarge(size_t bytes) { return AllocateMaybeLarge(nullptr, bytes); }

void AdviseLargePages(void* p, size_t n) {
#ifdef MADV_HUGEPAGE
  if (n < kLargePageMin) return;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (begin + kLargePage - 1) / kLargePage * kLargePage;
  const uintptr_t last = (begin + n) / kLargePage * kLargePage;
  if (last > first) {
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
#else
  (void)p;
  (void)n;
#endif
}

void FreeZstdCCtx::operator()(ZSTD_CCtx* cctx) const { ZSTD_freeCCtx(cctx); }

ZstdCCtxPtr NewZstdCCtx() {
  return ZstdCCtxPtr(ZSTD_createCCtx_advanced(
      ZSTD_customMem{AllocateMaybeLarge, FreeMaybeLarge, nullptr}));
}

absl::StatusOr<std::string> ZstdCompress(std::string_view data,
                                         const ZstdParams& params) {
  return Compress(data, std::string_view(), params);
}

absl::StatusOr<std::string> ZstdCompressWithPrefix(std::string_view data,
                                                   std::string_view prefix,
                                                   const ZstdParams& params) {
  return Compress(data, prefix, params);
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
