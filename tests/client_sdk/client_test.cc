// The SDK's check, apply, activation, launch guard and reports over a fake
// transport (a seam we own) and an in-memory file system.
#include "strata/client/client.h"

#include <set>
#include <thread>

#include "fake_transport.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/delta.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { Recreate(); }
  void Recreate() {
    std::optional<FakeTransport> saved;
    if (transport_ != nullptr) saved = *transport_;  // same server
    client_.reset();
    ClientOptions options;
    options.app_id = "wallet";
    options.device.device_id = "d1";
    options.device.host_build = "10.3.0+100";
    options.device.app_version = "10.3.1";
    options.storage_dir = "/sdk";
    options.embedded_dir = "/app/embedded";
    options.disk_budget_bytes = disk_budget_;
    options.insecure_skip_signature_verification_for_tests =
        true;  // not about trust
    options.env = Env{&fs_, &clock_, &random_};
    auto transport = std::make_unique<FakeTransport>();
    if (saved.has_value()) *transport = *saved;
    transport_ = transport.get();
    auto client = Client::CreateWithTransport(options, std::move(transport));
    ASSERT_THAT(client, IsOk());
    client_ = *std::move(client);
  }
  void Serve(std::vector<v1::UpdateEntry> entries) {
    transport_->Serve(entries);
  }
  void Publish(const std::string& content) {
    transport_->blobs[Sha256::HexHash(content)] = content;
  }
  void Embed(const std::string& layer, const std::string& name,
             const std::string& content) {
    ASSERT_THAT(CreateDirs(fs_, "/app/embedded/" + layer), IsOk());
    ASSERT_THAT(WriteFileAtomically(fs_, "/app/embedded/" + layer + "/" + name,
                                    content),
                IsOk());
  }
  std::string Read(const std::string& path) { return *fs_.ReadFile(path); }
  std::string ActiveContent(Layer layer, const std::string& name) {
    auto path = client_->OpenModule(layer, name);
    return path.ok() ? Read(*path) : "<none>";
  }
  // "<none>" when nothing is active / staged.
  std::string InstalledVersion(Layer layer, const std::string& name) {
    auto m = client_->Installed(layer, name);
    return m.has_value() ? m->version : "<none>";
  }
  std::string StagedVersion(Layer layer, const std::string& name) {
    auto m = client_->Staged(layer, name);
    return m.has_value() ? m->version : "<none>";
  }
  // A launch that never reaches MarkLaunchHealthy (the app crashed).
  LaunchResult CrashingLaunch() {
    auto r = client_->BeginLaunch();
    EXPECT_THAT(r, IsOk());
    Recreate();  // the process dies
    return r.ok() ? *r : LaunchResult{};
  }

  testing::MemFileSystem fs_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
  uint64_t disk_budget_ = 0;
  FakeTransport* transport_ = nullptr;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, InstallsInlineConfigAndDownloadedPackage) {
  Publish("<html>v1</html>");
  Serve({Entry(v1::LAYER_CONFIG, "payment.limits", "1", "{\"a\":1}", 1, true),
         Entry(v1::LAYER_H5, "mall-home", "1", "<html>v1</html>", 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.installed.size(), 2u);
  EXPECT_EQ(r.staged.size(), 1u);  // h5: at next open; config: at once
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(r.via_inline, 1u);
  EXPECT_EQ(r.via_full_download, 1u);
  EXPECT_EQ(r.via_delta + r.via_local, 0u);
  EXPECT_EQ(r.bytes_downloaded, std::string("<html>v1</html>").size());
  STRATA_ASSERT_OK_AND_ASSIGN(auto value, client_->GetConfig("payment.limits"));
  EXPECT_EQ(value, std::optional<std::string>("{\"a\":1}"));
  EXPECT_EQ(ActiveContent(Layer::kH5, "mall-home"), "<html>v1</html>");

  // The next check reports what is installed, and a new client on the same
  // storage sees it too.
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(transport_->last_request.installed_size(), 2);
  Recreate();
  EXPECT_EQ(client_->AllInstalled().size(), 2u);
  EXPECT_THAT(client_->VerifyInstalled(), IsOk());
}

TEST_F(ClientTest, ReplayedOlderSequenceIsRefusedAndNothingChanges) {
  Serve({Entry(v1::LAYER_CONFIG, "m", "5", "five", 5, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  Serve({Entry(v1::LAYER_CONFIG, "m", "4", "four", 4, true)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("lower than the installed 5"));
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_RELEASE_COUNTER_ROLLBACK);
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("five"));
}

TEST_F(ClientTest, ContentNotMatchingTheStatementIsRefused) {
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "good", 1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  v1::UpdateEntry bad = Entry(v1::LAYER_CONFIG, "m", "2", "nice", 2, true);
  bad.set_inline_content("evil");  // same length, other bytes
  Serve({bad});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("hashes to"));
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_CONTENT_HASH_MISMATCH);
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("good"));
}

TEST_F(ClientTest, DownloadLongerThanDeclaredStopsAtTheCap) {
  Publish("pkg");
  transport_->extra_bytes = std::string(1000, 'x');
  Serve({Entry(v1::LAYER_H5, "p", "1", "pkg", 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("more than the 3 bytes"));
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_ENDLESS_DATA);
  EXPECT_FALSE(client_->Installed(Layer::kH5, "p").has_value());
}

TEST_F(ClientTest, UnsafeNamesAndOtherAppsAreRefused) {
  v1::UpdateEntry escape =
      Entry(v1::LAYER_CONFIG, "../../etc", "1", "x", 1, true);
  v1::UpdateEntry other_app = Entry(v1::LAYER_CONFIG, "m", "1", "x", 1, true);
  other_app.mutable_statement()->set_app_id("other");
  Serve({escape, other_app});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failures.size(), 2u);
  EXPECT_THAT(r.failures[0], HasSubstr("starts with '.'"));
  EXPECT_THAT(r.failures[1], HasSubstr("not 'wallet'"));
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_UNSAFE_NAME);
  EXPECT_EQ(r.failure_details[1].reason, v1::REJECT_WRONG_APP);
  EXPECT_TRUE(client_->AllInstalled().empty());
}

