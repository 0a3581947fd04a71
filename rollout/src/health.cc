#include "strata/rollout/health.h"

namespace strata::rollout {
namespace {

double Ratio(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

std::string_view HealthEventKindName(HealthEventKind k) {
  switch (k) {
    case HealthEventKind::kDownloaded:
      return "downloaded";
    case HealthEventKind::kApplied:
      return "applied";
    case HealthEventKind::kActivated:
      return "activated";
    case HealthEventKind::kRejected:
      return "rejected";
    case HealthEventKind::kApplyFailed:
      return "apply_failed";
    case HealthEventKind::kRolledBack:
      return "rolled_back";
    case HealthEventKind::kLaunchOk:
      return "launch_ok";
    case HealthEventKind::kLaunchCrash:
      return "launch_crash";
  }
  return "unknown";
}

std::string_view CrashKindName(CrashKind k) {
  switch (k) {
    case CrashKind::kUnspecified:
      return "unspecified";
    case CrashKind::kNative:
      return "native";
    case CrashKind::kManaged:
      return "managed_exception";
    case CrashKind::kScript:
      return "script_error";
    case CrashKind::kAppNotResponding:
      return "app_not_responding";
    case CrashKind::kOutOfMemory:
      return "out_of_memory";
    case CrashKind::kStartupTimeout:
      return "startup_timeout";
  }
  return "unknown";
}

void CohortHealth::Add(const HealthEvent& e) {
  switch (e.kind) {
    case HealthEventKind::kDownloaded:
      ++downloaded;
      break;
    case HealthEventKind::kApplied:
      ++applied;
      break;
    case HealthEventKind::kActivated:
      ++activated;
      break;
    case HealthEventKind::kRejected:
      ++rejected;
      ++failures_by_reason[e.reject_reason];
      if (IsIntegrityFailure(e.reject_reason)) ++integrity_failures;
      break;
    case HealthEventKind::kApplyFailed:
      // The SDK reports a download whose bytes do not match the statement
      // (CONTENT_HASH_MISMATCH) or a bad patch as an apply failure.
      ++apply_failed;
      ++failures_by_reason[e.reject_reason];
      if (IsIntegrityFailure(e.reject_reason)) ++integrity_failures;
      break;
    case HealthEventKind::kRolledBack:
      ++rolled_back;
      break;
    case HealthEventKind::kLaunchOk:
      ++launches_ok;
      break;
    case HealthEventKind::kLaunchCrash: {
      ++launch_crashes;
      int k = static_cast<int>(e.crash);
      if (k < 0 || k >= kCrashKindCount) k = 0;
      ++crashes_by_kind[k];
      break;
    }
  }
  if (!first_report_at.has_value() || e.at < *first_report_at) {
    first_report_at = e.at;
  }
  if (!last_report_at.has_value() || e.at > *last_report_at) {
    last_report_at = e.at;
  }
}

uint64_t CohortHealth::reports() const {
  return downloaded + applied + activated + rejected + apply_failed +
         rolled_back + launches_ok + launch_crashes;
}

double CohortHealth::crash_rate() const {
  return Ratio(launch_crashes, launches());
}
double CohortHealth::apply_failure_rate() const {
  return Ratio(apply_failures(), apply_attempts());
}
double CohortHealth::integrity_failure_rate() const {
  return Ratio(integrity_failures, apply_attempts());
}

bool HealthAggregator::Record(uint64_t release_id, int stage, Cohort cohort,
                              const HealthEvent& event) {
  if (cohort == Cohort::kOutside) return false;
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseHealth& h = releases_[release_id];
  h.release_id = release_id;
  if (cohort == Cohort::kControl) {
    h.control.Add(event);
    return true;
  }
  h.treatment.Add(event);
  if (stage > h.stage) {
    h.stage = stage;
    h.treatment_stage = CohortHealth();
  }
  if (stage == h.stage) h.treatment_stage.Add(event);
  return true;
}

ReleaseHealth HealthAggregator::Get(uint64_t release_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = releases_.find(release_id);
  if (it == releases_.end()) {
    ReleaseHealth empty;
    empty.release_id = release_id;
    return empty;
  }
  return it->second;
}

void HealthAggregator::Forget(uint64_t release_id) {
  std::lock_guard<std::mutex> lock(mu_);
  releases_.erase(release_id);
}

}  // namespace strata::rollout
