#include "strata/admin_cli/cli_context.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "google/protobuf/util/json_util.h"
#include "strata/base/env.h"
#include "strata/base/server_address.h"
#include "strata/base/strings.h"

namespace strata::admin {

const char kExitCodeHelp[] =
    "Exit codes: 0 ok; 1 other failure; 2 bad input (flags, files, plan,\n"
    "gates); 3 not found; 4 refused (conflict, permission, illegal state,\n"
    "integrity); 5 server unavailable; 6 --wait: the release was halted or\n"
    "rolled back; 7 --wait: --timeout passed (the release goes on).";

std::string VersionText() {
#ifdef STRATA_VERSION
  return StrCat("strata ", STRATA_VERSION);
#else
  return "strata (unknown version)";
#endif
}

void CliContext::Fail(const absl::Status& status) {
  exit_code = ExitCodeFor(status);
  std::string message(ToStd(status.message()));
  // A server that could not be reached: say where its address came from
  // unless it was the --server flag itself.
  if (absl::IsUnavailable(status) && server_source != "--server" &&
      message.find("cannot reach stratad at ") != std::string::npos) {
    message += server_source == "the default"
                   ? StrCat(" (", server, " is the default address)")
                   : StrCat(" (the address came from ", server_source, ")");
  }
  if (json()) {
    Json error = Json::MakeObject();
    error["code"] = std::string(absl::StatusCodeToString(status.code()));
    error["message"] = message;
    error["exit_code"] = exit_code;
    Json out = Json::MakeObject();
    out["error"] = std::move(error);
    std::cout << out.Dump() << "\n";
  } else {
    std::cerr << "strata: error: " << message << "\n";
  }
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

void CliContext::Print(const google::protobuf::Message& message,
                       const std::string& text) {
  if (json()) {
    std::cout << ToJsonLine(message) << "\n";
  } else {
    std::cout << text;
  }
}

void CliContext::Print(const Json& value, const std::string& text) {
  if (json()) {
    std::cout << value.Dump() << "\n";
  } else {
    std::cout << text;
  }
}

bool CliContext::Interactive() const {
  return !json() && ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO);
}

CLI::Option* AddAppOption(CLI::App* cmd, std::string& app,
                          const CliContext& ctx) {
  if (!ctx.config.app.empty()) {
    app = ctx.config.app;
    return cmd
        ->add_option("--app", app,
                     StrCat("app id (default from ", ctx.config_path, ")"))
        ->capture_default_str();
  }
  return cmd
      ->add_option("--app", app,
                   "app id, e.g. wallet (or set it once "
                   "with `strata init --app`)")
      ->required();
}

std::string DefaultTokenPath() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::string base = xdg && *xdg ? xdg : StrCat(home ? home : ".", "/.config");
  return StrCat(base, "/strata/token");
}

std::string CliContext::ResolveToken() const {
  if (!token.empty()) return token;
  std::string path = !token_file.empty()          ? token_file
                     : !config.token_file.empty() ? config.token_file
                                                  : DefaultTokenPath();
  absl::StatusOr<std::string> t = PosixFileSystem()->ReadFile(path);
  if (!t.ok()) return "";
  std::string v = *t;
  while (!v.empty() &&
         (v.back() == '\n' || v.back() == '\r' || v.back() == ' '))
    v.pop_back();
  return v;
}

ChannelSecurity CliContext::Security() const {
  const bool from_flags = plaintext || !ca_file.empty() || !server_cert.empty();
  const bool use_plaintext = from_flags ? plaintext : config.plaintext;
  const std::string& ca = from_flags ? ca_file : config.ca_file;
  const std::string& cert = from_flags ? server_cert : config.server_cert;
  const std::string where =
      from_flags ? "" : StrCat(" (from ", config_path, ")");
  if (use_plaintext && (!ca.empty() || !cert.empty())) {
    return ChannelSecurity::Invalid(
        StrCat("--plaintext cannot be combined with --ca-file or --server-cert",
               where, "; choose TLS or plaintext"));
  }
  if (use_plaintext) return ChannelSecurity::Plaintext();
  ChannelSecurity security;
  FileSystem& fs = *PosixFileSystem();
  if (!ca.empty()) {
    absl::StatusOr<std::string> pem = fs.ReadFile(ca);
    if (!pem.ok()) {
      return ChannelSecurity::Invalid(
          StrCat("cannot read --ca-file ", ca, where, ": ",
                 ToStd(pem.status().message()),
                 "; pass the CA `stratad init --tls-self-signed` wrote "
                 "(<data-dir>/tls/ca.pem) or the CA that signed stratad's "
                 "--tls-cert"));
    }
    security.ca_pem = *std::move(pem);
    security.ca_source = StrCat("--ca-file ", ca, where);
  }
  if (!cert.empty()) {
    absl::StatusOr<std::string> pem = fs.ReadFile(cert);
    if (!pem.ok()) {
      return ChannelSecurity::Invalid(StrCat(
          "cannot read --server-cert ", cert, where, ": ",
          ToStd(pem.status().message()),
          "; pass the certificate stratad serves (<data-dir>/tls/server.pem "
          "after `stratad init --tls-self-signed`)"));
    }
    security.server_cert_pem = *std::move(pem);
    security.server_cert_source = StrCat("--server-cert ", cert, where);
  }
  return security;
}

