#include "strata/rollout/gate.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/sequential.h"

namespace strata::rollout {
namespace {

using ::strata::testing::SimulatedClock;
using ::testing::HasSubstr;
using ::testing::Not;

ReleaseSpec Spec() {
  ReleaseSpec s;
  s.release_id = 11;
  s.app_id = "wallet";
  s.artifacts = {{Layer::kH5, "mall-home", "3.2.0"}};
  s.plan.stages = {{100, absl::Hours(1), 100}, {10000, absl::Hours(2), 100}};
  return s;
}

// Adds `n` copies of an event to a cohort.
void Add(CohortHealth& c, HealthEventKind kind, uint64_t n, absl::Time at,
         int reason = 0) {
  HealthEvent e;
  e.kind = kind;
  e.at = at;
  e.reject_reason = reason;
  for (uint64_t i = 0; i < n; ++i) c.Add(e);
}

class GateTest : public ::testing::Test {
 protected:
  GateTest() : gate_(&clock_) {
    absl::StatusOr<Rollout> r = Rollout::Create(Spec());
    EXPECT_TRUE(r.ok()) << r.status();
    rollout_.emplace(*std::move(r));
    EXPECT_TRUE(rollout_->Start(clock_.Now()).ok());
    health_.release_id = 11;
    health_.stage = 0;
  }
  // Launch reports at the current time into treatment (also the stage
  // window) or control.
  void Launches(Cohort cohort, uint64_t ok, uint64_t crashes) {
    const absl::Time now = clock_.Now();
    if (cohort == Cohort::kControl) {
      Add(health_.control, HealthEventKind::kLaunchOk, ok, now);
      Add(health_.control, HealthEventKind::kLaunchCrash, crashes, now);
      return;
    }
    for (CohortHealth* c : {&health_.treatment, &health_.treatment_stage}) {
      Add(*c, HealthEventKind::kLaunchOk, ok, now);
      Add(*c, HealthEventKind::kLaunchCrash, crashes, now);
    }
  }
  // `ok` applies and `failed` failures of `kind` with the RejectReason
  // named `reason`.
  void Applies(Cohort cohort, uint64_t ok, uint64_t failed,
               std::string_view reason = "REJECT_APPLY_FAILED",
               HealthEventKind kind = HealthEventKind::kApplyFailed) {
    CohortHealth& c =
        cohort == Cohort::kControl ? health_.control : health_.treatment;
    const std::optional<int> number = RejectReasonNumber(reason);
    ASSERT_TRUE(number.has_value()) << reason;
    Add(c, HealthEventKind::kApplied, ok, clock_.Now());
    Add(c, kind, failed, clock_.Now(), *number);
  }

  // Starts the release again with `gates` (the statistic, a baseline...).
  void Restart(const GatePolicy& gates) {
    ReleaseSpec s = Spec();
    s.gates = gates;
    absl::StatusOr<Rollout> r = Rollout::Create(s);
    ASSERT_TRUE(r.ok()) << r.status();
    rollout_.emplace(*std::move(r));
    ASSERT_TRUE(rollout_->Start(clock_.Now()).ok());
  }
  // The fixed-sample rules of earlier versions (GateStatistic::kZScore).
  void UseZScore() {
    GatePolicy g;
    g.statistic = GateStatistic::kZScore;
    Restart(g);
  }

  SimulatedClock clock_;
  GateEvaluator gate_;
  std::optional<Rollout> rollout_;
  ReleaseHealth health_;
};

TEST_F(GateTest, HoldsWhileBakingAndShort) {
  Launches(Cohort::kTreatment, 50, 0);
  clock_.Advance(absl::Minutes(30));
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHold);
  EXPECT_EQ(d.rule, "baking");
  EXPECT_EQ(d.reason,
            "holding: baked 30m of 1h; 50 of 100 reports; 50 of 200 launched "
            "devices the crash gate needs");
  clock_.Advance(absl::Hours(1));
  Launches(Cohort::kTreatment, 60, 0);
  GateDecision waiting = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(waiting.reason,
            "holding: 110 of 200 launched devices the crash gate needs");
  // Baked: the rule says what it waits for instead of "baking".
  EXPECT_EQ(waiting.rule, "waiting_for_launches");
  // Enough launches in total (earlier stages count), too few in the stage.
  health_.treatment_stage = CohortHealth();
  Add(health_.treatment_stage, HealthEventKind::kLaunchOk, 90, clock_.Now());
  Add(health_.treatment, HealthEventKind::kLaunchOk, 100, clock_.Now());
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).reason,
            "holding: 90 of 100 reports");
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).rule, "waiting_for_reports");
}

