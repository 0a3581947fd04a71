// What the trust commands, `publish` and `release rollback` share: the
// app's repository as stratad holds it (Admin.GetTrust, parsed), the key
// directory `strata keys gen` makes, and the offline signing of layer roles.
// Private keys are read here and never sent anywhere.
#ifndef STRATA_ADMIN_CLI_SRC_APP_TRUST_H_
#define STRATA_ADMIN_CLI_SRC_APP_TRUST_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"

namespace strata::admin {

// How long offline metadata the CLI signs stays valid by default.
inline constexpr int kDefaultRoleDays = 365;
// `trust status` warns when offline metadata expires sooner than this.
inline constexpr absl::Duration kExpiryWarning = absl::Hours(24 * 30);
// Publishes and roll backs re-read the role and try again this many times
// when another publish changed it first (ABORTED).
inline constexpr int kCasRetries = 3;

// One app's repository as stratad reports it.
struct AppTrust {
  v1::TrustInfo info;
  signing::RootMetadata root;        // valid when info.configured()
  signing::TargetsMetadata targets;  // valid when info.configured()
  // Layer roles by name ("h5"), parsed.
  std::map<std::string, signing::TargetsMetadata> roles;

  bool configured() const { return info.configured(); }
  // The layer role `layer`, or an empty version-0 role when the server has
  // none yet.
  signing::TargetsMetadata Role(std::string_view layer) const;
};

// Admin.GetTrust(app) and the parsed metadata. A server without the RPC is
// FAILED_PRECONDITION saying stratad must be upgraded.
absl::StatusOr<AppTrust> ReadAppTrust(AdminClient& client,
                                      const std::string& app);
// For publish and roll back: like ReadAppTrust, but a stratad from before
// per-app trust (no GetTrust) counts as "no root of trust", so those
// commands work as they did against it.
absl::StatusOr<AppTrust> ReadAppTrustIfAny(AdminClient& client,
                                           const std::string& app);
absl::StatusOr<AppTrust> ParseAppTrust(v1::TrustInfo info);

// FAILED_PRECONDITION naming `strata trust init` unless `trust` is set up.
absl::Status RequireConfigured(const AppTrust& trust, const std::string& app);

// The highest release counter of `module`'s targets in `role`; 0 for none.
uint64_t HighestCounter(const signing::TargetsMetadata& role,
                        std::string_view module);
// The name of the target in `role` for `module` at `version` with this
// content, or "" when there is none.
std::string FindTargetFor(const signing::TargetsMetadata& role,
                          std::string_view module, std::string_view version,
                          std::string_view sha256, uint64_t length);

// The delegation of `layer` in `targets`; NOT_FOUND when none.
absl::StatusOr<signing::DelegatedRole> DelegationOf(
    const signing::TargetsMetadata& targets, std::string_view layer);

// Of `keys`, the distinct ones `layer`'s delegation lists. PERMISSION_DENIED
// when they are fewer than its threshold; the message names the layer, the
// threshold, the keys `flag` gave that are not delegated, and the flag.
absl::StatusOr<std::vector<const signing::PrivateKey*>> SigningKeysFor(
    const signing::TargetsMetadata& targets, std::string_view layer,
    const std::vector<signing::PrivateKey>& keys, std::string_view flag);

// `role` as its next version: version + 1, expiry the later of its own and
// `now + days`, signed by `keys`.
absl::StatusOr<std::string> SignNextVersion(
    signing::TargetsMetadata role, absl::Time now, int days,
    const std::vector<const signing::PrivateKey*>& keys);

// The private keys of --key flags; INVALID_ARGUMENT naming the flag and the
// file when one cannot be read.
absl::StatusOr<std::vector<signing::PrivateKey>> LoadKeyFiles(
    const std::vector<std::string>& paths, std::string_view flag);

// The key directory `strata keys gen` made: every `<name>.key` in it (not
// those in retired/).
struct KeyDir {
  std::string dir;
  std::map<std::string, signing::PrivateKey> keys;  // by file name stem

  static absl::StatusOr<KeyDir> Load(const std::string& dir);
  // The key named `name`; INVALID_ARGUMENT naming the file when missing.
  absl::StatusOr<signing::PrivateKey> Get(const std::string& name) const;
  // The directory's keys whose ids are in `key_ids`.
  std::vector<signing::PrivateKey> WithIds(
      const std::vector<std::string>& key_ids) const;
  std::string Path(const std::string& name) const;
};

// Moves D/<name>.key and .pub to D/retired/<name>.<first 16 hex of id>.key
// (.pub) and returns the new path of the private key.
absl::StatusOr<std::string> RetireKey(const std::string& dir,
                                      const std::string& name,
                                      const std::string& key_id);
// Writes `key` as D/<name>.key.new and .pub.new (before anything trusts
// it), and, with Commit, moves them to D/<name>.key and .pub.
absl::Status StagePendingKey(const std::string& dir, const std::string& name,
                             const signing::PrivateKey& key);
absl::Status CommitPendingKey(const std::string& dir, const std::string& name);
void DropPendingKey(const std::string& dir, const std::string& name);

// Writes D/root.json and D/<version>.root.json.
absl::Status WriteRootFiles(const std::string& dir, std::string_view root,
                            uint64_t version);

// Serializes and signs a root; `keys` must meet old and new thresholds.
absl::StatusOr<std::string> SignRoot(
    const signing::RootMetadata& root,
    const std::vector<const signing::PrivateKey*>& keys);

// Makes `key` the one key of `role` (threshold 1) in `root`; keys no role
// lists any more leave `root.keys`.
void ReplaceRoleKeys(signing::RootMetadata& root, std::string_view role,
                     const signing::PublicKey& key);

// "2027-01-01 00:00 UTC (in 364d)".
std::string DescribeExpiry(absl::Time expires, absl::Time now);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_SRC_APP_TRUST_H_
