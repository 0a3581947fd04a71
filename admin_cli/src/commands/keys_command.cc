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

namespace strata::admin {

namespace {

// The key files `keys gen` makes, in a directory of the user's choosing.
const std::vector<std::string>& KeyNames() {
  static const auto* names = new std::vector<std::string>{
      "root", "targets", "snapshot", "timestamp", "publisher-a", "publisher-b"};
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

void RunList(const std::string& dir, CliContext& ctx) {
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

struct RotateFlags {
  std::string dir, key, as;
  std::vector<std::string> layers;
  int days = 365;
};

absl::Status RunRotate(const RotateFlags& f, CliContext& ctx) {
  FileSystem& fs = *PosixFileSystem();
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(std::string(what));
  };
  const std::string root_path = JoinPath(f.dir, "root.json");
  const std::string targets_path = JoinPath(f.dir, "targets.json");
  if (!fs.Exists(root_path) || !fs.Exists(targets_path)) {
    return bad(StrCat(f.dir,
                      " has no root.json and targets.json; rotate works on a "
                      "key directory installed with `strata trust init --keys ",
                      f.dir, "`"));
  }
  // The current metadata, as installed by trust init or the last rotate.
  STRATA_ASSIGN_OR_RETURN(std::string root_bytes, fs.ReadFile(root_path));
  STRATA_ASSIGN_OR_RETURN(signing::SignedMetadata root_md,
                          signing::SignedMetadata::Parse(root_bytes, "root"));
  STRATA_ASSIGN_OR_RETURN(signing::RootMetadata root,
                          signing::ParseRoot(root_md.signed_part()));
  STRATA_ASSIGN_OR_RETURN(std::optional<signing::TargetsMetadata> loaded,
                          LoadTargets(fs, f.dir));
  signing::TargetsMetadata targets = std::move(*loaded);
  if (!targets.delegations.has_value()) {
    return bad(StrCat(targets_path, " delegates no layer; nothing to rotate"));
  }
  const std::string old_key_file = JoinPath(f.dir, f.key + ".key");
  const std::string old_pub_file = JoinPath(f.dir, f.key + ".pub");
  absl::StatusOr<signing::PublicKey> old_pub =
      signing::LoadPublicKey(fs, old_pub_file);
  if (!old_pub.ok()) {
    return absl::NotFoundError(
        StrCat("cannot read the public key ", old_pub_file, ": ",
               ToStd(old_pub.status().message()),
               "; --key names a key of the directory, e.g. publisher-a"));
  }
  const std::string old_id = old_pub->KeyId();
  const std::vector<std::string> trusted_for = LayersOf(targets, old_id);
  if (trusted_for.empty()) {
    return absl::NotFoundError(StrCat("key ", f.key, " (", old_id.substr(0, 16),
                                      ") is not delegated any layer in ",
                                      targets_path, "; nothing to rotate"));
  }
  std::vector<std::string> layers = f.layers;
  if (layers.empty()) layers = trusted_for;
  for (const std::string& layer : layers) {
    if (std::find(trusted_for.begin(), trusted_for.end(), layer) ==
        trusted_for.end()) {
      return bad(StrCat("key ", f.key, " is not a ", layer,
                        " publisher key; it is trusted for ",
                        Join(trusted_for, ", ")));
    }
  }
  const bool everywhere = layers.size() == trusted_for.size();
  std::string new_name = f.as;
  if (new_name.empty()) {
    if (everywhere) {
      new_name = f.key;
    } else if (layers.size() == 1) {
      new_name = StrCat(f.key, "-", layers[0]);
    } else {
      return bad(
          "name the new key with --as: it replaces the old one in only some "
          "of its layers, so both stay in use");
    }
  }
  STRATA_RETURN_IF_ERROR(ValidateName("--as", new_name));
  if (new_name != f.key && fs.Exists(JoinPath(f.dir, new_name + ".key"))) {
    return absl::AlreadyExistsError(
        StrCat(JoinPath(f.dir, new_name + ".key"),
               " exists; keys are never overwritten, pick another --as"));
  }
  STRATA_ASSIGN_OR_RETURN(
      signing::PrivateKey root_key,
      signing::LoadPrivateKey(fs, JoinPath(f.dir, "root.key")));
  STRATA_ASSIGN_OR_RETURN(
      signing::PrivateKey targets_key,
      signing::LoadPrivateKey(fs, JoinPath(f.dir, "targets.key")));
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey new_key,
                          signing::PrivateKey::Generate());
  const std::string new_id = new_key.KeyId();

  // New targets metadata: the new key replaces the old one in `layers`;
  // the old key stays listed only where it is still delegated.
  const absl::Time expires = absl::Now() + absl::Hours(24) * f.days;
  targets.common.version += 1;
  targets.common.expires = expires;
  signing::Delegations& del = *targets.delegations;
  del.keys.emplace(new_id, new_key.public_key());
  for (auto& role : del.roles) {
    if (std::find(layers.begin(), layers.end(), role.name) == layers.end())
      continue;
    std::replace(role.keyids.begin(), role.keyids.end(), old_id, new_id);
  }
  if (LayersOf(targets, old_id).empty()) del.keys.erase(old_id);
  // The server installs a root of trust only with a higher root version,
  // so the unchanged root is signed again as the next version.
  root.common.version += 1;
  root.common.expires = std::max(root.common.expires, expires);
  STRATA_ASSIGN_OR_RETURN(
      std::string new_root,
      signing::SignToBytes(signing::ToJson(root), {&root_key}));
  STRATA_ASSIGN_OR_RETURN(
      std::string new_targets,
      signing::SignToBytes(signing::ToJson(targets), {&targets_key}));

  // The new key is on disk before anything trusts it.
  const std::string pending_key = JoinPath(f.dir, new_name + ".key.new");
  const std::string pending_pub = JoinPath(f.dir, new_name + ".pub.new");
  STRATA_RETURN_IF_ERROR(signing::SavePrivateKey(fs, pending_key, new_key));
  STRATA_RETURN_IF_ERROR(
      signing::SavePublicKey(fs, pending_pub, new_key.public_key()));
  absl::StatusOr<v1::SetTrustResponse> installed =
      ctx.Client().SetTrust(new_root, new_targets);
  if (!installed.ok()) {
    (void)fs.DeleteFile(pending_key);
    (void)fs.DeleteFile(pending_pub);
    return Annotate(installed.status(),
                    "the server refused the new trust metadata; nothing "
                    "changed");
  }
  // Installed: retire the old key files (kept, no longer trusted) when the
  // new key takes their name, then move the new key into place.
  std::string retired_key;
  if (new_name == f.key) {
    const std::string retired = JoinPath(f.dir, kRetiredDir);
    STRATA_RETURN_IF_ERROR(CreateDirs(fs, retired));
    const std::string base = StrCat(f.key, ".", old_id.substr(0, 16));
    retired_key = JoinPath(retired, base + ".key");
    STRATA_RETURN_IF_ERROR(fs.Rename(old_key_file, retired_key));
    STRATA_RETURN_IF_ERROR(
        fs.Rename(old_pub_file, JoinPath(retired, base + ".pub")));
    STRATA_RETURN_IF_ERROR(fs.SyncDir(retired));
  }
  const std::string new_key_file = JoinPath(f.dir, new_name + ".key");
  STRATA_RETURN_IF_ERROR(fs.Rename(pending_key, new_key_file));
  STRATA_RETURN_IF_ERROR(
      fs.Rename(pending_pub, JoinPath(f.dir, new_name + ".pub")));
  STRATA_RETURN_IF_ERROR(fs.SyncDir(f.dir));
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(fs, root_path, new_root));
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(fs, targets_path, new_targets));

