// Round trips and rejection rules of the buffer-only core (delta.h).
#include "strata/diff/delta.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <tuple>

#include "strata/base/testing/status_matchers.h"
#include "test_util.h"

namespace strata::diff {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using testing::Rng;

std::string MustDiff(std::string_view old_data, std::string_view new_data,
                     DiffOptions o = {}) {
  auto p = CreatePatch(old_data, new_data, o);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : std::string();
}

void ExpectRoundTrip(const std::string& old_data, const std::string& new_data,
                     DiffOptions o = {}) {
  std::string patch = MustDiff(old_data, new_data, o);
  auto out = ApplyPatchToString(old_data, patch);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), new_data.size());
  EXPECT_TRUE(*out == new_data) << "output differs";
}

// Flips each byte of `patch` in turn: never a silently wrong output, either
// the exact new data (a flip in bits nothing reads) or kDataLoss. Without
// an expected hash, a flip of the checksum flag of a compact patch's frame
// makes it look made with OutputCheck::kByCaller: refused (no output) with
// kInvalidArgument asking for the hash.
void ExpectEveryCorruptionDetected(const std::string& old_data,
                                   const std::string& new_data,
                                   const std::string& patch, Rng& rng,
                                   const ApplyOptions& ao = {}) {
  for (size_t i = 0; i < patch.size(); ++i) {
    std::string bad = patch;
    bad[i] = static_cast<char>(bad[i] ^ (1 + rng.Uniform(255)));
    auto out = ApplyPatchToString(old_data, bad, ao);
    if (out.ok()) {
      EXPECT_EQ(*out, new_data) << "byte " << i;
    } else if (!ao.expected_new_sha256 &&
               out.status().code() == absl::StatusCode::kInvalidArgument) {
      EXPECT_THAT(out.status().message(),
                  HasSubstr("carries no check of its output"))
          << "byte " << i;
    } else {
      EXPECT_THAT(out, StatusIs(absl::StatusCode::kDataLoss)) << "byte " << i;
    }
  }
}

// format x threads
class RoundTripTest
    : public ::testing::TestWithParam<std::tuple<PatchFormat, int>> {
 protected:
  DiffOptions Options() {
    DiffOptions o;
    o.format = std::get<0>(GetParam());
    o.threads = std::get<1>(GetParam());
    o.level = 3;
    return o;
  }
};

TEST_P(RoundTripTest, EmptyInputs) {
  ExpectRoundTrip("", "", Options());
  ExpectRoundTrip("", "new content", Options());
  ExpectRoundTrip("old content", "", Options());
}

TEST_P(RoundTripTest, TinyInputs) {
  ExpectRoundTrip("a", "b", Options());
  ExpectRoundTrip("ab", "ab", Options());
  ExpectRoundTrip("abc", "abcabc", Options());
}

TEST_P(RoundTripTest, RandomUnrelatedPairs) {
  Rng rng(1);
  for (int i = 0; i < 20; ++i) {
    ExpectRoundTrip(rng.Bytes(rng.Uniform(5000)), rng.Bytes(rng.Uniform(5000)),
                    Options());
  }
}

TEST_P(RoundTripTest, StructuredMutationsOfBinary) {
  Rng rng(2);
  for (int i = 0; i < 20; ++i) {
    std::string old_data = rng.Bytes(1000 + rng.Uniform(50000));
    ExpectRoundTrip(old_data, rng.Mutate(old_data, 1 + rng.Uniform(40)),
                    Options());
  }
}

TEST_P(RoundTripTest, StructuredMutationsOfText) {
  Rng rng(3);
  for (int i = 0; i < 10; ++i) {
    std::string old_data = rng.Text(1000 + rng.Uniform(100000));
    ExpectRoundTrip(old_data, rng.Mutate(old_data, 1 + rng.Uniform(40)),
                    Options());
  }
}

TEST_P(RoundTripTest, LargeInputSplitAcrossThreads) {
  // Above the 1 MiB threshold where the scan is split between threads.
  Rng rng(4);
  std::string old_data = rng.Text(3 << 20);
  ExpectRoundTrip(old_data, rng.Mutate(old_data, 200), Options());
}

