// strata trust rotate root|targets|publisher|online: replace one kind of
// key. Every rotation is signed so that devices holding older metadata
// verify the new one from what they already trust (the root chain N ->
// N+1, or the snapshot for targets and layer roles): no new app build.
#include <algorithm>
#include <functional>
#include <memory>

#include "../app_trust.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/base/file_util.h"
#include "strata/base/names.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"
#include "trust_rotate.h"

namespace strata::admin {
namespace {

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : std::string(sep)) + i;
  return out;
}

Json JsonList(const std::vector<std::string>& items) {
  Json a = Json::MakeArray();
  for (const auto& i : items) a.Append(i);
  return a;
}

std::string ShortKeyId(std::string_view id) {
  return std::string(id.substr(0, 16));
}

// What devices do with a new root; printed by every rotation that makes one.
std::string RootChainNote(const std::string& dir, uint64_t version) {
  return StrCat(
      "Devices that pinned an earlier root.json walk the chain of roots to v",
      version,
      " (each signed by the root keys before it) on their next check: no new "
      "app build is needed. New app builds may pin ",
      JoinPath(dir, "root.json"), ".\n");
}

// PERMISSION_DENIED unless the installed root lists `key` for `role`.
absl::Status CheckRootLists(const AppTrust& trust, const std::string& app,
                            std::string_view role,
                            const signing::PrivateKey& key,
                            const std::string& path) {
  auto it = trust.root.roles.find(std::string(role));
  if (it != trust.root.roles.end() &&
      std::find(it->second.keyids.begin(), it->second.keyids.end(),
                key.KeyId()) != it->second.keyids.end()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      StrCat(path, " (", ShortKeyId(key.KeyId()), ") is not a ", role,
             " key of app ", app, "'s root v", trust.root.common.version,
             "; --keys must be the directory this app's trust was made with"));
}

// The layers whose delegation lists `key_id`.
std::vector<std::string> LayersOf(const signing::TargetsMetadata& targets,
                                  const std::string& key_id) {
  std::vector<std::string> layers;
  if (!targets.delegations.has_value()) return layers;
  for (const auto& role : targets.delegations->roles) {
    if (std::find(role.keyids.begin(), role.keyids.end(), key_id) !=
        role.keyids.end())
      layers.push_back(role.name);
  }
  return layers;
}

struct Loaded {
  KeyDir dir;
  AppTrust trust;
};

absl::StatusOr<Loaded> Load(const std::string& dir, const std::string& app,
                            CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(KeyDir keys, KeyDir::Load(dir));
  AdminClient client = ctx.Client();
  STRATA_ASSIGN_OR_RETURN(AppTrust trust, ReadAppTrust(client, app));
  STRATA_RETURN_IF_ERROR(RequireConfigured(trust, app));
  return Loaded{std::move(keys), std::move(trust)};
}

absl::Status Refused(const absl::Status& s, std::string_view what) {
  return Annotate(s, StrCat("the server refused ", what, "; nothing changed"));
}

struct RotateFlags {
  std::string dir, app, publisher, as;
  std::vector<std::string> layers, online_roles;
  int days = kDefaultRoleDays;
};

absl::Status RotateRoot(const RotateFlags& f, CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(Loaded l, Load(f.dir, f.app, ctx));
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey old_key, l.dir.Get("root"));
  STRATA_RETURN_IF_ERROR(
      CheckRootLists(l.trust, f.app, "root", old_key, l.dir.Path("root")));
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey new_key,
                          signing::PrivateKey::Generate());
  const absl::Time now = absl::Now();
  signing::RootMetadata root = l.trust.root;
  root.common.version += 1;
  root.common.expires = now + absl::Hours(24) * f.days;
  ReplaceRoleKeys(root, "root", new_key.public_key());
  // Signed by the old key (devices trust it) and the new one (its own
  // threshold).
  STRATA_ASSIGN_OR_RETURN(std::string bytes,
                          SignRoot(root, {&old_key, &new_key}));
  STRATA_RETURN_IF_ERROR(StagePendingKey(f.dir, "root", new_key));
  v1::SetTrustRequest req;
  req.set_app_id(f.app);
  req.set_root(bytes);
  absl::StatusOr<v1::SetTrustResponse> resp = ctx.Client().SetTrust(req);
  if (!resp.ok()) {
    DropPendingKey(f.dir, "root");
    return Refused(resp.status(), StrCat("root v", root.common.version));
  }
  STRATA_ASSIGN_OR_RETURN(std::string retired,
                          RetireKey(f.dir, "root", old_key.KeyId()));
  STRATA_RETURN_IF_ERROR(CommitPendingKey(f.dir, "root"));
  STRATA_RETURN_IF_ERROR(WriteRootFiles(f.dir, bytes, root.common.version));

  Json out = Json::MakeObject();
  out["app"] = f.app;
  out["rotated"] = "root";
  out["root_version"] = root.common.version;
  out["new_key_id"] = new_key.KeyId();
  out["new_key_file"] = l.dir.Path("root");
  out["old_key_id"] = old_key.KeyId();
  out["old_key_file"] = retired;
  out["root_file"] = JoinPath(f.dir, "root.json");
  ctx.Print(out, StrCat("root key of ", f.app, " rotated: new key ",
                        ShortKeyId(new_key.KeyId()), " in ", l.dir.Path("root"),
                        ", old key ", ShortKeyId(old_key.KeyId()), " kept in ",
                        retired, "\ninstalled root v", root.common.version,
                        ", signed by the old and the new root key\n",
                        RootChainNote(f.dir, root.common.version)));
  return absl::OkStatus();
}

