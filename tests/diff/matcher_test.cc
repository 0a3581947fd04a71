// The matcher's suffix-array key runs against a suffix array sorted the
// slow way.
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

}  // namespace
}  // namespace strata::diff::internal
