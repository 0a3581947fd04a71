#include "strata/base/json_schema.h"

#include <cmath>
#include <map>
#include <set>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

constexpr std::string_view kTypes[] = {"null",   "boolean", "object", "array",
                                       "number", "integer", "string"};

bool IsTypeName(std::string_view s) {
  for (std::string_view t : kTypes) {
    if (t == s) return true;
  }
  return false;
}

// JSON Pointer of a child: "/" + the key with '~' and '/' escaped.
std::string Child(const std::string& path, std::string_view key) {
  std::string out = path + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Where(const std::string& path) {
  return path.empty() ? std::string("at the top level") : StrCat("at ", path);
}

absl::Status Bad(const std::string& path, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(
      "schema ", path.empty() ? std::string("(top level)") : path, ": ", what));
}

std::string Short(const Json& v) {
  std::string s = v.Dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

absl::Status NeedNumber(const Json& v, const std::string& path,
                        std::string_view key) {
  if (!v.is_number()) {
    return Bad(path, StrCat("'", key, "' must be a number"));
  }
  return absl::OkStatus();
}

absl::Status NeedCount(const Json& v, const std::string& path,
                       std::string_view key) {
  if (!v.is_int() || v.as_int() < 0) {
    return Bad(path, StrCat("'", key, "' must be a non-negative integer"));
  }
  return absl::OkStatus();
}

absl::Status CheckSchema(const Json& s, const std::string& path, int depth);

absl::Status CheckKeyword(const std::string& key, const Json& v,
                          const std::string& path, int depth) {
  static const std::set<std::string, std::less<>> kAnnotations = {
      "$schema", "$id",      "$comment",   "title",    "description",
      "default", "examples", "deprecated", "readOnly", "writeOnly"};
  if (kAnnotations.count(key)) return absl::OkStatus();
  if (key == "type") {
    if (v.is_string()) {
      if (!IsTypeName(v.as_string())) {
        return Bad(path, StrCat("unknown type \"", v.as_string(),
                                "\" (null, boolean, object, array, number, "
                                "integer, string)"));
      }
      return absl::OkStatus();
    }
    if (v.is_array() && !v.as_array().empty()) {
      for (const Json& t : v.as_array()) {
        if (!t.is_string() || !IsTypeName(t.as_string())) {
          return Bad(path, StrCat("'type' lists ", Short(t),
                                  ", which is not a type name"));
        }
      }
      return absl::OkStatus();
    }
    return Bad(path, "'type' must be a type name or a non-empty list of them");
  }
  if (key == "enum") {
    if (!v.is_array() || v.as_array().empty()) {
      return Bad(path, "'enum' must be a non-empty array");
    }
    return absl::OkStatus();
  }
  if (key == "const") return absl::OkStatus();
  if (key == "properties") {
    if (!v.is_object()) return Bad(path, "'properties' must be an object");
    for (const auto& [name, sub] : v.as_object()) {
      STRATA_RETURN_IF_ERROR(
          CheckSchema(sub, Child(Child(path, "properties"), name), depth + 1));
    }
    return absl::OkStatus();
  }
  if (key == "required") {
    if (!v.is_array()) return Bad(path, "'required' must be an array");
    std::set<std::string> seen;
    for (const Json& r : v.as_array()) {
      if (!r.is_string() || !seen.insert(r.as_string()).second) {
        return Bad(path, "'required' must list distinct property names");
      }
    }
    return absl::OkStatus();
  }
  if (key == "additionalProperties" || key == "items") {
    if (key == "items" && v.is_array()) {
      return Bad(path,
                 "'items' as a list (tuple validation) is not supported; give "
                 "one schema for every element");
    }
    return CheckSchema(v, Child(path, key), depth + 1);
  }
  if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" ||
      key == "exclusiveMaximum") {
    return NeedNumber(v, path, key);
  }
  if (key == "multipleOf") {
    if (!v.is_int() || v.as_int() <= 0) {
      return Bad(path, "'multipleOf' must be a positive integer");
    }
    return absl::OkStatus();
  }
  if (key == "minLength" || key == "maxLength" || key == "minItems" ||
      key == "maxItems" || key == "minProperties" || key == "maxProperties") {
    return NeedCount(v, path, key);
  }
  if (key == "uniqueItems") {
    if (!v.is_bool()) return Bad(path, "'uniqueItems' must be true or false");
    return absl::OkStatus();
  }
  return Bad(path, StrCat("keyword '", key,
                          "' is not supported; supported: type, enum, const, "
                          "properties, required, additionalProperties, "
                          "minProperties, maxProperties, items, minItems, "
                          "maxItems, uniqueItems, minimum, maximum, "
                          "exclusiveMinimum, exclusiveMaximum, multipleOf, "
                          "minLength, maxLength (docs/cli.md)"));
}

