#include "strata/rollout/health.h"

#include <algorithm>

#include "strata/base/mutex.h"
#include "strata/base/sha256.h"

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
  DeviceMarks fresh;
  CountDeviceEvent(fresh, e, this);
}

bool CountDeviceEvent(DeviceMarks& m, const HealthEvent& e, CohortHealth* a,
                      CohortHealth* b) {
  CohortHealth* const cohorts[] = {a, b};
  bool changed = false;
  // Moves one device into `to` (and out of `from`, if given).
  auto move = [&](uint64_t CohortHealth::*to, uint64_t CohortHealth::*from) {
    for (CohortHealth* h : cohorts) {
      if (h == nullptr) continue;
      ++(h->*to);
      // Figures are sums modulo 2^64: a device only leaves a figure it
      // counts in, so a total never goes below zero, while a change (the
      // figures of one hour, added to the rest later) may.
      if (from != nullptr) --(h->*from);
    }
    changed = true;
  };
  auto once = [&](uint64_t CohortHealth::*field) {
    const uint16_t bit = static_cast<uint16_t>(1u << static_cast<int>(e.kind));
    if ((m.kinds & bit) == 0) move(field, nullptr);
    m.kinds |= bit;
  };
  // A rejection or apply failure: its reason, and whether it is integrity.
  auto failure = [&] {
    const int r = e.reject_reason;
    const uint64_t bit = uint64_t{1} << (r >= 0 && r < 63 ? r : 63);
    if ((m.reasons & bit) == 0) {
      m.reasons |= bit;
      for (CohortHealth* h : cohorts) {
        if (h != nullptr) ++h->failures_by_reason[r];
      }
      changed = true;
    }
    if (IsIntegrityFailure(r) && !m.integrity) {
      m.integrity = true;
      move(&CohortHealth::integrity_failures, nullptr);
    }
  };
  switch (e.kind) {
    case HealthEventKind::kDownloaded:
      once(&CohortHealth::downloaded);
      break;
    case HealthEventKind::kActivated:
      once(&CohortHealth::activated);
      break;
    case HealthEventKind::kRolledBack:
      once(&CohortHealth::rolled_back);
      break;
    case HealthEventKind::kApplied:
      if (m.apply == 0) {
        m.apply = 1;
        move(&CohortHealth::applied, nullptr);
      }
      break;
    case HealthEventKind::kApplyFailed:
      // The SDK reports a download whose bytes do not match the statement
      // (CONTENT_HASH_MISMATCH) or a bad patch as an apply failure.
      if (m.apply < 2) {
        move(&CohortHealth::apply_failed,
             m.apply == 1 ? &CohortHealth::applied : nullptr);
        m.apply = 2;
      }
      failure();
      break;
    case HealthEventKind::kRejected:
      if (m.apply < 3) {
        move(&CohortHealth::rejected, m.apply == 1 ? &CohortHealth::applied
                                      : m.apply == 2
                                          ? &CohortHealth::apply_failed
                                          : nullptr);
        m.apply = 3;
      }
      failure();
      break;
    case HealthEventKind::kLaunchOk:
      if (m.launch == 0) {
        m.launch = 1;
        move(&CohortHealth::launches_ok, nullptr);
      }
      break;
    case HealthEventKind::kLaunchCrash: {
      if (m.launch < 2) {
        move(&CohortHealth::launch_crashes,
             m.launch == 1 ? &CohortHealth::launches_ok : nullptr);
        m.launch = 2;
      }
      int k = static_cast<int>(e.crash);
      if (k < 0 || k >= kCrashKindCount) k = 0;
      if ((m.crash_kinds & (1u << k)) == 0) {
        m.crash_kinds = static_cast<uint8_t>(m.crash_kinds | (1u << k));
        for (CohortHealth* h : cohorts) {
          if (h != nullptr) ++h->crashes_by_kind[k];
        }
        changed = true;
      }
      break;
    }
  }
  for (CohortHealth* h : cohorts) {
    if (h == nullptr) continue;
    if (!h->first_report_at.has_value() || e.at < *h->first_report_at) {
      h->first_report_at = e.at;
    }
    if (!h->last_report_at.has_value() || e.at > *h->last_report_at) {
      h->last_report_at = e.at;
    }
  }
  return changed;
}

