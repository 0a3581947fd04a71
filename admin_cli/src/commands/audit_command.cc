// strata audit list|verify
#include <ctime>
#include <iostream>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/strings.h"
#include "strata/proto/audit_chain.h"

namespace strata::admin {
namespace {

std::string Time(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
  return buf;
}

}  // namespace

void AddAuditCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* audit = app.add_subcommand(
      "audit",
      "Read and verify the append-only, hash-chained audit log.\n\n"
      "Example:\n  strata audit verify && strata audit list");
  audit->require_subcommand(1);
  CLI::App* list =
      audit->add_subcommand("list",
                            "Print every audit entry.\n\nExample:\n  strata "
                            "audit list --output json");
  list->callback([&ctx] {
    auto entries = ctx.Client().ListAudit();
    if (!entries.ok()) {
      ctx.Fail(entries.status());
      return;
    }
    v1::ListAuditResponse all;
    std::string text;
    for (const auto& e : *entries) {
      *all.add_entries() = e;
      text += StrCat(e.seq(), "  ", Time(e.at_unix()), "  ", e.actor(), "  ",
                     e.action(), "  ", e.app_id(), "  ", e.detail(), "\n");
    }
    ctx.Print(all, text);
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