  Json out = Json::MakeObject();
  out["key"] = f.key;
  Json l = Json::MakeArray();
  for (const auto& layer : layers) l.Append(layer);
  out["layers"] = std::move(l);
  out["new_key_id"] = new_id;
  out["new_key_file"] = new_key_file;
  out["old_key_id"] = old_id;
  out["old_key_file"] = retired_key.empty() ? old_key_file : retired_key;
  out["old_key_still_trusted_for"] = [&] {
    Json a = Json::MakeArray();
    for (const auto& layer : LayersOf(targets, old_id)) a.Append(layer);
    return a;
  }();
  out["root_version"] = installed->root_version();
  out["targets_version"] = installed->targets_version();
  std::string text =
      StrCat("rotated ", f.key, " for ", Join(layers, ", "), ": new key ",
             new_id.substr(0, 16), " in ", new_key_file, "\n");
  const std::vector<std::string> still = LayersOf(targets, old_id);
  if (still.empty()) {
    text += StrCat("old key ", old_id.substr(0, 16), " is no longer trusted; ",
                   "kept in ", retired_key.empty() ? old_key_file : retired_key,
                   "\n");
  } else {
    text += StrCat("old key ", old_id.substr(0, 16), " is still trusted for ",
                   Join(still, ", "), " (", old_key_file, ")\n");
  }
  text += StrCat("installed root v", installed->root_version(), ", targets v",
                 installed->targets_version(), "; pin the new ", root_path,
                 " in the next app build\n");
  ctx.Print(out, text);
  return absl::OkStatus();
}

}  // namespace

void AddKeysCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* keys = app.add_subcommand(
      "keys",
      "Generate, list and rotate Ed25519 signing keys (private keys stay\n"
      "on this machine).\n\n"
      "Example:\n"
      "  strata keys gen --dir ~/strata-keys\n"
      "  strata trust init --keys ~/strata-keys --app wallet\n"
      "  strata keys rotate --dir ~/strata-keys --key publisher-a");
  keys->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  CLI::App* gen = keys->add_subcommand(
      "gen",
      "Generate a key set in a new directory: root and targets keys (keep\n"
      "them offline), snapshot and timestamp keys, and two publisher keys.\n"
      "Private keys are written with mode 0600, as PEM files that\n"
      "`openssl pkey` reads.\n\n"
      "Example:\n  strata keys gen --dir ~/strata-keys");
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
  list->callback([list_dir, &ctx] { RunList(*list_dir, ctx); });

  auto rf = std::make_shared<RotateFlags>();
  CLI::App* rotate = keys->add_subcommand(
      "rotate",
      "Replace a publisher key (admin): generate a new key, sign new targets\n"
      "metadata (targets key) that delegates the key's layers to the new\n"
      "key instead, sign the unchanged root again as its next version (root\n"
      "key; the server only installs a higher root version), and install\n"
      "both with SetTrust. The new key takes the old one's file name; the\n"
      "old private key moves to retired/ and is no longer trusted, so\n"
      "publishes signed with it are refused. Nothing changes on disk if the\n"
      "server refuses. Needs root.key, targets.key, root.json and\n"
      "targets.json in the directory (as `strata trust init` leaves it).\n\n"
      "Example (a publisher key may have leaked):\n"
      "  strata keys rotate --dir ~/strata-keys --key publisher-a\n"
      "Example (only for hotpatches; the new key is publisher-a-hotpatch):\n"
      "  strata keys rotate --dir ~/strata-keys --key publisher-a "
      "--layer hotpatch");
  rotate->add_option("--dir", rf->dir, "the key directory")->required();
  rotate
      ->add_option("--key", rf->key,
                   "the key to replace, by file name: publisher-a, ...")
      ->required();
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
    absl::Status s = RunRotate(*rf, ctx);
    if (!s.ok()) ctx.Fail(s);
  });
}

}  // namespace strata::admin
