#include "strata/server/core/auth_core.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "strata/base/mutex.h"
#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

// "2026-11-29T19:03:48Z".
std::string UnixText(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

std::string IdOf(std::string_view secret_sha256) {
  return std::string(secret_sha256.substr(0, kTokenIdLength));
}

bool IsExpired(const v1::StoredToken& token, absl::Time now) {
  return token.expires_at_unix() != 0 &&
         absl::ToUnixSeconds(now) >= token.expires_at_unix();
}

v1::TokenInfo InfoOf(const TokenRecord& record) {
  const v1::StoredToken& t = record.token;
  v1::TokenInfo info;
  info.set_name(t.name());
  info.set_role(t.role());
  info.set_app_id(t.app_id());
  info.set_created_at_unix(t.created_at_unix());
  info.set_expires_at_unix(t.expires_at_unix());
  info.set_revoked_at_unix(t.revoked_at_unix());
  info.set_revoked_by(t.revoked_by());
  info.set_id(IdOf(record.secret_sha256));
  return info;
}

// "revoked at T by 'x'", "expired at T" or "active".
std::string StateText(const v1::StoredToken& token, absl::Time now) {
  if (token.revoked_at_unix() != 0) {
    return StrCat("revoked at ", UnixText(token.revoked_at_unix()), " by '",
                  token.revoked_by(), "'");
  }
  if (IsExpired(token, now)) {
    return StrCat("expired at ", UnixText(token.expires_at_unix()));
  }
  return "active";
}

// "id 1a2b3c4d5e6f (name 'ci', role publisher, app wallet, active)".
std::string Describe(const TokenRecord& r, absl::Time now) {
  return StrCat("id ", IdOf(r.secret_sha256), " (name '", r.token.name(),
                "', role ", RoleName(r.token.role()), ", app ",
                r.token.app_id(), ", ", StateText(r.token, now), ")");
}

// 6 to 64 hex digits: what may be the start of a token's key.
bool LooksLikeId(std::string_view s) {
  if (s.size() < 6 || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool Visible(const Principal& by, const v1::StoredToken& token) {
  return by.app_id == "*" || by.app_id == token.app_id();
}

bool IsGlobalAdmin(const v1::StoredToken& token) {
  return token.role() == v1::ROLE_ADMIN && token.app_id() == "*";
}

}  // namespace

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

bool TokenIsActive(const v1::StoredToken& token, absl::Time now) {
  return token.revoked_at_unix() == 0 && !IsExpired(token, now);
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
  if (stored->revoked_at_unix() != 0) {
    return absl::UnauthenticatedError(StrCat(
        "token '", stored->name(), "' was revoked at ",
        UnixText(stored->revoked_at_unix()), " by '", stored->revoked_by(),
        "'; ask an admin for a new one (`strata token create`)"));
  }
  if (IsExpired(*stored, env_.clock->Now())) {
    return absl::UnauthenticatedError(
        StrCat("token '", stored->name(), "' expired at ",
               UnixText(stored->expires_at_unix()),
               "; ask an admin for a new one (`strata token create`)"));
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
                                            const std::string& app_id,
                                            int64_t expires_at_unix) {
  std::string secret(32, '\0');
  env_.random->Fill(secret.data(), secret.size());
  std::string token = StrCat("stk_", ToHex(secret));
  v1::StoredToken stored;
  stored.set_name(name);
  stored.set_role(role);
  stored.set_app_id(app_id);
  stored.set_created_at_unix(absl::ToUnixSeconds(env_.clock->Now()));
  stored.set_expires_at_unix(expires_at_unix);
  v1::AuditEntry audit;
  audit.set_at_unix(stored.created_at_unix());
  audit.set_actor(actor);
  audit.set_action("token.create");
  audit.set_app_id(app_id);
  audit.set_detail(StrCat(
      "name=", name, " role=", RoleName(role),
      " id=", IdOf(Sha256::HexHash(token)), " expires=",
      expires_at_unix == 0 ? std::string("never") : UnixText(expires_at_unix)));
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
  const int64_t lifetime = req.expires_in_seconds();
  if (lifetime < -1 || lifetime > kMaxTokenLifetimeSeconds) {
    return absl::InvalidArgumentError(StrCat(
        "expires_in_seconds is ", lifetime, "; give 1 to ",
        kMaxTokenLifetimeSeconds, " seconds (10 years), 0 for the default (",
        kDefaultTokenLifetimeSeconds / 86400, " days) or -1 for never"));
  }
  MutexLock lock(&mu_);
  const absl::Time now = env_.clock->Now();
  STRATA_ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens,
                          store_->ListTokens());
  for (const TokenRecord& r : tokens) {
    if (r.token.name() != req.name() || !TokenIsActive(r.token, now)) continue;
    return absl::AlreadyExistsError(StrCat(
        "an active token is already named '", req.name(), "'",
        Visible(by, r.token) ? StrCat(": ", Describe(r, now)) : "",
        "; choose another name, or revoke it first (`strata token revoke ",
        req.name(), "`)"));
  }
  const int64_t expires_at =
      lifetime == -1
          ? 0
          : absl::ToUnixSeconds(now) +
                (lifetime == 0 ? kDefaultTokenLifetimeSeconds : lifetime);
  STRATA_ASSIGN_OR_RETURN(
      std::string token,
      Issue(by.name, req.name(), req.role(), req.app_id(), expires_at));
  v1::CreateTokenResponse response;
  response.set_token(token);
  response.set_name(req.name());
  response.set_role(req.role());
  response.set_app_id(req.app_id());
  response.set_expires_at_unix(expires_at);
  return response;
}

absl::StatusOr<std::string> AuthCore::CreateFirstAdminToken() {
  MutexLock lock(&mu_);
  STRATA_ASSIGN_OR_RETURN(bool any, store_->HasAnyToken());
  if (any) {
    return absl::FailedPreconditionError(
        "this data directory is already initialized; create more tokens with "
        "`strata token create` using an admin token");
  }
  // Never expires: an expired first token would lock the operator out of a
  // server nobody else can administer.
  return Issue("stratad init", "admin", v1::ROLE_ADMIN, "*",
               /*expires_at_unix=*/0);
}

absl::StatusOr<v1::ListTokensResponse> AuthCore::ListTokens(
    const Principal& by, const v1::ListTokensRequest& req) {
  STRATA_RETURN_IF_ERROR(
      Authorize(by, v1::ROLE_ADMIN, by.app_id, "token.list"));
  const absl::Time now = env_.clock->Now();
  STRATA_ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens,
                          store_->ListTokens());
  std::vector<v1::TokenInfo> infos;
  for (const TokenRecord& r : tokens) {
    if (!Visible(by, r.token)) continue;
    if (!req.include_revoked() && !TokenIsActive(r.token, now)) continue;
    infos.push_back(InfoOf(r));
  }
  std::sort(infos.begin(), infos.end(),
            [](const v1::TokenInfo& a, const v1::TokenInfo& b) {
              if (a.created_at_unix() != b.created_at_unix())
                return a.created_at_unix() < b.created_at_unix();
              if (a.name() != b.name()) return a.name() < b.name();
              return a.id() < b.id();
            });
  v1::ListTokensResponse response;
  for (v1::TokenInfo& info : infos) *response.add_tokens() = std::move(info);
  return response;
}

absl::StatusOr<v1::RevokeTokenResponse> AuthCore::RevokeToken(
    const Principal& by, const v1::RevokeTokenRequest& req) {
  STRATA_RETURN_IF_ERROR(
      Authorize(by, v1::ROLE_ADMIN, by.app_id, "token.revoke"));
  std::string wanted = req.name_or_id();
  if (wanted.empty()) {
    return absl::InvalidArgumentError(
        "name it: a token's name or its id (see `strata token list`)");
  }
  std::string lower = wanted;
  for (char& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool may_be_id = LooksLikeId(lower);

  MutexLock lock(&mu_);
  const absl::Time now = env_.clock->Now();
  STRATA_ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens,
                          store_->ListTokens());
  std::vector<const TokenRecord*> matches;
  std::vector<const TokenRecord*> inactive_by_name;
  for (const TokenRecord& r : tokens) {
    if (!Visible(by, r.token)) continue;
    const bool by_id = may_be_id && r.secret_sha256.starts_with(lower);
    const bool by_name = r.token.name() == wanted;
    if (by_id || (by_name && TokenIsActive(r.token, now))) {
      matches.push_back(&r);
    } else if (by_name) {
      inactive_by_name.push_back(&r);
    }
  }
  if (matches.empty()) {
    if (!inactive_by_name.empty()) {
      std::string which;
      for (const TokenRecord* r : inactive_by_name)
        which += StrCat(which.empty() ? "" : "; ", Describe(*r, now));
      return absl::FailedPreconditionError(
          StrCat("no active token is named '", wanted, "': ", which));
    }
    return absl::NotFoundError(
        StrCat("no token is named '", wanted,
               "' or has that id; see `strata token list --all`"));
  }
  if (matches.size() > 1) {
    std::string which;
    for (const TokenRecord* r : matches)
      which += StrCat(which.empty() ? "" : "; ", Describe(*r, now));
    return absl::FailedPreconditionError(
        StrCat("'", wanted, "' matches ", matches.size(), " tokens: ", which,
               "; revoke one by its id"));
  }
  TokenRecord target = *matches[0];
  STRATA_RETURN_IF_ERROR(
      Authorize(by, v1::ROLE_ADMIN, target.token.app_id(), "token.revoke"));
  if (target.token.revoked_at_unix() != 0) {
    return absl::FailedPreconditionError(
        StrCat("token ", Describe(target, now), " is already revoked"));
  }
  if (IsGlobalAdmin(target.token) && TokenIsActive(target.token, now)) {
    const bool another =
        std::any_of(tokens.begin(), tokens.end(), [&](const TokenRecord& r) {
          return r.secret_sha256 != target.secret_sha256 &&
                 IsGlobalAdmin(r.token) && TokenIsActive(r.token, now);
        });
    if (!another) {
      return absl::FailedPreconditionError(StrCat(
          "token '", target.token.name(),
          "' is the last active admin token for every app; revoking it would "
          "leave this server without an admin. Create another first (`strata "
          "token create NAME --role admin --app '*'`), then revoke this one"));
    }
  }
  target.token.set_revoked_at_unix(absl::ToUnixSeconds(now));
  target.token.set_revoked_by(by.name);
  v1::AuditEntry audit;
  audit.set_at_unix(absl::ToUnixSeconds(now));
  audit.set_actor(by.name);
  audit.set_action("token.revoke");
  audit.set_app_id(target.token.app_id());
  audit.set_detail(StrCat("name=", target.token.name(),
                          " id=", IdOf(target.secret_sha256),
                          " role=", RoleName(target.token.role())));
  STRATA_RETURN_IF_ERROR(
      store_->PutToken(target.secret_sha256, target.token, audit));
  v1::RevokeTokenResponse response;
  *response.mutable_token() = InfoOf(target);
  return response;
}

}  // namespace strata::server
