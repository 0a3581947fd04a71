#include "strata/server/core/admin_core.h"

#include <algorithm>

#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/rollout/expression.h"
#include "strata/rollout/user_id_set.h"
#include "strata/server/core/blob_writer.h"
#include "strata/server/core/release_model.h"
#include "strata/server/core/validation.h"

namespace strata::server {
namespace {

std::string Describe(const v1::ModuleId& m) {
  return StrCat(static_cast<int>(m.layer()), ":", m.name());
}

}  // namespace

AdminCore::AdminCore(Store* store, Clock* clock, AdminLimits limits,
                     TrustRepo* trust)
    : store_(store),
      clock_(clock),
      limits_(limits),
      owned_trust_(trust == nullptr
                       ? std::make_unique<TrustRepo>(store, clock, nullptr)
                       : nullptr),
      trust_(trust == nullptr ? owned_trust_.get() : trust),
      releases_(store, clock, &fleet_, trust_),
      artifacts_(store, clock, &releases_, trust_),
      failures_(store, trust_) {
  releases_.OnReleasesChanged(
      [this](const std::string& app) { artifacts_.ReleasesChanged(app); });
}

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
  const v1::ArtifactStatement& st = header.statement();
  if (trust_->HasTrust(st.app_id())) {
    // Checked before any content is taken; again when it is stored.
    STRATA_ASSIGN_OR_RETURN(
        std::optional<v1::StoredArtifact> existing,
        store_->GetArtifact(st.app_id(), st.module(), st.version()));
    const bool same_again =
        existing.has_value() &&
        existing->statement().content_sha256() == st.content_sha256();
    const bool unsigned_embedded =
        header.embedded() && header.layer_role().empty();
    if (!same_again && !unsigned_embedded) {
      STRATA_RETURN_IF_ERROR(trust_->CheckPublish(st, header.layer_role()));
    }
  } else if (limits_.require_signatures) {
    return absl::FailedPreconditionError(StrCat(
        "app ", st.app_id(),
        " has no root of trust, so no publish can be verified; install one "
        "with `strata trust init` (or start stratad with "
        "--allow-unsigned-publishes for development only)"));
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
  // Empty content, oversized config, a taken version: before any upload.
  return artifacts_.CheckHeader(header);
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
    // Other content or a yank: refused, saying versions are immutable.
    STRATA_RETURN_IF_ERROR(artifacts_.CheckHeader(header));
    *response.mutable_statement() = existing->statement();
    response.set_already_existed(true);
    return response;
  }
  STRATA_RETURN_IF_ERROR(artifacts_.CheckContent(header, blob));
  v1::StoredArtifact record;
  *record.mutable_statement() = st;
  *record.mutable_signatures() = header.signatures();
  record.set_published_at_unix(absl::ToUnixSeconds(clock_->Now()));
  record.set_idempotency_key(key);
  record.set_embedded(header.embedded());
  record.set_published_by(who.name);
  *response.mutable_statement() = st;
  v1::IdempotencyRecord idem;
  idem.set_content_sha256(st.content_sha256());
  *idem.mutable_response() = response;
  v1::AuditEntry audit =
      Audit(who, "publish", st.app_id(),
            StrCat("module=", Describe(st.module()), " version=", st.version(),
                   " sha256=", st.content_sha256(), " size=", st.size()));
  const v1::IdempotencyRecord* idem_record = key.empty() ? nullptr : &idem;
  if (trust_->HasTrust(st.app_id()) &&
      !(header.embedded() && header.layer_role().empty())) {
    // The artifact, the publishers' layer role and the re-signed snapshot
    // and timestamp in one batch.
    STRATA_RETURN_IF_ERROR(trust_->CommitPublish(
        st, header.layer_role(), [&](const std::vector<TrustFile>& files) {
          return store_->PutArtifact(record, blob, idem_record,
                                     std::move(audit), &files);
        }));
  } else {
    STRATA_RETURN_IF_ERROR(
        store_->PutArtifact(record, blob, idem_record, std::move(audit)));
  }
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

absl::Status AdminCore::LoadTrust() { return trust_->Load(); }

absl::StatusOr<v1::SetTrustResponse> AdminCore::SetTrust(
    const Principal& who, const v1::SetTrustRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_ADMIN, req.app_id(), "trust.set"));
  return trust_->SetTrust(
      req, Audit(who, "trust.set", req.app_id(),
                 StrCat("root_sha256=", Sha256::HexHash(req.root()),
                        " targets_sha256=", Sha256::HexHash(req.targets()),
                        " layer_roles=", req.layer_roles_size())));
}

