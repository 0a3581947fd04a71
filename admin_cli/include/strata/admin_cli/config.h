// The CLI's config file (`strata init` writes it): defaults for --server,
// --app, --token-file and how to secure the connection (--ca-file,
// --server-cert, --plaintext), so later commands need no flags. Flags and
// environment variables still win over it.
//
//   # strata config (strata init)
//   server = stratad.example.com:7443
//   app = wallet
//   token_file = /home/me/.config/strata/token
//   ca_file = /home/me/.config/strata/ca.pem
#ifndef STRATA_ADMIN_CLI_CONFIG_H_
#define STRATA_ADMIN_CLI_CONFIG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace strata::admin {

struct CliConfig {
  std::string server;
  std::string app;
  std::string token_file;
  std::string ca_file;      // trust these CAs, not the system's
  std::string server_cert;  // pin the server's certificate
  bool plaintext = false;   // loopback servers without TLS only
};

// $STRATA_CONFIG, else $XDG_CONFIG_HOME/strata/config, else
// ~/.config/strata/config.
std::string DefaultConfigPath();

// `key = value` lines; blank lines and lines starting with '#' are skipped.
// Unknown keys and malformed lines are kInvalidArgument naming the line.
absl::StatusOr<CliConfig> ParseConfig(std::string_view text,
                                      std::string_view path);
std::string FormatConfig(const CliConfig& config);

// Reads `path`; a missing file is an empty config.
absl::StatusOr<CliConfig> LoadConfig(const std::string& path);

// The --config value in `argv` (`--config X` or `--config=X`), else
// DefaultConfigPath(): the config has to be read before the command line
// is parsed, because it supplies defaults.
std::string ConfigPathFromArgs(int argc, const char* const* argv);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_CONFIG_H_