TEST_P(RoundTripTest, RepetitiveInputs) {
  std::string zeros(200000, '\0');
  std::string ones = zeros;
  ones[100000] = 1;
  ExpectRoundTrip(zeros, ones, Options());
  ExpectRoundTrip(std::string(100000, 'a'), std::string(150000, 'a'),
                  Options());
}

INSTANTIATE_TEST_SUITE_P(
    Formats, RoundTripTest,
    ::testing::Combine(::testing::Values(PatchFormat::kStrata,
                                         PatchFormat::kBsdiff40),
                       ::testing::Values(1, 2)));

TEST(DeltaTest, IdenticalInputsMakeATinyPatch) {
  Rng rng(5);
  std::string data = rng.Bytes(1 << 20);
  std::string patch = MustDiff(data, data);
  EXPECT_LT(patch.size(), 1000u);
}

TEST(DeltaTest, SimilarInputsMakeASmallPatch) {
  Rng rng(6);
  std::string old_data = rng.Bytes(500000);
  std::string patch = MustDiff(old_data, rng.Mutate(old_data, 10));
  EXPECT_LT(patch.size(), 5000u);
}

TEST(DeltaTest, InfoDescribesThePatch) {
  DiffOptions o;
  o.method = PatchMethod::kSuffixArray;
  std::string patch = MustDiff("hello old world", "hello new world", o);
  auto info = ReadPatchInfo(patch);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, PatchFormat::kStrata);
  EXPECT_EQ(info->version, 1u);
  EXPECT_EQ(info->method, PatchMethod::kSuffixArray);
  EXPECT_EQ(info->old_size, 15u);
  EXPECT_EQ(info->new_size, 15u);
  EXPECT_TRUE(info->has_hashes);
  EXPECT_EQ(info->new_sha256, Sha256::Hash("hello new world"));
}

TEST(DeltaTest, RejectsBadOptions) {
  DiffOptions o;
  o.level = 0;
  EXPECT_THAT(CreatePatch("a", "b", o),
              StatusIs(absl::StatusCode::kInvalidArgument));
  o = {};
  o.window_log = 40;
  EXPECT_THAT(CreatePatch("a", "b", o),
              StatusIs(absl::StatusCode::kInvalidArgument));
  o = {};
  o.threads = 0;
  EXPECT_THAT(CreatePatch("a", "b", o),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DeltaTest, WrongBaseIsRejectedBeforeAnyOutput) {
  Rng rng(7);
  std::string old_data = rng.Bytes(10000);
  std::string patch = MustDiff(old_data, rng.Mutate(old_data, 5));
  std::string other = old_data;
  other[5000] ^= 1;  // same size, different content
  MemoryRandomAccessFile old_file(other);
  StringSink sink;
  EXPECT_THAT(ApplyPatch(old_file, patch, sink),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("does not apply to this old file")));
  EXPECT_TRUE(sink.data().empty());
  EXPECT_THAT(ApplyPatchToString(old_data.substr(1), patch),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("does not apply to this old file")));
}

TEST(DeltaTest, OutputOverTheLimitIsRefusedBeforeAnyOutput) {
  Rng rng(8);
  std::string old_data = rng.Bytes(1000);
  std::string new_data = rng.Bytes(5000);
  for (PatchFormat f : {PatchFormat::kStrata, PatchFormat::kBsdiff40}) {
    DiffOptions o;
    o.format = f;
    std::string patch = MustDiff(old_data, new_data, o);
    ApplyOptions ao;
    ao.max_output_size = 4999;
    MemoryRandomAccessFile old_file(old_data);
    StringSink sink;
    EXPECT_THAT(ApplyPatch(old_file, patch, sink, ao),
                StatusIs(absl::StatusCode::kResourceExhausted));
    EXPECT_TRUE(sink.data().empty());
    ao.max_output_size = 5000;
    EXPECT_TRUE(ApplyPatch(old_file, patch, sink, ao).ok());
  }
}

TEST(DeltaTest, EveryTruncationIsDataLoss) {
  Rng rng(9);
  std::string old_data = rng.Text(20000);
  for (PatchFormat f : {PatchFormat::kStrata, PatchFormat::kBsdiff40}) {
    DiffOptions o;
    o.format = f;
    std::string patch = MustDiff(old_data, rng.Mutate(old_data, 20), o);
    for (size_t n = 0; n < patch.size(); ++n) {
      EXPECT_THAT(ApplyPatchToString(old_data, patch.substr(0, n)),
                  StatusIs(absl::StatusCode::kDataLoss))
          << "format " << static_cast<int>(f) << " truncated to " << n;
    }
  }
}

