#include "strata/diff/delta.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "src/anchored_frame.h"
#include "src/apply.h"
#include "src/matcher.h"
#include "src/out_of_memory.h"
#include "src/patch_header.h"
#include "src/streams.h"
#include "src/threads.h"
#include "src/varint.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::diff {
namespace {

using internal::Segment;

constexpr size_t kChunk = 64 * 1024;

absl::Status CheckOptions(const DiffOptions& o) {
  if (o.level < 1 || o.level > 22) {
    return absl::InvalidArgumentError(
        strata::StrCat("compression level ", o.level, " is outside 1..22"));
  }
  if (o.window_log < 10 || o.window_log > 27) {
    return absl::InvalidArgumentError(
        strata::StrCat("window log ", o.window_log, " is outside 10..27"));
  }
  if (o.prefix_window_log < 16 || o.prefix_window_log > 27) {
    return absl::InvalidArgumentError(strata::StrCat(
        "prefix window log ", o.prefix_window_log, " is outside 16..27"));
  }
  if (o.threads < 1 || o.threads > 64) {
    return absl::InvalidArgumentError(
        strata::StrCat("thread count ", o.threads, " is outside 1..64"));
  }
  return absl::OkStatus();
}

// The Strata diff stream is stored sparsely: groups of
//   varint zero_run, varint literal_run, literal_run non-zero bytes.
// Mostly-zero diff bytes become ~20x smaller before compression, which
// makes compression both faster and ~8% tighter than on the raw bytes.
class SparseEncoder {
 public:
  void Append(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (p[i] == 0) {
        if (!literals_.empty()) Flush();
        ++zeros_;
      } else {
        literals_.push_back(p[i]);
      }
    }
  }
  std::string Finish() {
    if (zeros_ > 0 || !literals_.empty()) Flush();
    return std::move(out_);
  }

 private:
  void Flush() {
    internal::PutVarint(out_, zeros_);
    internal::PutVarint(out_, literals_.size());
    out_ += literals_;
    literals_.clear();
    zeros_ = 0;
  }
  std::string out_, literals_;
  uint64_t zeros_ = 0;
};

// Carry-aware diff bytes (Strata format). The decoder computes
//   new = old + d + carry (mod 256), where d is read as a signed byte and
//   carry (-1, 0 or +1) is the overflow of old + d + carry at the previous
//   byte of the same add region.
// A little-endian field changed by a constant (a relocated pointer or call
// offset) then gives the same diff bytes whatever its old value, where a
// plain byte difference varies with the carries; the diff stream of an
// executable compresses ~16% smaller.
inline uint8_t CarryDiff(uint8_t old_byte, uint8_t new_byte, int* carry) {
  uint8_t d = static_cast<uint8_t>(new_byte - old_byte - *carry);
  int sum = old_byte + static_cast<int8_t>(d) + *carry;
  *carry = sum >= 256 ? 1 : (sum < 0 ? -1 : 0);
  return d;
}
inline uint8_t CarryAdd(uint8_t old_byte, uint8_t d, int* carry) {
  int sum = old_byte + static_cast<int8_t>(d) + *carry;
  *carry = sum >= 256 ? 1 : (sum < 0 ? -1 : 0);
  return static_cast<uint8_t>(sum);
}

struct Streams {
  std::string ctrl, diff, extra;  // diff: raw (BSDIFF40) or sparse (Strata)
  uint64_t diff_raw = 0;
};

// The raw (uncompressed) streams for a segment list.
Streams BuildStreams(std::string_view old_data, std::string_view new_data,
                     const std::vector<Segment>& segs, bool bsdiff) {
  Streams s;
  uint64_t add_total = 0, extra_total = 0;
  for (const Segment& g : segs) {
    add_total += g.add_len;
    extra_total += g.extra_len;
  }
  s.diff_raw = add_total;
  if (bsdiff) s.diff.resize(add_total);
  s.extra.reserve(extra_total);
  char* d = s.diff.data();
  SparseEncoder sparse;
  constexpr size_t kPiece = 64 * 1024;
  std::vector<char> piece(bsdiff ? 0 : kPiece);
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment& g = segs[i];
    const char* nw = new_data.data() + g.new_pos;
    const char* od = old_data.data() + g.old_pos;
    if (bsdiff) {
      for (uint64_t k = 0; k < g.add_len; ++k) {
        *d++ = static_cast<char>(static_cast<uint8_t>(nw[k]) -
                                 static_cast<uint8_t>(od[k]));
      }
    } else {
      // In pieces through one small buffer (the encoder is a stream):
      // a buffer the size of each segment was zero-filled first.
      int carry = 0;
      for (uint64_t k0 = 0; k0 < g.add_len; k0 += kPiece) {
        const size_t m =
            static_cast<size_t>(std::min<uint64_t>(kPiece, g.add_len - k0));
        for (size_t k = 0; k < m; ++k) {
          piece[k] = static_cast<char>(
              CarryDiff(static_cast<uint8_t>(od[k0 + k]),
                        static_cast<uint8_t>(nw[k0 + k]), &carry));
        }
        sparse.Append(piece.data(), m);
      }
    }
    s.extra.append(nw + g.add_len, g.extra_len);
    int64_t seek = 0;
    if (i + 1 < segs.size()) {
      seek = static_cast<int64_t>(segs[i + 1].old_pos) -
             static_cast<int64_t>(g.old_pos + g.add_len);
    }
    if (bsdiff) {
      internal::PutOfft(s.ctrl, static_cast<int64_t>(g.add_len));
      internal::PutOfft(s.ctrl, static_cast<int64_t>(g.extra_len));
      internal::PutOfft(s.ctrl, seek);
    } else {
      internal::PutVarint(s.ctrl, g.add_len);
      internal::PutVarint(s.ctrl, g.extra_len);
      internal::PutVarint(s.ctrl, internal::ZigZag(seek));
    }
  }
  if (!bsdiff) s.diff = sparse.Finish();
  return s;
}

Sha256Digest HashData(std::string_view data) { return Sha256::Hash(data); }

