// TUF 1.0.x metadata (root, timestamp, snapshot, targets with one delegated
// role per layer) as plain structs, with builders (struct -> the JSON
// "signed" object) and strict parsers (JSON -> struct; errors name the role
// and the field). Strata's own fields live under "custom".
//
// Target names are "<layer>/<module>@<release_counter>", e.g.
// "hotpatch/core@7", so the per-layer delegations "hotpatch/*" etc. match
// them with TUF's path-pattern rules.
#ifndef STRATA_SIGNING_METADATA_H_
#define STRATA_SIGNING_METADATA_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/json.h"
#include "strata/signing/keys.h"

namespace strata::signing {

inline constexpr std::string_view kSpecVersion = "1.0.31";

enum class Layer { kConfig = 1, kH5 = 2, kHcf = 3, kHotpatch = 4, kNative = 5 };
// "config", "h5", "hcf", "hotpatch", "native": also the delegated role names
// and the first segment of target names.
std::string_view LayerName(Layer layer);
std::optional<Layer> ParseLayer(std::string_view name);
inline constexpr Layer kAllLayers[] = {Layer::kConfig, Layer::kH5, Layer::kHcf,
                                       Layer::kHotpatch, Layer::kNative};

// Module names: 1-128 of [A-Za-z0-9._-], not starting with '.'.
bool IsValidModuleName(std::string_view module);
// "hotpatch/core@7".
std::string TargetName(Layer layer, std::string_view module,
                       uint64_t release_counter);
// "hotpatch/core": the key of a module in director metadata.
std::string ModuleKey(Layer layer, std::string_view module);

// TUF's path patterns: '/'-separated segments, the same number of segments,
// each matched with '*' (any run of characters) and '?' (one character).
bool MatchesPathPattern(std::string_view target, std::string_view pattern);

// "2030-01-01T00:00:00Z" <-> absl::Time (whole seconds, UTC only).
std::string FormatTufTime(absl::Time t);
absl::StatusOr<absl::Time> ParseTufTime(std::string_view text);

// The fields every role has.
struct SignedCommon {
  std::string spec_version = std::string(kSpecVersion);
  uint64_t version = 1;
  absl::Time expires = absl::InfinitePast();
};

// Key ids and threshold of one role.
struct RoleKeys {
  std::vector<std::string> keyids;
  uint64_t threshold = 1;
};

struct RootMetadata {
  SignedCommon common;
  bool consistent_snapshot = true;
  std::map<std::string, PublicKey> keys;  // key id -> key
  // "root", "targets", "snapshot", "timestamp".
  std::map<std::string, RoleKeys> roles;
  // Strata: the director role (the server's online key), under
  // custom.director. Absent: the repository has no director.
  std::optional<RoleKeys> director;
  // Strata: the app this trust root belongs to (custom.app); empty = any.
  std::string app_id;

  // Adds `key` (under its TUF key id) to `role` ("director" included).
  void AddKey(std::string_view role, const PublicKey& key);
};

// An entry of timestamp.meta / snapshot.meta.
struct MetaFileInfo {
  uint64_t version = 0;
  std::optional<uint64_t> length;
  std::map<std::string, std::string> hashes;  // algorithm -> lowercase hex
};

struct TimestampMetadata {
  SignedCommon common;
  MetaFileInfo snapshot;  // meta["snapshot.json"]
};

struct SnapshotMetadata {
  SignedCommon common;
  std::map<std::string, MetaFileInfo> meta;  // "targets.json", "h5.json", ...
};

// Inclusive bounds on a dotted version; an empty bound is open.
struct VersionRange {
  std::string min;
  std::string max;
  bool operator==(const VersionRange&) const = default;
};

struct Compatibility {
  VersionRange app_version;
  // Hotpatches: the one host build they apply to (required for HOTPATCH).
  std::string host_build;
  // HCF: the runtime versions the module runs on.
  VersionRange runtime_version;
  std::string min_sdk_version;
  bool operator==(const Compatibility&) const = default;
};

// A delta that turns the content with hash `from_sha256` into this target.
struct DeltaEntry {
  std::string from_sha256;
  std::string sha256;  // of the delta bytes
  uint64_t length = 0;
  std::string format;  // e.g. "strata-diff/1"
  bool operator==(const DeltaEntry&) const = default;
};

// Strata's fields of a target (its "custom" object).
struct ArtifactInfo {
  std::string app_id;
  Layer layer = Layer::kConfig;
  std::string module;
  uint64_t release_counter = 0;
  std::string version_label;  // free-form, for humans
  Compatibility compat;
  std::vector<DeltaEntry> deltas;
  bool operator==(const ArtifactInfo&) const = default;
};

struct TargetFile {
  uint64_t length = 0;
  std::map<std::string, std::string> hashes;  // algorithm -> lowercase hex
  // Parsed from "custom" when it carries Strata's fields.
  std::optional<ArtifactInfo> artifact;
  // Other members of "custom", kept as they were.
  Json extra_custom;
};

struct DelegatedRole {
  std::string name;
  std::vector<std::string> keyids;
  uint64_t threshold = 1;
  bool terminating = true;
  std::vector<std::string> paths;
};

struct Delegations {
  std::map<std::string, PublicKey> keys;
  std::vector<DelegatedRole> roles;
  // Adds `key` to the delegated role `role` (which must exist).
  void AddKey(std::string_view role, const PublicKey& key);
};

struct TargetsMetadata {
  SignedCommon common;
  std::map<std::string, TargetFile> targets;
  std::optional<Delegations> delegations;
};

// Builders: the JSON "signed" object of each role.
Json ToJson(const RootMetadata& root);
Json ToJson(const TimestampMetadata& timestamp);
Json ToJson(const SnapshotMetadata& snapshot);
Json ToJson(const TargetsMetadata& targets);
Json ArtifactToJson(const ArtifactInfo& artifact);

// Parsers of the "signed" object. `role` names the role in errors ("root",
// "h5", ...). Errors are kInvalidArgument carrying MALFORMED_METADATA, or
// WRONG_METADATA_TYPE when _type differs.
absl::StatusOr<RootMetadata> ParseRoot(const Json& signed_part);
absl::StatusOr<TimestampMetadata> ParseTimestamp(const Json& signed_part);
absl::StatusOr<SnapshotMetadata> ParseSnapshot(const Json& signed_part);
absl::StatusOr<TargetsMetadata> ParseTargets(const Json& signed_part,
                                             std::string_view role);
absl::StatusOr<ArtifactInfo> ParseArtifact(const Json& custom,
                                           std::string_view what);

// A delegation set for the five layers: role "<layer>" with paths
// "<layer>/*", terminating, with the given threshold per layer.
Delegations LayerDelegations(const std::map<Layer, uint64_t>& thresholds);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_METADATA_H_
