// strata token create|list|revoke
#include <charconv>
#include <iostream>
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

constexpr int64_t kNeverExpires = -1;

// "30d", "12h", "45m" or "never" as CreateTokenRequest.expires_in_seconds
// (-1 for never).
absl::StatusOr<int64_t> ParseLifetime(const std::string& text) {
  if (text == "never") return kNeverExpires;
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        StrCat("--expires '", text,
               "' is not a lifetime; give a number of days, hours or minutes "
               "(30d, 12h, 45m) or 'never'"));
  };
  if (text.size() < 2) return bad();
  int64_t unit = 0;
  switch (text.back()) {
    case 'd':
      unit = 86400;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'm':
      unit = 60;
      break;
    default:
      return bad();
  }
  int64_t n = 0;
  const char* end = text.data() + text.size() - 1;
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  // The bound keeps n * unit far from overflow; the server refuses more
  // than 10 years anyway.
  if (ec != std::errc() || ptr != end || n <= 0 || n > 1'000'000'000)
    return bad();
  return n * unit;
}

v1::Role RoleFromName(const std::string& role) {
  return role == "viewer"            ? v1::ROLE_VIEWER
         : role == "publisher"       ? v1::ROLE_PUBLISHER
         : role == "release_manager" ? v1::ROLE_RELEASE_MANAGER
                                     : v1::ROLE_ADMIN;
}

std::string RoleText(v1::Role role) {
  switch (role) {
    case v1::ROLE_VIEWER:
      return "viewer";
    case v1::ROLE_PUBLISHER:
      return "publisher";
    case v1::ROLE_RELEASE_MANAGER:
      return "release_manager";
    case v1::ROLE_ADMIN:
      return "admin";
    default:
      return "none";
  }
}

std::string ExpiryText(int64_t expires_at_unix) {
  return expires_at_unix == 0
             ? "never"
             : TimeText(absl::FromUnixSeconds(expires_at_unix));
}

// "active", "expired" or "revoked" (by this machine's clock).
std::string TokenState(const v1::TokenInfo& t, absl::Time now) {
  if (t.revoked_at_unix() != 0) return "revoked";
  if (t.expires_at_unix() != 0 &&
      absl::ToUnixSeconds(now) >= t.expires_at_unix())
    return "expired";
  return "active";
}

Json TokenJson(const v1::TokenInfo& t, absl::Time now) {
  Json j = Json::MakeObject();
  j["name"] = t.name();
  j["id"] = t.id();
  j["role"] = RoleText(t.role());
  j["app_id"] = t.app_id();
  j["created_at_unix"] = t.created_at_unix();
  j["expires_at_unix"] = t.expires_at_unix();
  j["revoked_at_unix"] = t.revoked_at_unix();
  j["revoked_by"] = t.revoked_by();
  j["state"] = TokenState(t, now);
  return j;
}

struct TokenCreateFlags {
  std::string name, role, app = "*", expires;
};

void AddCreate(CLI::App* token, CliContext& ctx) {
  auto f = std::make_shared<TokenCreateFlags>();
  CLI::App* create = token->add_subcommand(
      "create",
      "Create a token; the secret is printed once, alone on stdout.\n"
      "Tokens expire after 90 days unless --expires says otherwise; names\n"
      "are unique among active tokens.\n\n"
      "Example (a CI pipeline that may publish for wallet only, for 30 days):\n"
      "  strata token create ci-wallet --role publisher --app wallet "
      "--expires 30d");
  create->add_option("name,--name", f->name, "who or what holds it")
      ->required();
  create
      ->add_option("--role", f->role,
                   "viewer, publisher, release_manager or admin")
      ->required()
      ->check(
          CLI::IsMember({"viewer", "publisher", "release_manager", "admin"}));
  create->add_option("--app", f->app, "the app it is good for; * for all")
      ->capture_default_str();
  create->add_option("--expires", f->expires,
                     "lifetime: 30d, 12h, 45m or never (default: the "
                     "server's, 90 days)");
  create->callback([f, &ctx] {
    v1::CreateTokenRequest req;
    req.set_name(f->name);
    req.set_app_id(f->app);
    req.set_role(RoleFromName(f->role));
    if (!f->expires.empty()) {
      absl::StatusOr<int64_t> lifetime = ParseLifetime(f->expires);
      if (!lifetime.ok()) {
        ctx.Fail(lifetime.status());
        return;
      }
      req.set_expires_in_seconds(*lifetime);
    }
    auto result = ctx.Client().CreateToken(req);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    if (!ctx.json()) {
      // stdout holds the secret alone, for $(strata token create ...).
      std::cerr << "strata: token '" << result->name() << "' ("
                << RoleText(result->role()) << " for app " << result->app_id()
                << ") "
                << (result->expires_at_unix() == 0
                        ? std::string("never expires")
                        : StrCat("expires at ",
                                 ExpiryText(result->expires_at_unix()), " UTC"))
                << "; keep the secret now, it is not shown again\n";
    }
    ctx.Print(*result, StrCat(result->token(), "\n"));
  });
}

