// The device core's lock: std::mutex with clang's thread-safety attributes
// (issue 23), so `tools/thread_safety_check.sh` (-Wthread-safety -Werror)
// proves that every member marked STRATA_DEVICE_GUARDED_BY(mu) is touched
// only with mu held and that every STRATA_DEVICE_REQUIRES(mu) function is
// called with it. The device core builds without base/ and Abseil on
// purpose (a small shared library), so it cannot use strata::Mutex and
// absl/base/thread_annotations.h; this header is its own copy of the few
// attributes it needs. Under GCC they expand to nothing and the code is that
// of std::mutex and std::lock_guard.
//
//   mutable Mutex mu;
//   int count STRATA_DEVICE_GUARDED_BY(mu) = 0;
//   void Bump() { MutexLock lock(&mu); ++count; }
//   void BumpLocked() STRATA_DEVICE_REQUIRES(mu) { ++count; }
#ifndef STRATA_DEVICE_CORE_SRC_DEVICE_MUTEX_H_
#define STRATA_DEVICE_CORE_SRC_DEVICE_MUTEX_H_

#include <mutex>

#if defined(__clang__)
#define STRATA_DEVICE_TS_ATTR(x) __attribute__((x))
#else
#define STRATA_DEVICE_TS_ATTR(x)
#endif

#define STRATA_DEVICE_CAPABILITY(name) STRATA_DEVICE_TS_ATTR(capability(name))
#define STRATA_DEVICE_SCOPED_CAPABILITY STRATA_DEVICE_TS_ATTR(scoped_lockable)
#define STRATA_DEVICE_GUARDED_BY(mu) STRATA_DEVICE_TS_ATTR(guarded_by(mu))
#define STRATA_DEVICE_REQUIRES(...) \
  STRATA_DEVICE_TS_ATTR(requires_capability(__VA_ARGS__))
#define STRATA_DEVICE_ACQUIRE(...) \
  STRATA_DEVICE_TS_ATTR(acquire_capability(__VA_ARGS__))
#define STRATA_DEVICE_RELEASE(...) \
  STRATA_DEVICE_TS_ATTR(release_capability(__VA_ARGS__))

namespace strata::device {

class STRATA_DEVICE_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() STRATA_DEVICE_ACQUIRE() { mu_.lock(); }
  void Unlock() STRATA_DEVICE_RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds `mu` for its scope.
class STRATA_DEVICE_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) STRATA_DEVICE_ACQUIRE(mu) : mu_(mu) {
    mu_->Lock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  ~MutexLock() STRATA_DEVICE_RELEASE() { mu_->Unlock(); }

 private:
  Mutex* const mu_;
};

}  // namespace strata::device

#endif  // STRATA_DEVICE_CORE_SRC_DEVICE_MUTEX_H_
