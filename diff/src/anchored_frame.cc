#include "src/anchored_frame.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_generateSequences and friends
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include "src/threads.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::diff::internal {
namespace {

// Identical runs at least this long are copies in the frame, never parsed
// by zstd. On the benchmark's text pairs 128 gave frames 1-7 bytes smaller
// than zstd's own parse of the whole file; 32 lost 50 bytes on react-dom.js
// (zstd's cost model prefers other splits around short runs).
constexpr size_t kAnchorMin = 128;
// Anchors are found by hashing kProbe bytes of the new file at every
// position against every kStep-th position of the old file.
constexpr size_t kProbe = 32;
constexpr size_t kStep = 8;
// zstd parses this many bytes of the new file before each changed stretch
// (they are copies already) so that its repeat offsets and statistics start
// as they would in the whole file, and kTail after it.
constexpr size_t kContext = 1024;
constexpr size_t kTail = 32;
// Old bytes around both ends of a changed stretch, on the diagonals of the
// copies next to it, that zstd may match.
constexpr size_t kDiagonalWindow = 256;
// A changed stretch whose old counterpart (the old bytes between the
// copies around it) is at most kCounterpartRatio times its length plus
// kCounterpartSlack is taken for a rewrite of that text, as a minified
// file is when its short names change: the whole counterpart is kept for
// zstd (with kDiagonalWindow around it), so that its matches keep the
// offsets, and zstd its repeat codes, that they have in the whole file.
// On the lodash package's tree body (its minified files rewritten all
// through) that made the tree patch 757 bytes smaller (12,939 to 12,182).
constexpr int64_t kCounterpartRatio = 2;
constexpr int64_t kCounterpartSlack = 1024;
// Such a stretch at least this long is not walked for matches elsewhere in
// the old file: its counterpart has them. On lodash's tree that cost 7
// bytes (12,189) and saved about 40% of the diff's time (0.28-0.30 s to
// 0.16-0.18 s); skipping shorter ones too lost bytes that mattered
// (react-dom.js 758 to 810, below zstd's 767 no more).
constexpr size_t kUnwalkedMin = 1024;
// Hash-chain candidates looked at per position of a changed stretch: the
// most recent occurrences of its first 4 bytes, and of its first 8.
constexpr int kShortWalk = 64;
constexpr int kLongWalk = 256;
constexpr size_t kLongestSnippet = 1024;
// With two threads the changed stretches are walked in halves above this
// many positions each.
constexpr size_t kTwoThreadsMinPositions = 1024;
// With two threads the two hash chains are built one on each above this
// size of the old file, and the two encodings made one on each above this
// size of the new file.
constexpr size_t kTwoThreadsMinBytes = 256 << 10;
// Changed stretches shorter than this are never counted as sparse.
constexpr size_t kSparseMin = 8;
// zstd's smallest match.
constexpr size_t kMinMatch = 3;
constexpr size_t kBlock = ZSTD_BLOCKSIZE_MAX;  // 128 KiB
// A window descriptor byte holds log2(window) - 10 in its high 5 bits.
constexpr int kWindowLogBase = 10;

struct Anchor {
  size_t new_pos, old_pos, len;
};

// A changed stretch new[begin, end) and the diagonals (old - new position)
// of the copies before and after it.
struct Gap {
  size_t begin, end;
  int64_t diag_before, diag_after;
};

// The bytes of the new file zstd parses: new[begin, end), at `at` in the
// concatenation of all pieces.
struct Piece {
  size_t begin, end, at;
};

// A kept run of the old file: old[old_pos, old_pos + len) at `at` in the
// reduced prefix.
struct Snippet {
  size_t at, old_pos, len;
};

// A match in real coordinates: new[pos, pos + len) repeats the bytes
// `offset` bytes back in old + new.
struct Match {
  size_t pos, len, offset;
};

// Old bytes [first, second) zstd may match.
using Kept = std::pair<int64_t, int64_t>;

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t ProbeHash(const char* p) {
  uint64_t h = Load64(p) * 0x9E3779B97F4A7C15ull ^
               Load64(p + 8) * 0xC2B2AE3D27D4EB4Full ^
               Load64(p + 16) * 0x165667B19E3779F9ull ^
               Load64(p + 24) * 0x27D4EB2F165667C5ull;
  return h ^ (h >> 29);
}

int Log2Ceil(size_t n) {
  int b = 0;
  while ((size_t{1} << b) < n) ++b;
  return b;
}

size_t CommonLength(const char* a, const char* b, size_t max) {
  size_t n = 0;
  while (n + 8 <= max && Load64(a + n) == Load64(b + n)) n += 8;
  while (n < max && a[n] == b[n]) ++n;
  return n;
}

// Maximal identical runs of at least kAnchorMin bytes, in new order, not
// overlapping in new.
std::vector<Anchor> FindAnchors(std::string_view data,
                                std::string_view prefix) {
  std::vector<Anchor> anchors;
  if (prefix.size() < kProbe || data.size() < kProbe) return anchors;
  const int bits = std::clamp(Log2Ceil(prefix.size() / kStep) - 1, 10, 22);
  std::vector<uint32_t> table(size_t{1} << bits, 0);  // position + 1
  for (size_t p = 0; p + kProbe <= prefix.size(); p += kStep) {
    table[ProbeHash(prefix.data() + p) >> (64 - bits)] =
        static_cast<uint32_t>(p + 1);
  }
  size_t i = 0, last_end = 0;
  int64_t diag = 0;
  while (i + kProbe <= data.size()) {
    size_t cand = SIZE_MAX;
    // The current diagonal first: edits rarely move the rest of the file.
    int64_t on_diag = static_cast<int64_t>(i) + diag;
    if (on_diag >= 0 &&
        static_cast<size_t>(on_diag) + kProbe <= prefix.size() &&
        std::memcmp(data.data() + i, prefix.data() + on_diag, kProbe) == 0) {
      cand = static_cast<size_t>(on_diag);
    } else {
      uint32_t t = table[ProbeHash(data.data() + i) >> (64 - bits)];
      if (t != 0 &&
          std::memcmp(data.data() + i, prefix.data() + t - 1, kProbe) == 0) {
        cand = t - 1;
      }
    }
    if (cand == SIZE_MAX) {
      ++i;
      continue;
    }
    size_t s = i, o = cand;
    while (s > last_end && o > 0 && data[s - 1] == prefix[o - 1]) {
      --s;
      --o;
    }
    size_t len =
        (i - s) + kProbe +
        CommonLength(
            data.data() + i + kProbe, prefix.data() + cand + kProbe,
            std::min(data.size() - i - kProbe, prefix.size() - cand - kProbe));
    if (len >= kAnchorMin) {
      anchors.push_back({s, o, len});
      last_end = s + len;
      diag = static_cast<int64_t>(o) - static_cast<int64_t>(s);
      i = last_end;
    } else {
      ++i;
    }
  }
  return anchors;
}

// A hash chain by the first `width` bytes, most recent first, over the
// old positions that are multiples of `step`, for walks at most `depth`
// deep from the hash of some position of a walked stretch: only those
// hashes' chains are built (a bitmap of them, checked at every old
// position), and only their `depth` most recent positions, all such a
// walk can reach (the old file is read from its end; a hash leaves the
// bitmap once it has them). The walks see what a chain over every
// position would give them; with few changes the cost is one pass over
// the old file against a bitmap in cache (a full chain cost a third of
// the vue package's diff in page faults and cache misses).
class Chain {
 public:
  // `width` is 4 or 8.
  Chain(size_t width, size_t step, int bits, int depth)
      : width_(width), step_(step), bits_(bits), depth_(depth) {}
  // Indexes `text` for walks from the walked stretches `gaps` of `data`;
  // false if out of memory.
  bool Build(std::string_view text, std::string_view data,
             const std::vector<Gap>& gaps) {
    try {
      Fill(text, data, gaps);
      return true;
    } catch (const std::bad_alloc&) {
      start_.clear();
      positions_.clear();
      return false;
    }
  }
  size_t width() const { return width_; }
  size_t step() const { return step_; }
  // The old positions with the hash of the bytes at `p`, most recent
  // first, at most `depth` of them.
  std::span<const uint32_t> Positions(const char* p) const {
    const uint32_t h = Hash(p);
    const uint64_t word = present_[h >> 6];
    const uint64_t bit = uint64_t{1} << (h & 63);
    if ((word & bit) == 0) return {};
    const uint32_t slot = Slot(h, word, bit);
    return std::span<const uint32_t>(positions_.data() + start_[slot],
                                     start_[slot + 1] - start_[slot]);
  }