TEST_F(GateTest, PromotesAfterBakeWithEnoughReportsThenCompletes) {
  Launches(Cohort::kTreatment, 250, 1);
  Launches(Cohort::kControl, 150, 1);
  clock_.Advance(absl::Hours(1));
  STRATA_ASSERT_OK_AND_ASSIGN(GateDecision d, gate_.Step(*rollout_, health_));
  EXPECT_EQ(d.action, GateAction::kPromote);
  EXPECT_EQ(d.rule, "bake_complete");
  EXPECT_THAT(d.reason, HasSubstr("baked 1h of 1h with 251 of 100 reports"));
  EXPECT_THAT(d.reason, HasSubstr("promoting to stage 2 (100%)"));
  EXPECT_EQ(rollout_->stage(), 1);
  EXPECT_THAT(rollout_->status().reason, HasSubstr("gate bake_complete: "));

  // The new stage needs its own reports.
  clock_.Advance(absl::Hours(2));
  d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHold);
  EXPECT_EQ(d.figures.stage_reports, 0u);
  health_.stage = 1;
  health_.treatment_stage = CohortHealth();
  Launches(Cohort::kTreatment, 100, 0);
  STRATA_ASSERT_OK_AND_ASSIGN(d, gate_.Step(*rollout_, health_));
  EXPECT_EQ(d.action, GateAction::kPromote);
  EXPECT_THAT(d.reason, HasSubstr("completing the release"));
  EXPECT_EQ(rollout_->state(), ReleaseState::kCompleted);
}

TEST_F(GateTest, NotRollingHolds) {
  STRATA_ASSERT_OK(rollout_->Pause(clock_.Now()));
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHold);
  EXPECT_EQ(d.rule, "not_rolling");
  STRATA_ASSERT_OK_AND_ASSIGN(d, gate_.Step(*rollout_, health_));
  EXPECT_EQ(rollout_->state(), ReleaseState::kPaused);
}

TEST_F(GateTest, HaltsOnIntegrityFailures) {
  Applies(Cohort::kTreatment, 97, 3, "REJECT_BAD_SIGNATURE",
          HealthEventKind::kRejected);
  STRATA_ASSERT_OK_AND_ASSIGN(GateDecision d, gate_.Step(*rollout_, health_));
  EXPECT_EQ(d.action, GateAction::kHalt);
  EXPECT_EQ(d.rule, "integrity_failures");
  EXPECT_EQ(d.reason,
            "signature/hash failures 3.00% (3 of 100 devices that applied) "
            "above the limit of 0.10%");
  EXPECT_EQ(d.figures.integrity_failures, 3u);
  EXPECT_EQ(rollout_->state(), ReleaseState::kHalted);
}

TEST_F(GateTest, ContentHashMismatchesReportedAsApplyFailuresHalt) {
  // What the SDK sends when downloaded bytes differ from the statement.
  Applies(Cohort::kTreatment, 97, 3, "REJECT_CONTENT_HASH_MISMATCH");
  STRATA_ASSERT_OK_AND_ASSIGN(GateDecision d, gate_.Step(*rollout_, health_));
  EXPECT_EQ(d.action, GateAction::kHalt);
  EXPECT_EQ(d.rule, "integrity_failures");
  EXPECT_EQ(d.figures.integrity_failures, 3u);
}

TEST_F(GateTest, TwoDevicesReportingTamperingCannotHaltByThemselves) {
  // Device ids cost nothing (docs/threat-model.md): by default the rule
  // needs three distinct devices, however high their rate.
  Applies(Cohort::kTreatment, 0, 2, "REJECT_BAD_SIGNATURE",
          HealthEventKind::kRejected);
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.figures.integrity_failures, 2u);
  EXPECT_EQ(d.figures.integrity_failure_rate, 1.0);
  EXPECT_NE(d.action, GateAction::kHalt);
}

TEST_F(GateTest, ExpiredAndMixedUpMetadataAreNotIntegrityFailures) {
  // 11 and 12, once counted as integrity failures under older names.
  Applies(Cohort::kTreatment, 198, 1, "REJECT_EXPIRED_METADATA",
          HealthEventKind::kRejected);
  Applies(Cohort::kTreatment, 0, 1, "REJECT_VERSION_MISMATCH",
          HealthEventKind::kRejected);
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.figures.integrity_failures, 0u);
  EXPECT_EQ(d.figures.treatment_apply_failures, 2u);
  EXPECT_EQ(d.action, GateAction::kHold);
  EXPECT_EQ(d.rule, "baking");
}

