// strata release create|list
#include <memory>

#include "layer_flag.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct ReleaseFlags {
  std::string app, layer, module, version;
  bool all_at_once = false;
};

std::string StateName(v1::ReleaseState state) {
  std::string name = v1::ReleaseState_Name(state);
  if (name.rfind("RELEASE_", 0) == 0) name = name.substr(8);
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

void RunCreate(const ReleaseFlags& f, CliContext& ctx) {
  v1::CreateReleaseRequest req;
  req.set_app_id(f.app);
  req.mutable_module()->set_layer(LayerNames().at(f.layer));
  req.mutable_module()->set_name(f.module);
  req.set_version(f.version);
  req.set_all_at_once(f.all_at_once);
  auto release = ctx.Client().CreateRelease(req);
  if (!release.ok()) {
    ctx.Fail(release.status());
    return;
  }
  ctx.Print(*release, StrCat("release ", release->release_id(), ": ", f.layer,
                             "/", f.module, " ", f.version, " (sequence ",
                             release->release_sequence(), ", ",
                             StateName(release->state()), ")\n"));
}

void RunList(const std::string& app, CliContext& ctx) {
  auto releases = ctx.Client().ListReleases(app);
  if (!releases.ok()) {
    ctx.Fail(releases.status());
    return;
  }
  v1::ListReleasesResponse all;
  std::string text =
      "ID    MODULE                         VERSION   SEQ  STATE\n";
  for (const auto& r : *releases) {
    *all.add_releases() = r;
    char line[256];
    std::string module =
        StrCat(LayerFlagName(r.module().layer()), "/", r.module().name());
    std::snprintf(line, sizeof(line), "%-5llu %-30s %-9s %-4llu %s\n",
                  static_cast<unsigned long long>(r.release_id()),
                  module.c_str(), r.version().c_str(),
                  static_cast<unsigned long long>(r.release_sequence()),
                  StateName(r.state()).c_str());
    text += line;
  }
  ctx.Print(all, text);
}

}  // namespace

void AddReleaseCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* release =
      app.add_subcommand("release", "Create and inspect releases.");
  release->require_subcommand(1);

  auto flags = std::make_shared<ReleaseFlags>();
  CLI::App* create = release->add_subcommand(
      "create",
      "Make a published version live for the app's devices.\n\n"
      "Example:\n"
      "  strata release create --app wallet --layer config \\\n"
      "      --module payment.limits --version 3");
  create->add_option("--app", flags->app, "app id")->required();
  create
      ->add_option("--layer", flags->layer,
                   "config, h5, hcf, hotpatch or native")
      ->required()
      ->check(CLI::IsMember({"config", "h5", "hcf", "hotpatch", "native"}));
  create->add_option("--module", flags->module, "module name")->required();
  create->add_option("--version", flags->version, "a published version")
      ->required();
  create->add_flag("--all-at-once", flags->all_at_once,
                   "every device of the segment at once, without stages or "
                   "health gates");
  create->callback([flags, &ctx] { RunCreate(*flags, ctx); });

  auto app_id = std::make_shared<std::string>();
  CLI::App* list =
      release->add_subcommand("list",
                              "List an app's releases.\n\nExample:\n  strata "
                              "release list --app wallet");
  list->add_option("--app", *app_id, "app id")->required();
  list->callback([app_id, &ctx] { RunList(*app_id, ctx); });
}

}  // namespace strata::admin
