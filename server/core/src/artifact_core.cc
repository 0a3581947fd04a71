#include "strata/server/core/artifact_core.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "strata/base/json.h"
#include "strata/base/json_schema.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/ustar_reader.h"
#include "strata/server/core/release_model.h"
#include "strata/server/core/validation.h"
#include "strata/signing/metadata.h"

namespace strata::server {
namespace {

constexpr size_t kUstarBlock = 512;

// "config/payment.limits@3".
std::string Name(const v1::ModuleId& m, std::string_view version) {
  std::string layer(signing::LayerName(static_cast<signing::Layer>(m.layer())));
  return StrCat(layer, "/", m.name(), "@", version);
}

std::string Name(const v1::ArtifactStatement& st) {
  return Name(st.module(), st.version());
}

std::string Time(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

bool SameModule(const v1::ModuleId& a, const v1::ModuleId& b) {
  return a.layer() == b.layer() && a.name() == b.name();
}

bool Lists(const v1::Release& r, const v1::ModuleId& m,
           std::string_view version) {
  return std::any_of(r.artifacts().begin(), r.artifacts().end(),
                     [&](const v1::ReleaseArtifact& a) {
                       return SameModule(a.module(), m) &&
                              a.version() == version;
                     });
}

// Devices may run it (or be offered it): anything but a draft or a release
// that was rolled back.
bool DevicesMayRun(const v1::Release& r) {
  return r.state() != v1::RELEASE_DRAFT && r.state() != v1::RELEASE_ROLLED_BACK;
}

absl::Status ValidateModuleAndVersion(const v1::ModuleId& module,
                                      std::string_view version) {
  STRATA_RETURN_IF_ERROR(ValidateModule(module));
  return ValidateName("version", version);
}

}  // namespace

absl::Status ArtifactCore::CheckHeader(const v1::PublishHeader& header) const {
  const v1::ArtifactStatement& st = header.statement();
  if (st.size() == 0 && !header.allow_empty()) {
    return absl::InvalidArgumentError(StrCat(
        Name(st),
        " is empty (0 bytes); nothing is stored. Publish the "
        "content, or pass --allow-empty if an empty version is intended"));
  }
  if (st.module().layer() == v1::LAYER_CONFIG && st.size() > kMaxConfigBytes) {
    return absl::ResourceExhaustedError(StrCat(
        Name(st), " is ", st.size(), " bytes; config documents are at most ",
        kMaxConfigBytes, " bytes (16 MiB)"));
  }
  STRATA_ASSIGN_OR_RETURN(
      std::optional<v1::StoredArtifact> existing,
      store_->GetArtifact(st.app_id(), st.module(), st.version()));
  if (!existing.has_value()) return absl::OkStatus();
  if (existing->yanked_at_unix() != 0) {
    return absl::FailedPreconditionError(StrCat(
        Name(st), " was yanked at ", Time(existing->yanked_at_unix()), " by ",
        existing->yanked_by(), " (", existing->yank_reason(),
        "); versions are immutable, so it cannot be published again: publish "
        "this content as a new version"));
  }
  if (existing->statement().content_sha256() != st.content_sha256()) {
    std::string by = existing->published_by().empty()
                         ? std::string()
                         : StrCat(" by ", existing->published_by());
    return absl::AlreadyExistsError(StrCat(
        Name(st), " is already published with other content (sha256 ",
        existing->statement().content_sha256(), ", ",
        existing->statement().size(), " bytes, at ",
        Time(existing->published_at_unix()), by,
        "); versions are immutable: publish this content as a new version"));
  }
  return absl::OkStatus();
}

absl::Status ArtifactCore::CheckContent(const v1::PublishHeader& header,
                                        const BlobManifest& blob) const {
  const v1::ArtifactStatement& st = header.statement();
  if (blob.size == 0) {
    if (header.allow_empty()) return absl::OkStatus();
    return CheckHeader(header);  // names the refusal
  }
  if (st.module().layer() == v1::LAYER_CONFIG) {
    // The blob is not committed yet: read it through its manifest.
    std::string text;
    STRATA_RETURN_IF_ERROR(StreamBlob(*store_, blob, 0, blob.size,
                                      [&](uint64_t, std::string_view piece) {
                                        text.append(piece);
                                        return true;
                                      }));
    JsonParseOptions options;
    options.allow_fractions = true;
    options.max_bytes = kMaxConfigBytes;
    absl::StatusOr<Json> doc = Json::Parse(text, options);
    if (!doc.ok()) {
      return absl::InvalidArgumentError(StrCat(
          Name(st), " is not valid JSON: ", ToStd(doc.status().message()),
          "; nothing is stored. Fix the document and publish again"));
    }
    if (!doc->is_object()) {
      return absl::InvalidArgumentError(
          StrCat(Name(st),
                 " must be a JSON object (a key/value document); its top "
                 "level is ",
                 JsonTypeName(doc->type()), ". Nothing is stored"));
    }
    STRATA_ASSIGN_OR_RETURN(std::optional<v1::ModuleSchema> schema,
                            store_->GetModuleSchema(st.app_id(), st.module()));
    if (schema.has_value() && !schema->schema().empty()) {
      absl::StatusOr<JsonSchema> compiled = JsonSchema::Parse(schema->schema());
      if (!compiled.ok()) {
        return absl::DataLossError(
            StrCat("the stored schema of ", st.module().name(),
                   " does not parse: ", ToStd(compiled.status().message()),
                   "; set it again with `strata schema set`"));
      }
      if (absl::Status s = compiled->Check(*doc, Name(st)); !s.ok()) {
        return absl::InvalidArgumentError(
            StrCat(ToStd(s.message()), ". Nothing is stored"));
      }
    }
    return absl::OkStatus();
  }
  std::string head;
  STRATA_RETURN_IF_ERROR(StreamBlob(*store_, blob, 0, kUstarBlock,
                                    [&](uint64_t, std::string_view piece) {
                                      head.append(piece);
                                      return true;
                                    }));
  if (!diff::LooksLikeUstar(head)) return absl::OkStatus();
  // A tree: every header is checked as the archive streams by.
  diff::UstarReader reader;
  absl::Status parsed;
  STRATA_RETURN_IF_ERROR(StreamBlob(*store_, blob, 0, blob.size,
                                    [&](uint64_t, std::string_view piece) {
                                      parsed = reader.Append(piece);
                                      return parsed.ok();
                                    }));
  absl::StatusOr<std::vector<diff::UstarEntry>> entries =
      parsed.ok() ? reader.Finish()
                  : absl::StatusOr<std::vector<diff::UstarEntry>>(parsed);
  if (!entries.ok()) {
    return absl::InvalidArgumentError(
        StrCat(Name(st), " is a tar archive that cannot be published: ",
               ToStd(entries.status().message()), ". Nothing is stored"));
  }
  const bool any = std::any_of(
      entries->begin(), entries->end(), [](const diff::UstarEntry& e) {
        return e.type != diff::UstarEntry::Type::kDirectory;
      });
  if (!any && !header.allow_empty()) {
    return absl::InvalidArgumentError(
        StrCat(Name(st),
               " is a tar archive that holds no files; nothing is stored. "
               "Pass --allow-empty if an empty tree is intended"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ArtifactInfo> ArtifactCore::Info(
    const v1::StoredArtifact& a,
    const std::vector<v1::Release>& releases) const {
  v1::ArtifactInfo info;
  const v1::ArtifactStatement& st = a.statement();
  *info.mutable_statement() = st;
  for (const v1::Signature& s : a.signatures()) {
    info.add_signer_key_ids(s.key_id());
  }
  info.set_published_at_unix(a.published_at_unix());
  info.set_published_by(a.published_by());
  info.set_embedded(a.embedded());
  if (trust_ != nullptr && trust_->HasTrust(st.app_id())) {
    absl::StatusOr<uint64_t> counter = trust_->ReleaseCounter(
        st.app_id(), st.module(), st.version(), st.content_sha256(), st.size());
    if (counter.ok()) {
      info.set_target(
          signing::TargetName(static_cast<signing::Layer>(st.module().layer()),
                              st.module().name(), *counter));
    }
  }
  for (const v1::Release& r : releases) {
    if (!Lists(r, st.module(), st.version())) continue;
    v1::ArtifactRelease* out = info.add_releases();
    out->set_release_id(r.release_id());
    out->set_state(r.state());
    out->set_segment(r.segment());
    out->set_state_reason(r.state_reason());
    for (const v1::ReleaseArtifact& x : r.artifacts()) {
      if (SameModule(x.module(), st.module())) {
        out->set_release_sequence(x.release_sequence());
      }
    }
  }
  info.set_yanked_at_unix(a.yanked_at_unix());
  info.set_yanked_by(a.yanked_by());
  info.set_yank_reason(a.yank_reason());
  info.set_content_deleted(a.content_deleted());
  return info;
}

absl::StatusOr<v1::ListArtifactsResponse> ArtifactCore::List(
    const Principal& who, const v1::ListArtifactsRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(), "artifact.list"));
  if (!v1::Layer_IsValid(req.layer())) {
    return absl::InvalidArgumentError("unknown layer");
  }
  if (!req.module().empty()) {
    STRATA_RETURN_IF_ERROR(ValidateName("module name", req.module()));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::StoredArtifact> all,
                          store_->ListArtifacts(req.app_id()));
  if (all.empty()) {
    STRATA_RETURN_IF_ERROR(RequireKnownApp(*store_, trust_, req.app_id()));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> releases,
                          store_->ListReleases(req.app_id()));
  std::vector<const v1::StoredArtifact*> chosen;
  for (const v1::StoredArtifact& a : all) {
    const v1::ModuleId& m = a.statement().module();
    if (req.layer() != v1::LAYER_UNSPECIFIED && m.layer() != req.layer()) {
      continue;
    }
    if (!req.module().empty() && m.name() != req.module()) continue;
    chosen.push_back(&a);
  }
  std::sort(chosen.begin(), chosen.end(),
            [](const v1::StoredArtifact* x, const v1::StoredArtifact* y) {
              const auto& a = x->statement();
              const auto& b = y->statement();
              return std::make_tuple(static_cast<int>(a.module().layer()),
                                     a.module().name(), x->published_at_unix(),
                                     a.version()) <
                     std::make_tuple(static_cast<int>(b.module().layer()),
                                     b.module().name(), y->published_at_unix(),
                                     b.version());
            });
  v1::ListArtifactsResponse out;
  for (const v1::StoredArtifact* a : chosen) {
    STRATA_ASSIGN_OR_RETURN(*out.add_artifacts(), Info(*a, releases));
  }
  return out;
}

absl::StatusOr<v1::ArtifactInfo> ArtifactCore::Get(
    const Principal& who, const v1::GetArtifactRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(), "artifact.get"));
  STRATA_RETURN_IF_ERROR(ValidateModuleAndVersion(req.module(), req.version()));
  STRATA_ASSIGN_OR_RETURN(
      std::optional<v1::StoredArtifact> a,
      store_->GetArtifact(req.app_id(), req.module(), req.version()));
  if (!a.has_value()) {
    return absl::NotFoundError(
        StrCat(Name(req.module(), req.version()), " is not published in app ",
               req.app_id(), "; `strata artifact list --app ", req.app_id(),
               " --module ", req.module().name(), "` shows its versions"));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> releases,
                          store_->ListReleases(req.app_id()));
  return Info(*a, releases);
}

absl::StatusOr<v1::YankArtifactResponse> ArtifactCore::Yank(
    const Principal& who, const v1::YankArtifactRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_RELEASE_MANAGER,
                                             req.app_id(), "artifact.yank"));
  STRATA_RETURN_IF_ERROR(ValidateModuleAndVersion(req.module(), req.version()));
  const std::string name = Name(req.module(), req.version());
  if (req.reason().empty()) {
    return absl::InvalidArgumentError(
        StrCat("a yank needs a reason (--reason TEXT): it is shown wherever ",
               name, " is listed and kept in the audit log"));
  }
  STRATA_ASSIGN_OR_RETURN(
      std::optional<v1::StoredArtifact> a,
      store_->GetArtifact(req.app_id(), req.module(), req.version()));
  if (!a.has_value()) {
    v1::GetArtifactRequest get;
    get.set_app_id(req.app_id());
    *get.mutable_module() = req.module();
    get.set_version(req.version());
    return Get(who, get).status();  // the NOT_FOUND message
  }
  if (a->embedded()) {
    return absl::FailedPreconditionError(
        StrCat(name,
               " is the app's embedded baseline: it ships inside the app and "
               "is never offered, so there is nothing to yank"));
  }
  v1::YankArtifactResponse out;
  if (a->yanked_at_unix() != 0) {
    out.set_already_yanked(true);
  } else {
    a->set_yanked_at_unix(absl::ToUnixSeconds(clock_->Now()));
    a->set_yanked_by(who.name);
    a->set_yank_reason(req.reason());
    const std::string why =
        StrCat("yanked ", name, ": ", req.reason(), " (", who.name, ")");
    STRATA_ASSIGN_OR_RETURN(
        std::vector<v1::Release> halted,
        releases_->HaltForYank(
            req.app_id(), req.module(), req.version(), why,
            [&](const std::vector<v1::Release>& halted) {
              std::string ids;
              for (const v1::Release& r : halted) {
                ids += StrCat(" release_id=", r.release_id());
              }
              return store_->YankArtifact(
                  *a, halted,
                  MakeAudit(clock_, who.name, "artifact.yank", req.app_id(),
                            StrCat("artifact=", name,
                                   " sha256=", a->statement().content_sha256(),
                                   " halted=", halted.size(), ids,
                                   " reason=", req.reason())));
            }));
    for (v1::Release& r : halted) *out.add_halted() = std::move(r);
  }
  STRATA_ASSIGN_OR_RETURN(std::string kept, TryDelete(*a));
  out.set_content_kept_because(kept);
  v1::GetArtifactRequest get;
  get.set_app_id(req.app_id());
  *get.mutable_module() = req.module();
  get.set_version(req.version());
  STRATA_ASSIGN_OR_RETURN(*out.mutable_artifact(), Get(who, get));
  return out;
}

