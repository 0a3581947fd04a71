#include "strata/server/core/validation.h"

#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/storage/store.h"

namespace strata::server {

absl::Status ValidateModule(const v1::ModuleId& module) {
  if (module.layer() == v1::LAYER_UNSPECIFIED ||
      !v1::Layer_IsValid(module.layer())) {
    return absl::InvalidArgumentError(
        "module layer is missing; use one of config, h5, hcf, hotpatch, "
        "native");
  }
  return ValidateName("module name", module.name());
}

absl::Status ValidateStatement(const v1::ArtifactStatement& st) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", st.app_id()));
  STRATA_RETURN_IF_ERROR(ValidateModule(st.module()));
  STRATA_RETURN_IF_ERROR(ValidateName("version", st.version()));
  if (!IsSha256Hex(st.content_sha256())) {
    return absl::InvalidArgumentError(
        StrCat("content_sha256 '", st.content_sha256(),
               "' is not 64 lowercase hex characters"));
  }
  if (st.module().layer() == v1::LAYER_HOTPATCH &&
      st.compatibility().host_build().empty()) {
    return absl::InvalidArgumentError(
        "a hotpatch must name the one host build it is for "
        "(compatibility.host_build)");
  }
  return absl::OkStatus();
}

v1::AuditEntry MakeAudit(Clock* clock, std::string_view actor,
                         std::string_view action, std::string_view app_id,
                         std::string detail) {
  v1::AuditEntry e;
  e.set_at_unix(absl::ToUnixSeconds(clock->Now()));
  e.set_actor(std::string(actor));
  e.set_action(std::string(action));
  e.set_app_id(std::string(app_id));
  e.set_detail(std::move(detail));
  return e;
}

absl::StatusOr<bool> AppIsKnown(Store& store, const TrustRepo* trust,
                                std::string_view app_id) {
  // Cheapest first; each store lookup is one prefix seek.
  if (trust != nullptr && trust->HasTrust(app_id)) return true;
  const std::string app(app_id);
  STRATA_ASSIGN_OR_RETURN(auto releases, store.ListReleases(app));
  if (!releases.empty()) return true;
  STRATA_ASSIGN_OR_RETURN(auto segments, store.ListSegments(app));
  if (!segments.empty()) return true;
  STRATA_ASSIGN_OR_RETURN(auto artifacts, store.ListArtifacts(app));
  return !artifacts.empty();
}

absl::Status RequireKnownApp(Store& store, const TrustRepo* trust,
                             std::string_view app_id) {
  STRATA_ASSIGN_OR_RETURN(bool known, AppIsKnown(store, trust, app_id));
  if (known) return absl::OkStatus();
  return absl::NotFoundError(
      StrCat("app ", app_id,
             " is not known to this server: it has no root of trust, no "
             "published version, no segment and no release; check --app "
             "(an app begins with `strata trust init` or its first "
             "`strata publish`)"));
}

}  // namespace strata::server
