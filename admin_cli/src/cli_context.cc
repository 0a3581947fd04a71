#include "strata/admin_cli/cli_context.h"

#include <cstdlib>
#include <iostream>

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

void CliContext::Fail(const absl::Status& status) {
  exit_code = ExitCodeFor(status);
  if (json()) {
    std::string msg(status.message().data(), status.message().size());
    std::string escaped;
    for (char c : msg) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      if (c == '\n') {
        escaped += "\\n";
        continue;
      }
      escaped.push_back(c);
    }
    std::cout << "{\"error\":{\"code\":\""
              << absl::StatusCodeToString(status.code()) << "\",\"message\":\""
              << escaped << "\"}}\n";
  } else {
    std::cerr << "strata: error: " << ToStd(status.message()) << "\n";
  }
}

void CliContext::Print(const google::protobuf::Message& message,
                       const std::string& text) {
  if (json()) {
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(message, &out, options);
    std::cout << out << "\n";
  } else {
    std::cout << text;
  }
}

std::string DefaultTokenPath() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::string base = xdg && *xdg ? xdg : StrCat(home ? home : ".", "/.config");
  return StrCat(base, "/strata/token");
}

std::string CliContext::ResolveToken() const {
  if (!token.empty()) return token;
  std::string path = token_file.empty() ? DefaultTokenPath() : token_file;
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

void BuildCli(CLI::App& app, CliContext& ctx) {
  app.description(
      "strata - publish artifacts and manage releases on a Strata server.\n\n"
      "Examples:\n"
      "  strata publish --app wallet --layer config --module payment.limits "
      "\\\n"
      "      --version 1 --file limits.json\n"
      "  strata release create --app wallet --layer config \\\n"
      "      --module payment.limits --version 1\n"
      "  strata release list --app wallet --output json\n"
      "  strata audit verify\n\n"
      "Authentication: every command but `health` needs a token: --token,\n"
      "STRATA_TOKEN, --token-file, or the file `strata login` writes.\n\n"
      "Exit codes: 0 ok; 1 other failure; 2 bad input; 3 not found;\n"
      "4 refused (conflict, permission, integrity); 5 server unavailable.");
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
  AddPublishCommand(app, ctx);
  AddReleaseCommand(app, ctx);
  AddHealthCommand(app, ctx);
  AddLoginCommand(app, ctx);
  AddTokenCommand(app, ctx);
  AddAuditCommand(app, ctx);
  AddBackupCommand(app, ctx);
  AddKeysCommand(app, ctx);
  AddTrustCommand(app, ctx);
  AddSegmentCommand(app, ctx);
}

}  // namespace strata::admin
