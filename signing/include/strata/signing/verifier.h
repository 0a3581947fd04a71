// The client side of the trust model: the TUF 1.0.x client workflow plus
// Uptane's director check, failing closed. Transport-agnostic: metadata
// comes from a MetadataSource (the SDK feeds it bytes from gRPC; tests use
// memory, files or HTTP).
//
// Refresh() runs, with one start time read once from the injected Clock:
//   1. root chain N -> N+1 -> ... (each signed by a threshold of the old and
//      of the new root, version exactly N+1, at most max_root_rotations
//      steps); the final root must not be expired; rotated timestamp or
//      snapshot keys drop the trusted timestamp and snapshot, rotated
//      director keys (custom.director) the trusted director (fast-forward
//      recovery);
//   2. timestamp (threshold, no version or snapshot-version rollback, expiry);
//   3. snapshot (length and hash from the timestamp, threshold, version equal
//      to the timestamp's, no entry removed or rolled back, expiry);
//   4. targets, then each per-layer delegated role (length, hash and version
//      from the snapshot, threshold of the delegating keys, targets only
//      within the delegated paths, expiry);
//   5. director, when the root names one (threshold of the online key, no
//      version rollback, expiry).
// Every fetch is capped in bytes and the whole refresh has one deadline.
// The new trusted state is persisted with one atomic write; on any
// rejection the trusted state on disk and in memory is unchanged.
#ifndef STRATA_SIGNING_VERIFIER_H_
#define STRATA_SIGNING_VERIFIER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/base/sha256.h"
#include "strata/signing/compatibility.h"
#include "strata/signing/director.h"
#include "strata/signing/metadata.h"

namespace strata::signing {

struct FetchRequest {
  // "root", "timestamp", "snapshot", "targets", a delegated role ("h5"...),
  // or "director".
  std::string role;
  // Always set for root; for snapshot/targets/delegated roles when the root
  // asks for consistent snapshots.
  std::optional<uint64_t> version;
  // Never return more bytes than this (more is treated as endless data).
  uint64_t max_length = 0;
  // The refresh's deadline; give up (kDeadlineExceeded) when it passes.
  absl::Time deadline = absl::InfiniteFuture();

  // TUF's file name: "3.root.json", "timestamp.json", "7.h5.json",
  // "snapshot.json".
  std::string FileName() const;
};

class MetadataSource {
 public:
  virtual ~MetadataSource() = default;
  // The bytes of the requested file; kNotFound when it does not exist (this
  // ends the root chain). kDeadlineExceeded / kResourceExhausted from a
  // transport become SLOW_RETRIEVAL / ENDLESS_DATA.
  virtual absl::StatusOr<std::string> Fetch(const FetchRequest& request) = 0;
};

// Files by TUF file name, held in memory (what the SDK fills from a gRPC
// response).
class InMemoryMetadataSource : public MetadataSource {
 public:
  void Put(std::string file_name, std::string bytes) {
    files_[std::move(file_name)] = std::move(bytes);
  }
  void Remove(const std::string& file_name) { files_.erase(file_name); }
  void Clear() { files_.clear(); }
  const std::map<std::string, std::string>& files() const { return files_; }
  absl::StatusOr<std::string> Fetch(const FetchRequest& request) override;

 private:
  std::map<std::string, std::string> files_;
};

// Files by TUF file name in a directory.
class FileSystemMetadataSource : public MetadataSource {
 public:
  FileSystemMetadataSource(FileSystem* fs, std::string dir)
      : fs_(fs), dir_(std::move(dir)) {}
  absl::StatusOr<std::string> Fetch(const FetchRequest& request) override;

 private:
  FileSystem* fs_;
  std::string dir_;
};

struct VerifierOptions {
  // Directory of the trusted state (created if missing).
  std::string state_dir;
  // The root metadata file embedded in the app: the trust anchor used when
  // no state exists yet, or when it is newer than the stored root.
  std::string pinned_root;
  uint32_t max_root_rotations = 32;
  uint32_t max_delegations = 32;
  uint64_t root_max_length = 512 * 1024;
  uint64_t timestamp_max_length = 16 * 1024;
  uint64_t snapshot_max_length = 2 * 1024 * 1024;
  uint64_t targets_max_length = 5 * 1024 * 1024;
  uint64_t director_max_length = 1024 * 1024;
  // The whole Refresh() must finish within this.
  absl::Duration update_timeout = absl::Minutes(2);
};

// A target the client may install: signed offline, chosen by the director
// (or looked up by name), compatible with the device.
struct VerifiedTarget {
  std::string name;  // "hotpatch/core@7"
  std::string role;  // the role that signed it: "hotpatch", or "targets"
  uint64_t length = 0;
  std::string sha256;  // lowercase hex
  std::optional<ArtifactInfo> artifact;
  TargetFile file;
  // The release the director chose it by (0: an assignment without a
  // release rule).
  uint64_t release_id = 0;
};

// The trusted version of every role, for a request that asks only for what
// is newer (0: none trusted).
struct TrustedVersionsInfo {
  uint64_t root = 0;
  uint64_t timestamp = 0;
  uint64_t snapshot = 0;
  uint64_t targets = 0;
  std::map<std::string, uint64_t> roles;  // delegated role ("h5") -> version
  uint64_t director = 0;
  bool operator==(const TrustedVersionsInfo&) const = default;
};

// What the director's release rules evaluate for `device`: its attributes,
// with device_id, user_id and app_version taken from the DeviceInfo fields
// where the attributes leave them empty.
rollout::DeviceAttributes SelectionAttributes(const DeviceInfo& device);

class Verifier {
 public:
  // Loads the trusted state from `options.state_dir` (or starts from the
  // pinned root, which must be signed by its own threshold). Errors carry
  // TRUSTED_STATE_CORRUPT when stored state or the pinned root is invalid.
  static absl::StatusOr<std::unique_ptr<Verifier>> Open(
      const Env& env, VerifierOptions options);

