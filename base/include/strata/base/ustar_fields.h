// The fields of a ustar header block (POSIX.1-1988 tar), as every reader
// of published file trees parses them: the delta engine
// (diff/src/ustar_reader.cc), stratad's publish check
// (server/core/src/blob_writer.cc) and the device core
// (client_sdk/device_core/src/tree.cc). Header-only and without Abseil, so
// the device core can include it.
#ifndef STRATA_BASE_USTAR_FIELDS_H_
#define STRATA_BASE_USTAR_FIELDS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace strata::ustar {

// An octal number field (NUL- or space-terminated, leading spaces or NULs
// allowed); nullopt when malformed, past 64 bits or in the base-256 form.
inline std::optional<uint64_t> Octal(std::string_view field) {
  uint64_t v = 0;
  bool digits = false;
  for (char c : field) {
    if (c == '\0' || c == ' ') {
      if (digits) break;
      continue;
    }
    if (c < '0' || c > '7' || v > (UINT64_MAX >> 3)) return std::nullopt;
    v = (v << 3) | static_cast<uint64_t>(c - '0');
    digits = true;
  }
  return v;
}

// A NUL-terminated text field (or all of its `width` bytes).
inline std::string_view Field(std::string_view block, size_t at, size_t width) {
  std::string_view f = block.substr(at, width);
  return f.substr(0, f.find('\0'));
}

// Whether the 512-byte header `block` holds its right checksum: the sum of
// its bytes, the checksum field (148..155) counted as spaces.
inline bool ChecksumOk(std::string_view block) {
  const std::optional<uint64_t> sum = Octal(block.substr(148, 8));
  uint64_t computed = 0;
  for (size_t i = 0; i < block.size(); ++i) {
    computed +=
        (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
  }
  return sum.has_value() && *sum == computed;
}

}  // namespace strata::ustar

#endif  // STRATA_BASE_USTAR_FIELDS_H_