// Reads the sparse diff stream back as plain diff bytes.
class SparseDiffReader {
 public:
  explicit SparseDiffReader(internal::StreamReader* in) : in_(in) {}
  // The next run of at most `max` (> 0) diff bytes: a run of zeros, or
  // literal bytes to be read with ReadLiterals(len) before calling again.
  absl::Status Next(uint64_t max, bool* zero, uint64_t* len) {
    if (zeros_ == 0 && literals_ == 0) {
      STRATA_RETURN_IF_ERROR(in_->ReadVarint(&zeros_));
      STRATA_RETURN_IF_ERROR(in_->ReadVarint(&literals_));
      if (zeros_ == 0 && literals_ == 0) {
        return absl::DataLossError(
            "patch is corrupt: empty group in the diff stream; the patch "
            "file is damaged, fetch it again");
      }
    }
    *zero = zeros_ > 0;
    uint64_t& left = *zero ? zeros_ : literals_;
    *len = std::min(left, max);
    left -= *len;
    return absl::OkStatus();
  }
  absl::Status ReadLiterals(char* out, size_t n) {
    return in_->ReadExact(out, n);
  }
  absl::Status ExpectEnd() {
    if (zeros_ != 0 || literals_ != 0) {
      return absl::DataLossError(
          "patch is corrupt: the diff stream has unused bytes; the patch "
          "file is damaged, fetch it again");
    }
    return in_->ExpectEnd();
  }

 private:
  internal::StreamReader* in_;
  uint64_t zeros_ = 0, literals_ = 0;
};

absl::Status WrongBase(std::string_view what) {
  return absl::DataLossError(
      strata::StrCat("patch does not apply to this old file: ", what,
                     "; use the base the patch was made from"));
}

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(strata::StrCat(
      "patch is corrupt: ", what,
      "; the patch file is damaged or truncated, fetch it again"));
}