TEST_F(GateTest, PromoteSaysOnlyWhatTheStageRequired) {
  ReleaseSpec spec = Spec();
  spec.plan.stages = {{5000, absl::ZeroDuration(), 0},
                      {10000, absl::ZeroDuration(), 0}};
  spec.gates.min_launches = 20;
  absl::StatusOr<Rollout> r = Rollout::Create(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  STRATA_ASSERT_OK(r->Start(clock_.Now()));
  Launches(Cohort::kTreatment, 28, 0);
  clock_.Advance(absl::Seconds(3));
  GateDecision d = gate_.Evaluate(*r, health_);
  EXPECT_EQ(d.action, GateAction::kPromote);
  EXPECT_THAT(d.reason, HasSubstr("no bake time with 28 reports (none "
                                  "required), crash rate 0.00%"));
  EXPECT_THAT(d.reason, Not(HasSubstr("of 0")));
}

TEST_F(GateTest, OneIntegrityFailureInTenThousandIsBelowTheThreshold) {
  Applies(Cohort::kTreatment, 9999, 1, "REJECT_CONTENT_HASH_MISMATCH");
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.figures.integrity_failures, 1u);
  EXPECT_EQ(d.action, GateAction::kHold);
}

TEST_F(GateTest, ZScoreHaltsOnAbsoluteApplyFailures) {
  UseZScore();
  Applies(Cohort::kTreatment, 970, 30);
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHalt);
  EXPECT_EQ(d.rule, "apply_failure_rate");
  EXPECT_EQ(d.reason,
            "apply failures 3.00% (30 of 1000 devices that applied) "
            "above the limit of 2.00%");
}

TEST_F(GateTest, ZScoreHaltsOnApplyFailuresAgainstControl) {
  UseZScore();
  Applies(Cohort::kTreatment, 9900, 100);  // 1%
  Applies(Cohort::kControl, 9980, 20);     // 0.2%
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHalt);
  EXPECT_EQ(d.rule, "apply_failure_vs_control");
  EXPECT_THAT(d.reason,
              HasSubstr("apply failures 1.00% (100 of 10000) are 5.00x "
                        "control's 0.20% (20 of 10000); limit 2.00x, z="));
}

TEST_F(GateTest, ApplyRatioIgnoresTinyRates) {
  Applies(Cohort::kTreatment, 99970, 30);  // 0.03%
  Applies(Cohort::kControl, 99990, 10);
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).action, GateAction::kHold);
}

TEST_F(GateTest, ZScoreHaltsOnAbsoluteCrashRate) {
  UseZScore();
  Launches(Cohort::kTreatment, 940, 60);
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHalt);
  EXPECT_EQ(d.rule, "crash_rate");
  EXPECT_EQ(d.reason,
            "launch-crash rate 6.00% (60 of 1000 launched devices) above "
            "the limit of 5.00%");
}

TEST_F(GateTest, ZScoreHaltsOnCrashRateAgainstControl) {
  UseZScore();
  Launches(Cohort::kTreatment, 960, 40);  // 4%
  Launches(Cohort::kControl, 990, 10);    // 1%
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHalt);
  EXPECT_EQ(d.rule, "crash_rate_vs_control");
  EXPECT_EQ(d.reason,
            "launch-crash rate 4.00% (40 of 1000) is 4.00x control's 1.00% "
            "(10 of 1000); limit 1.50x, z=4.30");
  EXPECT_EQ(d.figures.treatment_crashes, 40u);
  EXPECT_EQ(d.figures.control_launches, 1000u);
  EXPECT_NEAR(d.figures.crash_z, 4.30, 0.01);
  EXPECT_THAT(d.figures.ToString(),
              HasSubstr("crash_rate=4.00% (40/1000) control_crash_rate=1.00% "
                        "(10/1000)"));
}

TEST_F(GateTest, CrashRatioNeedsSignificanceAndVolume) {
  for (bool z : {false, true}) {
    SCOPED_TRACE(z ? "z-score" : "sequential");
    if (z) UseZScore();
    // 3x control but only 3 vs 1 crashes: noise.
    health_ = ReleaseHealth();
    Launches(Cohort::kTreatment, 197, 3);
    Launches(Cohort::kControl, 199, 1);
    EXPECT_EQ(gate_.Evaluate(*rollout_, health_).action, GateAction::kHold);
    // Clear signal but too few launches to judge.
    health_ = ReleaseHealth();
    Launches(Cohort::kTreatment, 150, 9);
    Launches(Cohort::kControl, 150, 0);
    EXPECT_EQ(gate_.Evaluate(*rollout_, health_).action, GateAction::kHold);
  }
}

