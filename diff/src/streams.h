// Compressed stream helpers shared by the patch formats: one-shot
// compression and bounded-memory sequential readers for zstd and bzip2.
#ifndef STRATA_DIFF_SRC_STREAMS_H_
#define STRATA_DIFF_SRC_STREAMS_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"

struct ZSTD_CCtx_s;  // ZSTD_CCtx, from <zstd.h>

namespace strata::diff::internal {

// Where compressed bytes come from: memory, or a range of a file read in
// 32 KiB pieces (so a patch is never loaded whole).
class ByteSource {
 public:
  static ByteSource Memory(std::string_view data);
  // `file` must outlive the source.
  static ByteSource File(const RandomAccessFile* file, uint64_t offset,
                         uint64_t length);
  // The next piece; empty only at the end. kDataLoss if the file is short.
  absl::StatusOr<std::string_view> Next();
  bool AtEnd() const { return left_ == 0; }

 private:
  std::string_view memory_;
  const RandomAccessFile* file_ = nullptr;
  uint64_t offset_ = 0, left_ = 0;
  std::string buffer_;
};

struct ZstdParams {
  int level = 19;
  int window_log = 21;  // 0: zstd's default for the level
  bool long_distance = false;
  int workers = 0;       // zstd worker threads; 0 = compress on the caller
  bool checksum = true;  // zstd's per-frame content checksum
  // Frame without zstd's 4-byte magic number (ZSTD_f_zstd1_magicless); the
  // reader must be told (NewZstdReader's `magicless`).
  bool magicless = false;
  // Write the content size into the frame header (the container may
  // already carry it).
  bool content_size = true;
};

// Frees a zstd compression context (ZSTD_freeCCtx).
struct FreeZstdCCtx {
  void operator()(ZSTD_CCtx_s* cctx) const;
};
using ZstdCCtxPtr = std::unique_ptr<ZSTD_CCtx_s, FreeZstdCCtx>;

// A zstd compression context, freed however its user leaves, whose large
// allocations (the match finder's tables at high levels: tens of MB, all
// zeroed when a frame starts) ask the kernel for 2 MiB pages
// (madvise(MADV_HUGEPAGE), where Linux has it). On 4 KiB pages the page
// faults of that zeroing were more than half of a level-19 frame's time against
// a 1.4 MB prefix here (0.63 s against 0.26 s); the frames are the same bytes
// either way. nullptr when out of memory.
ZstdCCtxPtr NewZstdCCtx();

// Memory for a large array that asks for 2 MiB pages as NewZstdCCtx's
// tables do (blocks of 4 MiB or more): the suffix array, whole files. On
// 4 KiB pages the first touch of each page is a fault, which on this
// project's benchmark machine made the suffix array of a 4.4 MB tree body
// cost 10% more. Free it with std::free (FreeLarge). nullptr when out of
// memory.
void* AllocateLarge(size_t bytes);
struct FreeLarge {
  void operator()(void* p) const { std::free(p); }
};
// The same advice for memory allocated elsewhere and not touched yet (a
// string's reserved capacity): for the 2 MiB-aligned part of [p, p + n),
// when n is 4 MiB or more.
void AdviseLargePages(void* p, size_t n);

absl::StatusOr<std::string> ZstdCompress(std::string_view data,
                                         const ZstdParams& params);
// One frame of `data` compressed against `prefix` (the frame's history, as
// zstd --patch-from does); the window covers prefix and data.
absl::StatusOr<std::string> ZstdCompressWithPrefix(std::string_view data,
                                                   std::string_view prefix,
                                                   const ZstdParams& params);
absl::StatusOr<std::string> Bzip2Compress(std::string_view data);

// Reads a compressed stream sequentially. Every read failure (corrupt or
// truncated data, bad checksum) is kDataLoss naming the stream.
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  // Reads exactly `n` bytes.
  absl::Status ReadExact(char* out, size_t n);
  // Reads up to `n` bytes; returns 0 only at the end of the stream.
  virtual absl::StatusOr<size_t> ReadSome(char* out, size_t n) = 0;
  absl::Status ReadVarint(uint64_t* v);
  // OK only if the stream is at its end and no input is left over.
  absl::Status ExpectEnd();
  // Total decompressed bytes handed out so far.
  uint64_t position() const { return position_; }
  // True if compressed input remains after the logical end.
  virtual bool InputLeft() const { return false; }

 protected:
  explicit StreamReader(std::string name) : name_(std::move(name)) {}
  absl::Status Corrupt(std::string_view what) const;
  std::string name_;
  uint64_t position_ = 0;
};

// `max_window_log` bounds the decoder's memory (2^max_window_log bytes);
// a frame needing more is kDataLoss (callers check declared windows first).
std::unique_ptr<StreamReader> NewZstdReader(std::string_view compressed,
                                            std::string name,
                                            int max_window_log);
// `prefix` (kept alive by the caller) is the history the frame was made
// against (ZSTD_CCtx_refPrefix); empty for none.
std::unique_ptr<StreamReader> NewZstdReader(ByteSource source, std::string name,
                                            int max_window_log,
                                            std::string_view prefix = {},
                                            bool magicless = false);
// Reads the header of a magicless zstd frame at the front of `head` (at
// least its first byte): whether the frame ends in zstd's 32-bit content
// checksum (XXH64), which the decoder verifies. kDataLoss if `head` is not
// the start of a valid magicless frame header.
absl::StatusOr<bool> MagiclessFrameHasChecksum(std::string_view head);
std::unique_ptr<StreamReader> NewBzip2Reader(std::string_view compressed,
                                             std::string name);
std::unique_ptr<StreamReader> NewBzip2Reader(ByteSource source,
                                             std::string name);
// Uncompressed bytes.
std::unique_ptr<StreamReader> NewRawReader(ByteSource source, std::string name);

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_STREAMS_H_
