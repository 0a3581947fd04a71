// The device core (client_sdk/device_core: protobuf-lite, libsodium, zstd)
// against a real stratad in this process, over the host's HTTP stack: a
// signed update is verified, downloaded, installed and reported, an
// unsigned one and one for another host build refused and reported; the
// state survives a restart.
// Ed25519 signatures our signing library (OpenSSL) makes verify with
// libsodium, and SHA-256 agrees.
#include "strata/device/device_core.h"

#include <zstd.h>

#include <memory>
#include <string>
#include <vector>

#include "device_core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/device/c_api.h"

namespace strata {
namespace {

using ::strata::testing::DeviceCoreTest;
using ::strata::testing::IsOk;
using ::testing::HasSubstr;

TEST(DeviceCoreCryptoTest, OurEd25519SignaturesVerifyWithLibsodium) {
  absl::StatusOr<signing::PrivateKey> key = signing::PrivateKey::Generate();
  ASSERT_THAT(key, IsOk());
  const std::string pub = key->public_key().raw();
  std::string message;
  for (int i = 0; i < 64; ++i) {
    message += static_cast<char>(i * 37 + 11);  // 0 to 63 bytes, any byte
    absl::StatusOr<std::string> sig = key->Sign(message);
    ASSERT_THAT(sig, IsOk());
    EXPECT_TRUE(device::VerifyEd25519(pub, message, *sig)) << i;
    std::string bad = *sig;
    bad[i % bad.size()] ^= 1;
    EXPECT_FALSE(device::VerifyEd25519(pub, message, bad)) << i;
    EXPECT_FALSE(device::VerifyEd25519(pub, message + "x", *sig)) << i;
    EXPECT_EQ(device::Sha256Hex(message), Sha256::HexHash(message));
  }
  EXPECT_FALSE(device::VerifyEd25519(pub.substr(1), message, "short"));
}

TEST(DeviceCoreCryptoTest, ZstdFramesDecodeAgainstAPrefix) {
  const std::string old_text(50000, 'a');
  std::string new_text = old_text;
  new_text.replace(1000, 5, "hello");
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ASSERT_EQ(
      ZSTD_isError(ZSTD_CCtx_refPrefix(c, old_text.data(), old_text.size())),
      0u);
  std::string frame(ZSTD_compressBound(new_text.size()), '\0');
  const size_t n = ZSTD_compress2(c, frame.data(), frame.size(),
                                  new_text.data(), new_text.size());
  ZSTD_freeCCtx(c);
  ASSERT_EQ(ZSTD_isError(n), 0u);
  frame.resize(n);
  std::string out;
  ASSERT_TRUE(device::ZstdDecompress(frame, old_text, 1 << 20, &out).ok());
  EXPECT_EQ(out, new_text);
  EXPECT_EQ(device::ZstdDecompress(frame, old_text, 100, &out).code, 8);
  EXPECT_EQ(
      device::ZstdDecompress(frame.substr(0, n / 2), old_text, 1 << 20, &out)
          .code,
      15);
}

TEST_F(DeviceCoreTest, VerifiesInstallsAndReportsOverTheHostsHttp) {
  absl::StatusOr<signing::PrivateKey> key = signing::PrivateKey::Generate();
  ASSERT_THAT(key, IsOk());
  // H5 "mall", signed by the publisher over the statement's bytes.
  const std::string page(200 * 1024, 'm');
  PublishSigned(*key, "mall", "1", page);
  ASSERT_NE(CreateRelease(v1::LAYER_H5, "mall", "1"), 0u);
  // CONFIG "flags", unsigned: refused.
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}"), 0u);
  // HOTPATCH "fix" for another host build: refused.
  ASSERT_NE(Release(v1::LAYER_HOTPATCH, "fix", "1", "patch", "build-2"), 0u);

