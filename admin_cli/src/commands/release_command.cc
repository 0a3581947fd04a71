// strata release create|list|status|start|pause|resume|promote|halt|
//                rollback|preview|explain
#include <unistd.h>

#include <iostream>
#include <memory>

#include "../app_trust.h"
#include "failures_command.h"
#include "fleet_command.h"
#include "layer_flag.h"
#include "release_rollback.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/release_flags.h"
#include "strata/admin_cli/release_watch.h"
#include "strata/admin_cli/render.h"
#include "strata/base/env.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct WaitFlags {
  bool wait = false;
  std::string poll_interval = "2s";
  std::string timeout = "0";
};

struct CreateFlags {
  std::string app, layer, module, version, segment, salt, plan;
  std::vector<std::string> artifacts, gates;
  bool all_at_once = false;
  bool draft = false;
  bool allow_overlap = false;
  bool dry_run = false;
  std::string message, source_commit, source_branch;
  bool no_source = false;
  WaitFlags wait;
};

// "abc123@main" / "abc123" / "" for the text output.
std::string SourceLine(const v1::Release& r) {
  if (r.source_commit().empty()) return r.source_branch();
  std::string commit = r.source_commit().substr(0, 12);
  return r.source_branch().empty() ? commit
                                   : StrCat(commit, "@", r.source_branch());
}

void AddWaitFlags(CLI::App* cmd, WaitFlags& f) {
  cmd->add_flag("--wait", f.wait,
                "follow the rollout, printing each change of state or stage; "
                "exit 0 when it completes, 6 when it is halted or rolled "
                "back, 7 after --timeout");
  cmd->add_option("--poll-interval", f.poll_interval,
                  "with --wait: how often to ask the server (30s, 1m)")
      ->capture_default_str();
  cmd->add_option("--timeout", f.timeout,
                  "with --wait: give up after this long (2h; 0 = never)")
      ->capture_default_str();
}

absl::StatusOr<WatchOptions> ParseWait(const WaitFlags& f) {
  WatchOptions options;
  absl::StatusOr<absl::Duration> poll = ParseDuration(f.poll_interval);
  if (!poll.ok() || *poll <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        StrCat("--poll-interval '", f.poll_interval,
               "' must be a positive duration such as 2s or 1m"));
  }
  absl::StatusOr<absl::Duration> timeout = ParseDuration(f.timeout);
  if (!timeout.ok()) {
    return absl::InvalidArgumentError(StrCat(
        "--timeout: ", ToStd(timeout.status().message()), " (0 = never)"));
  }
  options.poll_interval = *poll;
  options.timeout = *timeout;
  return options;
}

// A compact JSON line per change seen by --wait.
Json TransitionJson(const v1::ReleaseStatus& s, absl::Time at) {
  const v1::Release& r = s.release();
  Json t = Json::MakeObject();
  t["at_unix"] = absl::ToUnixSeconds(at);
  t["release_id"] = r.release_id();
  t["state"] = v1::ReleaseState_Name(r.state());
  t["stage"] = r.stage();
  t["stages"] = r.stages_size();
  t["exposure_bp"] = s.exposure_bp();
  t["devices"] = s.adoption().empty() ? s.treatment().activated()
                                      : s.adoption().rbegin()->devices();
  t["reason"] = r.state_reason();
  t["gate_action"] = s.gate_action();
  t["gate_rule"] = s.gate_rule();
  Json out = Json::MakeObject();
  out["transition"] = std::move(t);
  return out;
}

// Follows a release until it completes, halts or times out (--wait).
void Follow(CliContext& ctx, const std::string& app, uint64_t release_id,
            const WatchOptions& options) {
  AdminClient client = ctx.Client();
  bool retrying = false;
  WatchResult result = WatchRelease(
      [&] {
        auto s = client.GetReleaseStatus(app, release_id);
        if (s.ok()) retrying = false;
        return s;
      },
      *SystemClock(), options,
      [&](const v1::ReleaseStatus& s) {
        const absl::Time now = absl::Now();
        if (ctx.json()) {
          std::cout << TransitionJson(s, now).Dump() << "\n" << std::flush;
        } else {
          std::cout << TransitionLine(s, now) << "\n" << std::flush;
        }
      },
      [&](const absl::Status& error) {
        if (!retrying) {
          std::cerr << "strata: server unavailable, still trying: "
                    << ToStd(error.message()) << "\n";
        }
        retrying = true;
      });
  if (result.exit_code == kExitOk) {
    const v1::Release& r = result.last.release();
    Json done = Json::MakeObject();
    done["release_id"] = r.release_id();
    done["state"] = v1::ReleaseState_Name(r.state());
    Json out = Json::MakeObject();
    out["result"] = std::move(done);
    ctx.Print(out, StrCat("release ", r.release_id(), " completed\n"));
    return;
  }
  ctx.Fail(result.error);
  ctx.exit_code = result.exit_code;
}

