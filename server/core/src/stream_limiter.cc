#include "strata/server/core/stream_limiter.h"

#include <utility>

#include "strata/base/mutex.h"

namespace strata::server {

StreamLimiter::Slot::Slot(Slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      key_(std::move(other.key_)),
      refused_(other.refused_) {}

StreamLimiter::Slot::~Slot() {
  if (owner_ != nullptr) owner_->Release(key_);
}

StreamLimiter::Slot StreamLimiter::Acquire(const std::string& key) {
  MutexLock lock(&mu_);
  if (limits_.max_total > 0 && total_ >= limits_.max_total) {
    return Slot(nullptr, "", Refused::kServer);
  }
  if (limits_.max_per_key > 0) {
    auto it = per_key_.find(key);
    if (it != per_key_.end() && it->second >= limits_.max_per_key) {
      return Slot(nullptr, "", Refused::kKey);
    }
  }
  ++total_;
  ++per_key_[key];
  return Slot(this, key, Refused::kNo);
}

void StreamLimiter::Release(const std::string& key) {
  MutexLock lock(&mu_);
  --total_;
  auto it = per_key_.find(key);
  if (it != per_key_.end() && --it->second == 0) per_key_.erase(it);
}

size_t StreamLimiter::open() const {
  MutexLock lock(&mu_);
  return total_;
}

size_t StreamLimiter::open(const std::string& key) const {
  MutexLock lock(&mu_);
  auto it = per_key_.find(key);
  return it == per_key_.end() ? 0 : it->second;
}

size_t StreamLimiter::keys() const {
  MutexLock lock(&mu_);
  return per_key_.size();
}

}  // namespace strata::server
