// The device core's launch guard (DeviceCore::BeginLaunch and
// MarkLaunchHealthy) against a real stratad: a bad update is taken back
// after three launches that never became healthy, its content is never
// installed again, the crashes and the rollback reach stratad's health
// counts of the release, and launches that keep failing uninstall
// everything. Each "launch" reopens the device core, as an app start does.
#include <memory>
#include <string>

#include "device_core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/device/c_api.h"
#include "strata/device/device_core.h"

namespace strata {
namespace {

using testing::DeviceCoreTest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class DeviceLaunchTest : public DeviceCoreTest {
 protected:
  device::DeviceCoreOptions Unsigned() {
    device::DeviceCoreOptions o = Options();
    o.insecure_skip_signature_verification_for_tests = true;
    o.host_build = "build-1";  // the hotpatches' build
    return o;
  }
  // An app start: the device core opened again and the launch begun.
  device::LaunchOutcome Launch(std::unique_ptr<device::DeviceCore>& core) {
    core.reset();
    device::LaunchOutcome out;
    const device::Error open = device::DeviceCore::Open(Unsigned(), &core);
    EXPECT_TRUE(open.ok()) << open.message;
    if (!open.ok()) return out;
    const device::Error e = core->BeginLaunch(&out);
    EXPECT_TRUE(e.ok()) << e.message;
    return out;
  }
  std::string Content(device::DeviceCore& core, const std::string& name) {
    for (const device::InstalledModule& m : core.Installed()) {
      if (m.name == name) {
        return PosixFileSystem()->ReadFile(core.ContentPath(m)).value_or("");
      }
    }
    return "(not installed)";
  }
  v1::CohortHealth Treatment(uint64_t release) {
    admin::AdminClient admin(server_.address(), server_.token(),
                             admin::ChannelSecurity::Plaintext());
    absl::StatusOr<v1::ReleaseStatus> s =
        admin.GetReleaseStatus("wallet", release);
    EXPECT_THAT(s, testing::IsOk());
    return s.ok() ? s->treatment() : v1::CohortHealth();
  }
};

TEST_F(DeviceLaunchTest, ABadUpdateIsTakenBackAfterThreeUnhealthyLaunches) {
  ASSERT_NE(Release(v1::LAYER_HOTPATCH, "fix", "1", "fix one", "build-1"), 0u);
  std::unique_ptr<device::DeviceCore> core;
  EXPECT_EQ(Launch(core).unhealthy_launches, 0);
  device::CheckOutcome outcome;
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  ASSERT_TRUE(core->MarkLaunchHealthy().ok());
  // Marked once per launch.
  EXPECT_EQ(core->MarkLaunchHealthy().code, 9);

  // Rolling (live), so stratad's health of the release counts the reports.
  Publish(v1::LAYER_HOTPATCH, "fix", "2", "fix two", "build-1");
  const uint64_t bad =
      CreateRelease(v1::LAYER_HOTPATCH, "fix", "2", /*rolling=*/true);
  ASSERT_NE(bad, 0u);
  // The next start checks while it runs version 1, installs version 2, and
  // becomes healthy: that launch did not run version 2, so it confirms
  // nothing of it (and its LAUNCH_OK is version 1's).
  EXPECT_EQ(Launch(core).unhealthy_launches, 0);
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(core->Installed()[0].release_id, bad);
  ASSERT_TRUE(core->MarkLaunchHealthy().ok());

  // Version 2 crashes every start: launches 1 to 3 never become healthy.
  EXPECT_EQ(Launch(core).unhealthy_launches, 0);  // the first to run it
  EXPECT_EQ(Content(*core, "fix"), "fix two");
  EXPECT_EQ(Launch(core).unhealthy_launches, 1);
  EXPECT_EQ(Launch(core).unhealthy_launches, 2);
  EXPECT_EQ(Content(*core, "fix"), "fix two");
  // The third: back to version 1, whose content every Open kept.
  const device::LaunchOutcome back = Launch(core);
  EXPECT_EQ(back.unhealthy_launches, 3);
  ASSERT_EQ(back.rolled_back.size(), 1u);
  EXPECT_EQ(back.rolled_back[0].version, "1");
  ASSERT_EQ(back.bad_versions.size(), 1u);
  EXPECT_EQ(back.bad_versions[0].version, "2");
  EXPECT_FALSE(back.uninstalled_all);
  EXPECT_EQ(Content(*core, "fix"), "fix one");
  ASSERT_TRUE(core->MarkLaunchHealthy().ok());
  // Stratad counts the crashes and the rollback against release 2 (its
  // health counts devices: this one); the healthy launches ran version 1,
  // so none counts for release 2.
  uint32_t acknowledged = 0;
  ASSERT_TRUE(core->FlushReports(&acknowledged).ok());
  // The healthy end of the launch that installed version 2, 3 crashes,
  // the rollback, the healthy end.
  EXPECT_EQ(acknowledged, 6u);
  const v1::CohortHealth health = Treatment(bad);
  EXPECT_EQ(health.launch_crashes(), 1u);
  EXPECT_EQ(health.rolled_back(), 1u);
  EXPECT_EQ(health.launches_ok(), 0u);

  // Offered again: refused without a download, and said once.
  urls_.clear();
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_THAT(outcome.installed, IsEmpty());
  EXPECT_THAT(outcome.failures,
              ElementsAre(HasSubstr("fix 2: version 2 was rolled back")));
  for (const std::string& url : urls_) {
    EXPECT_THAT(url, ::testing::Not(HasSubstr("/v1/blobs/")));
  }
  EXPECT_EQ(outcome.reports_acknowledged, 1u);
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_EQ(outcome.failures.size(), 1u);
  EXPECT_EQ(outcome.reports_acknowledged, 0u);
  EXPECT_EQ(core->PendingReports(), 0u);

  // Restarted, still version 1 and still refused.
  Launch(core);
  EXPECT_EQ(Content(*core, "fix"), "fix one");
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_THAT(outcome.installed, IsEmpty());
}

TEST_F(DeviceLaunchTest, LaunchesThatKeepFailingUninstallEverything) {
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}"), 0u);
  std::unique_ptr<device::DeviceCore> core;
  Launch(core);
  device::CheckOutcome outcome;
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_TRUE(core->MarkLaunchHealthy().ok());
  // Installed during that launch, flags runs in the next one, healthy:
  // confirmed.
  Launch(core);
  ASSERT_TRUE(core->MarkLaunchHealthy().ok());
  // A first install that crashes: taken back to nothing.
  ASSERT_NE(Release(v1::LAYER_H5, "mall", "1", "<h1>mall</h1>"), 0u);
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  for (int i = 0; i < 3; ++i) Launch(core);
  const device::LaunchOutcome back = Launch(core);
  ASSERT_EQ(back.rolled_back.size(), 1u);
  EXPECT_EQ(back.rolled_back[0].name, "mall");
  EXPECT_EQ(back.rolled_back[0].version, "");  // the app's own content
  EXPECT_EQ(Content(*core, "mall"), "(not installed)");
  EXPECT_EQ(Content(*core, "flags"), "{\"a\":1}");  // confirmed: kept

