// A fixed set of threads running queued closures in order of arrival: the
// Delivery service's blocking work (Report's synced RocksDB write) runs
// here, off gRPC's few callback threads, and many writers waiting at once
// let RocksDB commit their fsyncs as one group.
#ifndef STRATA_SERVER_RPC_SRC_WORKER_POOL_H_
#define STRATA_SERVER_RPC_SRC_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "strata/base/mutex.h"

namespace strata::server {

class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  // Runs what is queued, then stops.
  ~WorkerPool() {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
    }
    cv_.SignalAll();
    for (std::thread& t : threads_) t.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Run(std::function<void()> fn) {
    {
      MutexLock lock(&mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.Signal();
  }

 private:
  void Work() {
    MutexLock lock(&mu_);
    while (true) {
      while (!stopping_ && queue_.empty()) cv_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping, nothing left
      std::function<void()> fn = std::move(queue_.front());
      queue_.pop_front();
      mu_.Unlock();
      fn();
      mu_.Lock();
    }
  }

  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_RPC_SRC_WORKER_POOL_H_
