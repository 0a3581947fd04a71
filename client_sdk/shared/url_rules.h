// Offline-package URL rules, shared by the full SDK (client_sdk/src/
// url_map.cc) and the device core (client_sdk/device_core): which prefix a
// URL lies under and which file of a tree a URL's path names. Header-only,
// plain C++ (no Abseil), so both can include it; problems come back as
// text ("" when there is none), which each side wraps in its own error.
#ifndef STRATA_CLIENT_SDK_SHARED_URL_RULES_H_
#define STRATA_CLIENT_SDK_SHARED_URL_RULES_H_

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

namespace strata::url_rules {

// The root file of a tree that declares its prefixes:
// {"url_prefixes": ["https://mall.example.com/"]}.
inline constexpr std::string_view kPackageFile = "strata-package.json";

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Length of "scheme://host[:port]" of an http(s) URL; 0 if it is none.
inline size_t OriginLength(std::string_view url) {
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

// Why `prefix` cannot be a declared prefix ("" when it can): it must be an
// absolute http(s) URL with a host, ending in '/', without query or
// fragment.
inline std::string PrefixProblem(std::string_view prefix) {
  const size_t origin = OriginLength(prefix);
  if (origin == 0 || prefix.size() <= origin || prefix.back() != '/' ||
      prefix.find_first_of("?#\\", origin) != std::string_view::npos) {
    return "'" + std::string(prefix) +
           "' is not an http(s) URL with a host and a path ending in '/'";
  }
  return "";
}

// Whether `url` lies under `prefix`: scheme and host compared without
// case, the path byte for byte.
inline bool UrlHasPrefix(std::string_view url, std::string_view prefix) {
  const size_t origin = OriginLength(prefix);
  if (origin == 0 || url.size() < prefix.size()) return false;
  return OriginLength(url) == origin &&
         Lower(url.substr(0, origin)) == Lower(prefix.substr(0, origin)) &&
         url.substr(origin, prefix.size() - origin) == prefix.substr(origin);
}

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The path in the tree for `rest`, what follows the prefix of a URL, into
// `path`: query and fragment dropped, percent-decoded, "" or a trailing
// '/' -> index.html. Returns why the path is refused ("" when it is not):
// "." or ".." components (also encoded), a backslash, NUL or control
// characters, an encoded '/', a malformed escape, "//".
inline std::string TreePathOfUrl(std::string_view rest, std::string* path) {
  rest = rest.substr(0, rest.find_first_of("?#"));
  auto refuse = [&](std::string_view why) {
    return "URL path '" + std::string(rest) +
           "' is refused: " + std::string(why) +
           "; an offline package serves only paths inside its tree";
  };
  path->clear();
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
    path->push_back(c);
  }
  if (path->empty() || path->back() == '/') *path += "index.html";
  for (size_t start = 0; start <= path->size();) {
    size_t end = path->find('/', start);
    if (end == std::string::npos) end = path->size();
    const std::string_view part =
        std::string_view(*path).substr(start, end - start);
    if (part.empty()) return refuse("an empty path component (\"//\")");
    if (part == "." || part == "..") {
      return refuse("a '.' or '..' component (also %2e-encoded)");
    }
    start = end + 1;
  }
  return "";
}

}  // namespace strata::url_rules

#endif  // STRATA_CLIENT_SDK_SHARED_URL_RULES_H_
