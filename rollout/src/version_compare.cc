#include "strata/rollout/version_compare.h"

#include <cstddef>

namespace strata::rollout {
namespace {

constexpr int kMaxCoreNumbers = 8;

bool IsVersionDigit(char c) { return c >= '0' && c <= '9'; }
bool IsVersionIdentChar(char c) {
  return IsVersionDigit(c) || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '-';
}
bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsVersionDigit(c)) return false;
  }
  return true;
}

struct Parts {
  std::string_view core;
  std::string_view prerelease;  // empty when there is none
  bool has_prerelease = false;
};

// Splits and validates; false if `v` is not a version.
bool Split(std::string_view v, Parts& out) {
  size_t plus = v.find('+');
  if (plus != std::string_view::npos) {
    std::string_view build = v.substr(plus + 1);
    if (build.empty()) return false;
    for (char c : build) {
      if (!IsVersionIdentChar(c) && c != '.') return false;
    }
    v = v.substr(0, plus);
  }
  size_t dash = v.find('-');
  out.core = v.substr(0, dash);
  out.has_prerelease = dash != std::string_view::npos;
  out.prerelease = out.has_prerelease ? v.substr(dash + 1) : std::string_view();
  // Core: numbers separated by single dots.
  if (out.core.empty()) return false;
  int numbers = 0;
  size_t start = 0;
  while (true) {
    size_t dot = out.core.find('.', start);
    std::string_view num = out.core.substr(start, dot == std::string_view::npos
                                                      ? std::string_view::npos
                                                      : dot - start);
    if (!AllDigits(num)) return false;
    if (++numbers > kMaxCoreNumbers) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (out.has_prerelease) {
    if (out.prerelease.empty()) return false;
    start = 0;
    while (true) {
      size_t dot = out.prerelease.find('.', start);
      std::string_view id = out.prerelease.substr(
          start,
          dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (id.empty()) return false;
      for (char c : id) {
        if (!IsVersionIdentChar(c)) return false;
      }
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  return true;
}

// Compares two digit strings numerically.
int CompareNumbers(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a[0] == '0') a.remove_prefix(1);
  while (b.size() > 1 && b[0] == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// Takes the next '.'-separated piece of `s` (consuming it); empty at end.
std::string_view NextPiece(std::string_view& s) {
  size_t dot = s.find('.');
  std::string_view piece = s.substr(0, dot);
  s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  return piece;
}

int CompareCores(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    std::string_view x = a.empty() ? std::string_view("0") : NextPiece(a);
    std::string_view y = b.empty() ? std::string_view("0") : NextPiece(b);
    int c = CompareNumbers(x, y);
    if (c != 0) return c;
  }
  return 0;
}

int ComparePrereleases(std::string_view a, std::string_view b) {
  while (!a.empty() && !b.empty()) {
    std::string_view x = NextPiece(a);
    std::string_view y = NextPiece(b);
    bool xn = AllDigits(x);
    bool yn = AllDigits(y);
    int c;
    if (xn && yn) {
      c = CompareNumbers(x, y);
    } else if (xn != yn) {
      c = xn ? -1 : 1;  // numeric identifiers sort first
    } else {
      int raw = x.compare(y);
      c = raw < 0 ? -1 : (raw > 0 ? 1 : 0);
    }
    if (c != 0) return c;
  }
  if (a.empty() && b.empty()) return 0;
  return a.empty() ? -1 : 1;
}

}  // namespace

bool IsValidVersion(std::string_view v) {
  Parts p;
  return Split(v, p);
}

std::optional<int> CompareVersions(std::string_view a, std::string_view b) {
  Parts pa, pb;
  if (!Split(a, pa) || !Split(b, pb)) return std::nullopt;
  int c = CompareCores(pa.core, pb.core);
  if (c != 0) return c;
  if (pa.has_prerelease != pb.has_prerelease) {
    return pa.has_prerelease ? -1 : 1;
  }
  if (!pa.has_prerelease) return 0;
  return ComparePrereleases(pa.prerelease, pb.prerelease);
}

}  // namespace strata::rollout
