// Typed, bounds-checked access to the members of untrusted JSON objects;
// every error names the role and the field path and carries
// MALFORMED_METADATA.
#ifndef STRATA_SIGNING_SRC_JSON_FIELDS_H_
#define STRATA_SIGNING_SRC_JSON_FIELDS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "strata/base/json.h"
#include "strata/base/strings.h"
#include "strata/signing/reject_reason.h"

namespace strata::signing::internal {

inline absl::Status Malformed(std::string_view message) {
  return Reject(RejectReason::kMalformedMetadata,
                absl::StatusCode::kInvalidArgument, message);
}

class Fields {
 public:
  // `role`: "root", "h5", ...; `path`: "signed", "signed.meta[...]".
  Fields(const Json& object, std::string_view role, std::string path)
      : object_(object), role_(role), path_(std::move(path)) {}

  std::string PathOf(std::string_view name) const {
    return strata::StrCat(path_, ".", name);
  }
  absl::Status Error(std::string_view field, std::string_view problem) const {
    return Malformed(strata::StrCat(role_, " metadata: field ", PathOf(field),
                                    " ", problem));
  }
  absl::Status CheckObject() const {
    if (!object_.is_object()) {
      return Malformed(strata::StrCat(role_, " metadata: ", path_,
                                      " must be an object, got ",
                                      JsonTypeName(object_.type())));
    }
    return absl::OkStatus();
  }

  const Json* Find(std::string_view name) const { return object_.Find(name); }

  absl::StatusOr<const Json*> Typed(std::string_view name, Json::Type type,
                                    bool required) const {
    const Json* v = object_.Find(name);
    if (v == nullptr) {
      if (required) return Error(name, "is missing");
      return nullptr;
    }
    if (v->type() != type) {
      return Error(name, strata::StrCat("must be a ", JsonTypeName(type),
                                        ", got ", JsonTypeName(v->type())));
    }
    return v;
  }

  absl::StatusOr<std::string> String(std::string_view name) const {
    absl::StatusOr<const Json*> v = Typed(name, Json::Type::kString, true);
    if (!v.ok()) return v.status();
    return (*v)->as_string();
  }
  absl::StatusOr<std::string> OptString(std::string_view name) const {
    absl::StatusOr<const Json*> v = Typed(name, Json::Type::kString, false);
    if (!v.ok()) return v.status();
    return *v == nullptr ? std::string() : (*v)->as_string();
  }
  absl::StatusOr<std::optional<uint64_t>> OptUint(std::string_view name) const {
    absl::StatusOr<const Json*> v = Typed(name, Json::Type::kInt, false);
    if (!v.ok()) return v.status();
    if (*v == nullptr) return std::optional<uint64_t>();
    if ((*v)->as_int() < 0) return Error(name, "must not be negative");
    return std::optional<uint64_t>(static_cast<uint64_t>((*v)->as_int()));
  }
  absl::StatusOr<uint64_t> Uint(std::string_view name) const {
    absl::StatusOr<std::optional<uint64_t>> v = OptUint(name);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Error(name, "is missing");
    return **v;
  }
  absl::StatusOr<bool> Bool(std::string_view name) const {
    absl::StatusOr<const Json*> v = Typed(name, Json::Type::kBool, true);
    if (!v.ok()) return v.status();
    return (*v)->as_bool();
  }
  absl::StatusOr<const Json*> Object(std::string_view name,
                                     bool required = true) const {
    return Typed(name, Json::Type::kObject, required);
  }
  absl::StatusOr<const Json*> Array(std::string_view name,
                                    bool required = true) const {
    return Typed(name, Json::Type::kArray, required);
  }

  // {"sha256": "<hex>", ...}: lowercase-hex strings; sha256 must be valid
  // when present.
  absl::StatusOr<std::map<std::string, std::string>> Hashes(
      std::string_view name, bool required) const {
    std::map<std::string, std::string> out;
    absl::StatusOr<const Json*> v = Object(name, required);
    if (!v.ok()) return v.status();
    if (*v == nullptr) return out;
    for (const auto& [algo, hex] : (*v)->as_object()) {
      const std::string field = strata::StrCat(name, ".", algo);
      if (!hex.is_string() || hex.as_string().empty() ||
          hex.as_string().size() > 256 ||
          hex.as_string().find_first_not_of("0123456789abcdef") !=
              std::string::npos) {
        return Error(field, "must be a lowercase hex string");
      }
      if (algo == "sha256" && hex.as_string().size() != 64) {
        return Error(field, "must have 64 hex digits");
      }
      out.emplace(algo, hex.as_string());
    }
    if (required && out.empty()) return Error(name, "must not be empty");
    return out;
  }

  const std::string& role() const { return role_; }
  const std::string& path() const { return path_; }

 private:
  const Json& object_;
  std::string role_;
  std::string path_;
};

}  // namespace strata::signing::internal

#endif  // STRATA_SIGNING_SRC_JSON_FIELDS_H_
