#include "strata/server/core/admin_core.h"

#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/rollout/expression.h"
#include "strata/rollout/user_id_set.h"
#include "strata/server/core/blob_writer.h"
#include "strata/server/core/validation.h"

namespace strata::server {
namespace {

std::string Describe(const v1::ModuleId& m) {
  return StrCat(static_cast<int>(m.layer()), ":", m.name());
}

}  // namespace

v1::AuditEntry AdminCore::Audit(const Principal& who, std::string_view action,
                                std::string_view app_id,
                                std::string detail) const {
  return MakeAudit(clock_, who.name, action, app_id, std::move(detail));
}

absl::Status AdminCore::ValidateHeader(const Principal& who,
                                       const v1::PublishHeader& header) const {
  STRATA_RETURN_IF_ERROR(ValidateStatement(header.statement()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(
      who, v1::ROLE_PUBLISHER, header.statement().app_id(), "publish"));
  if (limits_.require_signatures) {
    STRATA_RETURN_IF_ERROR(
        trust_.VerifyStatement(header.statement(), header.signatures()));
  }
  if (header.statement().size() > limits_.max_artifact_bytes) {
    return absl::ResourceExhaustedError(StrCat(
        "artifact is ", header.statement().size(),
        " bytes; this server accepts at most ", limits_.max_artifact_bytes));
  }
  if (static_cast<uint32_t>(header.signatures_size()) >
      limits_.max_signatures) {
    return absl::ResourceExhaustedError(
        StrCat("at most ", limits_.max_signatures, " signatures per artifact"));
  }
  if (header.idempotency_key().size() > 256) {
    return absl::InvalidArgumentError(
        "idempotency key is longer than 256 bytes");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::PublishResponse> AdminCore::Publish(
    const Principal& who, const v1::PublishHeader& header,
    const BlobManifest& blob) {
  STRATA_RETURN_IF_ERROR(ValidateHeader(who, header));
  const v1::ArtifactStatement& st = header.statement();
  if (blob.size != st.size()) {
    return absl::DataLossError(
        StrCat("received ", blob.size, " bytes but the statement declares ",
               st.size(), "; the upload was cut or the statement is wrong"));
  }
  if (blob.sha256 != st.content_sha256()) {
    return absl::DataLossError(StrCat("content hashes to ", blob.sha256,
                                      " but the statement declares ",
                                      st.content_sha256()));
  }
  const std::string& key = header.idempotency_key();
  if (!key.empty()) {
    STRATA_ASSIGN_OR_RETURN(std::optional<v1::IdempotencyRecord> seen,
                            store_->GetIdempotency(st.app_id(), key));
    if (seen.has_value()) {
      if (seen->content_sha256() != st.content_sha256() ||
          seen->response().statement().version() != st.version() ||
          seen->response().statement().module().name() != st.module().name()) {
        return absl::AlreadyExistsError(
            StrCat("idempotency key '", key, "' was already used for ",
                   seen->response().statement().module().name(), " ",
                   seen->response().statement().version(),
                   " with other content; use a new key for a new upload"));
      }
      v1::PublishResponse again = seen->response();
      again.set_already_existed(true);
      return again;
    }
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
  record.set_idempotency_key(key);
  record.set_embedded(header.embedded());
  *response.mutable_statement() = st;
  v1::IdempotencyRecord idem;
  idem.set_content_sha256(st.content_sha256());
  *idem.mutable_response() = response;
  STRATA_RETURN_IF_ERROR(store_->PutArtifact(
      record, blob, key.empty() ? nullptr : &idem,
      Audit(who, "publish", st.app_id(),
            StrCat("module=", Describe(st.module()), " version=", st.version(),
                   " sha256=", st.content_sha256(), " size=", st.size()))));
  if (published_) published_(st);
  return response;
}

absl::StatusOr<v1::PublishResponse> AdminCore::PublishBytes(
    const Principal& who, const v1::PublishHeader& header,
    std::string_view content) {
  STRATA_RETURN_IF_ERROR(ValidateHeader(who, header));
  STRATA_ASSIGN_OR_RETURN(BlobManifest blob,
                          BlobWriter::WriteAll(store_, content));
  return Publish(who, header, blob);
}

absl::StatusOr<std::vector<v1::AuditEntry>> AdminCore::ListAudit(
    const Principal& who, uint64_t after_seq, uint32_t limit) {
  // The log spans every app: only tokens for every app may read it.
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, "*", "audit.list"));
  if (limit == 0 || limit > limits_.max_audit_page)
    limit = limits_.max_audit_page;
  return store_->ListAudit(after_seq, limit);
}

}  // namespace strata::server

namespace strata::server {

absl::StatusOr<v1::BackupResponse> AdminCore::Backup(
    const Principal& who, const v1::BackupRequest& req) {
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_ADMIN, "*", "backup"));
  if (req.directory().empty() || req.directory()[0] != '/') {
    return absl::InvalidArgumentError(
        "backup directory must be an absolute path on the server's machine");
  }
  STRATA_ASSIGN_OR_RETURN(uint64_t audit_seq,
                          store_->Checkpoint(req.directory()));
  // Recorded after the fact: a refused backup changes nothing.
  STRATA_RETURN_IF_ERROR(store_->AppendAudit(
      Audit(who, "backup", "*",
            StrCat("directory=", req.directory(), " audit_seq=", audit_seq))));
  v1::BackupResponse response;
  response.set_directory(req.directory());
  response.set_audit_seq(audit_seq);
  return response;
}

}  // namespace strata::server