  device::DeviceCoreOptions o = Options();
  std::unique_ptr<device::DeviceCore> core;
  EXPECT_EQ(device::DeviceCore::Open(o, &core).code, 3);  // no keys
  o.publisher_keys = {{key->KeyId(), key->public_key().raw()}};
  o.host_build = "build-1";
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  device::CheckOutcome outcome;
  const device::Error e = core->Check(&outcome);
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].name, "mall");
  EXPECT_THAT(outcome.failures,
              ::testing::UnorderedElementsAre(
                  HasSubstr("flags 1: no signature"),
                  HasSubstr("fix 1: built for host build build-2")));
  EXPECT_EQ(outcome.reports_acknowledged, 3u);  // ACTIVATED, 2 REJECTED
  EXPECT_EQ(core->PendingReports(), 0u);
  EXPECT_EQ(PosixFileSystem()
                ->ReadFile(core->ContentPath(outcome.installed[0]))
                .value_or(""),
            page);
  EXPECT_EQ(exchanges_, 3);  // check, blob, report

  // Restarted: the state is kept; nothing new to install.
  core.reset();
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  ASSERT_EQ(core->Installed().size(), 1u);
  EXPECT_EQ(core->Installed()[0].version, "1");
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_TRUE(outcome.installed.empty());

  // A key that did not sign it installs nothing.
  absl::StatusOr<signing::PrivateKey> other = signing::PrivateKey::Generate();
  ASSERT_THAT(other, IsOk());
  o.storage_dir = JoinPath(dir_.path(), "phone-other");
  o.device_id = "phone-other";
  o.publisher_keys = {{key->KeyId(), other->public_key().raw()}};
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_TRUE(outcome.installed.empty());
  EXPECT_EQ(outcome.failures.size(), 3u);
}

// Version 2 comes as a patch from the installed version 1: stratad's delta
// cache makes it on publish (a compact patch checked by the caller), the
// device core downloads the patch, not the content, applies it to the
// installed file and checks the output against the signed statement; the
// ACTIVATED report carries the bytes it cost.
TEST_F(DeviceCoreTest, UpdatesByAPatchFromTheInstalledContent) {
  absl::StatusOr<signing::PrivateKey> key = signing::PrivateKey::Generate();
  ASSERT_THAT(key, IsOk());
  std::string v1_js;
  for (int i = 0; v1_js.size() < 300 * 1024; ++i) {
    v1_js +=
        StrCat("export function f", i, "(a) { return a + ", i % 97, "; }\n");
  }
  std::string v2_js = v1_js;
  v2_js.replace(4000, 6, "a * 2;");
  v2_js += "export const version = 2;\n";
  PublishSigned(*key, "mall", "1", v1_js);
  ASSERT_NE(CreateRelease(v1::LAYER_H5, "mall", "1"), 0u);

  device::DeviceCoreOptions o = Options();
  o.publisher_keys = {{key->KeyId(), key->public_key().raw()}};
  std::unique_ptr<device::DeviceCore> core;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  device::CheckOutcome outcome;
  device::Error e = core->Check(&outcome);
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_EQ(outcome.traffic.size(), 1u);
  EXPECT_FALSE(outcome.traffic[0].by_patch);
  EXPECT_EQ(outcome.traffic[0].bytes, v1_js.size());

  // stratad computes the delta from version 1 on publish; wait for that
  // state (a hang guard, not a timing assumption).
  const uint64_t computed = Metric("strata_deltas_computed_total");
  PublishSigned(*key, "mall", "2", v2_js);
  ASSERT_NO_FATAL_FAILURE(WaitForDeltasPast(computed));
  ASSERT_NE(CreateRelease(v1::LAYER_H5, "mall", "2"), 0u);
  urls_.clear();
  e = core->Check(&outcome);
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_TRUE(outcome.failures.empty());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].version, "2");
  ASSERT_EQ(outcome.traffic.size(), 1u);
  EXPECT_TRUE(outcome.traffic[0].by_patch) << outcome.traffic[0].patch_error;
  EXPECT_GT(outcome.traffic[0].bytes, 0u);
  EXPECT_LT(outcome.traffic[0].bytes, v2_js.size() / 20);
  EXPECT_EQ(PosixFileSystem()
                ->ReadFile(core->ContentPath(outcome.installed[0]))
                .value_or(""),
            v2_js);
  // The content itself was never fetched.
  for (const std::string& url : urls_) {
    EXPECT_THAT(url, ::testing::Not(HasSubstr(Sha256::HexHash(v2_js))));
  }
  EXPECT_EQ(outcome.reports_acknowledged, 1u);
  EXPECT_EQ(core->PendingReports(), 0u);
}

