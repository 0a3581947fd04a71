// Small helpers shared by the signing sources (not part of the API).
#ifndef STRATA_SIGNING_SRC_INTERNAL_H_
#define STRATA_SIGNING_SRC_INTERNAL_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "strata/base/strings.h"

namespace strata::signing::internal {

// Lowercase or uppercase hex to bytes; nullopt on odd length or bad digit.
inline std::optional<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

// Like strata::Annotate, but keeps payloads (the RejectReason).
inline absl::Status AnnotateKeep(const absl::Status& status,
                                 std::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(),
                   strata::StrCat(context, ": ", ToStd(status.message())));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

}  // namespace strata::signing::internal

#endif  // STRATA_SIGNING_SRC_INTERNAL_H_
