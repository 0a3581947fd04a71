#include "strata/rollout/expression.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/rollout/version_compare.h"

namespace strata::rollout {
namespace {

constexpr std::string_view kCustomPrefix = "attr.";
// Lists longer than this are sorted and binary-searched.
constexpr uint32_t kLinearSearchMax = 8;

struct FieldEntry {
  std::string_view name;
  Field field;
};
constexpr std::array<FieldEntry, 10> kFields = {{
    {"app_version", Field::kAppVersion},
    {"os", Field::kOs},
    {"os_version", Field::kOsVersion},
    {"device_model", Field::kDeviceModel},
    {"region", Field::kRegion},
    {"channel", Field::kChannel},
    {"network", Field::kNetwork},
    {"locale", Field::kLocale},
    {"user_id", Field::kUserId},
    {"device_id", Field::kDeviceId},
}};

constexpr std::string_view kKnownFields =
    "app_version, os, os_version, device_model, region, channel, network, "
    "locale, user_id, device_id, attr.<name>";

bool IsVersionField(Field f) {
  return f == Field::kAppVersion || f == Field::kOsVersion;
}
bool IsOrderedField(Field f) {
  return IsVersionField(f) || f == Field::kCustom;
}

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) {
  return IsIdentStart(c) || IsDigit(c) || c == '.' || c == '-';
}
bool IsBareValueChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '.' || c == '+' || c == '-';
}

// Version-aware equality for version fields; byte equality otherwise.
bool ValuesEqual(Field f, std::string_view device, std::string_view literal) {
  if (IsVersionField(f)) {
    std::optional<int> c = CompareVersions(device, literal);
    if (c.has_value()) return *c == 0;
  }
  return device == literal;
}

}  // namespace

// Named (not anonymous): Expression::Compiler, a member of a public class,
// holds a Token (GCC's -Wsubobject-linkage in a unity build).
namespace expression_lexer {

enum class Tok {
  kEnd,
  kIdent,
  kString,
  kBare,  // unquoted version-like literal: 10.3.0
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kAnd,
  kOr,
  kNot,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;         // byte offset of the first character
  std::string_view text;  // source text of the token
  std::string value;      // kString: unescaped contents
};

}  // namespace expression_lexer
using expression_lexer::Tok;
using expression_lexer::Token;

std::string_view FieldName(Field field) {
  for (const FieldEntry& e : kFields) {
    if (e.field == field) return e.name;
  }
  return "attr";
}

class Expression::Compiler {
 public:
  Compiler(std::string_view text, Expression& out) : src_(text), out_(out) {}

