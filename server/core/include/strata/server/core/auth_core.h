// Bearer tokens with roles per app. Secrets are random, shown once, and
// stored only as their SHA-256.
#ifndef STRATA_SERVER_CORE_AUTH_CORE_H_
#define STRATA_SERVER_CORE_AUTH_CORE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/server/storage/store.h"

namespace strata::server {

struct Principal {
  std::string name;
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string app_id;  // "*" for every app
};

// "viewer", "publisher", "release_manager", "admin".
std::string RoleName(v1::Role role);

class AuthCore {
 public:
  AuthCore(Store* store, Env env) : store_(store), env_(env) {}

  // kUnauthenticated for a missing or unknown token.
  absl::StatusOr<Principal> Authenticate(std::string_view token);
  // kPermissionDenied unless `who` has at least `needed` for `app_id`.
  static absl::Status Authorize(const Principal& who, v1::Role needed,
                                std::string_view app_id,
                                std::string_view action);

  absl::StatusOr<v1::CreateTokenResponse> CreateToken(
      const Principal& by, const v1::CreateTokenRequest& req);
  // The first admin token, for `stratad init`; refused once any token exists.
  absl::StatusOr<std::string> CreateFirstAdminToken();

 private:
  absl::StatusOr<std::string> Issue(const std::string& actor,
                                    const std::string& name, v1::Role role,
                                    const std::string& app_id);
  Store* store_;
  Env env_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_AUTH_CORE_H_