void PrintPreview(const v1::PreviewReleaseResponse& p, CliContext& ctx);

void RunCreate(const CreateFlags& f, CliContext& ctx) {
  v1::CreateReleaseRequest req;
  req.set_app_id(f.app);
  const bool single =
      !f.layer.empty() || !f.module.empty() || !f.version.empty();
  if (single && !f.artifacts.empty()) {
    ctx.Fail(absl::InvalidArgumentError(
        "give either --layer/--module/--version (one artifact) or --artifact "
        "LAYER/MODULE@VERSION (repeatable), not both"));
    return;
  }
  if (single) {
    if (f.layer.empty() || f.module.empty() || f.version.empty()) {
      ctx.Fail(absl::InvalidArgumentError(
          "--layer, --module and --version go together; or use --artifact "
          "LAYER/MODULE@VERSION"));
      return;
    }
    absl::StatusOr<v1::ReleaseArtifact> a =
        ParseArtifact(StrCat(f.layer, "/", f.module, "@", f.version));
    if (!a.ok()) {
      ctx.Fail(a.status());
      return;
    }
    *req.mutable_module() = a->module();
    req.set_version(a->version());
  } else if (f.artifacts.empty()) {
    ctx.Fail(absl::InvalidArgumentError(
        "name what to release: --artifact LAYER/MODULE@VERSION (repeat it "
        "for modules that go together) or --layer/--module/--version"));
    return;
  } else {
    for (const std::string& text : f.artifacts) {
      absl::StatusOr<v1::ReleaseArtifact> a = ParseArtifact(text);
      if (!a.ok()) {
        ctx.Fail(a.status());
        return;
      }
      *req.add_artifacts() = *a;
    }
  }
  if (f.all_at_once && (!f.plan.empty() || !f.gates.empty())) {
    ctx.Fail(absl::InvalidArgumentError(
        "--all-at-once releases to every device of the segment without "
        "stages or gates; drop --plan/--gate, or drop --all-at-once"));
    return;
  }
  if (!f.plan.empty()) {
    absl::StatusOr<std::vector<v1::RolloutStage>> plan = ParsePlan(f.plan);
    if (!plan.ok()) {
      ctx.Fail(plan.status());
      return;
    }
    for (const auto& s : *plan) *req.add_stages() = s;
  }
  absl::StatusOr<v1::GatePolicy> gates = ParseGates(f.gates);
  if (!gates.ok()) {
    ctx.Fail(gates.status());
    return;
  }
  *req.mutable_gates() = *gates;
  req.set_segment(f.segment);
  req.set_salt(f.salt);
  req.set_all_at_once(f.all_at_once);
  req.set_draft(f.draft);
  req.set_allow_overlap(f.allow_overlap);
  req.set_message(f.message);
  if (!f.no_source) {
    // Flags win; otherwise CI's variables or git where the command runs.
    SourceInfo source;
    if (f.source_commit.empty() && f.source_branch.empty()) {
      source = DetectSource();
    }
    req.set_source_commit(f.source_commit.empty() ? source.commit
                                                  : f.source_commit);
    req.set_source_branch(f.source_branch.empty() ? source.branch
                                                  : f.source_branch);
  }
  WatchOptions watch;
  if (f.wait.wait) {
    if (f.draft) {
      ctx.Fail(absl::InvalidArgumentError(
          "--wait with --draft would wait forever: a draft does not roll "
          "out until `strata release start ID`; then follow it with "
          "`strata release status ID --wait`"));
      return;
    }
    absl::StatusOr<WatchOptions> w = ParseWait(f.wait);
    if (!w.ok()) {
      ctx.Fail(w.status());
      return;
    }
    watch = *w;
  }

  if (f.dry_run) {
    if (f.wait.wait) {
      ctx.Fail(absl::InvalidArgumentError(
          "--wait with --dry-run: a dry run creates nothing to follow; drop "
          "one of them"));
      return;
    }
    auto preview = ctx.Client().PreviewCreate(req);
    if (!preview.ok()) {
      ctx.Fail(preview.status());
      return;
    }
    PrintPreview(*preview, ctx);
    return;
  }
  auto release = ctx.Client().CreateRelease(req);
  if (!release.ok()) {
    ctx.Fail(release.status());
    return;
  }
  std::string text = StrCat(ReleaseLine(*release), "\n");
  for (const v1::ReleaseArtifact& a : ArtifactsOf(*release)) {
    text += StrCat("  ", FormatArtifact(a), " (sequence ", a.release_sequence(),
                   ")\n");
  }
  if (!release->stages().empty()) {
    text += StrCat(
        "  plan ",
        FormatPlan({release->stages().begin(), release->stages().end()}), "\n");
  }
  if (!release->message().empty())
    text += StrCat("  message: ", release->message(), "\n");
  if (!SourceLine(*release).empty())
    text += StrCat("  source: ", SourceLine(*release), "\n");
  if (!f.wait.wait) {
    text += StrCat(
        "follow it: strata release status ", release->release_id(),
        release->state() == v1::RELEASE_DRAFT
            ? StrCat("; start it: strata release start ", release->release_id())
            : std::string(),
        "\n");
  }
  ctx.Print(*release, text);
  std::cout << std::flush;
  if (f.wait.wait) Follow(ctx, f.app, release->release_id(), watch);
}

