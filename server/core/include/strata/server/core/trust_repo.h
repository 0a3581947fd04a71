// Each app's TUF repository in stratad (docs/trust.md): every root version,
// the targets role with its per-layer delegations, one delegated role per
// layer, and the online roles stratad signs itself (snapshot, timestamp,
// director) with the keys of OnlineKeys.
//
// Offline roles (root, targets, layer roles) arrive signed; stratad checks
// the chain (a root signed by the old and the new root keys, version
// installed+1; targets by the root's targets keys; each layer role by a
// threshold of distinct delegated keys, version stored+1, targets within
// "<layer>/*") and never holds a key that could sign them. Every change
// re-signs snapshot and timestamp and is stored, with them, in one synced
// batch; the in-memory view of the app is then swapped whole, so readers
// (Check, WatchConfig, HTTP) take a shared_ptr and never touch the disk.
#ifndef STRATA_SERVER_CORE_TRUST_REPO_H_
#define STRATA_SERVER_CORE_TRUST_REPO_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_field.h"
#include "strata/base/env.h"
#include "strata/base/json.h"
#include "strata/base/mutex.h"
#include "strata/server/core/online_keys.h"
#include "strata/server/storage/store.h"
#include "strata/signing/director.h"
#include "strata/signing/metadata.h"
#include "strata/v1/admin.pb.h"
#include "strata/v1/common.pb.h"

namespace strata::server {

struct TrustRepoOptions {
  absl::Duration snapshot_expiry = absl::Hours(24 * 7);
  absl::Duration timestamp_expiry = absl::Hours(24);
  absl::Duration director_expiry = absl::Hours(24);
  // GetTrust warns about offline roles expiring within this.
  absl::Duration warn_within = absl::Hours(24 * 30);
};

// A signed file with its version and expiry.
struct SignedFile {
  uint64_t version = 0;
  std::string bytes;
  absl::Time expires = absl::InfinitePast();
};

// One app's repository as it stands. Immutable once published.
struct TrustView {
  std::string app_id;
  std::map<uint64_t, std::string> roots;  // every version
  signing::RootMetadata root;
  SignedFile targets_file;
  signing::TargetsMetadata targets;
  struct Layer {
    SignedFile file;
    signing::TargetsMetadata meta;
  };
  std::map<std::string, Layer> layers;  // by role name ("h5")
  SignedFile snapshot;
  SignedFile timestamp;
  SignedFile director;
  // The director's signed part as last signed (re-signed with a new
  // version and expiry when half its life is gone).
  Json director_signed;

  // Prebuilt TUF files (FetchRequest::FileName() names) for Check.
  std::vector<std::pair<uint64_t, v1::MetadataFile>> root_files;
  v1::MetadataFile timestamp_metadata;
  v1::MetadataFile snapshot_metadata;
  v1::MetadataFile targets_metadata;
  std::map<std::string, v1::MetadataFile> layer_metadata;
  v1::MetadataFile director_metadata;

  // The publisher-signed target `name` ("h5/mall-home@3"), or null.
  const signing::TargetFile* FindTarget(std::string_view name) const;
  // Appends the files newer than `trusted`, in the order a verifier reads
  // them: roots, timestamp, snapshot, targets, layer roles, director.
  void AppendNewerFiles(
      const v1::TrustedVersions& trusted,
      google::protobuf::RepeatedPtrField<v1::MetadataFile>* out) const;
  // The versions this view holds (what a device trusts after reading it).
  v1::TrustedVersions Versions() const;
  // Rebuilds the prebuilt files from the signed ones.
  void Finish();
};

// What a roll back puts back for one module, and the signed counter the
// publishers approved for it.
struct RollbackTarget {
  v1::RollbackArtifact plan;
  uint64_t release_counter = 0;  // set by CommitRollback
};

class TrustRepo {
 public:
  // `keys` may be null (no online keys: nothing can be installed).
  TrustRepo(Store* store, Clock* clock, OnlineKeys* keys,
            TrustRepoOptions options = {});

  // Loads every app's repository (at start-up). Expired roots or targets
  // are loaded (with a warning): their apps refuse publishes and releases
  // until re-signed.
  absl::Status Load();

  // The app's current view; null when the app has no root of trust.
  std::shared_ptr<const TrustView> View(std::string_view app_id) const;
  bool HasTrust(std::string_view app_id) const {
    return View(app_id) != nullptr;
  }
  // The apps that have a root of trust.
  std::vector<std::string> Apps() const;
  OnlineKeys* keys() { return keys_; }
  const TrustRepoOptions& options() const { return options_; }

  // --- offline roles
  // Installs root and/or targets and layer roles with the chain rules
  // above; stores them, re-signed snapshot and timestamp and `audit` in
  // one batch.
  absl::StatusOr<v1::SetTrustResponse> SetTrust(const v1::SetTrustRequest& req,
                                                v1::AuditEntry audit);
  // Replaces one layer role (compare-and-swap on its version).
  absl::Status PutLayerRole(std::string_view app_id, std::string_view role,
                            v1::AuditEntry audit);
  // The repository for `strata trust status` (also for an app without a
  // root of trust: then only the online keys).
  v1::TrustInfo Info(std::string_view app_id) const;