absl::Status RotateTargets(const RotateFlags& f, CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(Loaded l, Load(f.dir, f.app, ctx));
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey root_key, l.dir.Get("root"));
  STRATA_RETURN_IF_ERROR(
      CheckRootLists(l.trust, f.app, "root", root_key, l.dir.Path("root")));
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey new_key,
                          signing::PrivateKey::Generate());
  const absl::Time now = absl::Now();
  signing::RootMetadata root = l.trust.root;
  const std::vector<std::string> old_ids = root.roles["targets"].keyids;
  root.common.version += 1;
  root.common.expires =
      std::max(root.common.expires, now + absl::Hours(24) * f.days);
  ReplaceRoleKeys(root, "targets", new_key.public_key());
  STRATA_ASSIGN_OR_RETURN(std::string root_bytes, SignRoot(root, {&root_key}));
  // The same delegations, signed by the new key as the next version.
  STRATA_ASSIGN_OR_RETURN(
      std::string targets_bytes,
      SignNextVersion(l.trust.targets, now, f.days, {&new_key}));
  STRATA_RETURN_IF_ERROR(StagePendingKey(f.dir, "targets", new_key));
  v1::SetTrustRequest req;
  req.set_app_id(f.app);
  req.set_root(root_bytes);
  req.set_targets(targets_bytes);
  absl::StatusOr<v1::SetTrustResponse> resp = ctx.Client().SetTrust(req);
  if (!resp.ok()) {
    DropPendingKey(f.dir, "targets");
    return Refused(resp.status(),
                   StrCat("root v", root.common.version, " and targets v",
                          l.trust.targets.common.version + 1));
  }
  std::string retired;
  if (l.dir.keys.count("targets")) {
    STRATA_ASSIGN_OR_RETURN(
        retired, RetireKey(f.dir, "targets", l.dir.keys.at("targets").KeyId()));
  }
  STRATA_RETURN_IF_ERROR(CommitPendingKey(f.dir, "targets"));
  STRATA_RETURN_IF_ERROR(
      WriteRootFiles(f.dir, root_bytes, root.common.version));
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(
      *PosixFileSystem(), JoinPath(f.dir, "targets.json"), targets_bytes));

  Json out = Json::MakeObject();
  out["app"] = f.app;
  out["rotated"] = "targets";
  out["root_version"] = resp->root_version();
  out["targets_version"] = resp->targets_version();
  out["new_key_id"] = new_key.KeyId();
  out["new_key_file"] = l.dir.Path("targets");
  out["old_key_ids"] = JsonList(old_ids);
  out["old_key_file"] = retired;
  out["root_file"] = JoinPath(f.dir, "root.json");
  std::string text =
      StrCat("targets key of ", f.app, " rotated: new key ",
             ShortKeyId(new_key.KeyId()), " in ", l.dir.Path("targets"), "\n");
  if (!retired.empty()) text += StrCat("old key kept in ", retired, "\n");
  text += StrCat("installed root v", resp->root_version(),
                 " (lists the new targets key) and targets v",
                 resp->targets_version(), " (signed by it)\n",
                 RootChainNote(f.dir, root.common.version));
  ctx.Print(out, text);
  return absl::OkStatus();
}

