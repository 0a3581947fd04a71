// Publishing, releases and the audit log, without gRPC: the Admin service
// adapts to this. Every call names the authenticated principal; every
// mutation is audited in the same synced batch as the change.
#ifndef STRATA_SERVER_CORE_ADMIN_CORE_H_
#define STRATA_SERVER_CORE_ADMIN_CORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/mutex.h"
#include "strata/server/core/artifact_core.h"
#include "strata/server/core/auth_core.h"
#include "strata/server/core/failure_core.h"
#include "strata/server/core/fleet_observer.h"
#include "strata/server/core/release_core.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/storage/store.h"
#include "strata/v1/admin.pb.h"

namespace strata::server {

struct AdminLimits {
  uint64_t max_artifact_bytes = uint64_t{512} << 20;
  uint32_t max_signatures = 16;
  uint32_t max_audit_page = 1000;
  // Refuse publishes to apps without a root of trust. Off only for
  // development and tests of other features (--allow-unsigned-publishes);
  // an app with a root of trust always needs its publishers' signatures.
  bool require_signatures = true;
};

class AdminCore {
 public:
  // `trust` is the apps' trust repositories (not owned); null: one
  // without online keys is made (tests of other features).
  AdminCore(Store* store, Clock* clock, AdminLimits limits = {},
            TrustRepo* trust = nullptr);

  // Loads the stored trust repositories (at start-up).
  absl::Status LoadTrust();
  // Per-app trust (docs/trust.md): SetTrust admin, GetTrust viewer,
  // PutLayerRole publisher of the app; GenerateOnlineKeys admin of every
  // app (the keys are the server's).
  absl::StatusOr<v1::SetTrustResponse> SetTrust(const Principal& who,
                                                const v1::SetTrustRequest& req);
  absl::StatusOr<v1::TrustInfo> GetTrust(const Principal& who,
                                         const v1::GetTrustRequest& req);
  absl::StatusOr<v1::TrustInfo> PutLayerRole(
      const Principal& who, const v1::PutLayerRoleRequest& req);
  absl::StatusOr<v1::GenerateOnlineKeysResponse> GenerateOnlineKeys(
      const Principal& who, const v1::GenerateOnlineKeysRequest& req);
  TrustRepo* trust() { return trust_; }
  // Checks the expression compiles (errors name the column) and the id
  // lists, then stores the segment (replacing one of the same name). A
  // change to a segment that live releases target is refused naming them,
  // unless `segment.force` (then audited as segment.force_put).
  absl::StatusOr<v1::Segment> PutSegment(const Principal& who,
                                         v1::Segment segment);
  absl::StatusOr<std::vector<v1::Segment>> ListSegments(
      const Principal& who, std::string_view app_id);
  // Refused while a live release targets it (naming them); audited.
  absl::StatusOr<v1::DeleteSegmentResponse> DeleteSegment(
      const Principal& who, const v1::DeleteSegmentRequest& req);
  // The audit entries of the segment (put, force_put, delete), oldest
  // first.
  absl::StatusOr<v1::GetSegmentHistoryResponse> SegmentHistory(
      const Principal& who, const v1::GetSegmentHistoryRequest& req);

  const AdminLimits& limits() const { return limits_; }
  // Called with the app id after any change to an app's releases (the
  // Check path's snapshot listens).
  // Trust changes (new root, targets or layer roles) call it too: the
  // director is rebuilt.
  // (Yanked content waiting for a release change is collected after it.)
  void OnReleasesChanged(std::function<void(const std::string&)> listener) {
    releases_.OnReleasesChanged([this, listener](const std::string& app) {
      listener(app);
      artifacts_.ReleasesChanged(app);
    });
    trust_->OnTrustChanged(listener);
    releases_changed_ = std::move(listener);
  }
  // Staged releases, their health gates and previews.
  ReleaseCore& releases() { return releases_; }
  // Published versions: content checks, inventory, yanks, config schemas.
  ArtifactCore& artifacts() { return artifacts_; }
  // Client failures by signature and applied remedies (docs/remedies.md).
  FailureCore& failures() { return failures_; }
  // Health and devices as reported; the Delivery side records into it.
  FleetObserver* fleet() { return &fleet_; }
  // Called after each new artifact is stored (the delta cache listens).
  void OnPublished(std::function<void(const v1::ArtifactStatement&)> listener) {
    published_ = std::move(listener);
  }
  Store* store() { return store_; }

  // Checks the header and the caller's rights before any content is taken.
  absl::Status ValidateHeader(const Principal& who,
                              const v1::PublishHeader& header) const;

  // Makes the uploaded `blob` the artifact the header describes.
  // - A retry with the same idempotency key and content returns the first
  //   result (already_existed); the same key with other content is refused.
  // - Versions are immutable: the same version with other content, or a
  //   yanked version, is refused.
  // - The content must pass ArtifactCore::CheckContent (nothing is stored
  //   otherwise).
  absl::StatusOr<v1::PublishResponse> Publish(const Principal& who,
                                              const v1::PublishHeader& header,
                                              const BlobManifest& blob);
  // Convenience for callers holding the content in memory.
  absl::StatusOr<v1::PublishResponse> PublishBytes(
      const Principal& who, const v1::PublishHeader& header,
      std::string_view content);

  // Shorthands for releases().Create / List.
  absl::StatusOr<v1::Release> CreateRelease(
      const Principal& who, const v1::CreateReleaseRequest& req) {
    return releases_.Create(who, req);
  }
  absl::StatusOr<std::vector<v1::Release>> ListReleases(
      const Principal& who, std::string_view app_id) {
    return releases_.List(who, app_id);
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(const Principal& who,
                                                        uint64_t after_seq,
                                                        uint32_t limit);
  absl::StatusOr<v1::BackupResponse> Backup(const Principal& who,
                                            const v1::BackupRequest& req);

 private:
  v1::AuditEntry Audit(const Principal& who, std::string_view action,
                       std::string_view app_id, std::string detail) const;

  Store* store_;
  Clock* clock_;
  AdminLimits limits_;
  std::unique_ptr<TrustRepo> owned_trust_;
  TrustRepo* trust_;
  FleetObserver fleet_;
  ReleaseCore releases_;
  ArtifactCore artifacts_;
  FailureCore failures_;
  std::function<void(const std::string&)> releases_changed_;
  std::function<void(const v1::ArtifactStatement&)> published_;
  // Serializes segment changes with the check of the releases using them.
  // Serializes the read-check-write of a segment in the store (guards no
  // member: the state is the store's).
  Mutex segments_mu_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_ADMIN_CORE_H_
