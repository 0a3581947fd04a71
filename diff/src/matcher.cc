#include "src/matcher.h"

#include <divsufsort.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>

#include "src/streams.h"
#include "src/threads.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::diff::internal {
namespace {

// Suffix array of `old` plus a table of the SA range of every 2-byte prefix,
// which removes the first ~16 steps of each binary search.
class SuffixIndex {
 public:
  explicit SuffixIndex(std::string_view old) : old_(old) {}

  absl::Status Build() {
    const size_t n = old_.size();
    if (n == 0) return absl::OkStatus();
    // divsufsort writes every entry: no zero fill (36 MB for the 9 MB
    // typescript.js, 12% of that diff's CPU samples); 2 MiB pages (the
    // page faults of the first touch: typescript.js 0.67 to 0.55 s, the
    // react-dom tree 0.38 to 0.34 s).
    sa_.reset(static_cast<saidx_t*>(AllocateLarge(n * sizeof(saidx_t))));
    if (sa_ == nullptr) {
      return absl::ResourceExhaustedError(
          "no memory for the suffix array (4 bytes per old byte)");
    }
    if (divsufsort(reinterpret_cast<const sauchar_t*>(old_.data()), sa_.get(),
                   static_cast<saidx_t>(n)) != 0) {
      return absl::ResourceExhaustedError("suffix sorting failed");
    }
    // (A pass over the suffix array read `old` at random: 13% of the
    // samples of typescript.js's diff. Same runs, same patches.)
    SuffixKeyRuns(old_, &bucket_lo_, &bucket_hi_);
    const uint8_t* o = bytes();
    for (int b = 0; b < 256; ++b) any_pos_[b] = -1;
    for (size_t i = 0; i < n; ++i) {
      if (any_pos_[o[i]] < 0) any_pos_[o[i]] = static_cast<int64_t>(i);
    }
    return absl::OkStatus();
  }

  // Longest match of q[0, qlen) in old: sets *pos, returns the length.
  uint64_t Search(const uint8_t* q, uint64_t qlen, uint64_t* pos) const {
    *pos = 0;
    if (old_.empty() || qlen == 0) return 0;
    if (qlen >= 2) {
      uint32_t k = (uint32_t{q[0]} << 8) | q[1];
      uint32_t lo = bucket_lo_[k], hi = bucket_hi_[k];
      if (lo < hi) return SearchRange(q, qlen, lo, hi, pos);
    }
    if (any_pos_[q[0]] >= 0) {
      *pos = static_cast<uint64_t>(any_pos_[q[0]]);
      return 1;
    }
    return 0;
  }

  const uint8_t* bytes() const {
    return reinterpret_cast<const uint8_t*>(old_.data());
  }

 private:
  static uint64_t CommonPrefix(const uint8_t* a, const uint8_t* b, uint64_t n) {
    uint64_t i = 0;
    while (i + 8 <= n) {
      uint64_t x, y;
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return i + (__builtin_ctzll(x ^ y) >> 3);
      i += 8;
    }
    while (i < n && a[i] == b[i]) ++i;
    return i;
  }

  uint64_t SearchRange(const uint8_t* q, uint64_t qlen, uint32_t lo,
                       uint32_t hi, uint64_t* pos) const {
    const uint8_t* o = bytes();
    const uint64_t n = old_.size();
    // Lower bound of q among the suffixes in [lo, hi), all sharing q's first
    // two bytes.
    uint32_t first = lo, last = hi;
    while (first < last) {
      uint32_t mid = first + (last - first) / 2;
      uint64_t s = static_cast<uint64_t>(sa_[mid]);
      uint64_t slen = n - s;
      uint64_t m = std::min(slen, qlen);
      uint64_t c = CommonPrefix(o + s + 2, q + 2, m - 2) + 2;
      bool suffix_less = (c == m) ? slen < qlen : o[s + c] < q[c];
      if (suffix_less) {
        first = mid + 1;
      } else {
        last = mid;
      }
    }
    uint64_t best = 0;
    for (uint32_t cand : {first, first - 1}) {
      if (cand < lo || cand >= hi) continue;
      uint64_t s = static_cast<uint64_t>(sa_[cand]);
      uint64_t m = std::min(n - s, qlen);
      uint64_t c = CommonPrefix(o + s, q, m);
      if (c > best) {
        best = c;
        *pos = s;
      }
    }
    return best;
  }

  std::string_view old_;
  std::unique_ptr<saidx_t[], FreeLarge> sa_;
  std::vector<uint32_t> bucket_lo_, bucket_hi_;
  int64_t any_pos_[256];
};

}  // namespace

void SuffixKeyRuns(std::string_view old, std::vector<uint32_t>* lo,
                   std::vector<uint32_t>* hi) {
  lo->assign(65536, 0);
  hi->assign(65536, 0);
  const size_t n = old.size();
  if (n == 0) return;
  const auto* o = reinterpret_cast<const uint8_t*>(old.data());
  std::vector<uint32_t> count(65536, 0);
  for (size_t i = 0; i + 1 < n; ++i) {
    ++count[(uint32_t{o[i]} << 8) | o[i + 1]];
  }
  uint64_t at = 0;
  for (uint32_t k = 0; k < 65536; ++k) {
    if ((k & 0xff) == 0 && o[n - 1] == (k >> 8)) ++at;  // the last byte
    if (count[k] == 0) continue;
    (*lo)[k] = static_cast<uint32_t>(at);
    at += count[k];
    (*hi)[k] = static_cast<uint32_t>(at);
  }
}