 private:
  void Fill(std::string_view text, std::string_view data,
            const std::vector<Gap>& gaps) {
    const size_t words = ((size_t{1} << bits_) + 63) / 64;
    present_.assign(words, 0);
    for (const Gap& g : gaps) {
      for (size_t p = g.begin; p < g.end && p + width_ <= data.size(); ++p) {
        const uint32_t h = Hash(data.data() + p);
        present_[h >> 6] |= uint64_t{1} << (h & 63);
      }
    }
    // A needed hash's slot is the number of needed hashes below it: the
    // tables hold only those (a table by hash value was 1.5 MB a chain
    // for react-dom.js, zeroed and faulted in, for a few thousand
    // hashes).
    rank_.resize(words);
    uint32_t hashes = 0;
    for (size_t w = 0; w < words; ++w) {
      rank_[w] = hashes;
      hashes += static_cast<uint32_t>(std::popcount(present_[w]));
    }
    start_.assign(static_cast<size_t>(hashes) + 1, 0);
    if (text.size() < width_) return;
    // Each hash's number of entries so far; a hash leaves `open` once it
    // has `depth_` of them.
    std::vector<uint32_t> count(hashes, 0);
    std::vector<uint64_t> open = present_;
    // The entries (slot, position) in the order found, most recent
    // first, then placed so that each hash's are contiguous: a walk
    // reads them in a row and asks for the old bytes they point at a
    // few entries ahead, where a linked chain gave the next entry only
    // once the last was read.
    std::vector<std::pair<uint32_t, uint32_t>> found;
    found.reserve(std::min(static_cast<size_t>(hashes) * depth_,
                           text.size() / step_ + 1));
    for (size_t p = (text.size() - width_) / step_ * step_;; p -= step_) {
      const uint32_t h = Hash(text.data() + p);
      uint64_t& word = open[h >> 6];
      const uint64_t bit = uint64_t{1} << (h & 63);
      if ((word & bit) != 0) {
        const uint32_t slot = Slot(h, present_[h >> 6], bit);
        found.emplace_back(slot, static_cast<uint32_t>(p));
        if (++count[slot] == static_cast<uint32_t>(depth_)) word &= ~bit;
      }
      if (p < step_) break;
    }
    for (uint32_t s = 0; s < hashes; ++s) {
      start_[s + 1] = start_[s] + count[s];
      count[s] = start_[s];  // now the next free place of slot s
    }
    positions_.resize(found.size());
    for (const auto& [slot, pos] : found) positions_[count[slot]++] = pos;
  }
  // The slot of needed hash `h`, whose word of `present_` is `word` and
  // whose bit in it is `bit`.
  uint32_t Slot(uint32_t h, uint64_t word, uint64_t bit) const {
    return rank_[h >> 6] +
           static_cast<uint32_t>(std::popcount(word & (bit - 1)));
  }
  // The first 4 or 8 bytes (`width_`), each a single load: a copy of a
  // variable length was a call of memcpy at every old position.
  uint32_t Hash(const char* p) const {
    uint64_t v;
    if (width_ == 4) {
      uint32_t w;
      std::memcpy(&w, p, 4);
      v = w;
    } else {
      std::memcpy(&v, p, 8);
    }
    return static_cast<uint32_t>((v * 0x9E3779B97F4A7C15ull) >> (64 - bits_));
  }
  size_t width_, step_;
  int bits_, depth_;
  std::vector<uint64_t> present_;  // a bit per needed hash value
  std::vector<uint32_t> rank_;     // needed hashes below each word
  // By slot: where its positions start in `positions_` (and end, at the
  // next slot's start).
  std::vector<uint32_t> start_;
  std::vector<uint32_t> positions_;
};

class FrameMaker {
 public:
  FrameMaker(std::string_view data, std::string_view prefix,
             const ZstdParams& params, uint64_t most_changed, int threads)
      : data_(data),
        prefix_(prefix),
        params_(params),
        most_changed_(std::max<uint64_t>(most_changed, 1)),
        threads_(threads) {}