namespace strata::server {

absl::Status AdminCore::LoadTrust() {
  STRATA_ASSIGN_OR_RETURN(auto stored, store_->GetTrust());
  if (!stored.has_value()) return absl::OkStatus();
  return Annotate(trust_.Install(stored->first, stored->second),
                  "the stored root of trust no longer verifies");
}

absl::StatusOr<v1::SetTrustResponse> AdminCore::SetTrust(
    const Principal& who, const v1::SetTrustRequest& req) {
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_ADMIN, "*", "trust.set"));
  STRATA_ASSIGN_OR_RETURN(v1::SetTrustResponse response,
                          trust_.Check(req.root(), req.targets()));
  STRATA_RETURN_IF_ERROR(store_->PutTrust(
      req.root(), req.targets(),
      Audit(who, "trust.set", "*",
            StrCat("root_version=", response.root_version(),
                   " targets_version=", response.targets_version(),
                   " root_sha256=", Sha256::HexHash(req.root())))));
  STRATA_RETURN_IF_ERROR(trust_.Install(req.root(), req.targets()));
  return response;
}

}  // namespace strata::server

namespace strata::server {

absl::StatusOr<v1::Segment> AdminCore::PutSegment(const Principal& who,
                                                  v1::Segment segment) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", segment.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_RELEASE_MANAGER,
                                             segment.app_id(), "segment.put"));
  STRATA_RETURN_IF_ERROR(ValidateName("segment name", segment.name()));
  if (absl::StatusOr<rollout::Expression> e =
          rollout::Expression::Compile(segment.expression());
      !e.ok()) {
    return Annotate(e.status(), StrCat("segment ", segment.name()));
  }
  std::vector<std::string> allow(segment.allow_user_ids().begin(),
                                 segment.allow_user_ids().end());
  std::vector<std::string> deny(segment.deny_user_ids().begin(),
                                segment.deny_user_ids().end());
  STRATA_RETURN_IF_ERROR(
      Annotate(rollout::UserIdSet::FromIds(allow).status(), "allow list"));
  STRATA_RETURN_IF_ERROR(
      Annotate(rollout::UserIdSet::FromIds(deny).status(), "deny list"));
  segment.set_updated_at_unix(absl::ToUnixSeconds(clock_->Now()));
  STRATA_RETURN_IF_ERROR(store_->PutSegment(
      segment, Audit(who, "segment.put", segment.app_id(),
                     StrCat("name=", segment.name(),
                            " expression=", segment.expression(),
                            " allow=", allow.size(), " deny=", deny.size()))));
  // Releases targeting it now reach other devices.
  if (releases_changed_) releases_changed_(segment.app_id());
  return segment;
}

absl::StatusOr<std::vector<v1::Segment>> AdminCore::ListSegments(
    const Principal& who, std::string_view app_id) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", app_id));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, app_id, "segment.list"));
  return store_->ListSegments(app_id);
}

}  // namespace strata::server