namespace {

// See the stepping in ScanRange.
constexpr int64_t kStepAfter = 128;
constexpr int64_t kMaxStep = 8;

// Realignments within this distance of the current one are cheap (a short
// seek); farther ones must gain more (see MatchOptions).
constexpr int64_t kNearJump = 256;

// Scans new[begin, end) and appends segments covering exactly that range.
// `done` receives the number of new bytes scanned so far.
void ScanRange(const SuffixIndex& index, std::string_view old_view,
               std::string_view new_view, uint64_t begin, uint64_t end,
               int threshold, int far_threshold, std::vector<Segment>* out,
               std::atomic<uint64_t>* done) {
  const uint8_t* o = index.bytes();
  const uint8_t* nw = reinterpret_cast<const uint8_t*>(new_view.data());
  const int64_t n = static_cast<int64_t>(old_view.size());
  const int64_t e = static_cast<int64_t>(end);

  auto old_matches = [&](int64_t new_idx, int64_t offset) {
    int64_t op = new_idx + offset;
    return op >= 0 && op < n && o[op] == nw[new_idx];
  };

  int64_t scan = static_cast<int64_t>(begin);
  int64_t len = 0;
  int64_t pos = 0;
  // Start on the diagonal (old position == new position) when it exists,
  // so a chunk of an unchanged region continues the obvious alignment.
  int64_t last_scan = scan;
  int64_t last_pos = scan <= n ? scan : 0;
  int64_t last_offset = last_pos - scan;
  uint64_t reported = 0;
  while (scan < e) {
    int64_t old_score = 0;
    scan += len;
    int64_t counted = scan;  // new positions whose old_score is counted
    int64_t unmatched = 0;   // positions searched since the last break
    for (; scan < e; ++scan) {
      uint64_t p;
      len = static_cast<int64_t>(
          index.Search(nw + scan, static_cast<uint64_t>(e - scan), &p));
      pos = static_cast<int64_t>(p);
      // Score of staying on the current alignment over the same bytes.
      for (; counted < scan + len; ++counted) {
        if (old_matches(counted, last_offset)) ++old_score;
      }
      if (len == old_score && len != 0) break;
      {
        // A far jump costs a large seek (and usually one back): demand a
        // bigger gain for it than for a nearby realignment.
        int64_t jump = (pos - scan) - last_offset;
        if (jump < 0) jump = -jump;
        int64_t need = jump < kNearJump ? threshold : far_threshold;
        if (len > old_score + need) break;
      }
      if (old_matches(scan, last_offset)) --old_score;
      // Stepping: past kStepAfter positions without a new alignment or a
      // return to the current one, the scan searches every second
      // position, then every third, up to every kMaxStep-th (as zstd
      // speeds up through incompressible data). Such stretches are new
      // content and near-misses, where a search finds little. A match is
      // still met if it reaches a searched position, and is extended back
      // to where it starts, but its gain over the current alignment is
      // counted from that position: one that starts between two searched
      // positions and beats the alignment by less than the step can be
      // passed over. On the libvips pair 36% fewer searches (1,630,199 against
      // 2,529,546) for a patch 166 bytes larger (of 668,328).
      ++unmatched;
      if (len >= 1 && unmatched > kStepAfter) {
        const int64_t step =
            std::min<int64_t>(kMaxStep, 1 + unmatched / kStepAfter);
        const int64_t stop = std::min(scan + step, e);
        // The skipped positions leave the current alignment's score.
        for (int64_t k = scan + 1; k < stop; ++k) {
          if (k < counted && old_matches(k, last_offset)) --old_score;
        }
        scan = stop - 1;
        counted = std::max(counted, scan + 1);
      }
    }
    if (len == old_score && scan != e) continue;

    // Extend the previous match forwards, approximately: keep the prefix
    // where matches outnumber mismatches by the widest margin.
    int64_t lenf = 0;
    {
      int64_t s = 0, best = 0;
      for (int64_t i = 0; last_scan + i < scan && last_pos + i < n;) {
        if (o[last_pos + i] == nw[last_scan + i]) ++s;
        ++i;
        if (s * 2 - i > best * 2 - lenf) {
          best = s;
          lenf = i;
        }
      }
    }
    // Extend the new match backwards the same way.
    int64_t lenb = 0;
    if (scan < e) {
      int64_t s = 0, best = 0;
      for (int64_t i = 1; scan >= last_scan + i && pos >= i; ++i) {
        if (o[pos - i] == nw[scan - i]) ++s;
        if (s * 2 - i > best * 2 - lenb) {
          best = s;
          lenb = i;
        }
      }
    }
    // Where the two extensions overlap, split at the best point.
    if (last_scan + lenf > scan - lenb) {
      int64_t overlap = (last_scan + lenf) - (scan - lenb);
      int64_t s = 0, best = 0, split = 0;
      for (int64_t i = 0; i < overlap; ++i) {
        if (nw[last_scan + lenf - overlap + i] ==
            o[last_pos + lenf - overlap + i])
          ++s;
        if (nw[scan - lenb + i] == o[pos - lenb + i]) --s;
        if (s > best) {
          best = s;
          split = i + 1;
        }
      }
      lenf += split - overlap;
      lenb -= split;
    }
    Segment seg;
    seg.new_pos = static_cast<uint64_t>(last_scan);
    seg.add_len = static_cast<uint64_t>(lenf);
    seg.old_pos = static_cast<uint64_t>(last_pos);
    seg.extra_len = static_cast<uint64_t>((scan - lenb) - (last_scan + lenf));
    out->push_back(seg);
    last_scan = scan - lenb;
    last_pos = pos - lenb;
    last_offset = pos - scan;

    uint64_t now = static_cast<uint64_t>(scan) - begin;
    if (now - reported > (1u << 20)) {
      done->fetch_add(now - reported, std::memory_order_relaxed);
      reported = now;
    }
  }
  done->fetch_add((end - begin) - reported, std::memory_order_relaxed);
}

}  // namespace

