#include "strata/rollout/preview.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/sequential.h"

namespace strata::rollout {
namespace {

using ::testing::HasSubstr;

const absl::Time kPreviewT0 = absl::FromUnixSeconds(1'700'000'000);

Rollout Draft(uint64_t id) {
  ReleaseSpec s;
  s.release_id = id;
  s.app_id = "wallet";
  s.artifacts = {{Layer::kConfig, "payment.limits", StrCat("v", id)}};
  absl::StatusOr<Rollout> r = Rollout::Create(s);
  EXPECT_TRUE(r.ok()) << r.status();
  return *std::move(r);
}

std::vector<DeviceAttributes> MakeFleet(int n) {
  std::vector<DeviceAttributes> out;
  for (int i = 0; i < n; ++i) {
    DeviceAttributes d;
    d.user_id = StrCat("user-", i);
    d.os = i % 2 == 0 ? "android" : "ios";
    d.region = i % 5 == 0 ? "CN-31" : "CN-11";
    out.push_back(std::move(d));
  }
  return out;
}

TEST(PreviewTest, CountsPerSegmentAndCohortAtEveryStage) {
  Rollout r = Draft(3);
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet allow,
                              UserIdSet::FromIds({"user-1", "user-3"}));
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet deny, UserIdSet::FromIds({"user-0"}));
  STRATA_ASSERT_OK_AND_ASSIGN(
      Segment seg,
      Segment::Create("android-sh", R"(os == "android" && region == "CN-31")",
                      allow, deny));
  std::vector<DeviceAttributes> fleet = MakeFleet(20'000);
  ReachPreview p = PreviewReach(r, seg, fleet);
  EXPECT_EQ(p.release_id, 3u);
  EXPECT_EQ(p.segment, "android-sh");
  EXPECT_EQ(p.devices, 20'000u);
  EXPECT_EQ(p.denied, 1u);
  EXPECT_EQ(p.allowed, 2u);
  EXPECT_EQ(p.matched, 1999u);  // i % 10 == 0, minus user-0
  EXPECT_EQ(p.not_matched, 20'000u - 1999 - 3);
  EXPECT_EQ(p.current.exposure_bp, 0u);  // a draft reaches nobody yet
  EXPECT_EQ(p.current.treatment, 0u);
  ASSERT_EQ(p.stages.size(), 5u);
  EXPECT_EQ(p.stages.back().exposure_bp, 10000u);
  EXPECT_EQ(p.stages.back().treatment, 2001u);  // everyone matched + allowed
  EXPECT_EQ(p.stages.back().control, 0u);
  // 1%, 5%, 20%, 50% of 1999 matched (+2 allowed), roughly; control the same
  // size as treatment while exposure <= 50%.
  const double want[] = {0.01, 0.05, 0.2, 0.5};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(static_cast<double>(p.stages[i].treatment - 2), 1999 * want[i],
                1999 * want[i] * 0.35 + 8)
        << "stage " << i;
    EXPECT_NEAR(static_cast<double>(p.stages[i].control), 1999 * want[i],
                1999 * want[i] * 0.35 + 8)
        << "stage " << i;
    if (i > 0) {
      EXPECT_GE(p.stages[i].treatment, p.stages[i - 1].treatment);
    }
  }
  STRATA_ASSERT_OK(r.Start(kPreviewT0));
  p = PreviewReach(r, seg, fleet);
  EXPECT_EQ(p.current.exposure_bp, 100u);
  EXPECT_EQ(p.current.treatment, p.stages[0].treatment);
}

TEST(PreviewTest, ExplainsWhichReleasesADeviceGets) {
  Rollout config = Draft(1);
  STRATA_ASSERT_OK(config.Start(kPreviewT0));
  for (int i = 0; i < 5; ++i) STRATA_ASSERT_OK(config.Promote(kPreviewT0));
  Rollout ios_only = Draft(2);
  STRATA_ASSERT_OK(ios_only.Start(kPreviewT0));
  Rollout halted = Draft(4);
  STRATA_ASSERT_OK(halted.Start(kPreviewT0));
  STRATA_ASSERT_OK(halted.Halt(kPreviewT0, "crashes"));
  STRATA_ASSERT_OK_AND_ASSIGN(Segment ios,
                              Segment::Create("ios", R"(os == "ios")"));

  const TargetedRelease releases[] = {
      {&config, nullptr}, {&ios_only, &ios}, {&halted, nullptr}};
  DeviceAttributes d;
  d.user_id = "user-8";
  d.os = "android";
  const uint64_t installed[] = {4};
  std::vector<OfferExplanation> out = ExplainDevice(releases, d, installed);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].release_id, 1u);
  EXPECT_TRUE(out[0].offer.applies);
  EXPECT_EQ(out[0].reasons[0], "release 1 completed");
  EXPECT_THAT(out[0].reasons[1], HasSubstr("segment 'everyone' matched"));
  EXPECT_THAT(out[0].reasons[2], HasSubstr("< 10000 (100%): treatment"));
  EXPECT_FALSE(out[1].offer.applies);
  EXPECT_EQ(out[1].reasons[1], "segment 'ios' did not match: os == \"ios\"");
  EXPECT_TRUE(out[2].offer.applies);  // installed before the halt
  EXPECT_EQ(out[2].reasons[1],
            "already installed: devices that have it keep it");
}

TEST(PlanVerdictTest, SizesTheFirstStageFromTheBaselineAndTheCheckInRate) {
  ReachPreview reach;
  reach.devices = 100000;
  reach.stages = {{10, 100, 100}, {10000, 100000, 0}};
  GatePolicy g;
  // No baseline: nothing sizes it, and the sentence says what would.
  VerdictPlan v = PlanVerdict(g, reach, 20000);
  EXPECT_EQ(v.devices_for_verdict, 0u);
  EXPECT_THAT(v.summary, HasSubstr("baseline_crash_rate=0.5%"));

  g.baseline_crash_rate = 0.005;
  v = PlanVerdict(g, reach, 20000);
  const uint64_t n = DevicesToDetect(0.005, 2.0, 0.0025, 0.95, false);
  EXPECT_EQ(v.devices_for_verdict, n);
  // 20,000 seen in the last hour, stage 1 holds 100 of 100,000: 20 an hour.
  EXPECT_DOUBLE_EQ(v.first_stage_devices_per_hour, 20.0);
  EXPECT_THAT(v.summary,
              HasSubstr(StrCat("a verdict on a crash rate 2.00x the 0.5% "
                               "baseline (95% power, false-halt budget 1%) "
                               "needs ",
                               n, " launched treatment devices")));
  EXPECT_THAT(v.summary, HasSubstr("gets about 20.0 an hour"));
  EXPECT_THAT(v.summary, HasSubstr(" days at that rate"));
  // Nobody seen in the last hour: no time.
  EXPECT_THAT(PlanVerdict(g, reach, 0).summary,
              HasSubstr("no time can be estimated"));
  // A larger effect to catch needs fewer devices.
  g.min_detectable_crash_ratio = 3;
  EXPECT_LT(PlanVerdict(g, reach, 20000).devices_for_verdict, n);
  g.statistic = GateStatistic::kZScore;
  EXPECT_EQ(PlanVerdict(g, reach, 20000).devices_for_verdict, 0u);
}

}  // namespace
}  // namespace strata::rollout
