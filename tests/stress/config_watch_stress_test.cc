// ConfigWatchHub with its real notifier thread under concurrent use (issue
// 23): threads report changes to several apps while others subscribe,
// unsubscribe and read the current plan. No gRPC and no store in the
// process (the snapshot source is a function), so ThreadSanitizer sees
// every access (`./strata.sh test --tsan` runs the tests labelled
// "stress"); the normal suite runs the same test in well under a second.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "strata/base/mutex.h"
#include "strata/server/core/config_watch.h"

namespace strata::server {
namespace {

constexpr int kApps = 3;
constexpr int kChangers = 2;
constexpr int kChangesEach = 1000;
constexpr int kChurnRounds = 1000;

std::string AppId(int i) { return "app" + std::to_string(i); }

// Remembers the newest plan it was told of.
class NewestPlan : public ConfigSubscriber {
 public:
  void OnPlan(std::shared_ptr<const ConfigPlan> plan) override {
    MutexLock lock(&mu_);
    ++plans_;
    if (plan->generation > newest_) newest_ = plan->generation;
  }
  void OnShutdown(const absl::Status& status) override {
    MutexLock lock(&mu_);
    ended_ = status;
  }
  uint64_t newest() const {
    MutexLock lock(&mu_);
    return newest_;
  }
  uint64_t plans() const {
    MutexLock lock(&mu_);
    return plans_;
  }
  absl::Status ended() const {
    MutexLock lock(&mu_);
    return ended_;
  }

 private:
  mutable Mutex mu_;
  uint64_t newest_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t plans_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status ended_ ABSL_GUARDED_BY(mu_);
};

TEST(ConfigWatchStressTest, EverySubscriberEndsOnTheNewestPlan) {
  std::atomic<uint64_t> builds{0};
  ConfigWatchHub hub([&builds](const std::string&)
                         -> absl::StatusOr<std::shared_ptr<const AppSnapshot>> {
    builds.fetch_add(1);
    return std::make_shared<const AppSnapshot>();
  });
  // One subscriber per app for the whole test: every change counts.
  std::vector<std::shared_ptr<NewestPlan>> steady;
  std::vector<ConfigWatchHub::Subscription> held;
  for (int a = 0; a < kApps; ++a) {
    steady.push_back(std::make_shared<NewestPlan>());
    held.push_back(hub.Subscribe(AppId(a), steady.back()));
  }

  std::vector<std::atomic<uint64_t>> changes(kApps);
  std::vector<std::thread> threads;
  for (int t = 0; t < kChangers; ++t) {
    threads.emplace_back([&hub, &changes, t] {
      for (int i = 0; i < kChangesEach; ++i) {
        const int a = (i + t) % kApps;
        hub.Changed(AppId(a));
        changes[a].fetch_add(1);
      }
    });
  }
  // Streams coming and going, and Check-like readers of the current plan.
  threads.emplace_back([&hub] {
    for (int i = 0; i < kChurnRounds; ++i) {
      auto passing = std::make_shared<NewestPlan>();
      ConfigWatchHub::Subscription s = hub.Subscribe(AppId(i % kApps), passing);
      std::shared_ptr<const ConfigPlan> plan = hub.Current(AppId(i % kApps));
      EXPECT_NE(plan, nullptr);
      EXPECT_GE(hub.subscribers(), static_cast<size_t>(kApps));
      if (i % 2 == 0) s.Reset();  // else it ends with `passing`'s scope
    }
  });
  for (std::thread& t : threads) t.join();
  hub.WaitIdle();

  for (int a = 0; a < kApps; ++a) {
    EXPECT_EQ(steady[a]->newest(), changes[a].load()) << AppId(a);
    EXPECT_GE(steady[a]->plans(), 1u) << AppId(a);
    EXPECT_EQ(hub.Current(AppId(a))->generation, changes[a].load());
  }
  EXPECT_EQ(hub.subscribers(), static_cast<size_t>(kApps));
  EXPECT_GE(hub.wakes(), static_cast<uint64_t>(kApps));

  hub.Shutdown(absl::OkStatus());
  for (const auto& s : steady) EXPECT_TRUE(absl::IsUnavailable(s->ended()));
}

}  // namespace
}  // namespace strata::server