absl::Status ReadOld(const RandomAccessFile& old, uint64_t offset, size_t n,
                     char* out) {
  STRATA_ASSIGN_OR_RETURN(size_t got, old.Read(offset, n, out));
  if (got != n) {
    return absl::DataLossError(
        strata::StrCat("old file is shorter than expected (read ", got, " of ",
                       n, " bytes at offset ", offset, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Sha256Digest> HashFile(const RandomAccessFile& f,
                                      const ProgressFn& progress) {
  Sha256 h;
  std::vector<char> buf(kChunk);
  uint64_t size = f.Size();
  for (uint64_t off = 0; off < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    STRATA_RETURN_IF_ERROR(ReadOld(f, off, n, buf.data()));
    h.Update(std::string_view(buf.data(), n));
    off += n;
    if (progress && size > (8u << 20) && (off & ((16u << 20) - 1)) < n) {
      progress("hashing", static_cast<double>(off) / size);
    }
  }
  return h.Finish();
}

// Writes output, hashing it, counting it, reporting progress.
class Output {
 public:
  Output(ByteSink& sink, uint64_t total, const ProgressFn& progress, bool hash)
      : sink_(sink), total_(total), progress_(progress), hash_(hash) {}
  absl::Status Append(std::string_view d) {
    if (hash_) sha_.Update(d);
    written_ += d.size();
    if (progress_ && total_ > (8u << 20) &&
        written_ - reported_ >= (16u << 20)) {
      reported_ = written_;
      progress_("applying", static_cast<double>(written_) / total_);
    }
    return sink_.Append(d);
  }
  uint64_t written() const { return written_; }
  Sha256Digest Finish() { return sha_.Finish(); }

 private:
  ByteSink& sink_;
  uint64_t total_;
  const ProgressFn& progress_;
  bool hash_;
  Sha256 sha_;
  uint64_t written_ = 0, reported_ = 0;
};

// The first `n` bytes of two digests agree.
bool SameHash(const Sha256Digest& a, const Sha256Digest& b, uint32_t n) {
  return n <= a.size() && std::memcmp(a.data(), b.data(), n) == 0;
}

// The Output's SHA-256 against the (possibly shortened) declared one and
// the caller's expected one.
absl::Status CheckOutputHash(Output& out, const PatchInfo& info,
                             const ApplyOptions& options) {
  Sha256Digest got = out.Finish();
  if (!SameHash(got, info.new_sha256, info.new_hash_bytes)) {
    return Corrupt(strata::StrCat(
        "output SHA-256 ", ToHex(got), " differs from the declared ",
        ToHex(info.new_sha256).substr(0, 2 * info.new_hash_bytes)));
  }
  if (options.expected_new_sha256 && got != *options.expected_new_sha256) {
    return absl::DataLossError(strata::StrCat(
        "patch output SHA-256 ", ToHex(got), " differs from the expected ",
        ToHex(*options.expected_new_sha256),
        ": the patch is damaged or was made for another new file; fetch it "
        "again"));
  }
  return absl::OkStatus();
}

absl::Status CheckBase(const RandomAccessFile& old, const PatchInfo& info,
                       const ApplyOptions& options, bool verify_hash) {
  // Version 3 does not record the old size: its old check covers it.
  if (info.version != internal::kCompactVersion &&
      old.Size() != info.old_size) {
    return WrongBase(strata::StrCat("the patch expects an old file of ",
                                    info.old_size, " bytes, this one has ",
                                    old.Size()));
  }
  if (!verify_hash) return absl::OkStatus();
  STRATA_ASSIGN_OR_RETURN(Sha256Digest old_hash,
                          HashFile(old, options.progress));
  if (!SameHash(old_hash, info.old_sha256, info.old_hash_bytes)) {
    return WrongBase(strata::StrCat(
        "its SHA-256 is ", ToHex(old_hash), ", the patch expects ",
        ToHex(info.old_sha256).substr(0, 2 * info.old_hash_bytes)));
  }
  return absl::OkStatus();
}

// The zstd-prefix method: a raw block table (varint new_len, old_offset,
// old_len, frame_len per block), then the frames. Each block is one zstd
// frame made against old[old_offset, old_offset + old_len).
absl::Status ApplyPrefix(const RandomAccessFile& old,
                         const RandomAccessFile& patch, const PatchInfo& info,
                         ByteSink& sink, const ApplyOptions& options) {
  uint64_t off = internal::StrataHeaderSize(info, patch.Size());
  auto table = internal::NewRawReader(
      internal::ByteSource::File(&patch, off, info.ctrl_bytes), "blocks");
  uint64_t frame_off = off + info.ctrl_bytes, frames_left = info.extra_bytes;
  const uint64_t budget = uint64_t{1} << info.window_log;
  Output out(sink, info.new_size, options.progress, /*hash=*/true);
  std::string window;
  std::vector<char> buf(kChunk);
  // No table: one block, the whole new file against the whole old file.
  const bool implicit = info.ctrl_bytes == 0;
  for (uint64_t i = 0; i < info.segments; ++i) {
    uint64_t new_len = info.new_size, old_off = 0, old_len = info.old_size,
             frame_len = info.extra_bytes;
    if (!implicit) {
      STRATA_RETURN_IF_ERROR(table->ReadVarint(&new_len));
      STRATA_RETURN_IF_ERROR(table->ReadVarint(&old_off));
      STRATA_RETURN_IF_ERROR(table->ReadVarint(&old_len));
      STRATA_RETURN_IF_ERROR(table->ReadVarint(&frame_len));
    }
    if (new_len > info.new_size - out.written()) {
      return Corrupt(strata::StrCat("block ", i, " runs past the new size"));
    }
    if (old_len > info.old_size || old_off > info.old_size - old_len) {
      return Corrupt(strata::StrCat("block ", i, " reads past the old file"));
    }
    if (new_len == 0) {
      if (frame_len != 0) {
        return Corrupt(strata::StrCat("block ", i, " is empty but has data"));
      }
      continue;
    }
    if (old_len > budget || new_len > budget - old_len) {
      return Corrupt(strata::StrCat("block ", i,
                                    " needs more memory than the header "
                                    "declares"));
    }
    if (frame_len > frames_left) {
      return Corrupt(strata::StrCat("block ", i, " runs past the patch"));
    }
    window.resize(static_cast<size_t>(old_len));
    if (old_len > 0) {
      STRATA_RETURN_IF_ERROR(
          ReadOld(old, old_off, static_cast<size_t>(old_len), window.data()));
    }
    auto frame = internal::NewZstdReader(
        internal::ByteSource::File(&patch, frame_off, frame_len),
        strata::StrCat("block ", i), static_cast<int>(info.window_log), window);
    for (uint64_t left = new_len; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, kChunk));
      STRATA_RETURN_IF_ERROR(frame->ReadExact(buf.data(), n));
      STRATA_RETURN_IF_ERROR(out.Append(std::string_view(buf.data(), n)));
      left -= n;
    }
    STRATA_RETURN_IF_ERROR(frame->ExpectEnd());
    frame_off += frame_len;
    frames_left -= frame_len;
  }
  if (out.written() != info.new_size || frames_left != 0) {
    return Corrupt(strata::StrCat("blocks produced ", out.written(),
                                  " bytes, the header declares ",
                                  info.new_size));
  }
  STRATA_RETURN_IF_ERROR(table->ExpectEnd());
  return CheckOutputHash(out, info, options);
}

// Smallest log2 (>= 10) of a window holding `bytes`.
int WindowLogFor(uint64_t bytes) {
  int wl = 10;
  while (wl < 27 && (uint64_t{1} << wl) < bytes) ++wl;
  return wl;
}

// Version 3: one magicless zstd frame made against the whole old file.
// The caller checked the memory limit, the base and that the output is
// checked (frame checksum or expected SHA-256).
absl::Status ApplyCompact(const RandomAccessFile& old,
                          const RandomAccessFile& patch, const PatchInfo& info,
                          ByteSink& sink, const ApplyOptions& options) {
  const uint64_t frame_off = patch.Size() - info.extra_bytes;
  // The frame's own checksum (if any) is verified by zstd; the SHA-256 is
  // computed only to compare with the caller's.
  Output out(sink, info.new_size, options.progress,
             /*hash=*/options.expected_new_sha256.has_value());
  if (info.new_size > 0) {
    std::string window(static_cast<size_t>(old.Size()), '\0');
    if (!window.empty()) {
      STRATA_RETURN_IF_ERROR(ReadOld(old, 0, window.size(), window.data()));
    }
    auto frame = internal::NewZstdReader(
        internal::ByteSource::File(&patch, frame_off, info.extra_bytes),
        "frame", WindowLogFor(old.Size() + info.new_size), window,
        /*magicless=*/true);
    std::vector<char> buf(
        static_cast<size_t>(std::min<uint64_t>(info.new_size, kChunk)));
    for (uint64_t left = info.new_size; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      STRATA_RETURN_IF_ERROR(frame->ReadExact(buf.data(), n));
      STRATA_RETURN_IF_ERROR(out.Append(std::string_view(buf.data(), n)));
      left -= n;
    }
    STRATA_RETURN_IF_ERROR(frame->ExpectEnd());
  }
  if (!options.expected_new_sha256) return absl::OkStatus();
  return CheckOutputHash(out, info, options);
}

absl::Status ApplyStrata(const RandomAccessFile& old,
                         const RandomAccessFile& patch, const PatchInfo& info,
                         ByteSink& sink, const ApplyOptions& options) {
  if (info.version == internal::kCompactVersion) {
    return ApplyCompact(old, patch, info, sink, options);
  }
  if (info.method == PatchMethod::kZstdPrefix) {
    return ApplyPrefix(old, patch, info, sink, options);
  }
  uint64_t off = internal::StrataHeaderSize(info, patch.Size());
  const int wl = static_cast<int>(info.window_log);
  auto ctrl = internal::NewZstdReader(
      internal::ByteSource::File(&patch, off, info.ctrl_bytes), "ctrl", wl);
  off += info.ctrl_bytes;
  auto diff = internal::NewZstdReader(
      internal::ByteSource::File(&patch, off, info.diff_bytes), "diff", wl);
  off += info.diff_bytes;
  auto extra = internal::NewZstdReader(
      internal::ByteSource::File(&patch, off, info.extra_bytes), "extra", wl);

  SparseDiffReader sparse(diff.get());
  Output out(sink, info.new_size, options.progress, /*hash=*/true);
  std::vector<char> dbuf(kChunk), obuf(kChunk);
  uint64_t old_pos = 0, added = 0;
  for (uint64_t i = 0; i < info.segments; ++i) {
    uint64_t add, ext, zseek;
    STRATA_RETURN_IF_ERROR(ctrl->ReadVarint(&add));
    STRATA_RETURN_IF_ERROR(ctrl->ReadVarint(&ext));
    STRATA_RETURN_IF_ERROR(ctrl->ReadVarint(&zseek));
    uint64_t left = info.new_size - out.written();
    if (add > left || ext > left - add) {
      return Corrupt(strata::StrCat("segment ", i, " runs past the new size"));
    }
    added += add;
    if (add > info.old_size || old_pos > info.old_size - add) {
      return Corrupt(strata::StrCat("segment ", i, " reads past the old file"));
    }
    int carry = 0;  // per add region
    while (add > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(add, kChunk));
      STRATA_RETURN_IF_ERROR(ReadOld(old, old_pos, n, obuf.data()));
      uint8_t* o = reinterpret_cast<uint8_t*>(obuf.data());
      const uint8_t* d = reinterpret_cast<const uint8_t*>(dbuf.data());
      for (size_t k = 0; k < n;) {
        bool zero = false;
        uint64_t len = 0;
        STRATA_RETURN_IF_ERROR(sparse.Next(n - k, &zero, &len));
        size_t end = k + static_cast<size_t>(len);
        if (zero) {
          // Zero diff bytes keep the old byte once the carry has settled.
          for (; k < end && carry != 0; ++k) o[k] = CarryAdd(o[k], 0, &carry);
        } else {
          STRATA_RETURN_IF_ERROR(sparse.ReadLiterals(dbuf.data() + k, len));
          for (; k < end; ++k) o[k] = CarryAdd(o[k], d[k], &carry);
        }
        k = end;
      }
      STRATA_RETURN_IF_ERROR(out.Append(std::string_view(obuf.data(), n)));
      add -= n;
      old_pos += n;
    }
    while (ext > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(ext, kChunk));
      STRATA_RETURN_IF_ERROR(extra->ReadExact(dbuf.data(), n));
      STRATA_RETURN_IF_ERROR(out.Append(std::string_view(dbuf.data(), n)));
      ext -= n;
    }
    int64_t seek = internal::UnZigZag(zseek);
    if ((seek < 0 && static_cast<uint64_t>(-(seek + 1)) + 1 > old_pos) ||
        (seek > 0 && static_cast<uint64_t>(seek) > info.old_size - old_pos)) {
      return Corrupt(
          strata::StrCat("segment ", i, " seeks outside the old file"));
    }
    old_pos = static_cast<uint64_t>(static_cast<int64_t>(old_pos) + seek);
  }
  if (out.written() != info.new_size) {
    return Corrupt(strata::StrCat("produced ", out.written(),
                                  " bytes, the header declares ",
                                  info.new_size));
  }
  if (added != info.diff_raw_bytes) {  // the header's diff_raw is exact
    return Corrupt(strata::StrCat("the add regions cover ", added,
                                  " bytes, the header declares ",
                                  info.diff_raw_bytes));
  }
  STRATA_RETURN_IF_ERROR(ctrl->ExpectEnd());
  STRATA_RETURN_IF_ERROR(sparse.ExpectEnd());
  STRATA_RETURN_IF_ERROR(extra->ExpectEnd());
  return CheckOutputHash(out, info, options);
}

