#include "activation.h"

#include <algorithm>
#include <set>

#include "strata/v1/common.pb.h"

namespace strata::client {

ActivationPoint PointOf(int layer) {
  switch (layer) {
    case v1::LAYER_CONFIG:
      return ActivationPoint::kAtOnce;
    case v1::LAYER_H5:
    case v1::LAYER_HCF:
      return ActivationPoint::kOpenOrLaunch;
    default:
      return ActivationPoint::kLaunch;
  }
}

ActivationPoint PointOf(int layer, int install_mode) {
  const ActivationPoint point = PointOf(layer);
  if (point == ActivationPoint::kLaunch) return point;
  switch (install_mode) {
    case v1::INSTALL_IMMEDIATE:
      return ActivationPoint::kAtOnce;
    case v1::INSTALL_NEXT_LAUNCH:
      return ActivationPoint::kLaunch;
    case v1::INSTALL_NEXT_RESUME:
      return ActivationPoint::kResume;
    default:
      return point;
  }
}

std::vector<ModuleKey> StagedGroup(const ClientState& state,
                                   const ModuleKey& key) {
  const auto it = state.modules.find(key);
  if (it == state.modules.end() || !it->second.staged.has_value()) return {};
  const uint64_t release_id = it->second.staged->release_id;
  if (release_id == 0) return {key};
  std::vector<ModuleKey> out;
  for (const auto& [k, m] : state.modules) {
    if (m.staged.has_value() && m.staged->release_id == release_id) {
      out.push_back(k);
    }
  }
  return out;
}

ActivationPoint GroupPoint(const std::vector<ModuleKey>& group) {
  ActivationPoint p = ActivationPoint::kAtOnce;
  for (const ModuleKey& k : group) p = std::max(p, PointOf(k.first));
  return p;
}

ActivationPoint GroupPoint(const ClientState& state,
                           const std::vector<ModuleKey>& group) {
  ActivationPoint p = ActivationPoint::kAtOnce;
  for (const ModuleKey& k : group) {
    const auto it = state.modules.find(k);
    const int mode = it != state.modules.end() && it->second.staged.has_value()
                         ? it->second.staged->install_mode
                         : 0;
    p = std::max(p, PointOf(k.first, mode));
  }
  return p;
}

std::vector<uint64_t> ActiveReleaseIds(const ClientState& state) {
  std::set<uint64_t> ids;
  for (const auto& [key, m] : state.modules) {
    if (m.active.has_value() && m.active->release_id != 0) {
      ids.insert(m.active->release_id);
    }
  }
  return std::vector<uint64_t>(ids.begin(), ids.end());
}

void Activate(ModuleState& m, const VersionRef& next) {
  if (!m.pending) m.good = m.active;
  m.active = next;
  m.pending = true;
  if (m.staged.has_value() && m.staged->sha256 == next.sha256) {
    m.staged.reset();
  }
}

std::vector<std::pair<ModuleKey, VersionRef>> DropDamagedStaged(
    const ModuleStore& store, ClientState& next,
    const std::vector<ModuleKey>& keys) {
  std::vector<std::pair<ModuleKey, VersionRef>> dropped;
  for (const ModuleKey& key : keys) {
    const auto it = next.modules.find(key);
    if (it == next.modules.end() || !it->second.staged.has_value() ||
        store.VerifyBlob(it->second.staged->sha256).ok()) {
      continue;
    }
    for (const ModuleKey& k : StagedGroup(next, key)) {
      ModuleState& m = next.modules[k];
      dropped.emplace_back(k, *m.staged);
      m.staged.reset();
    }
  }
  return dropped;
}

}  // namespace strata::client
