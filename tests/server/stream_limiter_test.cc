// Slots for long-lived calls, server-wide and per key.
#include "strata/server/core/stream_limiter.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace strata::server {
namespace {

using Refused = StreamLimiter::Refused;

TEST(StreamLimiterTest, PerKeyMaximumThenAFreedSlotIsReusable) {
  StreamLimiter limiter({.max_total = 10, .max_per_key = 2});
  std::optional<StreamLimiter::Slot> a(limiter.Acquire("d1"));
  StreamLimiter::Slot b = limiter.Acquire("d1");
  ASSERT_TRUE(a->ok());
  ASSERT_TRUE(b.ok());
  StreamLimiter::Slot c = limiter.Acquire("d1");
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.refused(), Refused::kKey);
  EXPECT_TRUE(limiter.Acquire("d2").ok());  // another device is unaffected
  EXPECT_EQ(limiter.open("d1"), 2u);
  a.reset();  // the stream ended
  EXPECT_EQ(limiter.open("d1"), 1u);
  EXPECT_TRUE(limiter.Acquire("d1").ok());
}

TEST(StreamLimiterTest, ServerWideMaximum) {
  StreamLimiter limiter({.max_total = 3, .max_per_key = 0});
  std::vector<StreamLimiter::Slot> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(limiter.Acquire("d" + std::to_string(i)));
    ASSERT_TRUE(held.back().ok());
  }
  StreamLimiter::Slot refused = limiter.Acquire("d9");
  EXPECT_EQ(refused.refused(), Refused::kServer);
  EXPECT_EQ(limiter.open(), 3u);
  held.pop_back();
  EXPECT_TRUE(limiter.Acquire("d9").ok());
}

TEST(StreamLimiterTest, OnlyKeysWithOpenSlotsAreRemembered) {
  StreamLimiter limiter({.max_total = 0, .max_per_key = 1});
  for (int i = 0; i < 1000; ++i) {
    StreamLimiter::Slot s = limiter.Acquire("d" + std::to_string(i));
    ASSERT_TRUE(s.ok());
  }
  EXPECT_EQ(limiter.keys(), 0u);
  EXPECT_EQ(limiter.open(), 0u);
}

TEST(StreamLimiterTest, AMovedSlotIsReleasedOnce) {
  StreamLimiter limiter({.max_total = 1, .max_per_key = 1});
  {
    StreamLimiter::Slot a = limiter.Acquire("d1");
    StreamLimiter::Slot b(std::move(a));
    EXPECT_EQ(limiter.open(), 1u);
  }
  EXPECT_EQ(limiter.open(), 0u);
  EXPECT_TRUE(limiter.Acquire("d1").ok());
}

}  // namespace
}  // namespace strata::server
