#include "remedy.h"

#include <algorithm>
#include <utility>

#include "strata/base/json.h"
#include "strata/base/names.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/failure_signature.h"

namespace strata::client {
namespace {

constexpr std::pair<RemedyAction, std::string_view> kActionNames[] = {
    {RemedyAction::kDisableModule, "disable_module"},
    {RemedyAction::kRollbackToEmbedded, "rollback_to_embedded"},
    {RemedyAction::kClearModuleCache, "clear_module_cache"},
    {RemedyAction::kClearAppData, "clear_app_data"},
    {RemedyAction::kBlockUpdate, "block_update"},
    {RemedyAction::kCountOnly, "count_only"},
};

// DeviceInfo fields a rule may match, by name.
const std::string* RemedyDeviceField(const DeviceInfo& d,
                                     std::string_view name) {
  if (name == "os") return &d.os;
  if (name == "os_version") return &d.os_version;
  if (name == "app_version") return &d.app_version;
  if (name == "host_build") return &d.host_build;
  if (name == "device_model") return &d.device_model;
  if (name == "region") return &d.region;
  if (name == "channel") return &d.channel;
  if (name == "locale") return &d.locale;
  if (name == "runtime_version") return &d.runtime_version;
  return nullptr;
}

absl::Status RemedyRuleError(size_t index, std::string_view id,
                             std::string_view what) {
  return absl::InvalidArgumentError(
      StrCat("remedy rule ", index, id.empty() ? "" : StrCat(" '", id, "'"),
             ": ", what));
}

// "h5/mall-home" -> (2, "mall-home").
absl::StatusOr<ModuleKey> ParseModuleRef(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("module '", text, "' is not <layer>/<name>, e.g. h5/mall-home"));
  }
  std::optional<Layer> layer = ParseLayer(text.substr(0, slash));
  if (!layer.has_value()) {
    return absl::InvalidArgumentError(
        StrCat("module '", text,
               "' has an unknown layer; say config, h5, hcf, hotpatch or "
               "native"));
  }
  const std::string name(text.substr(slash + 1));
  STRATA_RETURN_IF_ERROR(ValidateName("module name", name));
  return ModuleKey{static_cast<int>(*layer), name};
}

// A string, or an array of at most kMaxRemedyValues strings.
absl::StatusOr<std::vector<std::string>> RemedyValues(const Json& v,
                                                      std::string_view field) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.as_string());
    return out;
  }
  if (!v.is_array() || v.as_array().empty() ||
      v.as_array().size() > kMaxRemedyValues) {
    return absl::InvalidArgumentError(
        StrCat("'", field, "' must be a string or a list of 1 to ",
               kMaxRemedyValues, " strings"));
  }
  for (const Json& e : v.as_array()) {
    if (!e.is_string()) {
      return absl::InvalidArgumentError(StrCat(
          "'", field, "' lists a ", JsonTypeName(e.type()), "; list strings"));
    }
    out.push_back(e.as_string());
  }
  return out;
}

