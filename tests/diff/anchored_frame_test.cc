// The anchored zstd-prefix frame (diff/src/anchored_frame.h): an ordinary
// zstd frame that decodes with the old file as prefix, made without
// indexing the whole old file.
#include "src/anchored_frame.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader_advanced
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "test_util.h"

namespace strata::diff::internal {
namespace {

using ::strata::diff::testing::Rng;

// The compact format's frame: magicless, no content size, no checksum.
ZstdParams CompactParams() {
  ZstdParams p;
  p.level = 19;
  p.window_log = 23;
  p.checksum = false;
  p.magicless = true;
  p.content_size = false;
  return p;
}

// Decodes `frame` as the appliers do: `prefix` as history, the window
// limited to what the frame declares.
std::optional<std::string> Decode(const std::string& frame,
                                  const std::string& prefix, size_t size,
                                  const ZstdParams& params) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, params.window_log);
  if (params.magicless) {
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
  }
  ZSTD_DCtx_refPrefix(dctx, prefix.data(), prefix.size());
  // Streaming, in small pieces, as the appliers read.
  std::string out(size + 1, '\0');
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  size_t r = 1;
  while (r != 0 && !ZSTD_isError(r) && (in.pos < in.size || ob.pos == 0)) {
    size_t before = ob.pos + in.pos;
    r = ZSTD_decompressStream(dctx, &ob, &in);
    if (ob.pos + in.pos == before) break;
  }
  ZSTD_freeDCtx(dctx);
  if (ZSTD_isError(r) || r != 0) return std::nullopt;
  out.resize(ob.pos);
  return out;
}

uint64_t WindowOf(const std::string& frame, bool magicless) {
  ZSTD_frameHeader fh;
  size_t r = ZSTD_getFrameHeader_advanced(
      &fh, frame.data(), frame.size(),
      magicless ? ZSTD_f_zstd1_magicless : ZSTD_f_zstd1);
  return r == 0 ? fh.windowSize : 0;
}

// True if the method applies; the call itself must succeed either way.
bool Applies(std::string_view new_data, std::string_view old_data) {
  absl::StatusOr<std::optional<AnchoredFrame>> frame =
      AnchoredPrefixFrame(new_data, old_data, CompactParams());
  EXPECT_TRUE(frame.ok()) << frame.status();
  return frame.ok() && frame->has_value();
}

struct TextPair {
  std::string old_data, new_data;
};

TextPair MakePair(uint64_t seed, size_t size, int edits) {
  Rng rng(seed);
  TextPair p;
  p.old_data = rng.Text(size);
  p.new_data = rng.MutateText(p.old_data, edits);
  return p;
}

TEST(AnchoredFrameTest, DecodesToTheNewFileWithTheOldAsPrefix) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    TextPair p = MakePair(seed, 200000 + 50000 * seed, 5 + 10 * seed);
    ZstdParams params = CompactParams();
    STRATA_ASSERT_OK_AND_ASSIGN(
        std::optional<AnchoredFrame> frame,
        AnchoredPrefixFrame(p.new_data, p.old_data, params));
    ASSERT_TRUE(frame.has_value()) << seed;
    EXPECT_EQ(Decode(frame->frame, p.old_data, p.new_data.size(), params),
              p.new_data)
        << seed;
    // A handful of edits: the frame is a few bytes per edit, not per file.
    EXPECT_LT(frame->frame.size(), p.new_data.size() / 50) << seed;
  }
}

TEST(AnchoredFrameTest, StandardFrameCarriesContentSizeAndChecksum) {
  TextPair p = MakePair(7, 300000, 20);
  ZstdParams params = CompactParams();
  params.magicless = false;
  params.content_size = true;
  params.checksum = true;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::optional<AnchoredFrame> frame,
      AnchoredPrefixFrame(p.new_data, p.old_data, params));
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(ZSTD_getFrameContentSize(frame->frame.data(), frame->frame.size()),
            p.new_data.size());
  EXPECT_EQ(Decode(frame->frame, p.old_data, p.new_data.size(), params),
            p.new_data);
  // The checksum is checked: a flipped byte of the last block's content
  // (not of the checksum itself) fails.
  std::string damaged = frame->frame;
  damaged[damaged.size() - 1] ^= 1;
  EXPECT_EQ(Decode(damaged, p.old_data, p.new_data.size(), params),
            std::nullopt);
}