  absl::StatusOr<std::optional<AnchoredFrame>> Make() {
    if (data_.empty() || prefix_.empty()) return std::nullopt;
    // A byte the new file lacks separates the kept old runs, so that no
    // match zstd finds crosses from one run into the next.
    size_t counts[256] = {};
    for (char c : data_) ++counts[static_cast<uint8_t>(c)];
    int separator = -1;
    for (int b = 0; b < 256 && separator < 0; ++b) {
      if (counts[b] == 0) separator = b;
    }
    if (separator < 0) return std::nullopt;
    separator_ = static_cast<char>(separator);

    anchors_ = FindAnchors(data_, prefix_);
    PlanGaps();
    // Many changes: zstd's own parse of the whole file makes the smaller
    // frame (a tree body with new files, 11% of it changed, was 9% larger
    // this way), and there is little left to save.
    AnchoredFrame result;
    for (const Gap& g : gaps_) {
      result.changed_bytes += g.end - g.begin;
      if (IsSparse(g)) result.sparse_bytes += g.end - g.begin;
    }
    if (result.changed_bytes > data_.size() / most_changed_) {
      return std::nullopt;
    }
    STRATA_RETURN_IF_ERROR(KeepOldBytes());
    BuildInputs();
    std::vector<Match> matches;
    if (!pieces_.empty()) {
      absl::StatusOr<std::vector<Match>> parsed = Parse();
      if (!parsed.ok()) return parsed.status();
      if (parsed->empty() && sequences_failed_) return std::nullopt;
      matches = std::move(*parsed);
    }
    std::vector<ZSTD_Sequence> seqs = Merge(matches);
    // The block layout changes the entropy tables: zstd's own split and
    // blocks of exactly 128 KiB each win on some inputs (up to 13 bytes
    // on the benchmark's text pairs); both are cheap (on two threads, one
    // each), keep the smaller.
    absl::StatusOr<std::string> best, other;
    RunBeside(
        threads_ > 1 && data_.size() >= kTwoThreadsMinBytes,
        [&] { other = Encode(WithBlocks(seqs), /*explicit_blocks=*/true); },
        [&] { best = Encode(seqs, /*explicit_blocks=*/false); });
    if (!best.ok()) return best.status();
    if (!other.ok()) return other.status();
    if (other->size() < best->size()) best = std::move(other);
    if (!Decodes(*best)) return std::nullopt;
    result.frame = std::move(*best);
    return std::optional<AnchoredFrame>(std::move(result));
  }

