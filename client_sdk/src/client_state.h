// The SDK's whole persistent state in one small file, so that one atomic
// write (temp, fsync, rename, fsync dir) switches any number of modules at
// once: all old or all new, never a mix.
//
// Text format, one record per line (names and versions follow the naming
// rule, so they never contain spaces):
//   strata-client-state 1
//   launch <in_progress 0|1> <unhealthy> <rolled_back_since_healthy 0|1>
//   module <layer number> <name>
//   active|staged|good <version> <sha256> <sequence> <release id>
//                      [mode=<v1::InstallMode>] [mandatory]
//   pending                      (activated, no healthy launch since)
//   banned <sha256>              (rolled back; never installed again)
//   ticket <hex>                 the latest plan's report ticket (opaque,
//                                sent back with every report)
//   remedy <id>                  a remedy rule applied here (never again)
//   disabled <layer> <name> <id> a module a remedy disabled
//   blocked <layer> <name> <version> <id>  a version a remedy blocks
//   signature <id>               a failure signature this device reported
//                                (newest last; remedies match on them)
// Staged versions with the same non-zero release id are one release,
// activated together (client.cc: StagedGroup); no record of their own.
#ifndef STRATA_CLIENT_SRC_CLIENT_STATE_H_
#define STRATA_CLIENT_SRC_CLIENT_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::client {

struct VersionRef {
  std::string version;
  std::string sha256;
  uint64_t sequence = 0;
  uint64_t release_id = 0;
  // The signed delivery policy's install mode (v1::InstallMode) and
  // mandatory flag.
  int install_mode = 0;
  bool mandatory = false;
  bool operator==(const VersionRef&) const = default;
};

struct ModuleState {
  std::optional<VersionRef> active;  // none: the embedded version (if any)
  std::optional<VersionRef> staged;  // waiting for its activation point
  std::optional<VersionRef> good;    // last known good, kept while pending
  bool pending = false;  // active since an activation not yet confirmed
  std::set<std::string> banned;
  bool operator==(const ModuleState&) const = default;
};

// (layer number, module name)
using ModuleKey = std::pair<int, std::string>;

// Bounds of the remedy records (a state file stays small).
inline constexpr size_t kMaxSeenSignatures = 64;
inline constexpr size_t kMaxAppliedRemedies = 1024;

struct ClientState {
  bool launch_in_progress = false;
  int unhealthy_launches = 0;
  bool rolled_back_since_healthy = false;
  std::map<ModuleKey, ModuleState> modules;
  // UpdatePlan.report_ticket of the latest verified Check (bytes).
  std::string report_ticket;
  // Remedies (remedy.h, docs/remedies.md): rules applied on this device,
  // committed in the same write as their effect, so none is applied twice.
  std::set<std::string> applied_remedies;
  // Modules a remedy disabled, with the remedy's id.
  std::map<ModuleKey, std::string> disabled;
  // Versions a remedy blocks ((module, version) -> remedy id).
  std::map<std::pair<ModuleKey, std::string>, std::string> blocked;
  // The failure signatures this device reported, oldest first, at most
  // kMaxSeenSignatures.
  std::vector<std::string> seen_signatures;

  std::string Serialize() const;
  static absl::StatusOr<ClientState> Parse(std::string_view text);
  // Every blob the state refers to (active, staged, last known good).
  std::set<std::string> ReferencedBlobs() const;
  bool operator==(const ClientState&) const = default;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_CLIENT_STATE_H_