void RunReleaseList(const std::string& app, CliContext& ctx) {
  auto releases = ctx.Client().ListReleases(app);
  if (!releases.ok()) {
    ctx.Fail(releases.status());
    return;
  }
  v1::ListReleasesResponse all;
  for (const auto& r : *releases) *all.add_releases() = r;
  ctx.Print(all, releases->empty() ? StrCat("no releases for ", app, "\n")
                                   : RenderReleaseList(*releases));
}

struct IdFlags {
  std::string app;
  uint64_t id = 0;
  std::string reason;
  bool yes = false;
  std::vector<std::string> keys;  // rollback: publisher keys
  std::string rollback_to;        // rollback: "" or "embedded"
  WaitFlags wait;
};

// One line per module of a roll back plan: what goes back and why.
std::string PlanLines(
    const google::protobuf::RepeatedPtrField<v1::RollbackArtifact>& plan) {
  std::string out;
  for (const v1::RollbackArtifact& a : plan) {
    v1::ReleaseArtifact ra;
    *ra.mutable_module() = a.module();
    ra.set_version(a.version());
    out += StrCat("\n  ", FormatArtifact(ra));
    if (a.revert_to_embedded()) out += " (the version the app ships with)";
    if (!a.why().empty()) out += StrCat(": ", a.why());
  }
  return out;
}

void RunStatus(const IdFlags& f, CliContext& ctx) {
  if (f.wait.wait) {
    absl::StatusOr<WatchOptions> w = ParseWait(f.wait);
    if (!w.ok()) {
      ctx.Fail(w.status());
      return;
    }
    Follow(ctx, f.app, f.id, *w);
    return;
  }
  auto status = ctx.Client().GetReleaseStatus(f.app, f.id);
  if (!status.ok()) {
    ctx.Fail(status.status());
    return;
  }
  ctx.Print(*status, RenderReleaseStatus(*status, absl::Now()));
}

std::string RenderDistribution(const v1::ReleaseDistribution& d) {
  std::string out =
      StrCat("Release ", d.release_id(), " per device (",
             FormatCount(d.reports_scanned()), " stored reports read)\n");
  if (d.cohorts_size() == 2) {
    const v1::CohortDistribution& t = d.cohorts(0);
    const v1::CohortDistribution& c = d.cohorts(1);
    out += StrCat("  treatment: ", FormatCount(t.devices()), " devices, ",
                  FormatCount(t.launches()), " launches, ",
                  FormatCount(t.crashes()), " crashed\n",
                  "  control:   ", FormatCount(c.devices()), " devices, ",
                  FormatCount(c.launches()), " launches, ",
                  FormatCount(c.crashes()), " crashed\n");
    using Buckets = google::protobuf::RepeatedPtrField<v1::DistributionBucket>;
    auto both = [&out](const char* title, const Buckets& tb,
                       const Buckets& cb) {
      Table table({title, "TREATMENT", "CONTROL"}, {false, true, true});
      for (int i = 0; i < tb.size(); ++i) {
        table.AddRow({tb[i].label(), FormatCount(tb[i].devices()),
                      i < cb.size() ? FormatCount(cb[i].devices()) : "0"});
      }
      out += "\n" + table.Render();
    };
    both("LAUNCHES PER DEVICE", t.launches_per_device(),
         c.launches_per_device());
    both("CRASHED (SHARE OF A DEVICE'S LAUNCHES)", t.crash_share(),
         c.crash_share());
  }
  if (d.download_devices() == 0) {
    out += "\nno device reported the bytes it downloaded for this release\n";
    return out;
  }
  out +=
      StrCat("\ndownloaded by ", FormatCount(d.download_devices()),
             " treatment devices: median ", FormatBytes(d.download_bytes_p50()),
             ", p90 ", FormatBytes(d.download_bytes_p90()), ", p99 ",
             FormatBytes(d.download_bytes_p99()), ", largest ",
             FormatBytes(d.download_bytes_max()), ", total ",
             FormatBytes(d.download_bytes_total()), "\n");
  Table table({"BYTES", "DEVICES"}, {false, true});
  for (const v1::DistributionBucket& b : d.download_bytes()) {
    table.AddRow({b.label(), FormatCount(b.devices())});
  }
  out += "\n" + table.Render();
  return out;
}

void RunDistribution(const IdFlags& f, CliContext& ctx) {
  auto d = ctx.Client().GetReleaseDistribution(f.app, f.id);
  if (!d.ok()) {
    ctx.Fail(d.status());
    return;
  }
  ctx.Print(*d, RenderDistribution(*d));
}

