// What `strata` prints for people (tables, release status, adoption chart,
// upload progress) and how --wait follows a release, tested directly.
#include <deque>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/release_watch.h"
#include "strata/admin_cli/render.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"

namespace strata::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kT0 = 1'764'064'800;  // 2025-11-25 10:00:00 UTC

v1::ReleaseArtifact Artifact(v1::Layer layer, const std::string& module,
                             const std::string& version, uint64_t seq) {
  v1::ReleaseArtifact a;
  a.mutable_module()->set_layer(layer);
  a.mutable_module()->set_name(module);
  a.set_version(version);
  a.set_release_sequence(seq);
  return a;
}

v1::Release StagedRelease() {
  v1::Release r;
  r.set_release_id(7);
  r.set_app_id("wallet");
  r.set_state(v1::RELEASE_ROLLING);
  r.set_created_at_unix(kT0);
  r.set_segment("android");
  *r.add_artifacts() = Artifact(v1::LAYER_CONFIG, "payment.limits", "3", 4);
  *r.add_artifacts() = Artifact(v1::LAYER_H5, "mall-home", "12", 9);
  for (auto [bp, bake] :
       {std::pair{100u, 3600}, {500u, 7200}, {2000u, 0}, {10000u, 0}}) {
    v1::RolloutStage* s = r.add_stages();
    s->set_exposure_bp(bp);
    s->set_bake_seconds(bake);
    s->set_min_reports(bp == 100 ? 200 : 0);
  }
  r.set_stage(1);
  r.set_stage_started_at_ms((kT0 + 3600) * 1000);
  r.set_state_reason("promoted by stratad: bake_complete");
  r.mutable_gates()->set_max_crash_rate(0.05);
  return r;
}

TEST(CliTableTest, AlignsColumnsAndTrimsTrailingSpace) {
  Table t({"ID", "NAME", "COUNT"}, {true, false, true});
  t.AddRow({"7", "alpha", "1,234"});
  t.AddRow({"12", "b"});  // short row: blanks
  EXPECT_EQ(t.Render(),
            "ID  NAME   COUNT\n"
            " 7  alpha  1,234\n"
            "12  b\n");
  EXPECT_EQ(t.rows(), 2u);
}

TEST(CliFormatTest, CountsRatesBytesStates) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatRate(0.0123), "1.23%");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(3 << 20), "3.0 MiB");
  EXPECT_EQ(StateName(v1::RELEASE_ROLLED_BACK), "rolled_back");
  EXPECT_EQ(TimeText(absl::FromUnixSeconds(kT0)), "2025-11-25 10:00:00");
}

TEST(CliReleaseListTest, MultiArtifactReleasesGetContinuationRows) {
  v1::Release staged = StagedRelease();
  v1::Release single;
  single.set_release_id(8);
  single.set_state(v1::RELEASE_COMPLETED);
  single.set_created_at_unix(kT0);
  *single.mutable_module() =
      Artifact(v1::LAYER_CONFIG, "flags", "9", 1).module();
  single.set_version("9");
  single.set_message("sale flags");
  const std::string out = RenderReleaseList({staged, single});
  EXPECT_EQ(out,
            "ID  STATE      STAGE  EXPOSURE  SEGMENT   CREATED              "
            "ARTIFACTS                SOURCE  MESSAGE\n"
            " 7  rolling    2/4          5%  android   2025-11-25 10:00:00  "
            "config/payment.limits@3\n"
            "                                                               "
            "h5/mall-home@12\n"
            " 8  completed  -          100%  everyone  2025-11-25 10:00:00  "
            "config/flags@9                   sale flags\n");
}

TEST(CliReleaseTest, ExposureFollowsTheState) {
  v1::Release r = StagedRelease();
  EXPECT_EQ(ExposureOf(r), 500u);
  r.set_state(v1::RELEASE_HALTED);
  EXPECT_EQ(ExposureOf(r), 500u);
  r.set_state(v1::RELEASE_DRAFT);
  EXPECT_EQ(ExposureOf(r), 0u);
  EXPECT_EQ(StageOf(r), "0/4");
  r.set_state(v1::RELEASE_COMPLETED);
  EXPECT_EQ(ExposureOf(r), 10000u);
  r.set_state(v1::RELEASE_ROLLED_BACK);
  EXPECT_EQ(ExposureOf(r), 0u);
  EXPECT_EQ(ReleaseLine(StagedRelease()),
            "release 7: rolling, stage 2 of 4 (5% exposure), segment android");
}

