#include "strata/base/json.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "strata/base/strings.h"

namespace strata {

std::string_view JsonTypeName(Json::Type type) {
  switch (type) {
    case Json::Type::kNull:
      return "null";
    case Json::Type::kBool:
      return "boolean";
    case Json::Type::kInt:
      return "integer";
    case Json::Type::kString:
      return "string";
    case Json::Type::kArray:
      return "array";
    case Json::Type::kObject:
      return "object";
    case Json::Type::kDouble:
      return "number";
  }
  return "unknown";
}

bool Json::as_bool() const {
  assert(is_bool());
  return std::get<bool>(value_);
}
int64_t Json::as_int() const {
  assert(is_int());
  return std::get<int64_t>(value_);
}
double Json::as_double() const {
  assert(is_double());
  return std::get<double>(value_);
}
double Json::as_number() const {
  return is_int() ? static_cast<double>(as_int()) : as_double();
}
const std::string& Json::as_string() const {
  assert(is_string());
  return std::get<std::string>(value_);
}
const Json::Array& Json::as_array() const {
  assert(is_array());
  return std::get<Array>(value_);
}
Json::Array& Json::as_array() {
  assert(is_array());
  return std::get<Array>(value_);
}
const Json::Object& Json::as_object() const {
  assert(is_object());
  return std::get<Object>(value_);
}
Json::Object& Json::as_object() {
  assert(is_object());
  return std::get<Object>(value_);
}

const Json* Json::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  const Object& obj = std::get<Object>(value_);
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &it->second;
}

Json& Json::operator[](std::string_view key) {
  if (is_null()) value_ = Object{};
  Object& obj = as_object();
  auto it = obj.find(key);
  if (it == obj.end()) it = obj.emplace(std::string(key), Json()).first;
  return it->second;
}

void Json::Append(Json value) {
  if (is_null()) value_ = Array{};
  as_array().push_back(std::move(value));
}

namespace {

void AppendCanonicalString(std::string& out, const std::string& s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

void AppendEscapedString(std::string& out, const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out.append("\\u00");
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void Serialize(const Json& v, bool canonical, std::string& out) {
  switch (v.type()) {
    case Json::Type::kNull:
      out.append("null");
      return;
    case Json::Type::kBool:
      out.append(v.as_bool() ? "true" : "false");
      return;
    case Json::Type::kInt:
      out.append(std::to_string(v.as_int()));
      return;
    case Json::Type::kDouble: {
      // The shortest form that reads back as the same double.
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v.as_double());
      out.append(buf, ec == std::errc() ? end : buf);
      return;
    }
    case Json::Type::kString:
      if (canonical) {
        AppendCanonicalString(out, v.as_string());
      } else {
        AppendEscapedString(out, v.as_string());
      }
      return;
    case Json::Type::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Json& e : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        Serialize(e, canonical, out);
      }
      out.push_back(']');
      return;
    }
    case Json::Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : v.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        if (canonical) {
          AppendCanonicalString(out, key);
        } else {
          AppendEscapedString(out, key);
        }
        out.push_back(':');
        Serialize(value, canonical, out);
      }
      out.push_back('}');
      return;
    }
  }
}

class Parser {
 public:
  Parser(std::string_view text, const JsonParseOptions& options)
      : text_(text), options_(options) {}