TEST(DeltaTest, EveryCorruptedByteOfAStrataPatchIsDetected) {
  Rng rng(10);
  std::string old_data = rng.Text(20000);
  std::string new_data = rng.Mutate(old_data, 20);
  ExpectEveryCorruptionDetected(old_data, new_data,
                                MustDiff(old_data, new_data), rng);
}

TEST(DeltaTest, GarbageIsNotAPatch) {
  EXPECT_THAT(ReadPatchInfo("hello"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ApplyPatchToString("", std::string(200, 'x')),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("magic")));
}

TEST(DeltaTest, TrailingBytesAreRejected) {
  std::string patch = MustDiff("some old text", "some new text");
  EXPECT_THAT(ApplyPatchToString("some old text", patch + "x"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(DeltaTest, SmallWindowLimitRefusesLargeWindowPatch) {
  Rng rng(11);
  std::string old_data = rng.Bytes(1 << 20);
  std::string new_data = rng.Bytes(1 << 20);
  DiffOptions o;
  o.level = 1;
  o.window_log = 20;
  std::string patch = MustDiff(old_data, new_data, o);
  ApplyOptions ao;
  ao.max_window_log = 12;
  EXPECT_THAT(ApplyPatchToString(old_data, patch, ao),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

// The zstd-prefix method (format version 2): forced, and in small windows
// so the new file is split into blocks each made against its own window of
// the old file.
TEST(PrefixMethodTest, RoundTripsInOneBlockAndInMany) {
  Rng rng(21);
  std::string old_data = rng.Text(300000);
  std::string new_data = rng.Mutate(old_data, 40);
  for (int wl : {27, 16}) {
    DiffOptions o;
    o.method = PatchMethod::kZstdPrefix;
    o.prefix_window_log = wl;
    o.level = 3;
    std::string patch = MustDiff(old_data, new_data, o);
    auto info = ReadPatchInfo(patch);
    ASSERT_TRUE(info.ok()) << info.status();
    // One frame of the whole files: the compact form (version 3); blocks:
    // version 2.
    EXPECT_EQ(info->version, wl == 16 ? 2u : 3u);
    EXPECT_EQ(info->method, PatchMethod::kZstdPrefix);
    EXPECT_LE(uint64_t{1} << info->window_log, uint64_t{1} << wl);
    if (wl == 16) {
      EXPECT_GT(info->segments, 10u);  // many blocks
    }
    auto out = ApplyPatchToString(old_data, patch);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(*out == new_data);
    // Far smaller than the new file even with small windows.
    EXPECT_LT(patch.size() * 20, new_data.size()) << wl;
  }
}

TEST(PrefixMethodTest, AutoKeepsTheSmallerMethodAndRecordsIt) {
  Rng rng(22);
  std::string text = rng.Text(200000);
  std::string text2 = rng.Mutate(text, 30);
  std::string bin = rng.Bytes(200000);
  std::string bin2 = rng.Mutate(bin, 30);
  for (const auto& [a, b] : {std::pair(text, text2), std::pair(bin, bin2)}) {
    DiffOptions o;
    o.level = 9;
    o.method = PatchMethod::kSuffixArray;
    size_t sa = MustDiff(a, b, o).size();
    o.method = PatchMethod::kZstdPrefix;
    size_t zp = MustDiff(a, b, o).size();
    o.method = PatchMethod::kAuto;
    std::string best = MustDiff(a, b, o);
    EXPECT_LE(best.size(), std::min(sa, zp));
    auto info = ReadPatchInfo(best);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->method,
              zp < sa ? PatchMethod::kZstdPrefix : PatchMethod::kSuffixArray);
    EXPECT_EQ(info->version, zp < sa ? 3u : 1u);
    auto out = ApplyPatchToString(a, best);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(*out == b);
  }
}

TEST(PrefixMethodTest, CorruptionTruncationAndWindowLimit) {
  Rng rng(23);
  std::string old_data = rng.Text(40000);
  std::string new_data = rng.Mutate(old_data, 20);
  DiffOptions o;
  o.method = PatchMethod::kZstdPrefix;
  o.prefix_window_log = 16;
  std::string patch = MustDiff(old_data, new_data, o);
  for (size_t n = 0; n < patch.size(); ++n) {
    EXPECT_THAT(ApplyPatchToString(old_data, patch.substr(0, n)),
                StatusIs(absl::StatusCode::kDataLoss))
        << n;
  }
  ExpectEveryCorruptionDetected(old_data, new_data, patch, rng);
  ApplyOptions ao;
  ao.max_window_log = 15;
  EXPECT_THAT(ApplyPatchToString(old_data, patch, ao),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(ApplyPatchToString(old_data + "x", patch),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("old file")));
}

TEST(PrefixMethodTest, NewerFormatVersionIsAClearError) {
  DiffOptions o;
  o.method = PatchMethod::kSuffixArray;
  std::string patch = MustDiff("some old text", "some new text", o);
  ASSERT_EQ(patch[8], 1);  // version varint right after the magic
  patch[8] = 4;
  EXPECT_THAT(ApplyPatchToString("some old text", patch),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("version 4 is not supported (this build reads "
                                 "versions 1 to 3)")));
  // The compact form's version is its second byte.
  o.method = PatchMethod::kZstdPrefix;
  patch = MustDiff("some old text", "some new text", o);
  ASSERT_EQ(static_cast<uint8_t>(patch[0]), 0xd3);
  ASSERT_EQ(patch[1], 3);
  patch[1] = 5;
  EXPECT_THAT(ApplyPatchToString("some old text", patch),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("version 5 is not supported (this build reads "
                                 "versions 1 to 3)")));
  // 4 is a tree patch in archive form (docs/formats/tree-patch.md).
  patch[1] = 4;
  EXPECT_THAT(ApplyPatchToString("some old text", patch),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("this is a tree patch (archive form)")));
}

// Format version 3 (compact): one magicless zstd frame of the whole files
// behind a 2-byte magic, the new size and a 4-byte old check.
class CompactFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(31);
    old_ = rng.Text(60000);
    new_ = rng.Mutate(old_, 15);
  }
  std::string Make(OutputCheck check,
                   PatchMethod method = PatchMethod::kZstdPrefix) {
    DiffOptions o;
    o.method = method;
    o.output_check = check;
    return MustDiff(old_, new_, o);
  }
  ApplyOptions WithHash(std::string_view data) {
    ApplyOptions ao;
    ao.expected_new_sha256 = Sha256::Hash(data);
    return ao;
  }
  std::string old_, new_;
};

