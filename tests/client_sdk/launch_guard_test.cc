// The launch guard's decisions on the client state (launch_guard.h), with
// no files, transport or clock: when a launch counts as unhealthy, what a
// rollback restores and bans, when everything goes back to the embedded
// versions, and what a healthy launch confirms. client_test.cc and
// crash_test.cc drive the same rules through Client::BeginLaunch.
#include "launch_guard.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const ModuleKey kMall{2, "mall"};
const ModuleKey kFix{4, "fix"};

VersionRef V(const std::string& version, uint64_t release) {
  return VersionRef{version, "sha-" + version, release, release, 0, false};
}

// mall 2 activated since the last healthy launch (1 is its known good);
// fix 7 active and confirmed; a launch started and never marked healthy.
ClientState Crashed(int unhealthy_so_far) {
  ClientState s;
  s.launch_in_progress = true;
  s.unhealthy_launches = unhealthy_so_far;
  ModuleState& mall = s.modules[kMall];
  mall.active = V("2", 12);
  mall.good = V("1", 11);
  mall.pending = true;
  s.modules[kFix].active = V("7", 17);
  return s;
}

TEST(LaunchGuardTest, AHealthyPreviousLaunchChangesNothing) {
  ClientState s = Crashed(0);
  s.launch_in_progress = false;
  const ClientState before = s;
  const GuardDecision d = GuardLaunch(s, 3);
  EXPECT_EQ(s, before);
  EXPECT_THAT(d.events, IsEmpty());
  EXPECT_THAT(d.rolled_back, IsEmpty());
  EXPECT_EQ(d.unhealthy_launches, 0);
  EXPECT_FALSE(d.reset_to_embedded);
}

TEST(LaunchGuardTest, AnUnfinishedLaunchCountsWithTheReleasesItRan) {
  ClientState s = Crashed(0);
  const GuardDecision d = GuardLaunch(s, 3);
  EXPECT_EQ(s.unhealthy_launches, 1);
  EXPECT_EQ(d.unhealthy_launches, 1);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].kind, GuardEvent::kLaunchCrash);
  EXPECT_THAT(d.events[0].release_ids, ElementsAre(12, 17));
  EXPECT_THAT(d.events[0].detail, HasSubstr("1 in a row"));
  // Under the limit: nothing rolled back.
  EXPECT_EQ(s.modules[kMall].active, V("2", 12));
  EXPECT_TRUE(s.modules[kMall].pending);
  EXPECT_THAT(d.rolled_back, IsEmpty());
}

TEST(LaunchGuardTest, AtTheLimitPendingModulesGoBackAndTheirVersionIsBanned) {
  ClientState s = Crashed(2);
  s.modules[kMall].staged = V("2", 12);  // the bad one, staged again
  const GuardDecision d = GuardLaunch(s, 3);
  EXPECT_EQ(d.unhealthy_launches, 3);
  const ModuleState& mall = s.modules[kMall];
  EXPECT_EQ(mall.active, V("1", 11));
  EXPECT_FALSE(mall.good.has_value());
  EXPECT_FALSE(mall.pending);
  EXPECT_THAT(mall.banned, ElementsAre("sha-2"));
  EXPECT_FALSE(mall.staged.has_value());  // banned, so dropped
  // The confirmed module stays.
  EXPECT_EQ(s.modules[kFix].active, V("7", 17));
  EXPECT_THAT(s.modules[kFix].banned, IsEmpty());
  // The counter restarts; a rollback happened since the last healthy launch.
  EXPECT_EQ(s.unhealthy_launches, 0);
  EXPECT_TRUE(s.rolled_back_since_healthy);
  ASSERT_EQ(d.rolled_back.size(), 1u);
  EXPECT_EQ(d.rolled_back[0].key, kMall);
  EXPECT_EQ(d.rolled_back[0].now, V("1", 11));
  EXPECT_EQ(d.rolled_back[0].bad, V("2", 12));
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[1].kind, GuardEvent::kRolledBack);
  EXPECT_EQ(d.events[1].key, kMall);
  EXPECT_EQ(d.events[1].release_id, 12u);
  EXPECT_THAT(d.events[1].detail, HasSubstr("after activating 2; back to 1"));
  EXPECT_FALSE(d.reset_to_embedded);
}

