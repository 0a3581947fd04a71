// Install modes and mandatory updates: OnResume() activates staged
// releases installed with mode "next resume"; MandatoryUpdates() lists
// what the app should not run without (client_impl.h, activation.h).
#include "client_impl.h"
#include "strata/base/mutex.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::client {
namespace {

std::string_view PointName(ActivationPoint p) {
  switch (p) {
    case ActivationPoint::kAtOnce:
      return "now";
    case ActivationPoint::kOpenOrLaunch:
      return "next open";
    case ActivationPoint::kResume:
      return "next resume";
    case ActivationPoint::kLaunch:
      return "next launch";
  }
  return "next launch";
}

}  // namespace

absl::StatusOr<std::vector<InstalledModule>> Client::OnResume() {
  Impl& d = *impl_;
  std::vector<InstalledModule> out;
  std::map<std::string, std::string> before, after;
  {
    MutexLock lock(&d.mu);
    ClientState next = d.store->state();
    std::set<ModuleKey> done;
    std::vector<std::pair<ModuleKey, VersionRef>> activated;
    std::vector<std::pair<ModuleKey, VersionRef>> damaged;
    for (const auto& [key, m] : d.store->state().modules) {
      if (!m.staged.has_value() || done.count(key) > 0) continue;
      const std::vector<ModuleKey> group = StagedGroup(next, key);
      done.insert(group.begin(), group.end());
      if (GroupPoint(next, group) != ActivationPoint::kResume) continue;
      const auto bad = DropDamagedStaged(*d.store, next, group);
      if (!bad.empty()) {
        damaged.insert(damaged.end(), bad.begin(), bad.end());
        continue;
      }
      for (const ModuleKey& k : group) {
        const VersionRef staged = *next.modules[k].staged;
        Activate(next.modules[k], staged);
        activated.emplace_back(k, staged);
      }
      next.unhealthy_launches = 0;  // counting starts after activation
    }
    if (activated.empty() && damaged.empty()) return out;
    before = d.ConfigSnapshotLocked();
    STRATA_RETURN_IF_ERROR(StorageFullError(
        d.store->Commit(std::move(next)), "activating at resume",
        "the active versions stay; the staged ones wait for the next resume "
        "or launch"));
    d.ReportDamaged(damaged);
    for (const auto& [k, r] : activated) {
      d.Queue(d.Event(v1::ReportEvent::KIND_ACTIVATED, k, r.release_id,
                      v1::REJECT_REASON_UNSPECIFIED, r.version));
      out.push_back(ToModule(k, r));
    }
    d.MarkInstalled(activated);
    after = d.ConfigSnapshotLocked();
  }
  impl_->NotifyChanges(before, after);
  return out;
}

std::vector<MandatoryUpdate> Client::MandatoryUpdates() {
  Impl& d = *impl_;
  MutexLock lock(&d.mu);
  std::vector<MandatoryUpdate> out;
  const ClientState& state = d.store->state();
  for (const auto& [key, m] : state.modules) {
    if (!m.staged.has_value() || !m.staged->mandatory) continue;
    out.push_back(MandatoryUpdate{
        static_cast<Layer>(key.first), key.second, m.staged->version, true,
        std::string(PointName(GroupPoint(state, StagedGroup(state, key))))});
  }
  for (const v1::UpdateEntry& e : d.pending->entries()) {
    if (!e.statement().delivery().mandatory()) continue;
    const PendingDownload p = d.Describe(e);
    out.push_back(MandatoryUpdate{p.layer, p.name, p.version, false,
                                  StrCat("download (", p.reason, ")")});
  }
  return out;
}

}  // namespace strata::client