TEST_F(ClientTest, ServerErrorsAreReturned) {
  transport_->check_error = absl::UnavailableError("connection refused");
  EXPECT_THAT(client_->Check(), StatusIs(absl::StatusCode::kUnavailable));
}

// --- activation rules per layer ---

TEST_F(ClientTest, H5AndHcfActivateAtNextOpen) {
  Publish("h5 v1");
  Publish("hcf v1");
  Serve({Entry(v1::LAYER_H5, "page", "1", "h5 v1", 1, false),
         Entry(v1::LAYER_HCF, "mod", "1", "hcf v1", 1, false)});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_FALSE(client_->Installed(Layer::kH5, "page").has_value());
  EXPECT_EQ(client_->Staged(Layer::kH5, "page")->version, "1");
  EXPECT_EQ(ActiveContent(Layer::kH5, "page"), "h5 v1");
  EXPECT_EQ(client_->Installed(Layer::kH5, "page")->version, "1");
  EXPECT_FALSE(client_->Installed(Layer::kHcf, "mod").has_value());
  // Or at the next launch.
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  EXPECT_EQ(client_->Installed(Layer::kHcf, "mod")->version, "1");
}

TEST_F(ClientTest, HotpatchAndNativeActivateAtNextLaunch) {
  Publish("patch v1");
  Publish("bundle v1");
  v1::UpdateEntry patch =
      Entry(v1::LAYER_HOTPATCH, "core", "1", "patch v1", 1, false);
  patch.mutable_statement()->mutable_compatibility()->set_host_build(
      "10.3.0+100");
  Serve({patch,
         Entry(v1::LAYER_NATIVE_BUNDLE, "maps", "1", "bundle v1", 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.staged.size(), 2u);
  // Opening does not activate native code mid-session.
  EXPECT_THAT(client_->OpenModule(Layer::kHotpatch, "core"),
              StatusIs(absl::StatusCode::kNotFound));
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  EXPECT_EQ(launch.activated.size(), 2u);
  EXPECT_EQ(ActiveContent(Layer::kHotpatch, "core"), "patch v1");
  EXPECT_EQ(ActiveContent(Layer::kNativeBundle, "maps"), "bundle v1");
}

TEST_F(ClientTest, HotpatchForAnotherHostBuildIsRefused) {
  Publish("patch");
  v1::UpdateEntry patch =
      Entry(v1::LAYER_HOTPATCH, "core", "1", "patch", 1, false);
  patch.mutable_statement()->mutable_compatibility()->set_host_build(
      "10.3.0+99");
  Serve({patch});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_WRONG_HOST_BUILD);
  EXPECT_THAT(r.failures[0], HasSubstr("'10.3.0+99'"));
  EXPECT_FALSE(client_->Staged(Layer::kHotpatch, "core").has_value());
  EXPECT_TRUE(transport_->downloaded.empty());  // refused before downloading
  ASSERT_EQ(transport_->reports.size(), 1u);
  EXPECT_EQ(transport_->reports[0].kind(), v1::ReportEvent::KIND_REJECTED);
  EXPECT_EQ(transport_->reports[0].reason(), v1::REJECT_WRONG_HOST_BUILD);
}

TEST_F(ClientTest, IncompatibleAppOrSdkVersionsAreRefused) {
  v1::UpdateEntry too_new = Entry(v1::LAYER_CONFIG, "a", "1", "x", 1, true);
  too_new.mutable_statement()->mutable_compatibility()->set_min_app_version(
      "10.4.0");
  v1::UpdateEntry sdk = Entry(v1::LAYER_CONFIG, "b", "1", "y", 1, true);
  sdk.mutable_statement()->mutable_compatibility()->set_min_sdk_version("9.0");
  v1::UpdateEntry fits = Entry(v1::LAYER_CONFIG, "c", "1", "z", 1, true);
  fits.mutable_statement()->mutable_compatibility()->set_min_app_version(
      "10.3.0");
  fits.mutable_statement()->mutable_compatibility()->set_max_app_version(
      "10.3.9");
  Serve({too_new, sdk, fits});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failure_details.size(), 2u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_INCOMPATIBLE);
  EXPECT_THAT(r.failures[0], HasSubstr("this app is 10.3.1"));
  EXPECT_EQ(r.failure_details[1].reason, v1::REJECT_INCOMPATIBLE);
  EXPECT_THAT(r.failures[1], HasSubstr("update the app"));
  EXPECT_EQ(*client_->GetConfig("c"), std::optional<std::string>("z"));
}

