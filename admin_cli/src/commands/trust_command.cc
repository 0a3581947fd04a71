// strata trust init|status: an app's root of trust, made from the offline
// keys of a key directory and stratad's online public keys. `trust rotate`
// is in trust_rotate_command.cc.
#include <algorithm>
#include <memory>
#include <set>

#include "../app_trust.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"
#include "trust_rotate.h"

namespace strata::admin {
namespace {

constexpr const char* kOnlineRoles[] = {"snapshot", "timestamp", "director"};

struct InitFlags {
  std::string dir;
  std::string app;
  int days = kDefaultRoleDays;
  std::vector<std::string> online_keys;  // --online-key id prefixes
};

// Per online role, the public key the new root lists: the one stratad
// holds for the role, or the one --online-key picks when it holds several.
absl::StatusOr<std::map<std::string, signing::PublicKey>> ChooseOnlineKeys(
    const v1::TrustInfo& info, const std::vector<std::string>& wanted) {
  std::map<std::string, signing::PublicKey> chosen;
  for (const char* role : kOnlineRoles) {
    std::vector<const v1::OnlineKey*> candidates;
    for (const v1::OnlineKey& k : info.online_keys()) {
      if (k.role() != role) continue;
      const bool picked =
          wanted.empty() ||
          std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
            return !w.empty() && k.key_id().rfind(w, 0) == 0;
          });
      if (picked) candidates.push_back(&k);
    }
    if (candidates.empty()) {
      return absl::FailedPreconditionError(StrCat(
          "stratad holds no ", role, " key",
          wanted.empty() ? "" : " matching --online-key",
          "; online keys are made by `stratad init` (or `strata trust rotate "
          "online` for an app that has trust)"));
    }
    if (candidates.size() > 1) {
      std::string ids;
      for (const v1::OnlineKey* k : candidates)
        ids += StrCat(ids.empty() ? "" : ", ", k->key_id().substr(0, 16));
      return absl::InvalidArgumentError(
          StrCat("stratad holds ", candidates.size(), " ", role, " keys (", ids,
                 "); pick the one this app's root lists with --online-key ID "
                 "(repeat it for each online role)"));
    }
    absl::StatusOr<signing::PublicKey> key =
        signing::PublicKey::FromPem(candidates[0]->public_key_pem());
    if (!key.ok() || key->KeyId() != candidates[0]->key_id()) {
      return absl::DataLossError(
          StrCat("stratad's ", role, " key ", candidates[0]->key_id(),
                 " does not parse or does not match its id"));
    }
    chosen.emplace(role, *std::move(key));
  }
  return chosen;
}