// Asks at a terminal; anywhere else (CI, pipes, --output json) it does not
// ask: the command line is the decision.
bool Confirm(const CliContext& ctx, const std::string& question) {
  if (!ctx.Interactive()) return true;
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

std::string SteerText(const v1::SteerReleaseResponse& result) {
  std::string text = StrCat(ReleaseLine(result.release()), "\n");
  if (!result.release().state_reason().empty())
    text += StrCat("  reason: ", result.release().state_reason(), "\n");
  if (result.has_rollback() && result.rollback().release_id() != 0) {
    text += StrCat("  rolled back by release ", result.rollback().release_id(),
                   ":");
    for (const v1::ReleaseArtifact& a : ArtifactsOf(result.rollback())) {
      text += StrCat(" ", FormatArtifact(a));
      if (a.revert_to_embedded()) text += " (the version the app ships with)";
    }
    text += "\n";
    const uint32_t cap = result.rollback().max_exposure_bp();
    text +=
        StrCat("  reaches: segment ", result.rollback().segment(),
               cap == 0 || cap >= 10000
                   ? std::string(", every device")
                   : StrCat(", the ", FormatExposure(cap), " of it release ",
                            result.release().release_id(), " reached (salt ",
                            result.rollback().salt(), ")"),
               "\n");
  }
  return text;
}

absl::Status NotRolledBack() { return absl::CancelledError("not rolled back"); }

// ROLL_BACK on an app with a root of trust: the dry run says what goes
// back; the publishers' keys sign it into the layer roles under new release
// counters; the roll back carries those roles. Retried from a fresh read
// when a publish changed a role meanwhile (ABORTED).
absl::Status RollBackSigned(const IdFlags& f, v1::SteerReleaseRequest req,
                            AppTrust trust, CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(std::vector<signing::PrivateKey> keys,
                          LoadKeyFiles(f.keys, "--key"));
  if (keys.empty()) {
    return absl::InvalidArgumentError(StrCat(
        "app ", f.app,
        " has a root of trust: a roll back re-signs the "
        "content it puts back, so give the layer's publisher keys with --key "
        "FILE (twice for hotpatch and native)"));
  }
  AdminClient client = ctx.Client();
  for (int attempt = 0;; ++attempt) {
    v1::SteerReleaseRequest dry = req;
    dry.set_dry_run(true);
    STRATA_ASSIGN_OR_RETURN(v1::SteerReleaseResponse plan,
                            client.SteerRelease(dry));
    STRATA_ASSIGN_OR_RETURN(
        SignedRollback signed_roles,
        SignRollbackRoles(f.app, trust, plan.rollback_plan(), keys));
    if (attempt == 0 && !f.yes) {
      std::string what;
      for (const auto& t : signed_roles.targets) what += StrCat("\n  ", t);
      if (!Confirm(ctx, StrCat("Roll back release ", f.id,
                               "? The devices it reached get back:",
                               PlanLines(plan.rollback_plan()),
                               "\nsigned now with your keys as:", what,
                               "\nThis cannot be undone."))) {
        return NotRolledBack();
      }
    }
    req.clear_layer_roles();
    for (const auto& role : signed_roles.roles) req.add_layer_roles(role);
    absl::StatusOr<v1::SteerReleaseResponse> result = client.SteerRelease(req);
    if (result.ok()) {
      std::string text = SteerText(*result);
      for (const auto& t : signed_roles.targets)
        text += StrCat("  signed ", t, "\n");
      ctx.Print(*result, text);
      return absl::OkStatus();
    }
    if (result.status().code() != absl::StatusCode::kAborted ||
        attempt == kCasRetries) {
      return result.status();
    }
    STRATA_ASSIGN_OR_RETURN(trust, ReadAppTrust(client, f.app));
  }
}

absl::Status Steer(const IdFlags& f, v1::SteerReleaseRequest::Action action,
                   CliContext& ctx) {
  v1::SteerReleaseRequest req;
  req.set_app_id(f.app);
  req.set_release_id(f.id);
  req.set_action(action);
  req.set_reason(f.reason);
  AdminClient client = ctx.Client();
  if (action == v1::SteerReleaseRequest::ROLL_BACK) {
    if (!f.rollback_to.empty() && f.rollback_to != "embedded") {
      return absl::InvalidArgumentError(
          StrCat("--to '", f.rollback_to,
                 "': leave it out for each module's last good version, or "
                 "give --to embedded for the version the app ships with"));
    }
    req.set_rollback_to(f.rollback_to);
    STRATA_ASSIGN_OR_RETURN(AppTrust trust, ReadAppTrustIfAny(client, f.app));
    if (trust.configured()) {
      return RollBackSigned(f, std::move(req), std::move(trust), ctx);
    }
    if (!f.yes && ctx.Interactive()) {
      v1::SteerReleaseRequest dry = req;
      dry.set_dry_run(true);
      STRATA_ASSIGN_OR_RETURN(v1::SteerReleaseResponse plan,
                              client.SteerRelease(dry));
      if (!Confirm(ctx, StrCat("Roll back release ", f.id,
                               "? The devices it reached get back:",
                               PlanLines(plan.rollback_plan()),
                               "\nThis cannot be undone."))) {
        return NotRolledBack();
      }
    }
  }
  STRATA_ASSIGN_OR_RETURN(v1::SteerReleaseResponse result,
                          client.SteerRelease(req));
  ctx.Print(result, SteerText(result));
  return absl::OkStatus();
}

void RunSteer(const IdFlags& f, v1::SteerReleaseRequest::Action action,
              CliContext& ctx) {
  absl::Status s = Steer(f, action, ctx);
  if (s.ok()) return;
  ctx.Fail(s);
  if (s.code() == absl::StatusCode::kCancelled) ctx.exit_code = kExitRefused;
}

// The preview's text: who gets what per stage, then the verdict.
void PrintPreview(const v1::PreviewReleaseResponse& p, CliContext& ctx) {
  std::string text = StrCat(
      p.release_id() == 0 ? std::string("Dry run: the release")
                          : StrCat("Release ", p.release_id()),
      " over ", FormatCount(p.devices()), " devices seen recently (segment ",
      p.segment().empty() ? "everyone" : p.segment(), ")\n", "  matched ",
      FormatCount(p.matched()), ", allowed (testers) ",
      FormatCount(p.allowed()), ", denied ", FormatCount(p.denied()),
      ", not matched ", FormatCount(p.not_matched()), "\n\n");
  Table table({"STAGE", "EXPOSURE", "TREATMENT", "CONTROL"},
              {true, true, true, true});
  if (p.has_current()) {
    table.AddRow({"now", FormatExposure(p.current().exposure_bp()),
                  FormatCount(p.current().treatment()),
                  FormatCount(p.current().control())});
  }
  for (int i = 0; i < p.stages_size(); ++i) {
    const v1::StageReach& s = p.stages(i);
    table.AddRow({std::to_string(i + 1), FormatExposure(s.exposure_bp()),
                  FormatCount(s.treatment()), FormatCount(s.control())});
  }
  text += table.Render();
  if (!p.verdict().empty()) text += StrCat("\nVerdict: ", p.verdict(), "\n");
  if (p.release_id() == 0) {
    text +=
        "\nNothing was created (--dry-run); the same command without "
        "--dry-run creates it.\n";
  }
  ctx.Print(p, text);
}

void RunPreview(const IdFlags& f, CliContext& ctx) {
  auto preview = ctx.Client().PreviewRelease(f.app, f.id);
  if (!preview.ok()) {
    ctx.Fail(preview.status());
    return;
  }
  PrintPreview(*preview, ctx);
}

void RunExplain(const std::string& app, const std::string& device,
                CliContext& ctx) {
  auto explain = ctx.Client().ExplainDevice(app, device);
  if (!explain.ok()) {
    ctx.Fail(explain.status());
    return;
  }
  const v1::DeviceContext& d = explain->device();
  std::string text = StrCat("Device ", device);
  if (explain->last_seen_unix() != 0) {
    text += StrCat(", last seen ",
                   TimeText(absl::FromUnixSeconds(explain->last_seen_unix())),
                   " UTC");
  }
  text += "\n";
  std::string context;
  auto field = [&](const char* name, const std::string& value) {
    if (!value.empty())
      context += StrCat(context.empty() ? "" : ", ", name, " ", value);
  };
  field("user", d.user_id());
  field("app_version", d.app_version());
  field("os", d.os());
  field("os_version", d.os_version());
  field("model", d.device_model());
  field("region", d.region());
  field("channel", d.channel());
  for (const auto& [k, v] : d.attributes())
    field(StrCat("attr.", k).c_str(), v);
  if (!context.empty()) text += StrCat("  ", context, "\n");
  text += "\n";
  if (explain->releases().empty()) {
    text += "  no live releases\n";
  } else {
    std::string outcome;
    for (const v1::ReleaseExplanation& e : explain->releases()) {
      for (const std::string& w : e.wins())
        outcome += StrCat("  ", w, ": from release ", e.release_id(), "\n");
      for (const std::string& l : e.loses())
        outcome += StrCat("  ", l, " over release ", e.release_id(), "\n");
    }
    if (!outcome.empty()) text += StrCat("What it runs\n", outcome, "\n");
    Table table({"RELEASE", "GETS IT", "COHORT", "WHY"}, {true});
    for (const v1::ReleaseExplanation& e : explain->releases()) {
      for (int i = 0; i < std::max(1, e.reasons_size()); ++i) {
        const std::string reason = i < e.reasons_size() ? e.reasons(i) : "";
        if (i == 0) {
          table.AddRow({std::to_string(e.release_id()),
                        e.applies() ? "yes" : "no", e.cohort(), reason});
        } else {
          table.AddRow({"", "", "", reason});
        }
      }
    }
    text += table.Render();
  }
  ctx.Print(*explain, text);
}

struct EditFlags {
  IdFlags id_flags;
  std::string plan;
  std::vector<std::string> gates;
  std::string message;
  CLI::Option* message_option = nullptr;  // given: set the message
};

void RunEdit(const EditFlags& f, CliContext& ctx) {
  v1::EditReleaseRequest req;
  req.set_app_id(f.id_flags.app);
  req.set_release_id(f.id_flags.id);
  req.set_reason(f.id_flags.reason);
  if (!f.plan.empty()) {
    absl::StatusOr<std::vector<v1::RolloutStage>> plan = ParsePlan(f.plan);
    if (!plan.ok()) {
      ctx.Fail(plan.status());
      return;
    }
    if (plan->empty()) {
      ctx.Fail(absl::InvalidArgumentError(
          "--plan default is for create; give the stages from the current "
          "one on, e.g. --plan 20%:1h,100%"));
      return;
    }
    for (const auto& st : *plan) *req.add_remaining_stages() = st;
  }
  absl::StatusOr<v1::GatePolicy> gates = ParseGates(f.gates);
  if (!gates.ok()) {
    ctx.Fail(gates.status());
    return;
  }
  *req.mutable_gates() = *gates;
  if (f.message_option != nullptr && f.message_option->count() > 0) {
    req.set_message(f.message);
  }
  auto release = ctx.Client().EditRelease(req);
  if (!release.ok()) {
    ctx.Fail(release.status());
    return;
  }
  std::string text = StrCat(ReleaseLine(*release), "\n");
  if (!release->stages().empty()) {
    text += StrCat(
        "  plan ",
        FormatPlan({release->stages().begin(), release->stages().end()}), "\n");
  }
  const std::string g = FormatGates(release->gates());
  if (!g.empty()) text += StrCat("  gates ", g, "\n");
  if (!release->message().empty())
    text += StrCat("  message: ", release->message(), "\n");
  ctx.Print(*release, text);
}

CLI::App* AddIdCommand(CLI::App* release, const std::string& name,
                       const std::string& help, IdFlags& f, CliContext& ctx) {
  CLI::App* cmd = release->add_subcommand(name, help);
  AddAppOption(cmd, f.app, ctx);
  cmd->add_option("id", f.id, "the release id (see `strata release list`)")
      ->required();
  return cmd;
}

}  // namespace