// The frame declares the window zstd's own frame of the same files has
// (old and new together), whatever the new file's size, so appliers that
// limit the window by the sizes accept it.
TEST(AnchoredFrameTest, WindowIsTheOneZstdDeclaresForTheSameFiles) {
  for (size_t size : {5000u, 70000u, 140000u, 600000u}) {
    TextPair p = MakePair(size, size, 8);
    for (bool magicless : {true, false}) {
      ZstdParams params = CompactParams();
      params.magicless = magicless;
      params.content_size = !magicless;
      STRATA_ASSERT_OK_AND_ASSIGN(
          std::optional<AnchoredFrame> frame,
          AnchoredPrefixFrame(p.new_data, p.old_data, params));
      ASSERT_TRUE(frame.has_value()) << size;
      STRATA_ASSERT_OK_AND_ASSIGN(
          std::string zstds,
          ZstdCompressWithPrefix(p.new_data, p.old_data, params));
      EXPECT_EQ(WindowOf(frame->frame, magicless), WindowOf(zstds, magicless))
          << size << " magicless " << magicless;
      // Without a content size the window byte holds old and new (with
      // one, zstd declares a single segment of the new file's size).
      if (magicless) {
        EXPECT_GE(WindowOf(frame->frame, magicless),
                  p.old_data.size() + p.new_data.size());
      }
    }
  }
}

TEST(AnchoredFrameTest, IdenticalFilesMakeATinyFrame) {
  Rng rng(9);
  std::string text = rng.Text(400000);
  ZstdParams params = CompactParams();
  STRATA_ASSERT_OK_AND_ASSIGN(std::optional<AnchoredFrame> frame,
                              AnchoredPrefixFrame(text, text, params));
  ASSERT_TRUE(frame.has_value());
  EXPECT_LT(frame->frame.size(), 64u);
  EXPECT_EQ(Decode(frame->frame, text, text.size(), params), text);
}

TEST(AnchoredFrameTest, DoesNotApplyWhenTheNewFileHasEveryByteValue) {
  TextPair p = MakePair(10, 100000, 10);
  for (int b = 0; b < 256; ++b) p.new_data.push_back(static_cast<char>(b));
  EXPECT_FALSE(Applies(p.new_data, p.old_data));
}

TEST(AnchoredFrameTest, DoesNotApplyWhenMostOfTheFileChanged) {
  Rng rng(11);
  std::string old_data = rng.Text(100000);
  std::string new_data = old_data.substr(0, 50000) + Rng(12).Bytes(50000);
  for (char& c : new_data) c = static_cast<char>(0x20 + (c & 0x3f));
  EXPECT_FALSE(Applies(new_data, old_data));
}

// A caller may ask for at most 1/64 changed (tree bodies did before the
// rewritten stretches kept their counterparts): a pair with about 1/30 of
// the new file in changed stretches is refused there and made for 1/8.
TEST(AnchoredFrameTest, TheChangedShareLimitIsTheCallers) {
  Rng rng(15);
  std::string old_data = rng.Text(200000);
  std::string new_data = old_data;
  for (size_t at = 10000; at < 190000; at += 20000) {
    new_data.replace(at, 700, Rng(at).Text(700));
  }
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::optional<AnchoredFrame> frame,
      AnchoredPrefixFrame(new_data, old_data, CompactParams(), 8));
  ASSERT_TRUE(frame.has_value());
  EXPECT_GT(frame->changed_bytes * 64, new_data.size());
  STRATA_ASSERT_OK_AND_ASSIGN(
      frame, AnchoredPrefixFrame(new_data, old_data, CompactParams(), 64));
  EXPECT_FALSE(frame.has_value());
}

