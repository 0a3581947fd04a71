#include "strata/rollout/rollout.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::rollout {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

ReleaseSpec MultiLayerSpec() {
  ReleaseSpec s;
  s.release_id = 7;
  s.app_id = "wallet";
  // An H5 page that needs an HCF module and a config switch: one release.
  s.artifacts = {{Layer::kH5, "mall-home", "3.2.0"},
                 {Layer::kHcf, "mall-runtime", "1.4.0"},
                 {Layer::kConfig, "mall.switches", "42"}};
  return s;
}

Rollout NewRollout(ReleaseSpec spec = MultiLayerSpec()) {
  absl::StatusOr<Rollout> r = Rollout::Create(std::move(spec));
  EXPECT_TRUE(r.ok()) << r.status();
  return *std::move(r);
}

TEST(RolloutPlanTest, DefaultIs1_5_20_50_100) {
  RolloutPlan p = RolloutPlan::Default();
  ASSERT_EQ(p.stages.size(), 5u);
  EXPECT_EQ(p.stages[0].exposure_bp, 100u);
  EXPECT_EQ(p.stages[1].exposure_bp, 500u);
  EXPECT_EQ(p.stages[2].exposure_bp, 2000u);
  EXPECT_EQ(p.stages[3].exposure_bp, 5000u);
  EXPECT_EQ(p.stages[4].exposure_bp, 10000u);
  EXPECT_EQ(p.stages[0].bake_time, absl::Hours(1));
  EXPECT_EQ(p.stages[0].min_reports, 200u);
  STRATA_EXPECT_OK(p.Validate());
}

TEST(RolloutPlanTest, RejectsBadPlans) {
  RolloutPlan p;
  EXPECT_THAT(p.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("no stages")));
  p.stages = {{500, absl::Hours(1), 1}, {100, absl::Hours(1), 1}};
  EXPECT_THAT(p.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("stage 2 exposure 100 bp is not above the "
                                 "previous stage's 500 bp")));
  p.stages = {{100, absl::Hours(1), 1}, {5000, absl::Hours(1), 1}};
  EXPECT_THAT(p.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ends at 5000 bp; the last stage must be "
                                 "10000 bp (100%)")));
  p.stages = {{0, absl::Hours(1), 1}};
  EXPECT_THAT(p.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("stage 1 has exposure 0")));
  p.stages = {{10000, -absl::Hours(1), 1}};
  EXPECT_THAT(p.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("negative bake time")));
}

TEST(ReleaseSpecTest, Validation) {
  STRATA_EXPECT_OK(MultiLayerSpec().Validate());
  EXPECT_EQ(MultiLayerSpec().EffectiveSalt(), "release-7");

  ReleaseSpec s = MultiLayerSpec();
  s.release_id = 0;
  EXPECT_THAT(s.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("release id is 0")));
  s = MultiLayerSpec();
  s.artifacts.clear();
  EXPECT_THAT(s.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("names no artifact versions")));
  s = MultiLayerSpec();
  s.artifacts.push_back({Layer::kH5, "mall-home", "3.2.1"});
  EXPECT_THAT(s.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("names module H5/mall-home twice")));
  s = MultiLayerSpec();
  s.salt = "bad:salt";
  EXPECT_THAT(s.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("salt 'bad:salt'")));
  s = MultiLayerSpec();
  s.artifacts[0].layer = static_cast<Layer>(9);
  EXPECT_THAT(s.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("layer 9")));
  s = MultiLayerSpec();
  s.gates.max_crash_ratio = 0.5;
  EXPECT_THAT(s.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("release 7: gate policy max_crash_ratio")));
  s = MultiLayerSpec();
  s.gates.max_apply_failure_rate = 2;
  EXPECT_THAT(s.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("max_apply_failure_rate is 2")));
  s = MultiLayerSpec();
  s.salt = "canary";  // a standing cohort
  STRATA_EXPECT_OK(s.Validate());
  EXPECT_EQ(s.EffectiveSalt(), "canary");
}