absl::Status RotateOnline(const RotateFlags& f, CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(Loaded l, Load(f.dir, f.app, ctx));
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey root_key, l.dir.Get("root"));
  STRATA_RETURN_IF_ERROR(
      CheckRootLists(l.trust, f.app, "root", root_key, l.dir.Path("root")));
  AdminClient client = ctx.Client();
  STRATA_ASSIGN_OR_RETURN(v1::GenerateOnlineKeysResponse generated,
                          client.GenerateOnlineKeys(f.online_roles));
  if (generated.keys().empty()) {
    return absl::InternalError("stratad generated no online key");
  }
  const absl::Time now = absl::Now();
  signing::RootMetadata root = l.trust.root;
  root.common.version += 1;
  root.common.expires =
      std::max(root.common.expires, now + absl::Hours(24) * f.days);
  std::set<std::string> replaced;
  Json keys = Json::MakeObject();
  std::string text;
  for (const v1::OnlineKey& k : generated.keys()) {
    absl::StatusOr<signing::PublicKey> pub =
        signing::PublicKey::FromPem(k.public_key_pem());
    if (!pub.ok() || pub->KeyId() != k.key_id()) {
      return absl::DataLossError(StrCat("stratad's new ", k.role(), " key ",
                                        k.key_id(),
                                        " does not parse or match its id"));
    }
    if (replaced.insert(k.role()).second) {
      ReplaceRoleKeys(root, k.role(), *pub);
    } else {
      root.AddKey(k.role(), *pub);
    }
    keys[k.role()] = k.key_id();
    text += StrCat("  ", k.role(), "  ", k.key_id(), "\n");
  }
  STRATA_ASSIGN_OR_RETURN(std::string bytes, SignRoot(root, {&root_key}));
  v1::SetTrustRequest req;
  req.set_app_id(f.app);
  req.set_root(bytes);
  absl::StatusOr<v1::SetTrustResponse> resp = client.SetTrust(req);
  if (!resp.ok()) {
    return Refused(resp.status(),
                   StrCat("root v", root.common.version,
                          " (the new online keys stay unused in stratad)"));
  }
  STRATA_RETURN_IF_ERROR(WriteRootFiles(f.dir, bytes, root.common.version));
  Json out = Json::MakeObject();
  out["app"] = f.app;
  out["rotated"] = "online";
  out["root_version"] = root.common.version;
  out["online_keys"] = std::move(keys);
  out["root_file"] = JoinPath(f.dir, "root.json");
  ctx.Print(out, StrCat("online keys of ", f.app,
                        " rotated; stratad signs with these from now on:\n",
                        text, "installed root v", root.common.version,
                        " listing them (signed by the root key)\n",
                        RootChainNote(f.dir, root.common.version)));
  return absl::OkStatus();
}

// Replaces `old_id` by `new_id` in `layers` of `targets`, as its next
// version.
signing::TargetsMetadata DelegateToNewKey(
    signing::TargetsMetadata targets, const std::vector<std::string>& layers,
    const std::string& old_id, const signing::PublicKey& new_key) {
  signing::Delegations& del = *targets.delegations;
  del.keys.emplace(new_key.KeyId(), new_key);
  for (auto& role : del.roles) {
    if (std::find(layers.begin(), layers.end(), role.name) == layers.end())
      continue;
    std::replace(role.keyids.begin(), role.keyids.end(), old_id,
                 new_key.KeyId());
  }
  if (LayersOf(targets, old_id).empty()) del.keys.erase(old_id);
  return targets;
}

struct Resigned {
  v1::SetTrustResponse response;
  signing::TargetsMetadata targets;  // as installed
  std::string targets_bytes;
  std::vector<std::string> roles;  // the layer roles re-signed
};