  absl::StatusOr<Json> ParseDocument() {
    if (text_.size() > options_.max_bytes) {
      return absl::InvalidArgumentError(
          strata::StrCat("JSON document of ", text_.size(),
                         " bytes exceeds the limit of ", options_.max_bytes));
    }
    SkipWhitespace();
    Json value;
    absl::Status s = ParseValue(value, 0);
    if (!s.ok()) return s;
    SkipWhitespace();
    if (pos_ != text_.size()) return Error("unexpected bytes after the value");
    return value;
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        strata::StrCat("invalid JSON at byte ", pos_, ": ", what));
  }

  void SkipWhitespace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  bool Consume(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  absl::Status ParseValue(Json& out, size_t depth) {
    if (pos_ >= text_.size()) return Error("unexpected end of input");
    const char c = text_[pos_];
    switch (c) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"': {
        std::string s;
        absl::Status st = ParseString(s);
        if (!st.ok()) return st;
        out = Json(std::move(s));
        return absl::OkStatus();
      }
      case 't':
        if (!Consume("true")) return Error("invalid literal");
        out = Json(true);
        return absl::OkStatus();
      case 'f':
        if (!Consume("false")) return Error("invalid literal");
        out = Json(false);
        return absl::OkStatus();
      case 'n':
        if (!Consume("null")) return Error("invalid literal");
        out = Json(nullptr);
        return absl::OkStatus();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
        return Error(strata::StrCat("unexpected character '", c, "'"));
    }
  }

  absl::Status ParseNumber(Json& out) {
    const size_t start = pos_;
    bool negative = false;
    if (text_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') {
      return Error("a digit must follow '-'");
    }
    if (text_[pos_] == '0' && pos_ + 1 < text_.size() &&
        text_[pos_ + 1] >= '0' && text_[pos_ + 1] <= '9') {
      return Error("numbers may not have leading zeros");
    }
    // Accumulate as a negative number so INT64_MIN fits.
    int64_t value = 0;
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int digit = text_[pos_] - '0';
      if (value < (kMin + digit) / 10) {
        pos_ = start;
        if (options_.allow_fractions) return ParseDouble(out);
        return Error("integer out of the 64-bit range");
      }
      value = value * 10 - digit;
      ++pos_;
    }
    if (pos_ < text_.size() &&
        (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      if (options_.allow_fractions) {
        pos_ = start;
        return ParseDouble(out);
      }
      return Error(
          "fractions and exponents are not allowed (TUF metadata uses "
          "integers only)");
    }
    if (!negative) {
      if (value == kMin) {
        pos_ = start;
        if (options_.allow_fractions) return ParseDouble(out);
        return Error("integer out of the 64-bit range");
      }
      value = -value;
    }
    out = Json(value);
    return absl::OkStatus();
  }

  // RFC 8259 number syntax from pos_ (sign and integer part already known
  // to be well formed), read as a double.
  absl::Status ParseDouble(Json& out) {
    const size_t start = pos_;
    auto digits = [&] {
      size_t n = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        ++pos_;
        ++n;
      }
      return n;
    };
    if (text_[pos_] == '-') ++pos_;
    digits();
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return Error("a digit must follow '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
        ++pos_;
      }
      if (digits() == 0) return Error("a digit must follow the exponent");
    }
    double d = 0;
    auto [end, ec] =
        std::from_chars(text_.data() + start, text_.data() + pos_, d);
    if (ec != std::errc() || end != text_.data() + pos_ || !std::isfinite(d)) {
      pos_ = start;
      return Error("number out of the range of a double");
    }
    out = Json::Number(d);
    return absl::OkStatus();
  }

  absl::Status ParseHex4(uint32_t& out) {
    if (text_.size() - pos_ < 4) return Error("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Error("invalid hex digit in \\u escape");
      }
    }
    return absl::OkStatus();
  }

  static void AppendUtf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      s.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  // Validates one UTF-8 sequence starting at pos_ and appends it.
  absl::Status CopyUtf8(std::string& s) {
    const unsigned char lead = static_cast<unsigned char>(text_[pos_]);
    size_t len;
    uint32_t cp;
    if (lead < 0x80) {
      len = 1;
      cp = lead;
    } else if ((lead & 0xe0) == 0xc0) {
      len = 2;
      cp = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      len = 3;
      cp = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      len = 4;
      cp = lead & 0x07;
    } else {
      return Error("invalid UTF-8 lead byte");
    }
    if (text_.size() - pos_ < len) return Error("truncated UTF-8 sequence");
    for (size_t i = 1; i < len; ++i) {
      const unsigned char b = static_cast<unsigned char>(text_[pos_ + i]);
      if ((b & 0xc0) != 0x80) return Error("invalid UTF-8 continuation byte");
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr uint32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len]) return Error("overlong UTF-8 sequence");
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return Error("invalid Unicode code point in UTF-8");
    }
    s.append(text_.substr(pos_, len));
    pos_ += len;
    return absl::OkStatus();
  }

  absl::Status ParseString(std::string& s) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= text_.size()) return Error("unterminated string");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Error("control character in string (must be escaped)");
      }
      if (c != '\\') {
        absl::Status st = CopyUtf8(s);
        if (!st.ok()) return st;
        continue;
      }
      ++pos_;
      if (pos_ >= text_.size()) return Error("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
          s.push_back('"');
          break;
        case '\\':
          s.push_back('\\');
          break;
        case '/':
          s.push_back('/');
          break;
        case 'b':
          s.push_back('\b');
          break;
        case 'f':
          s.push_back('\f');
          break;
        case 'n':
          s.push_back('\n');
          break;
        case 'r':
          s.push_back('\r');
          break;
        case 't':
          s.push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          absl::Status st = ParseHex4(cp);
          if (!st.ok()) return st;
          if (cp >= 0xdc00 && cp <= 0xdfff) {
            return Error("unpaired low surrogate in \\u escape");
          }
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (!Consume("\\u")) return Error("unpaired high surrogate");
            uint32_t low = 0;
            st = ParseHex4(low);
            if (!st.ok()) return st;
            if (low < 0xdc00 || low > 0xdfff) {
              return Error("invalid low surrogate in \\u escape");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(s, cp);
          break;
        }
        default:
          return Error("invalid escape sequence");
      }
    }
  }

  absl::Status CheckDepth(size_t depth) const {
    if (depth > options_.max_depth) {
      return Error(strata::StrCat("nesting deeper than ", options_.max_depth));
    }
    return absl::OkStatus();
  }

  absl::Status ParseArray(Json& out, size_t depth) {
    absl::Status st = CheckDepth(depth);
    if (!st.ok()) return st;
    ++pos_;
    Json::Array arr;
    SkipWhitespace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      out = Json(std::move(arr));
      return absl::OkStatus();
    }
    while (true) {
      SkipWhitespace();
      Json element;
      st = ParseValue(element, depth);
      if (!st.ok()) return st;
      arr.push_back(std::move(element));
      SkipWhitespace();
      if (pos_ >= text_.size()) return Error("unterminated array");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == ']') {
        ++pos_;
        out = Json(std::move(arr));
        return absl::OkStatus();
      }
      return Error("expected ',' or ']' in array");
    }
  }

  absl::Status ParseObject(Json& out, size_t depth) {
    absl::Status st = CheckDepth(depth);
    if (!st.ok()) return st;
    ++pos_;
    Json::Object obj;
    SkipWhitespace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      out = Json(std::move(obj));
      return absl::OkStatus();
    }
    while (true) {
      SkipWhitespace();
      if (pos_ >= text_.size() || text_[pos_] != '"') {
        return Error("expected a string key in object");
      }
      const size_t key_pos = pos_;
      std::string key;
      st = ParseString(key);
      if (!st.ok()) return st;
      SkipWhitespace();
      if (pos_ >= text_.size() || text_[pos_] != ':') {
        return Error("expected ':' after object key");
      }
      ++pos_;
      SkipWhitespace();
      Json value;
      st = ParseValue(value, depth);
      if (!st.ok()) return st;
      if (!obj.emplace(key, std::move(value)).second) {
        pos_ = key_pos;
        return Error(strata::StrCat("duplicate object key \"", key, "\""));
      }
      SkipWhitespace();
      if (pos_ >= text_.size()) return Error("unterminated object");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '}') {
        ++pos_;
        out = Json(std::move(obj));
        return absl::OkStatus();
      }
      return Error("expected ',' or '}' in object");
    }
  }

  std::string_view text_;
  const JsonParseOptions& options_;
  size_t pos_ = 0;
};

}  // namespace

std::string Json::Canonical() const {
  std::string out;
  Serialize(*this, /*canonical=*/true, out);
  return out;
}

std::string Json::Dump() const {
  std::string out;
  Serialize(*this, /*canonical=*/false, out);
  return out;
}

absl::StatusOr<Json> Json::Parse(std::string_view text,
                                 const JsonParseOptions& options) {
  return Parser(text, options).ParseDocument();
}

}  // namespace strata