// The download policy signed with an update: a module for unmetered
// networks only waits (not installed, not reported) while the host says
// the device is on a metered network, and installs once it is unmetered,
// its bytes counted on that network; nothing is downloaded while offline.
// Inline config comes with the answer and installs on any network.
TEST_F(DeviceCoreTest, AnUnmeteredOnlyUpdateWaitsForAnUnmeteredNetwork) {
  v1::DeliveryPolicy wifi;
  wifi.set_network(v1::NETWORK_UNMETERED_ONLY);
  const std::string video(100 * 1024, 'v');
  ASSERT_NE(Release(v1::LAYER_H5, "video", "1", video, "", wifi), 0u);
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}"), 0u);
  device::DeviceCoreOptions o = Options();
  o.insecure_skip_signature_verification_for_tests = true;
  std::unique_ptr<device::DeviceCore> core;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());

  core->SetNetwork(v1::NETWORK_METERED);
  device::CheckOutcome outcome;
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].name, "flags");
  EXPECT_EQ(outcome.traffic[0].network, v1::NETWORK_METERED);
  EXPECT_THAT(outcome.deferred,
              ::testing::ElementsAre(HasSubstr("video 1: it may be "
                                               "downloaded on an unmetered "
                                               "network only")));
  EXPECT_TRUE(outcome.failures.empty());
  EXPECT_EQ(outcome.reports_acknowledged, 1u);  // flags' ACTIVATED only
  for (const std::string& url : urls_) {
    EXPECT_THAT(url, ::testing::Not(HasSubstr("/v1/blobs/")));
  }
  // Unknown counts as metered.
  core->SetNetwork(v1::NETWORK_UNKNOWN);
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_TRUE(outcome.installed.empty());
  EXPECT_EQ(outcome.deferred.size(), 1u);

  core->SetNetwork(v1::NETWORK_UNMETERED);
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].name, "video");
  EXPECT_TRUE(outcome.deferred.empty());
  EXPECT_EQ(outcome.traffic[0].network, v1::NETWORK_UNMETERED);
  EXPECT_EQ(outcome.traffic[0].bytes, video.size());

  // Offline: nothing that needs a download.
  ASSERT_NE(Release(v1::LAYER_H5, "news", "1", std::string(5000, 'n')), 0u);
  core->SetNetwork(v1::NETWORK_OFFLINE);
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_TRUE(outcome.installed.empty());
  EXPECT_THAT(outcome.deferred,
              ::testing::ElementsAre(HasSubstr("news 1: the device is "
                                               "offline")));
}