absl::Status RunInit(const InitFlags& f, CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(KeyDir dir, KeyDir::Load(f.dir));
  std::map<std::string, signing::PrivateKey> keys;
  for (const char* name : {"root", "targets", "publisher-a", "publisher-b"}) {
    STRATA_ASSIGN_OR_RETURN(signing::PrivateKey key, dir.Get(name));
    keys.emplace(name, std::move(key));
  }
  AdminClient client = ctx.Client();
  STRATA_ASSIGN_OR_RETURN(AppTrust trust, ReadAppTrust(client, f.app));
  if (trust.configured()) {
    return absl::AlreadyExistsError(StrCat(
        "app ", f.app, " already has a root of trust (root v",
        trust.root.common.version, ", targets v", trust.targets.common.version,
        "); change keys with `strata trust rotate root|targets|publisher|"
        "online --keys ",
        f.dir, " --app ", f.app,
        "`, extend expiries with `strata trust resign --keys ", f.dir,
        " --app ", f.app, "`, see it with `strata trust status --app ", f.app,
        "`; devices keep the root.json they pinned and follow rotations"));
  }
  STRATA_ASSIGN_OR_RETURN(auto online,
                          ChooseOnlineKeys(trust.info, f.online_keys));

  const absl::Time now = absl::Now();
  const absl::Time expires = now + absl::Hours(24) * f.days;
  signing::RootMetadata root;
  root.common.version = 1;
  root.common.expires = expires;
  root.consistent_snapshot = true;
  root.app_id = f.app;
  root.AddKey("root", keys.at("root").public_key());
  root.AddKey("targets", keys.at("targets").public_key());
  for (const auto& [role, key] : online) root.AddKey(role, key);

  signing::TargetsMetadata targets;
  targets.common.version = 1;
  targets.common.expires = expires;
  // Code that runs natively needs both publishers; content needs one.
  targets.delegations = signing::LayerDelegations(
      {{signing::Layer::kHotpatch, 2}, {signing::Layer::kNative, 2}});
  const std::vector<const signing::PrivateKey*> publishers = {
      &keys.at("publisher-a"), &keys.at("publisher-b")};
  for (const signing::PrivateKey* p : publishers) {
    for (signing::Layer layer : signing::kAllLayers)
      targets.delegations->AddKey(signing::LayerName(layer), p->public_key());
  }
  STRATA_ASSIGN_OR_RETURN(std::string root_bytes,
                          SignRoot(root, {&keys.at("root")}));
  STRATA_ASSIGN_OR_RETURN(
      std::string targets_bytes,
      signing::SignToBytes(signing::ToJson(targets), {&keys.at("targets")}));
  v1::SetTrustRequest req;
  req.set_app_id(f.app);
  req.set_root(root_bytes);
  req.set_targets(targets_bytes);
  // One empty role per layer, in the order targets delegates them, signed
  // by the layer's publishers, so devices verify the whole chain before the
  // first publish.
  for (size_t i = 0; i < targets.delegations->roles.size(); ++i) {
    signing::TargetsMetadata role;
    role.common.version = 1;
    role.common.expires = expires;
    STRATA_ASSIGN_OR_RETURN(
        std::string bytes,
        signing::SignToBytes(signing::ToJson(role), publishers));
    req.add_layer_roles(bytes);
  }
  STRATA_ASSIGN_OR_RETURN(v1::SetTrustResponse resp, client.SetTrust(req));
  FileSystem& fs = *PosixFileSystem();
  STRATA_RETURN_IF_ERROR(WriteRootFiles(f.dir, root_bytes, 1));
  STRATA_RETURN_IF_ERROR(
      WriteFileAtomically(fs, JoinPath(f.dir, "targets.json"), targets_bytes));

  const std::string root_file = JoinPath(f.dir, "root.json");
  std::string text =
      StrCat("root of trust for app ", f.app, " installed: root v",
             resp.root_version(), ", targets v", resp.targets_version(),
             ", an empty role per layer; all expire ",
             DescribeExpiry(expires, now), "\n");
  for (const auto& layer : resp.layers()) text += StrCat("  ", layer, "\n");
  text += "stratad's online keys in the root:\n";
  Json online_json = Json::MakeObject();
  for (const auto& [role, key] : online) {
    text += StrCat("  ", role, "  ", key.KeyId(), "\n");
    online_json[role] = key.KeyId();
  }
  text += StrCat(
      "Pin ", root_file,
      " in the app (ClientOptions::pinned_root_json; strata-device --root): "
      "devices verify every update against it and follow later root "
      "rotations (`strata trust rotate`) without a new app build.\n");
  Json out = Json::MakeObject();
  out["app"] = f.app;
  out["root_version"] = resp.root_version();
  out["targets_version"] = resp.targets_version();
  Json layers = Json::MakeArray();
  for (const auto& layer : resp.layers()) layers.Append(layer);
  out["layers"] = std::move(layers);
  out["online_keys"] = std::move(online_json);
  out["root_file"] = root_file;
  out["expires"] = signing::FormatTufTime(expires);
  ctx.Print(out, text);
  return absl::OkStatus();
}

struct StatusFlags {
  std::string app;
};

bool IsOnlineRole(std::string_view role) {
  return role == "snapshot" || role == "timestamp" || role == "director";
}