  absl::Status Run() {
    STRATA_RETURN_IF_ERROR(Advance());
    if (tok_.kind == Tok::kEnd) {
      return absl::InvalidArgumentError(
          "expression is empty at column 1; write `true` to match every "
          "device");
    }
    STRATA_RETURN_IF_ERROR(ParseOr(0));
    if (tok_.kind != Tok::kEnd) {
      return Error(StrCat("unexpected ", Describe(tok_), " at column ",
                          Column(tok_),
                          "; expected '&&', '||' or the end of "
                          "the expression"));
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status Error(std::string message) {
    return absl::InvalidArgumentError(std::move(message));
  }
  size_t Column(const Token& t) const { return t.pos + 1; }
  static std::string Describe(const Token& t) {
    if (t.kind == Tok::kEnd) return "end of expression";
    std::string_view text = t.text;
    if (text.size() > 24) return StrCat("'", text.substr(0, 24), "...'");
    return StrCat("'", text, "'");
  }

  // Reads the next token into tok_.
  absl::Status Advance() {
    while (pos_ < src_.size() && (src_[pos_] == ' ' || src_[pos_] == '\t' ||
                                  src_[pos_] == '\n' || src_[pos_] == '\r')) {
      ++pos_;
    }
    tok_ = Token();
    tok_.pos = pos_;
    if (pos_ >= src_.size()) {
      tok_.kind = Tok::kEnd;
      return absl::OkStatus();
    }
    const size_t start = pos_;
    const char c = src_[pos_];
    auto two = [&](char next) {
      return pos_ + 1 < src_.size() && src_[pos_ + 1] == next;
    };
    auto set = [&](Tok kind, size_t len) {
      tok_.kind = kind;
      tok_.text = src_.substr(start, len);
      pos_ += len;
      return absl::OkStatus();
    };
    switch (c) {
      case '(':
        return set(Tok::kLParen, 1);
      case ')':
        return set(Tok::kRParen, 1);
      case '[':
        return set(Tok::kLBracket, 1);
      case ']':
        return set(Tok::kRBracket, 1);
      case ',':
        return set(Tok::kComma, 1);
      case '&':
        if (two('&')) return set(Tok::kAnd, 2);
        return Error(StrCat("unexpected character '&' at column ", start + 1,
                            "; did you mean '&&'?"));
      case '|':
        if (two('|')) return set(Tok::kOr, 2);
        return Error(StrCat("unexpected character '|' at column ", start + 1,
                            "; did you mean '||'?"));
      case '=':
        if (two('=')) return set(Tok::kEq, 2);
        return Error(StrCat("unexpected character '=' at column ", start + 1,
                            "; did you mean '=='?"));
      case '!':
        if (two('=')) return set(Tok::kNe, 2);
        return set(Tok::kNot, 1);
      case '<':
        if (two('=')) return set(Tok::kLe, 2);
        return set(Tok::kLt, 1);
      case '>':
        if (two('=')) return set(Tok::kGe, 2);
        return set(Tok::kGt, 1);
      case '"':
        return LexString();
      default:
        break;
    }
    if (IsIdentStart(c)) {
      size_t end = pos_;
      while (end < src_.size() && IsIdentChar(src_[end])) ++end;
      return set(Tok::kIdent, end - start);
    }
    if (IsDigit(c)) {
      size_t end = pos_;
      while (end < src_.size() && IsBareValueChar(src_[end])) ++end;
      return set(Tok::kBare, end - start);
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Error(StrCat("unexpected control character (byte ",
                          static_cast<int>(static_cast<unsigned char>(c)),
                          ") at column ", start + 1));
    }
    if (c == '\'') {
      return Error(StrCat("unexpected character ''' at column ", start + 1,
                          "; string literals use double quotes"));
    }
    return Error(
        StrCat("unexpected character '", c, "' at column ", start + 1));
  }

  absl::Status LexString() {
    const size_t start = pos_;
    ++pos_;  // opening quote
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) {
        return Error(StrCat("unterminated string literal starting at column ",
                            start + 1, "; close it with '\"'"));
      }
      char c = src_[pos_];
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c == '\\') {
        if (pos_ + 1 >= src_.size()) {
          return Error(StrCat("unterminated string literal starting at column ",
                              start + 1, "; close it with '\"'"));
        }
        char e = src_[pos_ + 1];
        if (e != '"' && e != '\\') {
          return Error(StrCat("unknown escape '\\", e, "' at column ", pos_ + 1,
                              "; only \\\" and \\\\ are allowed"));
        }
        value.push_back(e);
        pos_ += 2;
        continue;
      }
      if (c == '\n' || c == '\r') {
        return Error(
            StrCat("line break inside the string literal starting at "
                   "column ",
                   start + 1, "; close it with '\"' on the same line"));
      }
      value.push_back(c);
      ++pos_;
    }
    tok_.kind = Tok::kString;
    tok_.text = src_.substr(start, pos_ - start);
    tok_.value = std::move(value);
    return absl::OkStatus();
  }

  absl::Status CheckDepth(int depth) {
    if (depth >= kMaxExpressionNesting) {
      return absl::ResourceExhaustedError(
          StrCat("expression nests deeper than ", kMaxExpressionNesting,
                 " levels at column ", Column(tok_),
                 "; split it or remove redundant '(' and '!'"));
    }
    return absl::OkStatus();
  }

  uint32_t Emit(Instruction in) {
    out_.code_.push_back(in);
    return static_cast<uint32_t>(out_.code_.size() - 1);
  }
  void PatchJumpHere(uint32_t at) {
    out_.code_[at].a = static_cast<uint32_t>(out_.code_.size());
  }
  uint32_t Intern(std::string_view bytes) {
    Slice s;
    s.offset = static_cast<uint32_t>(out_.pool_.size());
    s.size = static_cast<uint32_t>(bytes.size());
    out_.pool_.append(bytes);
    out_.values_.push_back(s);
    return static_cast<uint32_t>(out_.values_.size() - 1);
  }

  absl::Status ParseOr(int depth) {
    STRATA_RETURN_IF_ERROR(ParseAnd(depth));
    while (tok_.kind == Tok::kOr) {
      Instruction jump;
      jump.op = Op::kJumpIfTrue;
      uint32_t at = Emit(jump);
      STRATA_RETURN_IF_ERROR(Advance());
      STRATA_RETURN_IF_ERROR(ParseAnd(depth));
      PatchJumpHere(at);
    }
    return absl::OkStatus();
  }

  absl::Status ParseAnd(int depth) {
    STRATA_RETURN_IF_ERROR(ParseUnary(depth));
    while (tok_.kind == Tok::kAnd) {
      Instruction jump;
      jump.op = Op::kJumpIfFalse;
      uint32_t at = Emit(jump);
      STRATA_RETURN_IF_ERROR(Advance());
      STRATA_RETURN_IF_ERROR(ParseUnary(depth));
      PatchJumpHere(at);
    }
    return absl::OkStatus();
  }

  absl::Status ParseUnary(int depth) {
    switch (tok_.kind) {
      case Tok::kNot: {
        STRATA_RETURN_IF_ERROR(CheckDepth(depth));
        STRATA_RETURN_IF_ERROR(Advance());
        STRATA_RETURN_IF_ERROR(ParseUnary(depth + 1));
        Instruction neg;
        neg.op = Op::kNot;
        Emit(neg);
        return absl::OkStatus();
      }
      case Tok::kLParen: {
        STRATA_RETURN_IF_ERROR(CheckDepth(depth));
        const size_t open_column = Column(tok_);
        STRATA_RETURN_IF_ERROR(Advance());
        STRATA_RETURN_IF_ERROR(ParseOr(depth + 1));
        if (tok_.kind != Tok::kRParen) {
          return Error(StrCat("expected ')' at column ", Column(tok_),
                              " to close '(' at column ", open_column,
                              ", found ", Describe(tok_)));
        }
        return Advance();
      }
      case Tok::kIdent:
        if (tok_.text == "true" || tok_.text == "false") {
          Instruction k;
          k.op = Op::kConst;
          k.a = tok_.text == "true" ? 1 : 0;
          Emit(k);
          return Advance();
        }
        return ParseComparison();
      default:
        return Error(
            StrCat("expected a condition (a field, '!', '(', true or "
                   "false) at column ",
                   Column(tok_), ", found ", Describe(tok_)));
    }
  }

  // Resolves the identifier in tok_ to a field.
  absl::Status ParseField(Instruction& in) {
    std::string_view name = tok_.text;
    if (name == "in") {
      return Error(StrCat("expected a field before 'in' at column ",
                          Column(tok_), "; write e.g. region in [\"CN-31\"]"));
    }
    if (name == "attr" ||
        name.substr(0, kCustomPrefix.size()) == kCustomPrefix) {
      std::string_view custom = name.size() > kCustomPrefix.size()
                                    ? name.substr(kCustomPrefix.size())
                                    : std::string_view();
      if (custom.empty()) {
        return Error(
            StrCat("expected an attribute name after 'attr.' at column ",
                   Column(tok_) + name.size(), ", e.g. attr.tier"));
      }
      in.field = Field::kCustom;
      in.a = Intern(custom);
      return absl::OkStatus();
    }
    for (const FieldEntry& e : kFields) {
      if (e.name == name) {
        in.field = e.field;
        return absl::OkStatus();
      }
    }
    return Error(StrCat("unknown field '", name, "' at column ", Column(tok_),
                        "; known fields: ", kKnownFields));
  }

  // The literal in tok_ (string or bare); error if tok_ is not one.
  absl::Status TakeValue(std::string& value, size_t& column) {
    if (tok_.kind == Tok::kString) {
      value = std::move(tok_.value);
    } else if (tok_.kind == Tok::kBare) {
      value = std::string(tok_.text);
    } else {
      return Error(
          StrCat("expected a value (a string literal such as "
                 "\"android\" or a version such as 10.3.0) at column ",
                 Column(tok_), ", found ", Describe(tok_)));
    }
    column = Column(tok_);
    return Advance();
  }

  absl::Status ParseComparison() {
    Instruction in;
    const std::string field_text(tok_.text);
    STRATA_RETURN_IF_ERROR(ParseField(in));
    STRATA_RETURN_IF_ERROR(Advance());
    const Token op_tok = tok_;
    switch (tok_.kind) {
      case Tok::kEq:
        in.op = Op::kEq;
        break;
      case Tok::kNe:
        in.op = Op::kNe;
        break;
      case Tok::kLt:
        in.op = Op::kLt;
        break;
      case Tok::kLe:
        in.op = Op::kLe;
        break;
      case Tok::kGt:
        in.op = Op::kGt;
        break;
      case Tok::kGe:
        in.op = Op::kGe;
        break;
      case Tok::kIdent:
        if (tok_.text == "in") {
          in.op = Op::kIn;
          break;
        }
        [[fallthrough]];
      default:
        return Error(
            StrCat("expected a comparison operator (==, !=, <, <=, >, "
                   ">=) or 'in' after '",
                   field_text, "' at column ", Column(tok_), ", found ",
                   Describe(tok_)));
    }
    const bool ordering = in.op == Op::kLt || in.op == Op::kLe ||
                          in.op == Op::kGt || in.op == Op::kGe;
    if (ordering && !IsOrderedField(in.field)) {
      return Error(StrCat("operator '", op_tok.text, "' at column ",
                          Column(op_tok), " is not defined for field '",
                          field_text,
                          "'; only app_version, os_version and attr.<name> "
                          "can be ordered (use == or 'in')"));
    }
    STRATA_RETURN_IF_ERROR(Advance());
    if (in.op != Op::kIn) {
      std::string value;
      size_t column = 0;
      STRATA_RETURN_IF_ERROR(TakeValue(value, column));
      if (ordering && !IsValidVersion(value)) {
        return Error(StrCat(
            "\"", value, "\" at column ", column, " is not a version; '",
            op_tok.text, "' needs dot-separated numbers such as \"10.3.0\""));
      }
      in.b = Intern(value);
      Emit(in);
      return absl::OkStatus();
    }
    // `in` list.
    if (tok_.kind != Tok::kLBracket) {
      return Error(StrCat("expected '[' after 'in' at column ", Column(tok_),
                          ", found ", Describe(tok_)));
    }
    const size_t open_column = Column(tok_);
    STRATA_RETURN_IF_ERROR(Advance());
    if (tok_.kind == Tok::kRBracket) {
      return Error(StrCat("empty list at column ", open_column,
                          "; 'in' needs at least one value"));
    }
    std::vector<std::string> values;
    while (true) {
      std::string value;
      size_t column = 0;
      STRATA_RETURN_IF_ERROR(TakeValue(value, column));
      values.push_back(std::move(value));
      if (tok_.kind == Tok::kComma) {
        STRATA_RETURN_IF_ERROR(Advance());
        continue;
      }
      if (tok_.kind == Tok::kRBracket) break;
      return Error(StrCat("expected ',' or ']' at column ", Column(tok_),
                          " to continue or close the list opened at column ",
                          open_column, ", found ", Describe(tok_)));
    }
    STRATA_RETURN_IF_ERROR(Advance());
    // Byte-exact fields: sort and dedupe so long lists are binary-searched.
    // Version fields compare version-aware, so they stay linear.
    if (!IsVersionField(in.field)) {
      std::sort(values.begin(), values.end());
      values.erase(std::unique(values.begin(), values.end()), values.end());
      in.sorted = values.size() > kLinearSearchMax;
    }
    in.b = static_cast<uint32_t>(out_.values_.size());
    in.n = static_cast<uint32_t>(values.size());
    for (const std::string& v : values) Intern(v);
    Emit(in);
    return absl::OkStatus();
  }

  std::string_view src_;
  size_t pos_ = 0;
  Token tok_;
  Expression& out_;
};

