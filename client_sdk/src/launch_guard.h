// The launch guard's decisions (docs/client_sdk.md, "Launch guard"), as
// pure changes of the client state: what an app start does before it runs
// anything (count the previous launch as unhealthy if it never reached
// MarkLaunchHealthy, roll back, reset to what the app ships with), and what
// a healthy launch confirms. Client::BeginLaunch and MarkLaunchHealthy
// (launch_guard.cc) apply them, activate staged versions, commit and report.
#ifndef STRATA_CLIENT_SRC_LAUNCH_GUARD_H_
#define STRATA_CLIENT_SRC_LAUNCH_GUARD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "client_state.h"

namespace strata::client {

// One thing the guard did, to be reported once its state is committed.
struct GuardEvent {
  enum Kind { kLaunchCrash, kRolledBack };
  Kind kind = kLaunchCrash;
  ModuleKey key;            // {0, ""} for a launch crash
  uint64_t release_id = 0;  // the version rolled back from
  // A launch crash: the releases the crashed launch ran (their crash
  // counts on the server).
  std::vector<uint64_t> release_ids;
  std::string detail;
};

struct GuardDecision {
  std::vector<GuardEvent> events;  // in order
  // Modules rolled back to their last known good version (nullopt: none
  // installed, so the embedded one if the app ships it), with the version
  // they left.
  struct RolledBack {
    ModuleKey key;
    std::optional<VersionRef> now;
    std::optional<VersionRef> bad;
  };
  std::vector<RolledBack> rolled_back;
  // Every module was reset to what the app ships with.
  bool reset_to_embedded = false;
  // Unhealthy launches in a row so far (the previous one included), before
  // any reset by this decision.
  int unhealthy_launches = 0;
};

// The start of a launch, on `next` (the committed state, copied): the
// previous launch counts as unhealthy if it is still in progress; after
// `limit` unhealthy launches in a row, every module activated since the
// last healthy launch (pending) goes back to its last known good version
// and the version it left is banned; if none was pending and a rollback
// did not cure it (or after 2 x `limit`), every module is reset to the
// embedded version and all it ran is banned. Does not mark the new launch
// in progress (the caller does, after activating staged versions).
GuardDecision GuardLaunch(ClientState& next, int limit);

// A healthy launch, on `next`: the activated versions become the known
// good ones and the counters restart. kFailedPrecondition when no launch is
// in progress.
absl::Status ConfirmLaunch(ClientState& next);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_LAUNCH_GUARD_H_
