// Activation rules over the persistent state (no I/O but re-hashing staged
// blobs): when each layer's staged version may become active, which staged
// modules form one release, and the switch of one module to a new version.
// The coordinator (client.cc) decides when to call them and commits the
// resulting state.
#ifndef STRATA_CLIENT_SRC_ACTIVATION_H_
#define STRATA_CLIENT_SRC_ACTIVATION_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "client_state.h"
#include "module_store.h"

namespace strata::client {

// When an installed version may become active, latest last: CONFIG at
// once, H5/HCF at the next OpenModule() of it or the next launch,
// HOTPATCH/NATIVE_BUNDLE at the next launch only. kResume: at the next
// Client::OnResume() or launch (install mode "next resume").
enum class ActivationPoint {
  kAtOnce = 0,
  kOpenOrLaunch = 1,
  kResume = 2,
  kLaunch = 3
};

ActivationPoint PointOf(int layer);
// With the signed install mode (v1::InstallMode): immediate, next launch or
// next resume replace the layer's point, except that HOTPATCH and
// NATIVE_BUNDLE (code the app has loaded) always wait for a launch.
ActivationPoint PointOf(int layer, int install_mode);

// The staged release group of `key` (which must be staged): every module
// whose staged version has the same non-zero release id, or `key` alone
// (release id 0). The state file needs nothing more to remember a group.
std::vector<ModuleKey> StagedGroup(const ClientState& state,
                                   const ModuleKey& key);

// A group activates together, at the latest point any member needs.
ActivationPoint GroupPoint(const std::vector<ModuleKey>& group);
// The same with each member's staged install mode.
ActivationPoint GroupPoint(const ClientState& state,
                           const std::vector<ModuleKey>& group);

// The distinct non-zero release ids of the modules active in `state`
// (ascending): the releases a launch runs. Embedded content has none.
std::vector<uint64_t> ActiveReleaseIds(const ClientState& state);

// Makes the staged (or given) version active, keeping the last known good
// one until a healthy launch confirms the new one.
void Activate(ModuleState& m, const VersionRef& next);

// Activation re-hashes staged content against the hash it was installed
// with (the signed one): content changed on disk since it was verified is
// not activated, nor is the rest of its release. Drops the staged versions
// of every such group from `next` (Commit then deletes unreferenced blobs)
// and returns them.
std::vector<std::pair<ModuleKey, VersionRef>> DropDamagedStaged(
    const ModuleStore& store, ClientState& next,
    const std::vector<ModuleKey>& keys);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_ACTIVATION_H_