 private:
  // A stretch between two copies on one diagonal where at least half the
  // bytes equal the old bytes on that diagonal.
  bool IsSparse(const Gap& g) const {
    const size_t len = g.end - g.begin;
    if (g.diag_before != g.diag_after || len < kSparseMin) return false;
    const int64_t first = static_cast<int64_t>(g.begin) + g.diag_before;
    if (first < 0 || static_cast<size_t>(first) + len > prefix_.size()) {
      return false;
    }
    size_t same = 0;
    for (size_t k = 0; k < len; ++k) {
      same += data_[g.begin + k] == prefix_[static_cast<size_t>(first) + k];
    }
    return 2 * same >= len;
  }

  void PlanGaps() {
    size_t prev_end = 0;
    int64_t prev_diag = 0;
    for (size_t k = 0; k <= anchors_.size(); ++k) {
      const bool last = k == anchors_.size();
      size_t start = last ? data_.size() : anchors_[k].new_pos;
      int64_t diag = last ? prev_diag
                          : static_cast<int64_t>(anchors_[k].old_pos) -
                                static_cast<int64_t>(anchors_[k].new_pos);
      if (start > prev_end) gaps_.push_back({prev_end, start, prev_diag, diag});
      if (!last) {
        prev_end = anchors_[k].new_pos + anchors_[k].len;
        prev_diag = diag;
      }
    }
  }

  // Marks old[a, b) (clipped to the old file) as bytes zstd may match.
  void Keep(int64_t a, int64_t b) {
    a = std::max<int64_t>(a, 0);
    b = std::min<int64_t>(b, static_cast<int64_t>(prefix_.size()));
    if (a < b) kept_.emplace_back(a, b);
  }

  // Marks the old bytes zstd may match: around the diagonals at both ends
  // of each changed stretch (and under its context), the whole old
  // counterpart of a rewritten one (see kCounterpartRatio), and, found by
  // a hash chain over the old file, the most recent occurrence of each
  // longer match for every position of the walked stretches (zstd's
  // binary tree finds the same frontier of recent and long matches).
  absl::Status KeepOldBytes() {
    if (gaps_.empty()) return absl::OkStatus();
    const int bits = std::clamp(Log2Ceil(prefix_.size()) - 4, 12, 20);
    size_t total = 0;
    std::vector<Gap> walked;  // the stretches the chains are walked for
    for (const Gap& g : gaps_) {
      const int64_t b = static_cast<int64_t>(g.begin);
      const int64_t e = static_cast<int64_t>(g.end);
      Keep(b - static_cast<int64_t>(kContext) + g.diag_before,
           b + static_cast<int64_t>(kDiagonalWindow) + g.diag_before);
      Keep(e - static_cast<int64_t>(kDiagonalWindow) + g.diag_after,
           e + static_cast<int64_t>(kTail) + g.diag_after);
      const int64_t from = b + g.diag_before, to = e + g.diag_after;
      const bool rewrite =
          to > from &&
          to - from <= kCounterpartRatio * (e - b) + kCounterpartSlack &&
          Resembles(g, from, to);
      if (rewrite) {
        Keep(from - static_cast<int64_t>(kDiagonalWindow),
             to + static_cast<int64_t>(kDiagonalWindow));
      }
      if (!rewrite || g.end - g.begin < kUnwalkedMin) {
        walked.push_back(g);
        total += g.end - g.begin;
      }
    }
    if (walked.empty()) return absl::OkStatus();
    // The 8-byte chain indexes every 4th position (a quarter of the time);
    // a match found there is extended back to where it starts. Each chain
    // is one pass over the old file: on two threads, one each.
    Chain short_chain(4, 1, bits, kShortWalk),
        long_chain(8, 4, bits, kLongWalk);
    bool short_ok = false, long_ok = false;
    RunBeside(
        threads_ > 1 && prefix_.size() >= kTwoThreadsMinBytes,
        [&] { long_ok = long_chain.Build(prefix_, data_, walked); },
        [&] { short_ok = short_chain.Build(prefix_, data_, walked); });
    if (!short_ok || !long_ok) {
      return absl::ResourceExhaustedError(
          "no memory for the anchored frame's hash chains");
    }
    // The positions of the walked stretches, in order, numbered from 0:
    // [from, to) of them are walked into `kept`.
    auto walk = [&](size_t from, size_t to, std::vector<Kept>* kept) {
      size_t at = 0;
      for (const Gap& g : walked) {
        const size_t len = g.end - g.begin;
        const size_t lo = std::max(from, at), hi = std::min(to, at + len);
        for (size_t k = lo; k < hi; ++k) {
          const size_t p = g.begin + (k - at);
          size_t best = kMinMatch - 1;
          // Short matches among the most recent occurrences of 4 bytes,
          // longer ones among those of 8.
          best = WalkChain(short_chain, p, best, kept);
          WalkChain(long_chain, p, std::max<size_t>(best, 7), kept);
        }
        at += len;
        if (at >= to) break;
      }
    };
    // On two threads the stretches are walked in halves (the same bytes
    // are kept).
    std::vector<Kept> second;
    RunBeside(
        threads_ > 1 && total >= 2 * kTwoThreadsMinPositions,
        [&] { walk(total / 2, total, &second); },
        [&] { walk(0, total / 2, &kept_); });
    kept_.insert(kept_.end(), second.begin(), second.end());
    return absl::OkStatus();
  }