absl::StatusOr<std::string> CliContext::Target() const {
  const std::string flag = server_source == "--server"
                               ? "--server"
                               : StrCat("--server (from ", server_source, ")");
  absl::StatusOr<ServerAddress> address = ParseServerAddress(server, flag);
  if (!address.ok()) return address.status();
  if (!address->note.empty() && !target_noted) {
    target_noted = true;
    std::cerr << "strata: note: " << address->note << "\n";
  }
  return address->target;
}

AdminClient CliContext::Client() const {
  return ClientWithToken(ResolveToken());
}

AdminClient CliContext::ClientWithToken(const std::string& token) const {
  absl::StatusOr<std::string> target = Target();
  if (!target.ok()) {
    // Nothing is sent: every call fails with the reason.
    return AdminClient(server, token,
                       ChannelSecurity::Invalid(
                           std::string(ToStd(target.status().message()))));
  }
  return AdminClient(*target, token, Security());
}

namespace {

// Global options that take a value (so their value is no subcommand).
bool TakesValue(std::string_view arg) {
  for (std::string_view o :
       {"--server", "--ca-file", "--server-cert", "--token", "--token-file",
        "--output", "--config"}) {
    if (arg == o) return true;
  }
  return false;
}

bool InArgs(int argc, const char* const* argv, std::string_view flag) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == flag || (arg.size() > flag.size() &&
                        arg.substr(0, flag.size() + 1) == StrCat(flag, "=")))
      return true;
  }
  return false;
}

}  // namespace

std::string SubcommandInArgs(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.empty() || arg[0] == '-') {
      if (TakesValue(arg)) ++i;
      continue;
    }
    return std::string(arg);
  }
  return "";
}

absl::Status LoadCliConfig(int argc, const char* const* argv, CliContext& ctx) {
  ctx.config_path = ConfigPathFromArgs(argc, argv);
  const char* env_server = std::getenv("STRATA_SERVER");
  ctx.server_source = InArgs(argc, argv, "--server") ? "--server"
                      : env_server != nullptr && *env_server != '\0'
                          ? "STRATA_SERVER"
                          : "the default";
  FileSystem& fs = *PosixFileSystem();
  if (InArgs(argc, argv, "--config") && !fs.Exists(ctx.config_path)) {
    return absl::InvalidArgumentError(
        StrCat("--config ", ctx.config_path,
               ": no such file; `strata init --config ", ctx.config_path,
               " --server HOST:PORT ...` writes one, or drop --config to use ",
               DefaultConfigPath(), " when it exists"));
  }
  absl::StatusOr<CliConfig> config = LoadConfig(ctx.config_path);
  if (!config.ok()) return config.status();
  ctx.config = *std::move(config);
  if (!ctx.config.server.empty()) {
    ctx.server = ctx.config.server;
    if (ctx.server_source == "the default") {
      ctx.server_source = StrCat("the config file ", ctx.config_path);
    }
  }
  return absl::OkStatus();
}

namespace {

// Lists subcommands by the first sentence of their description; the whole
// description, examples included, is in each subcommand's own --help.
class BriefFormatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    std::string desc = sub->get_description();
    desc = desc.substr(0, desc.find("\n\n"));
    for (char& c : desc) {
      if (c == '\n') c = ' ';
    }
    const size_t stop = desc.find(". ");
    if (stop != std::string::npos) desc = desc.substr(0, stop + 1);
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), desc,
                             column_width_);
    return out.str();
  }
};

}  // namespace

