// The SDK's own threads against the host app's calls (issue 23): the
// background sync thread and the config-watch thread install new versions
// while host threads launch (BeginLaunch, OpenModule, GetConfig,
// MarkLaunchHealthy) and check and flush reports, and a server publishes
// version after version. A thread-safe fake transport (a seam we own), the
// real file system in a temporary directory and the real clock; no gRPC
// in the process, so ThreadSanitizer sees every access of ours
// (`./strata.sh test --tsan`, label "stress").
//
// What must hold whatever the interleaving: the active config a host
// thread reads never goes back to an older version, every installed
// content verifies, every report event reaches the server once, and after
// the storm one check and launch make the newest versions active.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_transport.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "test_util.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;

constexpr int kVersions = 30;
constexpr int kHostRounds = 80;

std::string ConfigContent(int v) { return StrCat("{\"v\":", v, "}"); }
std::string PageContent(int v) {
  return StrCat("<html>mall page version ", v, "</html>");
}

// A server that publishes while devices call it from several threads:
// every member is guarded, each call answers from one consistent plan.
class LockedServer : public Transport {
 public:
  explicit LockedServer(std::shared_ptr<FakeWatch> watch)
      : watch_(std::move(watch)) {}

  // Serves version `v` of the config and the page (release sequence `v`),
  // and pushes the config on the watch stream.
  void Publish(int v) {
    const v1::UpdateEntry config =
        Entry(v1::LAYER_CONFIG, "flags", Str(v), ConfigContent(v), v, true);
    const v1::UpdateEntry page =
        Entry(v1::LAYER_H5, "mall", Str(v), PageContent(v), v, false);
    {
      MutexLock lock(&mu_);
      blobs_[Sha256::HexHash(PageContent(v))] = PageContent(v);
      blobs_[Sha256::HexHash(ConfigContent(v))] = ConfigContent(v);
      plan_.mutable_plan()->clear_updates();
      *plan_.mutable_plan()->add_updates() = config;
      *plan_.mutable_plan()->add_updates() = page;
    }
    watch_->Push(config);
  }

  absl::StatusOr<v1::CheckResponse> Check(const v1::CheckRequest&) override {
    MutexLock lock(&mu_);
    ++checks_;
    return plan_;
  }
  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    std::string data;
    {
      MutexLock lock(&mu_);
      auto it = blobs_.find(sha256);
      if (it == blobs_.end()) return absl::NotFoundError("no such blob");
      data = it->second.substr(offset);
    }
    v1::DownloadChunk chunk;
    chunk.set_offset(offset);
    chunk.set_data(std::move(data));
    return sink(chunk);
  }
  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) override {
    MutexLock lock(&mu_);
    for (const v1::ReportEvent& e : request.events()) {
      ++times_received_[e.event_id()];
    }
    v1::ReportResponse r;
    r.set_accepted(request.events_size());
    return r;
  }
  absl::Status WatchConfig(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event)
      override {
    return watch_->Serve(request, cancel, on_event);
  }

  std::map<std::string, int> times_received() const {
    MutexLock lock(&mu_);
    return times_received_;
  }
  uint64_t checks() const {
    MutexLock lock(&mu_);
    return checks_;
  }

 private:
  static std::string Str(int v) { return StrCat(v); }

  std::shared_ptr<FakeWatch> watch_;
  mutable Mutex mu_;
  v1::CheckResponse plan_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> blobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> times_received_ ABSL_GUARDED_BY(mu_);
  uint64_t checks_ ABSL_GUARDED_BY(mu_) = 0;
};

// The config version in `content` ({"v":N}), or 0 for none.
int VersionOf(const std::optional<std::string>& content) {
  if (!content.has_value()) return 0;
  const size_t colon = content->find(':');
  return colon == std::string::npos ? -1
                                    : std::stoi(content->substr(colon + 1));
}

