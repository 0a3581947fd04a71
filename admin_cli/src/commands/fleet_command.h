// strata fleet: per module, the versions devices run.
#ifndef STRATA_ADMIN_CLI_SRC_COMMANDS_FLEET_COMMAND_H_
#define STRATA_ADMIN_CLI_SRC_COMMANDS_FLEET_COMMAND_H_

#include "strata/admin_cli/cli_context.h"
#include "strata/v1/admin.pb.h"

namespace strata::admin {

void AddFleetCommand(CLI::App& app, CliContext& ctx);

// The text page of `strata fleet` (tested directly).
std::string RenderFleet(const std::string& app_id,
                        const v1::GetFleetResponse& fleet);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_SRC_COMMANDS_FLEET_COMMAND_H_
