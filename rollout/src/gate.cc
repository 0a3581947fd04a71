#include "strata/rollout/gate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

#include "strata/base/strings.h"
#include "strata/rollout/sequential.h"

namespace strata::rollout {
namespace {

std::string Pct(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", fraction * 100.0);
  return buf;
}
std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}
std::string PercentBp(uint32_t bp) {
  char buf[32];
  if (bp % 100 == 0) {
    std::snprintf(buf, sizeof(buf), "%u%%", bp / 100);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f%%", bp / 100.0);
  }
  return buf;
}
// Rounded for people: to the second from a minute up, else to the ms.
std::string Dur(absl::Duration d) {
  const absl::Duration unit =
      d >= absl::Minutes(1) ? absl::Seconds(1) : absl::Milliseconds(1);
  return absl::FormatDuration(absl::Trunc(d + unit / 2, unit));
}
// "x.xx times" of b, or "inf" when b is 0.
std::string Times(double a, double b) {
  if (b <= 0) return "infinitely many times";
  return StrCat(Num(a / b), "x");
}

GateDecision Make(GateAction action, std::string rule, std::string reason,
                  const GateFigures& f) {
  GateDecision d;
  d.action = action;
  d.rule = std::move(rule);
  d.reason = std::move(reason);
  d.figures = f;
  return d;
}

// Power a stage's size is planned for (docs/rollout.md).
constexpr double kVerdictPower = 0.95;
// Rate tests sharing the false-halt budget: apply and crash, each against
// its limit and against control.
constexpr double kSequentialTests = 4;

// e-values for people: "3.2e+11"; "> 1e300" past what a double holds.
std::string EValue(double log_e) {
  if (log_e > 690) return "> 1e300";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", std::exp(log_e));
  return buf;
}
std::string Ratio(double r) {
  if (std::isinf(r)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3gx", r);
  return buf;
}
std::string PctShort(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g%%", fraction * 100.0);
  return buf;
}

// log e-value that x of n is above `limit`; a limit of 0 is passed by the
// first failure.
double EvidenceAbove(uint64_t x, uint64_t n, double limit) {
  if (limit <= 0) {
    return x > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  }
  return LogEvidenceAboveRate(x, n, limit);
}

// "anytime-valid 99.75% interval 0.61%-1.6%"
std::string RateCs(uint64_t x, uint64_t n, double alpha) {
  const Interval i = RateInterval(x, n, alpha);
  return StrCat("anytime-valid ", PctShort(1 - alpha), " interval ",
                PctShort(i.lower), "-", PctShort(i.upper));
}
std::string RatioCs(uint64_t xt, uint64_t nt, uint64_t xc, uint64_t nc,
                    double alpha) {
  const Interval i = RateRatioInterval(xt, nt, xc, nc, alpha);
  return StrCat("anytime-valid ", PctShort(1 - alpha), " interval ",
                Ratio(i.lower), "-", Ratio(i.upper));
}
// ": mixture SPRT e-value 512 >= 400 (false-halt budget 1% over 4 tests)"
std::string Evidence(double log_e, const GateFigures& f, const GatePolicy& p) {
  return StrCat(": mixture SPRT e-value ", EValue(log_e),
                " >= ", EValue(f.log_e_threshold), " (false-halt budget ",
                PctShort(p.false_halt_budget), " for the release over ",
                static_cast<int>(kSequentialTests), " tests)");
}

// "launch-crash rate 4.00% (40 of 1000) is 4.00x control's 1.00% (10 of
// 1000)": treatment against control, for both ratio rules.
std::string AgainstControl(std::string_view what, std::string_view verb,
                           double t_rate, uint64_t t_x, uint64_t t_n,
                           double c_rate, uint64_t c_x, uint64_t c_n) {
  return StrCat(what, " ", Pct(t_rate), " (", t_x, " of ", t_n, ") ", verb, " ",
                Times(t_rate, c_rate), " control's ", Pct(c_rate), " (", c_x,
                " of ", c_n, ")");
}

// Rules 2-5 with the sequential tests.
std::optional<GateDecision> SequentialRules(const GatePolicy& p,
                                            const GateFigures& f) {
  const double alpha = p.false_halt_budget / kSequentialTests;
  // 2. Apply failures against the limit.
  if (f.treatment_apply_attempts >= p.min_apply_attempts &&
      f.apply_log_e >= f.log_e_threshold) {
    return Make(GateAction::kHalt, "apply_failure_rate",
                StrCat("apply failures ", Pct(f.treatment_apply_failure_rate),
                       " (", f.treatment_apply_failures, " of ",
                       f.treatment_apply_attempts, " devices that applied), ",
                       RateCs(f.treatment_apply_failures,
                              f.treatment_apply_attempts, alpha),
                       ", above the limit of ", Pct(p.max_apply_failure_rate),
                       Evidence(f.apply_log_e, f, p)),
                f);
  }
  // 3. Apply failures against control.
  if (f.treatment_apply_attempts >= p.min_apply_attempts &&
      f.control_apply_attempts >= p.min_apply_attempts &&
      f.treatment_apply_failure_rate >= p.min_apply_failure_rate_for_ratio &&
      f.treatment_apply_failure_rate > f.control_apply_failure_rate &&
      f.apply_vs_control_log_e >= f.log_e_threshold) {
    return Make(
        GateAction::kHalt, "apply_failure_vs_control",
        StrCat(
            "apply failures ", Pct(f.treatment_apply_failure_rate), " (",
            f.treatment_apply_failures, " of ", f.treatment_apply_attempts,
            ") are ",
            Times(f.treatment_apply_failure_rate, f.control_apply_failure_rate),
            " control's ", Pct(f.control_apply_failure_rate), " (",
            f.control_apply_failures, " of ", f.control_apply_attempts, "), ",
            RatioCs(f.treatment_apply_failures, f.treatment_apply_attempts,
                    f.control_apply_failures, f.control_apply_attempts, alpha),
            Evidence(f.apply_vs_control_log_e, f, p)),
        f);
  }
  // 4. Crashes against the baseline (or the limit without one).
  const bool baseline = p.baseline_crash_rate > 0;
  if (f.treatment_launches >= p.min_launches &&
      f.crash_log_e >= f.log_e_threshold &&
      (!baseline || f.treatment_crash_rate - p.baseline_crash_rate >=
                        p.min_crash_rate_delta)) {
    return Make(
        GateAction::kHalt, "crash_rate",
        StrCat("launch-crash rate ", Pct(f.treatment_crash_rate), " (",
               f.treatment_crashes, " of ", f.treatment_launches,
               " launched devices), ",
               RateCs(f.treatment_crashes, f.treatment_launches, alpha),
               baseline ? ", above the baseline of " : ", above the limit of ",
               Pct(baseline ? p.baseline_crash_rate : p.max_crash_rate),
               Evidence(f.crash_log_e, f, p)),
        f);
  }
  // 5. Crashes against control.
  if (f.treatment_launches >= p.min_launches &&
      f.control_launches >= p.min_launches &&
      f.treatment_crash_rate - f.control_crash_rate >= p.min_crash_rate_delta &&
      f.crash_vs_control_log_e >= f.log_e_threshold) {
    return Make(
        GateAction::kHalt, "crash_rate_vs_control",
        StrCat(AgainstControl("launch-crash rate", "is", f.treatment_crash_rate,
                              f.treatment_crashes, f.treatment_launches,
                              f.control_crash_rate, f.control_crashes,
                              f.control_launches),
               ", ",
               RatioCs(f.treatment_crashes, f.treatment_launches,
                       f.control_crashes, f.control_launches, alpha),
               Evidence(f.crash_vs_control_log_e, f, p)),
        f);
  }
  return std::nullopt;
}

}  // namespace

std::string_view GateActionName(GateAction a) {
  switch (a) {
    case GateAction::kHold:
      return "hold";
    case GateAction::kPromote:
      return "promote";
    case GateAction::kHalt:
      return "halt";
    case GateAction::kPause:
      return "pause";
  }
  return "unknown";
}

double ProportionZScore(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2) {
  if (n1 == 0 || n2 == 0) return 0;
  const double p1 = static_cast<double>(x1) / static_cast<double>(n1);
  const double p2 = static_cast<double>(x2) / static_cast<double>(n2);
  const double pooled =
      static_cast<double>(x1 + x2) / static_cast<double>(n1 + n2);
  const double se = std::sqrt(
      pooled * (1 - pooled) *
      (1.0 / static_cast<double>(n1) + 1.0 / static_cast<double>(n2)));
  if (se == 0) {
    if (p1 > p2) return std::numeric_limits<double>::infinity();
    return 0;
  }
  return (p1 - p2) / se;
}

std::string GateFigures::ToString() const {
  return StrCat(
      "release=", release_id, " stage=", stage + 1,
      " exposure=", PercentBp(exposure_bp), " baked=", Dur(baked), "/",
      Dur(bake_time), " stage_reports=", stage_reports, "/", min_reports,
      " since_last_report=", Dur(since_last_report),
      " crash_rate=", Pct(treatment_crash_rate), " (", treatment_crashes, "/",
      treatment_launches, ") control_crash_rate=", Pct(control_crash_rate),
      " (", control_crashes, "/", control_launches, ") crash_z=", Num(crash_z),
      " apply_failure_rate=", Pct(treatment_apply_failure_rate), " (",
      treatment_apply_failures, "/", treatment_apply_attempts,
      ") control_apply_failure_rate=", Pct(control_apply_failure_rate), " (",
      control_apply_failures, "/", control_apply_attempts,
      ") apply_z=", Num(apply_z), " integrity_failures=", integrity_failures,
      " (", Pct(integrity_failure_rate), ")",
      log_e_threshold > 0
          ? StrCat(" log_e: apply=", Num(apply_log_e), " apply_vs_control=",
                   Num(apply_vs_control_log_e), " crash=", Num(crash_log_e),
                   " crash_vs_control=", Num(crash_vs_control_log_e),
                   " threshold=", Num(log_e_threshold),
                   " devices_for_verdict=", devices_for_verdict)
          : std::string());
}

GateDecision GateEvaluator::Evaluate(const Rollout& rollout,
                                     const ReleaseHealth& health) const {
  const absl::Time now = clock_->Now();
  const GatePolicy& p = rollout.spec().gates;
  const CohortHealth& t = health.treatment;
  const CohortHealth& c = health.control;

  GateFigures f;
  f.release_id = rollout.release_id();
  f.stage = rollout.stage();
  f.exposure_bp = rollout.exposure_bp();
  f.bake_time = rollout.current_stage().bake_time;
  f.min_reports = rollout.current_stage().min_reports;
  f.baked =
      std::max(absl::ZeroDuration(), now - rollout.status().stage_started_at);
  f.stage_reports =
      health.stage == rollout.stage() ? health.treatment_stage.launches() : 0;
  absl::Time last = rollout.status().stage_started_at;
  if (t.last_report_at.has_value()) last = std::max(last, *t.last_report_at);
  f.since_last_report = std::max(absl::ZeroDuration(), now - last);
  f.treatment_launches = t.launches();
  f.treatment_crashes = t.launch_crashes;
  f.treatment_crash_rate = t.crash_rate();
  f.control_launches = c.launches();
  f.control_crashes = c.launch_crashes;
  f.control_crash_rate = c.crash_rate();
  f.crash_z = ProportionZScore(t.launch_crashes, t.launches(), c.launch_crashes,
                               c.launches());
  f.treatment_apply_attempts = t.apply_attempts();
  f.treatment_apply_failures = t.apply_failures();
  f.treatment_apply_failure_rate = t.apply_failure_rate();
  f.control_apply_attempts = c.apply_attempts();
  f.control_apply_failures = c.apply_failures();
  f.control_apply_failure_rate = c.apply_failure_rate();
  f.apply_z = ProportionZScore(t.apply_failures(), t.apply_attempts(),
                               c.apply_failures(), c.apply_attempts());
  f.integrity_failures = t.integrity_failures;
  f.integrity_failure_rate = t.integrity_failure_rate();
  const bool sequential = p.statistic == GateStatistic::kSequential;
  if (sequential) {
    const double alpha = p.false_halt_budget / kSequentialTests;
    f.log_e_threshold = std::log(1 / alpha);
    f.apply_log_e =
        EvidenceAbove(f.treatment_apply_failures, f.treatment_apply_attempts,
                      p.max_apply_failure_rate);
    f.apply_vs_control_log_e = LogEvidenceAboveControl(
        f.treatment_apply_failures, f.treatment_apply_attempts,
        f.control_apply_failures, f.control_apply_attempts);
    f.crash_log_e = EvidenceAbove(
        f.treatment_crashes, f.treatment_launches,
        p.baseline_crash_rate > 0 ? p.baseline_crash_rate : p.max_crash_rate);
    f.crash_vs_control_log_e =
        LogEvidenceAboveControl(f.treatment_crashes, f.treatment_launches,
                                f.control_crashes, f.control_launches);
    if (p.baseline_crash_rate > 0) {
      f.devices_for_verdict =
          DevicesToDetect(p.baseline_crash_rate, p.min_detectable_crash_ratio,
                          alpha, kVerdictPower, /*against_control=*/false);
    }
  }

  if (rollout.state() != ReleaseState::kRolling) {
    return Make(GateAction::kHold, "not_rolling",
                StrCat(rollout.Describe(), " is not rolling; gates wait"), f);
  }

  // 1. Signature / hash failures.
  if (f.integrity_failures >= std::max<uint64_t>(p.min_integrity_failures, 1) &&
      f.integrity_failure_rate > p.max_integrity_failure_rate) {
    return Make(
        GateAction::kHalt, "integrity_failures",
        StrCat("signature/hash failures ", Pct(f.integrity_failure_rate), " (",
               f.integrity_failures, " of ", f.treatment_apply_attempts,
               " devices that applied) above the limit of ",
               Pct(p.max_integrity_failure_rate)),
        f);
  }
  if (sequential) {
    if (std::optional<GateDecision> d = SequentialRules(p, f)) return *d;
  }
  // 2. Apply failures, absolute.
  if (!sequential && f.treatment_apply_attempts >= p.min_apply_attempts &&
      f.treatment_apply_failure_rate > p.max_apply_failure_rate) {
    return Make(
        GateAction::kHalt, "apply_failure_rate",
        StrCat("apply failures ", Pct(f.treatment_apply_failure_rate), " (",
               f.treatment_apply_failures, " of ", f.treatment_apply_attempts,
               " devices that applied) above the limit of ",
               Pct(p.max_apply_failure_rate)),
        f);
  }
  // 3. Apply failures against control.
  if (!sequential && f.treatment_apply_attempts >= p.min_apply_attempts &&
      f.control_apply_attempts >= p.min_apply_attempts &&
      f.treatment_apply_failure_rate >= p.min_apply_failure_rate_for_ratio &&
      f.treatment_apply_failure_rate >
          p.max_apply_failure_ratio * f.control_apply_failure_rate &&
      f.apply_z >= p.min_z_score) {
    return Make(
        GateAction::kHalt, "apply_failure_vs_control",
        StrCat(AgainstControl(
                   "apply failures", "are", f.treatment_apply_failure_rate,
                   f.treatment_apply_failures, f.treatment_apply_attempts,
                   f.control_apply_failure_rate, f.control_apply_failures,
                   f.control_apply_attempts),
               "; limit ", Num(p.max_apply_failure_ratio),
               "x, z=", Num(f.apply_z)),
        f);
  }
  // 4. Crashes, absolute.
  if (!sequential && f.treatment_launches >= p.min_launches &&
      f.treatment_crash_rate > p.max_crash_rate) {
    return Make(
        GateAction::kHalt, "crash_rate",
        StrCat("launch-crash rate ", Pct(f.treatment_crash_rate), " (",
               f.treatment_crashes, " of ", f.treatment_launches,
               " launched devices) above the limit of ", Pct(p.max_crash_rate)),
        f);
  }
  // 5. Crashes against control.
  if (!sequential && f.treatment_launches >= p.min_launches &&
      f.control_launches >= p.min_launches &&
      f.treatment_crash_rate > p.max_crash_ratio * f.control_crash_rate &&
      f.treatment_crash_rate - f.control_crash_rate >= p.min_crash_rate_delta &&
      f.crash_z >= p.min_z_score) {
    return Make(
        GateAction::kHalt, "crash_rate_vs_control",
        StrCat(AgainstControl("launch-crash rate", "is", f.treatment_crash_rate,
                              f.treatment_crashes, f.treatment_launches,
                              f.control_crash_rate, f.control_crashes,
                              f.control_launches),
               "; limit ", Num(p.max_crash_ratio), "x, z=", Num(f.crash_z)),
        f);
  }
  // 6. Silence.
  if (f.since_last_report >= p.report_silence_timeout) {
    return Make(
        GateAction::kPause, "reports_stopped",
        StrCat("no report from the treatment for ", Dur(f.since_last_report),
               " (limit ", Dur(p.report_silence_timeout),
               "); pausing until health can be judged"),
        f);
  }
  // 7. Promote.
  const bool baked = f.baked >= f.bake_time;
  const bool enough = f.stage_reports >= f.min_reports;
  // Never promote before the absolute crash rule could judge (with a
  // baseline: before the stage could have caught the smallest effect
  // asked for).
  const uint64_t launches_needed =
      std::max<uint64_t>(p.min_launches, f.devices_for_verdict);
  const bool judged = f.treatment_launches >= launches_needed;
  if (baked && enough && judged) {
    std::string next =
        rollout.at_last_stage()
            ? std::string("completing the release")
            : StrCat("promoting to stage ", rollout.stage() + 2, " (",
                     PercentBp(rollout.spec()
                                   .plan.stages[rollout.stage() + 1]
                                   .exposure_bp),
                     ")");
    // Only the requirements the stage has: "no bake time" rather than
    // "baked 3s of 0".
    std::string met =
        f.bake_time > absl::ZeroDuration()
            ? StrCat("baked ", Dur(f.baked), " of ", Dur(f.bake_time))
            : std::string("no bake time");
    if (f.min_reports > 0) {
      met +=
          StrCat(" with ", f.stage_reports, " of ", f.min_reports, " reports");
    } else if (f.stage_reports > 0) {
      met += StrCat(" with ", f.stage_reports, " reports (none required)");
    }
    return Make(GateAction::kPromote, "bake_complete",
                StrCat(met, ", crash rate ", Pct(f.treatment_crash_rate),
                       " vs control ", Pct(f.control_crash_rate), "; ", next),
                f);
  }
  // What the promotion waits for, first unmet requirement first; the rule
  // names that one ("baking" only while the bake time runs).
  std::string rule;
  std::string waiting;
  auto wait_for = [&](std::string_view r, std::string what) {
    if (rule.empty()) rule = std::string(r);
    if (!waiting.empty()) waiting += "; ";
    waiting += what;
  };
  if (!baked) {
    wait_for("baking",
             StrCat("baked ", Dur(f.baked), " of ", Dur(f.bake_time)));
  }
  if (!enough) {
    wait_for("waiting_for_reports",
             StrCat(f.stage_reports, " of ", f.min_reports, " reports"));
  }
  if (!judged) {
    wait_for("waiting_for_launches",
             StrCat(f.treatment_launches, " of ", launches_needed,
                    " launched devices the crash gate needs"));
  }
  return Make(GateAction::kHold, rule, StrCat("holding: ", waiting), f);
}

absl::StatusOr<GateDecision> GateEvaluator::Step(
    Rollout& rollout, const ReleaseHealth& health) const {
  GateDecision d = Evaluate(rollout, health);
  const absl::Time now = clock_->Now();
  const std::string why = StrCat("gate ", d.rule, ": ", d.reason);
  absl::Status s;
  switch (d.action) {
    case GateAction::kHold:
      return d;
    case GateAction::kPromote:
      s = rollout.Promote(now, why);
      break;
    case GateAction::kHalt:
      s = rollout.Halt(now, why);
      break;
    case GateAction::kPause:
      s = rollout.Pause(now, why);
      break;
  }
  if (!s.ok()) return s;
  return d;
}

}  // namespace strata::rollout