// The default statistic: halts need evidence that stays valid however
// often the gate looks (sequential.h), and say what it was.
TEST_F(GateTest, SequentialHaltsOnApplyFailuresAboveTheLimitOnlyWithEvidence) {
  // 3% of 1,000 against a 2% limit: a fixed-sample rule halts, but a 2%
  // release shows this often enough that a gate looking every few seconds
  // must not.
  Applies(Cohort::kTreatment, 970, 30);
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHold) << d.reason;
  EXPECT_GT(d.figures.apply_log_e, 0);
  EXPECT_LT(d.figures.apply_log_e, d.figures.log_e_threshold);
  // 6% of 1,000 is evidence.
  health_ = ReleaseHealth();
  Applies(Cohort::kTreatment, 940, 60);
  d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHalt);
  EXPECT_EQ(d.rule, "apply_failure_rate");
  EXPECT_THAT(d.reason,
              HasSubstr("apply failures 6.00% (60 of 1000 devices that "
                        "applied), anytime-valid 99.8% interval "));
  EXPECT_THAT(d.reason,
              HasSubstr(", above the limit of 2.00%: mixture SPRT e-value "));
  EXPECT_THAT(d.reason, HasSubstr(" >= 400 (false-halt budget 1% for the "
                                  "release over 4 tests)"));
  EXPECT_NEAR(d.figures.log_e_threshold, std::log(400.0), 1e-9);
}

TEST_F(GateTest, SequentialHaltsOnCrashRateAgainstControl) {
  Launches(Cohort::kTreatment, 960, 40);  // 4%
  Launches(Cohort::kControl, 990, 10);    // 1%
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHalt);
  EXPECT_EQ(d.rule, "crash_rate_vs_control");
  EXPECT_THAT(d.reason,
              HasSubstr("launch-crash rate 4.00% (40 of 1000) is 4.00x "
                        "control's 1.00% (10 of 1000), anytime-valid 99.8% "
                        "interval "));
  EXPECT_THAT(d.reason, HasSubstr(": mixture SPRT e-value "));
  // The interval is around the estimate and excludes "no worse".
  const Interval ratio = RateRatioInterval(40, 1000, 10, 1000, 0.0025);
  EXPECT_GT(ratio.lower, 1.0);
  EXPECT_LT(ratio.lower, 4.0);
  EXPECT_GT(ratio.upper, 4.0);
  char interval[64];
  std::snprintf(interval, sizeof(interval), "interval %.3gx-%.3gx", ratio.lower,
                ratio.upper);
  EXPECT_THAT(d.reason, HasSubstr(interval));
  EXPECT_GE(d.figures.crash_vs_control_log_e, d.figures.log_e_threshold);
}

TEST_F(GateTest, SequentialTestsAgainstTheBaselineAndSizesTheStage) {
  GatePolicy g;
  g.baseline_crash_rate = 0.005;
  Restart(g);
  const uint64_t needed =
      DevicesToDetect(0.005, 2.0, 0.0025, 0.95, /*against_control=*/false);
  ASSERT_GT(needed, 1000u);
  // Baked, enough reports, no crash: still waiting until the stage has
  // the devices that could have shown a doubled crash rate.
  clock_.Advance(absl::Hours(2));
  Launches(Cohort::kTreatment, needed - 1, 0);
  GateDecision d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHold);
  EXPECT_EQ(d.rule, "waiting_for_launches");
  EXPECT_EQ(d.figures.devices_for_verdict, needed);
  EXPECT_THAT(d.reason, HasSubstr(StrCat(needed - 1, " of ", needed,
                                         " launched devices")));
  Launches(Cohort::kTreatment, 1, 0);
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).action, GateAction::kPromote);

  // Twice the baseline over that many devices halts, against the baseline
  // (no control needed).
  health_ = ReleaseHealth();
  health_.stage = 0;
  const uint64_t crashes = needed / 100;  // 1%
  Launches(Cohort::kTreatment, needed - crashes, crashes);
  d = gate_.Evaluate(*rollout_, health_);
  EXPECT_EQ(d.action, GateAction::kHalt) << d.figures.ToString();
  EXPECT_EQ(d.rule, "crash_rate");
  EXPECT_THAT(d.reason, HasSubstr("above the baseline of 0.50%"));
  // The baseline's own rate does not.
  health_ = ReleaseHealth();
  health_.stage = 0;
  Launches(Cohort::kTreatment, needed - needed / 200, needed / 200);
  EXPECT_NE(gate_.Evaluate(*rollout_, health_).action, GateAction::kHalt);
}

