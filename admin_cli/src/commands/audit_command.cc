// strata audit list|verify
#include <iostream>

#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
#include "strata/base/strings.h"
#include "strata/proto/audit_chain.h"

namespace strata::admin {
void AddAuditCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* audit = app.add_subcommand(
      "audit",
      "Read and verify the append-only, hash-chained audit log.\n\n"
      "Example:\n  strata audit verify && strata audit list");
  audit->require_subcommand(1);
  CLI::App* list = audit->add_subcommand(
      "list",
      "Print every audit entry: sequence number, time (UTC),\n"
      "actor, action, app and detail, layers by name.\n\n"
      "Example:\n  strata audit list --output json");
  list->callback([&ctx] {
    auto entries = ctx.Client().ListAudit();
    if (!entries.ok()) {
      ctx.Fail(entries.status());
      return;
    }
    v1::ListAuditResponse all;
    for (const auto& e : *entries) *all.add_entries() = e;
    ctx.Print(all, RenderAuditList(*entries));
  });
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Fetch the whole log and check its hash chain here, independently of\n"
      "the server: every entry must chain to the one before and hash right.\n"
      "Exit code 4 and the first bad entry when it does not.\n\n"
      "Example:\n  strata audit verify");
  verify->callback([&ctx] {
    auto entries = ctx.Client().ListAudit();
    if (!entries.ok()) {
      ctx.Fail(entries.status());
      return;
    }
    absl::Status s = VerifyAuditChain(*entries, 1, "");
    if (!s.ok()) {
      ctx.Fail(s);
      return;
    }
    const std::string head = entries->empty() ? "" : entries->back().hash();
    Json out = Json::MakeObject();
    out["verified"] = true;
    out["entries"] = entries->size();
    out["head"] = head;
    ctx.Print(out, StrCat("audit log verified: ", entries->size(),
                          " entries, head ", head, "\n"));
  });
}

}  // namespace strata::admin