// Two threads build the two hash chains one each, walk the changed
// stretches in halves (each keeping its own list of old bytes) and make
// the two encodings one each (the files are above 256 KiB): the frame is
// the one one thread makes, byte for byte. (The stretches' words occur
// all over the old file, so both halves find matches everywhere.)
TEST(AnchoredFrameTest, TwoThreadsMakeTheSameFrame) {
  for (uint64_t seed : {21u, 22u, 23u}) {
    Rng rng(seed);
    std::string old_data = rng.Text(600000);
    std::string new_data = old_data;
    for (size_t at = 20000; at < 580000; at += 40000) {
      new_data.replace(at, 600, Rng(seed * 1000 + at).Text(600));
    }
    STRATA_ASSERT_OK_AND_ASSIGN(
        std::optional<AnchoredFrame> one,
        AnchoredPrefixFrame(new_data, old_data, CompactParams(), 8, 1));
    STRATA_ASSERT_OK_AND_ASSIGN(
        std::optional<AnchoredFrame> two,
        AnchoredPrefixFrame(new_data, old_data, CompactParams(), 8, 2));
    ASSERT_TRUE(one.has_value()) << seed;
    ASSERT_TRUE(two.has_value()) << seed;
    EXPECT_GT(one->changed_bytes, 4000u) << seed;
    EXPECT_TRUE(two->frame == one->frame)
        << seed << ": " << two->frame.size() << " against " << one->frame.size()
        << " bytes";
    EXPECT_EQ(Decode(two->frame, old_data, new_data.size(), CompactParams()),
              new_data);
  }
}

// A hash chain gives a walk the `depth` most recent old positions
// (multiples of `step`) whose first `width` bytes hash as the walked
// position's, most recent first, and positions only for hashes that some
// position of the walked stretch has. Over a two-letter alphabet each 4-
// and 8-byte string recurs hundreds of times or more (an 8-byte one about
// 390 times at multiples of 4), so the depth limit and the order are what
// is checked; the expected lists compare bytes (2^20 hash values for the
// 16 and 256 strings: no two of them share a hash here). The old file's
// size is not a multiple of 4, so the first position is rounded down; a
// short old file is read to its first byte.
TEST(AnchoredFrameTest, ChainsGiveTheMostRecentPositionsOfTheWalkedHashes) {
  Rng rng(31);
  auto two_letters = [&rng](size_t n) {
    std::string s(n, 'a');
    for (char& c : s) c = rng.Uniform(2) == 0 ? 'a' : 'b';
    return s;
  };
  std::string old_data = two_letters(400002);
  std::string new_data = two_letters(5000);
  // A string the walked stretch lacks, in both files (outside the stretch
  // in the new one).
  const std::string lone = "cdefghij";
  new_data.replace(3000, lone.size(), lone);
  for (size_t at : {4000u, 152000u, 396000u}) {
    old_data.replace(at, lone.size(), lone);
  }
  const std::string short_old = old_data.substr(0, 301);
  const size_t begin = 1000, end = 1200;
  const std::string* const olds[] = {&old_data, &short_old};
  for (const std::string* old : olds) {
    for (size_t width : {size_t{4}, size_t{8}}) {
      for (size_t step : {size_t{1}, size_t{4}}) {
        for (int depth : {1, 64, 256}) {
          const std::string where =
              strata::StrCat("old of ", old->size(), " bytes, width ", width,
                             ", step ", step, ", depth ", depth);
          for (size_t p = begin; p < end; p += 13) {
            std::vector<uint32_t> expected;
            for (size_t q = (old->size() - width) / step * step;
                 static_cast<int>(expected.size()) < depth; q -= step) {
              if (old->compare(q, width, new_data, p, width) == 0) {
                expected.push_back(static_cast<uint32_t>(q));
              }
              if (q < step) break;
            }
            if (old == &old_data) {
              ASSERT_EQ(static_cast<int>(expected.size()), depth) << where;
            }
            EXPECT_EQ(ChainPositionsForTesting(new_data, *old, begin, end,
                                               width, step, 20, depth, p),
                      expected)
                << where << ", at " << p;
          }
          EXPECT_TRUE(ChainPositionsForTesting(new_data, *old, begin, end,
                                               width, step, 20, depth, 3000)
                          .empty())
              << where;
          // An old file shorter than the chain's width has no positions.
          EXPECT_TRUE(ChainPositionsForTesting(new_data, "abb", begin, end,
                                               width, step, 20, depth, begin)
                          .empty())
              << where;
        }
      }
    }
  }
}

