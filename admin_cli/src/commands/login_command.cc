// strata login: keep a token for later commands.
#include <iostream>
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"

namespace strata::admin {

void AddLoginCommand(CLI::App& app, CliContext& ctx) {
  auto token = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "login",
      "Check a token against the server and keep it (mode 0600) for later\n"
      "commands: in --token-file, else the config's token_file (`strata\n"
      "init`), else $XDG_CONFIG_HOME/strata/token or ~/.config/strata/token.\n"
      "STRATA_TOKEN or --token, when set, win over the kept token.\n\n"
      "Example:\n"
      "  strata login --with-token \"$(cat /var/lib/strata/admin.token)\"");
  cmd->add_option("--with-token", *token, "the token to keep")->required();
  cmd->callback([token, &ctx] {
    // A cheap authenticated call proves the token before it is kept.
    auto check = AdminClient(ctx.server, *token, ctx.Security())
                     .ListAudit(UINT64_MAX - 1);
    if (!check.ok() && !absl::IsPermissionDenied(check.status())) {
      ctx.Fail(check.status());
      return;
    }
    // Where later commands look: --token-file, the config's token_file, or
    // the default path.
    const std::string path = !ctx.token_file.empty() ? ctx.token_file
                             : !ctx.config.token_file.empty()
                                 ? ctx.config.token_file
                                 : DefaultTokenPath();
    FileSystem& fs = *PosixFileSystem();
    absl::Status s = CreateDirs(fs, Dirname(path));
    if (s.ok()) s = WriteFileAtomically(fs, path, *token + "\n");
    if (s.ok()) s = fs.SetPermissions(path, 0600);
    if (!s.ok()) {
      ctx.Fail(s);
      return;
    }
    Json out = Json::MakeObject();
    out["token_file"] = path;
    ctx.Print(out, StrCat("logged in; token kept in ", path, "\n"));
  });
}

}  // namespace strata::admin
