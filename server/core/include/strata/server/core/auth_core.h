// Bearer tokens with roles per app. Secrets are random, shown once, and
// stored only as their SHA-256. Tokens expire (90 days unless their creator
// says otherwise) and can be revoked; names are unique among active tokens.
#ifndef STRATA_SERVER_CORE_AUTH_CORE_H_
#define STRATA_SERVER_CORE_AUTH_CORE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/base/mutex.h"
#include "strata/server/storage/store.h"

namespace strata::server {

struct Principal {
  std::string name;
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string app_id;  // "*" for every app
};

// "viewer", "publisher", "release_manager", "admin".
std::string RoleName(v1::Role role);

// A token's lifetime when CreateTokenRequest.expires_in_seconds is 0.
inline constexpr int64_t kDefaultTokenLifetimeSeconds = 90LL * 24 * 3600;
// The longest finite lifetime; beyond it, ask for -1 (never).
inline constexpr int64_t kMaxTokenLifetimeSeconds = 3650LL * 24 * 3600;
// How many hex digits of the secret's SHA-256 make a token's id.
inline constexpr size_t kTokenIdLength = 12;

// Neither revoked nor expired at `now`.
bool TokenIsActive(const v1::StoredToken& token, absl::Time now);

class AuthCore {
 public:
  AuthCore(Store* store, Env env) : store_(store), env_(env) {}

  // kUnauthenticated for a missing, unknown, expired or revoked token; the
  // message says which, when, and what to do.
  absl::StatusOr<Principal> Authenticate(std::string_view token);
  // kPermissionDenied unless `who` has at least `needed` for `app_id`.
  static absl::Status Authorize(const Principal& who, v1::Role needed,
                                std::string_view app_id,
                                std::string_view action);

  // Admin of the token's app. kAlreadyExists when an active token has the
  // name; kInvalidArgument for a bad name, role or lifetime.
  absl::StatusOr<v1::CreateTokenResponse> CreateToken(
      const Principal& by, const v1::CreateTokenRequest& req);
  // The first admin token, for `stratad init`; refused once any token
  // exists. It never expires (it is the way in to a new server); rotate it
  // by creating another admin token and revoking this one.
  absl::StatusOr<std::string> CreateFirstAdminToken();

  // Admin. Active tokens (all with include_revoked), oldest first; an
  // app-scoped admin sees its app's tokens only. Never a secret.
  absl::StatusOr<v1::ListTokensResponse> ListTokens(
      const Principal& by, const v1::ListTokensRequest& req);
  // Admin of the token's app. `name_or_id` is an active token's name or a
  // token's id (at least 6 of its hex digits). kNotFound when nothing
  // matches; kFailedPrecondition when several tokens match (their ids are
  // listed), the token is already revoked, or it is the last active admin
  // token for every app (the server would have no admin left). Audited as
  // "token.revoke".
  absl::StatusOr<v1::RevokeTokenResponse> RevokeToken(
      const Principal& by, const v1::RevokeTokenRequest& req);

 private:
  absl::StatusOr<std::string> Issue(const std::string& actor,
                                    const std::string& name, v1::Role role,
                                    const std::string& app_id,
                                    int64_t expires_at_unix);
  Store* store_;
  Env env_;
  // Makes each create and revoke one check-then-write: two creates of one
  // name cannot both pass the uniqueness check, two revokes cannot remove
  // both of the last two admin tokens. (No member is guarded: the state
  // is in the store.)
  // Serializes the read-check-write of tokens in the store (guards no
  // member: the state is the store's).
  Mutex mu_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_AUTH_CORE_H_