  // --- publishes
  // Checks the layer role of a publish before any content is taken:
  // threshold of distinct delegated keys, version == stored+1 (ABORTED
  // otherwise), not expired, targets within "<layer>/*", exactly one target
  // describing this upload with a counter above the module's others.
  absl::Status CheckPublish(const v1::ArtifactStatement& statement,
                            std::string_view role) const;
  // The same check under the repository's lock, then `commit(files)` (the
  // store write of the artifact with the role, snapshot and timestamp in
  // one batch); the view is swapped when commit succeeds.
  absl::Status CommitPublish(
      const v1::ArtifactStatement& statement, std::string_view role,
      const std::function<absl::Status(const std::vector<TrustFile>&)>& commit);

  // --- releases
  // The release counter of `version` of `module`: the highest counter of a
  // target with that content in the layer role, which must still verify
  // against the current targets delegation. FAILED_PRECONDITION, saying
  // what to do, when there is none or the trust has expired.
  absl::StatusOr<uint64_t> ReleaseCounter(std::string_view app_id,
                                          const v1::ModuleId& module,
                                          std::string_view version,
                                          std::string_view content_sha256,
                                          uint64_t size) const;
  // Verifies the re-signed layer roles of a roll back (like a publish)
  // against `plan`, fills each entry's release_counter with the signed
  // counter and calls `commit(files, plan)`; the view is swapped when
  // commit succeeds.
  absl::Status CommitRollback(
      std::string_view app_id,
      const google::protobuf::RepeatedPtrField<std::string>& roles,
      std::vector<RollbackTarget>& plan,
      const std::function<absl::Status(const std::vector<TrustFile>&)>& commit);
  // FAILED_PRECONDITION when the app's root or targets has expired.
  absl::Status CheckUsable(std::string_view app_id) const;
  // Before a draft starts: the trust is usable and each artifact's target
  // is still signed (by the current delegation) with the release's counter
  // and the artifact's content.
  absl::Status CheckReleaseTargets(const v1::Release& release) const;

  // --- online roles
  // Signs `director` (its version is the last one + 1, expiry from the
  // options) with the held director keys the root lists, stores it and
  // swaps it in. Unchanged content that is not half expired is not
  // re-signed. No-op for an app without trust or without a director role.
  absl::Status SignDirector(std::string_view app_id,
                            signing::DirectorMetadata director);
  // Re-signs every online role of every app whose life is half gone.
  // Returns how many apps changed.
  absl::StatusOr<int> RefreshExpiring();

  // --- replicas (a shared store)
  // Re-reads `app_id`'s repository from the store (another replica changed
  // it) and swaps the view in; no-op for an app without a root of trust.
  absl::Status Reload(std::string_view app_id);

  // --- HTTP
  // A file of the TUF repository layout ("3.root.json", "root.json",
  // "timestamp.json", "7.snapshot.json", "4.targets.json", "9.h5.json",
  // "director.json"); nullopt when there is none.
  absl::StatusOr<std::optional<std::string>> File(std::string_view app_id,
                                                  std::string_view name) const;

  // Called with the app id after a change of root, targets or a layer role
  // outside of a publish (the director is rebuilt).
  void OnTrustChanged(std::function<void(const std::string&)> listener) {
    changed_ = std::move(listener);
  }
  // Target names that live releases of an app use; a new layer role may not
  // drop or change them.
  void SetTargetsInUse(
      std::function<std::set<std::string>(const std::string&)> fn) {
    targets_in_use_ = std::move(fn);
  }

 private:
  absl::StatusOr<std::shared_ptr<TrustView>> LoadApp(const std::string& app);
  void Publish(std::shared_ptr<TrustView> view);
  // Re-signs snapshot and timestamp of `next` (versions + 1), adding the
  // files to `files`.
  absl::Status ResignSnapshot(TrustView& next, absl::Time now,
                              std::vector<TrustFile>& files) const;
  absl::Status ResignTimestamp(TrustView& next, absl::Time now,
                               std::vector<TrustFile>& files) const;
  absl::Status ResignDirector(TrustView& next, Json signed_part, absl::Time now,
                              std::vector<TrustFile>& files) const;
  absl::StatusOr<std::string> SignOnline(const TrustView& view,
                                         std::string_view role,
                                         const Json& signed_part) const;
  // The checks of a publish against `view`; returns the new role.
  absl::StatusOr<TrustView::Layer> VerifyPublish(
      const TrustView& view, const v1::ArtifactStatement& statement,
      std::string_view role, const std::set<std::string>& in_use) const;
  std::set<std::string> InUse(std::string_view app_id) const;

  Store* store_;
  Clock* clock_;
  OnlineKeys* keys_;
  TrustRepoOptions options_;
  std::function<void(const std::string&)> changed_;
  std::function<std::set<std::string>(const std::string&)> targets_in_use_;
  // Serializes changes (read the view, verify, store, swap).
  Mutex write_mu_;
  mutable Mutex view_mu_;
  std::map<std::string, std::shared_ptr<const TrustView>, std::less<>> views_
      ABSL_GUARDED_BY(view_mu_);
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_TRUST_REPO_H_