TEST(CliAdoptionChartTest, StepChartWithAxes) {
  std::vector<v1::AdoptionSample> samples;
  for (auto [minute, devices] :
       {std::pair{0, 0}, {10, 20}, {20, 50}, {30, 100}}) {
    v1::AdoptionSample s;
    s.set_at_ms((kT0 + minute * 60) * 1000);
    s.set_devices(devices);
    samples.push_back(s);
  }
  const std::string chart = RenderAdoptionChart(samples, 10, 4);
  EXPECT_EQ(chart,
            "100 |         #\n"
            "    |         #\n"
            "    |      ####\n"
            "    |   #######\n"
            "  0 +----------\n"
            "     10:00:00  10:30:00 UTC\n");
  EXPECT_EQ(RenderAdoptionChart({}), "");
  // One sample: one column.
  EXPECT_THAT(RenderAdoptionChart({samples[3]}, 10, 2),
              HasSubstr("100 |#\n    |#\n  0 +-\n"));
}

TEST(CliReleaseStatusTest, ShowsPlanHealthGateChartAndHistory) {
  v1::ReleaseStatus s;
  *s.mutable_release() = StagedRelease();
  s.set_exposure_bp(500);
  s.mutable_treatment()->set_launches_ok(990);
  s.mutable_treatment()->set_launch_crashes(10);
  s.mutable_treatment()->set_crash_rate(0.01);
  s.mutable_treatment()->set_activated(183);
  s.mutable_control()->set_launches_ok(995);
  s.mutable_control()->set_launch_crashes(5);
  s.mutable_control()->set_crash_rate(0.005);
  s.mutable_treatment()->set_integrity_failures(1);
  s.set_gate_action("hold");
  s.set_gate_rule("baking");
  s.set_gate_reason("stage 2 bakes until 12:00");
  for (int i = 0; i < 3; ++i) {
    v1::AdoptionSample* a = s.add_adoption();
    a->set_at_ms((kT0 + i * 1800) * 1000);
    a->set_devices(60 * (i + 1));
  }
  v1::AuditEntry* e = s.add_history();
  e->set_at_unix(kT0);
  e->set_actor("admin");
  e->set_action("release.create");
  e->set_detail("release 7 plan 1%,5%,20%,100%");
  e = s.add_history();
  e->set_at_unix(kT0 + 3600);
  e->set_actor("stratad");
  e->set_action("release.promote");
  e->set_detail("bake_complete launches=1000 crash_rate=0.01");

  const std::string out =
      RenderReleaseStatus(s, absl::FromUnixSeconds(kT0 + 3600 + 35 * 60));
  EXPECT_THAT(out, HasSubstr("Release 7 of wallet: rolling\n"));
  EXPECT_THAT(out, HasSubstr("reason     promoted by stratad: bake_complete"));
  EXPECT_THAT(out, HasSubstr("artifacts  config/payment.limits@3 (sequence 4)\n"
                             "             h5/mall-home@12 (sequence 9)"));
  EXPECT_THAT(out, HasSubstr("segment    android (salt release-7)"));
  EXPECT_THAT(out, HasSubstr("exposure   5% of the segment"));
  EXPECT_THAT(out, HasSubstr("adoption   180 devices activated"));
  EXPECT_THAT(out, HasSubstr("gates      max_crash_rate=0.05"));
  // Plan: stage 1 done, stage 2 current with its bake left.
  EXPECT_THAT(out, HasSubstr("x      1        1%    1h          200  done"));
  EXPECT_THAT(out,
              HasSubstr(">      2        5%    2h            0  rolling here, "
                        "since 35m ago, bake ends in 1h25m"));
  EXPECT_THAT(out, HasSubstr("       3       20%    0s            0\n"));
  // Health, treatment vs control.
  EXPECT_THAT(out, HasSubstr("launches                 1,000      1,000"));
  EXPECT_THAT(out, HasSubstr("crash rate          1.00% (10)  0.50% (5)"));
  EXPECT_THAT(out, HasSubstr("integrity failures           1          0"));
  EXPECT_THAT(out, HasSubstr("Gate: hold (baking): stage 2 bakes until 12:00"));
  EXPECT_THAT(out, HasSubstr("Adoption (devices activated)\n  180 |"));
  EXPECT_THAT(out, HasSubstr("10:00:00"));
  EXPECT_THAT(out, HasSubstr("2025-11-25 11:00:00  stratad  release.promote  "
                             "bake_complete launches=1000"));
}

TEST(CliReleaseStatusTest, EmptyAndFinishedReleases) {
  v1::ReleaseStatus s;
  *s.mutable_release() = StagedRelease();
  s.mutable_release()->set_state(v1::RELEASE_COMPLETED);
  s.mutable_release()->set_stage(3);
  const std::string out = RenderReleaseStatus(s, absl::FromUnixSeconds(kT0));
  EXPECT_THAT(out, HasSubstr("Gate: not judged yet"));
  EXPECT_THAT(out, HasSubstr("no samples yet"));
  EXPECT_THAT(out, Not(HasSubstr(">")));
  EXPECT_THAT(out, HasSubstr("x      4      100%"));
  v1::AdoptionSample* zero = s.add_adoption();
  zero->set_at_ms(kT0 * 1000);
  EXPECT_THAT(RenderReleaseStatus(s, absl::FromUnixSeconds(kT0)),
              HasSubstr("no device has activated it yet (1 sample since "
                        "10:00:00 UTC)"));
  s.mutable_release()->clear_stages();
  EXPECT_THAT(RenderReleaseStatus(s, absl::FromUnixSeconds(kT0)),
              HasSubstr("all at once"));
}

