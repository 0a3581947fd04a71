// What every subcommand shares: global flags, output and exit codes.
#ifndef STRATA_ADMIN_CLI_CLI_CONTEXT_H_
#define STRATA_ADMIN_CLI_CLI_CONTEXT_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/config.h"
#include "strata/base/exit_codes.h"
#include "strata/base/json.h"

namespace strata::admin {

// Exit codes: strata/base/exit_codes.h (one table for every tool).

// The exit code table as `--help` and docs/cli.md print it.
extern const char kExitCodeHelp[];

// `strata --version`: "strata 0.1.0".
std::string VersionText();

struct CliContext {
  std::string server = "127.0.0.1:7443";
  // Where `server` came from, for messages: "--server", "STRATA_SERVER",
  // "the config file PATH" or "the default".
  std::string server_source = "the default";
  std::string token;       // --token / STRATA_TOKEN
  std::string token_file;  // --token-file / STRATA_TOKEN_FILE
  // How to secure the connection (flags or env; empty: the config's).
  std::string ca_file;          // --ca-file / STRATA_CA_FILE
  std::string server_cert;      // --server-cert / STRATA_SERVER_CERT
  bool plaintext = false;       // --plaintext
  std::string output = "text";  // or "json"
  std::string config_path;      // --config / STRATA_CONFIG
  CliConfig config;             // defaults read from config_path
  int exit_code = kExitOk;

  bool json() const { return output == "json"; }
  // A person at a terminal (stdin and stderr are terminals, text output):
  // the only case in which a command may ask a question.
  bool Interactive() const;
  // The token from --token (or STRATA_TOKEN), else --token-file, else the
  // config's token_file, else the file `strata login` wrote
  // ($XDG_CONFIG_HOME or ~/.config/strata/token); "" if none.
  std::string ResolveToken() const;
  // TLS settings: --ca-file, --server-cert and --plaintext (or their
  // environment variables) when any is given, else the config's; TLS
  // with the system's CAs when none is. Files are read here; a file that
  // cannot be read gives an Invalid security (every call fails saying so).
  ChannelSecurity Security() const;
  // `server` as gRPC dials it (ParseServerAddress: a port added to a bare
  // host, an https:// URL's scheme stripped with a note on stderr, once);
  // kInvalidArgument for what cannot be a server address (e.g. http://).
  absl::StatusOr<std::string> Target() const;
  // A client for Target() with the resolved token and Security(); when
  // Target() is an error, every call fails with it (exit 2).
  AdminClient Client() const;
  // The same with this token instead of the resolved one.
  AdminClient ClientWithToken(const std::string& token) const;
  // Prints `status` as an error (text or JSON) and records the exit code.
  void Fail(const absl::Status& status);
  // Prints `message` in JSON form, or `text` otherwise.
  void Print(const google::protobuf::Message& message, const std::string& text);
  // Prints `value` (one line of JSON) or `text`.
  void Print(const Json& value, const std::string& text);

  mutable bool target_noted = false;  // Target()'s note is said once
};

// Adds the usual `--app` option to `cmd`: required unless the config file
// names an app, which is then the default.
CLI::Option* AddAppOption(CLI::App* cmd, std::string& app,
                          const CliContext& ctx);

// A protobuf message as one line of JSON (proto field names, all fields).
std::string ToJsonLine(const google::protobuf::Message& message);

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
void AddInitCommand(CLI::App& app, CliContext& ctx);
void AddRestoreCommand(CLI::App& app, CliContext& ctx);
// `strata completion bash`: a completion script from the command tree.
void AddCompletionCommand(CLI::App& app, CliContext& ctx);
// The bash completion script for the command tree under `root`.
std::string BashCompletion(const CLI::App& root);
void AddArtifactCommand(CLI::App& app, CliContext& ctx);
void AddSchemaCommand(CLI::App& app, CliContext& ctx);

// Where `strata login` keeps the token.
std::string DefaultTokenPath();

// Builds the whole `strata` command line. Call LoadCliConfig first so the
// config's defaults show in --help and apply.
void BuildCli(CLI::App& app, CliContext& ctx);
// Reads the config file named by --config in argv, STRATA_CONFIG or the
// default path into ctx.config, and notes where --server comes from. A
// file named by --config must exist (kInvalidArgument otherwise); one
// named by STRATA_CONFIG or the default path may be absent (no config).
absl::Status LoadCliConfig(int argc, const char* const* argv, CliContext& ctx);

// The subcommand named in argv (the first word that is neither an option
// nor a global option's value), "" if none: e.g. "init" for
// `strata --server h:1 init --app a`.
std::string SubcommandInArgs(int argc, const char* const* argv);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_CLI_CONTEXT_H_