void AddCohortHealth(CohortHealth& into, const CohortHealth& change) {
  into.downloaded += change.downloaded;
  into.applied += change.applied;
  into.activated += change.activated;
  into.rejected += change.rejected;
  into.apply_failed += change.apply_failed;
  into.rolled_back += change.rolled_back;
  into.launches_ok += change.launches_ok;
  into.launch_crashes += change.launch_crashes;
  into.integrity_failures += change.integrity_failures;
  for (int k = 0; k < kCrashKindCount; ++k) {
    into.crashes_by_kind[k] += change.crashes_by_kind[k];
  }
  for (const auto& [reason, n] : change.failures_by_reason) {
    into.failures_by_reason[reason] += n;
  }
  if (change.first_report_at.has_value() &&
      (!into.first_report_at.has_value() ||
       *change.first_report_at < *into.first_report_at)) {
    into.first_report_at = change.first_report_at;
  }
  if (change.last_report_at.has_value() &&
      (!into.last_report_at.has_value() ||
       *change.last_report_at > *into.last_report_at)) {
    into.last_report_at = change.last_report_at;
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

RecordResult HealthAggregator::Record(uint64_t release_id, int stage,
                                      Cohort cohort, const HealthEvent& event) {
  if (cohort == Cohort::kOutside) return RecordResult::kIgnored;
  MutexLock lock(&mu_);
  Entry& entry = releases_[release_id];
  entry.totals.release_id = release_id;
  Window& window = entry.windows[{static_cast<int>(cohort), stage}];
  DeviceMarks& marks = window.devices[event.device];
  CohortHealth* total = &entry.totals.control;
  if (cohort == Cohort::kTreatment) {
    total = &entry.totals.treatment;
    entry.totals.stage = std::max(entry.totals.stage, stage);
  }
  return CountDeviceEvent(marks, event, &window.figures, total)
             ? RecordResult::kCounted
             : RecordResult::kRepeated;
}

void HealthAggregator::Add(uint64_t release_id, int stage, Cohort cohort,
                           const CohortHealth& change) {
  if (cohort == Cohort::kOutside) return;
  MutexLock lock(&mu_);
  Entry& entry = releases_[release_id];
  entry.totals.release_id = release_id;
  Window& window = entry.windows[{static_cast<int>(cohort), stage}];
  AddCohortHealth(window.figures, change);
  if (cohort == Cohort::kTreatment) {
    AddCohortHealth(entry.totals.treatment, change);
    entry.totals.stage = std::max(entry.totals.stage, stage);
  } else {
    AddCohortHealth(entry.totals.control, change);
  }
}

ReleaseHealth HealthAggregator::Get(uint64_t release_id) const {
  MutexLock lock(&mu_);
  auto it = releases_.find(release_id);
  if (it == releases_.end()) {
    ReleaseHealth empty;
    empty.release_id = release_id;
    return empty;
  }
  ReleaseHealth out = it->second.totals;
  auto w = it->second.windows.find(
      {static_cast<int>(Cohort::kTreatment), out.stage});
  if (w != it->second.windows.end()) out.treatment_stage = w->second.figures;
  return out;
}

void HealthAggregator::Forget(uint64_t release_id) {
  MutexLock lock(&mu_);
  releases_.erase(release_id);
}

size_t HealthAggregator::tracked_devices() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [id, entry] : releases_) {
    for (const auto& [key, window] : entry.windows) n += window.devices.size();
  }
  return n;
}

uint64_t DeviceKey(std::string_view device_id) {
  Sha256 h;
  h.Update("strata-device:");
  h.Update(device_id);
  const Sha256Digest d = h.Finish();
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | d[i];
  return key;
}

}  // namespace strata::rollout
