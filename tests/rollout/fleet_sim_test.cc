// A simulated fleet on a simulated clock: 20,000 devices launch about once
// an hour, check for updates at launch, install what the targeting offers
// and report launches and crashes. The health gates alone drive the
// rollout. Deterministic: FakeRandom with a fixed seed.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/gate.h"
#include "strata/rollout/health.h"
#include "strata/rollout/rollout.h"
#include "strata/rollout/targeting.h"

namespace strata::rollout {
namespace {

using ::strata::testing::FakeRandom;
using ::strata::testing::SimulatedClock;
using ::testing::AnyOf;

constexpr int kDevices = 20'000;
constexpr uint64_t kBaselineCrashBp = 100;  // 1% of launches crash anyway
const absl::Duration kTick = absl::Minutes(10);

struct SimDevice {
  DeviceAttributes attrs;
  uint64_t key = 0;  // DeviceKey(device_id): health counts devices
  bool installed = false;
};

class Fleet {
 public:
  Fleet(uint64_t crash_bp_with_release, uint64_t seed)
      : crash_bp_(crash_bp_with_release), rng_(seed), gate_(&clock_) {
    devices_.resize(kDevices);
    for (int i = 0; i < kDevices; ++i) {
      devices_[i].attrs.user_id = StrCat("user-", i);
      devices_[i].attrs.device_id = StrCat("device-", i);
      devices_[i].key = DeviceKey(devices_[i].attrs.device_id);
      devices_[i].attrs.os = i % 3 == 0 ? "ios" : "android";
      devices_[i].attrs.app_version = "10.4.0";
    }
    ReleaseSpec spec;
    spec.release_id = 21;
    spec.app_id = "wallet";
    spec.artifacts = {{Layer::kH5, "mall-home", "3.2.0"},
                      {Layer::kHcf, "mall-runtime", "1.4.0"}};
    spec.plan.stages = {{100, absl::Hours(1), 100},
                        {500, absl::Hours(1), 300},
                        {2000, absl::Hours(1), 500},
                        {5000, absl::Hours(1), 1000},
                        {10000, absl::Hours(1), 1000}};
    absl::StatusOr<Rollout> r = Rollout::Create(spec);
    EXPECT_TRUE(r.ok()) << r.status();
    rollout_.emplace(*std::move(r));
    salt_ = rollout_->spec().EffectiveSalt();
    EXPECT_TRUE(rollout_->Start(clock_.Now()).ok());
  }

  // Advances the fleet by `d`; no device reports while `silent`.
  void Run(absl::Duration d, bool silent = false) {
    for (absl::Duration t; t < d; t += kTick) {
      clock_.Advance(kTick);
      if (!silent) Tick();
      absl::StatusOr<GateDecision> decision =
          gate_.Step(*rollout_, health_.Get(rollout_->release_id()));
      ASSERT_TRUE(decision.ok()) << decision.status();
      if (decision->action != GateAction::kHold) {
        audit_.push_back(StrCat(GateActionName(decision->action), " ",
                                decision->rule, ": ", decision->reason, " | ",
                                decision->figures.ToString()));
        last_ = *decision;
      }
      if (rollout_->state() == ReleaseState::kCompleted) return;
    }
  }

  int installed() const {
    int n = 0;
    for (const SimDevice& d : devices_) n += d.installed;
    return n;
  }
  Rollout& rollout() { return *rollout_; }
  const std::vector<std::string>& audit() const { return audit_; }
  const GateDecision& last_decision() const { return last_; }
  SimulatedClock& clock() { return clock_; }