TEST_F(GateTest, ZScoreCrashMarginIsConfigurable) {
  UseZScore();
  ReleaseSpec s = Spec();
  s.gates.statistic = GateStatistic::kZScore;
  s.gates.max_crash_ratio = 5.0;
  STRATA_ASSERT_OK_AND_ASSIGN(Rollout lenient, Rollout::Create(s));
  STRATA_ASSERT_OK(lenient.Start(clock_.Now()));
  Launches(Cohort::kTreatment, 960, 40);
  Launches(Cohort::kControl, 990, 10);
  EXPECT_EQ(gate_.Evaluate(lenient, health_).action, GateAction::kHold);
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).action, GateAction::kHalt);
}

TEST_F(GateTest, PausesWhenReportsStop) {
  Launches(Cohort::kTreatment, 10, 0);
  clock_.Advance(absl::Hours(5));
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).action, GateAction::kHold);
  clock_.Advance(absl::Hours(1));
  STRATA_ASSERT_OK_AND_ASSIGN(GateDecision d, gate_.Step(*rollout_, health_));
  EXPECT_EQ(d.action, GateAction::kPause);
  EXPECT_EQ(d.rule, "reports_stopped");
  EXPECT_EQ(d.reason,
            "no report from the treatment for 6h (limit 6h); pausing until "
            "health can be judged");
  EXPECT_EQ(rollout_->state(), ReleaseState::kPaused);
}

TEST_F(GateTest, SilenceCountsFromTheStageStart) {
  // No report ever, but the stage only started 1h ago: hold.
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).rule, "waiting_for_reports");
  clock_.Advance(absl::Hours(5));
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).rule, "reports_stopped");
}

TEST_F(GateTest, HaltWinsOverPromote) {
  Launches(Cohort::kTreatment, 500, 100);
  clock_.Advance(absl::Hours(3));
  EXPECT_EQ(gate_.Evaluate(*rollout_, health_).action, GateAction::kHalt);
}

// The gates read device counts: a flood from a few device ids neither halts
// a healthy release nor promotes one the fleet has not launched.
TEST_F(GateTest, AFloodFromOneDeviceNeitherHaltsNorPromotes) {
  HealthAggregator agg;
  auto record = [&](uint64_t device, HealthEventKind kind, Cohort cohort) {
    HealthEvent e;
    e.kind = kind;
    e.at = clock_.Now();
    e.device = device;
    agg.Record(11, 0, cohort, e);
  };
  for (uint64_t d = 0; d < 300; ++d) {
    record(d, HealthEventKind::kLaunchOk, Cohort::kTreatment);
    record(1000 + d, HealthEventKind::kLaunchOk, Cohort::kControl);
  }
  // 10,000 crashes and signature rejections from one treatment device.
  for (int i = 0; i < 10000; ++i) {
    record(7, HealthEventKind::kLaunchCrash, Cohort::kTreatment);
  }
  GateDecision d = gate_.Evaluate(*rollout_, agg.Get(11));
  EXPECT_EQ(d.action, GateAction::kHold) << d.reason;
  EXPECT_EQ(d.figures.treatment_crashes, 1u);
  EXPECT_EQ(d.figures.treatment_launches, 300u);

  // 10,000 healthy launches from one device in a fresh release: still far
  // from the 100 devices the stage needs, and from min_launches.
  HealthAggregator fresh;
  for (int i = 0; i < 10000; ++i) {
    HealthEvent e;
    e.kind = HealthEventKind::kLaunchOk;
    e.at = clock_.Now();
    e.device = 42;
    fresh.Record(11, 0, Cohort::kTreatment, e);
  }
  clock_.Advance(absl::Hours(2));
  d = gate_.Evaluate(*rollout_, fresh.Get(11));
  EXPECT_EQ(d.action, GateAction::kHold);
  EXPECT_EQ(d.figures.stage_reports, 1u);
}

TEST(ProportionZScoreTest, Basics) {
  EXPECT_EQ(ProportionZScore(0, 0, 1, 10), 0);
  EXPECT_EQ(ProportionZScore(0, 100, 0, 100), 0);
  EXPECT_GT(ProportionZScore(100, 100, 0, 100), 10);
  EXPECT_GT(ProportionZScore(10, 100, 1, 100), 2.5);
  EXPECT_LT(ProportionZScore(1, 100, 10, 100), 0);
  EXPECT_NEAR(ProportionZScore(40, 1000, 10, 1000), 4.2967, 0.001);
}

}  // namespace
}  // namespace strata::rollout
