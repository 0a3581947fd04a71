#include "app_trust.h"

#include <algorithm>
#include <set>

#include "strata/admin_cli/render.h"
#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/signed_metadata.h"

namespace strata::admin {
namespace {

constexpr std::string_view kRetiredDir = "retired";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

absl::StatusOr<signing::TargetsMetadata> ParseRole(std::string_view bytes,
                                                   std::string_view role) {
  STRATA_ASSIGN_OR_RETURN(signing::SignedMetadata md,
                          signing::SignedMetadata::Parse(bytes, role));
  return signing::ParseTargets(md.signed_part(), role);
}

std::string Short(std::string_view key_id) {
  return std::string(key_id.substr(0, 16));
}

}  // namespace

signing::TargetsMetadata AppTrust::Role(std::string_view layer) const {
  auto it = roles.find(std::string(layer));
  if (it != roles.end()) return it->second;
  signing::TargetsMetadata empty;
  empty.common.version = 0;
  return empty;
}

absl::StatusOr<AppTrust> ParseAppTrust(v1::TrustInfo info) {
  AppTrust t;
  if (info.configured()) {
    STRATA_ASSIGN_OR_RETURN(
        signing::SignedMetadata root_md,
        signing::SignedMetadata::Parse(info.root(), "root"));
    STRATA_ASSIGN_OR_RETURN(t.root, signing::ParseRoot(root_md.signed_part()));
    STRATA_ASSIGN_OR_RETURN(t.targets, ParseRole(info.targets(), "targets"));
    for (const auto& [name, bytes] : info.layer_roles()) {
      STRATA_ASSIGN_OR_RETURN(signing::TargetsMetadata role,
                              ParseRole(bytes, name));
      t.roles.emplace(name, std::move(role));
    }
  }
  t.info = std::move(info);
  return t;
}

namespace {

// The parsed answer of GetTrust(app); `legacy_ok`: an unimplemented
// GetTrust means an app without trust.
absl::StatusOr<AppTrust> FromAnswer(absl::StatusOr<v1::TrustInfo> info,
                                    const std::string& app, bool legacy_ok) {
  if (!info.ok()) {
    if (info.status().code() == absl::StatusCode::kUnimplemented) {
      if (legacy_ok) return AppTrust{};
      return absl::FailedPreconditionError(
          "this stratad has no per-app trust (Admin.GetTrust is "
          "unimplemented); upgrade stratad to use this strata");
    }
    return Annotate(info.status(), StrCat("reading the trust of app ", app));
  }
  absl::StatusOr<AppTrust> parsed = ParseAppTrust(*std::move(info));
  if (!parsed.ok()) {
    return absl::DataLossError(
        StrCat("the server's trust metadata for app ", app,
               " does not parse: ", ToStd(parsed.status().message())));
  }
  return parsed;
}

}  // namespace

absl::StatusOr<AppTrust> ReadAppTrust(AdminClient& client,
                                      const std::string& app) {
  return FromAnswer(client.GetTrust(app), app, /*legacy_ok=*/false);
}

absl::StatusOr<AppTrust> ReadAppTrustIfAny(AdminClient& client,
                                           const std::string& app) {
  return FromAnswer(client.GetTrust(app), app, /*legacy_ok=*/true);
}

absl::Status RequireConfigured(const AppTrust& trust, const std::string& app) {
  if (trust.configured()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      StrCat("app ", app,
             " has no root of trust yet; set one up with "
             "`strata trust init --keys DIR --app ",
             app, "`"));
}

uint64_t HighestCounter(const signing::TargetsMetadata& role,
                        std::string_view module) {
  uint64_t highest = 0;
  for (const auto& [name, file] : role.targets) {
    if (!file.artifact.has_value() || file.artifact->module != module) {
      continue;
    }
    highest = std::max(highest, file.artifact->release_counter);
  }
  return highest;
}

std::string FindTargetFor(const signing::TargetsMetadata& role,
                          std::string_view module, std::string_view version,
                          std::string_view sha256, uint64_t length) {
  for (const auto& [name, file] : role.targets) {
    if (!file.artifact.has_value()) continue;
    const signing::ArtifactInfo& a = *file.artifact;
    auto hash = file.hashes.find("sha256");
    if (a.module == module && a.version_label == version &&
        file.length == length && hash != file.hashes.end() &&
        hash->second == sha256) {
      return name;
    }
  }
  return "";
}

absl::StatusOr<signing::DelegatedRole> DelegationOf(
    const signing::TargetsMetadata& targets, std::string_view layer) {
  if (targets.delegations.has_value()) {
    for (const auto& role : targets.delegations->roles) {
      if (role.name == layer) return role;
    }
  }
  return absl::NotFoundError(
      StrCat("the app's targets metadata delegates no ", layer,
             " role; re-create the trust with `strata trust rotate targets`"));
}

absl::StatusOr<std::vector<const signing::PrivateKey*>> SigningKeysFor(
    const signing::TargetsMetadata& targets, std::string_view layer,
    const std::vector<signing::PrivateKey>& keys, std::string_view flag) {
  STRATA_ASSIGN_OR_RETURN(signing::DelegatedRole role,
                          DelegationOf(targets, layer));
  std::vector<const signing::PrivateKey*> chosen;
  std::set<std::string> ids;
  std::vector<std::string> foreign;
  for (const signing::PrivateKey& key : keys) {
    const std::string id = key.KeyId();
    if (std::find(role.keyids.begin(), role.keyids.end(), id) ==
        role.keyids.end()) {
      foreign.push_back(Short(id));
      continue;
    }
    if (ids.insert(id).second) chosen.push_back(&key);
  }
  if (chosen.size() >= role.threshold) return chosen;
  std::string msg =
      StrCat("the ", layer, " role needs ", role.threshold,
             " distinct publisher key(s) of its ", role.keyids.size(), "; ",
             flag, " gave ", chosen.size());
  if (!foreign.empty()) {
    std::string list;
    for (const auto& f : foreign) list += (list.empty() ? "" : ", ") + f;
    msg += StrCat(" (not ", layer, " publisher keys: ", list, ")");
  }
  msg +=
      StrCat("; sign with ", flag, " FILE",
             role.threshold > 1 ? StrCat(" (", role.threshold, " times)") : "");
  return absl::PermissionDeniedError(msg);
}

absl::StatusOr<std::string> SignNextVersion(
    signing::TargetsMetadata role, absl::Time now, int days,
    const std::vector<const signing::PrivateKey*>& keys) {
  role.common.version += 1;
  role.common.expires =
      std::max(role.common.expires, now + absl::Hours(24) * days);
  return signing::SignToBytes(signing::ToJson(role), keys);
}

absl::StatusOr<std::vector<signing::PrivateKey>> LoadKeyFiles(
    const std::vector<std::string>& paths, std::string_view flag) {
  std::vector<signing::PrivateKey> keys;
  for (const std::string& path : paths) {
    absl::StatusOr<signing::PrivateKey> key =
        signing::LoadPrivateKey(*PosixFileSystem(), path);
    if (!key.ok()) {
      return absl::InvalidArgumentError(StrCat(
          "cannot use ", flag, " ", path, ": ", ToStd(key.status().message())));
    }
    keys.push_back(*std::move(key));
  }
  return keys;
}

absl::StatusOr<KeyDir> KeyDir::Load(const std::string& dir) {
  FileSystem& fs = *PosixFileSystem();
  absl::StatusOr<std::vector<std::string>> files = fs.ListDir(dir);
  if (!files.ok()) {
    return absl::InvalidArgumentError(
        StrCat("cannot read the key directory ", dir, ": ",
               ToStd(files.status().message()),
               "; make one with `strata keys gen --dir ", dir, "`"));
  }
  KeyDir d;
  d.dir = dir;
  for (const std::string& file : *files) {
    if (!EndsWith(file, ".key")) continue;
    STRATA_ASSIGN_OR_RETURN(signing::PrivateKey key,
                            signing::LoadPrivateKey(fs, JoinPath(dir, file)));
    d.keys.emplace(file.substr(0, file.size() - 4), std::move(key));
  }
  return d;
}

absl::StatusOr<signing::PrivateKey> KeyDir::Get(const std::string& name) const {
  auto it = keys.find(name);
  if (it != keys.end()) return it->second;
  return absl::InvalidArgumentError(
      StrCat(Path(name), " is missing; --keys names the directory `strata ",
             "keys gen` made for this app"));
}

std::vector<signing::PrivateKey> KeyDir::WithIds(
    const std::vector<std::string>& key_ids) const {
  std::vector<signing::PrivateKey> out;
  for (const auto& [name, key] : keys) {
    if (std::find(key_ids.begin(), key_ids.end(), key.KeyId()) !=
        key_ids.end()) {
      out.push_back(key);
    }
  }
  return out;
}

std::string KeyDir::Path(const std::string& name) const {
  return JoinPath(dir, name + ".key");
}

absl::StatusOr<std::string> RetireKey(const std::string& dir,
                                      const std::string& name,
                                      const std::string& key_id) {
  FileSystem& fs = *PosixFileSystem();
  const std::string retired = JoinPath(dir, kRetiredDir);
  STRATA_RETURN_IF_ERROR(CreateDirs(fs, retired));
  const std::string base = StrCat(name, ".", Short(key_id));
  const std::string key_path = JoinPath(retired, base + ".key");
  STRATA_RETURN_IF_ERROR(fs.Rename(JoinPath(dir, name + ".key"), key_path));
  const std::string pub = JoinPath(dir, name + ".pub");
  if (fs.Exists(pub)) {
    STRATA_RETURN_IF_ERROR(fs.Rename(pub, JoinPath(retired, base + ".pub")));
  }
  STRATA_RETURN_IF_ERROR(fs.SyncDir(retired));
  return key_path;
}

absl::Status StagePendingKey(const std::string& dir, const std::string& name,
                             const signing::PrivateKey& key) {
  FileSystem& fs = *PosixFileSystem();
  STRATA_RETURN_IF_ERROR(
      signing::SavePrivateKey(fs, JoinPath(dir, name + ".key.new"), key));
  return signing::SavePublicKey(fs, JoinPath(dir, name + ".pub.new"),
                                key.public_key());
}

absl::Status CommitPendingKey(const std::string& dir, const std::string& name) {
  FileSystem& fs = *PosixFileSystem();
  STRATA_RETURN_IF_ERROR(fs.Rename(JoinPath(dir, name + ".key.new"),
                                   JoinPath(dir, name + ".key")));
  STRATA_RETURN_IF_ERROR(fs.Rename(JoinPath(dir, name + ".pub.new"),
                                   JoinPath(dir, name + ".pub")));
  return fs.SyncDir(dir);
}

void DropPendingKey(const std::string& dir, const std::string& name) {
  FileSystem& fs = *PosixFileSystem();
  (void)fs.DeleteFile(JoinPath(dir, name + ".key.new"));
  (void)fs.DeleteFile(JoinPath(dir, name + ".pub.new"));
}

absl::Status WriteRootFiles(const std::string& dir, std::string_view root,
                            uint64_t version) {
  FileSystem& fs = *PosixFileSystem();
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(
      fs, JoinPath(dir, StrCat(version, ".root.json")), root));
  return WriteFileAtomically(fs, JoinPath(dir, "root.json"), root);
}