absl::Status CheckSchema(const Json& s, const std::string& path, int depth) {
  if (depth > 32) return Bad(path, "nested more than 32 schemas deep");
  if (s.is_bool()) return absl::OkStatus();  // true: anything; false: nothing
  if (!s.is_object()) {
    return Bad(path, StrCat("a schema must be an object or true/false, not ",
                            JsonTypeName(s.type())));
  }
  for (const auto& [key, value] : s.as_object()) {
    STRATA_RETURN_IF_ERROR(CheckKeyword(key, value, path, depth));
  }
  return absl::OkStatus();
}

bool IsInteger(const Json& v) {
  if (v.is_int()) return true;
  return v.is_double() && std::floor(v.as_double()) == v.as_double();
}

bool HasType(const Json& v, std::string_view type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_bool();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return IsInteger(v);
  return false;
}

std::string TypeOf(const Json& v) {
  return std::string(v.is_double() ? "number" : JsonTypeName(v.type()));
}

// -1, 0, 1 comparing two numbers (exactly when both are integers).
int Compare(const Json& a, const Json& b) {
  if (a.is_int() && b.is_int()) {
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  }
  const double x = a.as_number(), y = b.as_number();
  return x < y ? -1 : x > y ? 1 : 0;
}

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

class Validator {
 public:
  explicit Validator(size_t max) : max_(max) {}

  void Run(const Json& schema, const Json& v, const std::string& path) {
    if (full()) return;
    if (schema.is_bool()) {
      if (!schema.as_bool()) Add(path, "no value is allowed here");
      return;
    }
    if (const Json* type = schema.Find("type")) CheckType(*type, v, path);
    if (const Json* e = schema.Find("enum")) {
      bool found = false;
      for (const Json& option : e->as_array()) found |= JsonEquals(option, v);
      if (!found) {
        std::string options;
        for (const Json& option : e->as_array()) {
          if (!options.empty()) options += ", ";
          options += Short(option);
        }
        Add(path, StrCat(Short(v), " is not one of ", options));
      }
    }
    if (const Json* c = schema.Find("const"); c && !JsonEquals(*c, v)) {
      Add(path, StrCat(Short(v), " must be ", Short(*c)));
    }
    if (v.is_number()) Numbers(schema, v, path);
    if (v.is_string()) Strings(schema, v, path);
    if (v.is_array()) Arrays(schema, v, path);
    if (v.is_object()) Objects(schema, v, path);
  }

  std::vector<std::string> errors;

 private:
  bool full() const { return errors.size() >= max_; }
  void Add(const std::string& path, std::string what) {
    if (!full()) errors.push_back(StrCat(Where(path), ": ", what));
  }

  void CheckType(const Json& type, const Json& v, const std::string& path) {
    std::vector<std::string> names;
    if (type.is_string()) {
      names.push_back(type.as_string());
    } else {
      for (const Json& t : type.as_array()) names.push_back(t.as_string());
    }
    for (const std::string& n : names) {
      if (HasType(v, n)) return;
    }
    std::string want;
    for (const std::string& n : names) {
      if (!want.empty()) want += " or ";
      want += n;
    }
    Add(path, StrCat(Short(v), " is ", TypeOf(v), ", not ", want));
  }

  void Numbers(const Json& s, const Json& v, const std::string& path) {
    if (const Json* m = s.Find("minimum"); m && Compare(v, *m) < 0) {
      Add(path, StrCat(Short(v), " is below the minimum ", Short(*m)));
    }
    if (const Json* m = s.Find("maximum"); m && Compare(v, *m) > 0) {
      Add(path, StrCat(Short(v), " is above the maximum ", Short(*m)));
    }
    if (const Json* m = s.Find("exclusiveMinimum"); m && Compare(v, *m) <= 0) {
      Add(path, StrCat(Short(v), " must be greater than ", Short(*m)));
    }
    if (const Json* m = s.Find("exclusiveMaximum"); m && Compare(v, *m) >= 0) {
      Add(path, StrCat(Short(v), " must be less than ", Short(*m)));
    }
    if (const Json* m = s.Find("multipleOf")) {
      const bool ok =
          v.is_int()
              ? v.as_int() % m->as_int() == 0
              : std::fmod(v.as_double(), static_cast<double>(m->as_int())) == 0;
      if (!ok) {
        Add(path, StrCat(Short(v), " is not a multiple of ", m->as_int()));
      }
    }
  }

  void Strings(const Json& s, const Json& v, const std::string& path) {
    const size_t n = CodePoints(v.as_string());
    if (const Json* m = s.Find("minLength");
        m && n < static_cast<uint64_t>(m->as_int())) {
      Add(path,
          StrCat(Short(v), " is shorter than ", m->as_int(), " characters"));
    }
    if (const Json* m = s.Find("maxLength");
        m && n > static_cast<uint64_t>(m->as_int())) {
      Add(path,
          StrCat(Short(v), " is longer than ", m->as_int(), " characters"));
    }
  }

