// The device core's launch guard (DeviceCore::BeginLaunch and
// MarkLaunchHealthy, device_core.h) as pure changes of its state file's
// message: which installs are pending, when a launch counts as unhealthy,
// what a rollback restores and bans, and when every module is uninstalled.
// The same rules as the full SDK's (client_sdk/src/launch_guard.h), on the
// device core's own state.
#ifndef STRATA_DEVICE_SRC_LAUNCH_GUARD_H_
#define STRATA_DEVICE_SRC_LAUNCH_GUARD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "strata/device/v1/device_state.pb.h"

namespace strata::device::internal {

namespace pb = ::strata::device::v1;

// One thing the guard did, reported once its state is committed.
struct GuardEvent {
  pb::ReportEvent::Kind kind = pb::ReportEvent::KIND_LAUNCH_CRASH;
  pb::ModuleId module;                // unset for a launch crash
  uint64_t release_id = 0;            // the release rolled back from
  std::vector<uint64_t> release_ids;  // a crash: the releases it ran
  std::string detail;
};

struct GuardOutcome {
  std::vector<GuardEvent> events;  // in order
  // Per module rolled back: the version it left, and the one it runs now
  // (no version: none installed, the app's own content).
  std::vector<pb::InstalledModule> bad;
  std::vector<pb::InstalledModule> now;
  bool uninstalled_all = false;
  int unhealthy_launches = 0;  // so far, the previous launch included
};

// `installed` (of release `release_id`) has replaced `previous` (nullptr:
// nothing was installed) in `state`: it is pending, with `previous` as its
// known good version (unless an earlier pending install already set one),
// and has not run yet: it counts from the next launch on, and is
// confirmed by the healthy end of a launch that ran it.
void RecordInstall(pb::DeviceState& state, const pb::InstalledModule* previous,
                   const pb::InstalledModule& installed, uint64_t release_id);

// The start of a launch: the previous launch counts as unhealthy if it is
// still in progress (reported with the releases it ran); after `limit`
// unhealthy launches in a row every pending module those launches ran
// goes back to its known good version (or is uninstalled) and the content
// it left is banned in its module; if none was and a rollback did not
// cure it (or after 2 x `limit`), every module is uninstalled and its
// content banned. Then every installed version counts as run by this
// launch (one that had not run restarts the count), and the launch is in
// progress.
GuardOutcome GuardLaunch(pb::DeviceState& state, int limit);

// A healthy launch: the pending installs it ran are confirmed (those
// installed during it stay pending), the counts restart. False (nothing
// changed) when no launch is in progress.
bool ConfirmLaunch(pb::DeviceState& state);

// `sha256` was rolled back in `module`: never installed there again.
bool Banned(const pb::DeviceState& state, const pb::ModuleId& module,
            const std::string& sha256);

// The releases of the versions the current launch runs (a launch
// report's release_ids): for an install made during it, the version
// before (if its release is known).
std::vector<uint64_t> RanReleaseIds(const pb::DeviceState& state);

}  // namespace strata::device::internal

#endif  // STRATA_DEVICE_SRC_LAUNCH_GUARD_H_
