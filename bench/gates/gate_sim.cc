// Thousands of simulated rollouts through the real health gates
// (rollout::GateEvaluator on a simulated clock), to measure both sides of
// the gates' trade: how many devices a bad release reaches before it is
// halted, and how often noise halts or pauses a healthy one. Each scenario
// runs with today's default gates (sequential tests, sequential.h), the
// same without a stated baseline, and the fixed-sample z-score gates of
// earlier versions, on the same simulated fleets (same seeds).
//
// The fleet is simulated in aggregate, per one-minute tick: every device
// launches as a Poisson process whose rate follows a daily cycle (or
// bursts); a treatment device installs the release at its first launch in
// range and counts once per stage window, as health.h counts devices; a
// control device counts once per window too. Each counted launch crashes
// with the cohort's rate, and its report reaches the server after an
// exponential delay. The gate looks at every tick.
//
//   build/bin/gate_sim                    (1,000 rollouts per scenario)
//   build/bin/gate_sim --runs 200 --fleet 1000000
//   build/bin/gate_sim --smoke            (ctest bench.gates_smoke)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/rollout/bucketing.h"
#include "strata/rollout/gate.h"
#include "strata/rollout/health.h"
#include "strata/rollout/rollout.h"
#include "strata/rollout/sequential.h"

