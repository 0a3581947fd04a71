// The segment expression language: a boolean rule over DeviceAttributes,
// compiled once and evaluated without heap allocation.
//
//   expr       := and { "||" and }
//   and        := unary { "&&" unary }
//   unary      := "!" unary | "(" expr ")" | "true" | "false" | comparison
//   comparison := field ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) value
//               | field "in" "[" value { "," value } "]"
//   field      := app_version | os | os_version | device_model | region
//               | channel | network | locale | user_id | device_id
//               | "attr." name                  name: [A-Za-z0-9_.-]+
//   value      := "\"" chars "\""               escapes: \" and \\ only
//               | bare version such as 10.3.0   [0-9][0-9A-Za-z.+-]*
//
// Semantics (docs/rollout.md has the full table):
//  - app_version and os_version compare as versions (version_compare.h);
//    ==, != and `in` are version-aware when both sides are versions
//    ("10.3" == "10.3.0"), byte-exact otherwise. Ordering is false when the
//    device's value is not a version.
//  - attr.<name> compares byte-exact for ==, != and `in`; ordering compares
//    as versions (so integers order numerically). A missing attribute is "".
//  - other fields support ==, != and `in` (byte-exact); ordering them is a
//    compile error.
// Errors name the column (1-based, in bytes): "expected ']' at column 42".
#ifndef STRATA_ROLLOUT_EXPRESSION_H_
#define STRATA_ROLLOUT_EXPRESSION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/rollout/device_attributes.h"

namespace strata::rollout {

enum class Field : uint8_t {
  kAppVersion,
  kOs,
  kOsVersion,
  kDeviceModel,
  kRegion,
  kChannel,
  kNetwork,
  kLocale,
  kUserId,
  kDeviceId,
  kCustom,  // attr.<name>
};

// The name used in expressions ("app_version"; "attr" for kCustom).
std::string_view FieldName(Field field);

inline constexpr size_t kMaxExpressionBytes = 64 * 1024;
inline constexpr int kMaxExpressionNesting = 64;

class Expression {
 public:
  // Matches every device (the same as compiling "true").
  Expression() = default;

  // Parses and compiles `text`. Syntax errors are kInvalidArgument with the
  // column; text over kMaxExpressionBytes or nesting ("(" and "!") deeper
  // than kMaxExpressionNesting is kResourceExhausted.
  static absl::StatusOr<Expression> Compile(std::string_view text);

  // True if `device` satisfies the expression. Never allocates.
  bool Evaluate(const DeviceAttributes& device) const;

  // The source text it was compiled from ("true" for the default).
  const std::string& text() const { return text_; }
  // Size of the compiled program (for tests and diagnostics).
  size_t instruction_count() const { return code_.size(); }

 private:
  enum class Op : uint8_t {
    kConst,  // r = a != 0
    kEq,
    kNe,
    kLt,
    kLe,
    kGt,
    kGe,
    kIn,           // r = field value in values[b, b + n)
    kNot,          // r = !r
    kJumpIfFalse,  // if (!r) pc = a
    kJumpIfTrue,   // if (r) pc = a
  };
  struct Instruction {
    Op op = Op::kConst;
    Field field = Field::kAppVersion;
    bool sorted = false;  // kIn: values are sorted, use binary search
    uint32_t a = 0;       // kConst value, jump target, or kCustom name index
    uint32_t b = 0;       // value index (comparisons) or first list value
    uint32_t n = 0;       // kIn: list length
  };
  struct Slice {
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  class Compiler;

  std::string_view Value(uint32_t index) const {
    const Slice& s = values_[index];
    return std::string_view(pool_.data() + s.offset, s.size);
  }
  std::string_view FieldValue(const Instruction& in,
                              const DeviceAttributes& device) const;
  bool Test(const Instruction& in, const DeviceAttributes& device) const;

  std::string text_ = "true";
  std::string pool_;           // bytes of every literal and attribute name
  std::vector<Slice> values_;  // literals and attribute names in pool_
  std::vector<Instruction> code_;
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_EXPRESSION_H_
