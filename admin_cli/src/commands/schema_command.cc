// strata schema set|show|clear: the JSON Schema a CONFIG module's new
// versions must satisfy.
#include <iostream>
#include <memory>

#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
#include "strata/base/env.h"
#include "strata/base/json_schema.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct SchemaFlags {
  std::string app, module, file;
};

v1::ModuleId ConfigModule(const std::string& name) {
  v1::ModuleId m;
  m.set_layer(v1::LAYER_CONFIG);
  m.set_name(name);
  return m;
}

void RunSet(const SchemaFlags& f, CliContext& ctx, bool clear) {
  v1::SetModuleSchemaRequest req;
  req.set_app_id(f.app);
  *req.mutable_module() = ConfigModule(f.module);
  if (!clear) {
    absl::StatusOr<std::string> text = PosixFileSystem()->ReadFile(f.file);
    if (!text.ok()) {
      return ctx.Fail(
          absl::InvalidArgumentError(StrCat("cannot read --file ", f.file, ": ",
                                            ToStd(text.status().message()))));
    }
    // Checked here too, so a bad schema names its problem before sending.
    absl::StatusOr<JsonSchema> schema = JsonSchema::Parse(*text);
    if (!schema.ok()) {
      return ctx.Fail(absl::InvalidArgumentError(
          StrCat(f.file, ": ", ToStd(schema.status().message()))));
    }
    req.set_schema(*text);
  }
  absl::StatusOr<v1::ModuleSchema> r = ctx.Client().SetModuleSchema(req);
  if (!r.ok()) return ctx.Fail(r.status());
  ctx.Print(*r, clear ? StrCat("config/", f.module,
                               " has no schema any more; later publishes are "
                               "checked as JSON objects only\n")
                      : StrCat("config/", f.module,
                               ": later publishes must match the schema (",
                               r->schema().size(),
                               " bytes); published versions are not "
                               "re-checked\n"));
}

void RunShow(const SchemaFlags& f, CliContext& ctx) {
  v1::GetModuleSchemaRequest req;
  req.set_app_id(f.app);
  *req.mutable_module() = ConfigModule(f.module);
  absl::StatusOr<v1::ModuleSchema> r = ctx.Client().GetModuleSchema(req);
  if (!r.ok()) return ctx.Fail(r.status());
  if (r->schema().empty()) {
    ctx.Print(*r, StrCat("config/", f.module, " has no schema\n"));
    return;
  }
  std::string text = r->schema();
  if (text.back() != '\n') text += "\n";
  ctx.Print(*r, StrCat("# config/", f.module, " schema, set ",
                       TimeText(absl::FromUnixSeconds(r->updated_at_unix())),
                       " by ", r->updated_by(), "\n", text));
}

}  // namespace

void AddSchemaCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<SchemaFlags>();
  CLI::App* schema = app.add_subcommand(
      "schema",
      "The JSON Schema new versions of a config module must match (checked\n"
      "by stratad at publish, and by `strata publish` before it signs).\n"
      "Supported: type, enum, const, properties, required,\n"
      "additionalProperties, minProperties, maxProperties, items, minItems,\n"
      "maxItems, uniqueItems, minimum, maximum, exclusiveMinimum,\n"
      "exclusiveMaximum, multipleOf (integers), minLength, maxLength; any\n"
      "other keyword is refused by name (docs/cli.md).\n\n"
      "Example:\n"
      "  strata schema set --app wallet --module payment.limits --file "
      "limits.schema.json");
  schema->require_subcommand(1);
  CLI::App* set = schema->add_subcommand(
      "set",
      "Sets the module's schema (release manager; audited). Applies to later\n"
      "publishes; published versions are immutable and not re-checked.\n\n"
      "Example:\n"
      "  strata schema set --app wallet --module payment.limits --file "
      "limits.schema.json");
  AddAppOption(set, flags->app, ctx);
  set->add_option("--module", flags->module, "config module")->required();
  set->add_option("--file", flags->file, "the schema (JSON)")->required();
  set->callback([flags, &ctx] { RunSet(*flags, ctx, false); });

  CLI::App* show = schema->add_subcommand(
      "show",
      "Prints the module's schema. JSON: ModuleSchema (schema \"\" when "
      "none).\n\n"
      "Example:\n"
      "  strata schema show --app wallet --module payment.limits");
  AddAppOption(show, flags->app, ctx);
  show->add_option("--module", flags->module, "config module")->required();
  show->callback([flags, &ctx] { RunShow(*flags, ctx); });

  CLI::App* clear = schema->add_subcommand(
      "clear",
      "Removes the module's schema (release manager; audited).\n\n"
      "Example:\n"
      "  strata schema clear --app wallet --module payment.limits");
  AddAppOption(clear, flags->app, ctx);
  clear->add_option("--module", flags->module, "config module")->required();
  clear->callback([flags, &ctx] { RunSet(*flags, ctx, true); });
}

}  // namespace strata::admin