  // Still crashing: three more unhealthy launches uninstall the rest.
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(Launch(core).uninstalled_all);
  const device::LaunchOutcome reset = Launch(core);
  EXPECT_TRUE(reset.uninstalled_all);
  EXPECT_THAT(core->Installed(), IsEmpty());
  // Nothing is installed again by a check: all of it is banned, in its
  // module (the same bytes as another module install there).
  ASSERT_TRUE(core->MarkLaunchHealthy().ok());
  ASSERT_NE(Release(v1::LAYER_H5, "shop", "1", "<h1>mall</h1>"), 0u);
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].name, "shop");
  EXPECT_EQ(outcome.failures.size(), 2u);

  // The C API's launch guard on the same storage.
  core.reset();
  device::HttpSend send = HostHttp();
  const std::string url = StrCat("http://127.0.0.1:", server_.http_port());
  const std::string storage = Unsigned().storage_dir;
  strata_device_options o = {};
  o.server_url = url.c_str();
  o.app_id = "wallet";
  o.device_id = "phone-core";
  o.storage_dir = storage.c_str();
  o.insecure_skip_signature_verification_for_tests = 1;
  o.http_send = &testing::CHostSend;
  o.http_user_data = &send;
  strata_device* d = strata_device_open(&o);
  ASSERT_NE(d, nullptr) << strata_device_last_error();
  size_t rolled_back = 7;
  EXPECT_EQ(strata_device_begin_launch(d, &rolled_back), 0);
  EXPECT_EQ(rolled_back, 0u);
  EXPECT_EQ(strata_device_mark_launch_healthy(d), 0);
  EXPECT_EQ(strata_device_mark_launch_healthy(d), 9);
  EXPECT_THAT(strata_device_last_error(), HasSubstr("without BeginLaunch"));
  strata_device_close(d);
}

}  // namespace
}  // namespace strata
