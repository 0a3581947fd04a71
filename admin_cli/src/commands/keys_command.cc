// strata keys gen|list: signing keys, generated and kept on this machine.
#include <iostream>
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/signing/keys.h"

namespace strata::admin {

// The key files `keys gen` makes, in a directory of the user's choosing.
const std::vector<std::string>& KeyNames() {
  static const auto* names = new std::vector<std::string>{
      "root", "targets", "snapshot", "timestamp", "publisher-a", "publisher-b"};
  return *names;
}

void AddKeysCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* keys = app.add_subcommand(
      "keys",
      "Generate and list Ed25519 signing keys (private keys stay here).");
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
  gen->callback([dir, &ctx] {
    FileSystem& fs = *PosixFileSystem();
    if (fs.Exists(*dir)) {
      ctx.Fail(absl::AlreadyExistsError(StrCat(
          *dir, " exists; keys are never overwritten, pick a new directory")));
      return;
    }
    absl::Status s = CreateDirs(fs, *dir);
    std::string text;
    for (const std::string& name : KeyNames()) {
      if (!s.ok()) break;
      absl::StatusOr<signing::PrivateKey> key = signing::PrivateKey::Generate();
      if (!key.ok()) {
        s = key.status();
        break;
      }
      s = signing::SavePrivateKey(fs, JoinPath(*dir, name + ".key"), *key);
      if (s.ok()) {
        s = signing::SavePublicKey(fs, JoinPath(*dir, name + ".pub"),
                                   key->public_key());
      }
      text += StrCat(name, "  ", key->KeyId(), "\n");
    }
    if (!s.ok()) {
      ctx.Fail(s);
      return;
    }
    std::cout << text << "keys written to " << *dir << "\n";
  });
  auto list_dir = std::make_shared<std::string>();
  CLI::App* list =
      keys->add_subcommand("list",
                           "Show the key ids of a key directory.\n\nExample:\n "
                           " strata keys list --dir ~/strata-keys");
  list->add_option("--dir", *list_dir, "the key directory")->required();
  list->callback([list_dir, &ctx] {
    FileSystem& fs = *PosixFileSystem();
    bool any = false;
    for (const std::string& name : KeyNames()) {
      auto key = signing::LoadPublicKey(fs, JoinPath(*list_dir, name + ".pub"));
      if (!key.ok()) continue;
      any = true;
      std::cout << name << "  " << key->KeyId() << "\n";
    }
    if (!any) ctx.Fail(absl::NotFoundError(StrCat("no keys in ", *list_dir)));
  });
}

}  // namespace strata::admin