TEST(RolloutTest, WalksEveryStageToCompleted) {
  Rollout r = NewRollout();
  EXPECT_EQ(r.state(), ReleaseState::kDraft);
  EXPECT_EQ(r.exposure_bp(), 0u);
  EXPECT_FALSE(r.accepts_new_devices());
  STRATA_ASSERT_OK(r.Start(kT0));
  EXPECT_EQ(r.state(), ReleaseState::kRolling);
  EXPECT_EQ(r.stage(), 0);
  EXPECT_EQ(r.exposure_bp(), 100u);
  EXPECT_EQ(r.status().stage_started_at, kT0);
  const uint32_t want[] = {500, 2000, 5000, 10000};
  for (int i = 0; i < 4; ++i) {
    STRATA_ASSERT_OK(r.Promote(kT0 + absl::Hours(i + 1)));
    EXPECT_EQ(r.stage(), i + 1);
    EXPECT_EQ(r.exposure_bp(), want[i]);
    EXPECT_EQ(r.status().stage_started_at, kT0 + absl::Hours(i + 1));
  }
  EXPECT_TRUE(r.at_last_stage());
  STRATA_ASSERT_OK(r.Promote(kT0 + absl::Hours(9), "gate: healthy"));
  EXPECT_EQ(r.state(), ReleaseState::kCompleted);
  EXPECT_EQ(r.exposure_bp(), 10000u);
  EXPECT_TRUE(r.accepts_new_devices());
  ASSERT_EQ(r.history().size(), 6u);
  EXPECT_EQ(r.history().back().ToString(r.spec().plan),
            "rolling(stage 5 of 5, 100%) -> completed: gate: healthy");
  EXPECT_EQ(r.status().reason, "gate: healthy");
}

TEST(RolloutTest, PauseAndResumeRestartTheBake) {
  Rollout r = NewRollout();
  STRATA_ASSERT_OK(r.Start(kT0));
  STRATA_ASSERT_OK(r.Pause(kT0 + absl::Minutes(5), "reports stopped"));
  EXPECT_EQ(r.state(), ReleaseState::kPaused);
  EXPECT_EQ(r.exposure_bp(), 100u);  // the stage is frozen, not emptied
  EXPECT_TRUE(r.accepts_new_devices());
  STRATA_ASSERT_OK(r.Resume(kT0 + absl::Hours(2)));
  EXPECT_EQ(r.state(), ReleaseState::kRolling);
  EXPECT_EQ(r.stage(), 0);
  EXPECT_EQ(r.status().stage_started_at, kT0 + absl::Hours(2));
}

TEST(RolloutTest, HaltStopsNewAdoptionButKeepsInstalls) {
  Rollout r = NewRollout();
  STRATA_ASSERT_OK(r.Start(kT0));
  STRATA_ASSERT_OK(r.Halt(kT0 + absl::Hours(1), "crashes"));
  EXPECT_EQ(r.state(), ReleaseState::kHalted);
  EXPECT_FALSE(r.accepts_new_devices());
  EXPECT_TRUE(r.keeps_installed_devices());
  EXPECT_EQ(r.history().back().ToString(r.spec().plan),
            "rolling(stage 1 of 5, 1%) -> halted(stage 1 of 5, 1%): crashes");
  // An operator may resume after a false alarm.
  STRATA_ASSERT_OK(r.Resume(kT0 + absl::Hours(3), "false alarm"));
  EXPECT_EQ(r.state(), ReleaseState::kRolling);
}

TEST(RolloutTest, ExposureCapHoldsInEveryState) {
  ReleaseSpec s = MultiLayerSpec();
  s.plan.stages = {{10000, absl::ZeroDuration(), 0}};
  s.max_exposure_bp = 500;  // a roll back of a release that reached 5%
  Rollout r = NewRollout(s);
  EXPECT_EQ(r.exposure_bp(), 0u);  // draft
  STRATA_EXPECT_OK(r.Start(kT0));
  EXPECT_EQ(r.exposure_bp(), 500u);
  STRATA_EXPECT_OK(r.Promote(kT0));
  EXPECT_EQ(r.state(), ReleaseState::kCompleted);
  EXPECT_EQ(r.exposure_bp(), 500u);
  s.max_exposure_bp = 10001;
  EXPECT_THAT(Rollout::Create(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("at most 10000")));
}