TEST(ClientThreadsStressTest, HostCallsAndSdkThreadsAgreeOnTheNewest) {
  testing::TempDir dir;
  auto watch = std::make_shared<FakeWatch>();
  auto transport = std::make_unique<LockedServer>(watch);
  LockedServer* server = transport.get();
  server->Publish(1);

  ClientOptions options;
  options.app_id = "wallet";
  options.device.device_id = "d1";
  options.device.host_build = "10.3.0+100";
  options.storage_dir = JoinPath(dir.path(), "sdk");
  options.insecure_skip_signature_verification_for_tests =
      true;  // not about trust
  auto created = Client::CreateWithTransport(options, std::move(transport));
  ASSERT_THAT(created, IsOk());
  std::unique_ptr<Client> client = *std::move(created);

  // Version 1 active before the storm: from here on the page and the
  // config always have content.
  ASSERT_THAT(client->Check(), IsOk());
  ASSERT_THAT(client->BeginLaunch(), IsOk());
  ASSERT_THAT(client->OpenModule(Layer::kH5, "mall"), IsOk());
  ASSERT_THAT(client->MarkLaunchHealthy(), IsOk());

  // Listeners run on whichever thread changed the config.
  std::atomic<int> heard{0};
  client->AddConfigListener(
      [&heard](const std::string&, const std::optional<std::string>&) {
        heard.fetch_add(1);
      });
  ASSERT_THAT(client->StartBackgroundSync(absl::Milliseconds(1)), IsOk());
  ConfigWatchOptions watch_options;
  watch_options.initial_backoff = absl::Milliseconds(1);
  watch_options.max_backoff = absl::Milliseconds(5);
  ASSERT_THAT(client->StartConfigWatch(watch_options), IsOk());

  std::atomic<bool> publishing{true};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (int v = 2; v <= kVersions; ++v) {
      server->Publish(v);
      std::this_thread::yield();
    }
    publishing.store(false);
  });
  // The app starting again and again, reading its config and page.
  threads.emplace_back([&] {
    int newest_seen = 1;
    for (int i = 0; i < kHostRounds || publishing.load(); ++i) {
      EXPECT_THAT(client->BeginLaunch(), IsOk());
      absl::StatusOr<std::string> page = client->OpenModule(Layer::kH5, "mall");
      EXPECT_THAT(page, IsOk());
      absl::StatusOr<std::optional<std::string>> config =
          client->GetConfig("flags");
      ASSERT_THAT(config, IsOk());
      const int v = VersionOf(*config);
      EXPECT_GE(v, newest_seen) << "the active config went back";
      newest_seen = std::max(newest_seen, v);
      EXPECT_THAT(client->MarkLaunchHealthy(), IsOk());
    }
  });
  // The app's own checks and report flushes, beside the SDK's threads.
  threads.emplace_back([&] {
    for (int i = 0; i < kHostRounds || publishing.load(); ++i) {
      EXPECT_THAT(client->Check(), IsOk());
      EXPECT_THAT(client->FlushReports(), IsOk());
      (void)client->AllActive();
      (void)client->Installed(Layer::kH5, "mall");
      (void)client->ConfigWatchStatus();
    }
  });
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(watch->WaitFor(1));
  client->StopConfigWatch();
  client->StopBackgroundSync();
  EXPECT_GT(client->BackgroundChecks(), 0u);
  EXPECT_GT(client->ConfigWatchStatus().pushes, 0u);

  // After the storm: one check and launch make the newest versions active,
  // and everything installed verifies.
  ASSERT_THAT(client->Check(), IsOk());
  ASSERT_THAT(client->BeginLaunch(), IsOk());
  ASSERT_THAT(client->OpenModule(Layer::kH5, "mall"), IsOk());
  ASSERT_THAT(client->MarkLaunchHealthy(), IsOk());
  absl::StatusOr<std::optional<std::string>> config =
      client->GetConfig("flags");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(VersionOf(*config), kVersions);
  std::optional<InstalledModule> page = client->Installed(Layer::kH5, "mall");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->version, StrCat(kVersions));
  EXPECT_THAT(client->VerifyInstalled(), IsOk());
  EXPECT_GT(heard.load(), 0);

  // Every event queued reaches the server, once.
  while (client->PendingReports() > 0) {
    ASSERT_THAT(client->FlushReports(), IsOk());
  }
  const std::map<std::string, int> received = server->times_received();
  EXPECT_FALSE(received.empty());
  for (const auto& [id, times] : received) {
    EXPECT_EQ(times, 1) << "event " << id << " was sent " << times << " times";
  }
}

}  // namespace
}  // namespace strata::client
