#include "strata/rollout/bucketing.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace strata::rollout {
namespace {

TEST(BucketingTest, IsTheDocumentedFunction) {
  // bucket = BE64(SHA-256(salt 0x00 id)[0..8]) mod 10000, computed here
  // from the digest independently of BucketOf.
  for (std::string id : {"alice", "bob", "", "user-123456"}) {
    Sha256Digest d =
        Sha256::Hash(StrCat("release-7", std::string(1, '\0'), id));
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v * 256 + d[i];
    EXPECT_EQ(BucketOf("release-7", id), v % 10000) << id;
  }
}

TEST(BucketingTest, GoldenValuesNeverChange) {
  // Pinned so a refactor cannot silently re-bucket the fleet. Computed
  // outside C++ with: int.from_bytes(hashlib.sha256(b"canary\x00alice")
  // .digest()[:8], "big") % 10000 (Python).
  EXPECT_EQ(BucketOf("canary", "alice"), 5386u);
  EXPECT_EQ(BucketOf("canary", "bob"), 8249u);
  EXPECT_EQ(BucketOf("canary", "carol"), 4298u);
  EXPECT_EQ(BucketOf("canary", "dave"), 2132u);
}

TEST(BucketingTest, SaltChangesTheBucket) {
  int same = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string id = StrCat("u", i);
    same += BucketOf("release-1", id) == BucketOf("release-2", id);
  }
  EXPECT_LT(same, 5);  // ~0.1 expected by chance
}

TEST(BucketingTest, UserInAt5PercentIsInAt20Percent) {
  int in5 = 0;
  for (int i = 0; i < 20'000; ++i) {
    uint32_t b = BucketOf("release-9", StrCat("user-", i));
    if (CohortOf(b, 500) == Cohort::kTreatment) {
      ++in5;
      EXPECT_EQ(CohortOf(b, 2000), Cohort::kTreatment);
      EXPECT_EQ(CohortOf(b, 10000), Cohort::kTreatment);
    }
    // Control only grows too (until 50%).
    if (CohortOf(b, 500) == Cohort::kControl) {
      EXPECT_EQ(CohortOf(b, 2000), Cohort::kControl);
    }
  }
  EXPECT_NEAR(in5, 1000, 150);
}

TEST(BucketingTest, CohortRanges) {
  EXPECT_EQ(ControlSize(100), 100u);
  EXPECT_EQ(ControlSize(5000), 5000u);
  EXPECT_EQ(ControlSize(7000), 3000u);
  EXPECT_EQ(ControlSize(10000), 0u);
  EXPECT_EQ(ControlSize(0), 0u);
  EXPECT_EQ(CohortOf(0, 100), Cohort::kTreatment);
  EXPECT_EQ(CohortOf(99, 100), Cohort::kTreatment);
  EXPECT_EQ(CohortOf(100, 100), Cohort::kOutside);
  EXPECT_EQ(CohortOf(9899, 100), Cohort::kOutside);
  EXPECT_EQ(CohortOf(9900, 100), Cohort::kControl);
  EXPECT_EQ(CohortOf(9999, 100), Cohort::kControl);
  EXPECT_EQ(CohortOf(4999, 5000), Cohort::kTreatment);
  EXPECT_EQ(CohortOf(5000, 5000), Cohort::kControl);
  EXPECT_EQ(CohortOf(9999, 10000), Cohort::kTreatment);
  EXPECT_EQ(CohortOf(0, 0), Cohort::kOutside);
  EXPECT_EQ(CohortName(Cohort::kControl), "control");
}

// Uniformity only: how long bucketing takes is measured with the Check
// path in bench/server (a wall-clock bound here failed under ASan).
TEST(BucketingTest, UniformWithinOnePercentOver1MIds) {
  constexpr int kIds = 1'000'000;
  constexpr int kGroups = 100;  // 100 ranges of 100 buckets (1% each)
  std::vector<int> counts(kGroups, 0);
  std::string id;
  for (int i = 0; i < kIds; ++i) {
    id = "user-";
    id += std::to_string(i);
    ++counts[BucketOf("release-42", id) / 100];
  }
  const double expected = static_cast<double>(kIds) / kGroups;
  for (int g = 0; g < kGroups; ++g) {
    // Each 1% slice holds 1% of users, within 1% of 1M ids (10,000 ids) and
    // in practice within ~4 standard deviations (~400 ids).
    EXPECT_NEAR(counts[g], expected, 400) << "slice " << g;
  }
  // Every rollout exposure covers its share of users within 1%.
  int covered = 0;
  for (int g = 0; g < kGroups; ++g) {
    covered += counts[g];
    const double share = static_cast<double>(covered) / kIds;
    EXPECT_NEAR(share, (g + 1) / 100.0, 0.01) << "at " << g + 1 << "%";
  }
}

}  // namespace
}  // namespace strata::rollout
