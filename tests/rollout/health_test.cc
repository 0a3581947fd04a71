#include "strata/rollout/health.h"

#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace strata::rollout {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

HealthEvent Ev(HealthEventKind kind, absl::Time at = kT0, int reason = 0,
               CrashKind crash = CrashKind::kUnspecified) {
  HealthEvent e;
  e.kind = kind;
  e.at = at;
  e.reject_reason = reason;
  e.crash = crash;
  return e;
}

int Reason(std::string_view name) {
  std::optional<int> n = RejectReasonNumber(name);
  EXPECT_TRUE(n.has_value()) << name;
  return n.value_or(-1);
}

TEST(HealthTest, CountsEveryKindAndRates) {
  CohortHealth h;
  EXPECT_EQ(h.crash_rate(), 0);
  EXPECT_EQ(h.apply_failure_rate(), 0);
  h.Add(Ev(HealthEventKind::kDownloaded));
  for (int i = 0; i < 8; ++i) h.Add(Ev(HealthEventKind::kApplied));
  const int disk = Reason("REJECT_DISK_BUDGET_EXCEEDED");
  const int signature = Reason("REJECT_BAD_SIGNATURE");
  h.Add(Ev(HealthEventKind::kApplyFailed, kT0, disk));
  h.Add(Ev(HealthEventKind::kRejected, kT0, signature));
  h.Add(Ev(HealthEventKind::kActivated));
  h.Add(Ev(HealthEventKind::kRolledBack));
  for (int i = 0; i < 9; ++i) h.Add(Ev(HealthEventKind::kLaunchOk));
  h.Add(Ev(HealthEventKind::kLaunchCrash, kT0 + absl::Minutes(3), 0,
           CrashKind::kScript));
  EXPECT_EQ(h.downloaded, 1u);
  EXPECT_EQ(h.apply_attempts(), 10u);
  EXPECT_EQ(h.apply_failures(), 2u);
  EXPECT_DOUBLE_EQ(h.apply_failure_rate(), 0.2);
  EXPECT_EQ(h.integrity_failures, 1u);
  EXPECT_DOUBLE_EQ(h.integrity_failure_rate(), 0.1);
  EXPECT_EQ(h.launches(), 10u);
  EXPECT_DOUBLE_EQ(h.crash_rate(), 0.1);
  EXPECT_EQ(h.crashes_by_kind[static_cast<int>(CrashKind::kScript)], 1u);
  EXPECT_EQ(h.failures_by_reason.at(signature), 1u);
  EXPECT_EQ(h.failures_by_reason.at(disk), 1u);
  EXPECT_EQ(h.reports(), 23u);
  EXPECT_EQ(*h.first_report_at, kT0);
  EXPECT_EQ(*h.last_report_at, kT0 + absl::Minutes(3));
}

TEST(HealthTest, IntegrityFailuresAreCountedByReasonNameInEitherKind) {
  // The SDK reports a signature failure as a rejection, and a download
  // whose bytes do not match the statement or a bad patch as an apply
  // failure: all of them are integrity failures.
  CohortHealth h;
  h.Add(Ev(HealthEventKind::kRejected, kT0, Reason("REJECT_BAD_SIGNATURE")));
  h.Add(Ev(HealthEventKind::kRejected, kT0,
           Reason("REJECT_DIRECTOR_TARGET_MISMATCH")));
  h.Add(Ev(HealthEventKind::kApplyFailed, kT0,
           Reason("REJECT_CONTENT_HASH_MISMATCH")));
  h.Add(Ev(HealthEventKind::kApplyFailed, kT0,
           Reason("REJECT_DELTA_OUTPUT_MISMATCH")));
  EXPECT_EQ(h.integrity_failures, 4u);
  // Freshness, targeting, retrieval and device reasons are failures, not
  // integrity failures (11 and 12 once were, under other names).
  for (std::string_view name :
       {"REJECT_REASON_UNSPECIFIED", "REJECT_EXPIRED_METADATA",
        "REJECT_VERSION_MISMATCH", "REJECT_ROLE_VERSION_ROLLBACK",
        "REJECT_WRONG_HOST_BUILD", "REJECT_SLOW_RETRIEVAL",
        "REJECT_TRUSTED_STATE_CORRUPT", "REJECT_APPLY_FAILED"}) {
    h.Add(Ev(HealthEventKind::kRejected, kT0, Reason(name)));
    h.Add(Ev(HealthEventKind::kApplyFailed, kT0, Reason(name)));
  }
  h.Add(Ev(HealthEventKind::kRejected, kT0, 999));  // a reason from the future
  EXPECT_EQ(h.integrity_failures, 4u);
  EXPECT_EQ(h.apply_failures(), 21u);
}

TEST(HealthAggregatorTest, SeparatesReleasesCohortsAndStages) {
  HealthAggregator agg;
  EXPECT_TRUE(
      agg.Record(1, 0, Cohort::kTreatment, Ev(HealthEventKind::kLaunchOk)));
  EXPECT_TRUE(
      agg.Record(1, 0, Cohort::kControl, Ev(HealthEventKind::kLaunchCrash)));
  EXPECT_FALSE(
      agg.Record(1, 0, Cohort::kOutside, Ev(HealthEventKind::kLaunchCrash)));
  EXPECT_TRUE(
      agg.Record(2, 0, Cohort::kTreatment, Ev(HealthEventKind::kLaunchCrash)));
  ReleaseHealth h1 = agg.Get(1);
  EXPECT_EQ(h1.treatment.launches_ok, 1u);
  EXPECT_EQ(h1.treatment.launch_crashes, 0u);
  EXPECT_EQ(h1.control.launch_crashes, 1u);
  EXPECT_EQ(h1.stage, 0);
  EXPECT_EQ(h1.treatment_stage.launches(), 1u);

  // A new stage restarts the stage window, not the totals; a late report
  // for an older stage counts only in the totals.
  agg.Record(1, 1, Cohort::kTreatment, Ev(HealthEventKind::kLaunchCrash));
  agg.Record(1, 0, Cohort::kTreatment, Ev(HealthEventKind::kLaunchOk));
  h1 = agg.Get(1);
  EXPECT_EQ(h1.stage, 1);
  EXPECT_EQ(h1.treatment.launches(), 3u);
  EXPECT_EQ(h1.treatment_stage.launches(), 1u);

  EXPECT_EQ(agg.Get(3).treatment.reports(), 0u);
  agg.Forget(1);
  EXPECT_EQ(agg.Get(1).treatment.reports(), 0u);
  EXPECT_EQ(agg.Get(2).treatment.launch_crashes, 1u);
}

TEST(HealthAggregatorTest, IsThreadSafe) {
  HealthAggregator agg;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&agg] {
      for (int i = 0; i < 5000; ++i) {
        agg.Record(1, 0, i % 2 ? Cohort::kTreatment : Cohort::kControl,
                   Ev(HealthEventKind::kLaunchOk));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ReleaseHealth h = agg.Get(1);
  EXPECT_EQ(h.treatment.launches_ok + h.control.launches_ok, 20000u);
}

}  // namespace
}  // namespace strata::rollout