void BuildCli(CLI::App& app, CliContext& ctx) {
  app.formatter(std::make_shared<BriefFormatter>());
  app.description(StrCat(
      "strata - publish artifacts and manage staged releases on a Strata "
      "server.\n\n"
      "Examples:\n"
      "  strata init --server stratad.example.com:7443 --app wallet \\\n"
      "      --token-file ~/wallet.token --ca-file ~/strata-ca.pem\n"
      "  strata --plaintext --server 127.0.0.1:7443 health   # no TLS, "
      "loopback\n"
      "  strata publish --layer config --module payment.limits --version 1 "
      "\\\n"
      "      --file limits.json --key ~/strata-keys/publisher-a.key\n"
      "  strata release create --artifact config/payment.limits@1 \\\n"
      "      --plan 1%:1h:200,5%:2h:500,20%,100% --wait\n"
      "  strata release status 7\n"
      "  strata release list --output json\n\n"
      "Settings: flags win over STRATA_* environment variables, which win\n"
      "over the config file `strata init` writes (",
      ctx.config_path.empty() ? DefaultConfigPath() : ctx.config_path,
      ").\n"
      "Connection: TLS, checked against the system's CAs unless --ca-file\n"
      "(the CA to trust, e.g. <data-dir>/tls/ca.pem that `stratad init\n"
      "--tls-self-signed` wrote) or --server-cert (the server's exact\n"
      "certificate) says otherwise. --plaintext turns TLS off and is\n"
      "refused unless the server is loopback (127.0.0.0/8, ::1, localhost).\n"
      "Authentication: every command but `health`, `init`, `keys` and\n"
      "`restore` needs a token: --token, STRATA_TOKEN, --token-file, the\n"
      "config's token_file, or the file `strata login` writes.\n"
      "Output: --output json prints one JSON object per result on stdout\n"
      "(errors too: {\"error\":{\"code\",\"message\",\"exit_code\"}}).\n"
      "No command prompts unless stdin and stderr are terminals.\n\n",
      kExitCodeHelp));
  app.require_subcommand(1);
  app.set_version_flag("--version", VersionText(),
                       "print the version and exit");
  // Global flags may also follow the subcommand (inherited by subcommands).
  app.fallthrough();
  app.add_option("--server", ctx.server,
                 "server host:port (a bare host means port 7443, stratad's "
                 "default)")
      ->envname("STRATA_SERVER")
      ->capture_default_str();
  const std::string from_config =
      ctx.config.plaintext ? " (config: plaintext = true)"
      : !ctx.config.ca_file.empty()
          ? StrCat(" (config: ", ctx.config.ca_file, ")")
          : "";
  app.add_option("--ca-file", ctx.ca_file,
                 StrCat("PEM file of the CAs to trust instead of the "
                        "system's, e.g. <data-dir>/tls/ca.pem",
                        ctx.config.plaintext ? "" : from_config))
      ->envname("STRATA_CA_FILE");
  app.add_option(
         "--server-cert", ctx.server_cert,
         StrCat("PEM file of the server's certificate: connect only "
                "if the server presents exactly this one",
                ctx.config.server_cert.empty()
                    ? ""
                    : StrCat(" (config: ", ctx.config.server_cert, ")")))
      ->envname("STRATA_SERVER_CERT");
  app.add_flag("--plaintext", ctx.plaintext,
               StrCat("no TLS; only to a loopback server (127.0.0.0/8, ::1, "
                      "localhost)",
                      ctx.config.plaintext ? from_config : ""));
  app.add_option("--token", ctx.token, "bearer token")->envname("STRATA_TOKEN");
  app.add_option("--token-file", ctx.token_file,
                 "file holding the bearer token")
      ->envname("STRATA_TOKEN_FILE");
  app.add_option("--output", ctx.output, "output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  // Read before parsing (LoadCliConfig); declared so that it is accepted.
  app.add_option("--config", ctx.config_path,
                 "the config file `strata init` writes (default: "
                 "$STRATA_CONFIG, else $XDG_CONFIG_HOME/strata/config or "
                 "~/.config/strata/config)");
  AddInitCommand(app, ctx);
  AddLoginCommand(app, ctx);
  AddHealthCommand(app, ctx);
  AddKeysCommand(app, ctx);
  AddTrustCommand(app, ctx);
  AddTokenCommand(app, ctx);
  AddPublishCommand(app, ctx);
  AddArtifactCommand(app, ctx);
  AddSchemaCommand(app, ctx);
  AddSegmentCommand(app, ctx);
  AddReleaseCommand(app, ctx);
  AddAuditCommand(app, ctx);
  AddBackupCommand(app, ctx);
  AddRestoreCommand(app, ctx);
  AddCompletionCommand(app, ctx);
}

}  // namespace strata::admin