absl::StatusOr<std::string> ArtifactCore::TryDelete(
    const v1::StoredArtifact& yanked) {
  const v1::ArtifactStatement& st = yanked.statement();
  MutexLock lock(&collect_mu_);
  STRATA_ASSIGN_OR_RETURN(
      std::optional<v1::StoredArtifact> current,
      store_->GetArtifact(st.app_id(), st.module(), st.version()));
  if (!current.has_value() || current->content_deleted()) return std::string();
  const std::string sha = st.content_sha256();
  auto still_needed = [&](std::vector<v1::StoredArtifact>* mark)
      -> absl::StatusOr<std::string> {
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::StoredArtifact> all,
                            store_->ListArtifacts(""));
    std::map<std::string, std::vector<v1::Release>> releases;  // by app
    for (const v1::StoredArtifact& a : all) {
      const v1::ArtifactStatement& other = a.statement();
      if (other.content_sha256() != sha || a.content_deleted()) continue;
      // Every yanked version with this content is marked with the delete.
      mark->push_back(a);
      mark->back().set_content_deleted(true);
      if (a.yanked_at_unix() == 0) {
        return StrCat(Name(other), " of app ", other.app_id(),
                      " has the same content and is not yanked");
      }
      auto it = releases.find(other.app_id());
      if (it == releases.end()) {
        STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> list,
                                store_->ListReleases(other.app_id()));
        it = releases.emplace(other.app_id(), std::move(list)).first;
      }
      for (const v1::Release& r : it->second) {
        if (DevicesMayRun(r) && Lists(r, other.module(), other.version())) {
          return StrCat(
              "release ", r.release_id(), " (", StateName(r.state()),
              ") of app ", other.app_id(), " lists ", Name(other),
              ": devices that run it keep it. Roll the release back (`strata "
              "release rollback ",
              r.release_id(),
              "`) to move them off it; the content is "
              "deleted then");
        }
      }
    }
    return std::string();
  };
  STRATA_ASSIGN_OR_RETURN(
      std::string kept,
      store_->DeleteArtifactContent(
          sha, still_needed,
          MakeAudit(clock_, "stratad", "artifact.content_deleted", st.app_id(),
                    StrCat("artifact=", Name(st), " sha256=", sha,
                           " size=", st.size()))));
  MutexLock waiting(&mu_);
  if (!kept.empty()) waiting_.insert(st.app_id());
  return kept;
}

