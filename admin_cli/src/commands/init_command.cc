// strata init: write the config file later commands take their defaults
// from (server, app, token file).
#include <unistd.h>

#include <climits>
#include <iostream>
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/config.h"
#include "strata/base/file_util.h"
#include "strata/base/names.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct AppInitFlags {
  std::string app;
  bool force = false;
  bool no_verify = false;
};

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return JoinPath(cwd, path);
}

void RunAppInit(const AppInitFlags& f, CliContext& ctx) {
  FileSystem& fs = *PosixFileSystem();
  const std::string path = ctx.config_path;
  if (fs.Exists(path) && !f.force) {
    ctx.Fail(absl::AlreadyExistsError(
        StrCat(path, " exists; --force replaces it (or edit it: ",
               "`key = value` lines for server, app, token_file, ca_file, ",
               "server_cert, plaintext)")));
    return;
  }
  if (!f.app.empty()) {
    absl::Status s = ValidateName("--app", f.app);
    if (!s.ok()) {
      ctx.Fail(s);
      return;
    }
  }
  // Kept as it is dialled: "localhost" as localhost:7443; an http:// URL
  // is refused here rather than written.
  absl::StatusOr<std::string> target = ctx.Target();
  if (!target.ok()) {
    ctx.Fail(target.status());
    return;
  }
  CliConfig config;
  config.server = *target;
  // What is not given stays as the existing config had it (--server
  // already defaults to it).
  config.app = f.app.empty() ? ctx.config.app : f.app;
  config.token_file =
      ctx.token_file.empty() ? ctx.config.token_file : Absolute(ctx.token_file);
  // TLS settings given now replace the old ones as a whole.
  if (ctx.plaintext || !ctx.ca_file.empty() || !ctx.server_cert.empty()) {
    config.plaintext = ctx.plaintext;
    config.ca_file = Absolute(ctx.ca_file);
    config.server_cert = Absolute(ctx.server_cert);
  } else {
    config.plaintext = ctx.config.plaintext;
    config.ca_file = ctx.config.ca_file;
    config.server_cert = ctx.config.server_cert;
  }
  std::string note;
  if (!f.no_verify) {
    // Prove the settings before keeping them: the server answers and, when
    // a token is at hand, accepts it.
    CliContext probe = ctx;
    probe.config = config;
    probe.server = config.server;
    const std::string token = probe.ResolveToken();
    AdminClient client = probe.Client();
    absl::Status s = client.WaitUntilServing(absl::Seconds(3));
    if (s.ok() && !token.empty()) {
      auto check = client.ListAudit(UINT64_MAX - 1);
      if (!check.ok() && !absl::IsPermissionDenied(check.status()))
        s = check.status();
    }
    if (!s.ok()) {
      ctx.Fail(Annotate(s, StrCat("not written: ", config.server,
                                  " (--no-verify writes the config anyway)")));
      return;
    }
    if (token.empty()) {
      note =
          "no token found yet: keep one with `strata login "
          "--with-token-file FILE`, or set STRATA_TOKEN\n";
    }
  }
  absl::Status s = CreateDirs(fs, Dirname(path));
  if (s.ok()) s = WriteFileAtomically(fs, path, FormatConfig(config));
  if (!s.ok()) {
    ctx.Fail(s);
    return;
  }
  Json out = Json::MakeObject();
  out["config_file"] = path;
  out["server"] = config.server;
  out["app"] = config.app;
  out["token_file"] = config.token_file;
  out["ca_file"] = config.ca_file;
  out["server_cert"] = config.server_cert;
  out["plaintext"] = config.plaintext;
  const std::string transport =
      config.plaintext ? ", plaintext (loopback only)"
      : !config.server_cert.empty()
          ? StrCat(", TLS pinned to ", config.server_cert)
      : !config.ca_file.empty() ? StrCat(", TLS with CA ", config.ca_file)
                                : ", TLS with the system's CAs";
  ctx.Print(out, StrCat("wrote ", path, ": server ", config.server,
                        config.app.empty() ? "" : ", app ", config.app,
                        config.token_file.empty() ? "" : ", token file ",
                        config.token_file, transport, "\n", note));
}

}  // namespace

void AddInitCommand(CLI::App& app, CliContext& ctx) {
  auto f = std::make_shared<AppInitFlags>();
  CLI::App* cmd = app.add_subcommand(
      "init",
      "Write the config file (--config, STRATA_CONFIG, or\n"
      "~/.config/strata/config) with the server address, the app, the\n"
      "token file and the TLS settings (--ca-file, --server-cert or\n"
      "--plaintext), so later commands need none of these flags. Checks that\n"
      "the server answers and takes the token first (--no-verify skips\n"
      "that). Never overwrites an existing config without --force; with\n"
      "--force, settings not given keep their old values.\n\n"
      "Example:\n"
      "  strata init --server stratad.example.com:7443 --app wallet \\\n"
      "      --token-file ~/.config/strata/wallet.token --ca-file ca.pem\n"
      "  strata release list          # --server, --app, token from config");
  cmd->add_option("--app", f->app, "the app later commands work on");
  cmd->add_flag("--force", f->force, "replace an existing config file");
  cmd->add_flag("--no-verify", f->no_verify,
                "write it without asking the server");
  cmd->callback([f, &ctx] { RunAppInit(*f, ctx); });
}

}  // namespace strata::admin
