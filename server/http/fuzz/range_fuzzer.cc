// Fuzz target: the HTTP Range header parser of stratad's blob server
// (ParseRange, server/http/http_server.h) on untrusted header values and
// resource sizes. Input: 8 bytes of resource size (little endian; the
// first byte also picks a small size, so most inputs use sizes a range can
// hit), then the header value. Properties: never crashes; a parsed range
// lies inside the resource (first <= last < size); a range is only parsed
// from a "bytes=" value; and for the three single-range forms of RFC 9110
// 14.1.2 with plain decimals the result is the one the RFC defines:
// "bytes=a-b" -> [a, min(b, size-1)], "bytes=a-" -> [a, size-1],
// "bytes=-n" -> the last min(n, size) bytes; a form the parser refuses must
// be unsatisfiable (a >= size, or n == 0) or outside these plain forms.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "strata/server/http/http_server.h"

namespace {

using strata::server::ByteRange;
using strata::server::ParseRange;

// A plain decimal of at most 19 digits (what fits a uint64 surely).
std::optional<uint64_t> Decimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// What RFC 9110 says for one plain range against `size` bytes: the range,
// or nullopt when unsatisfiable. `valid` is false when `spec` is not one
// of the plain forms (then nothing is asserted).
std::optional<ByteRange> Expected(std::string_view spec, uint64_t size,
                                  bool& valid) {
  valid = false;
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {
    std::optional<uint64_t> n = Decimal(b);
    if (!n.has_value()) return std::nullopt;
    valid = true;
    if (*n == 0 || size == 0) return std::nullopt;
    return ByteRange{*n >= size ? 0 : size - *n, size - 1};
  }
  std::optional<uint64_t> first = Decimal(a);
  if (!first.has_value()) return std::nullopt;
  if (b.empty()) {
    valid = true;
    if (*first >= size) return std::nullopt;
    return ByteRange{*first, size - 1};
  }
  std::optional<uint64_t> last = Decimal(b);
  if (!last.has_value() || *last < *first) return std::nullopt;
  valid = true;
  if (*first >= size) return std::nullopt;
  return ByteRange{*first, *last < size - 1 ? *last : size - 1};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t resource = 0;
  for (int i = 7; i >= 0; --i) resource = resource << 8 | data[i];
  // Mostly small sizes, so that ranges land inside; the full 64-bit size
  // when the first byte's top bit is set.
  if ((data[0] & 0x80) == 0) resource %= 4096;
  const std::string_view header(reinterpret_cast<const char*>(data + 8),
                                size - 8);
  const std::optional<ByteRange> got = ParseRange(header, resource);
  if (got.has_value()) {
    if (header.substr(0, 6) != "bytes=") std::abort();
    if (resource == 0 || got->first > got->last || got->last >= resource) {
      std::abort();
    }
  }
  if (header.substr(0, 6) == "bytes=") {
    bool valid = false;
    const std::optional<ByteRange> want =
        Expected(header.substr(6), resource, valid);
    if (valid) {
      if (got.has_value() != want.has_value()) std::abort();
      if (got.has_value() &&
          (got->first != want->first || got->last != want->last)) {
        std::abort();
      }
    }
  }
  return 0;
}
