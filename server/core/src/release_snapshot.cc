#include "strata/server/core/release_snapshot.h"

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {

absl::StatusOr<std::shared_ptr<const AppSnapshot>> ReleaseSnapshots::Get(
    const std::string& app_id) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = apps_.find(app_id);
    if (it != apps_.end()) return it->second;
    generation = generation_;
  }
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const AppSnapshot> built,
                          Build(app_id));
  std::lock_guard<std::mutex> lock(mu_);
  // Keep it only if no invalidation raced with the build.
  if (generation == generation_) apps_[app_id] = built;
  return built;
}

void ReleaseSnapshots::Invalidate(const std::string& app_id) {
  std::lock_guard<std::mutex> lock(mu_);
  apps_.erase(app_id);
  ++generation_;
}

absl::StatusOr<std::shared_ptr<const AppSnapshot>> ReleaseSnapshots::Build(
    const std::string& app_id) {
  auto snapshot = std::make_shared<AppSnapshot>();
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> releases,
                          store_->CurrentReleases(app_id));
  for (const v1::Release& release : releases) {
    STRATA_ASSIGN_OR_RETURN(
        std::optional<v1::StoredArtifact> artifact,
        store_->GetArtifact(release.app_id(), release.module(),
                            release.version()));
    if (!artifact.has_value()) {
      return absl::DataLossError(StrCat("release ", release.release_id(),
                                        " names missing artifact version ",
                                        release.version()));
    }
    const v1::ArtifactStatement& st = artifact->statement();
    v1::UpdateEntry entry;
    *entry.mutable_module() = release.module();
    entry.set_release_id(release.release_id());
    entry.set_release_sequence(release.release_sequence());
    *entry.mutable_statement() = st;
    *entry.mutable_signatures() = artifact->signatures();
    entry.mutable_full()->set_sha256(st.content_sha256());
    entry.mutable_full()->set_size(st.size());
    if (release.module().layer() == v1::LAYER_CONFIG &&
        st.size() <= max_inline_bytes_) {
      STRATA_ASSIGN_OR_RETURN(
          std::string content,
          store_->ReadBlob(st.content_sha256(), 0, st.size()));
      entry.set_inline_content(std::move(content));
    }
    snapshot->entries.push_back(std::move(entry));
  }
  return std::shared_ptr<const AppSnapshot>(std::move(snapshot));
}

}  // namespace strata::server