// Signs `change(installed targets)` as the next targets version (targets
// key) and every layer role it delegates as its next version, each with
// the keys of `dir` (and `extra`) its delegation lists, and installs them
// in one SetTrust. A publish that changed a role meanwhile (ABORTED) makes
// it read again and sign again, up to kCasRetries times.
absl::StatusOr<Resigned> ResignTargetsAndRoles(
    const KeyDir& dir, const std::string& app, int days,
    const signing::PrivateKey& targets_key,
    const std::vector<signing::PrivateKey>& extra,
    const std::function<
        signing::TargetsMetadata(const signing::TargetsMetadata&)>& change,
    AppTrust trust, CliContext& ctx) {
  AdminClient client = ctx.Client();
  for (int attempt = 0;; ++attempt) {
    const absl::Time now = absl::Now();
    Resigned out;
    out.targets = change(trust.targets);
    STRATA_ASSIGN_OR_RETURN(
        out.targets_bytes,
        SignNextVersion(out.targets, now, days, {&targets_key}));
    out.targets.common.version += 1;
    v1::SetTrustRequest req;
    req.set_app_id(app);
    req.set_targets(out.targets_bytes);
    // Every delegated role, in the order targets lists them (an empty role
    // does not name its layer; stratad matches them by keys and version).
    for (const signing::DelegatedRole& role : out.targets.delegations->roles) {
      std::vector<signing::PrivateKey> keys = dir.WithIds(role.keyids);
      for (const signing::PrivateKey& k : extra) {
        if (std::find(role.keyids.begin(), role.keyids.end(), k.KeyId()) !=
            role.keyids.end())
          keys.push_back(k);
      }
      absl::StatusOr<std::vector<const signing::PrivateKey*>> signers =
          SigningKeysFor(out.targets, role.name, keys, "the key directory");
      if (!signers.ok()) {
        return Annotate(signers.status(),
                        StrCat("re-signing the ", role.name, " role"));
      }
      STRATA_ASSIGN_OR_RETURN(
          std::string bytes,
          SignNextVersion(trust.Role(role.name), now, days, *signers));
      req.add_layer_roles(bytes);
      out.roles.push_back(role.name);
    }
    absl::StatusOr<v1::SetTrustResponse> resp = client.SetTrust(req);
    if (resp.ok()) {
      out.response = *std::move(resp);
      return out;
    }
    if (resp.status().code() != absl::StatusCode::kAborted ||
        attempt == kCasRetries) {
      return Refused(resp.status(),
                     StrCat("targets v", out.targets.common.version,
                            " and the re-signed layer roles"));
    }
    STRATA_ASSIGN_OR_RETURN(trust, ReadAppTrust(client, app));
  }
}

absl::Status Resign(const RotateFlags& f, CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(Loaded l, Load(f.dir, f.app, ctx));
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey targets_key,
                          l.dir.Get("targets"));
  STRATA_RETURN_IF_ERROR(CheckRootLists(l.trust, f.app, "targets", targets_key,
                                        l.dir.Path("targets")));
  STRATA_ASSIGN_OR_RETURN(
      Resigned done, ResignTargetsAndRoles(
                         l.dir, f.app, f.days, targets_key, {},
                         [](const signing::TargetsMetadata& t) { return t; },
                         std::move(l.trust), ctx));
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(
      *PosixFileSystem(), JoinPath(f.dir, "targets.json"), done.targets_bytes));
  const absl::Time expires = absl::Now() + absl::Hours(24) * f.days;
  Json out = Json::MakeObject();
  out["app"] = f.app;
  out["targets_version"] = done.response.targets_version();
  out["resigned_roles"] = JsonList(done.roles);
  out["expires_at_least"] = signing::FormatTufTime(expires);
  ctx.Print(out,
            StrCat("re-signed targets (v", done.response.targets_version(),
                   ") and the layer roles ", Join(done.roles, ", "), " of ",
                   f.app, ", same keys; none expires before ",
                   DescribeExpiry(expires, absl::Now()),
                   "\ndevices fetch them through the snapshot on their next "
                   "check\n"));
  return absl::OkStatus();
}

}  // namespace

