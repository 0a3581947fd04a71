// strata: the admin command-line tool.
#include "strata/admin_cli/cli_context.h"

int main(int argc, char** argv) {
  strata::admin::CliContext ctx;
  CLI::App app;
  strata::admin::BuildCli(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : strata::admin::kExitBadInput;
  }
  return ctx.exit_code;
}