absl::StatusOr<RemedyRule> ParseRemedyRule(const Json& r, size_t index) {
  RemedyRule rule;
  if (!r.is_object()) return RemedyRuleError(index, "", "is not a JSON object");
  const Json* id = r.Find("id");
  if (id == nullptr || !id->is_string() ||
      !ValidateName("id", id->as_string()).ok()) {
    return RemedyRuleError(
        index, "",
        "needs an \"id\" of 1 to 128 of [A-Za-z0-9._-] (it is "
        "how devices record that they applied it)");
  }
  rule.id = id->as_string();
  auto fail = [&](std::string_view what) {
    return RemedyRuleError(index, rule.id, what);
  };
  for (const auto& [key, value] : r.as_object()) {
    if (key != "id" && key != "when" && key != "action" && key != "module" &&
        key != "version") {
      return fail(StrCat("unknown key \"", key,
                         "\"; a rule has id, when, action, module, version"));
    }
  }
  const Json* when = r.Find("when");
  if (when == nullptr || !when->is_object()) {
    return fail(
        "needs \"when\", an object (may be {} to match every device the "
        "rules' release reaches)");
  }
  for (const auto& [key, value] : when->as_object()) {
    if (key == "signature") {
      if (!value.is_string() || !IsFailureSignatureId(value.as_string())) {
        return fail(
            "when.signature must be a signature id (16 lowercase hex, as "
            "`strata failures list` shows)");
      }
      rule.signature = value.as_string();
    } else if (key == "module") {
      if (!value.is_string()) return fail("when.module must be a string");
      absl::StatusOr<ModuleKey> m = ParseModuleRef(value.as_string());
      if (!m.ok()) return fail(StrCat("when.", ToStd(m.status().message())));
      rule.module = *m;
    } else if (key == "version") {
      absl::StatusOr<std::vector<std::string>> v =
          RemedyValues(value, "when.version");
      if (!v.ok()) return fail(ToStd(v.status().message()));
      rule.versions = *std::move(v);
    } else if (key == "unhealthy_launches") {
      if (!value.is_int() || value.as_int() < 1 || value.as_int() > 1000) {
        return fail(
            "when.unhealthy_launches must be a whole number from 1 to 1000 "
            "(unhealthy launches in a row)");
      }
      rule.min_unhealthy_launches = static_cast<int>(value.as_int());
    } else if (key == "attributes") {
      if (!value.is_object() || value.as_object().size() > kMaxRemedyValues) {
        return fail("when.attributes must be an object of at most 64 keys");
      }
      for (const auto& [name, v] : value.as_object()) {
        absl::StatusOr<std::vector<std::string>> vs =
            RemedyValues(v, StrCat("when.attributes.", name));
        if (!vs.ok()) return fail(ToStd(vs.status().message()));
        rule.attributes[name] = *std::move(vs);
      }
    } else if (RemedyDeviceField(DeviceInfo{}, key) != nullptr) {
      absl::StatusOr<std::vector<std::string>> v =
          RemedyValues(value, StrCat("when.", key));
      if (!v.ok()) return fail(ToStd(v.status().message()));
      rule.device[key] = *std::move(v);
    } else {
      return fail(StrCat(
          "unknown match key when.\"", key,
          "\"; say signature, module, version, unhealthy_launches, "
          "attributes, os, os_version, "
          "app_version, host_build, device_model, region, channel, locale "
          "or runtime_version"));
    }
  }
  if (!rule.versions.empty() && !rule.module.has_value()) {
    return fail("when.version needs when.module (the version of which module)");
  }
  const Json* action = r.Find("action");
  std::optional<RemedyAction> a;
  if (action != nullptr && action->is_string()) {
    a = ParseRemedyAction(action->as_string());
  }
  if (!a.has_value()) {
    return fail(
        "needs an \"action\": disable_module, rollback_to_embedded, "
        "clear_module_cache, clear_app_data, block_update or count_only");
  }
  rule.action = *a;
  if (const Json* m = r.Find("module")) {
    if (!m->is_string()) return fail("\"module\" must be a string");
    absl::StatusOr<ModuleKey> k = ParseModuleRef(m->as_string());
    if (!k.ok()) return fail(ToStd(k.status().message()));
    rule.target = *k;
  } else {
    rule.target = rule.module;
  }
  if (const Json* v = r.Find("version")) {
    if (!v->is_string() || !ValidateName("version", v->as_string()).ok()) {
      return fail("\"version\" must be a version name");
    }
    rule.target_version = v->as_string();
  }
  const bool needs_module = rule.action != RemedyAction::kCountOnly &&
                            rule.action != RemedyAction::kClearAppData;
  if (needs_module && !rule.target.has_value()) {
    return fail(StrCat(RemedyActionName(rule.action),
                       " needs a module: \"module\" or when.module"));
  }
  if (rule.action == RemedyAction::kBlockUpdate &&
      rule.target_version.empty()) {
    return fail("block_update needs the \"version\" to block");
  }
  return rule;
}

bool RemedyAnyOf(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

}  // namespace

std::string_view RemedyActionName(RemedyAction action) {
  for (const auto& [a, name] : kActionNames) {
    if (a == action) return name;
  }
  return "?";
}

std::optional<RemedyAction> ParseRemedyAction(std::string_view name) {
  for (const auto& [a, n] : kActionNames) {
    if (n == name) return a;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<RemedyRule>> ParseRemedyRules(
    std::string_view text) {
  STRATA_ASSIGN_OR_RETURN(Json doc, Json::Parse(text));
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        "the strata.remedies document is not a JSON object; it is "
        "{\"rules\": [...]}");
  }
  for (const auto& [key, value] : doc.as_object()) {
    if (key != "rules") {
      return absl::InvalidArgumentError(
          StrCat("the strata.remedies document has an unknown key \"", key,
                 "\"; it has \"rules\" only"));
    }
  }
  const Json* rules = doc.Find("rules");
  if (rules == nullptr || !rules->is_array()) {
    return absl::InvalidArgumentError(
        "the strata.remedies document needs \"rules\", a list");
  }
  if (rules->as_array().size() > kMaxRemedyRules) {
    return absl::InvalidArgumentError(
        StrCat("the strata.remedies document has ", rules->as_array().size(),
               " rules; at most ", kMaxRemedyRules));
  }
  std::vector<RemedyRule> out;
  std::set<std::string> ids;
  for (size_t i = 0; i < rules->as_array().size(); ++i) {
    STRATA_ASSIGN_OR_RETURN(RemedyRule rule,
                            ParseRemedyRule(rules->as_array()[i], i));
    if (!ids.insert(rule.id).second) {
      return RemedyRuleError(i, rule.id, "repeats the id of an earlier rule");
    }
    out.push_back(std::move(rule));
  }
  return out;
}

bool RemedyMatches(const RemedyRule& rule, const RemedyFacts& facts) {
  if (!rule.signature.empty() &&
      (facts.seen_signatures == nullptr ||
       !RemedyAnyOf(*facts.seen_signatures, rule.signature))) {
    return false;
  }
  if (facts.unhealthy_launches < rule.min_unhealthy_launches) return false;
  if (rule.module.has_value()) {
    const std::string version = facts.active_version(*rule.module);
    if (version.empty()) return false;  // the module does not run here
    if (!rule.versions.empty() && !RemedyAnyOf(rule.versions, version))
      return false;
  }
  for (const auto& [name, values] : rule.device) {
    const std::string* v = RemedyDeviceField(*facts.device, name);
    if (v == nullptr || !RemedyAnyOf(values, *v)) return false;
  }
  for (const auto& [name, values] : rule.attributes) {
    auto it = facts.device->attributes.find(name);
    if (it == facts.device->attributes.end() ||
        !RemedyAnyOf(values, it->second)) {
      return false;
    }
  }
  return true;
}

}  // namespace strata::client
