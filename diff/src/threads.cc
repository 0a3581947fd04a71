#include "src/threads.h"

#include <atomic>

namespace strata::diff::internal {
namespace {

std::atomic<int> fail_starts{0};
std::atomic<int> refused_starts{0};

}  // namespace

bool RefuseThreadStart() {
  int left = fail_starts.load(std::memory_order_relaxed);
  while (left > 0) {
    if (fail_starts.compare_exchange_weak(left, left - 1,
                                          std::memory_order_relaxed)) {
      refused_starts.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

void FailThreadStartsForTesting(int n) {
  fail_starts.store(n, std::memory_order_relaxed);
}

int RefusedThreadStartsForTesting() {
  return refused_starts.load(std::memory_order_relaxed);
}

}  // namespace strata::diff::internal