TEST_F(CompactFormatTest, HeaderIsNineBytesAndTheFrameCarriesTheRest) {
  std::string in_patch = Make(OutputCheck::kInPatch);
  std::string by_caller = Make(OutputCheck::kByCaller);
  // The frame's 32-bit content checksum is the only difference.
  EXPECT_EQ(in_patch.size(), by_caller.size() + 4);
  auto info = ReadPatchInfo(by_caller);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->version, 3u);
  EXPECT_EQ(info->method, PatchMethod::kZstdPrefix);
  EXPECT_EQ(info->new_size, new_.size());
  EXPECT_EQ(info->old_hash_bytes, 4u);
  EXPECT_EQ(info->new_hash_bytes, 0u);
  EXPECT_FALSE(info->frame_checksum);
  // magic 2 + varint(60000-ish) 3 + old check 4.
  EXPECT_EQ(info->extra_bytes, by_caller.size() - 9);
  EXPECT_EQ(std::memcmp(info->old_sha256.data(), Sha256::Hash(old_).data(), 4),
            0);
  info = ReadPatchInfo(in_patch);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->frame_checksum);
  auto out = ApplyPatchToString(old_, in_patch);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(*out == new_);
}

TEST_F(CompactFormatTest, CallerCheckedPatchNeedsTheExpectedHash) {
  std::string patch = Make(OutputCheck::kByCaller);
  MemoryRandomAccessFile old_file(old_);
  StringSink sink;
  EXPECT_THAT(ApplyPatch(old_file, patch, sink),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected SHA-256 of the new file")));
  EXPECT_TRUE(sink.data().empty());
  EXPECT_THAT(ApplyPatchToString(old_, patch, WithHash("another file")),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("differs from the expected")));
  auto out = ApplyPatchToString(old_, patch, WithHash(new_));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(*out == new_);
}