absl::Status RotatePublisher(const PublisherRotation& r, CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(Loaded l, Load(r.dir, r.app, ctx));
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey targets_key,
                          l.dir.Get("targets"));
  STRATA_RETURN_IF_ERROR(CheckRootLists(l.trust, r.app, "targets", targets_key,
                                        l.dir.Path("targets")));
  auto old_it = l.dir.keys.find(r.key);
  if (old_it == l.dir.keys.end()) {
    return absl::NotFoundError(
        StrCat(l.dir.Path(r.key),
               " does not exist; --publisher names a key "
               "of the directory, e.g. publisher-a"));
  }
  const std::string old_id = old_it->second.KeyId();
  const std::vector<std::string> trusted_for =
      LayersOf(l.trust.targets, old_id);
  if (trusted_for.empty()) {
    return absl::NotFoundError(StrCat("key ", r.key, " (", ShortKeyId(old_id),
                                      ") is not delegated any layer of app ",
                                      r.app, "; nothing to rotate"));
  }
  std::vector<std::string> layers = r.layers;
  if (layers.empty()) layers = trusted_for;
  for (const std::string& layer : layers) {
    if (std::find(trusted_for.begin(), trusted_for.end(), layer) ==
        trusted_for.end()) {
      return absl::InvalidArgumentError(StrCat(
          "key ", r.key, " is not a ", layer,
          " publisher key; it is trusted for ", Join(trusted_for, ", ")));
    }
  }
  const bool everywhere = layers.size() == trusted_for.size();
  std::string new_name = r.as;
  if (new_name.empty()) {
    if (everywhere) {
      new_name = r.key;
    } else if (layers.size() == 1) {
      new_name = StrCat(r.key, "-", layers[0]);
    } else {
      return absl::InvalidArgumentError(
          "name the new key with --as: it replaces the old one in only some "
          "of its layers, so both stay in use");
    }
  }
  STRATA_RETURN_IF_ERROR(ValidateName("--as", new_name));
  if (new_name != r.key && l.dir.keys.count(new_name)) {
    return absl::AlreadyExistsError(
        StrCat(l.dir.Path(new_name),
               " exists; keys are never overwritten, pick another --as"));
  }
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey new_key,
                          signing::PrivateKey::Generate());
  STRATA_RETURN_IF_ERROR(StagePendingKey(r.dir, new_name, new_key));

  absl::StatusOr<Resigned> done = ResignTargetsAndRoles(
      l.dir, r.app, r.days, targets_key, {new_key},
      [&](const signing::TargetsMetadata& installed) {
        return DelegateToNewKey(installed, layers, old_id,
                                new_key.public_key());
      },
      std::move(l.trust), ctx);
  if (!done.ok()) {
    DropPendingKey(r.dir, new_name);
    return done.status();
  }
  const v1::SetTrustResponse* resp = &done->response;
  const signing::TargetsMetadata& targets = done->targets;
  const std::vector<std::string>& resigned = done->roles;
  // Installed: the old key files move to retired/ when the new key takes
  // their name.
  std::string retired;
  if (new_name == r.key) {
    STRATA_ASSIGN_OR_RETURN(retired, RetireKey(r.dir, r.key, old_id));
  }
  STRATA_RETURN_IF_ERROR(CommitPendingKey(r.dir, new_name));
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(*PosixFileSystem(),
                                             JoinPath(r.dir, "targets.json"),
                                             done->targets_bytes));

  const std::vector<std::string> still = LayersOf(targets, old_id);
  Json out = Json::MakeObject();
  out["app"] = r.app;
  out["rotated"] = "publisher";
  out["key"] = r.key;
  out["layers"] = JsonList(layers);
  out["new_key_id"] = new_key.KeyId();
  out["new_key_file"] = l.dir.Path(new_name);
  out["old_key_id"] = old_id;
  out["old_key_file"] = retired.empty() ? l.dir.Path(r.key) : retired;
  out["old_key_still_trusted_for"] = JsonList(still);
  out["root_version"] = resp->root_version();
  out["targets_version"] = resp->targets_version();
  out["resigned_roles"] = JsonList(resigned);
  std::string text =
      StrCat("rotated ", r.key, " for ", Join(layers, ", "), ": new key ",
             ShortKeyId(new_key.KeyId()), " in ", l.dir.Path(new_name), "\n");
  if (still.empty()) {
    text += StrCat("old key ", ShortKeyId(old_id),
                   " is no longer trusted; kept in ",
                   retired.empty() ? l.dir.Path(r.key) : retired, "\n");
  } else {
    text += StrCat("old key ", ShortKeyId(old_id), " is still trusted for ",
                   Join(still, ", "), " (", l.dir.Path(r.key), ")\n");
  }
  text += StrCat(
      "installed targets v", resp->targets_version(),
      " and the layer roles re-signed with the keys now delegated (",
      Join(resigned, ", "),
      "); devices fetch them through the snapshot on their next check, with "
      "the root they already trust: no new app build is needed\n");
  ctx.Print(out, text);
  return absl::OkStatus();
}