TEST(RolloutTest, RollBackIsFinal) {
  Rollout r = NewRollout();
  STRATA_ASSERT_OK(r.Start(kT0));
  STRATA_ASSERT_OK(r.Halt(kT0));
  STRATA_ASSERT_OK(r.RollBack(kT0 + absl::Hours(1), "bad build"));
  EXPECT_EQ(r.state(), ReleaseState::kRolledBack);
  EXPECT_FALSE(r.accepts_new_devices());
  EXPECT_FALSE(r.keeps_installed_devices());
  EXPECT_EQ(r.exposure_bp(), 0u);
  for (auto op : {&Rollout::Promote, &Rollout::Pause, &Rollout::Resume,
                  &Rollout::Halt, &Rollout::RollBack, &Rollout::Start}) {
    EXPECT_THAT((r.*op)(kT0, "x"),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
}

TEST(RolloutTest, CompletedCanOnlyBeRolledBack) {
  ReleaseSpec spec = MultiLayerSpec();
  spec.plan.stages = {{10000, absl::Hours(1), 1}};
  Rollout r = NewRollout(spec);
  STRATA_ASSERT_OK(r.Start(kT0));
  STRATA_ASSERT_OK(r.Promote(kT0));
  EXPECT_EQ(r.state(), ReleaseState::kCompleted);
  EXPECT_THAT(r.Halt(kT0), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    HasSubstr("roll back a completed release "
                                              "instead")));
  STRATA_EXPECT_OK(r.RollBack(kT0));
}

TEST(RolloutTest, IllegalTransitionsSayWhatToDo) {
  Rollout draft = NewRollout();
  EXPECT_THAT(draft.Promote(kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot promote release 7: it is draft; start it "
                       "first"));
  EXPECT_THAT(draft.Pause(kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot pause release 7: it is draft; only a rolling "
                       "release can be paused"));
  EXPECT_THAT(draft.Resume(kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot resume release 7: it is draft; only a paused "
                       "or halted release can be resumed"));
  EXPECT_THAT(draft.Halt(kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("only a rolling or paused release can be "
                                 "halted")));
  EXPECT_THAT(draft.RollBack(kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot roll back release 7: it is draft; a draft "
                       "reached no device; delete it instead"));

  Rollout r = NewRollout();
  STRATA_ASSERT_OK(r.Start(kT0));
  EXPECT_THAT(r.Start(kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot start release 7: it is rolling(stage 1 of 5, "
                       "1%); only a draft can be started"));
  EXPECT_THAT(r.Resume(kT0), StatusIs(absl::StatusCode::kFailedPrecondition));
  STRATA_ASSERT_OK(r.Pause(kT0));
  EXPECT_THAT(r.Pause(kT0), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("it is already paused")));
  EXPECT_THAT(r.Promote(kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot promote release 7: it is paused(stage 1 of 5, "
                       "1%); resume it first"));
  STRATA_ASSERT_OK(r.Halt(kT0));  // paused -> halted is allowed
  EXPECT_THAT(r.Halt(kT0), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    HasSubstr("it is already halted")));
  EXPECT_THAT(r.Promote(kT0), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("resume it first")));
  STRATA_ASSERT_OK(r.RollBack(kT0));
  EXPECT_THAT(r.RollBack(kT0), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        HasSubstr("already rolled back")));
  EXPECT_THAT(r.Promote(kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("a rolled-back release is final; create a "
                                 "new release")));
}

TEST(RolloutTest, RestoreRebuildsFromStoredState) {
  RolloutStatus st;
  st.state = ReleaseState::kPaused;
  st.stage = 2;
  st.stage_started_at = kT0;
  st.reason = "paused by ops";
  STRATA_ASSERT_OK_AND_ASSIGN(Rollout r,
                              Rollout::Restore(MultiLayerSpec(), st));
  EXPECT_EQ(r.state(), ReleaseState::kPaused);
  EXPECT_EQ(r.exposure_bp(), 2000u);
  EXPECT_EQ(r.Describe(), "release 7 paused(stage 3 of 5, 20%)");
  STRATA_EXPECT_OK(r.Resume(kT0 + absl::Hours(1)));

  st.stage = 5;
  EXPECT_THAT(Rollout::Restore(MultiLayerSpec(), st),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is at stage 6 but its plan has 5 stages")));
}

TEST(RolloutTest, ArtifactsStayTogether) {
  Rollout r = NewRollout();
  ASSERT_EQ(r.spec().artifacts.size(), 3u);
  EXPECT_EQ(r.spec().artifacts[1],
            (ArtifactRef{Layer::kHcf, "mall-runtime", "1.4.0"}));
  EXPECT_EQ(LayerName(r.spec().artifacts[2].layer), "CONFIG");
  EXPECT_EQ(static_cast<int>(Layer::kNativeBundle), 5);  // = strata.v1.Layer
}

}  // namespace
}  // namespace strata::rollout