absl::Status ArtifactCore::CollectYanked(const std::string& app_id) {
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::StoredArtifact> all,
                          store_->ListArtifacts(app_id));
  std::set<std::string> apps;
  std::set<std::string> kept;
  for (const v1::StoredArtifact& a : all) {
    apps.insert(a.statement().app_id());
    if (a.yanked_at_unix() == 0 || a.content_deleted()) continue;
    STRATA_ASSIGN_OR_RETURN(std::string why, TryDelete(a));
    if (why.empty()) {
      STRATA_LOG(Info) << "deleted the content of yanked "
                       << Name(a.statement()) << " of app "
                       << a.statement().app_id();
    } else {
      kept.insert(a.statement().app_id());
    }
  }
  MutexLock lock(&mu_);
  for (const std::string& app : apps) {
    if (!kept.count(app)) waiting_.erase(app);
  }
  return absl::OkStatus();
}

void ArtifactCore::ReleasesChanged(const std::string& app_id) {
  {
    MutexLock lock(&mu_);
    if (!waiting_.count(app_id)) return;
  }
  if (absl::Status s = CollectYanked(app_id); !s.ok()) {
    STRATA_LOG(Error) << "deleting yanked content of app " << app_id << ": "
                      << s;
  }
}

absl::StatusOr<v1::ModuleSchema> ArtifactCore::SetSchema(
    const Principal& who, const v1::SetModuleSchemaRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_RELEASE_MANAGER,
                                             req.app_id(), "schema.set"));
  STRATA_RETURN_IF_ERROR(ValidateModule(req.module()));
  if (req.module().layer() != v1::LAYER_CONFIG) {
    return absl::InvalidArgumentError(
        "schemas are for CONFIG modules (JSON documents); other layers are "
        "checked by their format only");
  }
  if (req.schema().size() > (1u << 20)) {
    return absl::ResourceExhaustedError("a schema is at most 1 MiB");
  }
  if (!req.schema().empty()) {
    STRATA_ASSIGN_OR_RETURN(JsonSchema schema, JsonSchema::Parse(req.schema()));
    (void)schema;
  }
  v1::ModuleSchema stored;
  stored.set_app_id(req.app_id());
  *stored.mutable_module() = req.module();
  stored.set_schema(req.schema());
  stored.set_updated_at_unix(absl::ToUnixSeconds(clock_->Now()));
  stored.set_updated_by(who.name);
  const std::string module = StrCat("config/", req.module().name());
  STRATA_RETURN_IF_ERROR(store_->PutModuleSchema(
      stored,
      MakeAudit(clock_, who.name,
                req.schema().empty() ? "schema.clear" : "schema.set",
                req.app_id(),
                StrCat("module=", module, " sha256=",
                       req.schema().empty() ? std::string("-")
                                            : Sha256::HexHash(req.schema()),
                       " bytes=", req.schema().size()))));
  return stored;
}

absl::StatusOr<v1::ModuleSchema> ArtifactCore::GetSchema(
    const Principal& who, const v1::GetModuleSchemaRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(), "schema.get"));
  STRATA_RETURN_IF_ERROR(ValidateModule(req.module()));
  STRATA_ASSIGN_OR_RETURN(std::optional<v1::ModuleSchema> stored,
                          store_->GetModuleSchema(req.app_id(), req.module()));
  if (stored.has_value()) return *stored;
  v1::ModuleSchema none;
  none.set_app_id(req.app_id());
  *none.mutable_module() = req.module();
  return none;
}

}  // namespace strata::server