absl::StatusOr<std::string> SignRoot(
    const signing::RootMetadata& root,
    const std::vector<const signing::PrivateKey*>& keys) {
  return signing::SignToBytes(signing::ToJson(root), keys);
}

void ReplaceRoleKeys(signing::RootMetadata& root, std::string_view role,
                     const signing::PublicKey& key) {
  signing::RoleKeys& r =
      role == "director" ? (root.director.has_value() ? *root.director
                                                      : root.director.emplace())
                         : root.roles[std::string(role)];
  // One key per role, as the CLI manages them.
  r.keyids.clear();
  r.threshold = 1;
  root.AddKey(role, key);
  // Keys no role lists any more leave the root.
  std::set<std::string> used;
  for (const auto& [name, keys] : root.roles) {
    used.insert(keys.keyids.begin(), keys.keyids.end());
  }
  if (root.director.has_value()) {
    used.insert(root.director->keyids.begin(), root.director->keyids.end());
  }
  for (auto it = root.keys.begin(); it != root.keys.end();) {
    it = used.count(it->first) ? std::next(it) : root.keys.erase(it);
  }
}

std::string DescribeExpiry(absl::Time expires, absl::Time now) {
  const absl::Duration left = expires - now;
  std::string rel;
  const int64_t hours =
      absl::ToInt64Hours(left < absl::ZeroDuration() ? -left : left);
  const std::string amount =
      hours >= 48 ? StrCat(hours / 24, "d") : StrCat(hours, "h");
  rel = left < absl::ZeroDuration() ? StrCat("expired ", amount, " ago")
                                    : StrCat("in ", amount);
  return StrCat(TimeText(expires), " (", rel, ")");
}

}  // namespace strata::admin
