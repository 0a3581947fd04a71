#include "strata/server/core/delivery_core.h"

#include <map>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/server/core/validation.h"

namespace strata::server {

absl::StatusOr<v1::CheckResponse> DeliveryCore::Check(
    const v1::CheckRequest& request) {
  const v1::DeviceContext& device = request.device();
  STRATA_RETURN_IF_ERROR(ValidateName("app id", device.app_id()));
  if (device.device_id().empty()) {
    return absl::InvalidArgumentError(
        "device_id is empty; every device needs a stable id");
  }
  std::map<std::pair<int, std::string>, const v1::InstalledModule*> installed;
  for (const auto& m : request.installed()) {
    installed[{m.module().layer(), m.module().name()}] = &m;
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> releases,
                          store_->CurrentReleases(device.app_id()));
  v1::CheckResponse response;
  v1::UpdatePlan* plan = response.mutable_plan();
  const absl::Time now = clock_->Now();
  plan->set_app_id(device.app_id());
  plan->set_device_id(device.device_id());
  plan->set_issued_at_unix(absl::ToUnixSeconds(now));
  plan->set_expires_at_unix(absl::ToUnixSeconds(now + options_.plan_lifetime));
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
    auto it =
        installed.find({release.module().layer(), release.module().name()});
    if (it != installed.end() &&
        it->second->content_sha256() == st.content_sha256()) {
      continue;  // already up to date
    }
    v1::UpdateEntry* entry = plan->add_updates();
    *entry->mutable_module() = release.module();
    entry->set_release_id(release.release_id());
    entry->set_release_sequence(release.release_sequence());
    *entry->mutable_statement() = st;
    *entry->mutable_signatures() = artifact->signatures();
    entry->mutable_full()->set_sha256(st.content_sha256());
    entry->mutable_full()->set_size(st.size());
    if (release.module().layer() == v1::LAYER_CONFIG &&
        st.size() <= options_.max_inline_bytes) {
      STRATA_ASSIGN_OR_RETURN(
          std::string content,
          store_->ReadBlob(st.content_sha256(), 0, st.size()));
      entry->set_inline_content(std::move(content));
    }
  }
  return response;
}

}  // namespace strata::server
