#include "strata/admin_cli/cli_context.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "google/protobuf/util/json_util.h"
#include "strata/base/env.h"
#include "strata/base/strings.h"

namespace strata::admin {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitBadInput;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDataLoss:
      return kExitRefused;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    default:
      return kExitFailure;
  }
}

const char kExitCodeHelp[] =
    "Exit codes: 0 ok; 1 other failure; 2 bad input (flags, files, plan,\n"
    "gates); 3 not found; 4 refused (conflict, permission, illegal state,\n"
    "integrity); 5 server unavailable; 6 --wait: the release was halted or\n"
    "rolled back; 7 --wait: --timeout passed (the release goes on).";

void CliContext::Fail(const absl::Status& status) {
  exit_code = ExitCodeFor(status);
  if (json()) {
    Json error = Json::MakeObject();
    error["code"] = std::string(absl::StatusCodeToString(status.code()));
    error["message"] = ToStd(status.message());
    error["exit_code"] = exit_code;
    Json out = Json::MakeObject();
    out["error"] = std::move(error);
    std::cout << out.Dump() << "\n";
  } else {
    std::cerr << "strata: error: " << ToStd(status.message()) << "\n";
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

AdminClient CliContext::Client() const {
  return AdminClient(server, ResolveToken());
}

absl::Status LoadCliConfig(int argc, const char* const* argv, CliContext& ctx) {
  ctx.config_path = ConfigPathFromArgs(argc, argv);
  absl::StatusOr<CliConfig> config = LoadConfig(ctx.config_path);
  if (!config.ok()) return config.status();
  ctx.config = *std::move(config);
  if (!ctx.config.server.empty()) ctx.server = ctx.config.server;
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
      "      --token-file ~/wallet.token\n"
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
      "Authentication: every command but `health`, `init`, `keys` and\n"
      "`restore` needs a token: --token, STRATA_TOKEN, --token-file, the\n"
      "config's token_file, or the file `strata login` writes.\n"
      "Output: --output json prints one JSON object per result on stdout\n"
      "(errors too: {\"error\":{\"code\",\"message\",\"exit_code\"}}).\n"
      "No command prompts unless stdin and stderr are terminals.\n\n",
      kExitCodeHelp));
  app.require_subcommand(1);
  // Global flags may also follow the subcommand (inherited by subcommands).
  app.fallthrough();
  app.add_option("--server", ctx.server, "server host:port")
      ->envname("STRATA_SERVER")
      ->capture_default_str();
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
}

}  // namespace strata::admin