TEST(LaunchGuardTest, AFirstInstallRollsBackToTheEmbeddedVersion) {
  ClientState s = Crashed(2);
  s.modules[kMall].good.reset();  // nothing installed before 2
  const GuardDecision d = GuardLaunch(s, 3);
  EXPECT_FALSE(s.modules[kMall].active.has_value());
  ASSERT_EQ(d.rolled_back.size(), 1u);
  EXPECT_FALSE(d.rolled_back[0].now.has_value());
  EXPECT_THAT(d.events[1].detail, HasSubstr("back to embedded"));
}

TEST(LaunchGuardTest, FailingOnAfterARollbackResetsEverythingToEmbedded) {
  ClientState s = Crashed(0);
  ASSERT_TRUE(GuardLaunch(s, 1).rolled_back.size() == 1);
  s.launch_in_progress = true;  // the next launch crashes too
  s.modules[kFix].staged = V("8", 18);
  const GuardDecision d = GuardLaunch(s, 1);
  EXPECT_TRUE(d.reset_to_embedded);
  for (const auto& [key, m] : s.modules) {
    EXPECT_FALSE(m.active.has_value()) << key.second;
    EXPECT_FALSE(m.staged.has_value()) << key.second;
    EXPECT_FALSE(m.pending) << key.second;
  }
  // All it ran (and the staged next version) is banned.
  EXPECT_THAT(s.modules[kMall].banned, ElementsAre("sha-1", "sha-2"));
  EXPECT_THAT(s.modules[kFix].banned, ElementsAre("sha-7", "sha-8"));
  EXPECT_EQ(s.unhealthy_launches, 0);
  EXPECT_FALSE(s.rolled_back_since_healthy);
  ASSERT_EQ(d.events.size(), 3u);  // the crash, then one per module
  EXPECT_THAT(d.events[1].detail, HasSubstr("reset to the embedded version"));
  EXPECT_EQ(d.events[2].release_id, 17u);
}

TEST(LaunchGuardTest, WithNothingPendingOnlyTwiceTheLimitResets) {
  ClientState s = Crashed(0);
  s.modules[kMall].pending = false;  // nothing activated since healthy
  for (int i = 1; i < 6; ++i) {
    const GuardDecision d = GuardLaunch(s, 3);
    EXPECT_FALSE(d.reset_to_embedded) << i;
    EXPECT_EQ(s.unhealthy_launches, i);
    s.launch_in_progress = true;
  }
  const GuardDecision d = GuardLaunch(s, 3);
  EXPECT_TRUE(d.reset_to_embedded);
  EXPECT_EQ(d.unhealthy_launches, 6);
  EXPECT_FALSE(s.modules[kFix].active.has_value());
}

TEST(LaunchGuardTest, AHealthyLaunchConfirmsTheActivatedVersions) {
  ClientState s = Crashed(2);
  s.rolled_back_since_healthy = true;
  ASSERT_THAT(ConfirmLaunch(s), testing::IsOk());
  EXPECT_FALSE(s.launch_in_progress);
  EXPECT_EQ(s.unhealthy_launches, 0);
  EXPECT_FALSE(s.rolled_back_since_healthy);
  EXPECT_FALSE(s.modules[kMall].pending);
  EXPECT_FALSE(s.modules[kMall].good.has_value());
  EXPECT_EQ(s.modules[kMall].active, V("2", 12));
  // Without a launch in progress: refused, nothing changed.
  const ClientState before = s;
  const absl::Status again = ConfirmLaunch(s);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.message(), HasSubstr("call BeginLaunch()"));
  EXPECT_EQ(s, before);
}

}  // namespace
}  // namespace strata::client
