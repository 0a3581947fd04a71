// strata trust init: make the root of trust and install it on the server.
#include <iostream>
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"

namespace strata::admin {
namespace {

struct TrustFlags {
  std::string dir;
  std::string app;
  int days = 365;
};

absl::Status RunInit(const TrustFlags& f, CliContext& ctx) {
  FileSystem& fs = *PosixFileSystem();
  std::map<std::string, signing::PrivateKey> keys;
  for (const char* name : {"root", "targets", "snapshot", "timestamp",
                           "publisher-a", "publisher-b"}) {
    STRATA_ASSIGN_OR_RETURN(
        signing::PrivateKey key,
        signing::LoadPrivateKey(fs, JoinPath(f.dir, StrCat(name, ".key"))));
    keys.emplace(name, std::move(key));
  }
  const absl::Time expires = absl::Now() + absl::Hours(24) * f.days;
  signing::RootMetadata root;
  root.common.version = 1;
  root.common.expires = expires;
  root.app_id = f.app;
  for (const char* role : {"root", "targets", "snapshot", "timestamp"}) {
    root.AddKey(role, keys.at(role).public_key());
  }
  signing::TargetsMetadata targets;
  targets.common.version = 1;
  targets.common.expires = expires;
  // Code that runs natively needs both publishers; content needs one.
  targets.delegations = signing::LayerDelegations(
      {{signing::Layer::kHotpatch, 2}, {signing::Layer::kNative, 2}});
  for (const char* name : {"publisher-a", "publisher-b"}) {
    const signing::PublicKey& pub = keys.at(name).public_key();
    targets.delegations->keys.emplace(pub.KeyId(), pub);
    for (auto& role : targets.delegations->roles)
      role.keyids.push_back(pub.KeyId());
  }
  STRATA_ASSIGN_OR_RETURN(
      std::string root_bytes,
      signing::SignToBytes(signing::ToJson(root), {&keys.at("root")}));
  STRATA_ASSIGN_OR_RETURN(
      std::string targets_bytes,
      signing::SignToBytes(signing::ToJson(targets), {&keys.at("targets")}));
  STRATA_RETURN_IF_ERROR(
      WriteFileAtomically(fs, JoinPath(f.dir, "root.json"), root_bytes));
  STRATA_RETURN_IF_ERROR(
      WriteFileAtomically(fs, JoinPath(f.dir, "targets.json"), targets_bytes));
  STRATA_ASSIGN_OR_RETURN(v1::SetTrustResponse resp,
                          ctx.Client().SetTrust(root_bytes, targets_bytes));
  std::string text =
      StrCat("root of trust installed (root v", resp.root_version(),
             ", targets v", resp.targets_version(), "); pin ",
             JoinPath(f.dir, "root.json"), " in the app\n");
  for (const auto& layer : resp.layers()) text += StrCat("  ", layer, "\n");
  ctx.Print(resp, text);
  return absl::OkStatus();
}

}  // namespace

void AddTrustCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* trust =
      app.add_subcommand("trust",
                         "Manage the server's root of trust (see also "
                         "`strata keys rotate`).\n\n"
                         "Example:\n  strata trust init --keys ~/strata-keys "
                         "--app wallet");
  trust->require_subcommand(1);
  auto f = std::make_shared<TrustFlags>();
  CLI::App* init = trust->add_subcommand(
      "init",
      "From a key directory made by `strata keys gen`: sign root metadata\n"
      "with the root key and targets metadata (delegating config, h5 and hcf\n"
      "to either publisher key, hotpatch and native to both) with the targets\n"
      "key, write root.json and targets.json there, and install them on the\n"
      "server (admin). From then on every publish must carry enough\n"
      "publisher signatures (`strata publish --key`).\n\n"
      "Example:\n  strata trust init --keys ~/strata-keys --app wallet");
  init->add_option("--keys", f->dir, "the key directory")->required();
  init->add_option("--app", f->app,
                   "restrict the root to one app (default: any)");
  init->add_option("--days", f->days, "how long the metadata stays valid")
      ->capture_default_str()
      ->check(CLI::Range(1, 3650));
  init->callback([f, &ctx] {
    absl::Status s = RunInit(*f, ctx);
    if (!s.ok()) ctx.Fail(s);
  });
}

}  // namespace strata::admin