absl::StatusOr<std::vector<Segment>> ComputeSegments(
    std::string_view old_data, std::string_view new_data,
    const MatchOptions& options) {
  if (old_data.size() >= (uint64_t{1} << 31) - 1) {
    return absl::InvalidArgumentError(strata::StrCat(
        "old input is ", old_data.size(),
        " bytes; the delta engine supports old inputs below 2 GiB"));
  }
  auto progress = [&](std::string_view stage, double f) {
    if (options.progress) options.progress(stage, f);
  };
  std::vector<Segment> segments;
  const uint64_t m = new_data.size();
  if (m == 0) return segments;

  SuffixIndex index(old_data);
  progress("sorting", 0.0);
  absl::Status built = index.Build();
  if (!built.ok()) return built;
  progress("sorting", 1.0);

  // Split the scan of `new` into chunks scanned in parallel; each chunk
  // starts fresh, which costs at most one extra segment per chunk.
  int threads = std::max(1, options.threads);
  if (m < (1u << 20)) threads = 1;
  uint64_t chunks = static_cast<uint64_t>(threads);
  std::vector<std::vector<Segment>> parts(chunks);
  std::atomic<uint64_t> done{0};
  // Chunk c is scanned into parts[c] by whichever thread takes it.
  std::atomic<uint64_t> next{0};
  auto scan = [&] {
    for (uint64_t c = next++; c < chunks; c = next++) {
      ScanRange(index, old_data, new_data, m * c / chunks, m * (c + 1) / chunks,
                options.switch_threshold, options.far_switch_threshold,
                &parts[c], &done);
    }
  };
  if (options.progress && chunks > 1) {
    // Report from this thread while the others scan.
    RunReporting([&] { RunOnThreads(threads, scan); },
                 [&] { progress("matching", static_cast<double>(done) / m); },
                 std::chrono::milliseconds(200));
  } else {
    RunOnThreads(threads, scan);
  }
  progress("matching", 1.0);
  for (auto& p : parts) segments.insert(segments.end(), p.begin(), p.end());
  return segments;
}

absl::StatusOr<std::vector<std::vector<Segment>>> ComputeSegmentVariants(
    std::string_view old_data, std::string_view new_data,
    const MatchOptions& options,
    const std::vector<std::pair<int, int>>& variants) {
  if (variants.size() <= 1) {
    MatchOptions o = options;
    if (!variants.empty()) {
      o.switch_threshold = variants[0].first;
      o.far_switch_threshold = variants[0].second;
    }
    STRATA_ASSIGN_OR_RETURN(auto segs, ComputeSegments(old_data, new_data, o));
    std::vector<std::vector<Segment>> out;
    out.push_back(std::move(segs));
    return out;
  }
  if (old_data.size() >= (uint64_t{1} << 31) - 1) {
    return absl::InvalidArgumentError(strata::StrCat(
        "old input is ", old_data.size(),
        " bytes; the delta engine supports old inputs below 2 GiB"));
  }
  std::vector<std::vector<Segment>> out(variants.size());
  const uint64_t m = new_data.size();
  if (m == 0) return out;
  if (options.progress) options.progress("sorting", 0.0);
  SuffixIndex index(old_data);
  STRATA_RETURN_IF_ERROR(index.Build());
  if (options.progress) options.progress("sorting", 1.0);
  std::atomic<uint64_t> done{0};
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t v = next++; v < variants.size(); v = next++) {
      ScanRange(index, old_data, new_data, 0, m, variants[v].first,
                variants[v].second, &out[v], &done);
    }
  };
  RunOnThreads(
      std::min<int>(options.threads, static_cast<int>(variants.size())), work);
  if (options.progress) options.progress("matching", 1.0);
  return out;
}

}  // namespace strata::diff::internal