absl::Status ApplyBsdiff(const RandomAccessFile& old,
                         const RandomAccessFile& patch, const PatchInfo& info,
                         ByteSink& sink, const ApplyOptions& options) {
  uint64_t off = internal::kBsdiffHeaderSize;
  auto ctrl = internal::NewBzip2Reader(
      internal::ByteSource::File(&patch, off, info.ctrl_bytes), "ctrl");
  off += info.ctrl_bytes;
  auto diff = internal::NewBzip2Reader(
      internal::ByteSource::File(&patch, off, info.diff_bytes), "diff");
  off += info.diff_bytes;
  auto extra = internal::NewBzip2Reader(
      internal::ByteSource::File(&patch, off, info.extra_bytes), "extra");
  const int64_t old_size = static_cast<int64_t>(old.Size());
  constexpr int64_t kLimit = int64_t{1} << 62;

  Output out(sink, info.new_size, options.progress,
             /*hash=*/options.expected_new_sha256.has_value());
  std::vector<char> dbuf(kChunk), obuf(kChunk);
  int64_t old_pos = 0;
  while (out.written() < info.new_size) {
    char raw[24];
    STRATA_RETURN_IF_ERROR(ctrl->ReadExact(raw, 24));
    int64_t add, ext, seek;
    internal::GetOfft(raw, &add);
    internal::GetOfft(raw + 8, &ext);
    internal::GetOfft(raw + 16, &seek);
    uint64_t left = info.new_size - out.written();
    if (add < 0 || ext < 0 || static_cast<uint64_t>(add) > left ||
        static_cast<uint64_t>(ext) > left - static_cast<uint64_t>(add)) {
      return Corrupt("control entry runs past the new size");
    }
    if (seek > kLimit || seek < -kLimit || old_pos > kLimit ||
        old_pos < -kLimit) {
      return Corrupt("control entry seeks out of range");
    }
    while (add > 0) {
      size_t n = static_cast<size_t>(std::min<int64_t>(add, kChunk));
      STRATA_RETURN_IF_ERROR(diff->ReadExact(dbuf.data(), n));
      // bspatch semantics: old bytes outside the old file count as zero.
      int64_t lo = std::max<int64_t>(old_pos, 0);
      int64_t hi =
          std::min<int64_t>(old_pos + static_cast<int64_t>(n), old_size);
      if (lo < hi) {
        STRATA_RETURN_IF_ERROR(ReadOld(old, static_cast<uint64_t>(lo),
                                       static_cast<size_t>(hi - lo),
                                       obuf.data()));
        for (int64_t k = lo; k < hi; ++k) {
          dbuf[k - old_pos] =
              static_cast<char>(dbuf[k - old_pos] + obuf[k - lo]);
        }
      }
      STRATA_RETURN_IF_ERROR(out.Append(std::string_view(dbuf.data(), n)));
      add -= static_cast<int64_t>(n);
      old_pos += static_cast<int64_t>(n);
    }
    while (ext > 0) {
      size_t n = static_cast<size_t>(std::min<int64_t>(ext, kChunk));
      STRATA_RETURN_IF_ERROR(extra->ReadExact(dbuf.data(), n));
      STRATA_RETURN_IF_ERROR(out.Append(std::string_view(dbuf.data(), n)));
      ext -= static_cast<int64_t>(n);
    }
    old_pos += seek;
  }
  if (!options.expected_new_sha256) return absl::OkStatus();
  return CheckOutputHash(out, info, options);  // BSDIFF40: no declared hash
}