TEST_F(ClientTest, OneReleaseIsAllOrNothing) {
  Serve({Entry(v1::LAYER_CONFIG, "a", "1", "a1", 1, true, 7),
         Entry(v1::LAYER_CONFIG, "b", "1", "b1", 1, true, 7)});
  ASSERT_THAT(client_->Check(), IsOk());
  // Release 8 changes both, but b's content is missing on the server.
  Serve({Entry(v1::LAYER_CONFIG, "a", "2", "a2", 2, true, 8),
         Entry(v1::LAYER_H5, "b", "2", "b2", 2, false, 8)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.failures.size(), 2u);
  EXPECT_EQ(*client_->GetConfig("a"), std::optional<std::string>("a1"));
  Publish("b2");
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_TRUE(r.failures.empty());
  // Installed together; active together when the page is opened.
  EXPECT_EQ(StagedVersion(Layer::kConfig, "a"), "2");
  EXPECT_EQ(StagedVersion(Layer::kH5, "b"), "2");
  EXPECT_EQ(*client_->GetConfig("a"), std::optional<std::string>("a1"));
  EXPECT_EQ(ActiveContent(Layer::kH5, "b"), "b2");
  EXPECT_EQ(*client_->GetConfig("a"), std::optional<std::string>("a2"));
}

// A release whose hotpatch is refused here installs none of its modules.
TEST_F(ClientTest, ReleaseWithARefusedMemberInstallsNothing) {
  Publish("patch");
  v1::UpdateEntry patch =
      Entry(v1::LAYER_HOTPATCH, "core", "1", "patch", 1, false, 5);
  patch.mutable_statement()->mutable_compatibility()->set_host_build(
      "10.3.0+99");
  Serve({Entry(v1::LAYER_CONFIG, "switch", "1", "on", 1, true, 5), patch});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.installed.empty());
  ASSERT_EQ(r.failure_details.size(), 2u);
  EXPECT_EQ(r.failure_details[0].name, "core");
  EXPECT_EQ(r.failure_details[1].name, "switch");
  EXPECT_EQ(r.failure_details[1].reason, v1::REJECT_WRONG_HOST_BUILD);
  EXPECT_THAT(r.failures[1],
              HasSubstr("hotpatch/core 1 of the same release was refused"));
  EXPECT_EQ(*client_->GetConfig("switch"), std::nullopt);
  EXPECT_EQ(StagedVersion(Layer::kConfig, "switch"), "<none>");
  EXPECT_TRUE(transport_->downloaded.empty());
  EXPECT_EQ(transport_->CountReports(v1::ReportEvent::KIND_REJECTED), 2);
}

// A release offered again after the launch guard took one of its modules
// back here: the others are not installed without it.
TEST_F(ClientTest, ReleaseWithARolledBackMemberIsNotInstalledAgain) {
  auto hotpatch = [](uint64_t seq, uint64_t release) {
    v1::UpdateEntry e = Entry(v1::LAYER_HOTPATCH, "core", "1", "bad patch", seq,
                              false, release);
    e.mutable_statement()->mutable_compatibility()->set_host_build(
        "10.3.0+100");
    return e;
  };
  Publish("bad patch");
  Serve({hotpatch(1, 5)});
  ASSERT_THAT(client_->Check(), IsOk());
  for (int i = 0; i < 3; ++i) CrashingLaunch();
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  ASSERT_EQ(launch.bad_versions.size(), 1u);
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());

  Serve({hotpatch(2, 6),
         Entry(v1::LAYER_CONFIG, "switch", "1", "on", 1, true, 6)});
  for (int i = 0; i < 2; ++i) {
    STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
    EXPECT_TRUE(r.installed.empty());
    EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  }
  EXPECT_EQ(*client_->GetConfig("switch"), std::nullopt);
  EXPECT_EQ(StagedVersion(Layer::kConfig, "switch"), "<none>");
  int refused = 0;
  for (const v1::ReportEvent& e : transport_->reports) {
    if (e.kind() == v1::ReportEvent::KIND_REJECTED) {
      ++refused;
      EXPECT_EQ(e.module().name(), "switch");
      EXPECT_THAT(e.detail(), HasSubstr("hotpatch/core 1 of the same release "
                                        "was rolled back on this device"));
    }
  }
  EXPECT_EQ(refused, 1);  // once, like the rolled-back version itself
}

// --- activation of a multi-module release ---

// A config switch released with the H5 page that needs it waits for the
// page: both become active together when the page is opened.
TEST_F(ClientTest, ConfigAndH5ReleaseActivatesTogetherWhenThePageOpens) {
  Embed("h5", "mall", "page 1");
  Embed("h5", "other", "other page");
  Serve({Entry(v1::LAYER_CONFIG, "switch", "1", "off", 1, true, 3)});
  ASSERT_THAT(client_->Check(), IsOk());
  std::vector<std::string> heard;
  client_->AddConfigListener(
      [&](const std::string& name, const std::optional<std::string>& c) {
        heard.push_back(name + "=" + c.value_or("<none>"));
      });
  Publish("page 2");
  Serve({Entry(v1::LAYER_CONFIG, "switch", "2", "on", 2, true, 4),
         Entry(v1::LAYER_H5, "mall", "2", "page 2", 2, false, 4)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(r.installed.size(), 2u);
  EXPECT_EQ(r.staged.size(), 2u);
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("off"));
  EXPECT_EQ(InstalledVersion(Layer::kConfig, "switch"), "1");
  EXPECT_EQ(StagedVersion(Layer::kConfig, "switch"), "2");
  EXPECT_EQ(StagedVersion(Layer::kH5, "mall"), "2");
  EXPECT_TRUE(heard.empty());
  // The server still sees the old config.
  ASSERT_THAT(client_->Check(), IsOk());
  for (const auto& m : transport_->last_request.installed()) {
    if (m.module().name() == "switch") {
      EXPECT_EQ(m.version(), "1");
    }
  }

  // The state remembers the group across a restart.
  Recreate();
  client_->AddConfigListener(
      [&](const std::string& name, const std::optional<std::string>& c) {
        heard.push_back(name + "=" + c.value_or("<none>"));
        EXPECT_EQ(InstalledVersion(Layer::kH5, "mall"), "2");
      });
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("off"));
  // Opening another page changes nothing.
  EXPECT_EQ(ActiveContent(Layer::kH5, "other"), "other page");
  EXPECT_EQ(StagedVersion(Layer::kConfig, "switch"), "2");
  EXPECT_TRUE(heard.empty());

  EXPECT_EQ(ActiveContent(Layer::kH5, "mall"), "page 2");
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("on"));
  EXPECT_FALSE(client_->Staged(Layer::kConfig, "switch").has_value());
  EXPECT_FALSE(client_->Staged(Layer::kH5, "mall").has_value());
  EXPECT_EQ(heard, std::vector<std::string>{"switch=on"});
  ASSERT_THAT(client_->FlushReports(), IsOk());
  std::vector<std::string> activated;
  for (const v1::ReportEvent& e : transport_->reports) {
    if (e.kind() == v1::ReportEvent::KIND_ACTIVATED) {
      activated.push_back(e.module().name() + "@" + e.detail() + "#" +
                          std::to_string(e.release_id()));
    }
  }
  EXPECT_EQ(activated,
            (std::vector<std::string>{"switch@1#3", "switch@2#4", "mall@2#4"}));
}

