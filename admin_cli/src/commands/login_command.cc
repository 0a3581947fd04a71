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
      "commands, in $XDG_CONFIG_HOME/strata/token or "
      "~/.config/strata/token.\n\n"
      "Example:\n"
      "  strata login --with-token \"$(cat /var/lib/strata/admin.token)\"");
  cmd->add_option("--with-token", *token, "the token to keep")->required();
  cmd->callback([token, &ctx] {
    // A cheap authenticated call proves the token before it is kept.
    auto check = AdminClient(ctx.server, *token).ListAudit(UINT64_MAX - 1);
    if (!check.ok() && !absl::IsPermissionDenied(check.status())) {
      ctx.Fail(check.status());
      return;
    }
    const std::string path = DefaultTokenPath();
    FileSystem& fs = *PosixFileSystem();
    absl::Status s = CreateDirs(fs, Dirname(path));
    if (s.ok()) s = WriteFileAtomically(fs, path, *token + "\n");
    if (s.ok()) s = fs.SetPermissions(path, 0600);
    if (!s.ok()) {
      ctx.Fail(s);
      return;
    }
    if (ctx.json()) {
      std::cout << "{\"token_file\":\"" << path << "\"}\n";
    } else {
      std::cout << "logged in; token kept in " << path << "\n";
    }
  });
}

}  // namespace strata::admin
