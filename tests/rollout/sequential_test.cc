// The sequential tests' promises, checked by simulation with a fixed seed:
// under the null hypothesis the e-value rarely ever reaches 1/alpha however
// often it is looked at; under the alternative the stage size
// DevicesToDetect names is enough about `power` of the time; the intervals
// cover the truth at every look. (bench/gates runs the whole gate over
// thousands of simulated rollouts.)
#include "strata/rollout/sequential.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>

#include "gtest/gtest.h"
#include "strata/rollout/gate.h"

namespace strata::rollout {
namespace {

TEST(SequentialTest, NoDataIsNoEvidence) {
  EXPECT_EQ(LogEvidenceAboveRate(0, 0, 0.01), 0);
  EXPECT_EQ(LogEvidenceAboveControl(0, 0, 0, 100), 0);
  EXPECT_EQ(LogEvidenceAboveControl(0, 100, 0, 100), 0);
  const Interval r = RateInterval(0, 0, 0.05);
  EXPECT_EQ(r.lower, 0);
  EXPECT_EQ(r.upper, 1);
  EXPECT_TRUE(std::isinf(RateRatioInterval(0, 10, 0, 10, 0.05).upper));
}

TEST(SequentialTest, EvidenceGrowsWithTheEffectAndTheData) {
  // At the null rate the evidence drifts down; above it, up.
  EXPECT_LT(LogEvidenceAboveRate(50, 10000, 0.005), 0);
  EXPECT_GT(LogEvidenceAboveRate(100, 10000, 0.005), std::log(400.0));
  EXPECT_GT(LogEvidenceAboveRate(200, 20000, 0.005),
            LogEvidenceAboveRate(100, 10000, 0.005));
  EXPECT_LT(LogEvidenceAboveControl(50, 10000, 50, 10000), 0);
  EXPECT_GT(LogEvidenceAboveControl(200, 10000, 50, 10000), std::log(400.0));
  // Fewer failures in treatment than control is no evidence of harm.
  EXPECT_LT(LogEvidenceAboveControl(10, 10000, 50, 10000), 0);
  // The cohorts' sizes matter: 100 vs 50 failures is no harm when
  // treatment has twice the devices.
  EXPECT_LT(LogEvidenceAboveControl(100, 20000, 50, 10000), 0);
}

// Every `look` devices, for `n` devices: does log E ever reach `bound`?
// Returns the device count when it did, 0 if never.
template <typename Evidence>
uint64_t FirstCrossing(std::mt19937_64& rng, double pt, double pc, uint64_t n,
                       uint64_t look, double bound, Evidence evidence) {
  std::bernoulli_distribution t(pt), c(pc);
  uint64_t xt = 0, xc = 0;
  for (uint64_t i = 1; i <= n; ++i) {
    xt += t(rng);
    xc += c(rng);
    if (i % look == 0 && evidence(xt, xc, i) >= bound) return i;
  }
  return 0;
}

TEST(SequentialTest, NullRarelyEverCrossesHoweverOftenLookedAt) {
  // alpha = 5% so that a violation shows in 1,000 runs; looks after every
  // 25 devices, 400 looks each.
  const double alpha = 0.05;
  const double bound = std::log(1 / alpha);
  std::mt19937_64 rng(7);
  int against_limit = 0, against_control = 0, z_score = 0;
  const int kRuns = 1000;
  for (int run = 0; run < kRuns; ++run) {
    against_limit += FirstCrossing(rng, 0.01, 0.01, 10000, 25, bound,
                                   [](uint64_t x, uint64_t, uint64_t n) {
                                     return LogEvidenceAboveRate(x, n, 0.01);
                                   }) != 0;
    against_control +=
        FirstCrossing(rng, 0.01, 0.01, 10000, 25, bound,
                      [](uint64_t xt, uint64_t xc, uint64_t n) {
                        return LogEvidenceAboveControl(xt, n, xc, n);
                      }) != 0;
    // The fixed-sample rule at the same nominal 5% (one-sided z >= 1.645)
    // looked at as often.
    z_score += FirstCrossing(rng, 0.01, 0.01, 10000, 25, 1.645,
                             [](uint64_t xt, uint64_t xc, uint64_t n) {
                               return ProportionZScore(xt, n, xc, n);
                             }) != 0;
  }
  std::printf(
      "crossings under the null in %d runs of 400 looks: against "
      "the limit %d, against control %d, z-score %d\n",
      kRuns, against_limit, against_control, z_score);
  // Binomial(1000, 0.05) exceeds 70 with probability < 0.3%; in fact the
  // mixture's crossing rate is far below alpha.
  EXPECT_LE(against_limit, 70);
  EXPECT_LE(against_control, 70);
  // What the sequential test fixes: the z rule, checked 400 times, halts a
  // healthy release several times more often than it says.
  EXPECT_GE(z_score, 150) << "z-score crossings " << z_score;
}

TEST(SequentialTest, StageSizeDetectsTheEffectWithThePowerAsked) {
  const double alpha = 0.0025;
  const double bound = std::log(1 / alpha);
  const uint64_t n = DevicesToDetect(0.005, 2.0, alpha, 0.95, false);
  const uint64_t n_control = DevicesToDetect(0.005, 2.0, alpha, 0.95, true);
  ASSERT_GT(n, 0u);
  EXPECT_GT(n_control, n);  // control's noise costs devices
  EXPECT_LT(n, 10000u);     // the first thousandth of a 10M fleet
  std::mt19937_64 rng(11);
  int detected = 0, detected_control = 0;
  const int kRuns = 400;
  for (int run = 0; run < kRuns; ++run) {
    detected += FirstCrossing(rng, 0.01, 0.005, n, 50, bound,
                              [](uint64_t x, uint64_t, uint64_t k) {
                                return LogEvidenceAboveRate(x, k, 0.005);
                              }) != 0;
    detected_control +=
        FirstCrossing(rng, 0.01, 0.005, n_control, 50, bound,
                      [](uint64_t xt, uint64_t xc, uint64_t k) {
                        return LogEvidenceAboveControl(xt, k, xc, k);
                      }) != 0;
  }
  std::printf(
      "detected within the planned size: %d of %d against the "
      "baseline (n=%llu), %d of %d against control (n=%llu)\n",
      detected, kRuns, static_cast<unsigned long long>(n), detected_control,
      kRuns, static_cast<unsigned long long>(n_control));
  // 95% asked for; the estimate is meant to be on the safe side.
  EXPECT_GE(detected, kRuns * 93 / 100) << "n=" << n;
  EXPECT_GE(detected_control, kRuns * 93 / 100) << "n=" << n_control;
  EXPECT_EQ(DevicesToDetect(0, 2.0, alpha, 0.95, false), 0u);
  EXPECT_EQ(DevicesToDetect(0.005, 1.0, alpha, 0.95, false), 0u);
  EXPECT_EQ(DevicesToDetect(0.6, 2.0, alpha, 0.95, false), 0u);
}

TEST(SequentialTest, IntervalsCoverTheTruthAtEveryLook) {
  const double alpha = 0.05;
  std::mt19937_64 rng(3);
  int rate_missed = 0, ratio_missed = 0;
  const int kRuns = 300;
  for (int run = 0; run < kRuns; ++run) {
    std::bernoulli_distribution t(0.02), c(0.01);
    uint64_t xt = 0, xc = 0;
    bool rate_miss = false, ratio_miss = false;
    for (uint64_t n = 1; n <= 5000; ++n) {
      xt += t(rng);
      xc += c(rng);
      if (n % 100 != 0) continue;
      const Interval r = RateInterval(xt, n, alpha);
      EXPECT_LE(r.lower, r.upper);
      rate_miss |= !(r.lower <= 0.02 && 0.02 <= r.upper);
      const Interval q = RateRatioInterval(xt, n, xc, n, alpha);
      ratio_miss |= !(q.lower <= 2.0 && 2.0 <= q.upper);
    }
    rate_missed += rate_miss;
    ratio_missed += ratio_miss;
  }
  EXPECT_LE(rate_missed, kRuns * 8 / 100);
  EXPECT_LE(ratio_missed, kRuns * 8 / 100);
  // And they narrow: 200 of 10,000 pins the rate near 2%.
  const Interval tight = RateInterval(200, 10000, alpha);
  EXPECT_GT(tight.lower, 0.014);
  EXPECT_LT(tight.upper, 0.027);
}

}  // namespace
}  // namespace strata::rollout