TEST_F(ClientTest, ConfigAndH5ReleaseActivatesAtTheNextLaunchToo) {
  Publish("card 2");
  Serve({Entry(v1::LAYER_CONFIG, "switch", "2", "on", 2, true, 4),
         Entry(v1::LAYER_HCF, "card", "2", "card 2", 2, false, 4)});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(*client_->GetConfig("switch"), std::nullopt);
  std::vector<std::string> heard;
  client_->AddConfigListener(
      [&](const std::string& name, const std::optional<std::string>& c) {
        heard.push_back(name + "=" + c.value_or("<none>"));
      });
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  EXPECT_EQ(launch.activated.size(), 2u);
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("on"));
  EXPECT_EQ(InstalledVersion(Layer::kHcf, "card"), "2");
  EXPECT_EQ(heard, std::vector<std::string>{"switch=on"});
}

// Native code is activated only by a launch: so is everything released
// with it, also an H5 page that is opened before.
TEST_F(ClientTest, ReleaseWithAHotpatchActivatesOnlyAtTheNextLaunch) {
  Publish("page 2");
  Publish("patch 2");
  v1::UpdateEntry patch =
      Entry(v1::LAYER_HOTPATCH, "core", "2", "patch 2", 2, false, 5);
  patch.mutable_statement()->mutable_compatibility()->set_host_build(
      "10.3.0+100");
  Serve({Entry(v1::LAYER_CONFIG, "switch", "2", "on", 2, true, 5),
         Entry(v1::LAYER_H5, "mall", "2", "page 2", 2, false, 5), patch});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.staged.size(), 3u);
  EXPECT_EQ(*client_->GetConfig("switch"), std::nullopt);
  EXPECT_THAT(client_->OpenModule(Layer::kH5, "mall"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(StagedVersion(Layer::kH5, "mall"), "2");
  EXPECT_EQ(*client_->GetConfig("switch"), std::nullopt);
  std::vector<std::string> heard;
  client_->AddConfigListener(
      [&](const std::string& name, const std::optional<std::string>& c) {
        heard.push_back(name + "=" + c.value_or("<none>"));
      });
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  EXPECT_EQ(launch.activated.size(), 3u);
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("on"));
  EXPECT_EQ(ActiveContent(Layer::kH5, "mall"), "page 2");
  EXPECT_EQ(ActiveContent(Layer::kHotpatch, "core"), "patch 2");
  EXPECT_EQ(heard, std::vector<std::string>{"switch=on"});
}

TEST_F(ClientTest, ConfigOnlyMultiModuleReleaseIsActiveAtOnce) {
  std::vector<std::string> heard;
  client_->AddConfigListener(
      [&](const std::string& name, const std::optional<std::string>& c) {
        heard.push_back(name + "=" + c.value_or("<none>"));
      });
  Serve({Entry(v1::LAYER_CONFIG, "a", "1", "a1", 1, true, 6),
         Entry(v1::LAYER_CONFIG, "b", "1", "b1", 1, true, 6)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.installed.size(), 2u);
  EXPECT_TRUE(r.staged.empty());
  EXPECT_EQ(*client_->GetConfig("a"), std::optional<std::string>("a1"));
  EXPECT_EQ(*client_->GetConfig("b"), std::optional<std::string>("b1"));
  EXPECT_EQ(heard, (std::vector<std::string>{"a=a1", "b=b1"}));
  EXPECT_EQ(transport_->CountReports(v1::ReportEvent::KIND_ACTIVATED), 2);
}

// A newer config release does not wait for an older release's page, and
// that page's activation does not bring the older config back.
TEST_F(ClientTest, NewerConfigReplacesTheStagedMemberOfAnOlderRelease) {
  Publish("page 2");
  Serve({Entry(v1::LAYER_CONFIG, "switch", "2", "v2", 2, true, 4),
         Entry(v1::LAYER_H5, "mall", "2", "page 2", 2, false, 4)});
  ASSERT_THAT(client_->Check(), IsOk());
  Serve({Entry(v1::LAYER_CONFIG, "switch", "3", "v3", 3, true, 5)});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("v3"));
  EXPECT_FALSE(client_->Staged(Layer::kConfig, "switch").has_value());
  EXPECT_EQ(ActiveContent(Layer::kH5, "mall"), "page 2");
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("v3"));
}

// Members of one release activated together are pending together: the
// launch guard takes them back together.
TEST_F(ClientTest, ReleaseActivatedByOpeningRollsBackTogether) {
  Serve({Entry(v1::LAYER_CONFIG, "switch", "1", "off", 1, true, 3)});
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  Publish("page 2");
  Serve({Entry(v1::LAYER_CONFIG, "switch", "2", "on", 2, true, 4),
         Entry(v1::LAYER_H5, "mall", "2", "page 2", 2, false, 4)});
  ASSERT_THAT(client_->BeginLaunch(), IsOk());  // this launch stays healthy
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  EXPECT_EQ(ActiveContent(Layer::kH5, "mall"), "page 2");  // later on
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("on"));
  for (int i = 0; i < 3; ++i) CrashingLaunch();
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  ASSERT_EQ(launch.bad_versions.size(), 2u);
  EXPECT_EQ(launch.bad_versions[0].name, "switch");
  EXPECT_EQ(launch.bad_versions[1].name, "mall");
  EXPECT_EQ(*client_->GetConfig("switch"), std::optional<std::string>("off"));
  EXPECT_FALSE(client_->Installed(Layer::kH5, "mall").has_value());
}

// --- launch guard ---

