#include "strata/admin_cli/config.h"

#include <cstdlib>

#include "strata/base/env.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

std::string_view TrimBlank(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string DefaultConfigPath() {
  const char* explicit_path = std::getenv("STRATA_CONFIG");
  if (explicit_path != nullptr && *explicit_path) return explicit_path;
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::string base = xdg && *xdg ? xdg : StrCat(home ? home : ".", "/.config");
  return StrCat(base, "/strata/config");
}

absl::StatusOr<CliConfig> ParseConfig(std::string_view text,
                                      std::string_view path) {
  CliConfig config;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = TrimBlank(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          StrCat(path, ":", line_no,
                 ": expected `key = value`; fix or remove "
                 "the line (or rewrite the file with `strata init --force`)"));
    }
    std::string_view key = TrimBlank(line.substr(0, eq));
    std::string value(TrimBlank(line.substr(eq + 1)));
    if (key == "server") {
      config.server = value;
    } else if (key == "app") {
      config.app = value;
    } else if (key == "token_file") {
      config.token_file = value;
    } else if (key == "ca_file") {
      config.ca_file = value;
    } else if (key == "server_cert") {
      config.server_cert = value;
    } else if (key == "plaintext") {
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            StrCat(path, ":", line_no, ": plaintext is true or false, not '",
                   value, "'"));
      }
      config.plaintext = value == "true";
    } else {
      return absl::InvalidArgumentError(StrCat(
          path, ":", line_no, ": unknown key '", key,
          "'; known keys: server, app, token_file, ca_file, server_cert, "
          "plaintext"));
    }
  }
  return config;
}

std::string FormatConfig(const CliConfig& config) {
  std::string out =
      "# strata CLI config, written by `strata init`. Flags and STRATA_*\n"
      "# environment variables win over these values.\n";
  if (!config.server.empty()) out += StrCat("server = ", config.server, "\n");
  if (!config.app.empty()) out += StrCat("app = ", config.app, "\n");
  if (!config.token_file.empty())
    out += StrCat("token_file = ", config.token_file, "\n");
  if (!config.ca_file.empty())
    out += StrCat("ca_file = ", config.ca_file, "\n");
  if (!config.server_cert.empty())
    out += StrCat("server_cert = ", config.server_cert, "\n");
  if (config.plaintext) out += "plaintext = true\n";
  return out;
}

absl::StatusOr<CliConfig> LoadConfig(const std::string& path) {
  FileSystem& fs = *PosixFileSystem();
  if (!fs.Exists(path)) return CliConfig();
  absl::StatusOr<std::string> text = fs.ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(StrCat("cannot read the config file ",
                                             path, ": ",
                                             ToStd(text.status().message())));
  }
  return ParseConfig(*text, path);
}

std::string ConfigPathFromArgs(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) return argv[i + 1];
    if (arg.rfind("--config=", 0) == 0) return std::string(arg.substr(9));
  }
  return DefaultConfigPath();
}

}  // namespace strata::admin
