// The launch guard: its decisions on the state (launch_guard.h) and
// Client::BeginLaunch / MarkLaunchHealthy, which apply them.
#include "launch_guard.h"

#include "activation.h"
#include "client_impl.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::client {

GuardDecision GuardLaunch(ClientState& next, int limit) {
  GuardDecision d;
  if (next.launch_in_progress) {
    ++next.unhealthy_launches;
    // The previous launch ran what is active now, before any rollback.
    GuardEvent crash;
    crash.kind = GuardEvent::kLaunchCrash;
    crash.key = {0, ""};
    crash.release_ids = ActiveReleaseIds(next);
    crash.detail = StrCat("previous launch was not marked healthy (",
                          next.unhealthy_launches, " in a row)");
    d.events.push_back(std::move(crash));
  }
  d.unhealthy_launches = next.unhealthy_launches;
  if (next.unhealthy_launches < limit) return d;
  bool any_pending = false;
  for (auto& [key, m] : next.modules) {
    if (!m.pending) continue;
    any_pending = true;
    const std::optional<VersionRef> bad = m.active;
    if (bad.has_value()) m.banned.insert(bad->sha256);
    m.active = m.good;
    m.good.reset();
    m.pending = false;
    if (m.staged.has_value() && m.banned.count(m.staged->sha256)) {
      m.staged.reset();
    }
    d.rolled_back.push_back({key, m.active, bad});
    GuardEvent e;
    e.kind = GuardEvent::kRolledBack;
    e.key = key;
    e.release_id = bad.has_value() ? bad->release_id : 0;
    e.detail = StrCat(limit, " unhealthy launches after activating ",
                      bad.has_value() ? bad->version : "?", "; back to ",
                      m.active.has_value() ? m.active->version
                                           : std::string(kEmbeddedVersion));
    d.events.push_back(std::move(e));
  }
  if (any_pending) {
    next.rolled_back_since_healthy = true;
    next.unhealthy_launches = 0;
    return d;
  }
  if (!next.rolled_back_since_healthy && next.unhealthy_launches < 2 * limit) {
    return d;
  }
  // Still failing: every module back to what the app shipped with.
  for (auto& [key, m] : next.modules) {
    if (m.active.has_value()) m.banned.insert(m.active->sha256);
    if (m.staged.has_value()) m.banned.insert(m.staged->sha256);
    if (m.active.has_value() || m.staged.has_value()) {
      d.reset_to_embedded = true;
      GuardEvent e;
      e.kind = GuardEvent::kRolledBack;
      e.key = key;
      e.release_id = m.active ? m.active->release_id : 0;
      e.detail = "launches keep failing; reset to the embedded version";
      d.events.push_back(std::move(e));
    }
    m.active.reset();
    m.staged.reset();
    m.good.reset();
    m.pending = false;
  }
  next.rolled_back_since_healthy = false;
  next.unhealthy_launches = 0;
  return d;
}

absl::Status ConfirmLaunch(ClientState& next) {
  if (!next.launch_in_progress) {
    return absl::FailedPreconditionError(
        "MarkLaunchHealthy() without BeginLaunch(); call BeginLaunch() early "
        "in every app start");
  }
  next.launch_in_progress = false;
  next.unhealthy_launches = 0;
  next.rolled_back_since_healthy = false;
  for (auto& [key, m] : next.modules) {
    if (!m.pending) continue;
    m.pending = false;
    m.good.reset();  // the new version is now the known good one
  }
  return absl::OkStatus();
}

absl::StatusOr<LaunchResult> Client::BeginLaunch() {
  const auto before = impl_->ConfigSnapshot();
  absl::StatusOr<LaunchResult> r = BeginLaunchUnnotified();
  impl_->NotifyChanges(before, impl_->ConfigSnapshot());
  return r;
}

absl::StatusOr<LaunchResult> Client::BeginLaunchUnnotified() {
  Impl& d = *impl_;
  MutexLock lock(&d.mu);
  ClientState next = d.store->state();
  LaunchResult result;
  const GuardDecision guard =
      GuardLaunch(next, d.options.unhealthy_launch_limit);
  result.unhealthy_launches = guard.unhealthy_launches;
  result.reset_to_embedded = guard.reset_to_embedded;
  for (const GuardDecision::RolledBack& r : guard.rolled_back) {
    if (r.now.has_value()) {
      result.rolled_back.push_back(ToModule(r.key, *r.now));
    } else if (auto e = d.store->FindEmbedded(r.key.first, r.key.second)) {
      result.rolled_back.push_back(
          InstalledModule{static_cast<Layer>(r.key.first), r.key.second,
                          std::string(kEmbeddedVersion), e->sha256, 0, 0});
    }
    if (r.bad.has_value()) {
      result.bad_versions.push_back(ToModule(r.key, *r.bad));
    }
  }
  // Every event describes `next`: queued only once it is committed, so a
  // crash before the commit never reports what did not happen.
  std::vector<v1::ReportEvent> events;
  for (const GuardEvent& g : guard.events) {
    if (g.kind == GuardEvent::kLaunchCrash) {
      v1::ReportEvent crash =
          d.Event(v1::ReportEvent::KIND_LAUNCH_CRASH, {0, ""}, 0,
                  v1::REJECT_REASON_UNSPECIFIED, g.detail);
      SetReleaseIds(crash, g.release_ids);
      events.push_back(std::move(crash));
    } else {
      events.push_back(d.Event(v1::ReportEvent::KIND_ROLLED_BACK, g.key,
                               g.release_id, v1::REJECT_REASON_UNSPECIFIED,
                               g.detail));
    }
  }
  std::vector<ModuleKey> staged;
  for (const auto& [key, m] : next.modules) {
    if (m.staged.has_value()) staged.push_back(key);
  }
  const auto damaged = DropDamagedStaged(*d.store, next, staged);
  for (auto& [key, m] : next.modules) {
    if (m.staged.has_value()) d.ActivateStaged(next, key, &result, events);
  }
  next.launch_in_progress = true;
  STRATA_RETURN_IF_ERROR(StorageFullError(
      d.store->Commit(std::move(next)), "recording the launch",
      "the launch runs the active versions, nothing was activated or "
      "rolled back"));
  for (const v1::ReportEvent& e : events) d.Queue(e);
  d.ReportDamaged(damaged);
  std::vector<std::pair<ModuleKey, VersionRef>> activated;
  for (const InstalledModule& m : result.activated) {
    activated.push_back(
        {{static_cast<int>(m.layer), m.name},
         VersionRef{m.version, m.content_sha256, m.release_sequence,
                    m.release_id, 0, false}});
  }
  d.MarkInstalled(activated);
  // Remedies for what this launch runs (and the failures reported before).
  result.remedies_applied = d.ApplyRemedies(result.unhealthy_launches);
  return result;
}

absl::Status Client::MarkLaunchHealthy() {
  Impl& d = *impl_;
  MutexLock lock(&d.mu);
  ClientState next = d.store->state();
  STRATA_RETURN_IF_ERROR(ConfirmLaunch(next));
  v1::ReportEvent ok = d.Event(v1::ReportEvent::KIND_LAUNCH_OK, {0, ""}, 0,
                               v1::REJECT_REASON_UNSPECIFIED, "");
  SetReleaseIds(ok, ActiveReleaseIds(next));
  // Queued only once the healthy state is on disk: a crash before the
  // commit must not report a healthy launch that was never recorded.
  STRATA_RETURN_IF_ERROR(StorageFullError(d.store->Commit(std::move(next)),
                                          "recording the healthy launch"));
  d.Queue(ok);
  return absl::OkStatus();
}

}  // namespace strata::client