void AddReleaseCommand(CLI::App& app, CliContext& ctx) {
  // The fleet view sits next to the releases that shape it.
  AddFleetCommand(app, ctx);
  AddFailuresCommand(app, ctx);
  CLI::App* release = app.add_subcommand(
      "release",
      "Create, follow and steer staged, health-gated releases.\n\n"
      "A release makes published versions (one or several modules, across\n"
      "layers, activated together) live for a segment, stage by stage: the\n"
      "server promotes it when a stage has baked and its devices are\n"
      "healthy, halts it when they crash or fail to apply more than a\n"
      "control group, and pauses it when reports stop (docs/rollout.md).\n\n"
      "Example:\n"
      "  strata release create --artifact config/payment.limits@3 --wait\n"
      "  strata release status 7");
  release->require_subcommand(1);

  auto f = std::make_shared<CreateFlags>();
  CLI::App* create = release->add_subcommand(
      "create",
      "Release published versions to a segment in stages gated on health.\n"
      "Without --plan the server's default plan applies: 1, 5, 20, 50, 100%\n"
      "with bake times 1h, 2h, 4h, 8h, 24h. A bad --plan, --gate or\n"
      "--artifact is exit 2 and nothing is created.\n\n"
      "Example (two modules that must arrive together, a short plan, and\n"
      "a CI job that fails if the release halts):\n"
      "  strata release create --app wallet \\\n"
      "      --artifact config/payment.limits@3 --artifact h5/mall-home@12 \\\n"
      "      --segment android-cn --plan 1%:1h:200,5%:2h:500,20%,100% \\\n"
      "      --gate max_crash_rate=0.02 --gate report_silence=30m \\\n"
      "      --wait --timeout 12h\n"
      "Example (a config switch for everybody now):\n"
      "  strata release create --layer config --module flags --version 9 "
      "--all-at-once");
  AddAppOption(create, f->app, ctx);
  create
      ->add_option("--layer", f->layer,
                   "one artifact: config, h5, hcf, "
                   "hotpatch or native")
      ->check(CLI::IsMember({"config", "h5", "hcf", "hotpatch", "native"}));
  create->add_option("--module", f->module, "one artifact: module name");
  create->add_option("--version", f->version,
                     "one artifact: a published version");
  create->add_option("--artifact", f->artifacts,
                     "LAYER/MODULE@VERSION, repeatable; all activate together "
                     "on the device");
  create->add_option("--segment", f->segment,
                     "target segment (`strata segment put`); default everyone");
  create->add_option("--salt", f->salt,
                     "bucketing salt; the same salt picks the same users "
                     "(default release-<id>)");
  create->add_option(
      "--plan", f->plan,
      "stages exposure[:bake[:min_reports]], e.g. 1%:1h:200,5%:2h:500,20%,"
      "100%; `default` for 1,5,20,50,100%");
  create->add_option(
      "--gate", f->gates,
      StrCat("health gate threshold key=value, repeatable, e.g. "
             "max_crash_rate=0.05, min_launches=20, report_silence=30m; keys: ",
             [] {
               std::string keys;
               for (const std::string& k : GateKeys())
                 keys += (keys.empty() ? "" : ", ") + k;
               return keys;
             }()));
  create->add_flag("--all-at-once", f->all_at_once,
                   "every device of the segment at once, without stages or "
                   "health gates");
  create->add_flag("--draft", f->draft,
                   "store it without starting (preview, then `release start`)");
  create->add_flag("--dry-run", f->dry_run,
                   "check it as create would and print who would get it per "
                   "stage and how many devices (and hours) the first stage "
                   "needs for a verdict; creates nothing");
  create->add_option("--message,-m", f->message,
                     "what this release is for; shown in release list, "
                     "status and the audit log");
  create->add_option("--source-commit", f->source_commit,
                     "the commit it was built from (default: GITHUB_SHA, "
                     "CI_COMMIT_SHA, or `git rev-parse HEAD` here)");
  create->add_option("--source-branch", f->source_branch,
                     "the branch (default: GITHUB_REF_NAME, "
                     "CI_COMMIT_REF_NAME, or git's current branch)");
  create->add_flag("--no-source", f->no_source, "record no commit or branch");
  create->add_flag("--allow-overlap", f->allow_overlap,
                   "create it although a rolling or paused release puts one "
                   "of its modules on the same segment (audited)");
  AddWaitFlags(create, f->wait);
  create->callback([f, &ctx] { RunCreate(*f, ctx); });

  auto list_app = std::make_shared<std::string>();
  CLI::App* list = release->add_subcommand(
      "list",
      "List an app's releases: state, stage, exposure, segment and every\n"
      "artifact (one line each).\n\n"
      "Example:\n  strata release list --app wallet\n"
      "  strata release list --app wallet --output json | jq '.releases[]'");
  AddAppOption(list, *list_app, ctx);
  list->callback([list_app, &ctx] { RunReleaseList(*list_app, ctx); });

  auto status = std::make_shared<IdFlags>();
  CLI::App* status_cmd = AddIdCommand(
      release, "status",
      "One release: its plan (done stages marked x, the current one >),\n"
      "state and reason, exposure, adoption, health of treatment against\n"
      "control, the gate's latest verdict, an adoption chart and the\n"
      "history of transitions. With --wait, follow it instead.\n\n"
      "Example:\n  strata release status 7 --app wallet\n"
      "  strata release status 7 --wait --poll-interval 10s --timeout 6h",
      *status, ctx);
  AddWaitFlags(status_cmd, status->wait);
  status_cmd->callback([status, &ctx] { RunStatus(*status, ctx); });

  auto devices = std::make_shared<IdFlags>();
  CLI::App* devices_cmd = AddIdCommand(
      release, "devices",
      "One release per device, not per cohort: treatment and control\n"
      "devices by launches reported and by the share of them that crashed,\n"
      "and the bytes each treatment device downloaded for it (median, p90,\n"
      "p99, largest, ranges). Read from the stored reports at each call.\n\n"
      "Example:\n  strata release devices 7 --app wallet\n"
      "  strata release devices 7 --app wallet --output json",
      *devices, ctx);
  devices_cmd->callback([devices, &ctx] { RunDistribution(*devices, ctx); });

  struct Steer {
    const char* name;
    v1::SteerReleaseRequest::Action action;
    const char* help;
  };
  static const Steer kSteers[] = {
      {"start", v1::SteerReleaseRequest::START,
       "Start a draft release at its first stage.\n\n"
       "Example:\n  strata release start 7 --app wallet"},
      {"pause", v1::SteerReleaseRequest::PAUSE,
       "Pause a rolling release: it stays at its stage (devices in it still\n"
       "get it) and is not promoted until resumed.\n\n"
       "Example:\n  strata release pause 7 --reason \"waiting for QA\""},
      {"resume", v1::SteerReleaseRequest::RESUME,
       "Resume a paused or halted release; the stage's bake time restarts.\n\n"
       "Example:\n  strata release resume 7 --reason \"crash was unrelated\""},
      {"promote", v1::SteerReleaseRequest::PROMOTE,
       "Move a rolling release to its next stage now (from the last stage:\n"
       "complete it), without waiting for the bake time.\n\n"
       "Example:\n  strata release promote 7 --reason \"hotfix, approved\""},
      {"halt", v1::SteerReleaseRequest::HALT,
       "Halt a release: no new device gets it; devices that have it keep\n"
       "it. `release resume` continues it, `release rollback` takes it "
       "back.\n\n"
       "Example:\n  strata release halt 7 --reason \"crash spike in "
       "payments\""},
      {"rollback", v1::SteerReleaseRequest::ROLL_BACK,
       "Roll a release back: stop it and publish a new release, at once, to\n"
       "the devices it reached (its segment, its buckets up to the exposure\n"
       "it got to; no other device) that puts back each module's last good\n"
       "version: the newest earlier completed release that reached all of\n"
       "them, else the version the app ships with (embedded). --to embedded\n"
       "asks for that directly. A roll back cannot be rolled back. Final.\n"
       "Asks at a terminal (showing what goes back) unless --yes; never\n"
       "elsewhere. On an app with a root of trust what goes back is signed\n"
       "again (new release counters) with the publisher keys given by "
       "--key.\n\n"
       "Example:\n  strata release rollback 7 --reason \"corrupt limits\" "
       "--yes \\\n      --key ~/wallet-keys/publisher-a.key\n"
       "  strata release rollback 3 --to embedded --yes --key ..."},
  };
  for (const Steer& s : kSteers) {
    auto flags = std::make_shared<IdFlags>();
    CLI::App* cmd = AddIdCommand(release, s.name, s.help, *flags, ctx);
    cmd->add_option("--reason", flags->reason,
                    "why; kept in the release's history and the audit log");
    if (s.action == v1::SteerReleaseRequest::ROLL_BACK) {
      cmd->add_flag("--yes,-y", flags->yes, "do not ask at a terminal");
      cmd->add_option("--key", flags->keys,
                      "on an app with a root of trust: a publisher key of "
                      "the layers it puts back (repeat: hotpatch and native "
                      "need two)");
      cmd->add_option("--to", flags->rollback_to,
                      "embedded: back to the version the app ships with, "
                      "whatever was released before");
    }
    const auto action = s.action;
    cmd->callback([flags, action, &ctx] { RunSteer(*flags, action, ctx); });
  }

  auto edit = std::make_shared<EditFlags>();
  CLI::App* edit_cmd = AddIdCommand(
      release, "edit",
      "Change a release that is not over: the plan from its current stage\n"
      "on (--plan; a draft: the whole plan), gate thresholds (--gate, merged\n"
      "into the release's), its message (also of a finished release).\n"
      "Stages already done stay; the current stage cannot go below the\n"
      "exposure it has (devices in it keep the release: halt or roll back\n"
      "to take it back). Audited with the old and new values.\n\n"
      "Example:\n  strata release edit 7 --plan 10%:30m,100% --reason \"QA "
      "signed off\"\n"
      "  strata release edit 7 --gate max_crash_rate=0.01 --message "
      "\"limits v3 for the sale\"",
      edit->id_flags, ctx);
  edit_cmd->add_option("--plan", edit->plan,
                       "the stages from the current one on, as for create");
  edit_cmd->add_option("--gate", edit->gates,
                       "a gate threshold key=value, repeatable");
  edit->message_option =
      edit_cmd->add_option("--message,-m", edit->message, "the new message");
  edit_cmd->add_option("--reason", edit->id_flags.reason,
                       "why; kept in the audit log");
  edit_cmd->callback([edit, &ctx] { RunEdit(*edit, ctx); });

  auto preview = std::make_shared<IdFlags>();
  CLI::App* preview_cmd = AddIdCommand(
      release, "preview",
      "Who would get a release: over the devices seen recently, how many\n"
      "the segment matches, allows and denies, and per stage how many\n"
      "would be treatment and control. Useful on a --draft.\n\n"
      "Example:\n  strata release create --artifact h5/mall-home@12 "
      "--segment android-cn --draft\n"
      "  strata release preview 8",
      *preview, ctx);
  preview_cmd->callback([preview, &ctx] { RunPreview(*preview, ctx); });

  struct ExplainFlags {
    std::string app, device;
  };
  auto explain = std::make_shared<ExplainFlags>();
  CLI::App* explain_cmd = release->add_subcommand(
      "explain",
      "For one device (as it last checked in): which releases it gets and\n"
      "why: segment match, bucket and cohort, allow/deny lists.\n\n"
      "Example:\n  strata release explain --app wallet --device d-42");
  AddAppOption(explain_cmd, explain->app, ctx);
  explain_cmd->add_option("--device", explain->device, "the device id")
      ->required();
  explain_cmd->callback(
      [explain, &ctx] { RunExplain(explain->app, explain->device, ctx); });
}

}  // namespace strata::admin