TEST_F(ClientTest, ThreeUnhealthyLaunchesRollBackToLastKnownGood) {
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "good", 1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  Publish("bad patch");
  v1::UpdateEntry bad =
      Entry(v1::LAYER_HOTPATCH, "core", "2", "bad patch", 2, false);
  bad.mutable_statement()->mutable_compatibility()->set_host_build(
      "10.3.0+100");
  Serve({Entry(v1::LAYER_CONFIG, "m", "2", "bad", 2, true), bad});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("bad"));

  CrashingLaunch();  // activates the hotpatch, crashes
  CrashingLaunch();
  CrashingLaunch();
  EXPECT_EQ(client_->Installed(Layer::kHotpatch, "core")->version, "2");
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  EXPECT_EQ(launch.unhealthy_launches, 3);
  EXPECT_EQ(launch.rolled_back.size(), 1u);  // config m (hotpatch: nothing)
  ASSERT_EQ(launch.bad_versions.size(), 2u);
  EXPECT_EQ(launch.bad_versions[0].name, "m");
  EXPECT_EQ(launch.bad_versions[0].version, "2");
  EXPECT_EQ(launch.bad_versions[1].name, "core");
  EXPECT_EQ(launch.bad_versions[1].content_sha256,
            Sha256::HexHash("bad patch"));
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("good"));
  EXPECT_FALSE(client_->Installed(Layer::kHotpatch, "core").has_value());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());

  // Offered again: not re-installed, reported instead.
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.installed.empty());
  EXPECT_TRUE(r.staged.empty());
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("good"));
  EXPECT_GE(transport_->CountReports(v1::ReportEvent::KIND_ROLLED_BACK), 3);
  EXPECT_EQ(transport_->CountReports(v1::ReportEvent::KIND_LAUNCH_CRASH), 3);
}

TEST_F(ClientTest, HealthyLaunchConfirmsTheNewVersion) {
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "one", 1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  Serve({Entry(v1::LAYER_CONFIG, "m", "2", "two", 2, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  for (int i = 0; i < 5; ++i) CrashingLaunch();
  // Crashes after a confirmed version are not blamed on it.
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("two"));
}

// Launch reports name the releases the launch ran, so that the server can
// attribute launches and crashes to releases.
TEST_F(ClientTest, LaunchReportsNameTheActiveReleases) {
  auto hotpatch = [](const std::string& version, const std::string& content,
                     uint64_t seq, uint64_t release) {
    v1::UpdateEntry e = Entry(v1::LAYER_HOTPATCH, "core", version, content, seq,
                              false, release);
    e.mutable_statement()->mutable_compatibility()->set_host_build(
        "10.3.0+100");
    return e;
  };
  Embed("h5", "shipped", "embedded content has no release");
  Publish("page 1");
  Publish("patch 1");
  Publish("patch 2");
  // Release 7 has two modules; "b" comes without a release id.
  Serve({Entry(v1::LAYER_CONFIG, "a", "1", "a1", 1, true, 7),
         Entry(v1::LAYER_H5, "page", "1", "page 1", 1, false, 7),
         Entry(v1::LAYER_CONFIG, "b", "1", "b1", 1, true, 0),
         hotpatch("1", "patch 1", 1, 9)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  ASSERT_THAT(client_->BeginLaunch(), IsOk());  // activates page and core 1
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());

  // Release 11's hotpatch crashes every launch; the guard rolls it back.
  Serve({hotpatch("2", "patch 2", 2, 11)});
  ASSERT_THAT(client_->Check(), IsOk());
  CrashingLaunch();  // activates core 2
  CrashingLaunch();
  CrashingLaunch();
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  ASSERT_EQ(launch.rolled_back.size(), 1u);
  EXPECT_EQ(client_->Installed(Layer::kHotpatch, "core")->version, "1");
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  ASSERT_THAT(client_->FlushReports(), IsOk());

  std::vector<std::string> launches;
  for (const v1::ReportEvent& e : transport_->reports) {
    if (e.kind() != v1::ReportEvent::KIND_LAUNCH_OK &&
        e.kind() != v1::ReportEvent::KIND_LAUNCH_CRASH) {
      EXPECT_EQ(e.release_ids_size(), 0) << e.ShortDebugString();
      continue;
    }
    std::string line =
        e.kind() == v1::ReportEvent::KIND_LAUNCH_OK ? "ok" : "crash";
    for (uint64_t id : e.release_ids()) line += " " + std::to_string(id);
    launches.push_back(line);
  }
  // Distinct ids, ascending; no 0 for "b" or the embedded module. The third
  // crash is reported by the launch that rolls back: it still names 11.
  EXPECT_EQ(launches,
            (std::vector<std::string>{"ok 7 9", "crash 7 11", "crash 7 11",
                                      "crash 7 11", "ok 7 9"}));
}

TEST_F(ClientTest, MarkLaunchHealthyNeedsBeginLaunch) {
  EXPECT_THAT(client_->MarkLaunchHealthy(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("call BeginLaunch()")));
}

TEST_F(ClientTest, ContinuingFailuresResetToEmbeddedAndKeepUserData) {
  Embed("config", "m", "embedded m");
  Embed("h5", "page", "embedded page");
  ASSERT_THAT(
      WriteFileAtomically(fs_, client_->UserDataDir() + "/prefs", "user prefs"),
      IsOk());
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("embedded m"));
  EXPECT_EQ(client_->Installed(Layer::kH5, "page")->version, "embedded");
  // The server learns the embedded versions (a base for deltas).
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_EQ(transport_->last_request.installed_size(), 2);
  EXPECT_EQ(transport_->last_request.installed(0).version(), "embedded");
  EXPECT_EQ(transport_->last_request.installed(1).content_sha256(),
            Sha256::HexHash("embedded page"));

  Publish("page 1");
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "m1", 1, true),
         Entry(v1::LAYER_H5, "page", "1", "page 1", 1, false)});
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  Serve({Entry(v1::LAYER_CONFIG, "m", "2", "m2", 2, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  for (int i = 0; i < 3; ++i) CrashingLaunch();
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  EXPECT_EQ(launch.rolled_back.size(), 1u);
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("m1"));
  Recreate();
  // The rollback did not help: three more, then everything embedded.
  for (int i = 0; i < 2; ++i) CrashingLaunch();
  STRATA_ASSERT_OK_AND_ASSIGN(launch, client_->BeginLaunch());
  EXPECT_TRUE(launch.reset_to_embedded);
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("embedded m"));
  EXPECT_EQ(ActiveContent(Layer::kH5, "page"), "embedded page");
  EXPECT_EQ(Read(client_->UserDataDir() + "/prefs"), "user prefs");
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  // None of the reset versions comes back.
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "m1", 3, true)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.installed.empty());
}

