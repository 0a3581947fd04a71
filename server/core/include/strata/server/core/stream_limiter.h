// Counts long-lived calls (WatchConfig streams) server-wide and per key (a
// device), and refuses new ones beyond either maximum. Only keys with an
// open call are remembered, so the map is bounded by the calls themselves.
#ifndef STRATA_SERVER_CORE_STREAM_LIMITER_H_
#define STRATA_SERVER_CORE_STREAM_LIMITER_H_

#include <cstddef>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "strata/base/mutex.h"

namespace strata::server {

struct StreamLimits {
  // Open calls server-wide; 0: no limit.
  size_t max_total = 0;
  // Open calls per key; 0: no limit.
  size_t max_per_key = 0;
};

class StreamLimiter {
 public:
  enum class Refused { kNo, kServer, kKey };

  // Holds one slot until destroyed (or moved from). A refused slot holds
  // nothing and says which maximum refused it.
  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();
    bool ok() const { return refused_ == Refused::kNo; }
    Refused refused() const { return refused_; }

   private:
    friend class StreamLimiter;
    Slot(StreamLimiter* owner, std::string key, Refused refused)
        : owner_(owner), key_(std::move(key)), refused_(refused) {}
    StreamLimiter* owner_;  // null when refused or moved from
    std::string key_;
    Refused refused_;
  };

  explicit StreamLimiter(StreamLimits limits) : limits_(limits) {}
  StreamLimiter(const StreamLimiter&) = delete;
  StreamLimiter& operator=(const StreamLimiter&) = delete;

  Slot Acquire(const std::string& key);

  size_t open() const;
  size_t open(const std::string& key) const;
  // Keys with an open call (tests).
  size_t keys() const;
  const StreamLimits& limits() const { return limits_; }

 private:
  void Release(const std::string& key);

  const StreamLimits limits_;
  mutable Mutex mu_;
  size_t total_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, size_t> per_key_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_STREAM_LIMITER_H_
