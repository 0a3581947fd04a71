// Health gates: given a rolling release and its health, decide whether to
// promote it, hold it, halt it or pause it — with the figures that caused
// the decision, for the audit log.
//
// Rules, first match wins (thresholds from the release's GatePolicy). With
// the default statistic (GateStatistic::kSequential) rules 2-5 halt only
// on evidence that stays valid however often the gate looks (sequential.h):
// "above" means a mixture SPRT's e-value reached 4 / false_halt_budget,
// and rule 4 tests against baseline_crash_rate when it is set. With
// kZScore they compare point rates, as listed:
//  1. halt  integrity_failures       signature/hash rejections >= min count
//                                    and rate > max_integrity_failure_rate
//  2. halt  apply_failure_rate       apply failures > max rate (absolute)
//  3. halt  apply_failure_vs_control apply failure rate > ratio x control's
//  4. halt  crash_rate               launch-crash rate > max rate (absolute)
//  5. halt  crash_rate_vs_control    launch-crash rate > ratio x control's
//                                    and at least min_crash_rate_delta worse
//  6. pause reports_stopped          no treatment report for the timeout
//  7. promote bake_complete          bake time elapsed, the stage has
//                                    min_reports launch reports and the
//                                    release min_launches in total (so the
//                                    crash rules could judge it)
//  8. hold  baking                   otherwise
// Rate rules need min_apply_attempts / min_launches in each cohort they
// read; ratio rules also need a z-score >= min_z_score.
//
// Every figure counts devices (health.h): a device counts once per stage
// window, so "launches" are launched devices, a crash rate is the share of
// them that crashed, and min_reports / min_launches are numbers of devices.
#ifndef STRATA_ROLLOUT_GATE_H_
#define STRATA_ROLLOUT_GATE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/rollout/health.h"
#include "strata/rollout/rollout.h"

namespace strata::rollout {

enum class GateAction { kHold, kPromote, kHalt, kPause };
std::string_view GateActionName(GateAction a);  // "hold", "promote", ...

// The numbers a decision was made on.
struct GateFigures {
  uint64_t release_id = 0;
  int stage = 0;  // index into the plan
  uint32_t exposure_bp = 0;
  absl::Duration baked = absl::ZeroDuration();
  absl::Duration bake_time = absl::ZeroDuration();
  uint64_t stage_reports = 0;  // treatment launch reports in this stage
  uint64_t min_reports = 0;
  absl::Duration since_last_report = absl::ZeroDuration();

  uint64_t treatment_launches = 0;
  uint64_t treatment_crashes = 0;
  double treatment_crash_rate = 0;
  uint64_t control_launches = 0;
  uint64_t control_crashes = 0;
  double control_crash_rate = 0;
  double crash_z = 0;  // one-sided two-proportion z (treatment worse)

  uint64_t treatment_apply_attempts = 0;
  uint64_t treatment_apply_failures = 0;
  double treatment_apply_failure_rate = 0;
  uint64_t control_apply_attempts = 0;
  uint64_t control_apply_failures = 0;
  double control_apply_failure_rate = 0;
  double apply_z = 0;

  uint64_t integrity_failures = 0;
  double integrity_failure_rate = 0;

  // kSequential: log e-values of the four rate tests (0 = no evidence),
  // the threshold they must reach, and the treatment devices the crash
  // test needs before a stage may be promoted (0: no baseline given).
  double apply_log_e = 0;
  double apply_vs_control_log_e = 0;
  double crash_log_e = 0;
  double crash_vs_control_log_e = 0;
  double log_e_threshold = 0;
  uint64_t devices_for_verdict = 0;

  // One line with every figure, e.g. for the audit log.
  std::string ToString() const;
};

struct GateDecision {
  GateAction action = GateAction::kHold;
  std::string rule;    // stable id: "crash_rate_vs_control", "baking", ...
  std::string reason;  // human-readable, with the figures that decided
  GateFigures figures;
};

// One-sided two-proportion z-score that rate a = x1/n1 is above b = x2/n2
// (pooled standard error). 0 when either n is 0.
double ProportionZScore(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2);

class GateEvaluator {
 public:
  // `clock` is not owned and must outlive the evaluator.
  explicit GateEvaluator(Clock* clock) : clock_(clock) {}

  // Decides for `rollout` given `health`. A release that is not rolling
  // gets kHold with rule "not_rolling".
  GateDecision Evaluate(const Rollout& rollout,
                        const ReleaseHealth& health) const;

  // Evaluate, then apply promote/halt/pause to `rollout` with the
  // decision's reason (hold changes nothing). Returns the decision.
  absl::StatusOr<GateDecision> Step(Rollout& rollout,
                                    const ReleaseHealth& health) const;

 private:
  Clock* clock_;
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_GATE_H_