absl::Status RunStatus(const StatusFlags& f, CliContext& ctx) {
  AdminClient client = ctx.Client();
  STRATA_ASSIGN_OR_RETURN(AppTrust trust, ReadAppTrust(client, f.app));
  v1::TrustInfo info = trust.info;
  const absl::Time now = absl::Now();
  if (!info.configured()) {
    ctx.Print(info, StrCat("app ", f.app,
                           " has no root of trust; set one up with `strata "
                           "trust init --keys DIR --app ",
                           f.app, "`\n"));
    return absl::OkStatus();
  }
  // The CLI's own check: offline metadata (which only `strata` can
  // re-sign) expiring within 30 days, and online metadata stratad has let
  // expire.
  for (const v1::RoleInfo& r : info.roles()) {
    const absl::Time expires = absl::FromUnixSeconds(r.expires_unix());
    const bool online = IsOnlineRole(r.role());
    if (online ? expires > now : expires - now > kExpiryWarning) continue;
    const bool said = std::any_of(
        info.warnings().begin(), info.warnings().end(),
        [&](const std::string& w) { return w.rfind(r.role() + " ", 0) == 0; });
    if (said) continue;
    const std::string fix =
        online ? "stratad re-signs it by itself; check stratad's log"
        : r.role() == "root" ? "re-sign it with `strata trust rotate root`"
                             : "re-sign it with `strata trust resign`";
    info.add_warnings(StrCat(r.role(),
                             expires <= now ? " expired " : " expires ",
                             DescribeExpiry(expires, now), "; ", fix));
  }
  Table roles({"ROLE", "VERSION", "EXPIRES", "SIGNED"}, {false, true});
  for (const v1::RoleInfo& r : info.roles()) {
    roles.AddRow({r.role(), StrCat(r.version()),
                  DescribeExpiry(absl::FromUnixSeconds(r.expires_unix()), now),
                  IsOnlineRole(r.role()) ? "online (stratad)" : "offline"});
  }
  Table keys({"ONLINE KEY", "KEY ID", "IN USE"});
  for (const v1::OnlineKey& k : info.online_keys()) {
    keys.AddRow({k.role(), k.key_id(), k.in_use() ? "yes" : "no"});
  }
  std::string text = StrCat("Trust of app ", f.app, "\n\n", roles.Render(),
                            "\n", keys.Render());
  if (info.warnings().empty()) {
    text += "\nno warnings\n";
  } else {
    text += "\nWarnings\n";
    for (const auto& w : info.warnings()) text += StrCat("  ", w, "\n");
  }
  ctx.Print(info, text);
  return absl::OkStatus();
}

}  // namespace

void AddTrustCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* trust = app.add_subcommand(
      "trust",
      "Set up, inspect and rotate an app's root of trust (TUF metadata that\n"
      "devices verify every update against).\n\n"
      "Example:\n"
      "  strata keys gen --dir ~/wallet-keys\n"
      "  strata trust init --keys ~/wallet-keys --app wallet\n"
      "  strata trust status --app wallet");
  trust->require_subcommand(1);
  auto f = std::make_shared<InitFlags>();
  CLI::App* init = trust->add_subcommand(
      "init",
      "Create an app's root of trust (admin). From the key directory `strata\n"
      "keys gen` made, it signs root v1 (root and targets keys, stratad's\n"
      "online snapshot, timestamp and director keys), targets v1 (config, h5\n"
      "and hcf delegated to either publisher key, hotpatch and native to\n"
      "both) and an empty role per layer, installs them, and writes\n"
      "root.json into the key directory: pin that file in the app. Refused\n"
      "(4) when the app already has trust: use `strata trust rotate`.\n\n"
      "Example:\n  strata trust init --keys ~/wallet-keys --app wallet");
  init->add_option("--keys", f->dir, "the key directory")->required();
  AddAppOption(init, f->app, ctx);
  init->add_option("--days", f->days, "how long the metadata stays valid")
      ->capture_default_str()
      ->check(CLI::Range(1, 3650));
  init->add_option("--online-key", f->online_keys,
                   "when stratad holds several keys for an online role: the "
                   "id (or a prefix) of the one to trust; repeatable");
  init->callback([f, &ctx] {
    absl::Status s = RunInit(*f, ctx);
    if (!s.ok()) ctx.Fail(s);
  });

  auto sf = std::make_shared<StatusFlags>();
  CLI::App* status = trust->add_subcommand(
      "status",
      "Show an app's trust: version and expiry of every role, stratad's\n"
      "online keys, and warnings (from stratad, and offline metadata that\n"
      "expires within 30 days). Exit 0 whatever the warnings.\n\n"
      "Example:\n  strata trust status --app wallet --output json");
  AddAppOption(status, sf->app, ctx);
  status->callback([sf, &ctx] {
    absl::Status s = RunStatus(*sf, ctx);
    if (!s.ok()) ctx.Fail(s);
  });
  AddTrustRotateCommand(*trust, ctx);
}

}  // namespace strata::admin