TEST_F(CompactFormatTest, ExpectedHashIsCheckedForEveryFormat) {
  for (PatchMethod m : {PatchMethod::kSuffixArray, PatchMethod::kZstdPrefix}) {
    for (PatchFormat f : {PatchFormat::kStrata, PatchFormat::kBsdiff40}) {
      DiffOptions o;
      o.method = m;
      o.format = f;
      std::string patch = MustDiff(old_, new_, o);
      EXPECT_TRUE(ApplyPatchToString(old_, patch, WithHash(new_)).ok());
      EXPECT_THAT(ApplyPatchToString(old_, patch, WithHash(old_)),
                  StatusIs(absl::StatusCode::kDataLoss));
    }
  }
}

TEST_F(CompactFormatTest, WrongBaseIsRefusedBeforeAnyOutput) {
  for (OutputCheck c : {OutputCheck::kInPatch, OutputCheck::kByCaller}) {
    std::string patch = Make(c);
    std::string other = old_;
    other[100] ^= 1;
    for (const std::string& base : {other, old_.substr(1), old_ + "x"}) {
      MemoryRandomAccessFile old_file(base);
      StringSink sink;
      EXPECT_THAT(ApplyPatch(old_file, patch, sink, WithHash(new_)),
                  StatusIs(absl::StatusCode::kDataLoss,
                           HasSubstr("does not apply to this old file")));
      EXPECT_TRUE(sink.data().empty());
    }
  }
}

