// String helpers that take std::string_view. Debian's Abseil is built with
// its own string_view type, so strata::StrCat does not accept std::string_view.
#ifndef STRATA_BASE_STRINGS_H_
#define STRATA_BASE_STRINGS_H_

#include <concepts>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace strata {
namespace internal {

inline void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPiece(std::string& out, const char* s) { out.append(s); }
inline void AppendPiece(std::string& out, const std::string& s) {
  out.append(s);
}
inline void AppendPiece(std::string& out, absl::string_view s) {
  out.append(s.data(), s.size());
}
inline void AppendPiece(std::string& out, char c) { out.push_back(c); }
template <typename T>
requires(std::integral<T> && !std::same_as<T, char> &&
         !std::same_as<T, bool>) void AppendPiece(std::string& out, T v) {
  out.append(std::to_string(v));
}
inline void AppendPiece(std::string& out, bool b) {
  out.append(b ? "true" : "false");
}
inline void AppendPiece(std::string& out, double d) {
  char buf[32];
  int n = std::snprintf(buf, sizeof(buf), "%g", d);
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (internal::AppendPiece(out, args), ...);
  return out;
}

// absl::string_view (e.g. absl::Status::message()) as std::string_view.
inline std::string_view ToStd(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace strata

#endif  // STRATA_BASE_STRINGS_H_
