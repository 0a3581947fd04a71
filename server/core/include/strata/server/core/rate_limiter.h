// Token buckets by key (a device, a connection), in a bounded map: the
// limiter itself cannot be used to exhaust the server's memory.
//
// Each key may make `burst` calls at once and `per_second` calls a second
// after that. A key idle long enough for its bucket to be full again is
// indistinguishable from a new one, so such entries are dropped (idle ones
// first, least recently used first); when every remembered key is active
// and the map is full, the least recently used one is forgotten (it starts
// again with a full bucket). Time comes from the injected Clock.
#ifndef STRATA_SERVER_CORE_RATE_LIMITER_H_
#define STRATA_SERVER_CORE_RATE_LIMITER_H_

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/base/mutex.h"

namespace strata::server {

struct RateLimit {
  // Sustained calls per second per key; 0 turns the limit off.
  double per_second = 0;
  // Calls a key may make at once (at least 1 when the limit is on).
  double burst = 1;
  // Keys remembered at most.
  size_t max_keys = 100000;

  bool enabled() const { return per_second > 0; }
};

class RateLimiter {
 public:
  // `clock` is not owned.
  RateLimiter(Clock* clock, RateLimit limit);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token of `key`'s bucket: nullopt when the call may go ahead,
  // otherwise how long until a token is available (the call is refused and
  // nothing is taken).
  std::optional<absl::Duration> Acquire(std::string_view key);

  // Keys remembered now (tests, metrics).
  size_t size() const;
  const RateLimit& limit() const { return limit_; }

 private:
  struct Bucket {
    std::string key;
    double tokens;
    absl::Time updated;
  };
  using Lru = std::list<Bucket>;  // most recently used first

  // Drops buckets from the cold end that are full again by `now`.
  void DropIdle(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* clock_;
  const RateLimit limit_;
  // How long an empty bucket takes to fill up again.
  const absl::Duration refill_;
  mutable Mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);
  // Views into the keys held by `lru_`'s nodes (stable addresses).
  std::unordered_map<std::string_view, Lru::iterator> index_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_RATE_LIMITER_H_
