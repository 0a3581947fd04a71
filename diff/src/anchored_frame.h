// The zstd-prefix frame (the new file compressed with the whole old file
// as its history, as zstd --patch-from makes it) without indexing the whole
// old file at zstd's slowest levels: the long identical runs become copies
// found by hashing, zstd's optimal parser sees only the changed stretches
// and the few old bytes they can match, and zstd entropy-codes the merged
// sequences (ZSTD_compressSequences). The result is an ordinary frame that
// any zstd decoder given the old file as prefix reads: the patch formats
// do not change (docs/formats/patch.md, versions 2 and 3).
#ifndef STRATA_DIFF_SRC_ANCHORED_FRAME_H_
#define STRATA_DIFF_SRC_ANCHORED_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/streams.h"

namespace strata::diff::internal {

struct AnchoredFrame {
  std::string frame;
  // Bytes of the new file in changed stretches, and of those the bytes in
  // stretches where most bytes still equal the old file on the diagonal of
  // the copies around them (sparse byte changes, as in executables, which
  // the suffix-array method's add regions encode better than zstd can).
  uint64_t changed_bytes = 0, sparse_bytes = 0;
};

// One zstd frame of `data` against `prefix`, with `params` (level, window,
// checksum, magicless, content size; long_distance and workers are not
// used). std::nullopt when the method does not apply (every byte value
// occurs in `data`, an input is empty, or more than 1/`most_changed` of
// `data` is in changed stretches): make the frame with
// ZstdCompressWithPrefix instead. The frame is decoded and compared with
// `data` before it is returned. With `threads` > 1 the search for the old
// bytes the changed stretches may match runs on two threads (same frame).
absl::StatusOr<std::optional<AnchoredFrame>> AnchoredPrefixFrame(
    std::string_view data, std::string_view prefix, const ZstdParams& params,
    uint64_t most_changed = 8, int threads = 1);

// For tests: the old positions a walk reads from data[p] in one of the
// frame's hash chains, most recent first: the chain of the first `width`
// (4 or 8) bytes over the positions of `prefix` that are multiples of
// `step`, 2^`bits` hash values, at most `depth` positions a hash, built
// for the changed stretch data[begin, end). Empty if out of memory.
std::vector<uint32_t> ChainPositionsForTesting(std::string_view data,
                                               std::string_view prefix,
                                               size_t begin, size_t end,
                                               size_t width, size_t step,
                                               int bits, int depth, size_t p);

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_ANCHORED_FRAME_H_
