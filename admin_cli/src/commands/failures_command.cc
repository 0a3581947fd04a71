// strata failures list --app APP [--release ID] [--limit N]
// strata failures show SIGNATURE --app APP
#include "failures_command.h"

#include <memory>

#include "layer_flag.h"
#include "strata/admin_cli/render.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

std::string KindText(v1::FailureSignature::Kind kind) {
  switch (kind) {
    case v1::FailureSignature::KIND_CRASH:
      return "crash";
    case v1::FailureSignature::KIND_APPLY_FAILURE:
      return "apply_failure";
    case v1::FailureSignature::KIND_LOAD_FAILURE:
      return "load_failure";
    case v1::FailureSignature::KIND_HANG:
      return "hang";
    case v1::FailureSignature::KIND_OTHER:
      return "other";
    default:
      return "?";
  }
}

std::string ModuleText(const v1::ModuleId& m) {
  if (m.name().empty()) return "-";
  return StrCat(LayerFlagName(m.layer()), "/", m.name());
}

// What the failure was: the exception type, else the first frame, else
// the host's hash.
std::string WhatText(const v1::FailureSignature& s) {
  std::string what = s.exception_type();
  if (what.empty() && !s.top_frames().empty()) what = s.top_frames(0);
  if (what.empty()) what = StrCat("host hash ", s.host_hash());
  if (what.size() > 48) what = what.substr(0, 45) + "...";
  return what;
}

std::string Seen(int64_t unix) { return TimeText(absl::FromUnixSeconds(unix)); }

}  // namespace

std::string RenderFailureList(const std::string& app_id,
                              const v1::ListFailuresResponse& list) {
  std::string out;
  if (list.failures().empty()) {
    out +=
        StrCat("no failure of ", app_id, " reported (",
               FormatCount(list.reports_scanned()), " stored reports read)\n");
  } else {
    Table table({"SIGNATURE", "KIND", "WHAT", "MODULE", "COUNT", "DEVICES",
                 "FIRST SEEN (UTC)", "LAST SEEN (UTC)", "TOP OS VERSION"},
                {false, false, false, false, true, true, false, false, false});
    for (const v1::FailureInfo& f : list.failures()) {
      std::string top_os = "-";
      for (const v1::AttributeCount& a : f.top_attributes()) {
        if (a.name() == "os_version") {
          top_os = StrCat(a.value(), " (", FormatCount(a.devices()), ")");
          break;
        }
      }
      table.AddRow(
          {f.signature().signature_id(), KindText(f.signature().kind()),
           WhatText(f.signature()), ModuleText(f.signature().module()),
           FormatCount(f.count()),
           StrCat(FormatCount(f.devices()), f.devices_capped() ? "+" : ""),
           Seen(f.first_seen_unix()), Seen(f.last_seen_unix()), top_os});
    }
    out += StrCat("Failures of ", app_id, " by signature (",
                  FormatCount(list.reports_scanned()),
                  " stored reports read)\n\n");
    out += table.Render();
  }
  if (!list.remedies().empty()) {
    Table table({"REMEDY", "ACTION", "MODULE", "DEVICES", "FIRST APPLIED (UTC)",
                 "LAST APPLIED (UTC)"},
                {false, false, false, true, false, false});
    for (const v1::RemedyCount& r : list.remedies()) {
      table.AddRow({r.remedy_id(), r.action(), ModuleText(r.module()),
                    FormatCount(r.devices()), Seen(r.first_applied_unix()),
                    Seen(r.last_applied_unix())});
    }
    out += "\nRemedies applied on devices\n\n";
    out += table.Render();
  }
  return out;
}