// The frame of a one-block zstd-prefix patch: the whole new file against
// the whole old file (as zstd --patch-from). `compact` (format version 3):
// magicless, no content size (the header has it), zstd's checksum only with
// OutputCheck::kInPatch; otherwise a standard frame (version 2 without a
// block table, the form of tree patch bodies).
// `sparse`, if given, is set when the frame's changed stretches are mostly
// sparse byte changes (see AnchoredFrame), where the suffix-array method
// may do better.
absl::StatusOr<std::string> WholeFileFrame(std::string_view old_data,
                                           std::string_view new_data,
                                           const DiffOptions& options,
                                           bool compact, bool* sparse = nullptr,
                                           int threads = 1) {
  internal::ZstdParams zp;
  zp.level = options.level;
  zp.window_log = options.prefix_window_log;
  zp.checksum = compact && options.output_check == OutputCheck::kInPatch;
  zp.magicless = compact;
  zp.content_size = !compact;
  // Long-distance matching finds the long runs of old content quickly and
  // makes patches ~3% smaller on JSON (as zstd --patch-from --long does).
  zp.long_distance = true;
  // Up to an eighth of the new file in changed stretches, tree bodies
  // (compact == false: all changed files against all old files) too. The
  // lodash package's body (11% changed, its minified files rewritten all
  // through) had zstd's own parse at 1/64 (11,743 B of frame against the
  // anchored frame's 12,847 then); with the rewritten stretches' old text
  // kept whole (anchored_frame.cc) the frame is 11,951 B, and the tree
  // patch, 12,189 B, still below zstd's 12,277 on the tar, in a third of
  // the time.
  const uint64_t most_changed = 8;
  {
    STRATA_ASSIGN_OR_RETURN(std::optional<internal::AnchoredFrame> anchored,
                            internal::AnchoredPrefixFrame(
                                new_data, old_data, zp, most_changed, threads));
    if (anchored) {
      if (sparse != nullptr) {
        *sparse = anchored->sparse_bytes > 0 &&
                  anchored->sparse_bytes * 8 >= anchored->changed_bytes;
      }
      return std::move(anchored->frame);
    }
  }
  return internal::ZstdCompressWithPrefix(new_data, old_data, zp);
}

// The patch around a WholeFileFrame; `info` has the sizes and hashes.
std::string AssembleWholeFilePatch(const std::string& frame, PatchInfo info,
                                   bool compact) {
  std::string out;
  if (compact) {
    // Version 3: 2-byte magic, new size, 4-byte old check, the frame.
    out = internal::EncodeCompactHeader(info);
  } else {
    info.method = PatchMethod::kZstdPrefix;
    info.segments = 1;
    info.ctrl_bytes = 0;  // no block table: one block of the whole files
    info.diff_bytes = 0;
    info.extra_bytes = frame.size();
    info.diff_raw_bytes = 0;
    info.extra_raw_bytes = info.new_size;
    info.window_log =
        static_cast<uint32_t>(WindowLogFor(info.old_size + info.new_size));
    out = internal::EncodeStrataHeader(info);
  }
  out += frame;
  return out;
}