void AddList(CLI::App* token, CliContext& ctx) {
  auto all = std::make_shared<bool>(false);
  CLI::App* list = token->add_subcommand(
      "list",
      "List tokens: name, id, role, app, created, expires and state; never a\n"
      "secret. Active tokens only unless --all.\n\n"
      "Example:\n  strata token list --all");
  list->add_flag("--all", *all, "also expired and revoked tokens");
  list->callback([all, &ctx] {
    auto result = ctx.Client().ListTokens(*all);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    const absl::Time now = absl::Now();
    Table table({"NAME", "ID", "ROLE", "APP", "CREATED (UTC)", "EXPIRES (UTC)",
                 "STATE"});
    Json out = Json::MakeObject();
    out["tokens"] = Json::MakeArray();
    for (const v1::TokenInfo& t : result->tokens()) {
      std::string state = TokenState(t, now);
      if (t.revoked_at_unix() != 0) state += StrCat(" by ", t.revoked_by());
      table.AddRow({t.name(), t.id(), RoleText(t.role()), t.app_id(),
                    TimeText(absl::FromUnixSeconds(t.created_at_unix())),
                    ExpiryText(t.expires_at_unix()), state});
      out["tokens"].Append(TokenJson(t, now));
    }
    ctx.Print(out, table.Render());
  });
}

void AddRevoke(CLI::App* token, CliContext& ctx) {
  auto which = std::make_shared<std::string>();
  CLI::App* revoke = token->add_subcommand(
      "revoke",
      "Refuse a token from now on (audited as token.revoke). Name an active\n"
      "token or give its id from `strata token list --all`; a name or id\n"
      "that matches several tokens is refused with their ids. The last\n"
      "active admin token for every app cannot be revoked: create another\n"
      "first.\n\n"
      "Example:\n  strata token revoke ci-wallet");
  revoke->add_option("name_or_id", *which, "the token's name or id")
      ->required();
  revoke->callback([which, &ctx] {
    auto result = ctx.Client().RevokeToken(*which);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    const v1::TokenInfo& t = result->token();
    if (!ctx.json() &&
        Sha256::HexHash(ctx.ResolveToken()).substr(0, t.id().size()) ==
            t.id()) {
      std::cerr << "strata: warning: that was the token this command used; "
                   "commands with it are refused from now on\n";
    }
    ctx.Print(*result,
              StrCat("revoked token '", t.name(), "' (id ", t.id(), ", ",
                     RoleText(t.role()), " for app ", t.app_id(), ")\n"));
  });
}

}  // namespace

void AddTokenCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* token = app.add_subcommand(
      "token",
      "Manage access tokens (admin).\n\n"
      "Example:\n  strata token create ci-wallet --role publisher --app "
      "wallet --expires 30d\n  strata token list\n  strata token revoke "
      "ci-wallet");
  token->require_subcommand(1);
  AddCreate(token, ctx);
  AddList(token, ctx);
  AddRevoke(token, ctx);
}

}  // namespace strata::admin
