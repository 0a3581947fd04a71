// The device core's launch guard rules on its state message alone
// (client_sdk/device_core/src/launch_guard.h): which launch ran which
// version, what a healthy end confirms, what a crash blames, per-module
// bans. device_launch_test.cc drives them through a real stratad.
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
// (as src/: client_sdk/src has a launch_guard.h of its own)
#include "src/download_rules.h"
#include "src/launch_guard.h"

namespace strata::device::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

pb::ModuleId Fix() {
  pb::ModuleId m;
  m.set_layer(pb::LAYER_HOTPATCH);
  m.set_name("fix");
  return m;
}

pb::InstalledModule V(const std::string& version) {
  pb::InstalledModule m;
  *m.mutable_module() = Fix();
  m.set_version(version);
  m.set_content_sha256("sha-" + version);
  return m;
}

// What a check does: `version` (release `release`) replaces what is
// installed.
void Install(pb::DeviceState& s, const std::string& version, uint64_t release) {
  pb::InstalledModule previous;
  const bool had = s.installed_size() > 0;
  if (had) previous = s.installed(0);
  s.clear_installed();
  *s.add_installed() = V(version);
  RecordInstall(s, had ? &previous : nullptr, s.installed(0), release);
}

std::string Installed(const pb::DeviceState& s) {
  return s.installed_size() == 0 ? "" : s.installed(0).version();
}

TEST(DeviceLaunchGuardTest, AHealthyLaunchConfirmsOnlyWhatItRan) {
  pb::DeviceState s;
  GuardLaunch(s, 3);
  Install(s, "1", 11);  // during launch 0
  ASSERT_TRUE(ConfirmLaunch(s));
  EXPECT_TRUE(s.guards(0).pending());  // launch 0 never ran 1
  EXPECT_THAT(RanReleaseIds(s), IsEmpty());

  GuardLaunch(s, 3);  // launch 1 runs 1
  EXPECT_THAT(RanReleaseIds(s), ElementsAre(11));
  Install(s, "2", 12);                             // while 1 runs
  EXPECT_THAT(RanReleaseIds(s), ElementsAre(11));  // still what runs
  ASSERT_TRUE(ConfirmLaunch(s));
  // 1 ran healthy: the known good version; 2 has not run.
  EXPECT_TRUE(s.guards(0).pending());
  EXPECT_EQ(s.guards(0).good().version(), "1");
  EXPECT_EQ(s.guards(0).good_release_id(), 11u);
  EXPECT_FALSE(ConfirmLaunch(s));  // no launch in progress
}

TEST(DeviceLaunchGuardTest, CrashesBlameOnlyTheVersionsTheyRan) {
  pb::DeviceState s;
  Install(s, "1", 11);
  GuardLaunch(s, 2);
  ASSERT_TRUE(ConfirmLaunch(s));       // 1 confirmed
  GuardLaunch(s, 2);                   // runs 1 and crashes ...
  Install(s, "2", 12);                 // ... after installing 2
  GuardOutcome o = GuardLaunch(s, 2);  // 1 unhealthy launch; 2 runs now
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_THAT(o.events[0].release_ids, ElementsAre(11));  // what crashed
  // Starting to run 2 restarts the count.
  EXPECT_EQ(s.unhealthy_launches(), 0u);
  o = GuardLaunch(s, 2);
  EXPECT_THAT(o.events[0].release_ids, ElementsAre(12));
  EXPECT_THAT(o.now, IsEmpty());
  o = GuardLaunch(s, 2);  // the limit: 2 goes
  ASSERT_EQ(o.now.size(), 1u);
  EXPECT_EQ(o.now[0].version(), "1");
  EXPECT_EQ(o.bad[0].version(), "2");
  EXPECT_EQ(Installed(s), "1");
  EXPECT_TRUE(s.rolled_back_since_healthy());
  EXPECT_TRUE(Banned(s, Fix(), "sha-2"));
  pb::ModuleId other = Fix();
  other.set_name("other");
  EXPECT_FALSE(Banned(s, other, "sha-2"));  // per module
}

TEST(DeviceLaunchGuardTest, WithNothingPendingTwiceTheLimitUninstalls) {
  pb::DeviceState s;
  Install(s, "1", 11);
  GuardLaunch(s, 2);
  ASSERT_TRUE(ConfirmLaunch(s));
  // Launches with 0 to 3 unhealthy ones before them: nothing is pending,
  // so nothing goes back, and under 2 x 2 nothing is uninstalled.
  for (int i = 0; i < 4; ++i) {
    const GuardOutcome o = GuardLaunch(s, 2);
    EXPECT_EQ(o.unhealthy_launches, i);
    EXPECT_FALSE(o.uninstalled_all) << i;
    EXPECT_THAT(o.now, IsEmpty());
  }
  const GuardOutcome o = GuardLaunch(s, 2);  // the 4th unhealthy one
  EXPECT_EQ(o.unhealthy_launches, 4);
  EXPECT_TRUE(o.uninstalled_all);
  EXPECT_EQ(Installed(s), "");
  EXPECT_THAT(s.guards(), IsEmpty());
  EXPECT_TRUE(Banned(s, Fix(), "sha-1"));
  EXPECT_EQ(s.unhealthy_launches(), 0u);
}

// The download rules' arithmetic (download_rules.h) at its edges.
TEST(DeviceDownloadRulesTest, TheBackOffSaturatesAndTheDayRollsOver) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  pb::DeviceState s;
  EXPECT_EQ(NextTry(s, Fix()), std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(RecordFailedDownload(s, Fix(), 100, 0, 60));  // no back-off
  EXPECT_THAT(s.backoffs(), IsEmpty());
  // "No cap" given as the largest value: doubling and the sum saturate.
  for (int i = 0; i < 70; ++i) {
    ASSERT_TRUE(RecordFailedDownload(s, Fix(), kMax - 5, 1, kMax));
  }
  EXPECT_EQ(NextTry(s, Fix()), kMax);
  ASSERT_TRUE(RecordFailedDownload(s, Fix(), -1000, 1, kMax));
  EXPECT_EQ(NextTry(s, Fix()), -1000 + kMax);
  EXPECT_TRUE(ForgetFailures(s, Fix()));
  EXPECT_FALSE(ForgetFailures(s, Fix()));
  // The budget's day is the UTC day, also before 1970.
  CountBytes(s, 86399, 10);
  EXPECT_EQ(BytesToday(s, 0), 10u);
  EXPECT_EQ(BytesToday(s, 86400), 0u);
  CountBytes(s, -1, 7);
  EXPECT_EQ(BytesToday(s, -86400), 7u);
  EXPECT_EQ(BytesToday(s, 0), 0u);
}

}  // namespace
}  // namespace strata::device::internal