TEST_F(ClientTest, RevertEntryResetsTheModuleToItsEmbeddedVersion) {
  Embed("config", "m", "embedded m");
  Embed("h5", "page", "embedded page");
  Publish("page 1");
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "m1", 1, true, 7),
         Entry(v1::LAYER_H5, "page", "1", "page 1", 1, false, 7)});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(ActiveContent(Layer::kH5, "page"), "page 1");
  // A roll back to the version the app ships with, at a higher counter.
  auto revert = [](v1::Layer layer, const std::string& name) {
    v1::UpdateEntry e = Entry(layer, name, "embedded", "", 2, false, 8);
    e.set_revert_to_embedded(true);
    return e;
  };
  Serve({revert(v1::LAYER_CONFIG, "m"), revert(v1::LAYER_H5, "page")});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_TRUE(r.installed.empty());
  ASSERT_EQ(r.reverted.size(), 2u);
  EXPECT_EQ(r.reverted[0].version, "embedded");
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("embedded m"));
  EXPECT_EQ(ActiveContent(Layer::kH5, "page"), "embedded page");
  ASSERT_THAT(client_->FlushReports(), IsOk());
  int reverted = 0;
  for (const v1::ReportEvent& e : transport_->reports) {
    reverted += e.kind() == v1::ReportEvent::KIND_ACTIVATED &&
                e.release_id() == 8 &&
                e.detail() == "embedded (rolled back from 1)";
  }
  EXPECT_EQ(reverted, 2);
  // The server now sees the embedded versions.
  Serve({});
  ASSERT_THAT(client_->Check(), IsOk());
  for (const v1::InstalledModule& m : transport_->last_request.installed()) {
    EXPECT_EQ(m.version(), "embedded") << m.module().name();
  }
  // Something that is not exactly a revert is refused.
  v1::UpdateEntry odd = revert(v1::LAYER_CONFIG, "m");
  odd.mutable_statement()->set_size(1);
  Serve({odd});
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("zero bytes"));
  // Version "embedded" without the mark is still reserved.
  v1::UpdateEntry unmarked = revert(v1::LAYER_CONFIG, "m");
  unmarked.set_revert_to_embedded(false);
  Serve({unmarked});
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("reserved"));
}

// --- reports ---

TEST_F(ClientTest, ReportsSurviveACrashBeforeTheAck) {
  transport_->report_error = absl::UnimplementedError("no Report yet");
  Serve({Entry(v1::LAYER_CONFIG, "../x", "1", "x", 1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(client_->PendingReports(), 1u);
  Recreate();  // crash: nothing was acknowledged
  EXPECT_EQ(client_->PendingReports(), 1u);
  transport_->report_error = absl::OkStatus();
  STRATA_ASSERT_OK_AND_ASSIGN(size_t sent, client_->FlushReports());
  EXPECT_EQ(sent, 1u);
  ASSERT_EQ(transport_->reports.size(), 1u);
  EXPECT_EQ(transport_->reports[0].reason(), v1::REJECT_UNSAFE_NAME);
  // Acknowledged: never sent again, also not after a restart.
  Recreate();
  transport_->reports.clear();
  EXPECT_EQ(client_->PendingReports(), 0u);
  STRATA_ASSERT_OK_AND_ASSIGN(sent, client_->FlushReports());
  EXPECT_EQ(sent, 0u);
  EXPECT_TRUE(transport_->reports.empty());
}

TEST_F(ClientTest, EventsKeepTheirIdsWhenSentAgain) {
  transport_->lose_acks = 1;
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  EXPECT_THAT(client_->FlushReports(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  Recreate();  // and the app restarts before trying again
  STRATA_ASSERT_OK_AND_ASSIGN(size_t sent, client_->FlushReports());
  EXPECT_EQ(sent, 2u);
  ASSERT_EQ(transport_->report_requests.size(), 2u);
  const v1::ReportRequest& first = transport_->report_requests[0];
  const v1::ReportRequest& again = transport_->report_requests[1];
  ASSERT_EQ(first.events_size(), 2);
  ASSERT_EQ(again.events_size(), 2);
  std::set<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    // 16 random bytes in lowercase hex, the same in both sends.
    EXPECT_EQ(first.events(i).event_id().size(), 32u);
    EXPECT_EQ(first.events(i).event_id().find_first_not_of("0123456789abcdef"),
              std::string::npos);
    EXPECT_EQ(again.events(i).event_id(), first.events(i).event_id());
    ids.insert(first.events(i).event_id());
  }
  EXPECT_EQ(ids.size(), 2u);
}

TEST_F(ClientTest, ThePlanTicketIsKeptAndSentWithEveryReport) {
  transport_->report_error = absl::UnavailableError("offline");
  // Before any Check there is no ticket.
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  transport_->report_error = absl::OkStatus();
  ASSERT_THAT(client_->FlushReports(), IsOk());
  ASSERT_EQ(transport_->report_requests.size(), 1u);
  EXPECT_TRUE(transport_->report_requests[0].ticket().empty());

  transport_->response.mutable_plan()->set_report_ticket(
      std::string("ticket\0one", 10));
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "one", 1, true, 5)});
  ASSERT_THAT(client_->Check(), IsOk());  // reports ACTIVATED with it
  ASSERT_GE(transport_->report_requests.size(), 2u);
  EXPECT_EQ(transport_->report_requests.back().ticket(),
            std::string("ticket\0one", 10));
  // Kept across a restart (in the state file).
  Recreate();
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  ASSERT_THAT(client_->FlushReports(), IsOk());
  EXPECT_EQ(transport_->report_requests.back().ticket(),
            std::string("ticket\0one", 10));
  // The next plan's ticket replaces it; a plan without one keeps it.
  transport_->response.mutable_plan()->set_report_ticket("ticket two");
  ASSERT_THAT(client_->Check(), IsOk());
  transport_->response.mutable_plan()->clear_report_ticket();
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  ASSERT_THAT(client_->FlushReports(), IsOk());
  EXPECT_EQ(transport_->report_requests.back().ticket(), "ticket two");
}

TEST_F(ClientTest, TornReportTailIsCutAndLaterEventsKept) {
  transport_->report_error = absl::UnavailableError("offline");
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());  // one LAUNCH_OK
  {
    auto f = fs_.NewAppendableFile("/sdk/reports/queue");
    ASSERT_THAT(f, IsOk());
    ASSERT_THAT((*f)->Append(std::string("R\x40\0\0\0garbage", 12)), IsOk());
    ASSERT_THAT((*f)->Close(), IsOk());
  }
  Recreate();
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  EXPECT_EQ(client_->PendingReports(), 2u);
}