  // True if a quarter or more of the changed stretch `g`'s 8-byte strings
  // (every 4th) occur in old[from, to): it is a rewrite of that text, not
  // new content that happens to replace as many bytes. (In lodash's
  // rewritten minified code 44-76% of them do: names of one or two letters
  // changed all through.)
  bool Resembles(const Gap& g, int64_t from, int64_t to) const {
    from = std::max<int64_t>(from, 0);
    to = std::min<int64_t>(to, static_cast<int64_t>(prefix_.size()));
    if (to - from < 8 || g.end - g.begin < 8) return false;
    const size_t n = static_cast<size_t>(to - from);
    // A bit per hash, 16 bits per old position: about one in 16 strings
    // the old text lacks is counted as present.
    const int bits = std::max(Log2Ceil(n) + 4, 6);
    std::vector<uint64_t> seen((size_t{1} << bits) / 64, 0);
    auto hash = [bits](const char* p) {
      return static_cast<uint32_t>((Load64(p) * 0x9E3779B97F4A7C15ull) >>
                                   (64 - bits));
    };
    const char* old = prefix_.data() + from;
    for (size_t k = 0; k + 8 <= n; ++k) {
      const uint32_t h = hash(old + k);
      seen[h >> 6] |= uint64_t{1} << (h & 63);
    }
    size_t found = 0, probes = 0;
    for (size_t p = g.begin; p + 8 <= g.end; p += 4) {
      const uint32_t h = hash(data_.data() + p);
      found += (seen[h >> 6] >> (h & 63)) & 1;
      ++probes;
    }
    return 4 * found >= probes;
  }

  // Adds to `kept` the old bytes of each match at data_[p] longer than all
  // more recent ones; returns the longest length seen.
  size_t WalkChain(const Chain& chain, size_t p, size_t best,
                   std::vector<Kept>* kept) const {
    if (p + chain.width() > data_.size()) return best;
    const char* q = data_.data() + p;
    const std::span<const uint32_t> candidates = chain.Positions(q);
    for (size_t c = 0; c < candidates.size(); ++c) {
      // The old bytes a few candidates on: they are apart in the old
      // file, and each would be a cache miss met in turn.
      constexpr size_t kAhead = 4;
      if (c + kAhead < candidates.size()) {
        __builtin_prefetch(prefix_.data() + candidates[c + kAhead]);
      }
      size_t o = candidates[c];
      size_t len = CommonLength(
          q, prefix_.data() + o,
          std::min({kLongestSnippet, data_.size() - p, prefix_.size() - o}));
      size_t back = 0;
      while (back + 1 < chain.step() && back < o && back < p &&
             data_[p - back - 1] == prefix_[o - back - 1]) {
        ++back;
      }
      if (len + back > best) {
        best = len + back;
        const int64_t a = static_cast<int64_t>(o - back);
        const int64_t b = static_cast<int64_t>(o + len);
        // Successive finds at one position often overlap: one interval.
        if (!kept->empty() && kept->back().first <= b &&
            a <= kept->back().second) {
          kept->back().first = std::min(kept->back().first, a);
          kept->back().second = std::max(kept->back().second, b);
        } else {
          kept->emplace_back(a, b);
        }
        if (len == kLongestSnippet) break;
      }
    }
    return best;
  }

  void BuildInputs() {
    for (const Gap& g : gaps_) {
      size_t begin = g.begin > kContext ? g.begin - kContext : 0;
      size_t end = std::min(data_.size(), g.end + kTail);
      if (!pieces_.empty() && begin <= pieces_.back().end) {
        pieces_.back().end = std::max(pieces_.back().end, end);
      } else {
        pieces_.push_back({begin, end, 0});
      }
    }
    for (Piece& p : pieces_) {
      p.at = src_.size();
      src_.append(data_.substr(p.begin, p.end - p.begin));
    }
    // The kept runs: the marked stretches, merged where they overlap or
    // touch.
    std::sort(kept_.begin(), kept_.end());
    for (size_t k = 0; k < kept_.size();) {
      const int64_t begin = kept_[k].first;
      int64_t end = kept_[k].second;
      for (++k; k < kept_.size() && kept_[k].first <= end; ++k) {
        end = std::max(end, kept_[k].second);
      }
      const size_t b = static_cast<size_t>(begin);
      const size_t len = static_cast<size_t>(end - begin);
      snippets_.push_back({reduced_.size(), b, len});
      reduced_.append(prefix_.substr(b, len));
      reduced_.push_back(separator_);
    }
  }

