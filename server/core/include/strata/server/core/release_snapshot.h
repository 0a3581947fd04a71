// The live releases of each app, held in memory for the Check path and
// rebuilt from the store when a release or segment changes: a Check reads
// no disk. Each live release carries its compiled rollout and segment, so
// choosing what a device gets is evaluation only (docs/rollout.md).
#ifndef STRATA_SERVER_CORE_RELEASE_SNAPSHOT_H_
#define STRATA_SERVER_CORE_RELEASE_SNAPSHOT_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "strata/base/mutex.h"
#include "strata/rollout/rollout.h"
#include "strata/rollout/segment.h"
#include "strata/rollout/targeting.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/storage/store.h"
#include "strata/v1/delivery.pb.h"

namespace strata::server {

struct LiveRelease {
  v1::Release record;
  rollout::Rollout rollout;
  std::shared_ptr<const rollout::Segment> segment;
  std::string salt;  // effective bucketing salt
  // Completed, for every device: applies without evaluation.
  bool everyone = false;
  // Made of CONFIG modules only: WatchConfig may push it.
  bool config_only = false;
  // One ready-made update entry per artifact (inline content included for
  // small CONFIG documents).
  std::vector<v1::UpdateEntry> entries;
};

struct AppSnapshot {
  // Releases that can reach a device (not draft, not rolled back), newest
  // first. Releases every one of whose modules a newer completed release
  // for everyone replaces are left out.
  std::vector<LiveRelease> releases;
  // For an app with a root of trust: the target names ("h5/home@3") the
  // live releases use (layer roles must keep them).
  std::set<std::string> target_names;
};

// The version label of a roll back to the embedded version.
inline constexpr std::string_view kEmbeddedVersionLabel = "embedded";
// The statement of a revert-to-embedded artifact: version "embedded", the
// SHA-256 of zero bytes, size 0.
v1::ArtifactStatement RevertStatement(const std::string& app_id,
                                      const v1::ReleaseArtifact& a);

// What the installed list says, by (layer, module name).
using InstalledMap =
    std::map<std::pair<int, std::string>, const v1::InstalledModule*>;
InstalledMap IndexInstalled(
    const google::protobuf::RepeatedPtrField<v1::InstalledModule>& installed);

struct Selection {
  // Per module, the entry of the newest release that applies to the device
  // (may be what it already has).
  std::vector<std::pair<const v1::UpdateEntry*, const LiveRelease*>> entries;
  // The decision for every live release, in snapshot order.
  std::vector<std::pair<const LiveRelease*, rollout::Offer>> offers;
};

// Whether the device runs `release`: one of its modules is installed with
// the release's sequence and content.
bool HasRelease(const LiveRelease& release, const InstalledMap& installed);

// Decides every live release for the device and picks, per module, the
// newest release that applies.
Selection Select(const AppSnapshot& snapshot,
                 const rollout::DeviceAttributes& device,
                 const InstalledMap& installed);

class ReleaseSnapshots {
 public:
  // With `trust` (not owned; may be null), an app with a root of trust gets
  // its entries' statements from the publisher-signed targets and its
  // director signed once per build.
  ReleaseSnapshots(Store* store, uint64_t max_inline_bytes,
                   TrustRepo* trust = nullptr)
      : store_(store), max_inline_bytes_(max_inline_bytes), trust_(trust) {}

  // The current snapshot of `app_id`, built on first use (for an app with
  // trust, signing its director: one signature per change, not per Check).
  // An app this server never had gets an empty snapshot that is not kept:
  // made-up app ids cost no memory.
  absl::StatusOr<std::shared_ptr<const AppSnapshot>> Get(
      const std::string& app_id);
  // Whether the server has anything of `app_id`: a root of trust, a
  // release, a segment or an artifact. Apps found are remembered (apps are
  // never deleted); unknown ones are looked up in the store every time.
  bool AppExists(const std::string& app_id);
  // Snapshots held now, and apps known to exist (tests, metrics).
  size_t cached() const;
  size_t known() const;
  // Drops `app_id`'s snapshot; the next Get rebuilds it. Called after every
  // change to the app's releases or segments.
  void Invalidate(const std::string& app_id);

 private:
  // Adds `app_id` to the apps known to exist; returns true.
  bool Remember(const std::string& app_id);
  absl::StatusOr<std::shared_ptr<const AppSnapshot>> Build(
      const std::string& app_id);
  absl::StatusOr<v1::UpdateEntry> MakeEntry(const v1::Release& release,
                                            const v1::ReleaseArtifact& a,
                                            const TrustView* trust);
  // The director for `snapshot` (one assignment per live release, in
  // order), signed by the trust repository.
  absl::Status SignDirector(const std::string& app_id,
                            const AppSnapshot& snapshot, const TrustView& trust,
                            const std::vector<v1::Segment>& segments);

  Store* store_;
  uint64_t max_inline_bytes_;
  TrustRepo* trust_;
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<const AppSnapshot>> apps_
      ABSL_GUARDED_BY(mu_);
  std::set<std::string> known_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_RELEASE_SNAPSHOT_H_
