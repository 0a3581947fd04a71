// On-demand modules and the download policy over a fake transport and an
// in-memory file system: what a check leaves pending, OpenModule()'s
// download with progress and cancel, networks, the daily budget, back-off,
// and the traffic the reports carry.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "policy_fixture.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class OnDemandTest : public PolicyClientTest {};

TEST_F(OnDemandTest, OnDemandModuleWaitsForItsFirstOpen) {
  const std::string game(1000, 'g');
  Serve({{OnDemand(Entry(v1::LAYER_HCF, "game", "1", game, 1, false)), game},
         {Entry(v1::LAYER_HCF, "home", "1", "home", 1, false), "home"}});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].name, "home");
  EXPECT_EQ(r.bytes_downloaded, 4u);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0].name, "game");
  EXPECT_TRUE(r.pending[0].on_demand);
  EXPECT_EQ(r.pending[0].content_bytes, game.size());
  EXPECT_FALSE(client_->Installed(Layer::kHcf, "game").has_value());
  for (const std::string& h : transport_->downloaded) {
    EXPECT_NE(h, Sha256::HexHash(game)) << "the on-demand module was fetched";
  }
  // Still pending after a restart (no new check needed).
  Recreate();
  ASSERT_EQ(client_->PendingDownloads().size(), 1u);

  std::vector<DownloadProgress> seen;
  OpenOptions o;
  o.on_progress = [&](const DownloadProgress& p) { seen.push_back(p); };
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              client_->OpenModule(Layer::kHcf, "game", o));
  EXPECT_EQ(Read(path), game);
  EXPECT_EQ(client_->Installed(Layer::kHcf, "game")->version, "1");
  ASSERT_GE(seen.size(), 3u);  // 4-byte chunks, then done
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].received_bytes, seen[i - 1].received_bytes);
  }
  EXPECT_TRUE(seen.back().done);
  EXPECT_EQ(seen.back().received_bytes, game.size());
  EXPECT_EQ(seen.back().content_bytes, game.size());
  EXPECT_TRUE(client_->PendingDownloads().empty());
  // Opened again: no download.
  const size_t downloads = transport_->downloaded.size();
  EXPECT_THAT(client_->OpenModule(Layer::kHcf, "game"), IsOk());
  EXPECT_EQ(transport_->downloaded.size(), downloads);
  // The next check does not list it any more.
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult again, client_->Check());
  EXPECT_TRUE(again.pending.empty());
  EXPECT_TRUE(again.installed.empty());
}

TEST_F(OnDemandTest, CancelledOpenKeepsTheBytesAndTheNextOpenResumes) {
  const std::string game(4000, 'g');
  Serve({{OnDemand(Entry(v1::LAYER_H5, "game", "1", game, 1, false)), game}});
  ASSERT_THAT(client_->Check(), IsOk());
  auto cancel = std::make_shared<CancelToken>();
  OpenOptions o;
  o.cancel = cancel;
  o.on_progress = [&](const DownloadProgress& p) {
    if (p.received_bytes >= 1000) cancel->Cancel();
  };
  EXPECT_THAT(client_->OpenModule(Layer::kH5, "game", o),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_FALSE(client_->Installed(Layer::kH5, "game").has_value());
  ASSERT_EQ(client_->PendingDownloads().size(), 1u);
  // No failure is reported for a cancel; no back-off either.
  ASSERT_THAT(client_->FlushReports(), IsOk());
  EXPECT_EQ(transport_->CountReports(v1::ReportEvent::KIND_APPLY_FAILED), 0);

  uint64_t received = 0;
  OpenOptions again;
  again.on_progress = [&](const DownloadProgress& p) {
    received = p.received_bytes;
  };
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              client_->OpenModule(Layer::kH5, "game", again));
  EXPECT_EQ(Read(path), game);
  EXPECT_EQ(received, game.size() - 1000) << "did not resume";
  EXPECT_EQ(transport_->download_offsets.back(), 1000u);
}

TEST_F(OnDemandTest, WifiOnlyUpdateWaitsOnAMeteredNetwork) {
  network_ = Network::kMetered;
  Recreate();
  const std::string video(500, 'v');
  Serve({{WifiOnly(Entry(v1::LAYER_H5, "video", "1", video, 1, false)), video},
         {Entry(v1::LAYER_H5, "news", "1", "news", 1, false), "news"}});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.installed.size(), 1u);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_FALSE(r.pending[0].on_demand);
  EXPECT_THAT(r.pending[0].reason, HasSubstr("unmetered"));
  // An open does not download it on this network either...
  EXPECT_THAT(
      client_->OpenModule(Layer::kH5, "video"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("unmetered")));
  // ... and the next check on Wi-Fi does.
  client_->SetNetwork(Network::kUnmetered);
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult wifi, client_->Check());
  ASSERT_EQ(wifi.installed.size(), 1u);
  EXPECT_EQ(wifi.installed[0].name, "video");
  EXPECT_TRUE(wifi.pending.empty());
  const TrafficStats t = client_->Traffic();
  EXPECT_EQ(t.total.at(Network::kMetered), 4u);  // "news"
  EXPECT_EQ(t.total.at(Network::kUnmetered), video.size());
  // The reports carry the bytes by network.
  ASSERT_THAT(client_->FlushReports(), IsOk());
  const std::vector<v1::ReportEvent> d = Downloaded();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].module().name(), "news");
  ASSERT_EQ(d[0].traffic_size(), 1);
  EXPECT_EQ(d[0].traffic(0).network(), v1::NETWORK_METERED);
  EXPECT_EQ(d[1].module().name(), "video");
  EXPECT_EQ(d[1].traffic(0).network(), v1::NETWORK_UNMETERED);
  EXPECT_EQ(d[1].traffic(0).bytes(), video.size());
}

