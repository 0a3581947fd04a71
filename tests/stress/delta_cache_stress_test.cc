// DeltaCache's single flight with its real worker threads (issue 23):
// devices on several versions ask for the same deltas from many threads at
// once; each pair is computed exactly once and every one ends up cached.
// A real RocksDB store, no gRPC in the process (`./strata.sh test --tsan`
// runs it under ThreadSanitizer; label "stress").
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/delta_cache.h"
#include "strata/server/core/metrics.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;

constexpr int kVersions = 3;
constexpr int kRequesters = 4;
constexpr int kRequestsEach = 300;

// 16 KiB of structured bytes; each version edits a few places.
std::string VersionBytes(int version) {
  std::string s(16 * 1024, '\0');
  uint32_t x = 11;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>((x >> 16) % 64 + 32);
  }
  for (int k = 0; k < 16; ++k) {
    s[(version * 7919 + k * 1009) % s.size()] =
        static_cast<char>('A' + version);
  }
  return s;
}

TEST(DeltaCacheStressTest, EachPairIsComputedOnceWhateverTheRequests) {
  testing::TempDir dir;
  testing::SimulatedClock clock;
  Metrics metrics;
  absl::StatusOr<std::unique_ptr<Store>> opened =
      Store::Open(JoinPath(dir.path(), "db"));
  ASSERT_THAT(opened, IsOk());
  std::unique_ptr<Store> store = *std::move(opened);
  // Published without the publish hook: every delta comes from a request.
  AdminCore admin(store.get(), &clock,
                  AdminLimits{.require_signatures = false});
  std::vector<std::string> sha;
  for (int v = 1; v <= kVersions; ++v) {
    const std::string content = VersionBytes(v);
    v1::PublishHeader h =
        testing::ConfigHeader("mall-home", std::to_string(v), content);
    h.mutable_statement()->mutable_module()->set_layer(v1::LAYER_H5);
    clock.Advance(absl::Minutes(1));
    ASSERT_THAT(admin.PublishBytes(testing::AdminPrincipal(), h, content),
                IsOk());
    sha.push_back(Sha256::HexHash(content));
  }
  const uint64_t size = VersionBytes(1).size();

  DeltaCache deltas(store.get(), &metrics,
                    {.workers = 2, .previous_versions = 0, .zstd_level = 1});
  std::vector<std::thread> devices;
  for (int t = 0; t < kRequesters; ++t) {
    devices.emplace_back([&, t] {
      for (int i = 0; i < kRequestsEach; ++i) {
        const int from = (i + t) % kVersions;
        const int to = (i / kVersions + t + 1) % kVersions;
        deltas.Request(sha[from], sha[to], size);  // from == to: ignored
        (void)deltas.Lookup(sha[from], sha[to]);
        (void)deltas.queued();
      }
    });
  }
  for (std::thread& t : devices) t.join();
  deltas.WaitIdle();

  const uint64_t pairs = kVersions * (kVersions - 1);
  EXPECT_EQ(deltas.computed(), pairs);
  EXPECT_EQ(metrics.CounterValue("strata_deltas_computed_total"), pairs);
  for (int from = 0; from < kVersions; ++from) {
    for (int to = 0; to < kVersions; ++to) {
      if (from != to) {
        EXPECT_TRUE(deltas.Lookup(sha[from], sha[to]).has_value())
            << from << " -> " << to;
      }
    }
  }
}

}  // namespace
}  // namespace strata::server
