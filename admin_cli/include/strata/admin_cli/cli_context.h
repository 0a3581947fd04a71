// What every subcommand shares: global flags, output and exit codes.
#ifndef STRATA_ADMIN_CLI_CLI_CONTEXT_H_
#define STRATA_ADMIN_CLI_CLI_CONTEXT_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "strata/admin_cli/admin_client.h"

namespace strata::admin {

// Documented exit codes (see `strata --help`).
enum ExitCode {
  kExitOk = 0,
  kExitFailure = 1,      // anything not listed below
  kExitBadInput = 2,     // bad flags or arguments, unreadable files
  kExitNotFound = 3,     // the named app, module, version or release is absent
  kExitRefused = 4,      // refused: conflicts, permissions, illegal state
  kExitUnavailable = 5,  // server unreachable or too slow
};

int ExitCodeFor(const absl::Status& status);

struct CliContext {
  std::string server = "127.0.0.1:7443";
  std::string token;            // --token / STRATA_TOKEN
  std::string token_file;       // --token-file / STRATA_TOKEN_FILE
  std::string output = "text";  // or "json"
  int exit_code = kExitOk;

  bool json() const { return output == "json"; }
  // The token from --token, else --token-file, else the file `strata login`
  // wrote ($XDG_CONFIG_HOME or ~/.config/strata/token); "" if none.
  std::string ResolveToken() const;
  // A client for the server with the resolved token.
  AdminClient Client() const;
  // Prints `status` as an error (text or JSON) and records the exit code.
  void Fail(const absl::Status& status);
  // Prints `message` in JSON form, or `text` otherwise.
  void Print(const google::protobuf::Message& message, const std::string& text);
};

// Each adds one subcommand (one file each under src/commands/).
void AddPublishCommand(CLI::App& app, CliContext& ctx);
void AddReleaseCommand(CLI::App& app, CliContext& ctx);
void AddHealthCommand(CLI::App& app, CliContext& ctx);
void AddTokenCommand(CLI::App& app, CliContext& ctx);
void AddLoginCommand(CLI::App& app, CliContext& ctx);
void AddAuditCommand(CLI::App& app, CliContext& ctx);
void AddBackupCommand(CLI::App& app, CliContext& ctx);
void AddKeysCommand(CLI::App& app, CliContext& ctx);
void AddTrustCommand(CLI::App& app, CliContext& ctx);
void AddSegmentCommand(CLI::App& app, CliContext& ctx);

// Where `strata login` keeps the token.
std::string DefaultTokenPath();

// Builds the whole `strata` command line.
void BuildCli(CLI::App& app, CliContext& ctx);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_CLI_CONTEXT_H_