namespace strata::rollout {
namespace {

constexpr absl::Duration kTick = absl::Minutes(1);

class SimClock : public Clock {
 public:
  absl::Time Now() override { return now_; }
  void SleepFor(absl::Duration d) override { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

enum class Pattern { kDiurnal, kBursty };

struct Scenario {
  std::string name;
  double treatment_crash = 0.005;
  double control_crash = 0.005;
  Pattern pattern = Pattern::kDiurnal;
  absl::Duration report_delay = absl::Minutes(30);  // mean, exponential
  bool bad() const { return treatment_crash > control_crash; }
};

struct Gates {
  std::string name;
  GatePolicy policy;
};

struct Outcome {
  bool halted = false;
  bool paused = false;
  bool completed = false;
  std::string rule;      // of the halt or pause
  uint64_t exposed = 0;  // treatment devices that installed, at the end
  absl::Duration took;   // until the halt, pause, completion or cap
};

struct Options {
  uint64_t fleet = 10'000'000;
  int runs = 1000;
  double launches_per_day = 1.0;
  absl::Duration cap = absl::Hours(24 * 7);
  uint64_t seed = 1;
};

// One cohort's counted reports waiting to reach the server, by tick.
struct Pending {
  uint64_t ok = 0;
  uint64_t crashed = 0;
  int stage = 0;
};

class Simulation {
 public:
  Simulation(const Options& o, const Scenario& s, const Gates& g, uint64_t seed)
      : o_(o), s_(s), rng_(seed), gate_(&clock_) {
    ReleaseSpec spec;
    spec.release_id = 1;
    spec.app_id = "wallet";
    spec.artifacts = {{Layer::kH5, "mall-home", "3.2.0"}};
    // The first thousandth of the fleet, then 1%, 10%, 50%, everyone.
    spec.plan.stages = {{10, absl::Hours(1), 200},
                        {100, absl::Hours(1), 500},
                        {1000, absl::Hours(1), 1000},
                        {5000, absl::Hours(1), 2000},
                        {10000, absl::Hours(1), 2000}};
    spec.gates = g.policy;
    rollout_.emplace(*Rollout::Create(spec));
    (void)rollout_->Start(clock_.Now());
    health_.release_id = 1;
    const double h = 1 - std::exp(-absl::FDivDuration(kTick, s.report_delay));
    delay_ = std::geometric_distribution<int>(h);
    delay_hazard_ = h;
    max_delay_ticks_ = static_cast<size_t>(
        std::ceil(12 * absl::FDivDuration(s.report_delay, kTick)));
  }

  Outcome Run() {
    Outcome out;
    const absl::Time start = clock_.Now();
    while (clock_.Now() - start < o_.cap) {
      clock_.SleepFor(kTick);
      Tick(clock_.Now() - start);
      absl::StatusOr<GateDecision> d = gate_.Step(*rollout_, health_);
      if (!d.ok()) {
        std::fprintf(stderr, "gate: %s\n", d.status().ToString().c_str());
        break;
      }
      if (rollout_->state() == ReleaseState::kHalted ||
          rollout_->state() == ReleaseState::kPaused) {
        out.halted = rollout_->state() == ReleaseState::kHalted;
        out.paused = !out.halted;
        out.rule = d->rule;
        break;
      }
      if (rollout_->state() == ReleaseState::kCompleted) {
        out.completed = true;
        break;
      }
    }
    out.exposed = installed_;
    out.took = clock_.Now() - start;
    return out;
  }

 private:
  // Launches per device per tick at time `t` since the start.
  double LaunchRate(absl::Duration t) {
    const double base = o_.launches_per_day / (24 * 60);
    const double day = absl::ToDoubleHours(t) / 24.0;
    if (s_.pattern == Pattern::kDiurnal) {
      // Peak in the evening, 5x quieter at night.
      return base * (1 + 0.67 * std::sin(2 * M_PI * (day - 0.25)));
    }
    // Bursty: each hour, a 10% chance of a push campaign that brings 6x
    // the launches for that hour; quieter otherwise (same daily mean).
    const int64_t hour = absl::ToInt64Hours(t);
    if (hour != burst_hour_) {
      burst_hour_ = hour;
      burst_ = std::bernoulli_distribution(0.1)(rng_);
    }
    return base * (burst_ ? 6.0 : 4.0 / 9.0);
  }

  uint64_t Binomial(uint64_t n, double p) {
    if (n == 0 || p <= 0) return 0;
    return std::binomial_distribution<uint64_t>(n, std::min(p, 1.0))(rng_);
  }

  // Counts `n` launches of a cohort now: crashes drawn, reports queued.
  void Launched(std::deque<Pending>& queue, uint64_t n, double crash) {
    const uint64_t crashed = Binomial(n, crash);
    const int stage = rollout_->stage();
    auto slot = [&](size_t at) -> Pending& {
      if (queue.size() <= at) queue.resize(at + 1);
      Pending& p = queue[at];
      if (p.ok + p.crashed == 0) p.stage = stage;
      return p;
    };
    auto put = [&](uint64_t count, bool bad) {
      if (count <= 256) {  // a delay per device
        for (uint64_t i = 0; i < count; ++i) {
          Pending& p = slot(static_cast<size_t>(delay_(rng_)));
          (bad ? p.crashed : p.ok) += 1;
        }
        return;
      }
      // Many: split the batch tick by tick with the same per-tick hazard
      // (the exponential delay's), the rest in the last slot.
      uint64_t left = count;
      for (size_t at = 0; left > 0; ++at) {
        const uint64_t now =
            at >= max_delay_ticks_ ? left : Binomial(left, delay_hazard_);
        Pending& p = slot(at);
        (bad ? p.crashed : p.ok) += now;
        left -= now;
      }
    };
    put(n - crashed, false);
    put(crashed, true);
  }

  // Reports reaching the server this tick.
  void Deliver(std::deque<Pending>& queue, bool treatment) {
    if (queue.empty()) return;
    const Pending p = queue.front();
    queue.pop_front();
    if (p.ok + p.crashed == 0) return;
    CohortHealth change;
    change.launches_ok = p.ok;
    change.launch_crashes = p.crashed;
    change.first_report_at = change.last_report_at = clock_.Now();
    if (!treatment) {
      AddCohortHealth(health_.control, change);
      return;
    }
    AddCohortHealth(health_.treatment, change);
    if (p.stage == rollout_->stage()) {
      if (health_.stage != p.stage) {
        health_.stage = p.stage;
        health_.treatment_stage = CohortHealth();
      }
      AddCohortHealth(health_.treatment_stage, change);
    }
  }

  void Tick(absl::Duration since_start) {
    const int stage = rollout_->stage();
    if (stage != window_stage_) {  // a new window: everyone counts again
      window_stage_ = stage;
      treatment_counted_ = 0;
      control_counted_ = 0;
    }
    const double rate = LaunchRate(since_start);
    const double p = 1 - std::exp(-rate);
    const uint32_t e = rollout_->exposure_bp();
    const uint64_t range = o_.fleet * e / kBucketCount;
    const uint64_t control_range = o_.fleet * ControlSize(e) / kBucketCount;
    // Treatment: installed devices not yet counted in this window, and
    // devices in range installing now (counted at that launch).
    // Devices already counted in the window report again (health.h counts
    // them once, but the report times move: the silence rule sees them).
    if (Binomial(treatment_counted_, p) > 0) {
      health_.treatment.last_report_at = clock_.Now();
    }
    const uint64_t again = Binomial(installed_ - treatment_counted_, p);
    const uint64_t fresh = Binomial(range - installed_, p);
    installed_ += fresh;
    treatment_counted_ += again + fresh;
    Launched(treatment_queue_, again + fresh, s_.treatment_crash);
    const uint64_t control =
        Binomial(control_range - std::min(control_range, control_counted_), p);
    control_counted_ += control;
    Launched(control_queue_, control, s_.control_crash);
    Deliver(treatment_queue_, true);
    Deliver(control_queue_, false);
  }

  const Options& o_;
  const Scenario& s_;
  std::mt19937_64 rng_;
  SimClock clock_;
  GateEvaluator gate_;
  std::optional<Rollout> rollout_;
  ReleaseHealth health_;
  std::geometric_distribution<int> delay_;
  double delay_hazard_ = 0;
  size_t max_delay_ticks_ = 0;
  std::deque<Pending> treatment_queue_;
  std::deque<Pending> control_queue_;
  uint64_t installed_ = 0;
  uint64_t treatment_counted_ = 0;
  uint64_t control_counted_ = 0;
  int window_stage_ = -1;
  int64_t burst_hour_ = -1;
  bool burst_ = false;
};

uint64_t Percentile(std::vector<uint64_t> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

// Returns false if a smoke run's gates did not decide as they must.
bool RunScenario(const Options& o, const Scenario& s,
                 const std::vector<Gates>& gates, bool smoke) {
  const uint64_t thousandth = o.fleet / 1000;
  std::printf("\n### %s\n\n", s.name.c_str());
  std::printf(
      "| gates | halted | paused | completed | exposed before halt p50 / "
      "p95 / max | halted within 0.1%% of the fleet (%llu) | hours to "
      "halt p50 |\n|---|---|---|---|---|---|---|\n",
      static_cast<unsigned long long>(thousandth));
  bool ok = true;
  for (const Gates& g : gates) {
    int halted = 0, paused = 0, completed = 0, within = 0;
    std::map<std::string, int> rules;  // of halts and pauses
    std::vector<uint64_t> exposed;
    std::vector<uint64_t> minutes;
    for (int run = 0; run < o.runs; ++run) {
      Simulation sim(o, s, g, o.seed * 1'000'003 + static_cast<uint64_t>(run));
      const Outcome out = sim.Run();
      halted += out.halted;
      paused += out.paused;
      completed += out.completed;
      if (out.halted || out.paused) ++rules[out.rule];
      if (out.halted) {
        exposed.push_back(out.exposed);
        minutes.push_back(
            static_cast<uint64_t>(absl::ToInt64Minutes(out.took)));
        within += out.exposed <= thousandth;
      }
    }
    auto pct = [&](int k) { return 100.0 * k / o.runs; };
    std::printf(
        "| %s | %.1f%% | %.1f%% | %.1f%% | %llu / %llu / %llu | "
        "%.1f%% | %.1f |\n",
        g.name.c_str(), pct(halted), pct(paused), pct(completed),
        static_cast<unsigned long long>(Percentile(exposed, 0.5)),
        static_cast<unsigned long long>(Percentile(exposed, 0.95)),
        static_cast<unsigned long long>(Percentile(exposed, 1.0)), pct(within),
        static_cast<double>(Percentile(minutes, 0.5)) / 60.0);
    if (!rules.empty()) {
      std::string by_rule;
      for (const auto& [rule, n] : rules) {
        by_rule +=
            (by_rule.empty() ? "" : ", ") + rule + " " + std::to_string(n);
      }
      std::printf("|  | (by rule: %s) | | | | | |\n", by_rule.c_str());
    }
    std::fflush(stdout);
    if (smoke && g.name.rfind("sequential", 0) == 0) {
      // Even a small run must halt a bad release and complete a good one.
      if (s.bad() && halted < o.runs / 2) ok = false;
      if (!s.bad() && completed < o.runs / 2) ok = false;
    }
  }
  return ok;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "Simulated staged rollouts through the health gates: devices a bad "
      "release reaches before it halts, and how often noise halts a "
      "healthy one (docs/benchmarks.md, \"Gate statistics\")."};
  Options o;
  bool smoke = false;
  double cap_days = 7;
  app.add_option("--runs", o.runs, "rollouts per scenario and gate set")
      ->check(CLI::PositiveNumber);
  app.add_option("--fleet", o.fleet, "devices in the fleet")
      ->check(CLI::Range(uint64_t{10'000}, uint64_t{10'000'000'000}));
  app.add_option("--launches-per-day", o.launches_per_day,
                 "mean launches per device per day")
      ->check(CLI::PositiveNumber);
  app.add_option("--days", cap_days, "simulated days before a run stops")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "first seed; runs use seed, seed+1...");
  app.add_flag("--smoke", smoke,
               "10 runs per scenario and gate set; fails if the default "
               "gates do not halt the bad release and complete the good one");
  CLI11_PARSE(app, argc, argv);
  if (smoke) o.runs = 10;
  o.cap = absl::Hours(24) * cap_days;

  std::vector<Gates> gates;
  {
    Gates g{"sequential, baseline 0.5% stated", GatePolicy()};
    g.policy.baseline_crash_rate = 0.005;
    gates.push_back(g);
  }
  gates.push_back({"sequential, no baseline", GatePolicy()});
  {
    Gates g{"z-score (before)", GatePolicy()};
    g.policy.statistic = GateStatistic::kZScore;
    gates.push_back(g);
  }

  std::vector<Scenario> scenarios;
  scenarios.push_back(
      {"bad: launch crashes 0.5% -> 1.0%, daily cycle, "
       "reports after 30 min (mean)",
       0.010, 0.005});
  scenarios.push_back(
      {"healthy: 0.5% in both cohorts, daily cycle", 0.005, 0.005});
  scenarios.push_back({"bad, bursty launches, reports after 2 h (mean)", 0.010,
                       0.005, Pattern::kBursty, absl::Hours(2)});
  scenarios.push_back({"healthy, bursty launches, reports after 2 h (mean)",
                       0.005, 0.005, Pattern::kBursty, absl::Hours(2)});
  scenarios.push_back(
      {"healthy, but the fleet's rate is 0.6%, not the 0.5% "
       "stated",
       0.006, 0.006});
  if (smoke) scenarios.resize(2);

  std::printf(
      "gate_sim: %d rollouts per row, fleet %llu, %.2g launches per "
      "device per day, plan 0.1%% -> 1%% -> 10%% -> 50%% -> 100%% "
      "(1 h bake each), gate looks every minute, runs stop after "
      "%.3g days\n",
      o.runs, static_cast<unsigned long long>(o.fleet), o.launches_per_day,
      cap_days);
  {
    const double alpha = GatePolicy().false_halt_budget / 4;
    std::printf(
        "stage size for a verdict on 2x a 0.5%% baseline (95%% "
        "power): %llu treatment devices against the baseline, %llu "
        "per cohort against control\n",
        static_cast<unsigned long long>(
            DevicesToDetect(0.005, 2.0, alpha, 0.95, false)),
        static_cast<unsigned long long>(
            DevicesToDetect(0.005, 2.0, alpha, 0.95, true)));
  }
  bool ok = true;
  for (const Scenario& s : scenarios) ok &= RunScenario(o, s, gates, smoke);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace strata::rollout

int main(int argc, char** argv) { return strata::rollout::Main(argc, argv); }
