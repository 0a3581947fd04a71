#include "strata/rollout/health.h"

#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace strata::rollout {
namespace {

const absl::Time kHealthT0 = absl::FromUnixSeconds(1'700'000'000);

HealthEvent Ev(HealthEventKind kind, absl::Time at = kHealthT0, int reason = 0,
               CrashKind crash = CrashKind::kUnspecified, uint64_t device = 0) {
  HealthEvent e;
  e.kind = kind;
  e.at = at;
  e.reject_reason = reason;
  e.crash = crash;
  e.device = device;
  return e;
}

// An event from device `device`.
HealthEvent From(uint64_t device, HealthEventKind kind, int reason = 0,
                 absl::Time at = kHealthT0) {
  return Ev(kind, at, reason, CrashKind::kUnspecified, device);
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
  h.Add(Ev(HealthEventKind::kApplyFailed, kHealthT0, disk));
  h.Add(Ev(HealthEventKind::kRejected, kHealthT0, signature));
  h.Add(Ev(HealthEventKind::kActivated));
  h.Add(Ev(HealthEventKind::kRolledBack));
  for (int i = 0; i < 9; ++i) h.Add(Ev(HealthEventKind::kLaunchOk));
  h.Add(Ev(HealthEventKind::kLaunchCrash, kHealthT0 + absl::Minutes(3), 0,
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
  EXPECT_EQ(*h.first_report_at, kHealthT0);
  EXPECT_EQ(*h.last_report_at, kHealthT0 + absl::Minutes(3));
}

TEST(HealthTest, IntegrityFailuresAreCountedByReasonNameInEitherKind) {
  // The SDK reports a signature failure as a rejection, and a download
  // whose bytes do not match the statement or a bad patch as an apply
  // failure: all of them are integrity failures.
  CohortHealth h;
  h.Add(Ev(HealthEventKind::kRejected, kHealthT0,
           Reason("REJECT_BAD_SIGNATURE")));
  h.Add(Ev(HealthEventKind::kRejected, kHealthT0,
           Reason("REJECT_DIRECTOR_TARGET_MISMATCH")));
  h.Add(Ev(HealthEventKind::kApplyFailed, kHealthT0,
           Reason("REJECT_CONTENT_HASH_MISMATCH")));
  h.Add(Ev(HealthEventKind::kApplyFailed, kHealthT0,
           Reason("REJECT_DELTA_OUTPUT_MISMATCH")));
  EXPECT_EQ(h.integrity_failures, 4u);
  // Freshness, targeting, retrieval and device reasons are failures, not
  // integrity failures (11 and 12 once were, under other names).
  for (std::string_view name :
       {"REJECT_REASON_UNSPECIFIED", "REJECT_EXPIRED_METADATA",
        "REJECT_VERSION_MISMATCH", "REJECT_ROLE_VERSION_ROLLBACK",
        "REJECT_WRONG_HOST_BUILD", "REJECT_SLOW_RETRIEVAL",
        "REJECT_TRUSTED_STATE_CORRUPT", "REJECT_APPLY_FAILED"}) {
    h.Add(Ev(HealthEventKind::kRejected, kHealthT0, Reason(name)));
    h.Add(Ev(HealthEventKind::kApplyFailed, kHealthT0, Reason(name)));
  }
  h.Add(Ev(HealthEventKind::kRejected, kHealthT0,
           999));  // a reason from the future
  EXPECT_EQ(h.integrity_failures, 4u);
  EXPECT_EQ(h.apply_failures(), 21u);
}

TEST(HealthAggregatorTest, SeparatesReleasesCohortsAndStages) {
  HealthAggregator agg;
  EXPECT_EQ(
      agg.Record(1, 0, Cohort::kTreatment, From(1, HealthEventKind::kLaunchOk)),
      RecordResult::kCounted);
  EXPECT_EQ(agg.Record(1, 0, Cohort::kControl,
                       From(2, HealthEventKind::kLaunchCrash)),
            RecordResult::kCounted);
  EXPECT_EQ(agg.Record(1, 0, Cohort::kOutside,
                       From(3, HealthEventKind::kLaunchCrash)),
            RecordResult::kIgnored);
  EXPECT_EQ(agg.Record(2, 0, Cohort::kTreatment,
                       From(1, HealthEventKind::kLaunchCrash)),
            RecordResult::kCounted);
  ReleaseHealth h1 = agg.Get(1);
  EXPECT_EQ(h1.treatment.launches_ok, 1u);
  EXPECT_EQ(h1.treatment.launch_crashes, 0u);
  EXPECT_EQ(h1.control.launch_crashes, 1u);
  EXPECT_EQ(h1.stage, 0);
  EXPECT_EQ(h1.treatment_stage.launches(), 1u);

  // A new stage restarts the stage window, not the totals; a late report
  // for an older stage counts only in the totals.
  agg.Record(1, 1, Cohort::kTreatment, From(4, HealthEventKind::kLaunchCrash));
  agg.Record(1, 0, Cohort::kTreatment, From(5, HealthEventKind::kLaunchOk));
  h1 = agg.Get(1);
  EXPECT_EQ(h1.stage, 1);
  EXPECT_EQ(h1.treatment.launches(), 3u);
  EXPECT_EQ(h1.treatment_stage.launches(), 1u);

  EXPECT_EQ(agg.Get(3).treatment.reports(), 0u);
  agg.Forget(1);
  EXPECT_EQ(agg.Get(1).treatment.reports(), 0u);
  EXPECT_EQ(agg.Get(2).treatment.launch_crashes, 1u);
}

TEST(HealthAggregatorTest, OneDeviceCannotOutvoteTheFleet) {
  HealthAggregator agg;
  // 1,000 healthy launches from one device count as one device.
  EXPECT_EQ(
      agg.Record(1, 0, Cohort::kTreatment, From(7, HealthEventKind::kLaunchOk)),
      RecordResult::kCounted);
  for (int i = 0; i < 999; ++i) {
    EXPECT_EQ(agg.Record(1, 0, Cohort::kTreatment,
                         From(7, HealthEventKind::kLaunchOk, 0,
                              kHealthT0 + absl::Seconds(i))),
              RecordResult::kRepeated);
  }
  // Nine other devices crash once each: 90% of devices crashed, whatever
  // the one device sent.
  for (uint64_t d = 100; d < 109; ++d) {
    agg.Record(1, 0, Cohort::kTreatment,
               From(d, HealthEventKind::kLaunchCrash));
  }
  ReleaseHealth h = agg.Get(1);
  EXPECT_EQ(h.treatment.launches(), 10u);
  EXPECT_EQ(h.treatment.launches_ok, 1u);
  EXPECT_DOUBLE_EQ(h.treatment.crash_rate(), 0.9);
  EXPECT_EQ(h.treatment_stage.launches(), 10u);
  // Repeats still show the release is alive (the silence rule reads it).
  EXPECT_EQ(*h.treatment.last_report_at, kHealthT0 + absl::Seconds(998));
  // And 1,000 crashes from one device are one crashed device.
  for (int i = 0; i < 1000; ++i) {
    agg.Record(2, 0, Cohort::kTreatment,
               From(9, HealthEventKind::kLaunchCrash));
  }
  for (uint64_t d = 200; d < 299; ++d) {
    agg.Record(2, 0, Cohort::kTreatment, From(d, HealthEventKind::kLaunchOk));
  }
  EXPECT_DOUBLE_EQ(agg.Get(2).treatment.crash_rate(), 0.01);
  EXPECT_EQ(agg.tracked_devices(), 10u + 100u);
}

TEST(HealthAggregatorTest, ADeviceCountsOncePerStageAndCohort) {
  HealthAggregator agg;
  for (int stage = 0; stage < 3; ++stage) {
    for (int i = 0; i < 5; ++i) {
      agg.Record(1, stage, Cohort::kTreatment,
                 From(1, HealthEventKind::kLaunchOk));
      agg.Record(1, stage, Cohort::kControl,
                 From(2, HealthEventKind::kLaunchOk));
    }
  }
  const ReleaseHealth h = agg.Get(1);
  EXPECT_EQ(h.treatment.launches(), 3u);  // once per stage
  EXPECT_EQ(h.control.launches(), 3u);
  EXPECT_EQ(h.treatment_stage.launches(), 1u);
}

TEST(HealthAggregatorTest, ADeviceMovesToItsWorstOutcomeInAWindow) {
  HealthAggregator agg;
  const int signature = Reason("REJECT_BAD_SIGNATURE");
  const int disk = Reason("REJECT_DISK_BUDGET_EXCEEDED");
  // Healthy launches, then a crash: one crashed device, no healthy one.
  agg.Record(1, 0, Cohort::kTreatment, From(1, HealthEventKind::kLaunchOk));
  agg.Record(1, 0, Cohort::kTreatment, From(1, HealthEventKind::kLaunchOk));
  EXPECT_EQ(agg.Record(1, 0, Cohort::kTreatment,
                       From(1, HealthEventKind::kLaunchCrash)),
            RecordResult::kCounted);
  EXPECT_EQ(
      agg.Record(1, 0, Cohort::kTreatment, From(1, HealthEventKind::kLaunchOk)),
      RecordResult::kRepeated);
  // Applied, then failed, then rejected (twice, for two reasons).
  agg.Record(1, 0, Cohort::kTreatment, From(1, HealthEventKind::kApplied));
  agg.Record(1, 0, Cohort::kTreatment,
             From(1, HealthEventKind::kApplyFailed, disk));
  agg.Record(1, 0, Cohort::kTreatment,
             From(1, HealthEventKind::kRejected, signature));
  agg.Record(1, 0, Cohort::kTreatment,
             From(1, HealthEventKind::kRejected, signature));
  EXPECT_EQ(agg.Record(1, 0, Cohort::kTreatment,
                       From(1, HealthEventKind::kApplyFailed, signature)),
            RecordResult::kRepeated);
  const CohortHealth t = agg.Get(1).treatment;
  EXPECT_EQ(t.launches_ok, 0u);
  EXPECT_EQ(t.launch_crashes, 1u);
  EXPECT_DOUBLE_EQ(t.crash_rate(), 1.0);
  EXPECT_EQ(t.applied, 0u);
  EXPECT_EQ(t.apply_failed, 0u);
  EXPECT_EQ(t.rejected, 1u);
  EXPECT_EQ(t.apply_attempts(), 1u);
  EXPECT_EQ(t.integrity_failures, 1u);
  EXPECT_DOUBLE_EQ(t.integrity_failure_rate(), 1.0);
  EXPECT_EQ(t.failures_by_reason.at(signature), 1u);
  EXPECT_EQ(t.failures_by_reason.at(disk), 1u);
}

TEST(HealthAggregatorTest, DeviceKeysAreStableAcrossProcesses) {
  // First 8 bytes of SHA-256("strata-device:device-1"), big-endian.
  EXPECT_EQ(DeviceKey("device-1"), 0x4176cb254a4e6f9fu);
  EXPECT_NE(DeviceKey("device-1"), DeviceKey("device-2"));
}

TEST(HealthAggregatorTest, IsThreadSafe) {
  HealthAggregator agg;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&agg, t] {
      for (int i = 0; i < 5000; ++i) {
        agg.Record(1, 0, i % 2 ? Cohort::kTreatment : Cohort::kControl,
                   From(static_cast<uint64_t>(t * 5000 + i),
                        HealthEventKind::kLaunchOk));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ReleaseHealth h = agg.Get(1);
  EXPECT_EQ(h.treatment.launches_ok + h.control.launches_ok, 20000u);
}

}  // namespace
}  // namespace strata::rollout
