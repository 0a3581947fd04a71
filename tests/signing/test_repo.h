// A complete signed repository built in memory for the verifier tests: root
// (threshold 2 of 3), targets, per-layer delegations (hotpatch and native
// need 2 signatures), snapshot, timestamp and a director, published to an
// InMemoryMetadataSource with consistent-snapshot file names.
#ifndef STRATA_TESTS_SIGNING_TEST_REPO_H_
#define STRATA_TESTS_SIGNING_TEST_REPO_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "strata/signing/director.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"
#include "strata/signing/verifier.h"

namespace strata::signing::testing {

// A deterministic key: seed bytes all equal to `n`.
PrivateKey TestKey(int n);

class TestRepo {
 public:
  // Metadata expires `lifetime` after `now`.
  explicit TestRepo(absl::Time now, absl::Duration lifetime = absl::Hours(24));

  // Keys.
  std::vector<PrivateKey> root_keys;  // 3, threshold 2
  PrivateKey targets_key;
  PrivateKey snapshot_key;
  PrivateKey timestamp_key;
  PrivateKey director_key;
  std::map<std::string, std::vector<PrivateKey>> layer_keys;  // by role

  // Metadata to publish (tests edit these, then Publish()).
  RootMetadata root;
  TargetsMetadata targets;
  std::map<std::string, TargetsMetadata> delegated;  // by role name
  SnapshotMetadata snapshot;
  TimestampMetadata timestamp;
  DirectorMetadata director;
  // Artifact bytes by target name.
  std::map<std::string, std::string> contents;

  // Who signs each role at Publish(); tests may replace entries.
  std::map<std::string, std::vector<const PrivateKey*>> signers;
  // Called on each role's envelope after signing, before it is serialized
  // (and before parents hash it): to drop, duplicate or corrupt signatures.
  std::function<void(const std::string& role, SignedMetadata&)> tamper;

  InMemoryMetadataSource source;

  // Adds an artifact to its layer's delegated role and returns its name.
  std::string AddArtifact(Layer layer, std::string_view module,
                          uint64_t release_counter, std::string content,
                          const Compatibility& compat = {},
                          std::string app = "wallet");
  // Points the director's default assignment for the module at `target`.
  void Assign(std::string_view target);

  // Signs and publishes the current root as "<version>.root.json".
  // `extra_signers` also sign (the previous root's keys, for a rotation).
  std::string PublishRoot(
      const std::vector<const PrivateKey*>& extra_signers = {});
  // Signs and publishes delegated roles, targets, snapshot (listing them
  // with length and hash), timestamp and director.
  void Publish();
  // Bumps the versions of every role but root and refreshes expiries.
  void BumpVersions();
  // Sets every expiry (root included) to `expires`.
  void SetExpiry(absl::Time expires);

  // The first root ("1.root.json") as pinned in the app.
  const std::string& pinned_root() const { return pinned_root_; }
  // Bytes of the last published file of a role ("snapshot", "h5", ...).
  const std::string& published(const std::string& role) const {
    return published_.at(role);
  }

  DeviceInfo Device() const;

 private:
  std::string SignRole(const std::string& role, const Json& signed_part);

  absl::Time now_;
  absl::Duration lifetime_;
  std::string pinned_root_;
  std::map<std::string, std::string> published_;
};

}  // namespace strata::signing::testing

#endif  // STRATA_TESTS_SIGNING_TEST_REPO_H_
