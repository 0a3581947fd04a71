// How the delta engine runs work on more than one thread. Every parallel
// step of diff/ goes through these, so that each one
// - runs on fewer threads, down to the calling thread alone, when the
//   system cannot start one (std::thread throws std::system_error), and
//   makes the same output: work is split by the data, never by how many
//   threads there are;
// - joins every helper before it returns or throws: no early return can
//   leave a joinable std::thread (std::terminate);
// - hands a helper's exception (std::bad_alloc) to the caller after the
//   join, as one thread would have thrown it.
#ifndef STRATA_DIFF_SRC_THREADS_H_
#define STRATA_DIFF_SRC_THREADS_H_

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <exception>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "strata/base/mutex.h"

namespace strata::diff::internal {

// True if the next thread start is to fail as if the system had no thread
// to give (counts down FailThreadStartsForTesting).
bool RefuseThreadStart();

// The next `n` thread starts of the delta engine fail as if the system
// had no thread to give (for tests of the fallback).
void FailThreadStartsForTesting(int n);
// How many thread starts FailThreadStartsForTesting has refused so far.
int RefusedThreadStartsForTesting();

// One job beside the calling thread.
class Beside {
 public:
  Beside() = default;
  Beside(const Beside&) = delete;
  Beside& operator=(const Beside&) = delete;
  // Waits for the job; its exception, if any, is dropped (the caller is
  // already leaving, by a return or an exception of its own).
  ~Beside() {
    if (thread_.joinable()) thread_.join();
  }

  // Starts `job` on a thread of its own if `on_thread` and one can be
  // started; runs it here, now, if not. At most once per object. The job
  // is copied; what it refers to must outlive this object (declare the
  // object after them).
  template <typename F>
  void Start(bool on_thread, const F& job) {
    assert(!started_);
    started_ = true;
    if (on_thread && !RefuseThreadStart()) {
      try {
        thread_ = std::thread([this, job] {
          try {
            job();
          } catch (...) {
            error_ = std::current_exception();
          }
        });
        return;
      } catch (const std::system_error&) {
        // No thread to be had: here.
      }
    }
    try {
      job();
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  // Waits for the job; rethrows its exception.
  void Join() {
    if (thread_.joinable()) thread_.join();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  bool started_ = false;
  std::thread thread_;
  std::exception_ptr error_;
};

// Runs `beside` on a thread of its own and `here` on this one if
// `two_threads`; if not, or if no thread can be started, `beside` and then
// `here` on this one. An exception from either reaches the caller once
// both are done (`here`'s first).
template <typename F, typename G>
void RunBeside(bool two_threads, F&& beside, G&& here) {
  Beside other;
  other.Start(two_threads, beside);
  here();
  other.Join();
}

// Runs `work` on this thread and on up to `threads - 1` helpers, each
// once; `work` takes its items from a counter it shares, so that any
// number of threads does all of them. Returns once all are done; the
// first exception (by thread, this one first) is rethrown then.
template <typename F>
void RunOnThreads(int threads, F&& work) {
  std::vector<Beside> helpers(static_cast<size_t>(std::max(threads, 1) - 1));
  for (Beside& h : helpers) h.Start(true, work);
  std::exception_ptr error;
  try {
    work();
  } catch (...) {
    error = std::current_exception();
  }
  for (Beside& h : helpers) {
    try {
      h.Join();
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// Runs `work` beside this thread and calls `report` on this one, at once
// and then every `interval`, until `work` is over, returned or thrown;
// then rethrows its exception. If no thread can be started, `work` runs
// here and `report` is not called.
template <typename F, typename R>
void RunReporting(const F& work, const R& report,
                  std::chrono::milliseconds interval) {
  class State {
   public:
    void End() {
      MutexLock lock(&mu_);
      over_ = true;
      cv_.Signal();
    }
    bool Over() {
      MutexLock lock(&mu_);
      return over_;
    }
    // Returns when over or `interval` later, whichever is first.
    void Wait(std::chrono::milliseconds interval) {
      MutexLock lock(&mu_);
      const auto deadline = std::chrono::steady_clock::now() + interval;
      while (!over_ && !cv_.WaitWithDeadline(&mu_, deadline)) {
      }
    }

   private:
    Mutex mu_;
    CondVar cv_;
    bool over_ ABSL_GUARDED_BY(mu_) = false;
  } state;
  // Ends the state however the work ends.
  struct Ends {
    State& state;
    ~Ends() { state.End(); }
  };
  Beside beside;
  beside.Start(true, [&] {
    Ends ends{state};
    work();
  });
  while (!state.Over()) {
    report();
    state.Wait(interval);
  }
  beside.Join();
}

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_THREADS_H_
