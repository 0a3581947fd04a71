// The thresholds of a release's health gates (docs/rollout.md explains each
// rule). Rates are fractions: 0.02 = 2%.
#ifndef STRATA_ROLLOUT_GATE_POLICY_H_
#define STRATA_ROLLOUT_GATE_POLICY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace strata::rollout {

// How the rate rules judge (docs/rollout.md, "Gate statistics").
enum class GateStatistic {
  // Mixture SPRTs (sequential.h): valid however often the gate looks, with
  // a false-halt budget for the whole release. The default.
  kSequential,
  // The fixed-sample rules of earlier versions: point rates against the
  // limits, ratios with a z-score guard, checked at every tick.
  kZScore,
};

struct GatePolicy {
  GateStatistic statistic = GateStatistic::kSequential;
  // kSequential: the chance, over the whole release however often the gate
  // looks, that noise alone halts a release no worse than its limits and
  // control. Split evenly over the four rate tests.
  double false_halt_budget = 0.01;
  // kSequential: the launch-crash rate the fleet shows without the release
  // (0: not known). When set, the absolute crash test tests against it
  // (instead of max_crash_rate), and a stage is not promoted before its
  // treatment devices could have shown a rate min_detectable_crash_ratio
  // times the baseline (with 95% power).
  double baseline_crash_rate = 0;
  double min_detectable_crash_ratio = 2.0;

  // Apply failures (apply_failed + rejected over apply attempts).
  double max_apply_failure_rate = 0.02;  // halt above, absolute
  double max_apply_failure_ratio = 2.0;  // halt above, vs control's rate
  // The ratio rule ignores treatment rates below this (0 vs 0.01% is noise).
  double min_apply_failure_rate_for_ratio = 0.005;
  uint64_t min_apply_attempts = 50;  // per cohort, before apply rules judge

  // Launch crashes (crashes over launches).
  double max_crash_ratio = 1.5;         // halt above, vs control's rate
  double min_crash_rate_delta = 0.002;  // ...and at least this much worse
  double max_crash_rate = 0.05;         // halt above, absolute (no control)
  uint64_t min_launches = 200;          // per cohort, before crash rules judge

  // Significance guard for both ratio rules: a one-sided two-proportion
  // z-score of at least this. 0 disables it.
  double min_z_score = 3.0;

  // Signature / hash failures (integrity rejections over apply attempts).
  double max_integrity_failure_rate = 0.001;
  // Distinct devices: a device id costs nothing, so one or two made-up
  // devices in treatment cannot halt a release alone
  // (docs/threat-model.md).
  uint64_t min_integrity_failures = 3;

  // Pause when the treatment has sent nothing for this long (counted from
  // the later of the stage start and the last report).
  absl::Duration report_silence_timeout = absl::Hours(6);

  // kInvalidArgument naming the first bad field.
  absl::Status Validate() const;
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_GATE_POLICY_H_
