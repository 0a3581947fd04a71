// Remedy rules (docs/remedies.md): what the operators configured the SDK
// to do about a failure, delivered as the CONFIG module `strata.remedies`
// (signed, verified and released like any config). This unit parses the
// document and decides whether a rule matches this device; the Client
// applies matching rules (client_impl.h, ApplyRemedies). Pure functions.
#ifndef STRATA_CLIENT_SRC_REMEDY_H_
#define STRATA_CLIENT_SRC_REMEDY_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "client_state.h"
#include "strata/client/client.h"

namespace strata::client {

// The reserved CONFIG module that carries the rules.
inline constexpr std::string_view kRemediesModule = "strata.remedies";
// Rules in one document.
inline constexpr size_t kMaxRemedyRules = 256;
// Values one match field may list.
inline constexpr size_t kMaxRemedyValues = 64;

enum class RemedyAction {
  kDisableModule,       // not opened: the embedded version, else the network
  kRollbackToEmbedded,  // the installed version goes (banned), embedded runs
  kClearModuleCache,    // the host's RemedyHooks::clear_module_cache
  kClearAppData,        // the host's RemedyHooks::clear_app_data
  kBlockUpdate,         // this module's `version` is not installed here
  kCountOnly,           // nothing but the report that it matched
};
// "disable_module", "rollback_to_embedded", "clear_module_cache",
// "clear_app_data", "block_update", "count_only".
std::string_view RemedyActionName(RemedyAction action);
std::optional<RemedyAction> ParseRemedyAction(std::string_view name);

struct RemedyRule {
  std::string id;
  // Match (all given fields must hold; a list matches any of its values):
  // a failure signature this device reported, the module and its active
  // version, DeviceInfo fields by name and DeviceInfo::attributes.
  std::string signature;
  std::optional<ModuleKey> module;
  std::vector<std::string> versions;
  std::map<std::string, std::vector<std::string>> device;
  std::map<std::string, std::vector<std::string>> attributes;
  // At least this many unhealthy launches in a row (BeginLaunch without
  // MarkLaunchHealthy), the previous one included; 0: any.
  int min_unhealthy_launches = 0;
  RemedyAction action = RemedyAction::kCountOnly;
  // What the action acts on (default: the matched module) and, for
  // block_update, the version it blocks.
  std::optional<ModuleKey> target;
  std::string target_version;
};

// Parses a `strata.remedies` document:
//   {"rules": [{"id": "...", "when": {...}, "action": "...",
//               "module": "h5/name", "version": "..."}]}
// Strict: an unknown key (in a rule or its "when") is an error, so a typo
// cannot widen a match; every action but count_only and clear_app_data
// needs a module; block_update needs a version. kInvalidArgument naming
// the rule and field.
absl::StatusOr<std::vector<RemedyRule>> ParseRemedyRules(std::string_view text);

// What a rule is matched against.
struct RemedyFacts {
  const DeviceInfo* device = nullptr;
  const std::vector<std::string>* seen_signatures = nullptr;
  // The active version of a module ("embedded" for shipped content, ""
  // when none).
  std::function<std::string(const ModuleKey&)> active_version;
  // Unhealthy launches in a row, the previous one included.
  int unhealthy_launches = 0;
};
bool RemedyMatches(const RemedyRule& rule, const RemedyFacts& facts);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_REMEDY_H_
