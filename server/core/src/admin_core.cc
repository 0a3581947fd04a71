#include "strata/server/core/admin_core.h"

#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/server/core/validation.h"

namespace strata::server {

absl::Status AdminCore::ValidateHeader(const v1::PublishHeader& header) const {
  STRATA_RETURN_IF_ERROR(ValidateStatement(header.statement()));
  if (header.statement().size() > limits_.max_artifact_bytes) {
    return absl::ResourceExhaustedError(StrCat(
        "artifact is ", header.statement().size(),
        " bytes; this server accepts at most ", limits_.max_artifact_bytes));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::PublishResponse> AdminCore::Publish(
    const v1::PublishHeader& header, std::string_view content) {
  STRATA_RETURN_IF_ERROR(ValidateHeader(header));
  const v1::ArtifactStatement& st = header.statement();
  if (content.size() != st.size()) {
    return absl::DataLossError(StrCat(
        "received ", content.size(), " bytes but the statement declares ",
        st.size(), "; the upload was cut or the statement is wrong"));
  }
  const std::string actual = Sha256::HexHash(content);
  if (actual != st.content_sha256()) {
    return absl::DataLossError(StrCat("content hashes to ", actual,
                                      " but the statement declares ",
                                      st.content_sha256()));
  }
  STRATA_ASSIGN_OR_RETURN(
      std::optional<v1::StoredArtifact> existing,
      store_->GetArtifact(st.app_id(), st.module(), st.version()));
  v1::PublishResponse response;
  if (existing.has_value()) {
    if (existing->statement().content_sha256() != st.content_sha256()) {
      return absl::AlreadyExistsError(
          StrCat("version ", st.version(), " of ", st.module().name(),
                 " is already published with other content (sha256 ",
                 existing->statement().content_sha256(),
                 "); versions are immutable, publish a new version"));
    }
    *response.mutable_statement() = existing->statement();
    response.set_already_existed(true);
    return response;
  }
  v1::StoredArtifact record;
  *record.mutable_statement() = st;
  *record.mutable_signatures() = header.signatures();
  record.set_published_at_unix(absl::ToUnixSeconds(clock_->Now()));
  record.set_idempotency_key(header.idempotency_key());
  STRATA_RETURN_IF_ERROR(store_->PutArtifact(record, content));
  *response.mutable_statement() = st;
  return response;
}

absl::StatusOr<v1::Release> AdminCore::CreateRelease(
    const v1::CreateReleaseRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(ValidateModule(req.module()));
  STRATA_RETURN_IF_ERROR(ValidateName("version", req.version()));
  STRATA_ASSIGN_OR_RETURN(
      std::optional<v1::StoredArtifact> artifact,
      store_->GetArtifact(req.app_id(), req.module(), req.version()));
  if (!artifact.has_value()) {
    return absl::NotFoundError(StrCat(
        "version ", req.version(), " of ", req.module().name(), " in app ",
        req.app_id(), " is not published; publish it first"));
  }
  v1::Release release;
  release.set_app_id(req.app_id());
  *release.mutable_module() = req.module();
  release.set_version(req.version());
  // Until staged rollouts exist every release goes to the whole fleet at once.
  release.set_state(v1::RELEASE_COMPLETED);
  release.set_created_at_unix(absl::ToUnixSeconds(clock_->Now()));
  return store_->CreateRelease(std::move(release));
}

absl::StatusOr<std::vector<v1::Release>> AdminCore::ListReleases(
    std::string_view app_id) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", app_id));
  return store_->ListReleases(app_id);
}

}  // namespace strata::server
