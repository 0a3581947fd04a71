#include "content_checks.h"

#include <algorithm>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/ustar_reader.h"

namespace strata::admin {
namespace {

// The JSON Pointer of the first number with a fraction, or "".
std::string FirstFraction(const Json& j, const std::string& path) {
  if (j.is_double()) return path.empty() ? "/" : path;
  if (j.is_array()) {
    for (size_t i = 0; i < j.as_array().size(); ++i) {
      std::string p = FirstFraction(j.as_array()[i], StrCat(path, "/", i));
      if (!p.empty()) return p;
    }
  }
  if (j.is_object()) {
    for (const auto& [key, value] : j.as_object()) {
      std::string p = FirstFraction(value, StrCat(path, "/", key));
      if (!p.empty()) return p;
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<Json> ParseConfigDocument(std::string_view what,
                                         std::string_view content) {
  JsonParseOptions options;
  options.allow_fractions = true;
  absl::StatusOr<Json> doc = Json::Parse(content, options);
  if (!doc.ok()) {
    return absl::InvalidArgumentError(
        StrCat(what, " is not valid JSON: ", ToStd(doc.status().message()),
               "; nothing is stored. Fix the document and publish again"));
  }
  return doc;
}

absl::Status CheckContent(v1::Layer layer, std::string_view what,
                          std::string_view content, bool allow_empty,
                          const JsonSchema* schema,
                          std::vector<std::string>* notes) {
  if (content.empty()) {
    if (allow_empty) return absl::OkStatus();
    return absl::InvalidArgumentError(StrCat(
        what,
        " is empty (0 bytes); nothing is stored. Publish the "
        "content, or pass --allow-empty if an empty version is intended"));
  }
  if (layer == v1::LAYER_CONFIG) {
    STRATA_ASSIGN_OR_RETURN(Json doc, ParseConfigDocument(what, content));
    if (!doc.is_object()) {
      return absl::InvalidArgumentError(
          StrCat(what,
                 " must be a JSON object (a key/value document); its top "
                 "level is ",
                 JsonTypeName(doc.type()), ". Nothing is stored"));
    }
    if (schema != nullptr) {
      if (absl::Status s = schema->Check(doc, what); !s.ok()) {
        return absl::InvalidArgumentError(
            StrCat(ToStd(s.message()), ". Nothing is stored"));
      }
    }
    if (std::string at = FirstFraction(doc, ""); !at.empty() && notes) {
      notes->push_back(StrCat(
          what, " has numbers with fractions (the first at ", at,
          "): the SDK's typed getters (GetConfigInt, GetConfigString) read "
          "integer-only documents, so apps must read this one with "
          "GetConfig()"));
    }
    return absl::OkStatus();
  }
  if (!diff::LooksLikeUstar(content)) return absl::OkStatus();
  absl::StatusOr<std::vector<diff::UstarEntry>> entries =
      diff::UstarReader::Read(content);
  if (!entries.ok()) {
    return absl::InvalidArgumentError(
        StrCat(what, " is a tar archive that cannot be published: ",
               ToStd(entries.status().message()), ". Nothing is stored"));
  }
  const bool any = std::any_of(
      entries->begin(), entries->end(), [](const diff::UstarEntry& e) {
        return e.type != diff::UstarEntry::Type::kDirectory;
      });
  if (!any && !allow_empty) {
    return absl::InvalidArgumentError(
        StrCat(what,
               " is a tar archive that holds no files; nothing is stored. "
               "Pass --allow-empty if an empty tree is intended"));
  }
  return absl::OkStatus();
}

}  // namespace strata::admin
