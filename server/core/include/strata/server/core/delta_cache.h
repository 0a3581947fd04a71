// Deltas between versions of a module, computed off the RPC threads on a
// small worker pool and cached in the store:
// - after a publish, from the module's last N versions to the new one;
// - on demand (single-flight) when a device on an uncached version checks.
// A Check offers a cached delta next to the full download; one not cached
// yet is queued, so the device's next check gets it.
#ifndef STRATA_SERVER_CORE_DELTA_CACHE_H_
#define STRATA_SERVER_CORE_DELTA_CACHE_H_

#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "strata/base/mutex.h"
#include "strata/server/core/metrics.h"
#include "strata/server/storage/store.h"

namespace strata::server {

struct DeltaOptions {
  int workers = 1;            // the RPC threads keep the other core
  int previous_versions = 3;  // N: deltas computed on publish
  uint64_t min_size = 4096;   // smaller artifacts travel whole
  uint64_t max_size = uint64_t{256} << 20;
  double max_patch_ratio = 0.8;  // a patch must be smaller than this share
  // Tree patches between tree archives whose new one is canonical (both
  // patches are made; the tree patch is kept when it is the smaller), when
  // both archives are at most this size: the tree differ holds both trees
  // and a suffix array of the old.
  // 0 turns them off.
  uint64_t max_tree_size = uint64_t{64} << 20;
  int zstd_level = 19;
  // Deltas devices asked for (Request) waiting for a worker at most; more
  // are dropped and counted (strata_delta_requests_dropped_total). Those
  // queued on publish are not bounded by this: admins cause them.
  size_t max_queued = 256;
};

class DeltaCache {
 public:
  DeltaCache(Store* store, Metrics* metrics, DeltaOptions options = {});
  ~DeltaCache();
  DeltaCache(const DeltaCache&) = delete;
  DeltaCache& operator=(const DeltaCache&) = delete;

  // Queues deltas to `statement` from the module's last N versions and from
  // every version marked embedded (what apps ship with).
  void OnPublished(const v1::ArtifactStatement& statement);
  // Whether tree patches are made at all (max_tree_size > 0).
  bool tree_patches() const { return options_.max_tree_size > 0; }
  // Queues `from` -> `to` for a device that says it has `from`, unless
  // cached (by a server that made tree patches), queued or being computed.
  // Dropped (and counted) when `from` is not content this server stores (a
  // made-up hash costs no slot and no computation) or when `max_queued`
  // requests are waiting already.
  void Request(const std::string& from_sha256, const std::string& to_sha256,
               uint64_t to_size);
  // A cached delta worth offering, if any.
  std::optional<v1::StoredDelta> Lookup(const std::string& from_sha256,
                                        const std::string& to_sha256);
  // Blocks until nothing is queued or running (tests, benchmarks).
  void WaitIdle();
  uint64_t computed() const;
  // Requests waiting for a worker now.
  size_t queued() const;
  // Tests: while paused, workers take nothing from the queue.
  void SetPausedForTesting(bool paused);

 private:
  // `bounded`: a device's request, subject to `max_queued`.
  void Enqueue(const std::string& from, const std::string& to, uint64_t to_size,
               bool bounded);
  void Dropped(const char* reason);
  void Work();
  absl::Status Compute(const std::string& from, const std::string& to);
  // The tree patch between two tree archives, when one is worth storing
  // (DeltaOptions::max_tree_size); `byte_patch_size`: the worthwhile byte
  // patch's size, 0 if none. Counts what it skips and why.
  std::optional<std::string> TreePatch(std::string_view old_data,
                                       std::string_view new_data,
                                       uint64_t byte_patch_size);

  Store* store_;
  Metrics* metrics_;
  DeltaOptions options_;
  mutable Mutex mu_;
  CondVar cv_, idle_cv_;
  std::deque<std::pair<std::string, std::string>> queue_ ABSL_GUARDED_BY(mu_);
  // Queued or running.
  std::set<std::pair<std::string, std::string>> pending_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t computed_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_DELTA_CACHE_H_
