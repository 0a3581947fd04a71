#include "strata/server/core/rate_limiter.h"

#include <algorithm>

#include "strata/base/mutex.h"

namespace strata::server {

namespace {

RateLimit Sanitized(RateLimit limit) {
  limit.per_second = std::max(0.0, limit.per_second);
  limit.burst = std::max(1.0, limit.burst);
  limit.max_keys = std::max<size_t>(1, limit.max_keys);
  return limit;
}

}  // namespace

RateLimiter::RateLimiter(Clock* clock, RateLimit limit)
    : clock_(clock),
      limit_(Sanitized(limit)),
      refill_(limit_.enabled() ? absl::Seconds(limit_.burst / limit_.per_second)
                               : absl::ZeroDuration()) {}

void RateLimiter::DropIdle(absl::Time now) {
  while (!lru_.empty() && now - lru_.back().updated >= refill_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

std::optional<absl::Duration> RateLimiter::Acquire(std::string_view key) {
  if (!limit_.enabled()) return std::nullopt;
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  DropIdle(now);  // `key` itself may go: it would start full anyway
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (lru_.size() >= limit_.max_keys) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
    lru_.push_front(Bucket{std::string(key), limit_.burst, now});
    it = index_.emplace(lru_.front().key, lru_.begin()).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second);  // now most recent
  }
  Bucket& b = *it->second;
  // A clock that stepped back refills nothing (and takes nothing away).
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
  b.tokens = std::min(limit_.burst, b.tokens + elapsed * limit_.per_second);
  b.updated = std::max(b.updated, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  return absl::Seconds((1.0 - b.tokens) / limit_.per_second);
}

size_t RateLimiter::size() const {
  MutexLock lock(&mu_);
  return lru_.size();
}

}  // namespace strata::server
