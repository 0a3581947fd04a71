#include "launch_guard.h"

#include <algorithm>

namespace strata::device::internal {
namespace {

bool Same(const pb::ModuleId& a, const pb::ModuleId& b) {
  return a.layer() == b.layer() && a.name() == b.name();
}

int FindInstalled(const pb::DeviceState& s, const pb::ModuleId& m) {
  for (int i = 0; i < s.installed_size(); ++i) {
    if (Same(s.installed(i).module(), m)) return i;
  }
  return -1;
}

pb::GuardRecord* FindGuard(pb::DeviceState& s, const pb::ModuleId& m) {
  for (pb::GuardRecord& g : *s.mutable_guards()) {
    if (Same(g.module(), m)) return &g;
  }
  return nullptr;
}

void Ban(pb::DeviceState& s, const std::string& sha) {
  if (!Banned(s, sha)) s.add_banned_sha256(sha);
}

std::string VersionOrNone(const pb::InstalledModule* m) {
  return m != nullptr ? m->version() : "none (the app's own content)";
}

}  // namespace

bool Banned(const pb::DeviceState& state, const std::string& sha256) {
  return std::find(state.banned_sha256().begin(), state.banned_sha256().end(),
                   sha256) != state.banned_sha256().end();
}

std::vector<uint64_t> InstalledReleaseIds(const pb::DeviceState& state) {
  std::vector<uint64_t> ids;
  for (const pb::GuardRecord& g : state.guards()) {
    if (g.release_id() != 0 && FindInstalled(state, g.module()) >= 0) {
      ids.push_back(g.release_id());
    }
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
  }
  g->set_pending(true);
  g->set_release_id(release_id);
  state.set_unhealthy_launches(0);
}

GuardOutcome GuardLaunch(pb::DeviceState& state, int limit) {
  GuardOutcome out;
  if (state.launch_in_progress()) {
    state.set_unhealthy_launches(state.unhealthy_launches() + 1);
    GuardEvent crash;
    crash.kind = pb::ReportEvent::KIND_LAUNCH_CRASH;
    crash.release_ids = InstalledReleaseIds(state);
    crash.detail = "previous launch was not marked healthy (" +
                   std::to_string(state.unhealthy_launches()) + " in a row)";
    out.events.push_back(std::move(crash));
  }
  out.unhealthy_launches = static_cast<int>(state.unhealthy_launches());
  state.set_launch_in_progress(true);
  if (out.unhealthy_launches < limit) return out;

  bool any_pending = false;
  for (int gi = 0; gi < state.guards_size();) {
    pb::GuardRecord& g = *state.mutable_guards(gi);
    if (!g.pending()) {
      ++gi;
      continue;
    }
    any_pending = true;
    const int at = FindInstalled(state, g.module());
    GuardEvent e;
    e.kind = pb::ReportEvent::KIND_ROLLED_BACK;
    e.module = g.module();
    e.release_id = g.release_id();
    pb::InstalledModule bad;
    if (at >= 0) {
      bad = state.installed(at);
      Ban(state, bad.content_sha256());
      out.bad.push_back(bad);
    }
    const bool has_good = g.has_good();
    e.detail = std::to_string(limit) + " unhealthy launches after installing " +
               (at >= 0 ? bad.version() : "?") + "; back to " +
               VersionOrNone(has_good ? &g.good() : nullptr);
    out.events.push_back(std::move(e));
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
  if (any_pending) {
    state.set_rolled_back_since_healthy(true);
    state.set_unhealthy_launches(0);
    return out;
  }
  if (!state.rolled_back_since_healthy() &&
      out.unhealthy_launches < 2 * limit) {
    return out;
  }
  // Still failing: every module uninstalled, back to the app's own content.
  for (const pb::InstalledModule& m : state.installed()) {
    Ban(state, m.content_sha256());
    const pb::GuardRecord* g = FindGuard(state, m.module());
    GuardEvent e;
    e.kind = pb::ReportEvent::KIND_ROLLED_BACK;
    e.module = m.module();
    e.release_id = g != nullptr ? g->release_id() : 0;
    e.detail = "launches keep failing; " + m.version() +
               " uninstalled, back to the app's own content";
    out.events.push_back(std::move(e));
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
  return out;
}

bool ConfirmLaunch(pb::DeviceState& state) {
  if (!state.launch_in_progress()) return false;
  state.set_launch_in_progress(false);
  state.set_unhealthy_launches(0);
  state.set_rolled_back_since_healthy(false);
  for (pb::GuardRecord& g : *state.mutable_guards()) {
    g.set_pending(false);
    g.clear_good();
    g.set_good_release_id(0);
  }
  return true;
}

}  // namespace strata::device::internal