// A changed stretch made of short pieces (40 bytes, below the anchors'
// 128) of incompressible old content from all over the old file: only the
// hash chains find them, and the frame is a few bytes a piece instead of
// the stretch as literals.
TEST(AnchoredFrameTest, ShortPiecesFromAnywhereInTheOldFileAreMatches) {
  Rng rng(31);
  std::string old_data = rng.Bytes(300000);
  for (char& c : old_data) c = static_cast<char>(c & 0x7f);  // 0x80: separator
  std::string stretch;
  Rng at(32);
  for (int k = 0; k < 100; ++k) {
    stretch += old_data.substr(at.Next() % (old_data.size() - 40), 40);
  }
  std::string new_data = old_data;
  new_data.replace(150000, stretch.size(), stretch);
  for (int threads : {1, 2}) {
    STRATA_ASSERT_OK_AND_ASSIGN(
        std::optional<AnchoredFrame> frame,
        AnchoredPrefixFrame(new_data, old_data, CompactParams(), 8, threads));
    ASSERT_TRUE(frame.has_value());
    EXPECT_LT(frame->frame.size(), 1500u) << threads;  // 4,000 as literals
    EXPECT_EQ(Decode(frame->frame, old_data, new_data.size(), CompactParams()),
              new_data);
  }
}

// Minified code whose short names were renamed all through (as a minifier
// renames after a change elsewhere): no identical run reaches an anchor's
// 128 bytes, but most of the text is the old text at the same place. The
// old text it replaced is kept whole for zstd, so the frame is about what
// zstd's own parse of the whole file makes (without it 4,062 bytes against
// zstd's 3,172).
TEST(AnchoredFrameTest, ARewrittenStretchIsMatchedAgainstTheTextItReplaced) {
  Rng rng(41);
  std::vector<std::string> names;
  for (int k = 0; k < 400; ++k) {
    names.push_back(std::string(1, static_cast<char>('a' + rng.Uniform(26))) +
                    static_cast<char>('A' + rng.Uniform(26)));
  }
  auto code = [&](Rng& r, const std::vector<std::string>& n, size_t size) {
    std::string s;
    while (s.size() < size) {
      s += "function " + n[r.Uniform(n.size())] + "(" + n[r.Uniform(n.size())] +
           "," + n[r.Uniform(n.size())] + "){return " + n[r.Uniform(n.size())] +
           ".call(this," + n[r.Uniform(n.size())] + ")}";
    }
    return s;
  };
  // A third of the names change.
  std::vector<std::string> renamed = names;
  for (size_t k = 0; k < renamed.size(); k += 3) {
    renamed[k] = std::string(1, static_cast<char>('a' + rng.Uniform(26))) +
                 static_cast<char>('0' + rng.Uniform(10));
  }
  const std::string before = rng.Text(150000), after = rng.Text(150000);
  Rng a(42), b(42);  // the same code, with the old names and the new
  const std::string old_data = before + code(a, names, 40000) + after;
  const std::string new_data = before + code(b, renamed, 40000) + after;
  ASSERT_EQ(old_data.size(), new_data.size());
  for (int threads : {1, 2}) {
    STRATA_ASSERT_OK_AND_ASSIGN(
        std::optional<AnchoredFrame> frame,
        AnchoredPrefixFrame(new_data, old_data, CompactParams(), 8, threads));
    ASSERT_TRUE(frame.has_value()) << threads;
    EXPECT_GT(frame->changed_bytes, 30000u) << threads;
    STRATA_ASSERT_OK_AND_ASSIGN(
        std::string zstds,
        ZstdCompressWithPrefix(new_data, old_data, CompactParams()));
    EXPECT_LT(frame->frame.size(), zstds.size() * 11 / 10)
        << threads << ": zstd's own parse makes " << zstds.size();
    EXPECT_EQ(Decode(frame->frame, old_data, new_data.size(), CompactParams()),
              new_data);
  }
}

