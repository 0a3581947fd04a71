// strata keys gen|list|rotate: signing keys, generated and kept on this
// machine.
#include <algorithm>
#include <iostream>
#include <memory>
#include <set>

#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
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

// The key files `keys gen` makes, in a directory of the user's choosing.
const std::vector<std::string>& KeyNames() {
  static const auto* names = new std::vector<std::string>{
      "root", "targets", "publisher-a", "publisher-b"};
  return *names;
}

constexpr std::string_view kRetiredDir = "retired";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

// The targets metadata `trust init` (or the last rotate) wrote in `dir`;
// nullopt when there is none.
absl::StatusOr<std::optional<signing::TargetsMetadata>> LoadTargets(
    FileSystem& fs, const std::string& dir) {
  const std::string path = JoinPath(dir, "targets.json");
  if (!fs.Exists(path)) return std::optional<signing::TargetsMetadata>();
  STRATA_ASSIGN_OR_RETURN(std::string bytes, fs.ReadFile(path));
  STRATA_ASSIGN_OR_RETURN(signing::SignedMetadata md,
                          signing::SignedMetadata::Parse(bytes, "targets"));
  STRATA_ASSIGN_OR_RETURN(signing::TargetsMetadata t,
                          signing::ParseTargets(md.signed_part(), "targets"));
  return std::optional<signing::TargetsMetadata>(std::move(t));
}

// The layers whose delegated role lists `key_id`.
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

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

void RunGen(const std::string& dir, CliContext& ctx) {
  FileSystem& fs = *PosixFileSystem();
  if (fs.Exists(dir)) {
    ctx.Fail(absl::AlreadyExistsError(StrCat(
        dir, " exists; keys are never overwritten, pick a new directory")));
    return;
  }
  absl::Status s = CreateDirs(fs, dir);
  std::string text;
  Json keys = Json::MakeArray();
  for (const std::string& name : KeyNames()) {
    if (!s.ok()) break;
    absl::StatusOr<signing::PrivateKey> key = signing::PrivateKey::Generate();
    if (!key.ok()) {
      s = key.status();
      break;
    }
    s = signing::SavePrivateKey(fs, JoinPath(dir, name + ".key"), *key);
    if (s.ok()) {
      s = signing::SavePublicKey(fs, JoinPath(dir, name + ".pub"),
                                 key->public_key());
    }
    text += StrCat(name, "  ", key->KeyId(), "\n");
    Json k = Json::MakeObject();
    k["name"] = name;
    k["key_id"] = key->KeyId();
    k["file"] = JoinPath(dir, name + ".key");
    keys.Append(std::move(k));
  }
  if (!s.ok()) {
    ctx.Fail(s);
    return;
  }
  Json out = Json::MakeObject();
  out["dir"] = dir;
  out["keys"] = std::move(keys);
  ctx.Print(out, text + "keys written to " + dir + "\n");
}

void RunKeysList(const std::string& dir, CliContext& ctx) {
  FileSystem& fs = *PosixFileSystem();
  absl::StatusOr<std::optional<signing::TargetsMetadata>> targets =
      LoadTargets(fs, dir);
  if (!targets.ok()) {
    ctx.Fail(Annotate(targets.status(), JoinPath(dir, "targets.json")));
    return;
  }
  Table table({"NAME", "KEY ID", "TRUSTED FOR"});
  Json keys = Json::MakeArray();
  for (const std::string& sub : {std::string(), std::string(kRetiredDir)}) {
    const std::string d = sub.empty() ? dir : JoinPath(dir, sub);
    absl::StatusOr<std::vector<std::string>> files = fs.ListDir(d);
    if (!files.ok()) continue;
    std::sort(files->begin(), files->end());
    for (const std::string& file : *files) {
      if (!EndsWith(file, ".pub")) continue;
      auto key = signing::LoadPublicKey(fs, JoinPath(d, file));
      if (!key.ok()) continue;
      const std::string name =
          (sub.empty() ? "" : sub + "/") + file.substr(0, file.size() - 4);
      std::vector<std::string> layers;
      if (targets->has_value()) layers = LayersOf(**targets, key->KeyId());
      std::string trusted = Join(layers, ",");
      if (trusted.empty()) {
        trusted = !sub.empty() ? "(retired)"
                  : targets->has_value() && (name.rfind("publisher", 0) == 0)
                      ? "(no layer)"
                      : "";
      }
      table.AddRow({name, key->KeyId(), trusted});
      Json k = Json::MakeObject();
      k["name"] = name;
      k["key_id"] = key->KeyId();
      k["retired"] = !sub.empty();
      Json l = Json::MakeArray();
      for (const auto& layer : layers) l.Append(layer);
      k["layers"] = std::move(l);
      keys.Append(std::move(k));
    }
  }
  if (table.rows() == 0) {
    ctx.Fail(absl::NotFoundError(
        StrCat("no keys in ", dir, "; make some with `strata keys gen --dir ",
               dir, "`")));
    return;
  }
  Json out = Json::MakeObject();
  out["dir"] = dir;
  out["keys"] = std::move(keys);
  ctx.Print(out, table.Render());
}

}  // namespace

void AddKeysCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* keys = app.add_subcommand(
      "keys",
      "Generate, list and rotate Ed25519 signing keys (private keys stay\n"
      "on this machine).\n\n"
      "Example:\n"
      "  strata keys gen --dir ~/wallet-keys\n"
      "  strata trust init --keys ~/wallet-keys --app wallet\n"
      "  strata trust rotate publisher --publisher publisher-a \\\n"
      "      --keys ~/wallet-keys --app wallet");
  keys->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  CLI::App* gen = keys->add_subcommand(
      "gen",
      "Generate an app's offline keys in a new directory: root and targets\n"
      "keys (keep them offline) and two publisher keys. The online keys\n"
      "(snapshot, timestamp, director) live in stratad. Private keys are\n"
      "written with mode 0600, as PEM files that `openssl pkey` reads.\n\n"
      "Example:\n  strata keys gen --dir ~/wallet-keys");
  gen->add_option("--dir", *dir, "a directory that does not exist yet")
      ->required();
  gen->callback([dir, &ctx] { RunGen(*dir, ctx); });

  auto list_dir = std::make_shared<std::string>();
  CLI::App* list = keys->add_subcommand(
      "list",
      "Show the keys of a key directory (retired ones too) with their ids\n"
      "and, from the directory's targets.json, the layers each is trusted\n"
      "for.\n\n"
      "Example:\n  strata keys list --dir ~/strata-keys");
  list->add_option("--dir", *list_dir, "the key directory")->required();
  list->callback([list_dir, &ctx] { RunKeysList(*list_dir, ctx); });

  auto rf = std::make_shared<PublisherRotation>();
  CLI::App* rotate = keys->add_subcommand(
      "rotate",
      "Replace a publisher key: the older name of `strata trust rotate\n"
      "publisher` (same behaviour; --dir is its --keys, --key its\n"
      "--publisher).\n\n"
      "Example:\n"
      "  strata keys rotate --dir ~/wallet-keys --key publisher-a --app "
      "wallet");
  rotate->add_option("--dir", rf->dir, "the key directory")->required();
  rotate
      ->add_option("--key", rf->key,
                   "the key to replace, by file name: publisher-a, ...")
      ->required();
  AddAppOption(rotate, rf->app, ctx);
  rotate
      ->add_option("--layer", rf->layers,
                   "replace it only for this layer (repeatable); default "
                   "every layer that trusts it")
      ->check(CLI::IsMember({"config", "h5", "hcf", "hotpatch", "native"}));
  rotate->add_option("--as", rf->as,
                     "file name for the new key (default: the old key's "
                     "name, or <key>-<layer> for one layer)");
  rotate->add_option("--days", rf->days, "how long the metadata stays valid")
      ->capture_default_str()
      ->check(CLI::Range(1, 3650));
  rotate->callback([rf, &ctx] {
    absl::Status s = RotatePublisher(*rf, ctx);
    if (!s.ok()) ctx.Fail(s);
  });
}

}  // namespace strata::admin
