// strata fleet --app APP
#include "fleet_command.h"

#include <cstdio>
#include <memory>

#include "layer_flag.h"
#include "strata/admin_cli/render.h"
#include "strata/base/strings.h"

namespace strata::admin {

std::string RenderFleet(const std::string& app_id,
                        const v1::GetFleetResponse& fleet) {
  if (fleet.modules().empty()) {
    return StrCat("no device of ", app_id,
                  " has checked in since the server started\n");
  }
  std::string out =
      StrCat("Fleet of ", app_id, ": ", FormatCount(fleet.devices()),
             " devices seen since the server started\n\n");
  Table table({"MODULE", "VERSION", "DEVICES", "SHARE", "RELEASE", "LAUNCHES",
               "CRASHES", "ROLLED BACK"},
              {false, false, true, true, true, true, true, true});
  for (const v1::FleetModule& m : fleet.modules()) {
    bool first = true;
    for (const v1::FleetVersion& v : m.versions()) {
      const bool from_release = v.release_id() != 0;
      const double share = m.devices() == 0
                               ? 0
                               : 100.0 * static_cast<double>(v.devices()) /
                                     static_cast<double>(m.devices());
      char pct[32];
      std::snprintf(pct, sizeof(pct), "%.1f%%", share);
      table.AddRow({first ? StrCat(LayerFlagName(m.module().layer()), "/",
                                   m.module().name())
                          : std::string(),
                    v.release_sequence() == 0
                        ? v.version()
                        : StrCat(v.version(), " (#", v.release_sequence(), ")"),
                    FormatCount(v.devices()), pct,
                    from_release ? std::to_string(v.release_id()) : "-",
                    from_release
                        ? FormatCount(v.launches_ok() + v.launch_crashes())
                        : "-",
                    from_release ? FormatCount(v.launch_crashes()) : "-",
                    from_release ? FormatCount(v.rolled_back()) : "-"});
      first = false;
    }
  }
  out += table.Render();
  out +=
      "\nVersions as the devices' last checks report them; launches, crashes "
      "and roll backs are those the release's devices reported.\n";
  return out;
}

void AddFleetCommand(CLI::App& app, CliContext& ctx) {
  auto app_id = std::make_shared<std::string>();
  CLI::App* fleet = app.add_subcommand(
      "fleet",
      "What the fleet runs: per module, each version devices report at\n"
      "their checks, on how many devices, and the launches, crashes and roll\n"
      "backs the release that installed it got. Covers the devices that\n"
      "checked in since the server started.\n\n"
      "Example:\n  strata fleet --app wallet\n"
      "  strata fleet --app wallet --output json | jq '.modules[]'");
  AddAppOption(fleet, *app_id, ctx);
  fleet->callback([app_id, &ctx] {
    auto result = ctx.Client().GetFleet(*app_id);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    ctx.Print(*result, RenderFleet(*app_id, *result));
  });
}

}  // namespace strata::admin