// On-demand modules: a check does not download one the device has no
// version of; Fetch (the app opening it) installs it; once installed, its
// updates come with checks like any other module's.
TEST_F(DeviceCoreTest, AnOnDemandModuleIsFetchedWhenTheAppOpensIt) {
  v1::DeliveryPolicy lazy;
  lazy.set_on_demand(true);
  const std::string game(60 * 1024, 'g');
  ASSERT_NE(Release(v1::LAYER_HCF, "game", "1", game, "", lazy), 0u);
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}"), 0u);
  device::DeviceCoreOptions o = Options();
  o.insecure_skip_signature_verification_for_tests = true;
  std::unique_ptr<device::DeviceCore> core;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  device::CheckOutcome outcome;
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].name, "flags");
  EXPECT_THAT(outcome.deferred,
              ::testing::ElementsAre(HasSubstr("game 1: on demand")));
  for (const std::string& url : urls_) {
    EXPECT_THAT(url, ::testing::Not(HasSubstr("/v1/blobs/")));
  }

  EXPECT_EQ(core->Fetch(v1::LAYER_HCF, "chess", &outcome).code, 5);
  device::Error e = core->Fetch(v1::LAYER_HCF, "game", &outcome);
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].name, "game");
  EXPECT_EQ(outcome.traffic[0].bytes, game.size());
  EXPECT_EQ(outcome.reports_acknowledged, 1u);
  EXPECT_EQ(PosixFileSystem()
                ->ReadFile(core->ContentPath(outcome.installed[0]))
                .value_or(""),
            game);

  // Installed now: version 2 comes with a check.
  ASSERT_NE(Release(v1::LAYER_HCF, "game", "2", std::string(60 * 1024, 'G'), "",
                    lazy),
            0u);
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].version, "2");
  EXPECT_TRUE(outcome.deferred.empty());
}

TEST_F(DeviceCoreTest, CApiChecksThroughTheHostsFunction) {
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}"), 0u);
  device::HttpSend send = HostHttp();
  const std::string url = StrCat("http://127.0.0.1:", server_.http_port());
  const std::string storage = JoinPath(dir_.path(), "phone-c");
  strata_device_options o = {};
  o.server_url = url.c_str();
  o.app_id = "wallet";
  o.device_id = "phone-c";
  o.storage_dir = storage.c_str();
  o.insecure_skip_signature_verification_for_tests = 1;  // unsigned app
  o.http_send = &testing::CHostSend;
  o.http_user_data = &send;
  strata_device* d = strata_device_open(&o);
  ASSERT_NE(d, nullptr) << strata_device_last_error();
  size_t installed = 0, failed = 0;
  ASSERT_EQ(strata_device_check(d, &installed, &failed), 0)
      << strata_device_last_error();
  EXPECT_EQ(installed, 1u);
  EXPECT_EQ(failed, 0u);
  char* path = nullptr;
  ASSERT_EQ(strata_device_content_path(d, v1::LAYER_CONFIG, "flags", &path), 0);
  ASSERT_NE(path, nullptr);
  EXPECT_EQ(PosixFileSystem()->ReadFile(path).value_or(""), "{\"a\":1}");
  std::free(path);
  EXPECT_EQ(strata_device_pending_reports(d), 0u);
  strata_device_close(d);

  device::HttpSend offline = [](const device::HttpExchange&,
                                device::HttpResult*) {
    return device::Error{14, "airplane mode"};
  };
  const std::string storage2 = JoinPath(dir_.path(), "phone-d");
  o.storage_dir = storage2.c_str();
  o.http_user_data = &offline;
  d = strata_device_open(&o);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(strata_device_check(d, nullptr, nullptr), 14);
  EXPECT_THAT(strata_device_last_error(), HasSubstr("airplane mode"));
  strata_device_close(d);
}

TEST(DeviceCoreCryptoTest, VersionsCompareAsTheFullSdkDoes) {
  EXPECT_LT(device::CompareVersions("1.9", "1.10"), 0);
  EXPECT_EQ(device::CompareVersions("1.2", "1.2.0"), 0);
  EXPECT_EQ(device::CompareVersions("1.2+b7", "1.2"), 0);
  EXPECT_GT(device::CompareVersions("10.0", "9.99"), 0);
  EXPECT_LT(device::CompareVersions("1.0-beta", "1.0-rc"), 0);
  EXPECT_GT(device::CompareVersions("100000000000000000000", "2"), 0);
}

}  // namespace
}  // namespace strata