absl::StatusOr<Expression> Expression::Compile(std::string_view text) {
  if (text.size() > kMaxExpressionBytes) {
    return absl::ResourceExhaustedError(
        StrCat("expression is ", text.size(), " bytes long; the limit is ",
               kMaxExpressionBytes,
               " (move long id lists to the segment's allow list)"));
  }
  Expression e;
  e.text_ = std::string(text);
  Compiler compiler(e.text_, e);
  absl::Status s = compiler.Run();
  if (!s.ok()) return s;
  e.code_.shrink_to_fit();
  e.values_.shrink_to_fit();
  e.pool_.shrink_to_fit();
  return e;
}

std::string_view Expression::FieldValue(const Instruction& in,
                                        const DeviceAttributes& d) const {
  switch (in.field) {
    case Field::kAppVersion:
      return d.app_version;
    case Field::kOs:
      return d.os;
    case Field::kOsVersion:
      return d.os_version;
    case Field::kDeviceModel:
      return d.device_model;
    case Field::kRegion:
      return d.region;
    case Field::kChannel:
      return d.channel;
    case Field::kNetwork:
      return d.network;
    case Field::kLocale:
      return d.locale;
    case Field::kUserId:
      return d.user_id;
    case Field::kDeviceId:
      return d.device_id;
    case Field::kCustom: {
      auto it = d.custom.find(Value(in.a));
      return it == d.custom.end() ? std::string_view() : it->second;
    }
  }
  return std::string_view();
}

