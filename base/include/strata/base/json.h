// A small JSON value type with a strict parser for untrusted bytes and the
// canonical serialization TUF signs (OLPC canonical JSON: sorted keys, no
// whitespace, integers only, only `"` and `\` escaped in strings).
#ifndef STRATA_BASE_JSON_H_
#define STRATA_BASE_JSON_H_

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace strata {

struct JsonParseOptions {
  // Nesting deeper than this is rejected (protects the recursive parser).
  size_t max_depth = 64;
  // Inputs longer than this are rejected before parsing.
  size_t max_bytes = 16u << 20;
  // Accept numbers with fractions or exponents (and integers beyond 64
  // bits) as kDouble: plain RFC 8259 JSON, e.g. config documents. Off for
  // TUF metadata, which is integers only.
  bool allow_fractions = false;
};

class Json {
 public:
  // kDouble only comes from parsing with allow_fractions or Json::Number.
  enum class Type { kNull, kBool, kInt, kString, kArray, kObject, kDouble };
  using Array = std::vector<Json>;
  // Keys are kept sorted by bytes (std::string compares as unsigned bytes),
  // which is the order canonical JSON requires.
  using Object = std::map<std::string, Json, std::less<>>;

  Json() : value_(nullptr) {}
  Json(std::nullptr_t) : value_(nullptr) {}  // NOLINT: implicit by design
  Json(bool b) : value_(b) {}                // NOLINT
  template <typename T>
  requires(std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char>)
      Json(T v)
      : value_(static_cast<int64_t>(v)) {}              // NOLINT
  Json(std::string s) : value_(std::move(s)) {}         // NOLINT
  Json(std::string_view s) : value_(std::string(s)) {}  // NOLINT
  Json(const char* s) : value_(std::string(s)) {}       // NOLINT
  Json(Array a) : value_(std::move(a)) {}               // NOLINT
  Json(Object o) : value_(std::move(o)) {}              // NOLINT

  static Json MakeObject() { return Json(Object{}); }
  // A number with a fraction (there is no implicit double constructor: a
  // double would otherwise silently pick another one).
  static Json Number(double d) {
    Json j;
    j.value_ = d;
    return j;
  }
  static Json MakeArray() { return Json(Array{}); }

  Type type() const { return static_cast<Type>(value_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }
  bool is_double() const { return type() == Type::kDouble; }
  bool is_number() const { return is_int() || is_double(); }

  // Accessors; calling the wrong one is a programming error (asserts).
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;
  // An integer or a double, as a double.
  double as_number() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Object member or nullptr (also nullptr when this is not an object).
  const Json* Find(std::string_view key) const;
  // Object member, created as null if missing; a null value becomes an
  // empty object first.
  Json& operator[](std::string_view key);
  // Appends to an array; a null value becomes an empty array first.
  void Append(Json value);

  bool operator==(const Json& other) const { return value_ == other.value_; }

  // OLPC/TUF canonical form: the bytes that get signed. (A document with
  // doubles has none; they are written as by Dump and never signed.)
  std::string Canonical() const;
  // Compact standard JSON with sorted keys; control characters are escaped so
  // any string round-trips through a strict parser.
  std::string Dump() const;

  // Strict RFC 8259 parsing with the restrictions of TUF metadata: integers
  // only (no fractions or exponents; overflow rejected), no duplicate keys,
  // valid UTF-8, no trailing bytes. Errors are kInvalidArgument and name the
  // byte offset.
  static absl::StatusOr<Json> Parse(std::string_view text,
                                    const JsonParseOptions& options = {});

 private:
  std::variant<std::nullptr_t, bool, int64_t, std::string, Array, Object,
               double>
      value_;
};

// Human-readable JSON type name ("object", "string", ...), for messages.
std::string_view JsonTypeName(Json::Type type);

}  // namespace strata

#endif  // STRATA_BASE_JSON_H_
