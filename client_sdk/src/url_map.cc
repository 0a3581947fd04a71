#include "url_map.h"

#include <cctype>

#include "strata/base/json.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::client {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Length of "scheme://host[:port]" of an http(s) URL; 0 if it is none.
size_t OriginLength(std::string_view url) {
  const std::string lower = Lower(url.substr(0, 8));
  size_t start = 0;
  if (lower.rfind("https://", 0) == 0) {
    start = 8;
  } else if (lower.rfind("http://", 0) == 0) {
    start = 7;
  } else {
    return 0;
  }
  const size_t end = url.find_first_of("/?#", start);
  const size_t len = end == std::string_view::npos ? url.size() : end;
  return len > start ? len : 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseUrlPrefixes(
    std::string_view json) {
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(
        StrCat(kPackageFile, ": ", what,
               "; expected {\"url_prefixes\": [\"https://host/path/\", ...]}"));
  };
  absl::StatusOr<Json> doc = Json::Parse(json);
  if (!doc.ok() || !doc->is_object()) return bad("not a JSON object");
  const Json* list = doc->Find("url_prefixes");
  if (list == nullptr) return std::vector<std::string>{};
  if (!list->is_array()) return bad("url_prefixes is not an array");
  std::vector<std::string> out;
  for (const Json& p : list->as_array()) {
    if (!p.is_string()) return bad("a url_prefixes member is not a string");
    const std::string& s = p.as_string();
    const size_t origin = OriginLength(s);
    if (origin == 0 || s.size() <= origin || s.back() != '/' ||
        s.find_first_of("?#\\", origin) != std::string::npos) {
      return bad(StrCat("'", s,
                        "' is not an http(s) URL with a host and a path "
                        "ending in '/'"));
    }
    out.push_back(s);
  }
  return out;
}

bool UrlHasPrefix(std::string_view url, std::string_view prefix) {
  const size_t origin = OriginLength(prefix);
  if (origin == 0 || url.size() < prefix.size()) return false;
  return OriginLength(url) == origin &&
         Lower(url.substr(0, origin)) == Lower(prefix.substr(0, origin)) &&
         url.substr(origin, prefix.size() - origin) == prefix.substr(origin);
}

absl::StatusOr<std::string> TreePathOfUrl(std::string_view rest) {
  rest = rest.substr(0, rest.find_first_of("?#"));
  auto refuse = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat("URL path '", rest, "' is refused: ", why,
               "; an offline package serves only paths inside its tree"));
  };
  std::string path;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (c == '%') {
      const bool whole = i + 2 < rest.size();
      const int hi = whole ? HexValue(rest[i + 1]) : -1;
      const int lo = whole ? HexValue(rest[i + 2]) : -1;
      if (hi < 0 || lo < 0) return refuse("a malformed %-escape");
      c = static_cast<char>(hi * 16 + lo);
      if (c == '/') return refuse("an encoded '/'");
      i += 2;
    }
    if (c == '\\') return refuse("a backslash");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return refuse("a NUL or control character");
    }
    path.push_back(c);
  }
  if (path.empty() || path.back() == '/') path += "index.html";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string_view part =
        std::string_view(path).substr(start, end - start);
    if (part.empty()) return refuse("an empty path component (\"//\")");
    if (part == "." || part == "..") {
      return refuse("a '.' or '..' component (also %2e-encoded)");
    }
    start = end + 1;
  }
  return path;
}

}  // namespace strata::client