TEST_F(CompactFormatTest, CorruptionAndTruncationAreNeverSilent) {
  Rng rng(32);
  // In-patch check: any applier detects damage (zstd's checksum, or the
  // decoder); caller check: the expected SHA-256 does.
  ExpectEveryCorruptionDetected(old_, new_, Make(OutputCheck::kInPatch), rng);
  ExpectEveryCorruptionDetected(old_, new_, Make(OutputCheck::kByCaller), rng,
                                WithHash(new_));
  std::string patch = Make(OutputCheck::kInPatch);
  for (size_t n = 0; n < patch.size(); ++n) {
    EXPECT_THAT(ApplyPatchToString(old_, patch.substr(0, n)),
                StatusIs(absl::StatusCode::kDataLoss))
        << n;
  }
  EXPECT_THAT(ApplyPatchToString(old_, patch + "x"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(CompactFormatTest, MemoryLimitCountsTheOldFileAndTheOutput) {
  std::string patch = Make(OutputCheck::kInPatch);
  ApplyOptions ao;
  ao.max_window_log = 16;  // 65536 < 60000 + ~60000
  EXPECT_THAT(ApplyPatchToString(old_, patch, ao),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ao.max_window_log = 17;
  EXPECT_TRUE(ApplyPatchToString(old_, patch, ao).ok());
}

TEST_F(CompactFormatTest, EmptyNewFile) {
  DiffOptions o;
  o.method = PatchMethod::kZstdPrefix;
  o.output_check = OutputCheck::kByCaller;
  std::string patch = MustDiff(old_, "", o);
  EXPECT_EQ(patch.size(), 7u);  // magic, varint 0, old check
  auto out = ApplyPatchToString(old_, patch);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->empty());
  EXPECT_THAT(ApplyPatchToString(old_, patch + "x"),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Text that fits the prefix budget: kAuto makes the compact frame with the
// anchored maker (long identical runs as copies, zstd on the changed
// stretches), tried first; the suffix-array patch only when the frame is
// large or its changes are sparse byte changes. (A wrong base is refused by
// the header's old check whoever made the frame: CompactFormatTest.)
class TextFrameTest : public CompactFormatTest {
 protected:
  void SetUp() override {
    Rng rng(41);
    old_ = rng.Text(200000);
    new_ = rng.MutateText(old_, 30);
  }
  std::string MakeAuto(OutputCheck check) {
    return Make(check, PatchMethod::kAuto);
  }
};

TEST_F(TextFrameTest, AutoMakesACompactPatchNoLargerThanTheSuffixArrays) {
  std::string patch = MakeAuto(OutputCheck::kByCaller);
  STRATA_ASSERT_OK_AND_ASSIGN(PatchInfo info, ReadPatchInfo(patch));
  EXPECT_EQ(info.version, 3u);
  EXPECT_FALSE(info.frame_checksum);
  auto out = ApplyPatchToString(old_, patch, WithHash(new_));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, new_);
  EXPECT_LE(patch.size(),
            Make(OutputCheck::kByCaller, PatchMethod::kSuffixArray).size());
  // 30 edits of at most 64 bytes (or moves of 512) in 200 KB.
  EXPECT_LT(patch.size(), 30u * 64);
}

TEST_F(TextFrameTest, CorruptionAndTruncationAreNeverSilent) {
  Rng rng(42);
  for (OutputCheck check : {OutputCheck::kInPatch, OutputCheck::kByCaller}) {
    std::string patch = MakeAuto(check);
    ApplyOptions ao;
    if (check == OutputCheck::kByCaller) ao = WithHash(new_);
    for (size_t i = 0; i < patch.size(); ++i) {
      std::string bad = patch;
      bad[i] = static_cast<char>(bad[i] ^ (1 + rng.Uniform(255)));
      auto out = ApplyPatchToString(old_, bad, ao);
      if (out.ok()) {
        EXPECT_EQ(*out, new_) << "byte " << i;
        continue;
      }
      const absl::StatusCode code = out.status().code();
      if (code == absl::StatusCode::kResourceExhausted) {
        // A damaged new size (header bytes 2-4) may declare more than the
        // memory limit: refused before any output.
        EXPECT_LT(i, 9u) << out.status();
      } else if (code == absl::StatusCode::kInvalidArgument) {
        // A damaged frame descriptor that drops the frame's checksum: the
        // applier asks for the expected hash instead of writing anything.
        EXPECT_FALSE(ao.expected_new_sha256.has_value()) << out.status();
        EXPECT_THAT(out.status().message(),
                    HasSubstr("carries no check of its output"));
      } else {
        EXPECT_EQ(code, absl::StatusCode::kDataLoss) << out.status();
      }
    }
  }
  std::string patch = MakeAuto(OutputCheck::kInPatch);
  for (size_t n = 0; n < patch.size(); ++n) {
    EXPECT_THAT(ApplyPatchToString(old_, patch.substr(0, n)),
                StatusIs(absl::StatusCode::kDataLoss))
        << n;
  }
}

// A text rewritten in large part: the frame is large, so both methods are
// tried and the smaller kept.
TEST_F(TextFrameTest, HeavilyChangedTextStillGetsTheSmallerMethod) {
  Rng rng(43);
  new_ = rng.MutateText(old_, 2000);
  std::string best = MakeAuto(OutputCheck::kByCaller);
  std::string sa = Make(OutputCheck::kByCaller, PatchMethod::kSuffixArray);
  std::string prefix = Make(OutputCheck::kByCaller, PatchMethod::kZstdPrefix);
  EXPECT_LE(best.size(), std::min(sa.size(), prefix.size()));
  auto out = ApplyPatchToString(old_, best, WithHash(new_));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, new_);
}

// Patches of versions 1 and 2 made by the previous strata-diff (main at
// 34d0883, before version 3) still apply: tests/diff/testdata, made from
// the inputs below (testdata/README.md).
std::string GoldenOld() {
  std::string s;
  for (int i = 0; i < 3000; ++i) {
    s += "line " + std::to_string(i) + " of the old file, value " +
         std::to_string(i * 7919 % 1000) + "\n";
  }
  return s;
}
std::string GoldenNew() {
  std::string s;
  for (int i = 0; i < 3100; ++i) {
    if (i % 37 == 5) continue;
    s += "line " + std::to_string(i) + " of the " +
         (i % 50 == 3 ? "new" : "old") + " file, value " +
         std::to_string(i * 7919 % 1000) + "\n";
  }
  return s;
}

TEST(OlderFormatsTest, VersionOneAndTwoPatchesStillApply) {
  const std::string dir =
      std::string(STRATA_TEST_SOURCE_DIR) + "/tests/diff/testdata/";
  const std::string old_data = GoldenOld(), new_data = GoldenNew();
  for (const auto& [name, version] :
       {std::pair<std::string, uint32_t>("v1-suffix-array.patch", 1),
        std::pair<std::string, uint32_t>("v2-zstd-prefix.patch", 2),
        std::pair<std::string, uint32_t>("v2-zstd-prefix-blocks.patch", 2)}) {
    std::string patch = testing::ReadFile(dir + name);
    ASSERT_FALSE(patch.empty()) << name;
    auto info = ReadPatchInfo(patch);
    ASSERT_TRUE(info.ok()) << name << ": " << info.status();
    EXPECT_EQ(info->version, version) << name;
    auto out = ApplyPatchToString(old_data, patch);
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    EXPECT_TRUE(*out == new_data) << name;
    // Their own checks still guard them.
    std::string other = old_data;
    other[10] ^= 1;
    EXPECT_THAT(ApplyPatchToString(other, patch),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("does not apply to this old file")))
        << name;
  }
}

// A patch file that records how it is read: the applier must read it in
// bounded pieces, never whole.
class CountingFile : public RandomAccessFile {
 public:
  explicit CountingFile(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                              char* scratch) const override {
    largest_ = std::max(largest_, n);
    if (offset >= data_.size()) return 0;
    n = std::min<size_t>(n, data_.size() - offset);
    std::memcpy(scratch, data_.data() + offset, n);
    total_ += n;
    return n;
  }
  uint64_t Size() const override { return data_.size(); }
  size_t largest() const { return largest_; }
  size_t total() const { return total_; }

 private:
  std::string data_;
  mutable size_t largest_ = 0, total_ = 0;
};

TEST(StreamingApplyTest, PatchIsReadInPiecesWhateverItsSize) {
  Rng rng(24);
  // Unrelated inputs: a patch of about the new file's size (1 MiB).
  std::string old_data = rng.Bytes(1 << 20);
  std::string new_data = rng.Bytes(1 << 20);
  for (PatchMethod m : {PatchMethod::kSuffixArray, PatchMethod::kZstdPrefix}) {
    for (PatchFormat f : {PatchFormat::kStrata, PatchFormat::kBsdiff40}) {
      if (f == PatchFormat::kBsdiff40 && m == PatchMethod::kZstdPrefix)
        continue;
      DiffOptions o;
      o.level = 1;
      o.method = m;
      o.format = f;
      CountingFile patch(MustDiff(old_data, new_data, o));
      ASSERT_GT(patch.Size(), 900000u);
      MemoryRandomAccessFile old_file(old_data);
      StringSink sink;
      ASSERT_TRUE(ApplyPatch(old_file, patch, sink).ok());
      EXPECT_TRUE(sink.data() == new_data);
      EXPECT_LE(patch.largest(), 64u * 1024);
      EXPECT_LE(patch.total(), patch.Size() + 1024);
    }
  }
}

}  // namespace
}  // namespace strata::diff