std::string RenderFailure(const std::string& app_id, const v1::FailureInfo& f) {
  const v1::FailureSignature& s = f.signature();
  std::string out = StrCat("Failure ", s.signature_id(), " of ", app_id, "\n");
  out += StrCat("  kind:        ", KindText(s.kind()), "\n");
  if (!s.exception_type().empty()) {
    out += StrCat("  exception:   ", s.exception_type(), "\n");
  }
  for (int i = 0; i < s.top_frames_size(); ++i) {
    out += StrCat(i == 0 ? "  frames:      " : "               ",
                  s.top_frames(i), "\n");
  }
  if (!s.host_hash().empty()) {
    out += StrCat("  host hash:   ", s.host_hash(), "\n");
  }
  out += StrCat("  module:      ", ModuleText(s.module()), "\n");
  out += StrCat("  count:       ", FormatCount(f.count()), " reports from ",
                FormatCount(f.devices()), f.devices_capped() ? "+" : "",
                " devices\n");
  out += StrCat("  first seen:  ", Seen(f.first_seen_unix()), " UTC\n");
  out += StrCat("  last seen:   ", Seen(f.last_seen_unix()), " UTC\n");
  out += StrCat("  remedied on: ", FormatCount(f.remedied_devices()),
                " devices\n");
  if (!f.versions().empty()) {
    out += "\nModule versions\n";
    Table t({"VERSION", "COUNT"}, {false, true});
    for (const v1::FailureVersionCount& v : f.versions()) {
      t.AddRow({v.version(), FormatCount(v.count())});
    }
    out += t.Render();
  }
  if (!f.releases().empty()) {
    out += "\nPer release\n";
    Table t({"RELEASE", "COUNT", "DEVICES"}, {true, true, true});
    for (const v1::FailureReleaseCount& r : f.releases()) {
      t.AddRow({r.release_id() == 0 ? "-" : std::to_string(r.release_id()),
                FormatCount(r.count()), FormatCount(r.devices())});
    }
    out += t.Render();
  }
  if (!f.top_attributes().empty()) {
    out += "\nTop device attributes (devices)\n";
    Table t({"ATTRIBUTE", "VALUE", "DEVICES"}, {false, false, true});
    for (const v1::AttributeCount& a : f.top_attributes()) {
      t.AddRow({a.name(), a.value(), FormatCount(a.devices())});
    }
    out += t.Render();
  }
  if (!f.windows().empty()) {
    out += "\nPer hour (UTC; rate: reports per launch reported that hour)\n";
    Table t({"HOUR", "COUNT", "DEVICES", "LAUNCHES", "RATE"},
            {false, true, true, true, true});
    for (const v1::FailureWindow& w : f.windows()) {
      t.AddRow({Seen(w.hour_unix()), FormatCount(w.count()),
                FormatCount(w.devices()), FormatCount(w.launches()),
                w.launches() == 0
                    ? "-"
                    : FormatRate(static_cast<double>(w.count()) /
                                 static_cast<double>(w.launches()))});
    }
    out += t.Render();
  }
  return out;
}

void AddFailuresCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* failures = app.add_subcommand(
      "failures",
      "Client failures by signature: devices report crashes and failures\n"
      "with a compact signature (exception type, top frames or a host hash,\n"
      "the module and version active); stratad aggregates the stored\n"
      "reports by signature: counts, distinct devices, first and last seen,\n"
      "per release and per hour, the top device attributes, and the\n"
      "remedies devices applied (docs/remedies.md).\n\n"
      "Example:\n"
      "  strata failures list --app wallet\n"
      "  strata failures show 3f09c2a1b4d5e6f7 --app wallet");
  failures->require_subcommand(1);

  struct ListFlags {
    std::string app;
    uint64_t release = 0;
    uint32_t limit = 0;
  };
  auto lf = std::make_shared<ListFlags>();
  CLI::App* list = failures->add_subcommand(
      "list",
      "Failure signatures, most reported first, and the remedies applied.\n\n"
      "Example:\n  strata failures list --app wallet --release 7\n"
      "  strata failures list --app wallet --output json");
  AddAppOption(list, lf->app, ctx);
  list->add_option("--release", lf->release,
                   "only failures attributed to this release id");
  list->add_option("--limit", lf->limit,
                   "at most this many signatures (default 100, at most 1000)");
  list->callback([lf, &ctx] {
    v1::ListFailuresRequest req;
    req.set_app_id(lf->app);
    req.set_release_id(lf->release);
    req.set_limit(lf->limit);
    auto result = ctx.Client().ListFailures(req);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    ctx.Print(*result, RenderFailureList(lf->app, *result));
  });

  struct ShowFlags {
    std::string app;
    std::string signature;
  };
  auto sf = std::make_shared<ShowFlags>();
  CLI::App* show = failures->add_subcommand(
      "show",
      "One signature: its fields, counts, versions, releases, top device\n"
      "attributes and hourly counts.\n\n"
      "Example:\n  strata failures show 3f09c2a1b4d5e6f7 --app wallet");
  AddAppOption(show, sf->app, ctx);
  show->add_option("signature", sf->signature,
                   "the signature id (see `strata failures list`)")
      ->required();
  show->callback([sf, &ctx] {
    v1::GetFailureRequest req;
    req.set_app_id(sf->app);
    req.set_signature_id(sf->signature);
    auto result = ctx.Client().GetFailure(req);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    ctx.Print(*result, RenderFailure(sf->app, *result));
  });
}

}  // namespace strata::admin