bool Expression::Test(const Instruction& in, const DeviceAttributes& d) const {
  const std::string_view v = FieldValue(in, d);
  switch (in.op) {
    case Op::kEq:
      return ValuesEqual(in.field, v, Value(in.b));
    case Op::kNe:
      return !ValuesEqual(in.field, v, Value(in.b));
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      std::optional<int> c = CompareVersions(v, Value(in.b));
      if (!c.has_value()) return false;
      if (in.op == Op::kLt) return *c < 0;
      if (in.op == Op::kLe) return *c <= 0;
      if (in.op == Op::kGt) return *c > 0;
      return *c >= 0;
    }
    case Op::kIn: {
      if (in.sorted) {
        uint32_t lo = in.b, hi = in.b + in.n;
        while (lo < hi) {
          uint32_t mid = lo + (hi - lo) / 2;
          int c = Value(mid).compare(v);
          if (c == 0) return true;
          if (c < 0) {
            lo = mid + 1;
          } else {
            hi = mid;
          }
        }
        return false;
      }
      for (uint32_t i = in.b; i < in.b + in.n; ++i) {
        if (ValuesEqual(in.field, v, Value(i))) return true;
      }
      return false;
    }
    default:
      return false;
  }
}

bool Expression::Evaluate(const DeviceAttributes& device) const {
  bool r = true;
  size_t pc = 0;
  const size_t n = code_.size();
  while (pc < n) {
    const Instruction& in = code_[pc];
    switch (in.op) {
      case Op::kConst:
        r = in.a != 0;
        break;
      case Op::kNot:
        r = !r;
        break;
      case Op::kJumpIfFalse:
        if (!r) {
          pc = in.a;
          continue;
        }
        break;
      case Op::kJumpIfTrue:
        if (r) {
          pc = in.a;
          continue;
        }
        break;
      default:
        r = Test(in, device);
        break;
    }
    ++pc;
  }
  return r;
}

}  // namespace strata::rollout