  // The TUF workflow above. OK means the trusted state is fresh and
  // persisted. A rejection carries a RejectReason (GetRejectReason) and leaves
  // every trusted state unchanged.
  absl::Status Refresh(MetadataSource& source);

  // The release the director assigns to this device for (layer, module),
  // chosen by DirectorChoicesFor(director, SelectionAttributes(device), the
  // installed release counters), checked: the director's entry must equal the
  // offline-signed entry in hash, length and release counter; the artifact must
  // fit the device; its release counter must not be below the installed one.
  // kNotFound (no reason) when the director assigns nothing. Needs a successful
  // Refresh() in this process.
  absl::StatusOr<VerifiedTarget> ResolveModule(const DeviceInfo& device,
                                               Layer layer,
                                               std::string_view module) const;
  // ResolveModule for every module the director assigns to the device; the
  // first rejection is returned.
  absl::StatusOr<std::vector<VerifiedTarget>> ResolveAll(
      const DeviceInfo& device) const;
  // An offline-signed target by name (TUF's target search through the
  // delegations), without the director. Needs a successful Refresh().
  absl::StatusOr<VerifiedTarget> FindTarget(std::string_view name) const;

  // Records that `target`'s release is installed, so lower release counters
  // of its module are rejected from now on, across restarts. Persisted
  // atomically; unchanged on error.
  absl::Status MarkInstalled(const VerifiedTarget& target);
  std::optional<uint64_t> InstalledReleaseCounter(
      Layer layer, std::string_view module) const;

  // The trusted version of a role ("root", "timestamp", "snapshot",
  // "targets", "h5"..., "director"); 0 when none is trusted.
  uint64_t TrustedVersion(std::string_view role) const;
  TrustedVersionsInfo TrustedVersions() const;
  // The trusted bytes of a file by its TUF name, for a source that serves
  // files the repository did not resend: "timestamp.json", "director.json",
  // "<v>.snapshot.json", "<v>.targets.json", "<v>.<layer>.json" (v = the
  // trusted version), "<n>.root.json" (n = the trusted root's version);
  // without consistent snapshots also "snapshot.json", "targets.json",
  // "<layer>.json". nullopt when nothing trusted has that name.
  std::optional<std::string> TrustedFile(std::string_view file_name) const;
  const RootMetadata& trusted_root() const;
  // The path of the state file.
  std::string StatePath() const;

  ~Verifier();

  // The trusted metadata (opaque; defined in verifier.cc).
  struct State;

 private:
  Verifier(const Env& env, VerifierOptions options,
           std::unique_ptr<State> state);
  absl::Status Persist(const State& state) const;
  // Checks the director's choice for one module (ResolveModule's checks).
  absl::StatusOr<VerifiedTarget> CheckChoice(
      const DeviceInfo& device, Layer layer, std::string_view module,
      const DirectorChoice& choice) const;

  Env env_;
  VerifierOptions options_;
  std::unique_ptr<State> state_;
  bool refreshed_ = false;
};

// Checks downloaded bytes while they stream in: more bytes than expected
// stop at once (ENDLESS_DATA), a passed deadline stops (SLOW_RETRIEVAL), and
// Finish() checks length (LENGTH_MISMATCH) and SHA-256 (HASH_MISMATCH).
class DownloadChecker {
 public:
  DownloadChecker(std::string what, uint64_t expected_length,
                  std::string expected_sha256, Clock* clock = nullptr,
                  absl::Time deadline = absl::InfiniteFuture());
  // For a verified target.
  explicit DownloadChecker(const VerifiedTarget& target, Clock* clock = nullptr,
                           absl::Time deadline = absl::InfiniteFuture());
  absl::Status Update(std::string_view chunk);
  absl::Status Finish();
  uint64_t received() const { return received_; }

 private:
  std::string what_;
  uint64_t expected_length_;
  std::string expected_sha256_;
  Clock* clock_;
  absl::Time deadline_;
  uint64_t received_ = 0;
  Sha256 hash_;
  absl::Status failed_;
};

// Helpers for repository builders.
// The timestamp/snapshot entry describing metadata `bytes` of `version`.
MetaFileInfo MetaFileFor(std::string_view bytes, uint64_t version);
// A target entry for `content` with Strata's fields.
TargetFile TargetFileFor(std::string_view content,
                         const ArtifactInfo& artifact);
// The director entry pointing at a signed target.
DirectorTarget DirectorTargetFor(std::string_view target_name,
                                 const TargetFile& file);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_VERIFIER_H_
