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

#if defined(__SANITIZE_ADDRESS__)
// Only in the sanitizer build, and only for this binary: gRPC built on
// OpenSSL 3 (Debian's) sometimes leaves a TLS client's OpenSSL objects
// (an SSL_SESSION and its certificates) to one of its detached threads
// when main() returns, and LeakSanitizer reports them with no frame
// outside libcrypto (grpc/grpc#38539; seen here from `strata health
// --wait` and `strata release status` over TLS, about one run in two of
// the suite). Strata's own OpenSSL code (strata::signing) stays under the
// leak check in its tests, which do not load this list.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:CRYPTO_zalloc\nleak:CRYPTO_strdup\nleak:CRYPTO_strndup\n";
}
#endif

int main(int argc, char** argv) {
  const char* grpc_verbosity = std::getenv("GRPC_VERBOSITY");
  if (grpc_verbosity == nullptr || *grpc_verbosity == '\0') {
    gpr_set_log_function(DropGrpcLog);
  }
  strata::admin::CliContext ctx;
  if (JsonRequested(argc, argv)) ctx.output = "json";
  absl::Status config = strata::admin::LoadCliConfig(argc, argv, ctx);
  // A broken or missing config file stops everything but `strata init`
  // (which writes it), `completion`, --help and --version.
  const std::string sub = strata::admin::SubcommandInArgs(argc, argv);
  bool asks_for_text = sub == "completion";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    asks_for_text =
        asks_for_text || arg == "--help" || arg == "-h" || arg == "--version";
  }
  if (!config.ok() && sub != "init" && !asks_for_text) {
    ctx.Fail(config);
    return strata::kExitBadInput;
  }
  CLI::App app;
  strata::admin::BuildCli(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A usage error is an error like any other: `strata: error: ...` (or
    // the JSON error object), exit 2.
    ctx.Fail(absl::InvalidArgumentError(
        strata::StrCat(e.what(), "; run `strata", sub.empty() ? "" : " ", sub,
                       " --help` for more information")));
    return strata::kExitBadInput;
  }
  return ctx.exit_code;
}
