#ifndef STRATA_BASE_TESTING_SIMULATED_CLOCK_H_
#define STRATA_BASE_TESTING_SIMULATED_CLOCK_H_

#include "strata/base/env.h"
#include "strata/base/mutex.h"

namespace strata::testing {

// A clock that moves only when told; SleepFor advances it instantly.
class SimulatedClock : public Clock {
 public:
  explicit SimulatedClock(
      absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start) {}
  absl::Time Now() override {
    MutexLock lock(&mu_);
    return now_;
  }
  void SleepFor(absl::Duration d) override { Advance(d); }
  void Advance(absl::Duration d) {
    MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// Deterministic randomness (splitmix64) for reproducible tests.
class FakeRandom : public Random {
 public:
  explicit FakeRandom(uint64_t seed = 42) : state_(seed) {}
  uint64_t Next64() override {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

}  // namespace strata::testing

#endif  // STRATA_BASE_TESTING_SIMULATED_CLOCK_H_
