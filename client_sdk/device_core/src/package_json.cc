// The URL prefixes a tree declares in its `strata-package.json`
// ({"url_prefixes": ["https://mall.example.com/"]}), read by the device
// core without a JSON library: a small strict parser of RFC 8259 JSON that
// keeps only the "url_prefixes" member of the top-level object. Depth and
// size are bounded; anything malformed is refused, and so is an object
// with a key twice (as strata::Json refuses it).
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "strata/device/device_core.h"
#include "url_rules.h"

namespace strata::device {
namespace {

// As the full SDK's reader (strata/base/json.h's defaults).
constexpr int kMaxDepth = 64;
constexpr size_t kMaxBytes = size_t{16} << 20;

class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  // The document: one value and nothing after it but whitespace.
  bool Document(std::vector<std::string>* prefixes, bool* has_prefixes) {
    Space();
    if (Peek() != '{') return false;
    ++at_;
    Space();
    if (Peek() == '}') {
      ++at_;
      return End();
    }
    std::set<std::string> keys;
    for (;;) {
      std::string key;
      Space();
      if (!String(&key) || !keys.insert(key).second) return false;
      Space();
      if (Peek() != ':') return false;
      ++at_;
      Space();
      if (key == "url_prefixes") {
        *has_prefixes = true;
        prefixes->clear();
        if (!Strings(prefixes)) return false;
      } else if (!Value(1)) {
        return false;
      }
      Space();
      if (Peek() == ',') {
        ++at_;
        continue;
      }
      if (Peek() != '}') return false;
      ++at_;
      return End();
    }
  }

  // Set when url_prefixes is there but not an array of strings.
  bool not_strings = false;

 private:
  char Peek() const { return at_ < in_.size() ? in_[at_] : '\0'; }
  void Space() {
    while (at_ < in_.size() && (in_[at_] == ' ' || in_[at_] == '\t' ||
                                in_[at_] == '\n' || in_[at_] == '\r')) {
      ++at_;
    }
  }
  bool End() {
    Space();
    return at_ == in_.size();
  }
  bool Literal(std::string_view word) {
    if (in_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  static void Utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  // A multi-byte UTF-8 sequence led by `lead` (already consumed): well
  // formed (RFC 3629: no overlong forms, surrogates or code points past
  // U+10FFFF), copied to `out`.
  bool Utf8Sequence(char lead, std::string* out) {
    const auto b = static_cast<unsigned char>(lead);
    int n = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
    if (b >= 0xc2 && b <= 0xdf) {
      n = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b == 0xe0) lo = 0xa0;
      if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b == 0xf0) lo = 0x90;
      if (b == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    out->push_back(lead);
    for (int i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(Peek());
      if (at_ >= in_.size() || c < (i == 0 ? lo : 0x80) ||
          c > (i == 0 ? hi : 0xbf)) {
        return false;
      }
      out->push_back(static_cast<char>(c));
      ++at_;
    }
    return true;
  }
  bool Hex4(uint32_t* v) {
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = url_rules::HexValue(Peek());
      if (h < 0) return false;
      *v = *v * 16 + static_cast<uint32_t>(h);
      ++at_;
    }
    return true;
  }
  bool String(std::string* out) {
    if (Peek() != '"') return false;
    ++at_;
    for (;;) {
      if (at_ >= in_.size()) return false;
      const char c = in_[at_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (static_cast<unsigned char>(c) >= 0x80) {
        if (!Utf8Sequence(c, out)) return false;
        continue;
      }
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      const char e = Peek();
      ++at_;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00) {  // a surrogate pair
            uint32_t lo;
            if (!Literal("\\u") || !Hex4(&lo) || lo < 0xdc00 || lo > 0xdfff) {
              return false;
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            return false;
          }
          Utf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
  }
  bool Number() {
    const size_t start = at_;
    if (Peek() == '-') ++at_;
    if (Peek() == '0') {
      ++at_;
    } else if (Peek() >= '1' && Peek() <= '9') {
      while (Peek() >= '0' && Peek() <= '9') ++at_;
    } else {
      return false;
    }
    if (Peek() == '.') {
      ++at_;
      if (!(Peek() >= '0' && Peek() <= '9')) return false;
      while (Peek() >= '0' && Peek() <= '9') ++at_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++at_;
      if (Peek() == '+' || Peek() == '-') ++at_;
      if (!(Peek() >= '0' && Peek() <= '9')) return false;
      while (Peek() >= '0' && Peek() <= '9') ++at_;
    }
    return at_ > start;
  }
  // Any value, skipped.
  bool Value(int depth) {
    if (depth > kMaxDepth) return false;
    Space();
    const char c = Peek();
    if (c == '"') {
      std::string ignored;
      return String(&ignored);
    }
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++at_;
      Space();
      if (Peek() == close) {
        ++at_;
        return true;
      }
      std::set<std::string> keys;
      for (;;) {
        Space();
        if (c == '{') {
          std::string key;
          if (!String(&key) || !keys.insert(key).second) return false;
          Space();
          if (Peek() != ':') return false;
          ++at_;
        }
        if (!Value(depth + 1)) return false;
        Space();
        if (Peek() == ',') {
          ++at_;
          continue;
        }
        if (Peek() != close) return false;
        ++at_;
        return true;
      }
    }
    if (c == 't') return Literal("true");
    if (c == 'f') return Literal("false");
    if (c == 'n') return Literal("null");
    return Number();
  }
  // An array of strings (else not_strings, and the value is skipped).
  bool Strings(std::vector<std::string>* out) {
    if (Peek() != '[') {
      not_strings = true;
      return Value(1);
    }
    ++at_;
    Space();
    if (Peek() == ']') {
      ++at_;
      return true;
    }
    for (;;) {
      Space();
      if (Peek() != '"') {
        not_strings = true;
        if (!Value(2)) return false;
      } else {
        std::string s;
        if (!String(&s)) return false;
        out->push_back(std::move(s));
      }
      Space();
      if (Peek() == ',') {
        ++at_;
        continue;
      }
      if (Peek() != ']') return false;
      ++at_;
      return true;
    }
  }

  std::string_view in_;
  size_t at_ = 0;
};

}  // namespace

Error ParseUrlPrefixes(std::string_view json, std::vector<std::string>* out) {
  out->clear();
  auto bad = [](const std::string& what) {
    return Error{3, std::string(url_rules::kPackageFile) + ": " + what +
                        "; expected {\"url_prefixes\": "
                        "[\"https://host/path/\", ...]}"};
  };
  if (json.size() > kMaxBytes) return bad("larger than 16 MiB");
  Parser p(json);
  bool has = false;
  std::vector<std::string> prefixes;
  if (!p.Document(&prefixes, &has)) return bad("not a JSON object");
  if (p.not_strings) return bad("url_prefixes is not an array of strings");
  for (const std::string& prefix : prefixes) {
    if (std::string problem = url_rules::PrefixProblem(prefix);
        !problem.empty()) {
      return bad(problem);
    }
  }
  *out = std::move(prefixes);
  return {};
}

}  // namespace strata::device
