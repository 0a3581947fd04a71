// The matcher: its suffix-array key runs against a suffix array sorted
// the slow way, and its scan's stepping through new content.
#include "src/matcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "test_util.h"

namespace strata::diff::internal {
namespace {

// The runs as the matcher used to find them: a pass over the suffix array.
void RunsFromSuffixArray(std::string_view old, std::vector<uint32_t>* lo,
                         std::vector<uint32_t>* hi) {
  std::vector<uint32_t> sa(old.size());
  std::iota(sa.begin(), sa.end(), 0u);
  std::sort(sa.begin(), sa.end(), [&](uint32_t a, uint32_t b) {
    return old.substr(a) < old.substr(b);
  });
  lo->assign(65536, 0);
  hi->assign(65536, 0);
  std::vector<bool> seen(65536, false);
  for (size_t i = 0; i < sa.size(); ++i) {
    if (sa[i] + 1 >= old.size()) continue;
    const uint32_t k = (uint32_t{static_cast<uint8_t>(old[sa[i]])} << 8) |
                       static_cast<uint8_t>(old[sa[i] + 1]);
    if (!seen[k]) {
      seen[k] = true;
      (*lo)[k] = static_cast<uint32_t>(i);
    }
    (*hi)[k] = static_cast<uint32_t>(i + 1);
  }
}

TEST(SuffixKeyRunsTest, MatchTheSuffixArray) {
  testing::Rng rng(11);
  std::vector<std::string> inputs = {
      "", "a", "ab", "ba", "aa", "abab", "\xff\x00\xff", std::string(300, 'z')};
  for (int alphabet : {2, 3, 256}) {
    for (size_t n : {3u, 17u, 200u, 1000u}) {
      std::string s(n, '\0');
      for (char& c : s) c = static_cast<char>('a' + rng.Uniform(alphabet));
      inputs.push_back(s);
      // The same with each letter last: the one-byte suffix moves the runs
      // of the keys that start with it.
      for (int last = 0; last < std::min(alphabet, 3); ++last) {
        s.back() = static_cast<char>('a' + last);
        inputs.push_back(s);
      }
    }
  }
  for (const std::string& in : inputs) {
    std::vector<uint32_t> lo, hi, want_lo, want_hi;
    SuffixKeyRuns(in, &lo, &hi);
    RunsFromSuffixArray(in, &want_lo, &want_hi);
    EXPECT_EQ(lo, want_lo) << in.size();
    EXPECT_EQ(hi, want_hi) << in.size();
  }
}

// Through 400,000 bytes of new content the scan steps (every 8th position
// at most), yet what follows is found from its first byte: the old text b
// and, between two stretches of new content, a 64-byte piece of old text.
// A match longer than the step is met, and extended back to its start.
TEST(ComputeSegmentsTest, StepsThroughNewContentAndFindsWhatFollows) {
  testing::Rng rng(12);
  const std::string a = rng.Text(20000), b = rng.Text(30000);
  const std::string old = a + b;
  const std::string nw = rng.Bytes(400000) + a.substr(7000, 64) +
                         rng.Bytes(3000) + b + a.substr(0, 5000);
  const uint64_t piece = 400000, b_at = 403064;
  MatchOptions options;
  options.threads = 1;
  absl::StatusOr<std::vector<Segment>> segs = ComputeSegments(old, nw, options);
  ASSERT_TRUE(segs.ok()) << segs.status();
  // Bytes of new[from, to) that add regions take from equal old bytes.
  auto matched = [&](uint64_t from, uint64_t to) {
    uint64_t n = 0;
    for (const Segment& s : *segs) {
      for (uint64_t k = 0; k < s.add_len; ++k) {
        const uint64_t p = s.new_pos + k;
        if (p >= from && p < to && old[s.old_pos + k] == nw[p]) ++n;
      }
    }
    return n;
  };
  uint64_t at = 0, b_start = nw.size();
  for (const Segment& s : *segs) {
    ASSERT_EQ(s.new_pos, at);  // in order, no gap, no overlap
    at += s.add_len + s.extra_len;
    // b's diagonal: old 20,000 is new b_at.
    if (s.add_len > 0 && s.old_pos + b_at == s.new_pos + 20000) {
      b_start = std::min<uint64_t>(b_start, s.new_pos);
    }
  }
  EXPECT_EQ(at, nw.size());
  EXPECT_GE(matched(piece, piece + 64), 60u);
  EXPECT_GE(b_start, b_at - 8);
  EXPECT_LE(b_start, b_at);
  EXPECT_GE(matched(b_at, b_at + 30000), 30000u - 16);
}

}  // namespace
}  // namespace strata::diff::internal
