// The bsdiff-family matcher: a suffix array over `old`, then a scan of `new`
// that emits segments of "add" bytes (new = old + small differences) followed
// by "extra" bytes (literal new data).
#ifndef STRATA_DIFF_SRC_MATCHER_H_
#define STRATA_DIFF_SRC_MATCHER_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::diff::internal {

// new[new_pos, new_pos + add_len) = old[old_pos, ...) + diff bytes, then
// new[new_pos + add_len, new_pos + add_len + extra_len) is literal.
struct Segment {
  uint64_t new_pos = 0;
  uint64_t add_len = 0;
  uint64_t old_pos = 0;
  uint64_t extra_len = 0;
};

struct MatchOptions {
  int threads = 2;
  // Minimum advantage (in matching bytes) a new alignment needs over the
  // current one before the scanner switches to it. bsdiff uses 8; 4 gives
  // 5-10% smaller patches on executables with zstd streams.
  int switch_threshold = 4;
  // The same for a new alignment more than 256 bytes away from the current
  // one, whose seek (and usually the seek back) costs more control bytes.
  int far_switch_threshold = 8;
  // fraction in [0,1] of the scan done; called from the calling thread only.
  std::function<void(std::string_view stage, double fraction)> progress;
};

// Segments covering all of `new_data`, in order. `old_data` must be smaller
// than 2 GiB (the suffix array uses 32-bit indices).
absl::StatusOr<std::vector<Segment>> ComputeSegments(
    std::string_view old_data, std::string_view new_data,
    const MatchOptions& options);

// One suffix array, several scans: the segments for each (switch_threshold,
// far_switch_threshold) pair in `variants`, in that order. With more than
// one variant the scans run in parallel, one thread each.
absl::StatusOr<std::vector<std::vector<Segment>>> ComputeSegmentVariants(
    std::string_view old_data, std::string_view new_data,
    const MatchOptions& options,
    const std::vector<std::pair<int, int>>& variants);

// Where the suffixes of `old` that start with each two-byte key (b0 << 8 |
// b1) lie in its suffix array: [(*lo)[k], (*hi)[k]), both 0 for a key that
// does not occur (65,536 entries each). Counted in one sequential pass:
// the runs are in key order, and the one-byte suffix (the last byte) sorts
// first among the suffixes starting with its byte.
void SuffixKeyRuns(std::string_view old, std::vector<uint32_t>* lo,
                   std::vector<uint32_t>* hi);

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_MATCHER_H_
