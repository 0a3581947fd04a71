#include "launch_guard.h"

#include "module_id.h"

namespace strata::device::internal {
namespace {

int FindInstalled(const pb::DeviceState& s, const pb::ModuleId& m) {
  for (int i = 0; i < s.installed_size(); ++i) {
    if (SameModule(s.installed(i).module(), m)) return i;
  }
  return -1;
}

pb::GuardRecord* FindGuard(pb::DeviceState& s, const pb::ModuleId& m) {
  for (pb::GuardRecord& g : *s.mutable_guards()) {
    if (SameModule(g.module(), m)) return &g;
  }
  return nullptr;
}

void Ban(pb::DeviceState& s, const pb::ModuleId& m, const std::string& sha) {
  if (Banned(s, m, sha)) return;
  pb::BannedContent* b = s.add_banned();
  *b->mutable_module() = m;
  b->set_sha256(sha);
}

std::string VersionOrNone(const pb::InstalledModule* m) {
  return m != nullptr ? m->version() : "none (the app's own content)";
}

GuardEvent RolledBack(const pb::ModuleId& m, uint64_t release_id,
                      std::string detail) {
  GuardEvent e;
  e.kind = pb::ReportEvent::KIND_ROLLED_BACK;
  e.module = m;
  e.release_id = release_id;
  e.detail = std::move(detail);
  return e;
}

}  // namespace

bool Banned(const pb::DeviceState& state, const pb::ModuleId& module,
            const std::string& sha256) {
  for (const pb::BannedContent& b : state.banned()) {
    if (b.sha256() == sha256 && SameModule(b.module(), module)) return true;
  }
  return false;
}

std::vector<uint64_t> RanReleaseIds(const pb::DeviceState& state) {
  std::vector<uint64_t> ids;
  for (const pb::GuardRecord& g : state.guards()) {
    if (FindInstalled(state, g.module()) < 0) continue;
    // Installed during the launch: what ran was the version before it.
    uint64_t id = g.release_id();
    if (g.pending() && !g.ran()) {
      id = g.has_running() ? g.running_release_id() : g.good_release_id();
    }
    if (id != 0) ids.push_back(id);
  }
  return ids;
}

void RecordInstall(pb::DeviceState& state, const pb::InstalledModule* previous,
                   const pb::InstalledModule& installed, uint64_t release_id) {
  pb::GuardRecord* g = FindGuard(state, installed.module());
  if (g == nullptr) {
    g = state.add_guards();
    *g->mutable_module() = installed.module();
  }
  if (!g->pending()) {
    // The version before this one is the known good one.
    if (previous != nullptr) {
      *g->mutable_good() = *previous;
      g->set_good_release_id(g->release_id());
    } else {
      g->clear_good();
      g->set_good_release_id(0);
    }
  } else if (g->ran() && previous != nullptr) {
    // The version before runs in this launch, unconfirmed: if the launch
    // ends healthy, it becomes the known good one.
    *g->mutable_running() = *previous;
    g->set_running_release_id(g->release_id());
  }
  g->set_pending(true);
  g->set_ran(false);
  g->set_release_id(release_id);
}

GuardOutcome GuardLaunch(pb::DeviceState& state, int limit) {
  GuardOutcome out;
  if (state.launch_in_progress()) {
    state.set_unhealthy_launches(state.unhealthy_launches() + 1);
    GuardEvent crash;
    crash.kind = pb::ReportEvent::KIND_LAUNCH_CRASH;
    crash.release_ids = RanReleaseIds(state);
    crash.detail = "previous launch was not marked healthy (" +
                   std::to_string(state.unhealthy_launches()) + " in a row)";
    out.events.push_back(std::move(crash));
  }
  out.unhealthy_launches = static_cast<int>(state.unhealthy_launches());
  state.set_launch_in_progress(true);
  if (out.unhealthy_launches >= limit) {
    bool any_ran = false;
    for (int gi = 0; gi < state.guards_size();) {
      pb::GuardRecord& g = *state.mutable_guards(gi);
      // Only what the failing launches ran is blamed.
      if (!g.pending() || !g.ran()) {
        ++gi;
        continue;
      }
      any_ran = true;
      const int at = FindInstalled(state, g.module());
      pb::InstalledModule bad;
      if (at >= 0) {
        bad = state.installed(at);
        Ban(state, g.module(), bad.content_sha256());
        out.bad.push_back(bad);
      }
      const bool has_good = g.has_good();
      out.events.push_back(RolledBack(
          g.module(), g.release_id(),
          std::to_string(limit) + " unhealthy launches after installing " +
              (at >= 0 ? bad.version() : "?") + "; back to " +
              VersionOrNone(has_good ? &g.good() : nullptr)));
      if (has_good) {
        if (at >= 0) {
          *state.mutable_installed(at) = g.good();
        } else {
          *state.add_installed() = g.good();
        }
        out.now.push_back(g.good());
        g.set_release_id(g.good_release_id());
        g.clear_good();
        g.set_good_release_id(0);
        g.set_pending(false);
        ++gi;
      } else {
        // First installed by the bad version: uninstalled.
        pb::InstalledModule none;
        *none.mutable_module() = g.module();
        out.now.push_back(none);
        if (at >= 0) {
          state.mutable_installed()->erase(state.mutable_installed()->begin() +
                                           at);
        }
        state.mutable_guards()->erase(state.mutable_guards()->begin() + gi);
      }
    }
    if (any_ran) {
      state.set_rolled_back_since_healthy(true);
      state.set_unhealthy_launches(0);
    } else if (state.rolled_back_since_healthy() ||
               out.unhealthy_launches >= 2 * limit) {
      // Still failing: every module uninstalled, back to the app's own
      // content.
      for (const pb::InstalledModule& m : state.installed()) {
        Ban(state, m.module(), m.content_sha256());
        const pb::GuardRecord* g = FindGuard(state, m.module());
        out.events.push_back(
            RolledBack(m.module(), g != nullptr ? g->release_id() : 0,
                       "launches keep failing; " + m.version() +
                           " uninstalled, back to the app's own content"));
        out.bad.push_back(m);
        pb::InstalledModule none;
        *none.mutable_module() = m.module();
        out.now.push_back(none);
      }
      out.uninstalled_all = state.installed_size() > 0;
      state.clear_installed();
      state.clear_guards();
      state.set_rolled_back_since_healthy(false);
      state.set_unhealthy_launches(0);
    }
  }
  // This launch runs every installed version: one that had not run yet is
  // activated now, which restarts the count (as the full SDK's activation).
  for (pb::GuardRecord& g : *state.mutable_guards()) {
    if (g.pending() && !g.ran()) {
      g.set_ran(true);
      g.clear_running();
      g.set_running_release_id(0);
      state.set_unhealthy_launches(0);
    }
  }
  return out;
}

bool ConfirmLaunch(pb::DeviceState& state) {
  if (!state.launch_in_progress()) return false;
  state.set_launch_in_progress(false);
  state.set_unhealthy_launches(0);
  state.set_rolled_back_since_healthy(false);
  for (pb::GuardRecord& g : *state.mutable_guards()) {
    if (g.ran()) {
      g.set_pending(false);
      g.clear_good();
      g.set_good_release_id(0);
    } else if (g.has_running()) {
      // Installed during this launch, which ran the version before it:
      // that one is now the known good version; this one stays pending.
      *g.mutable_good() = g.running();
      g.set_good_release_id(g.running_release_id());
      g.clear_running();
      g.set_running_release_id(0);
    }
  }
  return true;
}

}  // namespace strata::device::internal