// The zstd-prefix method: the new file in blocks of a quarter of the memory
// budget, each compressed against the window of the old file its matches
// point at (the weighted median of the segments' diagonals), so the applier
// holds one old window and one block at a time (format version 2). Only for
// inputs that do not fit the budget together (see WholeFileFrame).
absl::StatusOr<std::string> CreatePrefixPatch(std::string_view old_data,
                                              std::string_view new_data,
                                              const std::vector<Segment>& segs,
                                              const PatchInfo& base,
                                              const DiffOptions& options) {
  struct Block {
    uint64_t new_pos, new_len, old_off, old_len;
    std::string frame;
    absl::Status status;
  };
  const uint64_t budget = uint64_t{1} << options.prefix_window_log;
  std::vector<Block> blocks;
  const uint64_t block = budget / 4;
  const uint64_t window = std::min<uint64_t>(old_data.size(), budget - block);
  size_t si = 0;
  int64_t diag = 0;
  for (uint64_t a = 0; a < new_data.size(); a += block) {
    uint64_t b = std::min<uint64_t>(a + block, new_data.size());
    std::vector<std::pair<int64_t, uint64_t>> diags;  // diagonal, weight
    while (si < segs.size() && segs[si].new_pos + segs[si].add_len <= a) {
      ++si;
    }
    for (size_t k = si; k < segs.size() && segs[k].new_pos < b; ++k) {
      uint64_t lo = std::max(a, segs[k].new_pos);
      uint64_t hi = std::min(b, segs[k].new_pos + segs[k].add_len);
      if (hi > lo) {
        diags.emplace_back(static_cast<int64_t>(segs[k].old_pos) -
                               static_cast<int64_t>(segs[k].new_pos),
                           hi - lo);
      }
    }
    if (!diags.empty()) {
      std::sort(diags.begin(), diags.end());
      uint64_t total = 0, acc = 0;
      for (auto& d : diags) total += d.second;
      for (auto& d : diags) {
        acc += d.second;
        if (2 * acc >= total) {
          diag = d.first;
          break;
        }
      }
    }
    int64_t centre = static_cast<int64_t>(a + (b - a) / 2) + diag;
    int64_t start = centre - static_cast<int64_t>(window / 2);
    start = std::clamp<int64_t>(start, 0,
                                static_cast<int64_t>(old_data.size() - window));
    blocks.push_back({a, b - a, static_cast<uint64_t>(start), window, {}, {}});
  }
  internal::ZstdParams zp;
  zp.level = options.level;
  zp.window_log = options.prefix_window_log;
  zp.checksum = false;
  // Long-distance matching finds the long runs of old content quickly and
  // makes patches ~3% smaller on JSON (as zstd --patch-from --long does).
  zp.long_distance = true;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < blocks.size(); i = next++) {
      Block& bl = blocks[i];
      auto f = internal::ZstdCompressWithPrefix(
          new_data.substr(bl.new_pos, bl.new_len),
          old_data.substr(bl.old_off, bl.old_len), zp);
      if (f.ok()) {
        bl.frame = std::move(*f);
      } else {
        bl.status = f.status();
      }
    }
  };
  internal::RunOnThreads(
      std::min<int>(options.threads, static_cast<int>(blocks.size())), work);
  PatchInfo info = base;
  info.method = PatchMethod::kZstdPrefix;
  info.segments = blocks.size();
  std::string table;
  uint64_t frames = 0;
  int wl = 10;
  for (const Block& bl : blocks) {
    STRATA_RETURN_IF_ERROR(bl.status);
    internal::PutVarint(table, bl.new_len);
    internal::PutVarint(table, bl.old_off);
    internal::PutVarint(table, bl.old_len);
    internal::PutVarint(table, bl.frame.size());
    frames += bl.frame.size();
    wl = std::max(wl, WindowLogFor(bl.old_len + bl.new_len));
  }
  info.window_log = static_cast<uint32_t>(wl);
  if (blocks.size() <= 1 &&
      (blocks.empty() || (blocks[0].old_len == old_data.size() &&
                          blocks[0].new_len == new_data.size()))) {
    table.clear();  // one block of the whole files: no table
  }
  info.segments = std::max<size_t>(blocks.size(), 1);
  info.ctrl_bytes = table.size();
  info.diff_bytes = 0;
  info.extra_bytes = frames;
  info.diff_raw_bytes = 0;
  info.extra_raw_bytes = new_data.size();
  std::string out = internal::EncodeStrataHeader(info);
  out.reserve(out.size() + table.size() + frames);
  out += table;
  for (const Block& bl : blocks) out += bl.frame;
  return out;
}

// kAuto tries the zstd-prefix method up to this new size: above it, zstd's
// level-19 parser against a large history costs more time than the
// suffix-array diff saves, and the suffix-array patch is rarely larger.
constexpr uint64_t kAutoPrefixMaxSize = 4u << 20;
// Text whose frame is at most 1/kFrameFirstRatio of the new file skips the
// suffix-array tries (see CreatePatchWithForm).
constexpr uint64_t kFrameFirstRatio = 32;
// The far-jump switch threshold of the second scan (see CreatePatch).
constexpr int kFarThresholdForData = 128;

// True if a sample of `data` has almost no control bytes other than
// whitespace (text, JSON, JS; UTF-8 passes). Executables and compressed
// data fail at once.
bool LooksLikeText(std::string_view data) {
  if (data.empty()) return false;
  const size_t step = std::max<size_t>(1, data.size() / 65536);
  size_t seen = 0, control = 0;
  for (size_t i = 0; i < data.size(); i += step) {
    uint8_t c = static_cast<uint8_t>(data[i]);
    ++seen;
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f') {
      ++control;
    }
  }
  return control * 100 <= seen;
}

absl::StatusOr<std::string> EncodeBsdiff(std::string_view old_data,
                                         std::string_view new_data,
                                         const std::vector<Segment>& segs,
                                         const DiffOptions& options) {
  Streams raw = BuildStreams(old_data, new_data, segs, /*bsdiff=*/true);
  if (options.progress) options.progress("compressing", 0.0);
  absl::StatusOr<std::string> c, d, e;
  internal::RunBeside(
      options.threads > 1, [&] { d = internal::Bzip2Compress(raw.diff); },
      [&] {
        c = internal::Bzip2Compress(raw.ctrl);
        e = internal::Bzip2Compress(raw.extra);
      });
  if (!c.ok()) return c.status();
  if (!d.ok()) return d.status();
  if (!e.ok()) return e.status();
  std::string out(internal::kBsdiffMagic);
  internal::PutOfft(out, static_cast<int64_t>(c->size()));
  internal::PutOfft(out, static_cast<int64_t>(d->size()));
  internal::PutOfft(out, static_cast<int64_t>(new_data.size()));
  out += *c;
  out += *d;
  out += *e;
  if (options.progress) options.progress("compressing", 1.0);
  return out;
}

// A suffix-array (format version 1) patch for one segment list; `base`
// carries the sizes and hashes.
absl::StatusOr<std::string> EncodeSuffixArray(std::string_view old_data,
                                              std::string_view new_data,
                                              const std::vector<Segment>& segs,
                                              PatchInfo info,
                                              const DiffOptions& options) {
  Streams raw = BuildStreams(old_data, new_data, segs, /*bsdiff=*/false);
  internal::ZstdParams zp;
  zp.level = options.level;
  zp.window_log = options.window_log;
  // The output SHA-256 covers every stream; per-frame checksums would only
  // add 4 bytes each.
  zp.checksum = false;
  absl::StatusOr<std::string> c, d, e;
  internal::RunBeside(
      options.threads > 1, [&] { d = internal::ZstdCompress(raw.diff, zp); },
      [&] {
        e = internal::ZstdCompress(raw.extra, zp);
        c = internal::ZstdCompress(raw.ctrl, zp);
      });
  if (!c.ok()) return c.status();
  if (!d.ok()) return d.status();
  if (!e.ok()) return e.status();
  info.method = PatchMethod::kSuffixArray;
  info.window_log = static_cast<uint32_t>(options.window_log);
  info.segments = segs.size();
  info.ctrl_bytes = c->size();
  info.diff_bytes = d->size();
  info.extra_bytes = e->size();
  info.diff_raw_bytes = raw.diff_raw;
  info.extra_raw_bytes = raw.extra.size();
  std::string out = internal::EncodeStrataHeader(info);
  out.reserve(out.size() + c->size() + d->size() + e->size());
  out += *c;
  out += *d;
  out += *e;
  return out;
}

}  // namespace

