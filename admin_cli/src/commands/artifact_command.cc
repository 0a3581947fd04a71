// strata artifact list|show|diff|yank: the published versions.
#include <iostream>
#include <memory>

#include "layer_flag.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/artifact_diff.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/release_flags.h"
#include "strata/admin_cli/render.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct ArtifactFlags {
  std::string app, layer, module, reason, a, b;
  bool yes = false;
};

// "h5/mall-home@3" as module and version; `what` names the argument.
absl::StatusOr<v1::ReleaseArtifact> ParseRef(const std::string& text,
                                             std::string_view what) {
  absl::StatusOr<v1::ReleaseArtifact> a = ParseArtifact(text);
  if (a.ok()) return a;
  std::string message(ToStd(a.status().message()));
  const std::string flag = "--artifact ";
  if (message.rfind(flag, 0) == 0) message = message.substr(flag.size());
  return absl::InvalidArgumentError(StrCat(what, " ", message));
}

std::string Ref(const v1::ArtifactStatement& st) {
  return StrCat(LayerFlagName(st.module().layer()), "/", st.module().name(),
                "@", st.version());
}

// Key ids are long: the first 12 characters tell keys apart.
std::string Signers(const v1::ArtifactInfo& a) {
  std::string out;
  for (const std::string& id : a.signer_key_ids()) {
    if (!out.empty()) out += ",";
    out += id.substr(0, 12);
  }
  return out.empty() ? "-" : out;
}

// "#4 completed, #6 halted".
std::string Releases(const v1::ArtifactInfo& a) {
  std::string out;
  for (const v1::ArtifactRelease& r : a.releases()) {
    if (!out.empty()) out += ", ";
    out += StrCat("#", r.release_id(), " ", StateName(r.state()));
  }
  return out.empty() ? "-" : out;
}

std::string Status(const v1::ArtifactInfo& a) {
  if (a.yanked_at_unix() != 0) {
    return a.content_deleted() ? "yanked (content deleted)" : "yanked";
  }
  return a.embedded() ? "embedded" : "ok";
}

std::string ListText(const v1::ListArtifactsResponse& list) {
  if (list.artifacts().empty()) return "no published versions\n";
  Table table(
      {"ARTIFACT", "SIZE", "PUBLISHED", "BY", "SIGNERS", "RELEASES", "STATUS"},
      {false, true, false, false, false, false, false});
  for (const v1::ArtifactInfo& a : list.artifacts()) {
    table.AddRow({Ref(a.statement()), FormatBytes(a.statement().size()),
                  TimeText(absl::FromUnixSeconds(a.published_at_unix())),
                  a.published_by().empty() ? "-" : a.published_by(), Signers(a),
                  Releases(a), Status(a)});
  }
  return table.Render();
}

std::string ShowText(const v1::ArtifactInfo& a) {
  const v1::ArtifactStatement& st = a.statement();
  Table t({"", ""});
  t.AddRow({"artifact", Ref(st)});
  t.AddRow(
      {"size", StrCat(FormatBytes(st.size()), " (", st.size(), " bytes)")});
  t.AddRow({"sha256", st.content_sha256()});
  t.AddRow(
      {"published",
       StrCat(
           TimeText(absl::FromUnixSeconds(a.published_at_unix())),
           a.published_by().empty() ? "" : StrCat(" by ", a.published_by()))});
  std::string signers;
  for (const std::string& id : a.signer_key_ids()) {
    signers += (signers.empty() ? "" : ", ") + id;
  }
  t.AddRow({"signed by", signers.empty() ? "-" : signers});
  if (!a.target().empty()) t.AddRow({"target", a.target()});
  if (!st.compatibility().host_build().empty()) {
    t.AddRow({"host build", st.compatibility().host_build()});
  }
  if (a.embedded()) t.AddRow({"embedded", "yes (the app's baseline)"});
  if (a.yanked_at_unix() != 0) {
    t.AddRow(
        {"yanked", StrCat(TimeText(absl::FromUnixSeconds(a.yanked_at_unix())),
                          " by ", a.yanked_by(), ": ", a.yank_reason())});
    t.AddRow({"content", a.content_deleted()
                             ? "deleted"
                             : "kept (a release devices may run lists it)"});
  }
  if (a.releases().empty()) {
    t.AddRow({"releases", "-"});
  }
  bool first = true;
  for (const v1::ArtifactRelease& r : a.releases()) {
    t.AddRow(
        {first ? "releases" : "",
         StrCat(
             "#", r.release_id(), " ", StateName(r.state()), ", segment ",
             r.segment().empty() ? "everyone" : r.segment(), ", counter ",
             r.release_sequence(),
             r.state_reason().empty() ? "" : StrCat(": ", r.state_reason()))});
    first = false;
  }
  std::string rendered = t.Render();
  // Drop the blank header line.
  return rendered.substr(rendered.find('\n') + 1);
}

