// The layer roles a roll back on an app with a root of trust needs: the
// content the dry run says goes back, signed again by the layer's
// publishers under a release counter above every earlier one.
#ifndef STRATA_ADMIN_CLI_SRC_COMMANDS_RELEASE_ROLLBACK_H_
#define STRATA_ADMIN_CLI_SRC_COMMANDS_RELEASE_ROLLBACK_H_

#include <string>
#include <string_view>
#include <vector>

#include "../app_trust.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "strata/signing/keys.h"
#include "strata/v1/admin.pb.h"

namespace strata::admin {

// The SDK version that understands revert targets (custom "revert":
// "embedded"); signed as their min_sdk_version.
inline constexpr std::string_view kRevertMinSdkVersion = "0.3.0";

struct SignedRollback {
  std::vector<std::string> roles;    // signed layer roles, one per layer
  std::vector<std::string> targets;  // "config/limits@5 (version 2)", ...
};

// One target per plan entry (same content, counter = max(the module's
// highest counter, min_release_counter) + 1, compatibility copied from the
// version's earlier target; a revert entry: zero bytes, custom "revert":
// "embedded", min_sdk_version kRevertMinSdkVersion), each touched role as
// its next version signed by the `keys` its delegation lists.
absl::StatusOr<SignedRollback> SignRollbackRoles(
    const std::string& app, const AppTrust& trust,
    const google::protobuf::RepeatedPtrField<v1::RollbackArtifact>& plan,
    const std::vector<signing::PrivateKey>& keys);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_SRC_COMMANDS_RELEASE_ROLLBACK_H_
