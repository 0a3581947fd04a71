#include "url_map.h"

#include "strata/base/json.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "url_rules.h"

namespace strata::client {

absl::StatusOr<std::vector<std::string>> ParseUrlPrefixes(
    std::string_view json) {
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(
        StrCat(kPackageFile, ": ", what,
               "; expected {\"url_prefixes\": [\"https://host/path/\", ...]}"));
  };
  // Plain JSON: a package file may hold fractions (a "version": 1.5)
  // that TUF's integer-only reading would refuse.
  JsonParseOptions options;
  options.allow_fractions = true;
  absl::StatusOr<Json> doc = Json::Parse(json, options);
  if (!doc.ok() || !doc->is_object()) return bad("not a JSON object");
  const Json* list = doc->Find("url_prefixes");
  if (list == nullptr) return std::vector<std::string>{};
  if (!list->is_array()) return bad("url_prefixes is not an array");
  std::vector<std::string> out;
  for (const Json& p : list->as_array()) {
    if (!p.is_string()) return bad("a url_prefixes member is not a string");
    const std::string& s = p.as_string();
    if (std::string problem = url_rules::PrefixProblem(s); !problem.empty()) {
      return bad(problem);
    }
    out.push_back(s);
  }
  return out;
}

bool UrlHasPrefix(std::string_view url, std::string_view prefix) {
  return url_rules::UrlHasPrefix(url, prefix);
}

absl::StatusOr<std::string> TreePathOfUrl(std::string_view rest) {
  std::string path;
  if (std::string problem = url_rules::TreePathOfUrl(rest, &path);
      !problem.empty()) {
    return absl::InvalidArgumentError(problem);
  }
  return path;
}

}  // namespace strata::client
