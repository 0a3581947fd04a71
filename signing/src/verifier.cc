#include "strata/signing/verifier.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "internal.h"
#include "json_fields.h"
#include "strata/base/file_util.h"
#include "strata/base/log.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/signed_metadata.h"

namespace strata::signing {

using internal::AnnotateKeep;

namespace {

constexpr char kStateFile[] = "trusted_metadata.json";
constexpr int kStateFormat = 1;

absl::Status Unauthenticated(RejectReason reason, std::string_view message) {
  return Reject(reason, absl::StatusCode::kUnauthenticated, message);
}
absl::Status Deny(RejectReason reason, std::string_view message) {
  return Reject(reason, absl::StatusCode::kPermissionDenied, message);
}

}  // namespace

// ---- sources ----

std::string FetchRequest::FileName() const {
  if (version.has_value()) return strata::StrCat(*version, ".", role, ".json");
  return strata::StrCat(role, ".json");
}

absl::StatusOr<std::string> InMemoryMetadataSource::Fetch(
    const FetchRequest& request) {
  auto it = files_.find(request.FileName());
  if (it == files_.end()) {
    return absl::NotFoundError(
        strata::StrCat(request.FileName(), " is not available"));
  }
  if (it->second.size() > request.max_length) {
    // Like a transport that stops reading at the cap.
    return absl::ResourceExhaustedError(strata::StrCat(
        request.FileName(), " is longer than ", request.max_length, " bytes"));
  }
  return it->second;
}

absl::StatusOr<std::string> FileSystemMetadataSource::Fetch(
    const FetchRequest& request) {
  const std::string path = JoinPath(dir_, request.FileName());
  absl::StatusOr<FileInfo> info = fs_->Stat(path);
  if (!info.ok()) return info.status();
  if (info->size > request.max_length) {
    return absl::ResourceExhaustedError(
        strata::StrCat(path, " is ", info->size, " bytes, over the cap of ",
                       request.max_length));
  }
  return fs_->ReadFile(path);
}

// ---- trusted state ----

template <typename T>
struct Trusted {
  std::string bytes;  // the file as received (signatures included)
  T meta;
};

struct Verifier::State {
  Trusted<RootMetadata> root;
  std::optional<Trusted<TimestampMetadata>> timestamp;
  std::optional<Trusted<SnapshotMetadata>> snapshot;
  std::optional<Trusted<TargetsMetadata>> targets;
  std::map<std::string, Trusted<TargetsMetadata>> delegated;
  std::optional<Trusted<DirectorMetadata>> director;
  std::map<std::string, uint64_t> installed;  // ModuleKey -> release counter
  absl::Time refresh_start = absl::InfinitePast();
};

namespace {

// Parses and checks the envelope's "_type", returning the envelope.
absl::StatusOr<SignedMetadata> ParseEnvelope(std::string_view bytes,
                                             std::string_view role,
                                             std::string_view type,
                                             uint64_t max_bytes) {
  STRATA_ASSIGN_OR_RETURN(SignedMetadata m,
                          SignedMetadata::Parse(bytes, role, max_bytes));
  if (m.type() != type) {
    return Reject(RejectReason::kWrongMetadataType,
                  absl::StatusCode::kInvalidArgument,
                  strata::StrCat(role, " metadata has _type \"", m.type(),
                                 "\", expected \"", type, "\""));
  }
  return m;
}

absl::StatusOr<Trusted<RootMetadata>> ParseSelfSignedRoot(
    std::string_view bytes) {
  STRATA_ASSIGN_OR_RETURN(SignedMetadata m,
                          ParseEnvelope(bytes, "root", "root", 16u << 20));
  STRATA_ASSIGN_OR_RETURN(RootMetadata root, ParseRoot(m.signed_part()));
  STRATA_RETURN_IF_ERROR(
      VerifyThreshold(m, root.keys, root.roles.at("root"), "root"));
  return Trusted<RootMetadata>{std::string(bytes), std::move(root)};
}

bool SameRoleKeys(const RootMetadata& a, const RootMetadata& b,
                  const std::string& role) {
  const RoleKeys& ra = a.roles.at(role);
  const RoleKeys& rb = b.roles.at(role);
  if (ra.threshold != rb.threshold) return false;
  std::set<std::string> ka, kb;
  for (const std::string& id : ra.keyids) ka.insert(a.keys.at(id).raw());
  for (const std::string& id : rb.keyids) kb.insert(b.keys.at(id).raw());
  return ka == kb;
}

// Director keys (custom.director), compared by public key, not key id.
bool SameDirectorKeys(const RootMetadata& a, const RootMetadata& b) {
  if (a.director.has_value() != b.director.has_value()) return false;
  if (!a.director.has_value()) return true;
  if (a.director->threshold != b.director->threshold) return false;
  std::set<std::string> ka, kb;
  for (const std::string& id : a.director->keyids)
    ka.insert(a.keys.at(id).raw());
  for (const std::string& id : b.director->keyids)
    kb.insert(b.keys.at(id).raw());
  return ka == kb;
}

absl::Status CheckExpiry(std::string_view role, absl::Time expires,
                         absl::Time start) {
  if (expires <= start) {
    return Deny(
        RejectReason::kExpiredMetadata,
        strata::StrCat(role, " metadata expired at ", FormatTufTime(expires),
                       ", before this update started at ", FormatTufTime(start),
                       " (a freeze attack, or a repository that "
                       "stopped re-signing)"));
  }
  return absl::OkStatus();
}

// Checks bytes against the length and hashes a parent lists.
absl::Status CheckAgainstParent(
    std::string_view role, std::string_view bytes,
    std::optional<uint64_t> length,
    const std::map<std::string, std::string>& hashes, std::string_view parent) {
  if (length.has_value()) {
    if (bytes.size() > *length) {
      return Reject(RejectReason::kEndlessData,
                    absl::StatusCode::kResourceExhausted,
                    strata::StrCat(role, " metadata is ", bytes.size(),
                                   " bytes, more than the ", *length, " ",
                                   parent, " lists"));
    }
    if (bytes.size() != *length) {
      return Reject(RejectReason::kLengthMismatch, absl::StatusCode::kDataLoss,
                    strata::StrCat(role, " metadata is ", bytes.size(),
                                   " bytes, ", parent, " lists ", *length));
    }
  }
  if (!hashes.empty()) {
    auto it = hashes.find("sha256");
    if (it == hashes.end()) {
      return Reject(RejectReason::kHashMismatch, absl::StatusCode::kDataLoss,
                    strata::StrCat(parent, " lists no sha256 hash for ", role,
                                   " (the only supported algorithm)"));
    }
    const std::string actual = Sha256::HexHash(bytes);
    if (actual != it->second) {
      return Reject(RejectReason::kHashMismatch, absl::StatusCode::kDataLoss,
                    strata::StrCat(role, " metadata has sha256 ", actual, ", ",
                                   parent, " lists ", it->second));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// Fetches with the byte cap and the deadline; maps transport errors to
// reasons.
static absl::StatusOr<std::string> FetchChecked(MetadataSource& source,
                                                Clock& clock,
                                                FetchRequest request) {
  const std::string file = request.FileName();
  if (clock.Now() >= request.deadline) {
    return Reject(
        RejectReason::kSlowRetrieval, absl::StatusCode::kDeadlineExceeded,
        strata::StrCat("update deadline passed before fetching ", file));
  }
  absl::StatusOr<std::string> bytes = source.Fetch(request);
  if (!bytes.ok()) {
    const absl::Status& s = bytes.status();
    const std::string msg =
        strata::StrCat("fetching ", file, ": ", ToStd(s.message()));
    switch (s.code()) {
      case absl::StatusCode::kDeadlineExceeded:
        return Reject(RejectReason::kSlowRetrieval,
                      absl::StatusCode::kDeadlineExceeded, msg);
      case absl::StatusCode::kResourceExhausted:
        return Reject(RejectReason::kEndlessData,
                      absl::StatusCode::kResourceExhausted, msg);
      case absl::StatusCode::kNotFound:
        return WithRejectReason(absl::NotFoundError(msg),
                                RejectReason::kMetadataUnavailable);
      default:
        return Reject(RejectReason::kMetadataUnavailable,
                      absl::StatusCode::kUnavailable, msg);
    }
  }
  if (bytes->size() > request.max_length) {
    return Reject(
        RejectReason::kEndlessData, absl::StatusCode::kResourceExhausted,
        strata::StrCat(file, " delivered ", bytes->size(),
                       " bytes, more than the cap of ", request.max_length));
  }
  if (clock.Now() > request.deadline) {
    return Reject(RejectReason::kSlowRetrieval,
                  absl::StatusCode::kDeadlineExceeded,
                  strata::StrCat(file, " arrived after the update deadline"));
  }
  return bytes;
}

namespace {

// ---- the state file ----

std::string SerializeState(const Verifier::State& s) {
  Json j = Json::MakeObject();
  j["format"] = kStateFormat;
  j["root"] = s.root.bytes;
  if (s.timestamp) j["timestamp"] = s.timestamp->bytes;
  if (s.snapshot) j["snapshot"] = s.snapshot->bytes;
  if (s.targets) j["targets"] = s.targets->bytes;
  Json delegated = Json::MakeObject();
  for (const auto& [name, t] : s.delegated) delegated[name] = t.bytes;
  j["delegated"] = std::move(delegated);
  if (s.director) j["director"] = s.director->bytes;
  Json installed = Json::MakeObject();
  for (const auto& [key, counter] : s.installed) installed[key] = counter;
  j["installed"] = std::move(installed);
  return j.Dump();
}

absl::Status Corrupt(std::string_view path, const absl::Status& why) {
  return Reject(RejectReason::kTrustedStateCorrupt, absl::StatusCode::kDataLoss,
                strata::StrCat("trusted state ", path, " is invalid (",
                               ToStd(why.message()),
                               "); delete it to start again from the root "
                               "pinned in the app"));
}

template <typename T, typename ParseFn>
absl::StatusOr<std::optional<Trusted<T>>> LoadRole(const Json& state,
                                                   std::string_view key,
                                                   std::string_view role,
                                                   std::string_view type,
                                                   ParseFn parse) {
  const Json* v = state.Find(key);
  if (v == nullptr) return std::optional<Trusted<T>>();
  if (!v->is_string()) {
    return absl::InvalidArgumentError(
        strata::StrCat("member ", key, " is not a string"));
  }
  STRATA_ASSIGN_OR_RETURN(SignedMetadata m,
                          ParseEnvelope(v->as_string(), role, type, 64u << 20));
  STRATA_ASSIGN_OR_RETURN(T meta, parse(m.signed_part()));
  return std::optional<Trusted<T>>(Trusted<T>{v->as_string(), std::move(meta)});
}

absl::Status LoadStateInto(const std::string& bytes, Verifier::State& s) {
  STRATA_ASSIGN_OR_RETURN(
      Json j, Json::Parse(bytes, {.max_depth = 8, .max_bytes = 256u << 20}));
  const Json* format = j.Find("format");
  if (format == nullptr || !format->is_int() ||
      format->as_int() != kStateFormat) {
    return absl::InvalidArgumentError("unknown state format");
  }
  const Json* root = j.Find("root");
  if (root == nullptr || !root->is_string()) {
    return absl::InvalidArgumentError("no root");
  }
  // The stored root is our anchor: it must still be signed by its own keys.
  STRATA_ASSIGN_OR_RETURN(s.root, ParseSelfSignedRoot(root->as_string()));
  STRATA_ASSIGN_OR_RETURN(
      s.timestamp, LoadRole<TimestampMetadata>(j, "timestamp", "timestamp",
                                               "timestamp", ParseTimestamp));
  STRATA_ASSIGN_OR_RETURN(
      s.snapshot, LoadRole<SnapshotMetadata>(j, "snapshot", "snapshot",
                                             "snapshot", ParseSnapshot));
  STRATA_ASSIGN_OR_RETURN(
      s.targets, LoadRole<TargetsMetadata>(j, "targets", "targets", "targets",
                                           [](const Json& sp) {
                                             return ParseTargets(sp, "targets");
                                           }));
  STRATA_ASSIGN_OR_RETURN(
      s.director, LoadRole<DirectorMetadata>(j, "director", "director",
                                             "director", ParseDirector));
  if (const Json* d = j.Find("delegated"); d != nullptr && d->is_object()) {
    for (const auto& entry : d->as_object()) {
      // A plain reference, not a structured binding: lambdas capture
      // bindings only from C++20 compilers newer than Debian's clang-14.
      const std::string& name = entry.first;
      STRATA_ASSIGN_OR_RETURN(
          auto t, LoadRole<TargetsMetadata>(
                      *d, name, name, "targets",
                      [&](const Json& sp) { return ParseTargets(sp, name); }));
      if (t.has_value()) s.delegated.emplace(name, *std::move(t));
    }
  }
  if (const Json* inst = j.Find("installed");
      inst != nullptr && inst->is_object()) {
    for (const auto& [key, counter] : inst->as_object()) {
      if (!counter.is_int() || counter.as_int() < 0) {
        return absl::InvalidArgumentError("bad installed release counter");
      }
      s.installed[key] = static_cast<uint64_t>(counter.as_int());
    }
  }
  return absl::OkStatus();
}

// Drops trusted timestamp and snapshot when their keys changed between
// roots (TUF 5.3.11, fast-forward attack recovery); also targets, and the
// director when its keys changed.
void ForgetRotatedRoles(const RootMetadata& old_root,
                        const RootMetadata& new_root, Verifier::State& s) {
  if (!SameRoleKeys(old_root, new_root, "timestamp") ||
      !SameRoleKeys(old_root, new_root, "snapshot")) {
    s.timestamp.reset();
    s.snapshot.reset();
  }
  if (!SameRoleKeys(old_root, new_root, "targets")) {
    s.targets.reset();
    s.delegated.clear();
  }
  // A director version fast-forwarded with a stolen online key is reset by
  // rotating that key.
  if (!SameDirectorKeys(old_root, new_root)) s.director.reset();
}

}  // namespace

// ---- Verifier ----

Verifier::Verifier(const Env& env, VerifierOptions options,
                   std::unique_ptr<State> state)
    : env_(env), options_(std::move(options)), state_(std::move(state)) {}

Verifier::~Verifier() = default;

std::string Verifier::StatePath() const {
  return JoinPath(options_.state_dir, kStateFile);
}

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::Open(
    const Env& env, VerifierOptions options) {
  if (env.fs == nullptr || env.clock == nullptr) {
    return absl::InvalidArgumentError(
        "Verifier needs a file system and a clock");
  }
  if (options.state_dir.empty()) {
    return absl::InvalidArgumentError("VerifierOptions.state_dir is empty");
  }
  absl::StatusOr<Trusted<RootMetadata>> pinned =
      ParseSelfSignedRoot(options.pinned_root);
  if (!pinned.ok()) {
    return WithRejectReason(
        Annotate(pinned.status(), "the pinned root metadata is invalid"),
        RejectReason::kTrustedStateCorrupt);
  }
  STRATA_RETURN_IF_ERROR(CreateDirs(*env.fs, options.state_dir));
  auto state = std::make_unique<State>();
  const std::string path = JoinPath(options.state_dir, kStateFile);
  absl::StatusOr<std::string> bytes = env.fs->ReadFile(path);
  if (bytes.ok()) {
    absl::Status s = LoadStateInto(*bytes, *state);
    if (!s.ok()) return Corrupt(path, s);
    if (pinned->meta.common.version > state->root.meta.common.version) {
      // The app shipped a newer root than the one we reached: it is trusted
      // by construction.
      ForgetRotatedRoles(state->root.meta, pinned->meta, *state);
      state->root = *std::move(pinned);
    }
  } else if (absl::IsNotFound(bytes.status())) {
    state->root = *std::move(pinned);
  } else {
    return Annotate(bytes.status(), "reading the trusted state");
  }
  return std::unique_ptr<Verifier>(
      new Verifier(env, std::move(options), std::move(state)));
}

absl::Status Verifier::Persist(const State& state) const {
  absl::Status s =
      WriteFileAtomically(*env_.fs, StatePath(), SerializeState(state));
  if (!s.ok()) {
    return Reject(RejectReason::kTrustedStatePersistFailed,
                  absl::StatusCode::kUnavailable,
                  strata::StrCat("could not persist the trusted state (it is "
                                 "unchanged): ",
                                 ToStd(s.message())));
  }
  return absl::OkStatus();
}

namespace {

// One role fetched under a parent's description (snapshot, targets,
// delegated targets).
struct ParentEntry {
  std::string parent;  // "timestamp", "snapshot"
  MetaFileInfo info;
};

// A fetched file: the bytes as received and their parsed envelope.
struct Fetched {
  std::string bytes;
  SignedMetadata m;
};

absl::StatusOr<Fetched> FetchListedRole(MetadataSource& source, Clock& clock,
                                        const RootMetadata& root,
                                        const std::string& role,
                                        const ParentEntry& entry,
                                        uint64_t default_max,
                                        absl::Time deadline) {
  FetchRequest req;
  req.role = role;
  if (root.consistent_snapshot) req.version = entry.info.version;
  req.max_length = entry.info.length.value_or(default_max);
  req.deadline = deadline;
  STRATA_ASSIGN_OR_RETURN(std::string bytes, FetchChecked(source, clock, req));
  STRATA_RETURN_IF_ERROR(CheckAgainstParent(role, bytes, entry.info.length,
                                            entry.info.hashes, entry.parent));
  STRATA_ASSIGN_OR_RETURN(
      SignedMetadata m,
      ParseEnvelope(bytes, role, role == "snapshot" ? "snapshot" : "targets",
                    req.max_length));
  return Fetched{std::move(bytes), std::move(m)};
}

absl::Status CheckListedVersion(std::string_view role, uint64_t got,
                                const ParentEntry& entry) {
  if (got != entry.info.version) {
    return Deny(
        RejectReason::kVersionMismatch,
        strata::StrCat(role, " metadata has version ", got, ", ", entry.parent,
                       " lists version ", entry.info.version,
                       " (mix-and-match of metadata)"));
  }
  return absl::OkStatus();
}

absl::Status UpdateRoot(MetadataSource& source, Clock& clock,
                        const VerifierOptions& options, absl::Time start,
                        absl::Time deadline, Verifier::State& next) {
  const RootMetadata original = next.root.meta;
  for (uint32_t step = 0;; ++step) {
    const uint64_t want = next.root.meta.common.version + 1;
    FetchRequest req;
    req.role = "root";
    req.version = want;
    req.max_length = options.root_max_length;
    req.deadline = deadline;
    absl::StatusOr<std::string> bytes = FetchChecked(source, clock, req);
    if (absl::IsNotFound(bytes.status())) break;
    if (!bytes.ok()) return bytes.status();
    if (step == options.max_root_rotations) {
      return Deny(RejectReason::kRootRotationTooManySteps,
                  strata::StrCat("more than ", options.max_root_rotations,
                                 " root versions after version ",
                                 original.common.version,
                                 " in one update; ship an app with a newer "
                                 "pinned root"));
    }
    STRATA_ASSIGN_OR_RETURN(
        SignedMetadata m,
        ParseEnvelope(*bytes, "root", "root", options.root_max_length));
    STRATA_ASSIGN_OR_RETURN(RootMetadata root, ParseRoot(m.signed_part()));
    const std::string label = strata::StrCat("root v", want);
    absl::Status old_ok = VerifyThreshold(
        m, next.root.meta.keys, next.root.meta.roles.at("root"), label);
    if (!old_ok.ok()) {
      return Unauthenticated(
          RejectReason::kRootRotationOldThresholdNotMet,
          strata::StrCat("not signed by a threshold of the keys of root v",
                         next.root.meta.common.version, ": ",
                         ToStd(old_ok.message())));
    }
    absl::Status new_ok =
        VerifyThreshold(m, root.keys, root.roles.at("root"), label);
    if (!new_ok.ok()) {
      return Unauthenticated(
          RejectReason::kRootRotationNewThresholdNotMet,
          strata::StrCat("not signed by a threshold of its own keys: ",
                         ToStd(new_ok.message())));
    }
    if (root.common.version != want) {
      return Deny(RejectReason::kRootRotationVersionMismatch,
                  strata::StrCat(req.FileName(), " carries version ",
                                 root.common.version, ", expected ", want));
    }
    next.root = Trusted<RootMetadata>{*std::move(bytes), std::move(root)};
  }
  STRATA_RETURN_IF_ERROR(
      CheckExpiry("root", next.root.meta.common.expires, start));
  if (next.root.meta.common.version != original.common.version) {
    ForgetRotatedRoles(original, next.root.meta, next);
  }
  return absl::OkStatus();
}

absl::Status UpdateTimestamp(MetadataSource& source, Clock& clock,
                             const VerifierOptions& options, absl::Time start,
                             absl::Time deadline, Verifier::State& next) {
  FetchRequest req;
  req.role = "timestamp";
  req.max_length = options.timestamp_max_length;
  req.deadline = deadline;
  STRATA_ASSIGN_OR_RETURN(std::string bytes, FetchChecked(source, clock, req));
  STRATA_ASSIGN_OR_RETURN(
      SignedMetadata m,
      ParseEnvelope(bytes, "timestamp", "timestamp", req.max_length));
  const RootMetadata& root = next.root.meta;
  STRATA_RETURN_IF_ERROR(
      VerifyThreshold(m, root.keys, root.roles.at("timestamp"), "timestamp"));
  STRATA_ASSIGN_OR_RETURN(TimestampMetadata ts,
                          ParseTimestamp(m.signed_part()));
  if (next.timestamp.has_value()) {
    const TimestampMetadata& old = next.timestamp->meta;
    if (ts.common.version < old.common.version) {
      return Deny(RejectReason::kRoleVersionRollback,
                  strata::StrCat("timestamp version ", ts.common.version,
                                 " is older than the trusted version ",
                                 old.common.version));
    }
    if (ts.snapshot.version < old.snapshot.version) {
      return Deny(RejectReason::kRoleVersionRollback,
                  strata::StrCat(
                      "timestamp lists snapshot version ", ts.snapshot.version,
                      ", older than the trusted ", old.snapshot.version));
    }
    if (ts.common.version == old.common.version) {
      // Nothing new: keep the trusted copy (TUF 5.4.3.1), but it must still
      // be fresh.
      return CheckExpiry("timestamp", old.common.expires, start);
    }
  }
  STRATA_RETURN_IF_ERROR(CheckExpiry("timestamp", ts.common.expires, start));
  next.timestamp = Trusted<TimestampMetadata>{std::move(bytes), std::move(ts)};
  return absl::OkStatus();
}

absl::Status UpdateSnapshot(MetadataSource& source, Clock& clock,
                            const VerifierOptions& options, absl::Time start,
                            absl::Time deadline, Verifier::State& next) {
  const ParentEntry entry{"timestamp", next.timestamp->meta.snapshot};
  if (next.snapshot.has_value() &&
      next.snapshot->meta.common.version == entry.info.version) {
    // Already trusted; no download, but freshness still matters.
    return CheckExpiry("snapshot", next.snapshot->meta.common.expires, start);
  }
  const RootMetadata& root = next.root.meta;
  STRATA_ASSIGN_OR_RETURN(
      Fetched fetched, FetchListedRole(source, clock, root, "snapshot", entry,
                                       options.snapshot_max_length, deadline));
  const SignedMetadata& m = fetched.m;
  STRATA_RETURN_IF_ERROR(
      VerifyThreshold(m, root.keys, root.roles.at("snapshot"), "snapshot"));
  STRATA_ASSIGN_OR_RETURN(SnapshotMetadata snap,
                          ParseSnapshot(m.signed_part()));
  STRATA_RETURN_IF_ERROR(
      CheckListedVersion("snapshot", snap.common.version, entry));
  if (next.snapshot.has_value()) {
    for (const auto& [name, old] : next.snapshot->meta.meta) {
      auto it = snap.meta.find(name);
      if (it == snap.meta.end()) {
        return Deny(RejectReason::kRoleVersionRollback,
                    strata::StrCat("snapshot v", snap.common.version,
                                   " no longer lists ", name,
                                   " (trusted snapshot listed version ",
                                   old.version, ")"));
      }
      if (it->second.version < old.version) {
        return Deny(RejectReason::kRoleVersionRollback,
                    strata::StrCat("snapshot v", snap.common.version, " lists ",
                                   name, " version ", it->second.version,
                                   ", older than the trusted ", old.version));
      }
    }
  }
  STRATA_RETURN_IF_ERROR(CheckExpiry("snapshot", snap.common.expires, start));
  // The bytes as received: they match the timestamp's hash, so TrustedFile
  // can serve them again.
  next.snapshot =
      Trusted<SnapshotMetadata>{std::move(fetched.bytes), std::move(snap)};
  return absl::OkStatus();
}

// Loads one targets role (top-level or delegated) listed in the snapshot.
absl::StatusOr<Trusted<TargetsMetadata>> LoadTargetsRole(
    MetadataSource& source, Clock& clock, const VerifierOptions& options,
    absl::Time start, absl::Time deadline, const Verifier::State& next,
    const std::string& role, const std::map<std::string, PublicKey>& keys,
    const RoleKeys& role_keys,
    const std::optional<Trusted<TargetsMetadata>>& trusted) {
  const std::string file = strata::StrCat(role, ".json");
  auto listed = next.snapshot->meta.meta.find(file);
  if (listed == next.snapshot->meta.meta.end()) {
    return Reject(
        RejectReason::kMetadataUnavailable, absl::StatusCode::kNotFound,
        strata::StrCat("snapshot v", next.snapshot->meta.common.version,
                       " does not list ", file));
  }
  const ParentEntry entry{"snapshot", listed->second};
  if (trusted.has_value() &&
      trusted->meta.common.version == entry.info.version) {
    // Reuse the trusted copy only while the current delegating keys still
    // vouch for it (a revoked publisher key invalidates it).
    absl::StatusOr<SignedMetadata> cached =
        SignedMetadata::Parse(trusted->bytes, role);
    if (cached.ok() && VerifyThreshold(*cached, keys, role_keys, role).ok()) {
      STRATA_RETURN_IF_ERROR(
          CheckExpiry(role, trusted->meta.common.expires, start));
      return *trusted;
    }
  }
  STRATA_ASSIGN_OR_RETURN(
      Fetched fetched,
      FetchListedRole(source, clock, next.root.meta, role, entry,
                      options.targets_max_length, deadline));
  const SignedMetadata& m = fetched.m;
  STRATA_RETURN_IF_ERROR(VerifyThreshold(m, keys, role_keys, role));
  STRATA_ASSIGN_OR_RETURN(TargetsMetadata t,
                          ParseTargets(m.signed_part(), role));
  STRATA_RETURN_IF_ERROR(CheckListedVersion(role, t.common.version, entry));
  STRATA_RETURN_IF_ERROR(CheckExpiry(role, t.common.expires, start));
  return Trusted<TargetsMetadata>{std::move(fetched.bytes), std::move(t)};
}

absl::Status UpdateTargets(MetadataSource& source, Clock& clock,
                           const VerifierOptions& options, absl::Time start,
                           absl::Time deadline, Verifier::State& next) {
  const RootMetadata& root = next.root.meta;
  STRATA_ASSIGN_OR_RETURN(
      Trusted<TargetsMetadata> targets,
      LoadTargetsRole(source, clock, options, start, deadline, next, "targets",
                      root.keys, root.roles.at("targets"), next.targets));
  std::map<std::string, Trusted<TargetsMetadata>> delegated;
  if (targets.meta.delegations.has_value()) {
    const Delegations& d = *targets.meta.delegations;
    if (d.roles.size() > options.max_delegations) {
      return Deny(RejectReason::kMalformedMetadata,
                  strata::StrCat("targets delegates to ", d.roles.size(),
                                 " roles, more than the limit of ",
                                 options.max_delegations));
    }
    for (const DelegatedRole& r : d.roles) {
      auto old = next.delegated.find(r.name);
      std::optional<Trusted<TargetsMetadata>> trusted;
      if (old != next.delegated.end()) trusted = old->second;
      RoleKeys keys{r.keyids, r.threshold};
      STRATA_ASSIGN_OR_RETURN(
          Trusted<TargetsMetadata> t,
          LoadTargetsRole(source, clock, options, start, deadline, next, r.name,
                          d.keys, keys, trusted));
      for (const auto& [name, unused] : t.meta.targets) {
        bool allowed = false;
        for (const std::string& p : r.paths) {
          allowed |= MatchesPathPattern(name, p);
        }
        if (!allowed) {
          return Deny(RejectReason::kDelegationPathNotAllowed,
                      strata::StrCat("role ", r.name, " lists target ", name,
                                     " outside its delegated paths"));
        }
      }
      if (t.meta.delegations.has_value() &&
          !t.meta.delegations->roles.empty()) {
        STRATA_LOG(Warning) << "role " << r.name
                            << " delegates further; nested delegations are "
                               "ignored by this client";
      }
      delegated.emplace(r.name, std::move(t));
    }
  }
  next.targets = std::move(targets);
  next.delegated = std::move(delegated);
  return absl::OkStatus();
}

absl::Status UpdateDirector(MetadataSource& source, Clock& clock,
                            const VerifierOptions& options, absl::Time start,
                            absl::Time deadline, Verifier::State& next) {
  const RootMetadata& root = next.root.meta;
  FetchRequest req;
  req.role = "director";
  req.max_length = options.director_max_length;
  req.deadline = deadline;
  STRATA_ASSIGN_OR_RETURN(std::string bytes, FetchChecked(source, clock, req));
  STRATA_ASSIGN_OR_RETURN(
      SignedMetadata m,
      ParseEnvelope(bytes, "director", "director", req.max_length));
  STRATA_RETURN_IF_ERROR(
      VerifyThreshold(m, root.keys, *root.director, "director"));
  STRATA_ASSIGN_OR_RETURN(DirectorMetadata d, ParseDirector(m.signed_part()));
  if (!root.app_id.empty() && d.app_id != root.app_id) {
    return Deny(RejectReason::kWrongApp,
                strata::StrCat("director metadata is for app \"", d.app_id,
                               "\", the root is for \"", root.app_id, "\""));
  }
  if (next.director.has_value() &&
      d.common.version < next.director->meta.common.version) {
    return Deny(RejectReason::kRoleVersionRollback,
                strata::StrCat("director version ", d.common.version,
                               " is older than the trusted version ",
                               next.director->meta.common.version));
  }
  STRATA_RETURN_IF_ERROR(CheckExpiry("director", d.common.expires, start));
  next.director = Trusted<DirectorMetadata>{std::move(bytes), std::move(d)};
  return absl::OkStatus();
}

}  // namespace

absl::Status Verifier::Refresh(MetadataSource& source) {
  Clock& clock = *env_.clock;
  const absl::Time start = clock.Now();
  const absl::Time deadline = start + options_.update_timeout;
  State next = *state_;
  STRATA_RETURN_IF_ERROR(
      UpdateRoot(source, clock, options_, start, deadline, next));
  STRATA_RETURN_IF_ERROR(
      UpdateTimestamp(source, clock, options_, start, deadline, next));
  STRATA_RETURN_IF_ERROR(
      UpdateSnapshot(source, clock, options_, start, deadline, next));
  STRATA_RETURN_IF_ERROR(
      UpdateTargets(source, clock, options_, start, deadline, next));
  if (next.root.meta.director.has_value()) {
    STRATA_RETURN_IF_ERROR(
        UpdateDirector(source, clock, options_, start, deadline, next));
  } else {
    next.director.reset();
  }
  next.refresh_start = start;
  STRATA_RETURN_IF_ERROR(Persist(next));
  *state_ = std::move(next);
  refreshed_ = true;
  return absl::OkStatus();
}

absl::StatusOr<VerifiedTarget> Verifier::FindTarget(
    std::string_view name) const {
  if (!refreshed_ || !state_->targets.has_value()) {
    return absl::FailedPreconditionError(
        "no fresh trusted metadata: call Refresh() first");
  }
  auto make = [&](const std::string& role,
                  const TargetFile& file) -> absl::StatusOr<VerifiedTarget> {
    VerifiedTarget v;
    v.name = std::string(name);
    v.role = role;
    v.length = file.length;
    auto it = file.hashes.find("sha256");
    if (it == file.hashes.end()) {
      return Reject(RejectReason::kMalformedMetadata,
                    absl::StatusCode::kInvalidArgument,
                    strata::StrCat("target ", name, " in role ", role,
                                   " has no sha256 hash"));
    }
    v.sha256 = it->second;
    v.artifact = file.artifact;
    v.file = file;
    return v;
  };
  const TargetsMetadata& top = state_->targets->meta;
  const std::string key(name);
  if (auto it = top.targets.find(key); it != top.targets.end()) {
    return make("targets", it->second);
  }
  if (top.delegations.has_value()) {
    for (const DelegatedRole& r : top.delegations->roles) {
      bool matches = false;
      for (const std::string& p : r.paths) {
        matches |= MatchesPathPattern(name, p);
      }
      if (!matches) continue;
      auto d = state_->delegated.find(r.name);
      if (d != state_->delegated.end()) {
        auto it = d->second.meta.targets.find(key);
        if (it != d->second.meta.targets.end()) return make(r.name, it->second);
      }
      if (r.terminating) break;
    }
  }
  return absl::NotFoundError(
      strata::StrCat("no publisher-signed target named ", name));
}

rollout::DeviceAttributes SelectionAttributes(const DeviceInfo& device) {
  rollout::DeviceAttributes a = device.attributes;
  if (a.device_id.empty()) a.device_id = device.device_id;
  if (a.user_id.empty()) a.user_id = device.user_id;
  if (a.app_version.empty()) a.app_version = device.app_version;
  return a;
}

absl::StatusOr<VerifiedTarget> Verifier::ResolveModule(
    const DeviceInfo& device, Layer layer, std::string_view module) const {
  if (!refreshed_) {
    return absl::FailedPreconditionError(
        "no fresh trusted metadata: call Refresh() first");
  }
  if (!state_->director.has_value()) {
    return absl::FailedPreconditionError(
        "the trusted root names no director role");
  }
  const DirectorMetadata& director = state_->director->meta;
  if (director.app_id != device.app_id) {
    return Deny(
        RejectReason::kWrongApp,
        strata::StrCat("director metadata is for app \"", director.app_id,
                       "\", this is \"", device.app_id, "\""));
  }
  const std::string module_key = ModuleKey(layer, module);
  const std::map<std::string, DirectorChoice> chosen = DirectorChoicesFor(
      director, SelectionAttributes(device), state_->installed);
  auto it = chosen.find(module_key);
  if (it == chosen.end()) {
    return absl::NotFoundError(
        strata::StrCat("the director assigns no release of ", module_key,
                       " to device ", device.device_id));
  }
  return CheckChoice(device, layer, module, it->second);
}

absl::StatusOr<VerifiedTarget> Verifier::CheckChoice(
    const DeviceInfo& device, Layer layer, std::string_view module,
    const DirectorChoice& choice) const {
  const std::string module_key = ModuleKey(layer, module);
  const DirectorTarget& dt = choice.target;
  absl::StatusOr<VerifiedTarget> signed_target = FindTarget(dt.target);
  if (absl::IsNotFound(signed_target.status())) {
    return Deny(
        RejectReason::kUnsignedDirectorTarget,
        strata::StrCat("the director assigns ", dt.target, " for ", module_key,
                       ", but no publisher signed such a target"));
  }
  if (!signed_target.ok()) return signed_target.status();
  VerifiedTarget& v = *signed_target;
  v.release_id = choice.release_id;
  if (!v.artifact.has_value()) {
    return Deny(RejectReason::kUnsignedDirectorTarget,
                strata::StrCat("target ", dt.target,
                               " carries no Strata artifact fields "
                               "(custom.app/layer/module/release_counter)"));
  }
  auto mismatch = [&](std::string_view field, const std::string& director_value,
                      const std::string& signed_value) {
    return Deny(RejectReason::kDirectorTargetMismatch,
                strata::StrCat("director entry for ", dt.target, " has ", field,
                               " ", director_value, ", the publisher signed ",
                               signed_value));
  };
  if (dt.length != v.length) {
    return mismatch("length", std::to_string(dt.length),
                    std::to_string(v.length));
  }
  auto dh = dt.hashes.find("sha256");
  if (dh == dt.hashes.end() || dh->second != v.sha256) {
    return mismatch("sha256", dh == dt.hashes.end() ? "(none)" : dh->second,
                    v.sha256);
  }
  for (const auto& [algo, hex] : dt.hashes) {
    auto sh = v.file.hashes.find(algo);
    if (sh != v.file.hashes.end() && sh->second != hex) {
      return mismatch(algo, hex, sh->second);
    }
  }
  if (dt.release_counter != v.artifact->release_counter) {
    return mismatch("release counter", std::to_string(dt.release_counter),
                    std::to_string(v.artifact->release_counter));
  }
  // The target's name must agree with its signed fields.
  const std::string_view name_layer =
      std::string_view(v.name).substr(0, v.name.find('/'));
  if (name_layer != LayerName(v.artifact->layer)) {
    return Deny(
        RejectReason::kWrongLayer,
        strata::StrCat("target ", v.name, " is named for layer ", name_layer,
                       " but signed as ", LayerName(v.artifact->layer)));
  }
  STRATA_RETURN_IF_ERROR(
      CheckCompatibility(*v.artifact, device, layer, module));
  if (auto inst = state_->installed.find(module_key);
      inst != state_->installed.end() &&
      v.artifact->release_counter < inst->second) {
    return Deny(RejectReason::kReleaseCounterRollback,
                strata::StrCat(v.name, " has release counter ",
                               v.artifact->release_counter, ", below the ",
                               inst->second, " installed for ", module_key,
                               " (replay or downgrade without a new "
                               "release)"));
  }
  return v;
}

absl::StatusOr<std::vector<VerifiedTarget>> Verifier::ResolveAll(
    const DeviceInfo& device) const {
  if (!refreshed_ || !state_->director.has_value()) {
    return absl::FailedPreconditionError(
        "no fresh director metadata: call Refresh() first");
  }
  const DirectorMetadata& director = state_->director->meta;
  if (director.app_id != device.app_id) {
    return Deny(
        RejectReason::kWrongApp,
        strata::StrCat("director metadata is for app \"", director.app_id,
                       "\", this is \"", device.app_id, "\""));
  }
  std::vector<VerifiedTarget> out;
  const std::map<std::string, DirectorChoice> chosen = DirectorChoicesFor(
      director, SelectionAttributes(device), state_->installed);
  for (const auto& [key, choice] : chosen) {
    const size_t slash = key.find('/');
    std::optional<Layer> layer = ParseLayer(key.substr(0, slash));
    if (!layer.has_value()) continue;  // rejected by the parser already
    STRATA_ASSIGN_OR_RETURN(
        VerifiedTarget v,
        CheckChoice(device, *layer, std::string_view(key).substr(slash + 1),
                    choice));
    out.push_back(std::move(v));
  }
  return out;
}

absl::Status Verifier::MarkInstalled(const VerifiedTarget& target) {
  if (!target.artifact.has_value()) {
    return absl::InvalidArgumentError(
        strata::StrCat("target ", target.name, " is not a Strata artifact"));
  }
  const std::string key =
      ModuleKey(target.artifact->layer, target.artifact->module);
  State next = *state_;
  uint64_t& counter = next.installed[key];
  counter = std::max(counter, target.artifact->release_counter);
  STRATA_RETURN_IF_ERROR(Persist(next));
  *state_ = std::move(next);
  return absl::OkStatus();
}

std::optional<uint64_t> Verifier::InstalledReleaseCounter(
    Layer layer, std::string_view module) const {
  auto it = state_->installed.find(ModuleKey(layer, module));
  if (it == state_->installed.end()) return std::nullopt;
  return it->second;
}

uint64_t Verifier::TrustedVersion(std::string_view role) const {
  if (role == "root") return state_->root.meta.common.version;
  if (role == "timestamp") {
    return state_->timestamp ? state_->timestamp->meta.common.version : 0;
  }
  if (role == "snapshot") {
    return state_->snapshot ? state_->snapshot->meta.common.version : 0;
  }
  if (role == "targets") {
    return state_->targets ? state_->targets->meta.common.version : 0;
  }
  if (role == "director") {
    return state_->director ? state_->director->meta.common.version : 0;
  }
  auto it = state_->delegated.find(std::string(role));
  return it == state_->delegated.end() ? 0 : it->second.meta.common.version;
}

TrustedVersionsInfo Verifier::TrustedVersions() const {
  TrustedVersionsInfo v;
  v.root = state_->root.meta.common.version;
  if (state_->timestamp) v.timestamp = state_->timestamp->meta.common.version;
  if (state_->snapshot) v.snapshot = state_->snapshot->meta.common.version;
  if (state_->targets) v.targets = state_->targets->meta.common.version;
  for (const auto& [name, t] : state_->delegated) {
    v.roles[name] = t.meta.common.version;
  }
  if (state_->director) v.director = state_->director->meta.common.version;
  return v;
}

std::optional<std::string> Verifier::TrustedFile(
    std::string_view file_name) const {
  constexpr std::string_view kSuffix = ".json";
  if (file_name.size() <= kSuffix.size() ||
      file_name.substr(file_name.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  std::string_view stem =
      file_name.substr(0, file_name.size() - kSuffix.size());
  // "<version>.<role>" or "<role>".
  std::optional<uint64_t> version;
  if (const size_t dot = stem.find('.'); dot != std::string_view::npos) {
    const std::string_view digits = stem.substr(0, dot);
    if (digits.empty() || digits.size() > 19 || digits[0] == '0' ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    uint64_t n = 0;
    for (char c : digits) n = n * 10 + static_cast<uint64_t>(c - '0');
    version = n;
    stem.remove_prefix(dot + 1);
  }
  const std::string role(stem);
  const bool consistent = state_->root.meta.consistent_snapshot;
  if (role == "root") {
    if (version == state_->root.meta.common.version) return state_->root.bytes;
    return std::nullopt;
  }
  if (role == "timestamp" || role == "director") {
    if (version.has_value()) return std::nullopt;
    if (role == "timestamp" && state_->timestamp) {
      return state_->timestamp->bytes;
    }
    if (role == "director" && state_->director) return state_->director->bytes;
    return std::nullopt;
  }
  // Listed roles: versioned names with consistent snapshots, plain ones
  // without.
  if (version.has_value() != consistent) return std::nullopt;
  auto matches = [&](uint64_t trusted) {
    return !version.has_value() || *version == trusted;
  };
  if (role == "snapshot") {
    if (state_->snapshot && matches(state_->snapshot->meta.common.version)) {
      return state_->snapshot->bytes;
    }
    return std::nullopt;
  }
  if (role == "targets") {
    if (state_->targets && matches(state_->targets->meta.common.version)) {
      return state_->targets->bytes;
    }
    return std::nullopt;
  }
  auto it = state_->delegated.find(role);
  if (it != state_->delegated.end() &&
      matches(it->second.meta.common.version)) {
    return it->second.bytes;
  }
  return std::nullopt;
}

const RootMetadata& Verifier::trusted_root() const { return state_->root.meta; }

// ---- downloads ----

DownloadChecker::DownloadChecker(std::string what, uint64_t expected_length,
                                 std::string expected_sha256, Clock* clock,
                                 absl::Time deadline)
    : what_(std::move(what)),
      expected_length_(expected_length),
      expected_sha256_(std::move(expected_sha256)),
      clock_(clock),
      deadline_(deadline) {}

DownloadChecker::DownloadChecker(const VerifiedTarget& target, Clock* clock,
                                 absl::Time deadline)
    : DownloadChecker(target.name, target.length, target.sha256, clock,
                      deadline) {}

absl::Status DownloadChecker::Update(std::string_view chunk) {
  if (!failed_.ok()) return failed_;
  if (chunk.size() > expected_length_ - received_) {
    failed_ = Reject(
        RejectReason::kEndlessData, absl::StatusCode::kResourceExhausted,
        strata::StrCat(what_, ": received more than the ", expected_length_,
                       " signed bytes; download stopped"));
    return failed_;
  }
  if (clock_ != nullptr && clock_->Now() > deadline_) {
    failed_ = Reject(
        RejectReason::kSlowRetrieval, absl::StatusCode::kDeadlineExceeded,
        strata::StrCat(what_, ": download deadline passed after ", received_,
                       " of ", expected_length_, " bytes"));
    return failed_;
  }
  received_ += chunk.size();
  hash_.Update(chunk);
  return absl::OkStatus();
}

absl::Status DownloadChecker::Finish() {
  if (!failed_.ok()) return failed_;
  if (received_ != expected_length_) {
    failed_ = Reject(
        RejectReason::kLengthMismatch, absl::StatusCode::kDataLoss,
        strata::StrCat(what_, ": received ", received_,
                       " bytes, the signed length is ", expected_length_));
    return failed_;
  }
  const std::string actual = ToHex(hash_.Finish());
  if (actual != expected_sha256_) {
    failed_ =
        Reject(RejectReason::kHashMismatch, absl::StatusCode::kDataLoss,
               strata::StrCat(what_, ": sha256 is ", actual,
                              ", the signed sha256 is ", expected_sha256_));
    return failed_;
  }
  failed_ = absl::FailedPreconditionError("download already finished");
  return absl::OkStatus();
}

// ---- builder helpers ----

MetaFileInfo MetaFileFor(std::string_view bytes, uint64_t version) {
  MetaFileInfo m;
  m.version = version;
  m.length = bytes.size();
  m.hashes["sha256"] = Sha256::HexHash(bytes);
  return m;
}

TargetFile TargetFileFor(std::string_view content,
                         const ArtifactInfo& artifact) {
  TargetFile f;
  f.length = content.size();
  f.hashes["sha256"] = Sha256::HexHash(content);
  f.artifact = artifact;
  return f;
}

DirectorTarget DirectorTargetFor(std::string_view target_name,
                                 const TargetFile& file) {
  DirectorTarget d;
  d.target = std::string(target_name);
  d.length = file.length;
  d.hashes = file.hashes;
  d.release_counter =
      file.artifact.has_value() ? file.artifact->release_counter : 0;
  return d;
}

}  // namespace strata::signing