 private:
  void Tick() {
    const int stage = rollout_->stage();
    const uint64_t id = rollout_->release_id();
    for (SimDevice& d : devices_) {
      if (rng_.Uniform(6) != 0) continue;  // launches ~once an hour
      // Check at launch; install all artifacts of the release or none.
      Offer offer =
          DecideOffer(*rollout_, everyone_, salt_, d.attrs, d.installed);
      HealthEvent e;
      e.at = clock_.Now();
      e.device = d.key;
      if (offer.applies && !d.installed) {
        d.installed = true;
        for (HealthEventKind k :
             {HealthEventKind::kDownloaded, HealthEventKind::kApplied,
              HealthEventKind::kActivated}) {
          e.kind = k;
          health_.Record(id, stage, Cohort::kTreatment, e);
        }
      }
      const uint64_t crash_bp = d.installed ? crash_bp_ : kBaselineCrashBp;
      const bool crashed = rng_.Uniform(10000) < crash_bp;
      e.kind =
          crashed ? HealthEventKind::kLaunchCrash : HealthEventKind::kLaunchOk;
      e.crash = crashed ? CrashKind::kScript : CrashKind::kUnspecified;
      health_.Record(id, stage, d.installed ? Cohort::kTreatment : offer.cohort,
                     e);
    }
  }

  const uint64_t crash_bp_;
  FakeRandom rng_;
  SimulatedClock clock_;
  GateEvaluator gate_;
  HealthAggregator health_;
  Segment everyone_;
  std::string salt_;
  std::optional<Rollout> rollout_;
  std::vector<SimDevice> devices_;
  std::vector<std::string> audit_;
  GateDecision last_;
};

TEST(FleetSimTest, CrashingReleaseHaltsItselfAtTheFirstStage) {
  Fleet fleet(/*crash_bp_with_release=*/2500, /*seed=*/1);
  fleet.Run(absl::Hours(3));
  EXPECT_EQ(fleet.rollout().state(), ReleaseState::kHalted);
  EXPECT_EQ(fleet.rollout().stage(), 0);
  ASSERT_EQ(fleet.audit().size(), 1u)
      << ::testing::PrintToString(fleet.audit());
  EXPECT_EQ(fleet.last_decision().action, GateAction::kHalt);
  EXPECT_THAT(fleet.last_decision().rule,
              AnyOf("crash_rate", "crash_rate_vs_control"));
  EXPECT_GT(fleet.last_decision().figures.treatment_crash_rate, 0.15);
  // About 1% of the fleet got it; nobody new gets it after the halt.
  const int reached = fleet.installed();
  EXPECT_GT(reached, 100);
  EXPECT_LT(reached, 300);
  fleet.Run(absl::Hours(6));
  EXPECT_EQ(fleet.installed(), reached);
  EXPECT_EQ(fleet.rollout().state(), ReleaseState::kHalted);
  RecordProperty("audit", fleet.audit().front());
}

TEST(FleetSimTest, HealthyReleaseReaches100Percent) {
  Fleet fleet(/*crash_bp_with_release=*/kBaselineCrashBp, /*seed=*/2);
  fleet.Run(absl::Hours(24));
  EXPECT_EQ(fleet.rollout().state(), ReleaseState::kCompleted)
      << fleet.rollout().Describe() << "\n"
      << ::testing::PrintToString(fleet.audit());
  // Five promotions, nothing else.
  ASSERT_EQ(fleet.audit().size(), 5u);
  for (const std::string& line : fleet.audit()) {
    EXPECT_THAT(line, ::testing::StartsWith("promote bake_complete"));
  }
  EXPECT_GT(fleet.installed(), kDevices / 2);
  const auto& history = fleet.rollout().history();
  ASSERT_EQ(history.size(), 6u);  // start + 5 promotions
  EXPECT_EQ(history.back().to, ReleaseState::kCompleted);
}

TEST(FleetSimTest, SilenceParksTheRolloutUntilResumed) {
  Fleet fleet(kBaselineCrashBp, /*seed=*/3);
  fleet.Run(absl::Minutes(30));
  fleet.Run(absl::Hours(7), /*silent=*/true);  // reports stop arriving
  EXPECT_EQ(fleet.rollout().state(), ReleaseState::kPaused);
  EXPECT_EQ(fleet.last_decision().rule, "reports_stopped");
  STRATA_ASSERT_OK(fleet.rollout().Resume(fleet.clock().Now(), "ops: back"));
  fleet.Run(absl::Hours(24));
  EXPECT_EQ(fleet.rollout().state(), ReleaseState::kCompleted);
}

}  // namespace
}  // namespace strata::rollout
