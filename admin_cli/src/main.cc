// strata: the admin command-line tool.
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "grpc/support/log.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/base/strings.h"

namespace {

// gRPC's own log lines (e.g. "Handshake failed with fatal error ...") say
// less than the CLI's error for the same failure; GRPC_VERBOSITY brings
// them back for debugging.
void DropGrpcLog(gpr_log_func_args*) {}

// --output json / --output=json anywhere on the command line.
bool JsonRequested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--output=json") return true;
    if (arg == "--output" && i + 1 < argc &&
        std::string_view(argv[i + 1]) == "json")
      return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const char* grpc_verbosity = std::getenv("GRPC_VERBOSITY");
  if (grpc_verbosity == nullptr || *grpc_verbosity == '\0') {
    gpr_set_log_function(DropGrpcLog);
  }
  strata::admin::CliContext ctx;
  absl::Status config = strata::admin::LoadCliConfig(argc, argv, ctx);
  // A broken config file stops everything but `strata init --force`, which
  // rewrites it.
  bool init = false;
  for (int i = 1; i < argc; ++i)
    init = init || std::string_view(argv[i]) == "init";
  if (!config.ok() && !init) {
    std::cerr << "strata: error: " << strata::ToStd(config.message()) << "\n";
    return strata::admin::kExitBadInput;
  }
  CLI::App app;
  strata::admin::BuildCli(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help is text; a usage error under --output json is a JSON error too.
    if (e.get_exit_code() != 0 && JsonRequested(argc, argv)) {
      ctx.output = "json";
      ctx.Fail(absl::InvalidArgumentError(
          strata::StrCat(e.what(), "; run with --help for more information")));
      return strata::admin::kExitBadInput;
    }
    int code = app.exit(e);
    return code == 0 ? 0 : strata::admin::kExitBadInput;
  }
  return ctx.exit_code;
}