absl::StatusOr<v1::ArtifactInfo> Get(AdminClient& client,
                                     const std::string& app,
                                     const v1::ReleaseArtifact& ref) {
  v1::GetArtifactRequest req;
  req.set_app_id(app);
  *req.mutable_module() = ref.module();
  req.set_version(ref.version());
  return client.GetArtifact(req);
}

void RunArtifactList(const ArtifactFlags& f, CliContext& ctx) {
  v1::ListArtifactsRequest req;
  req.set_app_id(f.app);
  if (!f.layer.empty()) req.set_layer(LayerNames().at(f.layer));
  req.set_module(f.module);
  absl::StatusOr<v1::ListArtifactsResponse> list =
      ctx.Client().ListArtifacts(req);
  if (!list.ok()) return ctx.Fail(list.status());
  ctx.Print(*list, ListText(*list));
}

void RunShow(const ArtifactFlags& f, CliContext& ctx) {
  absl::StatusOr<v1::ReleaseArtifact> ref = ParseRef(f.a, "ARTIFACT");
  if (!ref.ok()) return ctx.Fail(ref.status());
  AdminClient client = ctx.Client();
  absl::StatusOr<v1::ArtifactInfo> info = Get(client, f.app, *ref);
  if (!info.ok()) return ctx.Fail(info.status());
  ctx.Print(*info, ShowText(*info));
}

// The content of one version, through the devices' download path.
absl::StatusOr<std::string> Content(AdminClient& client,
                                    const v1::ArtifactInfo& info) {
  if (info.content_deleted()) {
    return absl::FailedPreconditionError(
        StrCat("the content of ", Ref(info.statement()),
               " was deleted after its yank; there is nothing to compare"));
  }
  return client.Download(info.statement().content_sha256(),
                         info.statement().size());
}

absl::Status DoDiff(const ArtifactFlags& f, CliContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(v1::ReleaseArtifact a, ParseRef(f.a, "FROM"));
  // B may be just a version of A's module: "@4" or "4".
  std::string b_text = f.b;
  if (b_text.find('/') == std::string::npos) {
    if (!b_text.empty() && b_text[0] == '@') b_text.erase(0, 1);
    b_text = StrCat(LayerFlagName(a.module().layer()), "/", a.module().name(),
                    "@", b_text);
  }
  STRATA_ASSIGN_OR_RETURN(v1::ReleaseArtifact b, ParseRef(b_text, "TO"));
  AdminClient client = ctx.Client();
  STRATA_ASSIGN_OR_RETURN(v1::ArtifactInfo from, Get(client, f.app, a));
  STRATA_ASSIGN_OR_RETURN(v1::ArtifactInfo to, Get(client, f.app, b));
  STRATA_ASSIGN_OR_RETURN(std::string from_bytes, Content(client, from));
  STRATA_ASSIGN_OR_RETURN(std::string to_bytes, Content(client, to));
  STRATA_ASSIGN_OR_RETURN(
      ArtifactDiff d,
      DiffContent({Ref(from.statement()), a.module().layer(), from_bytes},
                  {Ref(to.statement()), b.module().layer(), to_bytes}));
  ctx.Print(d.json, d.text);
  return absl::OkStatus();
}

// Asks at a terminal; anywhere else the command line is the decision.
bool Confirm(const CliContext& ctx, const std::string& question) {
  if (!ctx.Interactive()) return true;
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

std::string YankText(const v1::YankArtifactResponse& r) {
  const v1::ArtifactInfo& a = r.artifact();
  const std::string ref = Ref(a.statement());
  std::string out;
  if (r.already_yanked()) {
    out = StrCat(ref, " was already yanked at ",
                 TimeText(absl::FromUnixSeconds(a.yanked_at_unix())), " by ",
                 a.yanked_by(), ": ", a.yank_reason(), "\n");
  } else {
    out = StrCat("yanked ", ref, ": no device is offered it any more\n");
    if (r.halted().empty()) {
      out += "  no live release listed it\n";
    } else {
      out += "  halted:";
      for (const v1::Release& h : r.halted()) {
        out += StrCat(" release ", h.release_id());
      }
      out +=
          " (devices that run it keep it; `strata release rollback ID` "
          "moves them off it)\n";
    }
  }
  if (a.content_deleted()) {
    out += "  content deleted: it is no longer served\n";
  } else {
    out += StrCat("  content kept: ", r.content_kept_because(), "\n");
  }
  if (!a.target().empty()) {
    out += StrCat("  the publishers' target ", a.target(),
                  " stays in the layer role until they re-sign it without "
                  "it; the server neither offers nor serves it\n");
  }
  return out;
}

void RunYank(const ArtifactFlags& f, CliContext& ctx) {
  absl::StatusOr<v1::ReleaseArtifact> ref = ParseRef(f.a, "ARTIFACT");
  if (!ref.ok()) return ctx.Fail(ref.status());
  if (f.reason.empty()) {
    return ctx.Fail(absl::InvalidArgumentError(
        "give --reason TEXT: why the version is withdrawn (kept in the audit "
        "log and shown wherever it is listed)"));
  }
  if (!f.yes &&
      !Confirm(ctx, StrCat("Yank ", f.a, " of app ", f.app,
                           "? Releases that use it are halted and it can "
                           "never be released or published again."))) {
    return ctx.Fail(
        absl::FailedPreconditionError("not confirmed; nothing changed"));
  }
  v1::YankArtifactRequest req;
  req.set_app_id(f.app);
  *req.mutable_module() = ref->module();
  req.set_version(ref->version());
  req.set_reason(f.reason);
  absl::StatusOr<v1::YankArtifactResponse> r = ctx.Client().YankArtifact(req);
  if (!r.ok()) return ctx.Fail(r.status());
  ctx.Print(*r, YankText(*r));
}

}  // namespace

void AddArtifactCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<ArtifactFlags>();
  CLI::App* artifact = app.add_subcommand(
      "artifact",
      "The published versions: list, show, diff two of them, yank one.\n\n"
      "Example:\n"
      "  strata artifact list --app wallet --layer h5\n"
      "  strata artifact diff h5/mall-home@1 @2 --app wallet");
  artifact->require_subcommand(1);

  CLI::App* list = artifact->add_subcommand(
      "list",
      "Every version with its size, when and by whom it was published, the\n"
      "key ids that signed it, the releases that use it (id and state) and\n"
      "whether it was yanked. JSON: ListArtifactsResponse.\n\n"
      "Example:\n"
      "  strata artifact list --app wallet --module mall-home");
  AddAppOption(list, flags->app, ctx);
  list->add_option("--layer", flags->layer, "only this layer")
      ->check(CLI::IsMember({"config", "h5", "hcf", "hotpatch", "native"}));
  list->add_option("--module", flags->module, "only this module");
  list->callback([flags, &ctx] { RunArtifactList(*flags, ctx); });

  CLI::App* show = artifact->add_subcommand(
      "show",
      "One version: size, sha256, publisher and signers, its signed target,\n"
      "the releases that use it and why they are in their state, the yank.\n"
      "JSON: ArtifactInfo.\n\n"
      "Example:\n"
      "  strata artifact show h5/mall-home@3 --app wallet");
  AddAppOption(show, flags->app, ctx);
  show->add_option("ARTIFACT", flags->a, "LAYER/MODULE@VERSION")->required();
  show->callback([flags, &ctx] { RunShow(*flags, ctx); });

  CLI::App* diff = artifact->add_subcommand(
      "diff",
      "What changed from one version to another, fetched like devices fetch\n"
      "it: for trees the files added, removed and changed (content, mode,\n"
      "link) with sizes; for config the keys added, removed and changed (by\n"
      "JSON Pointer); otherwise sizes, hashes and the first differing byte.\n"
      "TO may be a version of FROM's module (\"@4\" or \"4\").\n\n"
      "Example:\n"
      "  strata artifact diff config/payment.limits@1 @2 --app wallet");
  AddAppOption(diff, flags->app, ctx);
  diff->add_option("FROM", flags->a, "LAYER/MODULE@VERSION")->required();
  diff->add_option("TO", flags->b, "LAYER/MODULE@VERSION, @VERSION or VERSION")
      ->required();
  diff->callback([flags, &ctx] {
    if (absl::Status s = DoDiff(*flags, ctx); !s.ok()) ctx.Fail(s);
  });

  CLI::App* yank = artifact->add_subcommand(
      "yank",
      "Withdraws a version (release manager): every release that uses it\n"
      "and devices may still newly get (rolling, paused, completed) is\n"
      "halted, so no device is offered it any more; devices that run it keep\n"
      "it until a roll back or a newer release. It can never be released or\n"
      "published again (versions are immutable). Its content is deleted as\n"
      "soon as nothing references it (no unyanked version with the same\n"
      "content, no release devices may run). Audited. Asks first at a\n"
      "terminal (--yes skips). JSON: YankArtifactResponse.\n\n"
      "Example:\n"
      "  strata artifact yank h5/mall-home@3 --app wallet \\\n"
      "      --reason \"ships .env with an API key\" --yes");
  AddAppOption(yank, flags->app, ctx);
  yank->add_option("ARTIFACT", flags->a, "LAYER/MODULE@VERSION")->required();
  yank->add_option("--reason", flags->reason, "why (required)");
  yank->add_flag("--yes,-y", flags->yes, "do not ask");
  yank->callback([flags, &ctx] { RunYank(*flags, ctx); });
}

}  // namespace strata::admin
