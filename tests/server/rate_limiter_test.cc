// Token buckets per key on a simulated clock, and the bound on the keys
// they remember.
#include "strata/server/core/rate_limiter.h"

#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"

namespace strata::server {
namespace {

RateLimit Limit(double per_second, double burst, size_t max_keys = 1000) {
  RateLimit l;
  l.per_second = per_second;
  l.burst = burst;
  l.max_keys = max_keys;
  return l;
}

TEST(RateLimiterTest, ABurstThenTheSustainedRate) {
  testing::SimulatedClock clock;
  RateLimiter limiter(&clock, Limit(/*per_second=*/2, /*burst=*/3));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Acquire("d1")) << i;
  std::optional<absl::Duration> wait = limiter.Acquire("d1");
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Milliseconds(500));  // one token at 2 a second
  clock.Advance(absl::Milliseconds(200));
  wait = limiter.Acquire("d1");  // refused calls take nothing
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Milliseconds(300));
  clock.Advance(absl::Milliseconds(300));
  EXPECT_FALSE(limiter.Acquire("d1"));
  EXPECT_TRUE(limiter.Acquire("d1"));
  // A long pause refills up to the burst, not beyond.
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Acquire("d1")) << i;
  EXPECT_TRUE(limiter.Acquire("d1"));
}

TEST(RateLimiterTest, KeysHaveTheirOwnBuckets) {
  testing::SimulatedClock clock;
  RateLimiter limiter(&clock, Limit(1, 1));
  EXPECT_FALSE(limiter.Acquire("d1"));
  EXPECT_TRUE(limiter.Acquire("d1"));
  EXPECT_FALSE(limiter.Acquire("d2"));
  EXPECT_EQ(limiter.size(), 2u);
}

TEST(RateLimiterTest, ZeroRateIsOffAndRemembersNothing) {
  testing::SimulatedClock clock;
  RateLimiter limiter(&clock, Limit(0, 1));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(limiter.Acquire(StrCat("d", i % 3)));
  }
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(RateLimiterTest, AFloodOfKeysDoesNotGrowTheMapPastItsBound) {
  testing::SimulatedClock clock;
  RateLimiter limiter(&clock, Limit(1, 5, /*max_keys=*/100));
  for (int i = 0; i < 10000; ++i) {
    EXPECT_FALSE(limiter.Acquire(StrCat("made-up-", i)));
    ASSERT_LE(limiter.size(), 100u);
  }
  EXPECT_EQ(limiter.size(), 100u);
}

TEST(RateLimiterTest, IdleKeysAreForgottenOnceTheirBucketIsFullAgain) {
  testing::SimulatedClock clock;
  RateLimiter limiter(&clock, Limit(/*per_second=*/1, /*burst=*/10));
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(limiter.Acquire(StrCat("d", i)));
  EXPECT_EQ(limiter.size(), 50u);
  clock.Advance(absl::Seconds(9));  // not full yet: remembered
  EXPECT_FALSE(limiter.Acquire("x"));
  EXPECT_EQ(limiter.size(), 51u);
  clock.Advance(absl::Seconds(1));  // the first 50 are full again
  EXPECT_FALSE(limiter.Acquire("y"));
  EXPECT_EQ(limiter.size(), 2u);  // x and y
}

TEST(RateLimiterTest, ABusyKeyKeepsItsStateWhileOthersComeAndGo) {
  testing::SimulatedClock clock;
  RateLimiter limiter(&clock, Limit(1, 2, /*max_keys=*/10));
  EXPECT_FALSE(limiter.Acquire("busy"));
  EXPECT_FALSE(limiter.Acquire("busy"));
  for (int i = 0; i < 8; ++i) EXPECT_FALSE(limiter.Acquire(StrCat("d", i)));
  // Used again: the most recent, so not the one evicted next.
  EXPECT_TRUE(limiter.Acquire("busy"));
  EXPECT_FALSE(limiter.Acquire("d8"));
  EXPECT_FALSE(limiter.Acquire("d9"));  // evicts d0, not busy
  EXPECT_TRUE(limiter.Acquire("busy"));
}

TEST(RateLimiterTest, AClockThatStepsBackGrantsNothing) {
  testing::SimulatedClock clock;
  RateLimiter limiter(&clock, Limit(1, 1));
  EXPECT_FALSE(limiter.Acquire("d1"));
  clock.Advance(absl::Seconds(-30));
  EXPECT_TRUE(limiter.Acquire("d1"));
  clock.Advance(absl::Seconds(30));
  EXPECT_TRUE(limiter.Acquire("d1"));  // the bucket kept its own time
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(limiter.Acquire("d1"));
}

}  // namespace
}  // namespace strata::server