absl::StatusOr<v1::TrustInfo> AdminCore::GetTrust(
    const Principal& who, const v1::GetTrustRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(), "trust.get"));
  return trust_->Info(req.app_id());
}

absl::StatusOr<v1::TrustInfo> AdminCore::PutLayerRole(
    const Principal& who, const v1::PutLayerRoleRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_PUBLISHER,
                                             req.app_id(), "trust.put_role"));
  STRATA_RETURN_IF_ERROR(trust_->PutLayerRole(
      req.app_id(), req.role(),
      Audit(who, "trust.put_role", req.app_id(),
            StrCat("sha256=", Sha256::HexHash(req.role())))));
  return trust_->Info(req.app_id());
}

absl::StatusOr<v1::GenerateOnlineKeysResponse> AdminCore::GenerateOnlineKeys(
    const Principal& who, const v1::GenerateOnlineKeysRequest& req) {
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_ADMIN, "*", "trust.online_keys"));
  if (trust_->keys() == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no online key directory (--online-keys-dir)");
  }
  std::vector<std::string> roles(req.roles().begin(), req.roles().end());
  STRATA_ASSIGN_OR_RETURN(std::vector<OnlineKey> keys,
                          trust_->keys()->Generate(roles));
  v1::GenerateOnlineKeysResponse response;
  std::string ids;
  for (const OnlineKey& k : keys) {
    v1::OnlineKey* o = response.add_keys();
    o->set_role(k.role);
    o->set_key_id(k.key_id);
    o->set_public_key_pem(k.key->public_key().ToPem());
    o->set_in_use(false);  // until a root lists it
    if (!ids.empty()) ids += ",";
    ids += StrCat(k.role, ":", k.key_id);
  }
  STRATA_RETURN_IF_ERROR(store_->AppendAudit(
      Audit(who, "trust.online_keys", "*", StrCat("keys=", ids))));
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
  const bool force = segment.force();
  segment.clear_force();
  MutexLock lock(&segments_mu_);
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> existing,
                          store_->ListSegments(segment.app_id()));
  std::string users;
  for (const v1::Segment& old : existing) {
    if (old.name() != segment.name()) continue;
    const bool same =
        old.expression() == segment.expression() &&
        std::equal(old.allow_user_ids().begin(), old.allow_user_ids().end(),
                   segment.allow_user_ids().begin(),
                   segment.allow_user_ids().end()) &&
        std::equal(old.deny_user_ids().begin(), old.deny_user_ids().end(),
                   segment.deny_user_ids().begin(),
                   segment.deny_user_ids().end());
    if (same) break;
    STRATA_ASSIGN_OR_RETURN(
        std::vector<v1::Release> live,
        releases_.ReleasesUsingSegment(segment.app_id(), segment.name(),
                                       /*with_drafts=*/true));
    for (const v1::Release& r : live) {
      if (!users.empty()) users += ", ";
      users += StrCat(r.release_id(), " (", StateName(r.state()), ")");
    }
    if (!users.empty() && !force) {
      return absl::FailedPreconditionError(StrCat(
          "segment ", segment.name(), " is targeted by live releases ", users,
          "; changing it changes which devices they reach (was: ",
          old.expression(),
          "). Put the new rule under a new name and release to that, or pass "
          "--force to change it for them too (audited)"));
    }
  }
  segment.set_updated_at_unix(absl::ToUnixSeconds(clock_->Now()));
  std::string detail =
      StrCat("name=", segment.name(), " expression=", segment.expression(),
             " allow=", allow.size(), " deny=", deny.size());
  if (!users.empty()) detail += StrCat(" retargets releases ", users);
  STRATA_RETURN_IF_ERROR(store_->PutSegment(
      segment, Audit(who, users.empty() ? "segment.put" : "segment.force_put",
                     segment.app_id(), detail)));
  // Releases targeting it now reach other devices.
  if (releases_changed_) releases_changed_(segment.app_id());
  return segment;
}

