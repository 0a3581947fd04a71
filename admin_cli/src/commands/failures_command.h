// strata failures list|show: client failures by signature and the remedies
// devices applied (docs/remedies.md).
#ifndef STRATA_ADMIN_CLI_SRC_COMMANDS_FAILURES_COMMAND_H_
#define STRATA_ADMIN_CLI_SRC_COMMANDS_FAILURES_COMMAND_H_

#include <string>

#include "strata/admin_cli/cli_context.h"
#include "strata/v1/admin.pb.h"

namespace strata::admin {

void AddFailuresCommand(CLI::App& app, CliContext& ctx);

// The text pages of `strata failures list` and `show` (tested directly).
std::string RenderFailureList(const std::string& app_id,
                              const v1::ListFailuresResponse& list);
std::string RenderFailure(const std::string& app_id,
                          const v1::FailureInfo& info);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_SRC_COMMANDS_FAILURES_COMMAND_H_
