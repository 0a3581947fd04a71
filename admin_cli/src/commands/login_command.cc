// strata login: keep a token for later commands. The token comes from
// stdin or a file, never from the command line (where `ps` and the shell
// history would show it).
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct LoginFlags {
  std::string with_token;  // "" or "-": stdin; anything else is refused
  bool with_token_given = false;
  std::string with_token_file;
};

// A token as read: surrounding blanks and the line end dropped; one word.
absl::StatusOr<std::string> CleanToken(std::string text,
                                       const std::string& from) {
  auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  };
  while (!text.empty() && blank(text.back())) text.pop_back();
  size_t start = 0;
  while (start < text.size() && blank(text[start])) ++start;
  text.erase(0, start);
  if (text.empty()) {
    return absl::InvalidArgumentError(
        StrCat("no token in ", from,
               "; pipe one in (`strata login < FILE`) or name the file "
               "(`strata login --with-token-file FILE`)"));
  }
  for (char c : text) {
    if (blank(c)) {
      return absl::InvalidArgumentError(
          StrCat(from,
                 " holds more than one word; it must hold just the token "
                 "(e.g. stk_ and 64 hex digits, as `stratad init` or "
                 "`strata token create` printed it)"));
    }
  }
  return text;
}

// Reads the token from stdin; at a terminal, asks without echoing it.
absl::StatusOr<std::string> ReadStdinToken() {
  if (::isatty(STDIN_FILENO)) {
    std::cerr << "token (input hidden): " << std::flush;
    termios old_mode{};
    const bool can_hide = ::tcgetattr(STDIN_FILENO, &old_mode) == 0;
    if (can_hide) {
      termios hidden = old_mode;
      hidden.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSANOW, &hidden);
    }
    std::string line;
    std::getline(std::cin, line);
    if (can_hide) ::tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
    std::cerr << "\n";
    return CleanToken(line, "the input");
  }
  std::string all((std::istreambuf_iterator<char>(std::cin)),
                  std::istreambuf_iterator<char>());
  return CleanToken(all, "stdin");
}

absl::StatusOr<std::string> ReadToken(const LoginFlags& f) {
  if (f.with_token_given && !f.with_token.empty() && f.with_token != "-") {
    // Not echoed: it may be a real token.
    return absl::InvalidArgumentError(
        "--with-token does not take the token on the command line (`ps` and "
        "the shell history would show it); give it on stdin "
        "(`strata login --with-token < FILE`) or as a file "
        "(`strata login --with-token-file FILE`)");
  }
  if (!f.with_token_file.empty()) {
    if (f.with_token_given) {
      return absl::InvalidArgumentError(
          "--with-token (stdin) and --with-token-file: give one");
    }
    absl::StatusOr<std::string> text =
        PosixFileSystem()->ReadFile(f.with_token_file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(StrCat("cannot read --with-token-file ",
                                               f.with_token_file, ": ",
                                               ToStd(text.status().message())));
    }
    return CleanToken(*std::move(text),
                      StrCat("--with-token-file ", f.with_token_file));
  }
  return ReadStdinToken();
}

}  // namespace

void AddLoginCommand(CLI::App& app, CliContext& ctx) {
  auto f = std::make_shared<LoginFlags>();
  CLI::App* cmd = app.add_subcommand(
      "login",
      "Check a token against the server and keep it (mode 0600) for later\n"
      "commands: in --token-file, else the config's token_file (`strata\n"
      "init`), else $XDG_CONFIG_HOME/strata/token or ~/.config/strata/token.\n"
      "The token is read from stdin (at a terminal: asked for, not echoed)\n"
      "or from --with-token-file, never from the command line.\n"
      "STRATA_TOKEN or --token, when set, win over the kept token.\n\n"
      "Examples:\n"
      "  strata login --with-token-file /var/lib/strata/admin.token\n"
      "  strata login < /var/lib/strata/admin.token\n"
      "  vault read -field=token secret/strata | strata login --with-token");
  CLI::Option* with_token =
      cmd->add_option("--with-token", f->with_token,
                      "read the token from stdin (the default; for scripts "
                      "written for `gh auth login --with-token`)")
          ->expected(0, 1);
  cmd->add_option("--with-token-file", f->with_token_file,
                  "read the token from this file");
  cmd->callback([f, with_token, &ctx] {
    f->with_token_given = with_token->count() > 0;
    absl::StatusOr<std::string> token = ReadToken(*f);
    if (!token.ok()) {
      ctx.Fail(token.status());
      return;
    }
    // A cheap authenticated call proves the token before it is kept.
    auto check = ctx.ClientWithToken(*token).ListAudit(UINT64_MAX - 1);
    if (!check.ok() && !absl::IsPermissionDenied(check.status())) {
      ctx.Fail(check.status());
      return;
    }
    // Where later commands look: --token-file, the config's token_file, or
    // the default path.
    const std::string path = !ctx.token_file.empty() ? ctx.token_file
                             : !ctx.config.token_file.empty()
                                 ? ctx.config.token_file
                                 : DefaultTokenPath();
    FileSystem& fs = *PosixFileSystem();
    absl::Status s = CreateDirs(fs, Dirname(path));
    if (s.ok()) s = WriteFileAtomically(fs, path, *token + "\n");
    if (s.ok()) s = fs.SetPermissions(path, 0600);
    if (!s.ok()) {
      ctx.Fail(s);
      return;
    }
    Json out = Json::MakeObject();
    out["token_file"] = path;
    ctx.Print(out, StrCat("logged in; token kept in ", path, "\n"));
  });
}

}  // namespace strata::admin