// --- download ---

TEST_F(ClientTest, CutDownloadResumesFromItsOffset) {
  const std::string big(1000, 'z');
  Publish(big);
  transport_->cuts = 2;
  transport_->cut_after = 300;
  Serve({Entry(v1::LAYER_H5, "p", "1", big, 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(transport_->download_offsets, (std::vector<uint64_t>{0, 300, 600}));
  EXPECT_EQ(ActiveContent(Layer::kH5, "p"), big);
}

TEST_F(ClientTest, PartialDownloadSurvivesARestart) {
  const std::string big(1000, 'q');
  Publish(big);
  transport_->cuts = 10;  // more than the attempts of one check
  transport_->cut_after = 200;
  Serve({Entry(v1::LAYER_H5, "p", "1", big, 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.failures.size(), 1u);
  Recreate();
  transport_->cuts = 0;
  transport_->download_offsets.clear();
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(transport_->download_offsets, (std::vector<uint64_t>{800}));
  EXPECT_EQ(ActiveContent(Layer::kH5, "p"), big);
}

TEST_F(ClientTest, DiskBudgetIsEnforcedBeforeDownloading) {
  disk_budget_ = 500;
  Recreate();
  Publish(std::string(600, 'b'));
  Serve({Entry(v1::LAYER_NATIVE_BUNDLE, "big", "1", std::string(600, 'b'), 1,
               false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_DISK_BUDGET_EXCEEDED);
  EXPECT_THAT(r.failures[0], HasSubstr("disk budget of 500"));
  EXPECT_TRUE(transport_->downloaded.empty());
}

TEST_F(ClientTest, DeltaFromInstalledContentIsPreferred) {
  std::string v1c(20000, 'a'), v2c = v1c;
  for (size_t i = 0; i < v2c.size(); i += 97) v2c[i] = 'b';
  Publish(v1c);
  Serve({Entry(v1::LAYER_H5, "p", "1", v1c, 1, false)});
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->OpenModule(Layer::kH5, "p"), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch, diff::CreatePatch(v1c, v2c));
  Publish(patch);
  Publish(v2c);
  v1::UpdateEntry e = Entry(v1::LAYER_H5, "p", "2", v2c, 2, false);
  v1::DeltaRef* d = e.add_deltas();
  d->set_from_sha256(Sha256::HexHash(v1c));
  d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
  d->mutable_patch()->set_size(patch.size());
  Serve({e});
  transport_->downloaded.clear();
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(transport_->downloaded,
            std::vector<std::string>{Sha256::HexHash(patch)});
  EXPECT_EQ(r.via_delta, 1u);
  EXPECT_EQ(r.via_full_download, 0u);
  EXPECT_EQ(r.bytes_downloaded, patch.size());
  EXPECT_EQ(ActiveContent(Layer::kH5, "p"), v2c);
}

TEST_F(ClientTest, DeltaFromEmbeddedContentWorksToo) {
  std::string base(5000, 'e'), next = base + "tail";
  Embed("hcf", "mod", base);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch, diff::CreatePatch(base, next));
  Publish(patch);
  v1::UpdateEntry e = Entry(v1::LAYER_HCF, "mod", "1", next, 1, false);
  v1::DeltaRef* d = e.add_deltas();
  d->set_from_sha256(Sha256::HexHash(base));
  d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
  d->mutable_patch()->set_size(patch.size());
  Serve({e});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(ActiveContent(Layer::kHcf, "mod"), next);
}

TEST_F(ClientTest, BrokenDeltaFallsBackToTheFullDownloadAndIsReported) {
  std::string v1c(5000, 'a'), v2c(5000, 'c'), other(5000, 'x');
  Publish(v1c);
  Serve({Entry(v1::LAYER_CONFIG, "p", "1", v1c, 1, false)});
  ASSERT_THAT(client_->Check(), IsOk());
  // A patch that produces other bytes than the statement names.
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch, diff::CreatePatch(v1c, other));
  Publish(patch);
  Publish(v2c);
  v1::UpdateEntry e = Entry(v1::LAYER_CONFIG, "p", "2", v2c, 2, false);
  v1::DeltaRef* d = e.add_deltas();
  d->set_from_sha256(Sha256::HexHash(v1c));
  d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
  d->mutable_patch()->set_size(patch.size());
  Serve({e});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(*client_->GetConfig("p"), std::optional<std::string>(v2c));
  EXPECT_EQ(r.via_delta, 0u);  // the patch was fetched, then the full content
  EXPECT_EQ(r.via_full_download, 1u);
  EXPECT_EQ(r.bytes_downloaded, patch.size() + v2c.size());
  bool reported = false;
  for (const auto& ev : transport_->reports) {
    reported |= ev.reason() == v1::REJECT_DELTA_OUTPUT_MISMATCH;
  }
  EXPECT_TRUE(reported);
  // No leftovers: only the state, the active blob and the report queue.
  for (const std::string& f : fs_.AllFiles()) {
    // v1 is kept as the last known good until a healthy launch.
    EXPECT_TRUE(f == "/sdk/state" || f == "/sdk/reports/queue" ||
                f == "/sdk/traffic" ||
                f == "/sdk/blobs/" + Sha256::HexHash(v2c) + ".blob" ||
                f == "/sdk/blobs/" + Sha256::HexHash(v1c) + ".blob")
        << f;
  }
}

// --- config access ---

TEST_F(ClientTest, TypedConfigGettersExplainMissingAndWrongTypes) {
  Serve(
      {Entry(v1::LAYER_CONFIG, "limits", "1",
             "{\"daily\": 5000, \"currency\": \"CNY\", \"on\": true}", 1, true),
       Entry(v1::LAYER_CONFIG, "raw", "1", "not json", 1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(*client_->GetConfigInt("limits", "daily"), 5000);
  EXPECT_EQ(*client_->GetConfigString("limits", "currency"), "CNY");
  EXPECT_EQ(*client_->GetConfigBool("limits", "on"), true);
  EXPECT_THAT(client_->GetConfigInt("limits", "currency"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is string, not integer")));
  EXPECT_THAT(client_->GetConfigInt("limits", "weekly"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("weekly")));
  EXPECT_THAT(client_->GetConfigInt("absent", "x"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      client_->GetConfigString("raw", "x"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("GetConfig()")));
}

TEST_F(ClientTest, ConfigListenersHearChecksAndRollbacks) {
  std::vector<std::string> heard;
  const int id = client_->AddConfigListener(
      [&](const std::string& name, const std::optional<std::string>& c) {
        heard.push_back(name + "=" + c.value_or("<none>"));
        // Listeners may call back into the client.
        EXPECT_TRUE(client_->GetConfig(name).ok());
      });
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "one", 1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->Check(), IsOk());  // nothing changed: not called
  EXPECT_EQ(heard, std::vector<std::string>{"m=one"});
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  Serve({Entry(v1::LAYER_CONFIG, "m", "2", "two", 2, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());  // never marked healthy
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->BeginLaunch(), IsOk());  // the rollback
  EXPECT_EQ(heard, (std::vector<std::string>{"m=one", "m=two", "m=one"}));
  client_->RemoveConfigListener(id);
}

TEST_F(ClientTest, BackgroundSyncChecksUntilStopped) {
  EXPECT_THAT(client_->StartBackgroundSync(absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "one", 1, true)});
  // The simulated clock makes each interval pass at once.
  ASSERT_THAT(client_->StartBackgroundSync(absl::Minutes(15)), IsOk());
  EXPECT_THAT(client_->StartBackgroundSync(absl::Minutes(15)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  while (client_->BackgroundChecks() < 3) std::this_thread::yield();
  client_->StopBackgroundSync();
  const uint64_t checks = client_->BackgroundChecks();
  EXPECT_GE(checks, 3u);
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("one"));
  EXPECT_GE(clock_.Now() - absl::FromUnixSeconds(1'700'000'000),
            absl::Minutes(30));
  EXPECT_EQ(client_->BackgroundChecks(), checks);  // really stopped
}

TEST(ClientOptionsTest, MissingOptionsAreExplained) {
  ClientOptions options;
  EXPECT_THAT(
      Client::Create(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("app_id")));
  options.app_id = "wallet";
  EXPECT_THAT(
      Client::Create(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("device_id")));
  options.device.device_id = "d";
  EXPECT_THAT(
      Client::Create(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("storage_dir")));
}

TEST(ClientOptionsTest, WithoutAPinnedRootNoClientIsCreated) {
  testing::MemFileSystem fs;
  testing::SimulatedClock clock;
  testing::FakeRandom random;
  ClientOptions options;
  options.app_id = "wallet";
  options.device.device_id = "d";
  options.storage_dir = "/sdk";
  options.env = Env{&fs, &clock, &random};
  const auto refused =
      Client::CreateWithTransport(options, std::make_unique<FakeTransport>());
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("pinned_root_json")));
  EXPECT_THAT(refused.status().message(), HasSubstr("strata trust init"));
  EXPECT_THAT(refused.status().message(),
              HasSubstr("insecure_skip_signature_verification_for_tests"));
  EXPECT_FALSE(fs.Stat("/sdk").ok());  // nothing created
  EXPECT_THAT(Client::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("pinned_root_json")));
  // A root that is not a signed root is refused too.
  options.pinned_root_json = "{}";
  EXPECT_FALSE(
      Client::CreateWithTransport(options, std::make_unique<FakeTransport>())
          .ok());
  // The explicit test-only switch works.
  options.pinned_root_json.clear();
  options.insecure_skip_signature_verification_for_tests = true;
  EXPECT_THAT(
      Client::CreateWithTransport(options, std::make_unique<FakeTransport>()),
      IsOk());
  // A metadata URL must be plain http.
  options.metadata_base_url = "ftp://x/v1/tuf/wallet";
  EXPECT_THAT(
      Client::CreateWithTransport(options, std::make_unique<FakeTransport>()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("metadata_base_url")));
}

TEST(LayerNameTest, RoundTrips) {
  for (Layer l : {Layer::kConfig, Layer::kH5, Layer::kHcf, Layer::kHotpatch,
                  Layer::kNativeBundle}) {
    EXPECT_EQ(ParseLayer(LayerName(l)), l);
  }
  EXPECT_EQ(ParseLayer("nope"), std::nullopt);
}

}  // namespace
}  // namespace strata::client