// The contexts whose large tables ask for 2 MiB pages (all of the
// makers') compress to the same bytes as zstd's own allocation.
TEST(ZstdContextTest, LargePageContextMakesTheSameFrames) {
  const std::string data = Rng(51).Text(1 << 20);
  std::string frames[2];
  for (int k = 0; k < 2; ++k) {
    const ZstdCCtxPtr owned(k == 0 ? NewZstdCCtx().release()
                                   : ZSTD_createCCtx());
    ZSTD_CCtx* const cctx = owned.get();
    ASSERT_NE(cctx, nullptr);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 19);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 21);
    // Tens of MB of match tables: the large-page allocation.
    EXPECT_GT(ZSTD_estimateCCtxSize(19), size_t{8} << 20);
    frames[k].resize(ZSTD_compressBound(data.size()));
    const size_t r = ZSTD_compress2(cctx, frames[k].data(), frames[k].size(),
                                    data.data(), data.size());
    ASSERT_FALSE(ZSTD_isError(r)) << ZSTD_getErrorName(r);
    frames[k].resize(r);
  }
  EXPECT_TRUE(frames[0] == frames[1]);
  std::string back(data.size(), '\0');
  EXPECT_EQ(ZSTD_decompress(back.data(), back.size(), frames[0].data(),
                            frames[0].size()),
            data.size());
  EXPECT_TRUE(back == data);
}

TEST(AnchoredFrameTest, EmptyInputsDoNotApply) {
  EXPECT_FALSE(Applies("", "old"));
  EXPECT_FALSE(Applies("new", ""));
}

// Content moved far (a block from the end to the start, another file's
// text inserted) is still found: the frame stays small.
TEST(AnchoredFrameTest, MovedAndCopiedBlocksAreCopies) {
  Rng rng(13);
  std::string old_data = rng.Text(300000);
  std::string new_data = old_data.substr(250000, 40000) +
                         old_data.substr(0, 250000) + "export const x = 1;\n" +
                         old_data.substr(100000, 20000);
  ZstdParams params = CompactParams();
  STRATA_ASSERT_OK_AND_ASSIGN(std::optional<AnchoredFrame> frame,
                              AnchoredPrefixFrame(new_data, old_data, params));
  ASSERT_TRUE(frame.has_value());
  EXPECT_LT(frame->frame.size(), 120u);
  EXPECT_EQ(Decode(frame->frame, old_data, new_data.size(), params), new_data);
}

// Sparse byte changes (every 7th byte of a stretch) are counted as such;
// an inserted phrase is not.
TEST(AnchoredFrameTest, CountsSparseByteChanges) {
  Rng rng(14);
  std::string old_data = rng.Text(100000);
  std::string sparse = old_data;
  for (size_t k = 50000; k < 50400; k += 7) ++sparse[k];
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::optional<AnchoredFrame> frame,
      AnchoredPrefixFrame(sparse, old_data, CompactParams()));
  ASSERT_TRUE(frame.has_value());
  EXPECT_GT(frame->changed_bytes, 300u);
  EXPECT_GE(2 * frame->sparse_bytes, frame->changed_bytes);

  std::string inserted = old_data;
  inserted.insert(50000, "a phrase that was not there before ");
  STRATA_ASSERT_OK_AND_ASSIGN(
      frame, AnchoredPrefixFrame(inserted, old_data, CompactParams()));
  ASSERT_TRUE(frame.has_value());
  EXPECT_GT(frame->changed_bytes, 0u);
  EXPECT_EQ(frame->sparse_bytes, 0u);
}

}  // namespace
}  // namespace strata::diff::internal
