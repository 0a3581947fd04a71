// Releases without gRPC: creating and steering staged rollouts, their
// status, previews, and the health gates that promote, halt or pause them
// on their own. Every change is stored with its audit entry in one synced
// batch; automatic ones name the actor "stratad" and carry the figures.
#ifndef STRATA_SERVER_CORE_RELEASE_CORE_H_
#define STRATA_SERVER_CORE_RELEASE_CORE_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/mutex.h"
#include "strata/rollout/gate.h"
#include "strata/server/core/auth_core.h"
#include "strata/server/core/fleet_observer.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/storage/store.h"
#include "strata/v1/admin.pb.h"

namespace strata::server {

class ReleaseCore {
 public:
  // `fleet` and `trust` are not owned and must outlive this; `trust` may be
  // null (no app has a root of trust).
  ReleaseCore(Store* store, Clock* clock, FleetObserver* fleet,
              TrustRepo* trust = nullptr)
      : store_(store), clock_(clock), fleet_(fleet), trust_(trust) {}

  // Called with the app id after any change to an app's releases.
  void OnReleasesChanged(std::function<void(const std::string&)> listener) {
    releases_changed_ = std::move(listener);
  }

  // Validates everything (published, not embedded, one version per module,
  // segment exists, plan and gates valid), stores the release and starts it
  // (unless `draft`); `all_at_once` completes it at once. For an app with a
  // root of trust each module's release counter is that of its newest
  // publisher-signed target of the version (refused when there is none).
  absl::StatusOr<v1::Release> Create(const Principal& who,
                                     const v1::CreateReleaseRequest& req);
  absl::StatusOr<std::vector<v1::Release>> List(const Principal& who,
                                                std::string_view app_id);
  absl::StatusOr<v1::ReleaseStatus> Status(
      const Principal& who, const v1::GetReleaseStatusRequest& req);
  absl::StatusOr<v1::SteerReleaseResponse> Steer(
      const Principal& who, const v1::SteerReleaseRequest& req);
  // Who gets what per stage and the first stage's size for a verdict, for
  // a stored release or (`req.dry_run_of`) one not created yet.
  absl::StatusOr<v1::PreviewReleaseResponse> Preview(
      const Principal& who, const v1::PreviewReleaseRequest& req);
  absl::StatusOr<v1::ExplainDeviceResponse> Explain(
      const Principal& who, const v1::ExplainDeviceRequest& req);
  // The release's launch outcomes and download sizes per device
  // (v1::ReleaseDistribution), from the app's stored reports.
  absl::StatusOr<v1::ReleaseDistribution> Distribution(
      const Principal& who, const v1::GetReleaseDistributionRequest& req);
  // Changes a release that is not over (see v1::EditReleaseRequest):
  // the plan from the current stage on, gate thresholds, the message (the
  // message also of a finished one). Audited as release.edit with the old
  // and new values.
  absl::StatusOr<v1::Release> Edit(const Principal& who,
                                   const v1::EditReleaseRequest& req);
  // Per module, the versions the devices seen since start-up run, with
  // the health of the release that installed each.
  absl::StatusOr<v1::GetFleetResponse> Fleet(const Principal& who,
                                             const v1::GetFleetRequest& req);
  // The releases of `app_id` that reach devices through segment `segment`
  // now: not draft or rolled back, and not replaced for every module by a
  // newer completed release for everyone. Drafts are included when
  // `with_drafts` (they will once started).
  absl::StatusOr<std::vector<v1::Release>> ReleasesUsingSegment(
      const std::string& app_id, const std::string& segment, bool with_drafts);

  // One pass of the health gates over every rolling release: applies and
  // audits promote / halt / pause, samples adoption. Returns the decisions
  // that changed a release.
  absl::StatusOr<std::vector<rollout::GateDecision>> Tick();

  // Rebuilds release health from the stored reports (at start-up).
  absl::Status LoadHealth();
  // Replicas: the stored health of every replica's reports replaces the
  // in-memory figures (the gate leader, before each pass).
  absl::Status RefreshHealth();

  // A yank of `version` of `module`: every release listing it that devices
  // may still newly get (rolling, paused, or completed, which an operator
  // cannot halt but a yank does) is halted with `reason`; `commit(halted)`
  // stores them with the yank in one batch, under the lock the gates take.
  // Returns the releases halted.
  absl::StatusOr<std::vector<v1::Release>> HaltForYank(
      const std::string& app_id, const v1::ModuleId& module,
      const std::string& version, const std::string& reason,
      const std::function<absl::Status(const std::vector<v1::Release>&)>&
          commit);

 private:
  // Create's checks (rights, artifacts, trust counters, segment, plan,
  // gates) and its rollout, started unless a draft; stores nothing.
  absl::StatusOr<std::pair<v1::Release, rollout::Rollout>> Prepare(
      const Principal& who, const v1::CreateReleaseRequest& req);
  // The live releases `release` would overlap ("3,5"), or the refusal
  // when `req` does not allow overlap.
  absl::StatusOr<std::string> Overlaps(const v1::CreateReleaseRequest& req,
                                       const v1::Release& release);
  absl::StatusOr<v1::Release> Load(const std::string& app_id,
                                   uint64_t release_id);
  // Checks the viewer's rights and loads the release and its rollout.
  absl::StatusOr<std::pair<v1::Release, rollout::Rollout>> View(
      const Principal& who, const std::string& app_id, uint64_t release_id,
      std::string_view action);
  // ROLL_BACK: with `req.dry_run` only the plan; on an app with trust the
  // re-signed layer roles of `req` give the counters.
  absl::StatusOr<v1::SteerReleaseResponse> RollBack(
      const Principal& who, v1::Release bad, const std::string& reason,
      const v1::SteerReleaseRequest& req);
  // FAILED_PRECONDITION when one of the release's versions was yanked.
  absl::Status RefuseYanked(const v1::Release& release,
                            std::string_view action);
  void Changed(const std::string& app_id) {
    if (releases_changed_) releases_changed_(app_id);
  }

  Store* store_;
  Clock* clock_;
  FleetObserver* fleet_;
  TrustRepo* trust_;
  std::function<void(const std::string&)> releases_changed_;
  // Serializes read-modify-write of release records (operators and gates).
  // Serializes the read-check-write of releases in the store (guards no
  // member: the state is the store's).
  Mutex mu_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_RELEASE_CORE_H_
