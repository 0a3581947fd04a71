// strata token create
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/strings.h"

namespace strata::admin {

void AddTokenCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* token =
      app.add_subcommand("token",
                         "Manage access tokens (admin).\n\n"
                         "Example:\n  strata token create --name ci-wallet "
                         "--role publisher --app wallet");
  token->require_subcommand(1);
  struct Flags {
    std::string name, role, app = "*";
  };
  auto f = std::make_shared<Flags>();
  CLI::App* create = token->add_subcommand(
      "create",
      "Create a token; the secret is printed once.\n\n"
      "Example (a CI pipeline that may publish for wallet only):\n"
      "  strata token create --name ci-wallet --role publisher --app wallet");
  create->add_option("--name", f->name, "who or what holds it")->required();
  create
      ->add_option("--role", f->role,
                   "viewer, publisher, release_manager or admin")
      ->required()
      ->check(
          CLI::IsMember({"viewer", "publisher", "release_manager", "admin"}));
  create->add_option("--app", f->app, "the app it is good for; * for all")
      ->capture_default_str();
  create->callback([f, &ctx] {
    v1::CreateTokenRequest req;
    req.set_name(f->name);
    req.set_app_id(f->app);
    req.set_role(f->role == "viewer"            ? v1::ROLE_VIEWER
                 : f->role == "publisher"       ? v1::ROLE_PUBLISHER
                 : f->role == "release_manager" ? v1::ROLE_RELEASE_MANAGER
                                                : v1::ROLE_ADMIN);
    auto result = ctx.Client().CreateToken(req);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    ctx.Print(*result, StrCat(result->token(), "\n"));
  });
}

}  // namespace strata::admin
