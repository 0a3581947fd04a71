#include "strata/server/core/health_store.h"

#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "strata/base/status_macros.h"
#include "strata/server/core/release_model.h"

namespace strata::server {
namespace {

using WindowId = std::tuple<uint64_t, int32_t, int32_t>;  // release, cohort,
                                                          // stage
using BucketId = std::pair<WindowId, int64_t>;            // window, hour
using Changes = std::map<BucketId, rollout::CohortHealth>;

// Parts of a rebuild written per batch.
constexpr size_t kRebuildPart = 10000;

HealthWindow ToWindow(const WindowId& w) {
  return HealthWindow{std::get<0>(w), std::get<1>(w), std::get<2>(w)};
}

// The health event attribution `a` of `report` stands for, or nullopt if
// it counts for nothing (outside both cohorts, or a bad index).
std::optional<rollout::HealthEvent> EventOf(const v1::StoredReport& report,
                                            const v1::HealthAttribution& a,
                                            uint64_t device) {
  if (a.event_index() >= static_cast<uint32_t>(report.events_size())) {
    return std::nullopt;
  }
  if (a.cohort() != static_cast<int32_t>(rollout::Cohort::kTreatment) &&
      a.cohort() != static_cast<int32_t>(rollout::Cohort::kControl)) {
    return std::nullopt;
  }
  rollout::HealthEvent e =
      ToHealthEvent(report.events(static_cast<int>(a.event_index())),
                    absl::FromUnixSeconds(report.received_at_unix()));
  e.device = device;
  return e;
}

WindowId WindowOf(const v1::HealthAttribution& a) {
  return {a.release_id(), a.cohort(), a.stage()};
}

bool SameMarks(const rollout::DeviceMarks& a, const rollout::DeviceMarks& b) {
  return a.kinds == b.kinds && a.launch == b.launch && a.apply == b.apply &&
         a.crash_kinds == b.crash_kinds && a.integrity == b.integrity &&
         a.reasons == b.reasons;
}

std::vector<HealthBucket> ToBuckets(const Changes& changes) {
  std::vector<HealthBucket> out;
  out.reserve(changes.size());
  for (const auto& [id, figures] : changes) {
    out.push_back(
        HealthBucket{ToWindow(id.first), id.second, ToStored(figures)});
  }
  return out;
}

}  // namespace

v1::StoredHealthFigures ToStored(const rollout::CohortHealth& h) {
  // Modulo 2^64 to signed: a change of -1 is stored as -1.
  auto s = [](uint64_t v) { return static_cast<int64_t>(v); };
  v1::StoredHealthFigures f;
  f.set_downloaded(s(h.downloaded));
  f.set_applied(s(h.applied));
  f.set_activated(s(h.activated));
  f.set_rejected(s(h.rejected));
  f.set_apply_failed(s(h.apply_failed));
  f.set_rolled_back(s(h.rolled_back));
  f.set_launches_ok(s(h.launches_ok));
  f.set_launch_crashes(s(h.launch_crashes));
  f.set_integrity_failures(s(h.integrity_failures));
  bool any_crash = false;
  for (uint64_t n : h.crashes_by_kind) any_crash = any_crash || n != 0;
  if (any_crash) {
    for (uint64_t n : h.crashes_by_kind) f.add_crashes_by_kind(s(n));
  }
  for (const auto& [reason, n] : h.failures_by_reason) {
    (*f.mutable_failures_by_reason())[reason] = s(n);
  }
  if (h.first_report_at.has_value()) {
    f.set_first_report_at_unix(absl::ToUnixSeconds(*h.first_report_at));
  }
  if (h.last_report_at.has_value()) {
    f.set_last_report_at_unix(absl::ToUnixSeconds(*h.last_report_at));
  }
  return f;
}

rollout::CohortHealth FromStored(const v1::StoredHealthFigures& f) {
  auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  rollout::CohortHealth h;
  h.downloaded = u(f.downloaded());
  h.applied = u(f.applied());
  h.activated = u(f.activated());
  h.rejected = u(f.rejected());
  h.apply_failed = u(f.apply_failed());
  h.rolled_back = u(f.rolled_back());
  h.launches_ok = u(f.launches_ok());
  h.launch_crashes = u(f.launch_crashes());
  h.integrity_failures = u(f.integrity_failures());
  for (int k = 0; k < f.crashes_by_kind_size() && k < rollout::kCrashKindCount;
       ++k) {
    h.crashes_by_kind[static_cast<size_t>(k)] = u(f.crashes_by_kind(k));
  }
  for (const auto& [reason, n] : f.failures_by_reason()) {
    h.failures_by_reason[reason] = u(n);
  }
  if (f.has_first_report_at_unix()) {
    h.first_report_at = absl::FromUnixSeconds(f.first_report_at_unix());
  }
  if (f.has_last_report_at_unix()) {
    h.last_report_at = absl::FromUnixSeconds(f.last_report_at_unix());
  }
  return h;
}

v1::StoredDeviceMarks ToStored(const rollout::DeviceMarks& m) {
  v1::StoredDeviceMarks s;
  s.set_kinds(m.kinds);
  s.set_launch(m.launch);
  s.set_apply(m.apply);
  s.set_crash_kinds(m.crash_kinds);
  s.set_integrity(m.integrity);
  s.set_reasons(m.reasons);
  return s;
}

rollout::DeviceMarks FromStored(const v1::StoredDeviceMarks& s) {
  rollout::DeviceMarks m;
  m.kinds = static_cast<uint16_t>(s.kinds());
  m.launch = static_cast<uint8_t>(s.launch());
  m.apply = static_cast<uint8_t>(s.apply());
  m.crash_kinds = static_cast<uint8_t>(s.crash_kinds());
  m.integrity = s.integrity();
  m.reasons = s.reasons();
  return m;
}

namespace {

void AddBucket(rollout::HealthAggregator& health, const HealthBucket& b) {
  health.Add(b.window.release_id, b.window.stage,
             static_cast<rollout::Cohort>(b.window.cohort),
             FromStored(b.figures));
}

}  // namespace

int64_t HealthHour(int64_t unix_seconds) {
  int64_t hour = unix_seconds / 3600;
  if (unix_seconds % 3600 < 0) --hour;  // floor, before 1970 too
  return hour * 3600;
}

absl::StatusOr<ReportHealth> CountReportHealth(Store& store,
                                               const v1::StoredReport& report) {
  ReportHealth out;
  const uint64_t device = rollout::DeviceKey(report.device_id());
  // The device's marks in every window the report counts in, read at once.
  std::map<WindowId, rollout::DeviceMarks> marks;
  for (const v1::HealthAttribution& a : report.attributions()) {
    if (EventOf(report, a, device).has_value()) marks[WindowOf(a)];
  }
  if (marks.empty()) return out;
  std::vector<HealthMarks> keys;
  keys.reserve(marks.size());
  for (const auto& [w, m] : marks) {
    keys.push_back(HealthMarks{ToWindow(w), device, {}});
  }
  STRATA_ASSIGN_OR_RETURN(auto stored, store.GetHealthMarks(keys));
  size_t i = 0;
  for (auto& [w, m] : marks) {
    if (stored[i].has_value()) m = FromStored(*stored[i]);
    ++i;
  }
  const std::map<WindowId, rollout::DeviceMarks> before = marks;
  const int64_t hour = HealthHour(report.received_at_unix());
  Changes changes;
  for (const v1::HealthAttribution& a : report.attributions()) {
    const std::optional<rollout::HealthEvent> e = EventOf(report, a, device);
    if (!e.has_value()) continue;
    const WindowId w = WindowOf(a);
    if (!rollout::CountDeviceEvent(marks[w], *e, &changes[{w, hour}])) {
      ++out.repeated;
    }
  }
  for (const auto& [w, m] : marks) {
    if (!SameMarks(m, before.at(w))) {
      out.update.marks.push_back(HealthMarks{ToWindow(w), device, ToStored(m)});
    }
  }
  out.update.buckets = ToBuckets(changes);
  return out;
}

void ApplyHealth(rollout::HealthAggregator& health,
                 const std::vector<HealthBucket>& buckets) {
  for (const HealthBucket& b : buckets) AddBucket(health, b);
}

absl::StatusOr<uint64_t> RebuildHealthAggregates(Store& store) {
  STRATA_RETURN_IF_ERROR(store.BeginHealthRebuild());
  // Today's replay: every report in arrival order per app, each device
  // counted against its marks, kept here until written.
  std::map<WindowId, std::unordered_map<uint64_t, rollout::DeviceMarks>> marks;
  Changes changes;
  uint64_t reports = 0;
  STRATA_RETURN_IF_ERROR(store.ForEachReport(
      [&](std::string_view, const v1::StoredReport& report) {
        ++reports;
        const uint64_t device = rollout::DeviceKey(report.device_id());
        const int64_t hour = HealthHour(report.received_at_unix());
        for (const v1::HealthAttribution& a : report.attributions()) {
          const std::optional<rollout::HealthEvent> e =
              EventOf(report, a, device);
          if (!e.has_value()) continue;
          const WindowId w = WindowOf(a);
          rollout::CountDeviceEvent(marks[w][device], *e, &changes[{w, hour}]);
        }
        return true;
      }));
  HealthUpdate part;
  auto flush = [&](bool force) -> absl::Status {
    if (part.marks.size() + part.buckets.size() < kRebuildPart && !force) {
      return absl::OkStatus();
    }
    STRATA_RETURN_IF_ERROR(store.PutHealthRebuild(part));
    part = HealthUpdate();
    return absl::OkStatus();
  };
  for (const auto& [w, devices] : marks) {
    for (const auto& [device, m] : devices) {
      part.marks.push_back(HealthMarks{ToWindow(w), device, ToStored(m)});
      STRATA_RETURN_IF_ERROR(flush(false));
    }
  }
  marks.clear();
  for (const auto& [id, figures] : changes) {
    part.buckets.push_back(
        HealthBucket{ToWindow(id.first), id.second, ToStored(figures)});
    STRATA_RETURN_IF_ERROR(flush(false));
  }
  STRATA_RETURN_IF_ERROR(flush(true));
  STRATA_RETURN_IF_ERROR(store.FinishHealthRebuild());
  return reports;
}

absl::StatusOr<HealthLoad> LoadHealthAggregates(
    Store& store, rollout::HealthAggregator& health) {
  HealthLoad load;
  STRATA_ASSIGN_OR_RETURN(const bool built, store.HealthAggregatesBuilt());
  if (!built) {
    STRATA_ASSIGN_OR_RETURN(load.reports, RebuildHealthAggregates(store));
    load.rebuilt = true;
  }
  STRATA_RETURN_IF_ERROR(store.ForEachHealthBucket([&](const HealthBucket& b) {
    AddBucket(health, b);
    ++load.buckets;
    return true;
  }));
  return load;
}

absl::StatusOr<uint64_t> ReloadHealthAggregates(
    Store& store, rollout::HealthAggregator& health) {
  std::map<uint64_t, std::vector<HealthBucket>> by_release;
  uint64_t n = 0;
  STRATA_RETURN_IF_ERROR(store.ForEachHealthBucket([&](const HealthBucket& b) {
    by_release[b.window.release_id].push_back(b);
    ++n;
    return true;
  }));
  for (const auto& [id, buckets] : by_release) {
    health.Forget(id);
    for (const HealthBucket& b : buckets) AddBucket(health, b);
  }
  return n;
}

}  // namespace strata::server
