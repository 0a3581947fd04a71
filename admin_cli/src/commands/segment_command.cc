// strata segment put|list|history|delete
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
#include "strata/base/env.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct SegmentFlags {
  std::string app, name, expression, allow_file, deny_file;
  bool force = false;
};

// One user id per line; blank lines and '#' comments skipped.
absl::Status ReadIds(const std::string& path,
                     google::protobuf::RepeatedPtrField<std::string>* out) {
  if (path.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> text = PosixFileSystem()->ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        StrCat("cannot read ", path, ": ", ToStd(text.status().message())));
  }
  size_t pos = 0;
  while (pos <= text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    if (!line.empty() && line[0] != '#') *out->Add() = line;
    pos = end + 1;
  }
  return absl::OkStatus();
}

}  // namespace

void AddSegmentCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* segment =
      app.add_subcommand("segment",
                         "Define who a release can target.\n\n"
                         "Example:\n"
                         "  strata segment put --app wallet --name android "
                         "--expr 'os == \"android\"'\n"
                         "  strata release create --artifact config/m@3 "
                         "--segment android");
  segment->require_subcommand(1);
  auto f = std::make_shared<SegmentFlags>();
  CLI::App* put = segment->add_subcommand(
      "put",
      "Create or replace a segment: an expression over the device context and\n"
      "optional allow/deny lists of user ids (files, one id per line).\n"
      "Parse errors point at the column.\n\n"
      "Example:\n"
      "  strata segment put --app wallet --name sh-android \\\n"
      "      --expr 'app_version >= \"10.3.0\" && os == \"android\" && region "
      "in [\"CN-31\"]' \\\n"
      "      --allow-file testers.txt");
  AddAppOption(put, f->app, ctx);
  put->add_option("--name", f->name, "segment name")->required();
  put->add_option("--expr", f->expression,
                  "the expression (see docs/rollout.md)")
      ->required();
  put->add_option("--allow-file", f->allow_file, "user ids always included");
  put->add_option("--deny-file", f->deny_file,
                  "user ids never included (wins)");
  put->add_flag("--force", f->force,
                "change it although live releases target it (they then "
                "reach other devices); audited as segment.force_put");
  put->callback([f, &ctx] {
    v1::Segment seg;
    seg.set_app_id(f->app);
    seg.set_name(f->name);
    seg.set_expression(f->expression);
    seg.set_force(f->force);
    absl::Status s = ReadIds(f->allow_file, seg.mutable_allow_user_ids());
    if (s.ok()) s = ReadIds(f->deny_file, seg.mutable_deny_user_ids());
    if (!s.ok()) {
      ctx.Fail(s);
      return;
    }
    auto result = ctx.Client().PutSegment(seg);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    ctx.Print(*result,
              StrCat("segment ", result->name(), ": ", result->expression(),
                     " (", result->allow_user_ids_size(), " allowed, ",
                     result->deny_user_ids_size(), " denied ids)\n"));
  });
  auto app_id = std::make_shared<std::string>();
  CLI::App* list =
      segment->add_subcommand("list",
                              "List an app's segments.\n\nExample:\n  strata "
                              "segment list --app wallet");
  AddAppOption(list, *app_id, ctx);
  list->callback([app_id, &ctx] {
    auto result = ctx.Client().ListSegments(*app_id);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    if (result->segments().empty()) {
      ctx.Print(*result, StrCat("no segments in ", *app_id,
                                "; create one with `strata segment put`\n"));
      return;
    }
    Table table({"NAME", "ALLOW", "DENY", "UPDATED", "EXPRESSION"},
                {false, true, true, false, false});
    for (const auto& s : result->segments()) {
      table.AddRow({s.name(), std::to_string(s.allow_user_ids_size()),
                    std::to_string(s.deny_user_ids_size()),
                    s.updated_at_unix() == 0
                        ? std::string("-")
                        : TimeText(absl::FromUnixSeconds(s.updated_at_unix())),
                    s.expression()});
    }
    ctx.Print(*result, table.Render());
  });

  auto named = std::make_shared<SegmentFlags>();
  CLI::App* history = segment->add_subcommand(
      "history",
      "A segment's changes, oldest first, from the audit log: who put which\n"
      "expression when, forced changes and the releases they retargeted,\n"
      "deletion.\n\n"
      "Example:\n  strata segment history --app wallet --name sh-android");
  AddAppOption(history, named->app, ctx);
  history->add_option("--name", named->name, "segment name")->required();
  history->callback([named, &ctx] {
    auto result = ctx.Client().GetSegmentHistory(named->app, named->name);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    Table table({"SEQ", "TIME", "ACTOR", "ACTION", "DETAIL"}, {true});
    for (const v1::AuditEntry& e : result->entries()) {
      table.AddRow({std::to_string(e.seq()),
                    TimeText(absl::FromUnixSeconds(e.at_unix())), e.actor(),
                    e.action(), e.detail()});
    }
    ctx.Print(*result, table.Render());
  });

  auto gone = std::make_shared<SegmentFlags>();
  CLI::App* del = segment->add_subcommand(
      "delete",
      "Delete a segment no live release targets (refused naming them\n"
      "otherwise). Audited; `segment history` still shows it.\n\n"
      "Example:\n  strata segment delete --app wallet --name old-beta");
  AddAppOption(del, gone->app, ctx);
  del->add_option("--name", gone->name, "segment name")->required();
  del->callback([gone, &ctx] {
    auto result = ctx.Client().DeleteSegment(gone->app, gone->name);
    if (!result.ok()) {
      ctx.Fail(result.status());
      return;
    }
    ctx.Print(*result, StrCat("deleted segment ", result->segment().name(),
                              " (", result->segment().expression(), ")\n"));
  });
}

}  // namespace strata::admin
