#include "strata/server/core/auth_core.h"

#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {

std::string RoleName(v1::Role role) {
  switch (role) {
    case v1::ROLE_VIEWER:
      return "viewer";
    case v1::ROLE_PUBLISHER:
      return "publisher";
    case v1::ROLE_RELEASE_MANAGER:
      return "release_manager";
    case v1::ROLE_ADMIN:
      return "admin";
    default:
      return "none";
  }
}

absl::StatusOr<Principal> AuthCore::Authenticate(std::string_view token) {
  if (token.empty()) {
    return absl::UnauthenticatedError(
        "no token; pass --token, set STRATA_TOKEN, or run `strata login`");
  }
  STRATA_ASSIGN_OR_RETURN(std::optional<v1::StoredToken> stored,
                          store_->GetToken(Sha256::HexHash(token)));
  if (!stored.has_value()) {
    return absl::UnauthenticatedError(
        "unknown token; ask an admin for a valid one");
  }
  return Principal{stored->name(), stored->role(), stored->app_id()};
}

absl::Status AuthCore::Authorize(const Principal& who, v1::Role needed,
                                 std::string_view app_id,
                                 std::string_view action) {
  if (who.app_id != "*" && who.app_id != app_id) {
    return absl::PermissionDeniedError(StrCat("token '", who.name,
                                              "' is for app '", who.app_id,
                                              "', not '", app_id, "'"));
  }
  if (who.role < needed) {
    return absl::PermissionDeniedError(
        StrCat("token '", who.name, "' has role ", RoleName(who.role), "; ",
               action, " needs ", RoleName(needed)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AuthCore::Issue(const std::string& actor,
                                            const std::string& name,
                                            v1::Role role,
                                            const std::string& app_id) {
  std::string secret(32, '\0');
  env_.random->Fill(secret.data(), secret.size());
  std::string token = StrCat("stk_", ToHex(secret));
  v1::StoredToken stored;
  stored.set_name(name);
  stored.set_role(role);
  stored.set_app_id(app_id);
  stored.set_created_at_unix(absl::ToUnixSeconds(env_.clock->Now()));
  v1::AuditEntry audit;
  audit.set_at_unix(stored.created_at_unix());
  audit.set_actor(actor);
  audit.set_action("token.create");
  audit.set_app_id(app_id);
  audit.set_detail(StrCat("name=", name, " role=", RoleName(role)));
  STRATA_RETURN_IF_ERROR(
      store_->PutToken(Sha256::HexHash(token), stored, audit));
  return token;
}

absl::StatusOr<v1::CreateTokenResponse> AuthCore::CreateToken(
    const Principal& by, const v1::CreateTokenRequest& req) {
  if (req.app_id() != "*")
    STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      Authorize(by, v1::ROLE_ADMIN, req.app_id(), "token.create"));
  STRATA_RETURN_IF_ERROR(ValidateName("token name", req.name()));
  if (req.role() < v1::ROLE_VIEWER || req.role() > v1::ROLE_ADMIN) {
    return absl::InvalidArgumentError(
        "role must be viewer, publisher, release_manager or admin");
  }
  STRATA_ASSIGN_OR_RETURN(std::string token,
                          Issue(by.name, req.name(), req.role(), req.app_id()));
  v1::CreateTokenResponse response;
  response.set_token(token);
  response.set_name(req.name());
  response.set_role(req.role());
  response.set_app_id(req.app_id());
  return response;
}

absl::StatusOr<std::string> AuthCore::CreateFirstAdminToken() {
  STRATA_ASSIGN_OR_RETURN(bool any, store_->HasAnyToken());
  if (any) {
    return absl::FailedPreconditionError(
        "this data directory is already initialized; create more tokens with "
        "`strata token create` using an admin token");
  }
  return Issue("stratad init", "admin", v1::ROLE_ADMIN, "*");
}

}  // namespace strata::server