TEST_F(OnDemandTest, AppPolicyPerLayerAndUnknownNetworkCountsAsMetered) {
  policy_.layer_networks[Layer::kNativeBundle] =
      NetworkRequirement::kUnmeteredOnly;
  network_ = Network::kUnknown;
  Recreate();
  Serve(
      {{Entry(v1::LAYER_NATIVE_BUNDLE, "maps", "1", "maps", 1, false), "maps"},
       {Entry(v1::LAYER_HCF, "home", "1", "home", 1, false), "home"}});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0].name, "maps");
  EXPECT_THAT(r.pending[0].reason, HasSubstr("now unknown"));
  client_->SetNetwork(Network::kOffline);
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_THAT(r.pending[0].reason, HasSubstr("offline"));
}

TEST_F(OnDemandTest, ReleaseWaitsWholeWhenOneMemberMayNotDownload) {
  network_ = Network::kMetered;
  Recreate();
  Serve({{WifiOnly(Entry(v1::LAYER_H5, "a", "1", "aaaa", 1, false, 7)), "aaaa"},
         {Entry(v1::LAYER_CONFIG, "b", "1", "{}", 1, false, 7), "{}"}});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.installed.empty());
  EXPECT_EQ(r.pending.size(), 2u);
  client_->SetNetwork(Network::kUnmetered);
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_EQ(r.installed.size(), 2u);
}

TEST_F(OnDemandTest, DailyBudgetHoldsBackChecksUntilTheNextDay) {
  policy_.daily_budget_bytes = 100;
  Recreate();
  const std::string big(80, 'b'), more(50, 'm');
  Serve({{Entry(v1::LAYER_H5, "big", "1", big, 1, false), big},
         {Entry(v1::LAYER_H5, "more", "1", more, 1, false), more}});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].name, "big");
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_THAT(r.pending[0].reason, HasSubstr("daily budget: 80 of 100"));
  // The budget is kept across restarts.
  Recreate();
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_EQ(r.pending.size(), 1u);
  clock_.Advance(absl::Hours(24));
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].name, "more");
  EXPECT_EQ(client_->Traffic().today.at(Network::kUnmetered), more.size());
  EXPECT_EQ(client_->Traffic().total.at(Network::kUnmetered), 130u);
}

TEST_F(OnDemandTest, FailedDownloadBacksOff) {
  policy_.initial_backoff = absl::Minutes(1);
  Recreate();
  v1::UpdateEntry e = Entry(v1::LAYER_H5, "p", "1", "pkg", 1, false);
  transport_->Serve({e});  // no blob: the download fails
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.failures.size(), 1u);
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_TRUE(r.failures.empty());
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_THAT(r.pending[0].reason, HasSubstr("backing off"));
  // Doubled after the next failure.
  clock_.Advance(absl::Minutes(1));
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_EQ(r.failures.size(), 1u);
  clock_.Advance(absl::Minutes(1));
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  ASSERT_EQ(r.pending.size(), 1u);
  clock_.Advance(absl::Minutes(1));
  transport_->blobs[Sha256::HexHash("pkg")] = "pkg";
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_EQ(r.installed.size(), 1u);
}

TEST_F(OnDemandTest, PrefetchFetchesHintedModulesWhenTheNetworkAllows) {
  network_ = Network::kMetered;
  Recreate();
  const std::string game(300, 'g');
  Serve({{WifiOnly(OnDemand(Entry(v1::LAYER_HCF, "game", "1", game, 1, false))),
          game}});
  ASSERT_THAT(client_->Check(), IsOk());
  client_->Prefetch({{Layer::kHcf, "game"}});
  EXPECT_EQ(client_->Prefetched(), 0u);
  client_->SetNetwork(Network::kUnmetered);
  // Wait for the state (a hang guard, not a timing assumption).
  const auto guard = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (client_->Prefetched() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), guard) << "no prefetch";
    std::this_thread::yield();
  }
  EXPECT_EQ(client_->Staged(Layer::kHcf, "game")->version, "1");
  EXPECT_TRUE(client_->PendingDownloads().empty());
  const size_t downloads = transport_->downloaded.size();
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              client_->OpenModule(Layer::kHcf, "game"));
  EXPECT_EQ(Read(path), game);
  EXPECT_EQ(transport_->downloaded.size(), downloads);
}

}  // namespace
}  // namespace strata::client