  // zstd's parse of the pieces against the reduced prefix, in real
  // coordinates.
  absl::StatusOr<std::vector<Match>> Parse() {
    const ZstdCCtxPtr owned = NewZstdCCtx();
    ZSTD_CCtx* const cctx = owned.get();
    if (cctx == nullptr) return absl::ResourceExhaustedError("zstd: no memory");
    size_t r =
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, params_.level);
    if (!ZSTD_isError(r)) {
      // zstd before 1.5.6 (Debian 12 has 1.5.4) collects wrong sequences
      // when its block splitter, on at the optimal parser's levels, splits
      // a block (zstd pull request 3981): the mapping below then fails and
      // the caller falls back to zstd's own parse (one version of this
      // file's counterparts did so on the lodash package's tree body: a
      // match mapped onto a separator). The splitter only cuts the
      // collected sequences into blocks; Encode() makes its own blocks.
      // Advice: a libzstd that does not know the parameter (it is
      // experimental) parses as it would.
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_useBlockSplitter, ZSTD_ps_disable);
    }
    if (!ZSTD_isError(r) && !reduced_.empty()) {
      r = ZSTD_CCtx_refPrefix(cctx, reduced_.data(), reduced_.size());
    }
    std::vector<ZSTD_Sequence> seqs(ZSTD_sequenceBound(src_.size()));
    size_t n = 0;
    if (!ZSTD_isError(r)) {
      n = ZSTD_generateSequences(cctx, seqs.data(), seqs.size(), src_.data(),
                                 src_.size());
    }
    if (ZSTD_isError(r) || ZSTD_isError(n)) {
      return absl::InternalError(strata::StrCat(
          "zstd sequences: ", ZSTD_getErrorName(ZSTD_isError(r) ? r : n)));
    }
    std::vector<Match> out;
    size_t at = 0;  // in src_
    for (size_t s = 0; s < n; ++s) {
      at += seqs[s].litLength;
      size_t left = seqs[s].matchLength;
      const size_t off = seqs[s].offset;
      while (left > 0) {
        const Piece& dst = PieceAt(at);
        size_t len = std::min(left, dst.at + (dst.end - dst.begin) - at);
        const size_t pos = dst.begin + (at - dst.at);
        size_t offset;
        if (off > at) {
          // From the reduced prefix: back to the old file.
          size_t r_pos = reduced_.size() + at - off;
          auto it = std::upper_bound(
              snippets_.begin(), snippets_.end(), r_pos,
              [](size_t v, const Snippet& sn) { return v < sn.at; });
          if (it == snippets_.begin()) return Failed();
          --it;
          if (r_pos >= it->at + it->len) return Failed();  // a separator
          len = std::min(len, it->at + it->len - r_pos);
          size_t old_pos = it->old_pos + (r_pos - it->at);
          offset = prefix_.size() + pos - old_pos;
        } else {
          // From an earlier piece of the new file (or this one).
          size_t from = at - off;
          const Piece& srcp = PieceAt(from);
          len = std::min(len, srcp.at + (srcp.end - srcp.begin) - from);
          offset = pos - (srcp.begin + (from - srcp.at));
        }
        out.push_back({pos, len, offset});
        at += len;
        left -= len;
      }
    }
    return out;
  }

  std::vector<Match> Failed() {
    sequences_failed_ = true;
    return {};
  }

  const Piece& PieceAt(size_t at) const {
    auto it =
        std::upper_bound(pieces_.begin(), pieces_.end(), at,
                         [](size_t v, const Piece& p) { return v < p.at; });
    return *(it - 1);
  }

  // The anchors as copies plus zstd's matches inside the changed stretches,
  // as zstd sequences (literals in between).
  std::vector<ZSTD_Sequence> Merge(const std::vector<Match>& parsed) {
    std::vector<Match> all;
    all.reserve(anchors_.size() + parsed.size());
    for (const Anchor& a : anchors_) {
      all.push_back({a.new_pos, a.len, prefix_.size() + a.new_pos - a.old_pos});
    }
    size_t g = 0;
    for (const Match& m : parsed) {
      // Keep only what lies inside changed stretches: the context and tail
      // are copies already.
      while (g < gaps_.size() && gaps_[g].end <= m.pos) ++g;
      for (size_t k = g; k < gaps_.size() && gaps_[k].begin < m.pos + m.len;
           ++k) {
        size_t a = std::max(m.pos, gaps_[k].begin);
        size_t b = std::min(m.pos + m.len, gaps_[k].end);
        if (b > a) all.push_back({a, b - a, m.offset});
      }
    }
    std::stable_sort(
        all.begin(), all.end(),
        [](const Match& x, const Match& y) { return x.pos < y.pos; });
    std::vector<ZSTD_Sequence> seqs;
    size_t pos = 0;
    for (const Match& m : all) {
      size_t q = m.pos, len = m.len;
      if (q + len <= pos) continue;
      if (q < pos) {
        len -= pos - q;
        q = pos;
      }
      if (len < kMinMatch) continue;
      if (!seqs.empty() && q == pos && seqs.back().matchLength > 0 &&
          seqs.back().offset == m.offset) {
        seqs.back().matchLength += static_cast<unsigned>(len);
      } else {
        seqs.push_back({static_cast<unsigned>(m.offset),
                        static_cast<unsigned>(q - pos),
                        static_cast<unsigned>(len), 0});
      }
      pos = q + len;
    }
    if (pos < data_.size()) {
      seqs.push_back({0, static_cast<unsigned>(data_.size() - pos), 0, 0});
    }
    return seqs;
  }

  // The same sequences cut into blocks of exactly kBlock bytes where a
  // match allows it (no piece below zstd's smallest match), with zstd's
  // block delimiters.
  static std::vector<ZSTD_Sequence> WithBlocks(
      const std::vector<ZSTD_Sequence>& seqs) {
    std::vector<ZSTD_Sequence> out;
    size_t in_block = 0, lits = 0;
    auto end_block = [&] {
      out.push_back({0, static_cast<unsigned>(lits), 0, 0});
      lits = 0;
      in_block = 0;
    };
    for (const ZSTD_Sequence& s : seqs) {
      size_t lit = s.litLength, ml = s.matchLength;
      while (lit > 0) {
        size_t take = std::min(lit, kBlock - in_block);
        lits += take;
        lit -= take;
        in_block += take;
        if (in_block == kBlock) end_block();
      }
      while (ml > 0) {
        size_t room = kBlock - in_block;
        size_t take = std::min(ml, room);
        if (take < ml && ml - take < kMinMatch) {
          take = ml >= kMinMatch * 2 ? ml - kMinMatch : 0;
          take = std::min(take, room);
        }
        if (take < kMinMatch) {
          if (in_block == 0) return seqs;  // cannot happen: kBlock >> 3
          end_block();
          continue;
        }
        out.push_back({s.offset, static_cast<unsigned>(lits),
                       static_cast<unsigned>(take), 0});
        lits = 0;
        ml -= take;
        in_block += take;
        if (in_block == kBlock) {
          out.push_back({0, 0, 0, 0});
          in_block = 0;
        }
      }
    }
    out.push_back({0, static_cast<unsigned>(lits), 0, 0});
    return out;
  }

  int WindowLog() const {
    uint64_t span = data_.size() + prefix_.size();
    int wl = params_.window_log;
    while (wl > ZSTD_WINDOWLOG_MIN && (uint64_t{1} << (wl - 1)) >= span) --wl;
    return wl;
  }

  absl::StatusOr<std::string> Encode(const std::vector<ZSTD_Sequence>& seqs,
                                     bool explicit_blocks) {
    const ZstdCCtxPtr owned = NewZstdCCtx();
    ZSTD_CCtx* const cctx = owned.get();
    if (cctx == nullptr) return absl::ResourceExhaustedError("zstd: no memory");
    auto set = [&](ZSTD_cParameter p, int v) {
      return ZSTD_CCtx_setParameter(cctx, p, v);
    };
    const int wl = WindowLog();
    // The level's strategy sets the entropy coder's choices; the match
    // tables are not used (the sequences are given), so they are tiny.
    size_t r = set(ZSTD_c_compressionLevel, params_.level);
    if (!ZSTD_isError(r) && params_.content_size) {
      // zstd picks a level's parameter row by the new size plus the
      // history's; with no prefix loaded (below) that would be the row of
      // the new file alone, whose strategy differs at some levels (2,
      // 4-18). So the strategy of the row these frames always had.
      const ZSTD_compressionParameters row =
          ZSTD_getCParams(params_.level, data_.size(), prefix_.size());
      r = set(ZSTD_c_strategy, static_cast<int>(row.strategy));
      if (!ZSTD_isError(r)) {
        r = set(ZSTD_c_targetLength, static_cast<int>(row.targetLength));
      }
      if (!ZSTD_isError(r))
        r = set(ZSTD_c_minMatch, static_cast<int>(row.minMatch));
    }
    if (!ZSTD_isError(r)) r = set(ZSTD_c_windowLog, wl);
    if (!ZSTD_isError(r)) r = set(ZSTD_c_hashLog, ZSTD_HASHLOG_MIN);
    if (!ZSTD_isError(r)) r = set(ZSTD_c_chainLog, ZSTD_CHAINLOG_MIN);
    if (!ZSTD_isError(r)) r = set(ZSTD_c_searchLog, ZSTD_SEARCHLOG_MIN);
    if (!ZSTD_isError(r)) r = set(ZSTD_c_checksumFlag, params_.checksum);
    if (!ZSTD_isError(r)) r = set(ZSTD_c_contentSizeFlag, params_.content_size);
    if (!ZSTD_isError(r) && params_.magicless) {
      r = set(ZSTD_c_format, ZSTD_f_zstd1_magicless);
    }
    if (!ZSTD_isError(r)) {
      r = set(ZSTD_c_blockDelimiters, explicit_blocks
                                          ? ZSTD_sf_explicitBlockDelimiters
                                          : ZSTD_sf_noBlockDelimiters);
    }
    // No prefix is loaded: the sequences are given, and loading it cost
    // ~20 ns a byte even with the tiny tables (a fifth of the CPU of the
    // vue package's tree patch, for two encodes of a 2.3 MB prefix).
    // Without it zstd sizes the frame's window for the new file alone,
    // which changes nothing a decoder sees: a frame without content size
    // always has a window byte, which is set afterwards; one with a
    // content size gets the same header either way (single-segment when
    // the window holds the new file, else the window byte of `wl`), and
    // its strategy is set above. (On a 32-bit build the smaller window
    // would turn off zstd's split of offsets over 2^25: such a frame
    // fails Decodes() and the caller falls back to zstd's own.)
    // Decodes() checks every frame against the prefix.
    std::string out;
    if (!ZSTD_isError(r)) {
      // Frames are small next to the file: a small buffer first (a zero
      // fill of the bound cost page faults), the bound if it is too small.
      out.resize(std::min(ZSTD_compressBound(data_.size()), size_t{64} << 10));
      r = ZSTD_compressSequences(cctx, out.data(), out.size(), seqs.data(),
                                 seqs.size(), data_.data(), data_.size());
      if (ZSTD_isError(r) &&
          ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) {
        out.resize(ZSTD_compressBound(data_.size()));
        r = ZSTD_compressSequences(cctx, out.data(), out.size(), seqs.data(),
                                   seqs.size(), data_.data(), data_.size());
      }
    }
    if (ZSTD_isError(r)) {
      return absl::InternalError(
          strata::StrCat("zstd sequence compression: ", ZSTD_getErrorName(r)));
    }
    out.resize(r);
    if (!params_.content_size) SetWindowByte(out, wl);
    return out;
  }

  // Frame header: [magic] descriptor, window descriptor (present: no
  // content size, so not single-segment), no dictionary id.
  void SetWindowByte(std::string& frame, int wl) const {
    const size_t at = params_.magicless ? 0 : 4;
    if (frame.size() < at + 2) return;
    const uint8_t descriptor = static_cast<uint8_t>(frame[at]);
    if ((descriptor & 0x20) != 0 || (descriptor & 0x03) != 0) return;
    frame[at + 1] = static_cast<char>((wl - kWindowLogBase) << 3);
  }

  bool Decodes(const std::string& frame) const {
    const std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> owned(
        ZSTD_createDCtx(), ZSTD_freeDCtx);
    ZSTD_DCtx* const dctx = owned.get();
    if (dctx == nullptr) return false;
    size_t r = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, WindowLog());
    if (!ZSTD_isError(r) && params_.magicless) {
      r = ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    }
    if (!ZSTD_isError(r)) {
      r = ZSTD_DCtx_refPrefix(dctx, prefix_.data(), prefix_.size());
    }
    // Not zero-filled: the decoder writes what it returns.
    const size_t room = data_.size() + 1;
    const auto out = std::make_unique_for_overwrite<char[]>(room);
    if (!ZSTD_isError(r)) {
      r = ZSTD_decompressDCtx(dctx, out.get(), room, frame.data(),
                              frame.size());
    }
    return !ZSTD_isError(r) && r == data_.size() &&
           std::memcmp(out.get(), data_.data(), r) == 0;
  }

  std::string_view data_, prefix_;
  ZstdParams params_;
  uint64_t most_changed_;
  int threads_;
  char separator_ = 0;
  std::vector<Anchor> anchors_;
  std::vector<Gap> gaps_;
  std::vector<Piece> pieces_;
  std::vector<Snippet> snippets_;
  std::vector<Kept> kept_;  // old bytes zstd may match (see Keep)
  std::string src_, reduced_;
  bool sequences_failed_ = false;
};

}  // namespace

std::vector<uint32_t> ChainPositionsForTesting(std::string_view data,
                                               std::string_view prefix,
                                               size_t begin, size_t end,
                                               size_t width, size_t step,
                                               int bits, int depth, size_t p) {
  Chain chain(width, step, bits, depth);
  const std::vector<Gap> gaps = {{begin, end, 0, 0}};
  if (!chain.Build(prefix, data, gaps) || p + width > data.size()) return {};
  const std::span<const uint32_t> found = chain.Positions(data.data() + p);
  return std::vector<uint32_t>(found.begin(), found.end());
}

absl::StatusOr<std::optional<AnchoredFrame>> AnchoredPrefixFrame(
    std::string_view data, std::string_view prefix, const ZstdParams& params,
    uint64_t most_changed, int threads) {
  FrameMaker maker(data, prefix, params, most_changed, threads);
  return maker.Make();
}

}  // namespace strata::diff::internal