  void Arrays(const Json& s, const Json& v, const std::string& path) {
    const Json::Array& a = v.as_array();
    if (const Json* m = s.Find("minItems");
        m && a.size() < static_cast<uint64_t>(m->as_int())) {
      Add(path, StrCat("the array has ", a.size(), " items; at least ",
                       m->as_int(), " are required"));
    }
    if (const Json* m = s.Find("maxItems");
        m && a.size() > static_cast<uint64_t>(m->as_int())) {
      Add(path, StrCat("the array has ", a.size(), " items; at most ",
                       m->as_int(), " are allowed"));
    }
    if (const Json* u = s.Find("uniqueItems"); u && u->as_bool()) {
      // Dump() is a normal form: sorted keys, and a double that equals an
      // integer is written as that integer.
      std::map<std::string, size_t> seen;
      for (size_t i = 0; i < a.size(); ++i) {
        auto [it, fresh] = seen.emplace(a[i].Dump(), i);
        if (!fresh) {
          Add(path, StrCat("items ", it->second, " and ", i, " are equal (",
                           Short(a[i]), "); items must be unique"));
          break;
        }
      }
    }
    if (const Json* items = s.Find("items")) {
      for (size_t i = 0; i < a.size() && !full(); ++i) {
        Run(*items, a[i], Child(path, std::to_string(i)));
      }
    }
  }

  void Objects(const Json& s, const Json& v, const std::string& path) {
    const Json::Object& o = v.as_object();
    if (const Json* required = s.Find("required")) {
      for (const Json& r : required->as_array()) {
        if (!o.count(r.as_string())) {
          Add(path, StrCat("the required property \"", r.as_string(),
                           "\" is missing"));
        }
      }
    }
    if (const Json* m = s.Find("minProperties");
        m && o.size() < static_cast<uint64_t>(m->as_int())) {
      Add(path, StrCat("the object has ", o.size(), " properties; at least ",
                       m->as_int(), " are required"));
    }
    if (const Json* m = s.Find("maxProperties");
        m && o.size() > static_cast<uint64_t>(m->as_int())) {
      Add(path, StrCat("the object has ", o.size(), " properties; at most ",
                       m->as_int(), " are allowed"));
    }
    const Json* properties = s.Find("properties");
    const Json* additional = s.Find("additionalProperties");
    for (const auto& [key, value] : o) {
      if (full()) return;
      const Json* sub = properties ? properties->Find(key) : nullptr;
      if (sub != nullptr) {
        Run(*sub, value, Child(path, key));
      } else if (additional != nullptr) {
        if (additional->is_bool() && !additional->as_bool()) {
          Add(Child(path, key),
              StrCat("property \"", key,
                     "\" is not allowed (additionalProperties is false)"));
        } else {
          Run(*additional, value, Child(path, key));
        }
      }
    }
  }

  size_t max_;
};

}  // namespace

bool JsonEquals(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return Compare(a, b) == 0;
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    const Json::Array &x = a.as_array(), &y = b.as_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!JsonEquals(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const Json::Object &x = a.as_object(), &y = b.as_object();
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
      if (i->first != j->first || !JsonEquals(i->second, j->second)) {
        return false;
      }
    }
    return true;
  }
  return a == b;
}

absl::StatusOr<JsonSchema> JsonSchema::Parse(std::string_view text) {
  JsonParseOptions options;
  options.allow_fractions = true;
  absl::StatusOr<Json> json = Json::Parse(text, options);
  if (!json.ok()) {
    return absl::InvalidArgumentError(
        StrCat("the schema is not JSON: ", ToStd(json.status().message())));
  }
  return FromJson(*json);
}

absl::StatusOr<JsonSchema> JsonSchema::FromJson(const Json& schema) {
  STRATA_RETURN_IF_ERROR(CheckSchema(schema, "", 0));
  return JsonSchema(std::make_shared<const Json>(schema));
}

std::vector<std::string> JsonSchema::Validate(const Json& document,
                                              size_t max_errors) const {
  Validator v(max_errors == 0 ? 1 : max_errors);
  v.Run(*schema_, document, "");
  return std::move(v.errors);
}

absl::Status JsonSchema::Check(const Json& document,
                               std::string_view what) const {
  constexpr size_t kShown = 5;
  std::vector<std::string> errors = Validate(document, kShown + 1);
  if (errors.empty()) return absl::OkStatus();
  std::string text;
  for (size_t i = 0; i < errors.size() && i < kShown; ++i) {
    text += StrCat(i == 0 ? "" : "; ", errors[i]);
  }
  if (errors.size() > kShown) text += "; and more";
  return absl::InvalidArgumentError(
      StrCat(what, " does not match the module's schema: ", text));
}

}  // namespace strata
