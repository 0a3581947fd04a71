// strata segment put|list
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/env.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct SegmentFlags {
  std::string app, name, expression, allow_file, deny_file;
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
  put->callback([f, &ctx] {
    v1::Segment seg;
    seg.set_app_id(f->app);
    seg.set_name(f->name);
    seg.set_expression(f->expression);
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
    std::string text;
    for (const auto& s : result->segments()) {
      text +=
          StrCat(s.name(), "  ", s.expression(), "  (+",
                 s.allow_user_ids_size(), " -", s.deny_user_ids_size(), ")\n");
    }
    ctx.Print(*result, text);
  });
}

}  // namespace strata::admin
