// The SDK's own threads against a real stratad on loopback, for
// ThreadSanitizer (issue 23, label "tsan_grpc"): the background sync thread
// and the config-watch thread install each config version an operator
// releases, while host threads launch (BeginLaunch, GetConfig,
// MarkLaunchHealthy) and check and flush reports. The server side runs its
// WatchConfig reactors, the hub's notifier, Check and Report's worker pool
// at the same time. tests/stress/client_threads_stress_test.cc does the
// same over a fake transport in the normal suite.
//
// What must hold whatever the interleaving: the active config a host
// thread reads never goes back; after the storm one check and launch make
// the newest version active; the server counted the device's events and
// none twice.
#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../client_sdk/server_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/http_get.h"
#include "strata/base/strings.h"
#include "strata/client/client.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::testing::HasSubstr;

constexpr int kSdkThreadsVersions = 8;
constexpr int kSdkThreadsHostRounds = 20;

std::string SdkThreadsConfig(int v) { return StrCat("{\"v\":", v, "}"); }

// The version in a config this test released; 0 for none.
int SdkThreadsVersionOf(const std::optional<std::string>& config) {
  if (!config.has_value()) return 0;
  const size_t at = config->find(':');
  return at == std::string::npos ? 0 : std::stoi(config->substr(at + 1));
}

class SdkThreadsServerTest : public testing::SdkServerTest {
 protected:
  client::ClientOptions Options(const std::string& device) {
    client::ClientOptions o;
    o.server_address = server_.address();
    o.insecure_plaintext_to_loopback_for_tests = true;
    o.app_id = "wallet";
    o.device.device_id = device;
    o.storage_dir = JoinPath(dir_.path(), device);
    o.insecure_skip_signature_verification_for_tests = true;  // unsigned app
    return o;
  }
  std::string Metrics() {
    absl::StatusOr<HttpResponse> r =
        HttpGet(StrCat("http://127.0.0.1:", server_.http_port(), "/metrics"));
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->body : "";
  }
};

TEST_F(SdkThreadsServerTest, SyncAndWatchThreadsAgreeWithTheHostOnTheNewest) {
  Release(v1::LAYER_CONFIG, "flags", "1", SdkThreadsConfig(1));
  absl::StatusOr<std::unique_ptr<client::Client>> created =
      client::Client::Create(Options("d1"));
  ASSERT_THAT(created, IsOk());
  std::unique_ptr<client::Client> device = *std::move(created);
  ASSERT_THAT(device->Check(), IsOk());
  ASSERT_THAT(device->BeginLaunch(), IsOk());
  ASSERT_THAT(device->MarkLaunchHealthy(), IsOk());

  std::atomic<int> heard{0};
  device->AddConfigListener(
      [&heard](const std::string&, const std::optional<std::string>&) {
        heard.fetch_add(1);
      });
  ASSERT_THAT(device->StartBackgroundSync(absl::Milliseconds(5)), IsOk());
  client::ConfigWatchOptions watch_options;
  watch_options.initial_backoff = absl::Milliseconds(5);
  watch_options.max_backoff = absl::Milliseconds(50);
  ASSERT_THAT(device->StartConfigWatch(watch_options), IsOk());

  std::atomic<bool> releasing{true};
  std::vector<std::thread> threads;
  // The app starting again and again and reading its config.
  threads.emplace_back([&] {
    int newest_seen = 1;
    for (int i = 0; i < kSdkThreadsHostRounds || releasing.load(); ++i) {
      EXPECT_THAT(device->BeginLaunch(), IsOk());
      absl::StatusOr<std::optional<std::string>> config =
          device->GetConfig("flags");
      ASSERT_THAT(config, IsOk());
      const int v = SdkThreadsVersionOf(*config);
      EXPECT_GE(v, newest_seen) << "the active config went back";
      newest_seen = std::max(newest_seen, v);
      EXPECT_THAT(device->MarkLaunchHealthy(), IsOk());
    }
  });
  // The app's own checks and report flushes, beside the SDK's threads.
  threads.emplace_back([&] {
    for (int i = 0; i < kSdkThreadsHostRounds || releasing.load(); ++i) {
      EXPECT_THAT(device->Check(), IsOk());
      EXPECT_THAT(device->FlushReports(), IsOk());
      (void)device->ConfigWatchStatus();
    }
  });
  // An operator releasing version after version.
  for (int v = 2; v <= kSdkThreadsVersions; ++v) {
    Release(v1::LAYER_CONFIG, "flags", StrCat(v), SdkThreadsConfig(v));
  }
  releasing.store(false);
  for (std::thread& t : threads) t.join();
  device->StopConfigWatch();
  device->StopBackgroundSync();
  EXPECT_GT(device->BackgroundChecks(), 0u);
  EXPECT_GT(heard.load(), 0);

  ASSERT_THAT(device->Check(), IsOk());
  ASSERT_THAT(device->BeginLaunch(), IsOk());
  ASSERT_THAT(device->MarkLaunchHealthy(), IsOk());
  absl::StatusOr<std::optional<std::string>> config =
      device->GetConfig("flags");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(SdkThreadsVersionOf(*config), kSdkThreadsVersions);

  // Every event queued reaches the server, and none twice.
  for (int i = 0; i < 10 && device->PendingReports() > 0; ++i) {
    ASSERT_THAT(device->FlushReports(), IsOk());
  }
  EXPECT_EQ(device->PendingReports(), 0u);
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics,
              HasSubstr("strata_report_events_total{kind=\"KIND_ACTIVATED\"}"));
  EXPECT_THAT(
      metrics,
      ::testing::Not(HasSubstr("\nstrata_report_duplicate_events_total ")));
}

}  // namespace
}  // namespace strata