namespace internal {

absl::StatusOr<std::string> CreatePatchWithForm(std::string_view old_data,
                                                std::string_view new_data,
                                                const DiffOptions& options,
                                                bool compact) {
  STRATA_RETURN_IF_ERROR(CheckOptions(options));
  const bool bsdiff = options.format == PatchFormat::kBsdiff40;
  PatchInfo info;
  info.old_size = old_data.size();
  info.new_size = new_data.size();
  // Hash on a helper thread while the suffix array is built. A tree body
  // (compact == false) needs no hashes: its bare header has none, and the
  // tree's own checks cover its input and output.
  internal::Beside hasher;
  if (!bsdiff && compact) {
    hasher.Start(options.threads > 1, [&] {
      info.old_sha256 = HashData(old_data);
      info.new_sha256 = HashData(new_data);
    });
  }
  internal::MatchOptions mo;
  mo.threads = options.threads;
  mo.progress = options.progress;
  if (bsdiff) {
    auto segs = internal::ComputeSegments(old_data, new_data, mo);
    if (!segs.ok()) return segs.status();
    return EncodeBsdiff(old_data, new_data, *segs, options);
  }
  const bool try_prefix = options.method == PatchMethod::kZstdPrefix ||
                          (options.method == PatchMethod::kAuto &&
                           new_data.size() <= kAutoPrefixMaxSize);
  // Inputs that fit the prefix budget together make one zstd frame of the
  // whole files, which needs no matches: it is compressed on its own
  // thread while the suffix array is sorted and scanned (on 2 cores the
  // level-19 frame of a 1 MB text costs about as much as all the rest).
  const bool whole =
      try_prefix && old_data.size() + new_data.size() <=
                        (uint64_t{1} << options.prefix_window_log);
  absl::StatusOr<std::string> frame;
  auto make_frame = [&] {
    frame = WholeFileFrame(old_data, new_data, options, compact);
  };
  // On two threads the frame is made beside the suffix array; on one it
  // is made last (between the "compressing" reports).
  internal::Beside framer;
  // Text that fits the budget gets the frame first (its long identical
  // runs are found by hashing, so it is quick, see anchored_frame.h) and
  // the suffix-array tries only when the frame is large: on text the frame
  // has been the smaller patch on every benchmark pair (react-dom.js 758 B
  // against 1,146 B), and the suffix array costs more than the frame.
  // Single files only: on a tree body (compact == false) the suffix-array
  // patch can win (the vue package: 493 B against the frame's 619).
  const bool frame_first = compact && whole &&
                           options.method == PatchMethod::kAuto &&
                           LooksLikeText(new_data) && LooksLikeText(old_data);
  bool skip_suffix_array = false;
  if (frame_first) {
    // Sparse byte changes (an eighth of the changed bytes or more) are the
    // suffix-array method's strength: then it is tried too.
    bool sparse = true;
    // The suffix array waits for the frame, so the frame may use every
    // thread (beside the hasher's one pass over the inputs).
    frame = WholeFileFrame(old_data, new_data, options, compact, &sparse,
                           options.threads);
    skip_suffix_array = frame.ok() && !sparse &&
                        frame->size() * kFrameFirstRatio <= new_data.size();
  } else if (whole && options.threads > 1) {
    framer.Start(true, make_frame);
  }
  std::string out;
  if ((options.method != PatchMethod::kZstdPrefix || !whole) &&
      !skip_suffix_array) {
    // Two scans of one suffix array for text: the default switch
    // thresholds suit executables and code; a high threshold for far jumps
    // keeps the scan on its alignment through the many small edits of data
    // files (JSON), where every extra control entry costs more than a few
    // mismatched bytes. Binaries get the first scan only (it has always won
    // there, and a second would double the matching time).
    std::vector<std::pair<int, int>> variants = {
        {mo.switch_threshold, mo.far_switch_threshold}};
    if (options.method != PatchMethod::kZstdPrefix && LooksLikeText(new_data)) {
      variants.emplace_back(mo.switch_threshold, kFarThresholdForData);
    }
    auto segs =
        internal::ComputeSegmentVariants(old_data, new_data, mo, variants);
    hasher.Join();
    if (!segs.ok()) return segs.status();
    if (options.progress) options.progress("compressing", 0.0);
    if (options.method != PatchMethod::kZstdPrefix) {
      // Each scan's patch; the later scans' on a thread of their own,
      // each then with half the threads (an encode compresses its diff
      // stream on a thread of its own when it has two).
      std::vector<absl::StatusOr<std::string>> encoded(segs->size());
      auto encode = [&](size_t from, size_t to, const DiffOptions& o) {
        for (size_t v = from; v < to; ++v) {
          encoded[v] =
              EncodeSuffixArray(old_data, new_data, (*segs)[v], info, o);
        }
      };
      if (segs->size() > 1 && options.threads > 1) {
        DiffOptions half = options;
        half.threads = std::max(1, options.threads / 2);
        internal::RunBeside(
            true, [&] { encode(1, segs->size(), half); },
            [&] { encode(0, 1, half); });
      } else {
        encode(0, segs->size(), options);
      }
      for (auto& p : encoded) {
        if (!p.ok()) return p.status();
        if (out.empty() || p->size() < out.size()) out = std::move(*p);
      }
    }
    if (try_prefix && !whole) {
      STRATA_ASSIGN_OR_RETURN(
          std::string prefix,
          CreatePrefixPatch(old_data, new_data, (*segs)[0], info, options));
      if (out.empty() || prefix.size() < out.size()) out = std::move(prefix);
    }
  }
  hasher.Join();
  if (whole) {
    framer.Join();
    if (!frame_first && options.threads <= 1) make_frame();
    if (!frame.ok()) return frame.status();
    std::string prefix = AssembleWholeFilePatch(*frame, info, compact);
    if (out.empty() || prefix.size() < out.size()) out = std::move(prefix);
  }
  if (options.progress) options.progress("compressing", 1.0);
  return out;
}

}  // namespace internal