void AddTrustRotateCommand(CLI::App& trust, CliContext& ctx) {
  CLI::App* rotate = trust.add_subcommand(
      "rotate",
      "Replace a key of an app's trust (admin): root, targets, a publisher\n"
      "key, or stratad's online keys. Each writes the new root.json into\n"
      "the key directory and says what changed. Devices follow on their next\n"
      "check from the metadata they already trust: no new app build.\n\n"
      "Example:\n"
      "  strata trust rotate publisher --publisher publisher-a "
      "--keys ~/wallet-keys --app wallet\n"
      "  strata trust rotate online --keys ~/wallet-keys --app wallet");
  rotate->require_subcommand(1);
  struct Kind {
    const char* name;
    const char* help;
  };
  static const Kind kKinds[] = {
      {"root",
       "Replace the root key: a new root key (the old one moves to retired/),\n"
       "and root N+1 signed by the old and the new key.\n\n"
       "Example:\n  strata trust rotate root --keys ~/wallet-keys --app "
       "wallet"},
      {"targets",
       "Replace the targets key: a new targets key (the old one moves to\n"
       "retired/), root N+1 listing it (signed by the root key), and the\n"
       "targets metadata re-signed by the new key.\n\n"
       "Example:\n"
       "  strata trust rotate targets --keys ~/wallet-keys --app wallet"},
      {"publisher",
       "Replace a publisher key (e.g. it may have leaked): a new key, targets\n"
       "metadata delegating the key's layers to it (targets key), and every\n"
       "layer role re-signed by the keys now delegated, installed together.\n"
       "The new key takes the old one's file name (or <key>-<layer> with one\n"
       "--layer, or --as); the old one moves to retired/ and its signatures\n"
       "no longer count.\n\n"
       "Example:\n"
       "  strata trust rotate publisher --publisher publisher-a "
       "--keys ~/wallet-keys --app wallet\n"
       "  strata trust rotate publisher --publisher publisher-b "
       "--layer hotpatch --keys ~/wallet-keys --app wallet"},
      {"online",
       "Replace stratad's online keys (snapshot, timestamp, director, or\n"
       "those --role names): stratad generates them (GenerateOnlineKeys)\n"
       "and root N+1 (root key) lists them; stratad signs with them from\n"
       "then on.\n\n"
       "Example:\n"
       "  strata trust rotate online --keys ~/wallet-keys --app wallet"},
  };
  for (const Kind& k : kKinds) {
    auto f = std::make_shared<RotateFlags>();
    CLI::App* cmd = rotate->add_subcommand(k.name, k.help);
    cmd->add_option("--keys", f->dir, "the key directory")->required();
    AddAppOption(cmd, f->app, ctx);
    cmd->add_option("--days", f->days, "how long the new metadata stays valid")
        ->capture_default_str()
        ->check(CLI::Range(1, 3650));
    const std::string kind = k.name;
    if (kind == "publisher") {
      cmd->add_option("--publisher", f->publisher,
                      "the key to replace, by file name: publisher-a, ...")
          ->required();
      cmd->add_option("--layer", f->layers,
                      "replace it only for this layer (repeatable); default "
                      "every layer that trusts it")
          ->check(CLI::IsMember({"config", "h5", "hcf", "hotpatch", "native"}));
      cmd->add_option("--as", f->as,
                      "file name for the new key (default: the old key's "
                      "name, or <key>-<layer> for one layer)");
    }
    if (kind == "online") {
      cmd->add_option("--role", f->online_roles,
                      "only this online role (repeatable); default all three")
          ->check(CLI::IsMember({"snapshot", "timestamp", "director"}));
    }
    cmd->callback([f, kind, &ctx] {
      absl::Status s;
      if (kind == "root") {
        s = RotateRoot(*f, ctx);
      } else if (kind == "targets") {
        s = RotateTargets(*f, ctx);
      } else if (kind == "online") {
        s = RotateOnline(*f, ctx);
      } else {
        s = RotatePublisher(PublisherRotation{f->dir, f->app, f->publisher,
                                              f->as, f->layers, f->days},
                            ctx);
      }
      if (!s.ok()) ctx.Fail(s);
    });
  }

  auto rf = std::make_shared<RotateFlags>();
  CLI::App* resign = trust.add_subcommand(
      "resign",
      "Extend the life of an app's targets metadata and every layer role\n"
      "without changing keys (admin): each is signed again as its next\n"
      "version (targets key, the layers' publisher keys of the directory)\n"
      "and installed together. For root, use `strata trust rotate root`.\n\n"
      "Example:\n  strata trust resign --keys ~/wallet-keys --app wallet "
      "--days 365");
  resign->add_option("--keys", rf->dir, "the key directory")->required();
  AddAppOption(resign, rf->app, ctx);
  resign
      ->add_option("--days", rf->days,
                   "how long the re-signed metadata stays valid (at least)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3650));
  resign->callback([rf, &ctx] {
    absl::Status s = Resign(*rf, ctx);
    if (!s.ok()) ctx.Fail(s);
  });
}

}  // namespace strata::admin
