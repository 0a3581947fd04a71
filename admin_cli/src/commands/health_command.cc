// strata health: is the server up?
#include <iostream>
#include <memory>

#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/cli_context.h"

namespace strata::admin {

void AddHealthCommand(CLI::App& app, CliContext& ctx) {
  auto wait_seconds = std::make_shared<double>(0);
  CLI::App* cmd = app.add_subcommand(
      "health",
      "Ask the server's standard gRPC health service whether it is serving.\n\n"
      "Example (wait up to 10 s for a starting server):\n"
      "  strata health --wait 10");
  cmd->add_option("--wait", *wait_seconds, "keep asking for this many seconds")
      ->capture_default_str();
  cmd->callback([wait_seconds, &ctx] {
    absl::Status s =
        ctx.Client().WaitUntilServing(absl::Seconds(*wait_seconds));
    if (!s.ok()) {
      ctx.Fail(s);
      return;
    }
    Json out = Json::MakeObject();
    out["status"] = "SERVING";
    ctx.Print(out, "serving\n");
  });
}

}  // namespace strata::admin