absl::StatusOr<std::string> CreatePatch(std::string_view old_data,
                                        std::string_view new_data,
                                        const DiffOptions& options) {
  return internal::MakeOrOutOfMemory(
      strata::StrCat("a patch from ", old_data.size(), " bytes to ",
                     new_data.size()),
      [&] {
        return internal::CreatePatchWithForm(old_data, new_data, options,
                                             /*compact=*/true);
      });
}

absl::StatusOr<PatchInfo> ReadPatchInfo(std::string_view patch) {
  MemoryRandomAccessFile file(patch);
  return ReadPatchInfo(file);
}

absl::StatusOr<PatchInfo> ReadPatchInfo(const RandomAccessFile& patch) {
  std::string head(static_cast<size_t>(std::min<uint64_t>(
                       patch.Size(), internal::kMaxStrataHeaderSize)),
                   '\0');
  STRATA_ASSIGN_OR_RETURN(size_t got, patch.Read(0, head.size(), head.data()));
  head.resize(got);
  if (std::string_view(head).substr(0, 8) == internal::kBsdiffMagic) {
    return internal::DecodeBsdiffHeader(head, patch.Size());
  }
  if (std::string_view(head).substr(0, 8) == internal::kStrataMagic) {
    return internal::DecodeStrataHeader(head, patch.Size());
  }
  if (!head.empty() && head[0] == internal::kCompactMagic) {
    return internal::DecodeCompactHeader(head, patch.Size());
  }
  return absl::DataLossError(
      "not a patch: unknown magic (expected a Strata patch, \"STRDIFF\" or "
      "0xd3, or \"BSDIFF40\"); check that the right file was given");
}

namespace internal {

absl::Status ApplyPatchWithBase(const RandomAccessFile& old_file,
                                const RandomAccessFile& patch, ByteSink& out,
                                const ApplyOptions& options,
                                bool verify_base_hash) {
  STRATA_ASSIGN_OR_RETURN(PatchInfo info, ReadPatchInfo(patch));
  if (info.new_size > options.max_output_size) {
    return absl::ResourceExhaustedError(
        strata::StrCat("patch declares an output of ", info.new_size,
                       " bytes, above the limit of ", options.max_output_size,
                       " bytes; refusing to apply it"));
  }
  if (info.format == PatchFormat::kStrata &&
      static_cast<int>(info.window_log) > options.max_window_log) {
    return absl::ResourceExhaustedError(strata::StrCat(
        "patch needs a decoding window of 2^", info.window_log,
        " bytes, above the limit of 2^", options.max_window_log,
        "; re-create it with a smaller --window-log / --prefix-window-log"));
  }
  if (info.format == PatchFormat::kBsdiff40) {
    return ApplyBsdiff(old_file, patch, info, out, options);
  }
  if (info.version == kCompactVersion) {
    // The applier holds the whole old file and zstd's window for the output.
    const uint64_t need = old_file.Size() + info.new_size;
    if (WindowLogFor(need) > options.max_window_log ||
        need > (uint64_t{1} << 27)) {
      return absl::ResourceExhaustedError(strata::StrCat(
          "patch needs the whole old file and the output in memory (", need,
          " bytes), above the limit of 2^", options.max_window_log,
          "; re-create it with a smaller --prefix-window-log"));
    }
    if (!info.frame_checksum && info.new_size > 0 &&
        !options.expected_new_sha256) {
      return absl::InvalidArgumentError(
          "this patch (compact format 3, made with --output-check caller) "
          "carries no check of its output: give the expected SHA-256 of the "
          "new file (strata-diff apply --expect-sha256, "
          "ApplyOptions::expected_new_sha256) so the result can be verified");
    }
  }
  STRATA_RETURN_IF_ERROR(CheckBase(old_file, info, options, verify_base_hash));
  return ApplyStrata(old_file, patch, info, out, options);
}

absl::Status ApplyWithInfo(const RandomAccessFile& old_file,
                           const RandomAccessFile& patch, const PatchInfo& info,
                           ByteSink& out, const ApplyOptions& options) {
  if (static_cast<int>(info.window_log) > options.max_window_log) {
    return absl::ResourceExhaustedError(strata::StrCat(
        "patch body needs a decoding window of 2^", info.window_log,
        " bytes, above the limit of 2^", options.max_window_log));
  }
  STRATA_RETURN_IF_ERROR(
      CheckBase(old_file, info, options, /*verify_hash=*/false));
  return ApplyStrata(old_file, patch, info, out, options);
}

}  // namespace internal

absl::Status ApplyPatch(const RandomAccessFile& old_file,
                        const RandomAccessFile& patch, ByteSink& out,
                        const ApplyOptions& options) {
  return internal::ApplyPatchWithBase(old_file, patch, out, options,
                                      /*verify_base_hash=*/true);
}

absl::Status ApplyPatch(const RandomAccessFile& old_file,
                        std::string_view patch, ByteSink& out,
                        const ApplyOptions& options) {
  MemoryRandomAccessFile patch_file(patch);
  return ApplyPatch(old_file, patch_file, out, options);
}

absl::StatusOr<std::string> ApplyPatchToString(std::string_view old_data,
                                               std::string_view patch,
                                               const ApplyOptions& options) {
  MemoryRandomAccessFile old_file(old_data);
  StringSink sink;
  STRATA_RETURN_IF_ERROR(ApplyPatch(old_file, patch, sink, options));
  return sink.Release();
}

}  // namespace strata::diff