namespace strata::diff {
namespace {

// Real files of this machine in "similar version" pairs: the 32- and 64-bit
// builds of libdivsufsort, Debian's bsdiff and bspatch, and two of our
// own source files. All come with packages the build needs.
TEST(RealPairsTest, RoundTripsAreExact) {
  // The source tree as CMake knows it (__FILE__ may be relative, e.g.
  // when ccache rewrites paths under CCACHE_BASEDIR).
  const std::string src = STRATA_TEST_SOURCE_DIR;
  const std::string lib = "/usr/lib/x86_64-linux-gnu/";
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {lib + "libdivsufsort.so.3", lib + "libdivsufsort64.so.3"},
      {"/usr/bin/bsdiff", "/usr/bin/bspatch"},
      {src + "/diff/src/delta.cc", src + "/diff/src/tree_delta.cc"},
  };
  for (const auto& [a, b] : pairs) {
    std::string old_data = testing::ReadFile(a);
    std::string new_data = testing::ReadFile(b);
    ASSERT_FALSE(old_data.empty()) << a << " is missing";
    ASSERT_FALSE(new_data.empty()) << b << " is missing";
    for (PatchFormat f : {PatchFormat::kStrata, PatchFormat::kBsdiff40}) {
      for (PatchMethod m :
           {PatchMethod::kSuffixArray, PatchMethod::kZstdPrefix}) {
        if (f == PatchFormat::kBsdiff40 && m == PatchMethod::kZstdPrefix) {
          continue;
        }
        DiffOptions o;
        o.format = f;
        o.method = m;
        ExpectRoundTrip(old_data, new_data, o);
        ExpectRoundTrip(new_data, old_data, o);
      }
    }
  }
}

}  // namespace
}  // namespace strata::diff