absl::StatusOr<std::vector<v1::Segment>> AdminCore::ListSegments(
    const Principal& who, std::string_view app_id) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", app_id));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, app_id, "segment.list"));
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> segments,
                          store_->ListSegments(app_id));
  if (segments.empty()) {
    STRATA_RETURN_IF_ERROR(RequireKnownApp(*store_, trust_, app_id));
  }
  return segments;
}

absl::StatusOr<v1::DeleteSegmentResponse> AdminCore::DeleteSegment(
    const Principal& who, const v1::DeleteSegmentRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_RELEASE_MANAGER,
                                             req.app_id(), "segment.delete"));
  STRATA_RETURN_IF_ERROR(ValidateName("segment name", req.name()));
  MutexLock lock(&segments_mu_);
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> existing,
                          store_->ListSegments(req.app_id()));
  auto it = std::find_if(
      existing.begin(), existing.end(),
      [&](const v1::Segment& s) { return s.name() == req.name(); });
  if (it == existing.end()) {
    return absl::NotFoundError(StrCat(
        "segment ", req.name(), " does not exist in app ", req.app_id(),
        "; `strata segment list --app ", req.app_id(), "` shows the segments"));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> live,
                          releases_.ReleasesUsingSegment(
                              req.app_id(), req.name(), /*with_drafts=*/true));
  if (!live.empty()) {
    std::string users;
    for (const v1::Release& r : live) {
      if (!users.empty()) users += ", ";
      users += StrCat(r.release_id(), " (", StateName(r.state()), ")");
    }
    return absl::FailedPreconditionError(StrCat(
        "segment ", req.name(), " is targeted by live releases ", users,
        "; it can be deleted once none is (roll back or supersede them)"));
  }
  STRATA_RETURN_IF_ERROR(store_->DeleteSegment(
      req.app_id(), req.name(),
      Audit(who, "segment.delete", req.app_id(),
            StrCat("name=", req.name(), " expression=", it->expression(),
                   " allow=", it->allow_user_ids_size(),
                   " deny=", it->deny_user_ids_size()))));
  if (releases_changed_) releases_changed_(req.app_id());
  v1::DeleteSegmentResponse out;
  *out.mutable_segment() = *it;
  return out;
}

absl::StatusOr<v1::GetSegmentHistoryResponse> AdminCore::SegmentHistory(
    const Principal& who, const v1::GetSegmentHistoryRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(),
                                             "segment.history"));
  STRATA_RETURN_IF_ERROR(ValidateName("segment name", req.name()));
  const std::string name = StrCat("name=", req.name(), " ");
  v1::GetSegmentHistoryResponse out;
  uint64_t after = 0;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::AuditEntry> page,
                            store_->ListAudit(after, 1000));
    for (v1::AuditEntry& e : page) {
      if (e.app_id() == req.app_id() && e.action().rfind("segment.", 0) == 0 &&
          e.detail().rfind(name, 0) == 0) {
        *out.add_entries() = std::move(e);
      }
    }
    if (page.size() < 1000) break;
    after = page.back().seq();
  }
  if (out.entries().empty()) {
    return absl::NotFoundError(StrCat("segment ", req.name(), " of app ",
                                      req.app_id(), " has no history"));
  }
  return out;
}

}  // namespace strata::server
