// Published versions after the upload, without gRPC: the content checks a
// publish must pass per layer, the inventory (`strata artifact list|show`),
// yanks, and the JSON Schemas of CONFIG modules. AdminCore owns one and
// forwards to it. Every mutation is audited in the batch that makes it.
//
// A yank (docs/cli.md, "artifact yank"): the version is marked yanked and
// every release listing it that devices may still newly get is halted, in
// one batch; devices that run it keep it (the server cannot take content
// back; a roll back of the release moves them off it), no other device is
// offered it, and it can never be released or published again. Its blob is
// deleted as soon as nothing references it: no version that is not yanked
// has the same content and no release devices may run (any state but draft
// and rolled back) lists it. That is checked at the yank, after every
// release change of the app (e.g. the roll back) and at start-up. The
// publisher-signed target stays in the layer role until the publishers
// re-sign the role without it; the server simply stops offering and
// serving it.
#ifndef STRATA_SERVER_CORE_ARTIFACT_CORE_H_
#define STRATA_SERVER_CORE_ARTIFACT_CORE_H_

#include <cstdint>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/mutex.h"
#include "strata/server/core/auth_core.h"
#include "strata/server/core/release_core.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/storage/store.h"
#include "strata/v1/admin.pb.h"

namespace strata::server {

// CONFIG documents larger than this are refused before upload: they are
// parsed (and checked against the module's schema) on the server.
inline constexpr uint64_t kMaxConfigBytes = uint64_t{16} << 20;

class ArtifactCore {
 public:
  // Nothing is owned; `trust` may be null.
  ArtifactCore(Store* store, Clock* clock, ReleaseCore* releases,
               TrustRepo* trust)
      : store_(store), clock_(clock), releases_(releases), trust_(trust) {}

  // Before any content is taken: empty content without allow_empty, a
  // CONFIG document above kMaxConfigBytes, and a version that exists with
  // other content or was yanked (versions are immutable) are refused.
  absl::Status CheckHeader(const v1::PublishHeader& header) const;
  // The uploaded content, by layer (docs/cli.md, "Content checks"):
  // - every layer: not empty unless allow_empty; content that is a ustar
  //   archive must be a well-formed tree (diff/ustar_reader.h) holding at
  //   least one file;
  // - CONFIG: a JSON object (RFC 8259, fractions allowed) that satisfies
  //   the module's schema if it has one.
  // kInvalidArgument naming the module, version and what is wrong.
  absl::Status CheckContent(const v1::PublishHeader& header,
                            const BlobManifest& blob) const;

  // Viewer of the app.
  absl::StatusOr<v1::ListArtifactsResponse> List(
      const Principal& who, const v1::ListArtifactsRequest& req);
  absl::StatusOr<v1::ArtifactInfo> Get(const Principal& who,
                                       const v1::GetArtifactRequest& req);
  // Release manager of the app; a reason is required. Yanking a yanked
  // version again changes nothing (already_yanked) but tries to delete its
  // content again.
  absl::StatusOr<v1::YankArtifactResponse> Yank(
      const Principal& who, const v1::YankArtifactRequest& req);

  // Release manager of the app: the schema must be of the supported subset
  // (base/json_schema.h); "" removes it. Applies to later publishes only.
  absl::StatusOr<v1::ModuleSchema> SetSchema(
      const Principal& who, const v1::SetModuleSchemaRequest& req);
  absl::StatusOr<v1::ModuleSchema> GetSchema(
      const Principal& who, const v1::GetModuleSchemaRequest& req);

  // Deletes the content of the yanked versions of `app_id` (every app when
  // "") that nothing references any more. Called at start-up.
  absl::Status CollectYanked(const std::string& app_id);
  // A release of `app_id` changed: collects its yanked content if some is
  // waiting for that.
  void ReleasesChanged(const std::string& app_id);

 private:
  absl::StatusOr<v1::ArtifactInfo> Info(
      const v1::StoredArtifact& artifact,
      const std::vector<v1::Release>& releases) const;
  // Deletes `artifact`'s content unless something still needs it; returns
  // why it was kept ("" when deleted).
  absl::StatusOr<std::string> TryDelete(const v1::StoredArtifact& artifact);

  Store* store_;
  Clock* clock_;
  ReleaseCore* releases_;
  TrustRepo* trust_;
  // Serializes content deletions (a yank and a release change at once).
  // Never held while calling into ReleaseCore.
  Mutex collect_mu_;  // one garbage collection at a time (store state)
  Mutex mu_;
  // Apps with yanked content that was kept (waiting for a release change).
  std::set<std::string> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_ARTIFACT_CORE_H_
