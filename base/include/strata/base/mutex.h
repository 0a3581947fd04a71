// strata::Mutex, MutexLock and CondVar: a thin wrapper over std::mutex and
// std::condition_variable that carries Abseil's thread-safety annotations,
// so clang's -Wthread-safety proves that every member marked
// ABSL_GUARDED_BY(mu_) is touched only with mu_ held (issue 23; the check is
// tools/thread_safety_check.sh, run by `./strata.sh check`).
//
//   mutable strata::Mutex mu_;
//   int count_ ABSL_GUARDED_BY(mu_) = 0;
//   void Bump() { strata::MutexLock lock(&mu_); ++count_; }
//   void BumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++count_; }
//
// A condition wait is a loop in the caller, so the analysis sees the
// predicate read under the lock:
//   while (!ready_) cv_.Wait(&mu_);
//
// Under GCC the annotations expand to nothing; the code generated is that of
// std::mutex and std::condition_variable.
//
// Why not absl::Mutex, which carries the same annotations: Debian builds
// Abseil without NDEBUG, so every absl::Mutex keeps a deadlock-detection
// lock graph (docs/benchmarks.md measured it on stratad's hot path), and the
// conversion keeps each lock's code exactly what it was.
#ifndef STRATA_BASE_MUTEX_H_
#define STRATA_BASE_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace strata {

class CondVar;

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return mu_.try_lock();
  }
  // Tells the analysis the lock is held where it cannot see it (e.g. a
  // callback run by a function that holds it); checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }

 private:
  Mutex* const mu_;
};

// Holds `mu` until Release() or the end of its scope, whichever is first
// (to call out, e.g. a listener, after the last guarded write).
class ABSL_SCOPED_LOCKABLE ReleasableMutexLock {
 public:
  explicit ReleasableMutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
      : mu_(mu) {
    mu_->Lock();
  }
  ReleasableMutexLock(const ReleasableMutexLock&) = delete;
  ReleasableMutexLock& operator=(const ReleasableMutexLock&) = delete;
  ~ReleasableMutexLock() ABSL_UNLOCK_FUNCTION() {
    if (mu_ != nullptr) mu_->Unlock();
  }
  void Release() ABSL_UNLOCK_FUNCTION() {
    mu_->Unlock();
    mu_ = nullptr;
  }

 private:
  Mutex* mu_;
};

// std::condition_variable over a strata::Mutex. Every wait needs the mutex
// held; it is released while blocked and held again on return (the analysis
// sees it held throughout, which is what the caller may rely on).
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // True when `deadline` passed without a notification (spurious wake-ups
  // may return false early, as with std::condition_variable). A timeout is
  // a deadline: std::chrono::steady_clock::now() + timeout.
  template <typename Clock, typename Duration>
  bool WaitWithDeadline(
      Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool timed_out =
        cv_.wait_until(lock, deadline) == std::cv_status::timeout;
    lock.release();
    return timed_out;
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace strata

#endif  // STRATA_BASE_MUTEX_H_
