// strata backup
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/strings.h"

namespace strata::admin {

void AddBackupCommand(CLI::App& app, CliContext& ctx) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "backup",
      "Have the server write a consistent copy of its database into a new\n"
      "directory on its own machine (admin), while it keeps serving.\n"
      "Restore it there with `strata restore --from DIR --data-dir NEW`\n"
      "(or `stratad restore`), with the server stopped.\n\n"
      "Example:\n  strata backup --to /var/backups/strata/2026-11-25");
  cmd->add_option("--to", *dir, "absolute path on the server; must not exist")
      ->required();
  cmd->callback([dir, &ctx] {
    auto result = ctx.Client().Backup(*dir);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    ctx.Print(*result,
              StrCat("backup written to ", result->directory(),
                     " (audit log up to entry ", result->audit_seq(), ")\n"));
  });
}

}  // namespace strata::admin
