// Sequential tests for the health gates that stay valid however often they
// are looked at (docs/rollout.md, "Gate statistics").
//
// The gate loop re-reads a release's health every few seconds. A
// fixed-sample test (a z-score against a threshold) checked that often
// halts healthy releases far more often than its nominal rate, and says
// nothing about how many devices it needs to catch a bad one. These are
// mixture sequential probability ratio tests (mSPRT): each returns an
// e-value E, the likelihood ratio of "worse by a factor r" to "not worse",
// averaged over a fixed grid of factors r (kMixtureRatios, equal weights).
// Under the null hypothesis E is a nonnegative (super)martingale with
// E[E] <= 1, so by Ville's inequality the chance it EVER reaches 1/alpha,
// however often it is checked, is at most alpha.
//
// Units are devices (health.h counts a device once per window), each a
// Bernoulli trial: launched and crashed or not, applied and failed or not.
//
// - Against a limit (one sample): x failures among n devices, null
//   p <= p0. Alternatives p0 * r.
// - Against control (two samples): failures split between treatment (xt of
//   nt devices) and control (xc of nc). Given the total, under the null
//   (equal rates) each failure is the treatment's with probability
//   rho = nt / (nt + nc); the alternative "treatment's rate is r times"
//   makes it r*rho / (r*rho + 1 - rho). Needs no baseline; the cohorts'
//   shares are read at each look (equal-sized cohorts by construction, so
//   rho stays near one half; bench/gates measures what the plug-in costs).
//
// Intervals are anytime-valid confidence sequences from a uniform-prior
// mixture (Robbins): the set of rates whose likelihood-ratio e-value
// against the data stays below 1/alpha.
#ifndef STRATA_ROLLOUT_SEQUENTIAL_H_
#define STRATA_ROLLOUT_SEQUENTIAL_H_

#include <array>
#include <cstdint>

namespace strata::rollout {

// Rate ratios the mixture averages over: effects from +25% to 10x.
inline constexpr std::array<double, 6> kMixtureRatios = {1.25, 1.5, 2.0,
                                                         3.0,  5.0, 10.0};

// log E for "the rate of x in n is above p0". 0 (E = 1, no evidence) when
// n is 0; p0 must be in (0, 1) (alternatives at or above 1 are skipped).
double LogEvidenceAboveRate(uint64_t x, uint64_t n, double p0);

// log E for "treatment's rate (xt of nt) is above control's (xc of nc)".
// 0 when either cohort is empty or nothing failed.
double LogEvidenceAboveControl(uint64_t xt, uint64_t nt, uint64_t xc,
                               uint64_t nc);

struct Interval {
  double lower = 0;
  double upper = 0;  // may be +infinity
};

// Anytime-valid (1 - alpha) confidence sequence for a rate from x of n.
// [0, 1] when n is 0.
Interval RateInterval(uint64_t x, uint64_t n, double alpha);

// Anytime-valid (1 - alpha) confidence sequence for the ratio of
// treatment's rate to control's (xt/nt over xc/nc), from the split of
// failures between the cohorts. [0, inf) when nothing can be said.
Interval RateRatioInterval(uint64_t xt, uint64_t nt, uint64_t xc, uint64_t nc,
                           double alpha);

// Stage sizing. Treatment devices (each cohort, for the comparison) after
// which a release whose rate is `ratio` times `baseline` has crossed 1/alpha
// with probability about `power` (a normal approximation to the strongest
// single alternative of the grid, so an upper estimate: the mixture and
// earlier looks only stop sooner). 0 if the inputs make no sense (baseline
// outside (0, 1), ratio <= 1, rate at or above 1).
uint64_t DevicesToDetect(double baseline, double ratio, double alpha,
                         double power, bool against_control);

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_SEQUENTIAL_H_
