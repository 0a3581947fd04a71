// On-demand modules and the network policy end to end against a real
// stratad (in this process, on loopback): a module published with
// delivery.on_demand is not downloaded by the check, and is downloaded,
// verified, unpacked and activated by its first OpenModule() with
// progress (a cancelled open resumes); a Wi-Fi-only module is not
// downloaded on a metered network and is once the device is on Wi-Fi.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server_fixture.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/client/client.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class OnDemandServerTest : public testing::SdkServerTest {
 protected:
  std::unique_ptr<client::Client> Device(const std::string& id,
                                         client::Network network) {
    client::ClientOptions o;
    o.server_address = server_.address();
    o.app_id = "wallet";
    o.device.device_id = id;
    o.storage_dir = JoinPath(dir_.path(), id);
    o.insecure_skip_signature_verification_for_tests = true;  // unsigned app
    o.insecure_plaintext_to_loopback_for_tests = true;
    o.network = network;
    absl::StatusOr<std::unique_ptr<client::Client>> c =
        client::Client::Create(o);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  }
  // `strata publish` with a delivery policy, then a release to everyone.
  void Release(v1::Layer layer, const std::string& module,
               const std::string& content, const v1::DeliveryPolicy& policy) {
    ASSERT_NE(SdkServerTest::Release(layer, module, "1", content, "", policy),
              0u);
  }
};

// Incompressible enough to take several download chunks.
std::string Noise(size_t n) {
  std::string out;
  std::string seed = "strata";
  while (out.size() < n) {
    seed = Sha256::HexHash(seed);
    out += seed;
  }
  out.resize(n);
  return out;
}

TEST_F(OnDemandServerTest, LazyModuleIsFetchedOnFirstOpenWithProgress) {
  const std::string game =
      PackTree("game", {{"strata-package.json",
                         R"({"url_prefixes": ["https://game.example.com/"]})"},
                        {"index.html", "<h1>game</h1>"},
                        {"assets/level.bin", Noise(600'000)}});
  v1::DeliveryPolicy lazy;
  lazy.set_on_demand(true);
  Release(v1::LAYER_H5, "game", game, lazy);
  Release(v1::LAYER_CONFIG, "flags", R"({"a": 1})", {});
  auto device = Device("phone-1", client::Network::kMetered);
  ASSERT_NE(device, nullptr);
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, device->Check());
  ASSERT_TRUE(r.failures.empty()) << r.failures.front();
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].name, "flags");
  EXPECT_LT(r.bytes_downloaded, 1000u) << "the lazy module was downloaded";
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_TRUE(r.pending[0].on_demand);
  EXPECT_EQ(r.pending[0].content_bytes, game.size());
  STRATA_ASSERT_OK_AND_ASSIGN(
      client::Client::UrlResolution before,
      device->ResolveUrl("https://game.example.com/index.html"));
  EXPECT_FALSE(before.offline);

  // The first open: cancelled part-way...
  auto cancel = std::make_shared<client::CancelToken>();
  client::OpenOptions o;
  o.cancel = cancel;
  uint64_t at_cancel = 0;
  o.on_progress = [&](const client::DownloadProgress& p) {
    if (p.received_bytes >= 100'000 && at_cancel == 0) {
      at_cancel = p.received_bytes;
      cancel->Cancel();
    }
  };
  EXPECT_THAT(device->OpenModule(client::Layer::kH5, "game", o),
              StatusIs(absl::StatusCode::kCancelled));
  ASSERT_GT(at_cancel, 0u);
  EXPECT_FALSE(device->Installed(client::Layer::kH5, "game").has_value());
  // ... and the next one resumes and finishes, with progress.
  std::vector<client::DownloadProgress> seen;
  client::OpenOptions again;
  again.on_progress = [&](const client::DownloadProgress& p) {
    seen.push_back(p);
  };
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string dir, device->OpenModule(client::Layer::kH5, "game", again));
  ASSERT_GE(seen.size(), 3u);
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].received_bytes, seen[i - 1].received_bytes);
    EXPECT_EQ(seen[i].content_bytes, game.size());
  }
  EXPECT_TRUE(seen.back().done);
  EXPECT_LE(seen.back().received_bytes, game.size() - at_cancel)
      << "the second open did not resume";
  EXPECT_EQ(*PosixFileSystem()->ReadFile(JoinPath(dir, "index.html")),
            "<h1>game</h1>");
  EXPECT_EQ(device->Installed(client::Layer::kH5, "game")->version, "1");
  STRATA_ASSERT_OK_AND_ASSIGN(
      client::Client::UrlResolution page,
      device->ResolveUrl("https://game.example.com/index.html"));
  EXPECT_TRUE(page.offline) << page.fallback_reason;
  EXPECT_EQ(page.path, JoinPath(dir, "index.html"));
  EXPECT_TRUE(device->PendingDownloads().empty());
  const client::TrafficStats t = device->Traffic();
  EXPECT_GE(t.total.at(client::Network::kMetered), game.size());
  // The server took the DOWNLOADED reports.
  EXPECT_THAT(device->FlushReports(), IsOk());
  EXPECT_EQ(device->PendingReports(), 0u);
}

TEST_F(OnDemandServerTest, WifiOnlyModuleWaitsForAnUnmeteredNetwork) {
  const std::string video = Noise(50'000);
  v1::DeliveryPolicy wifi;
  wifi.set_network(v1::NETWORK_UNMETERED_ONLY);
  Release(v1::LAYER_HCF, "video", video, wifi);
  auto device = Device("phone-2", client::Network::kMetered);
  ASSERT_NE(device, nullptr);
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, device->Check());
  ASSERT_TRUE(r.failures.empty()) << r.failures.front();
  EXPECT_TRUE(r.installed.empty());
  EXPECT_EQ(r.bytes_downloaded, 0u);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_THAT(r.pending[0].reason, HasSubstr("needs an unmetered network"));
  EXPECT_THAT(device->OpenModule(client::Layer::kHcf, "video"),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  device->SetNetwork(client::Network::kUnmetered);
  STRATA_ASSERT_OK_AND_ASSIGN(r, device->Check());
  ASSERT_TRUE(r.failures.empty()) << r.failures.front();
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].name, "video");
  EXPECT_EQ(r.bytes_downloaded, video.size());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              device->OpenModule(client::Layer::kHcf, "video"));
  EXPECT_EQ(*PosixFileSystem()->ReadFile(path), video);
  const client::TrafficStats t = device->Traffic();
  EXPECT_EQ(t.total.count(client::Network::kMetered), 0u);
  EXPECT_EQ(t.total.at(client::Network::kUnmetered), video.size());
}

}  // namespace
}  // namespace strata