TEST(CliProgressTest, BarPercentBytesRate) {
  EXPECT_EQ(ProgressLine(512 << 10, 1 << 20, absl::Seconds(1), 10),
            "upload [#####-----]  50%  512.0 KiB / 1.0 MiB  512.0 KiB/s");
  EXPECT_EQ(ProgressLine(1 << 20, 1 << 20, absl::ZeroDuration(), 4),
            "upload [####] 100%  1.0 MiB / 1.0 MiB");
}

// --wait, driven by a scripted server and a simulated clock.
class CliWatchTest : public ::testing::Test {
 protected:
  v1::ReleaseStatus Status(v1::ReleaseState state, int stage) {
    v1::ReleaseStatus s;
    *s.mutable_release() = StagedRelease();
    s.mutable_release()->set_state(state);
    s.mutable_release()->set_stage(stage);
    return s;
  }
  WatchResult Watch(WatchOptions options = {}) {
    return WatchRelease(
        [&]() -> absl::StatusOr<v1::ReleaseStatus> {
          ++polls_;
          if (script_.empty()) return Status(v1::RELEASE_ROLLING, 3);
          auto next = script_.front();
          script_.pop_front();
          return next;
        },
        clock_, options,
        [&](const v1::ReleaseStatus& s) {
          seen_.push_back(
              StrCat(StateName(s.release().state()), "/", s.release().stage()));
        },
        [&](const absl::Status&) { ++retries_; });
  }
  std::deque<absl::StatusOr<v1::ReleaseStatus>> script_;
  testing::SimulatedClock clock_{absl::FromUnixSeconds(kT0)};
  std::vector<std::string> seen_;
  int polls_ = 0, retries_ = 0;
};

TEST_F(CliWatchTest, ReportsEachChangeAndExitsZeroWhenCompleted) {
  script_ = {Status(v1::RELEASE_ROLLING, 0), Status(v1::RELEASE_ROLLING, 0),
             Status(v1::RELEASE_ROLLING, 1), Status(v1::RELEASE_PAUSED, 1),
             Status(v1::RELEASE_ROLLING, 1), Status(v1::RELEASE_COMPLETED, 3)};
  WatchResult r = Watch();
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(polls_, 6);
  EXPECT_THAT(seen_,
              ::testing::ElementsAre("rolling/0", "rolling/1", "paused/1",
                                     "rolling/1", "completed/3"));
  EXPECT_EQ(clock_.Now(), absl::FromUnixSeconds(kT0) + absl::Seconds(10));
}

TEST_F(CliWatchTest, HaltedOrRolledBackIsExitSix) {
  for (auto state : {v1::RELEASE_HALTED, v1::RELEASE_ROLLED_BACK}) {
    script_ = {Status(v1::RELEASE_ROLLING, 0), Status(state, 0)};
    WatchResult r = Watch();
    EXPECT_EQ(r.exit_code, kExitHalted);
    EXPECT_THAT(std::string(ToStd(r.error.message())),
                HasSubstr(StrCat("release 7 was ", StateName(state))));
  }
}

TEST_F(CliWatchTest, RetriesUnavailableAndStopsOnOtherErrors) {
  script_ = {absl::UnavailableError("down"), absl::UnavailableError("down"),
             Status(v1::RELEASE_COMPLETED, 3)};
  EXPECT_EQ(Watch().exit_code, kExitOk);
  EXPECT_EQ(retries_, 2);
  script_ = {absl::NotFoundError("release 9 not found")};
  WatchResult r = Watch();
  EXPECT_EQ(r.exit_code, kExitNotFound);
}

TEST_F(CliWatchTest, TimeoutIsExitSevenAndPollsUntilTheDeadline) {
  WatchOptions options;
  options.poll_interval = absl::Seconds(2);
  options.timeout = absl::Seconds(5);
  WatchResult r = Watch(options);  // rolling forever
  EXPECT_EQ(r.exit_code, kExitTimeout);
  EXPECT_EQ(polls_, 4);  // at 0, 2, 4 and 5 s
  EXPECT_EQ(clock_.Now(), absl::FromUnixSeconds(kT0) + absl::Seconds(5));
  EXPECT_THAT(
      std::string(ToStd(r.error.message())),
      HasSubstr("gave up waiting after 5s; release 7 is still rolling"));
}

}  // namespace
}  // namespace strata::admin
