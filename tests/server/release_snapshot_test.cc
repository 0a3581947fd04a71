// Per-app state exists only for apps the server has: Check, WatchConfig's
// core calls and Report naming made-up app ids leave nothing behind.
#include "strata/server/core/release_snapshot.h"

#include "core_world.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/delivery_core.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::AdminPrincipal;
using ::strata::testing::ConfigHeader;
using ::strata::testing::IsOk;

// A WatchConfig sink that counts what it is sent.
struct NullSink : ConfigSink {
  void Send(const v1::ConfigEvent*) override { ++writes; }
  void End(const absl::Status&) override {}
  int writes = 0;
};

class AppCachesTest : public testing::CoreWorldTest {
 protected:
  static v1::DeviceContext Device(const std::string& app,
                                  const std::string& id) {
    v1::DeviceContext d;
    d.set_app_id(app);
    d.set_device_id(id);
    return d;
  }
  void Publish(const std::string& app) {
    v1::PublishHeader h = ConfigHeader("flags", "1", "{}");
    h.mutable_statement()->set_app_id(app);
    ASSERT_THAT(admin_->PublishBytes(AdminPrincipal(), h, "{}"), IsOk());
  }
};

TEST_F(AppCachesTest, MadeUpAppIdsLeaveNoCacheEntries) {
  Publish("wallet");
  for (int i = 0; i < 500; ++i) {
    const std::string app = StrCat("made-up-", i);
    v1::CheckRequest check;
    *check.mutable_device() = Device(app, "d1");
    STRATA_ASSERT_OK_AND_ASSIGN(v1::CheckResponse r, delivery_->Check(check));
    EXPECT_EQ(r.plan().updates_size(), 0);
    EXPECT_EQ(r.plan().app_id(), app);
    EXPECT_GT(r.plan().expires_at_unix(), r.plan().issued_at_unix());
    // What a WatchConfig stream does for its app.
    std::map<std::string, v1::InstalledModule> known;
    STRATA_ASSERT_OK_AND_ASSIGN(
        auto changes, delivery_->ConfigChanges(check.device(), known));
    EXPECT_TRUE(changes.empty());
    {
      // A stream of a made-up app is pushed nothing; its subscription
      // goes with it.
      NullSink sink;
      v1::WatchConfigRequest watch;
      *watch.mutable_device() = check.device();
      std::shared_ptr<ConfigStream> stream =
          delivery_->WatchConfig(watch, &sink);
      EXPECT_EQ(sink.writes, 0);
      EXPECT_EQ(delivery_->config_watch().apps(), 1u);
      stream->Close();
      EXPECT_EQ(delivery_->config_watch().apps(), 0u);
    }
    v1::ReportRequest report;
    *report.mutable_device() = check.device();
    v1::ReportEvent* event = report.add_events();
    event->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
    event->set_event_id(StrCat("launch-", i));
    EXPECT_THAT(delivery_->Report(report), IsOk());
  }
  EXPECT_EQ(delivery_->snapshots().cached(), 0u);
  EXPECT_EQ(delivery_->snapshots().known(), 0u);
  EXPECT_EQ(admin_->fleet()->apps(), 0u);
  EXPECT_EQ(admin_->fleet()->devices(), 0u);
}

TEST_F(AppCachesTest, AnAppWithOnlyAnArtifactExistsAndIsRemembered) {
  EXPECT_FALSE(delivery_->AppExists("wallet"));
  Publish("wallet");  // no release yet: devices are still remembered
  EXPECT_TRUE(delivery_->AppExists("wallet"));
  v1::CheckRequest check;
  *check.mutable_device() = Device("wallet", "d1");
  ASSERT_THAT(delivery_->Check(check), IsOk());
  EXPECT_EQ(admin_->fleet()->apps(), 1u);
  EXPECT_TRUE(admin_->fleet()->LastSeen("wallet", "d1").has_value());
  EXPECT_EQ(delivery_->snapshots().cached(), 1u);
  EXPECT_EQ(delivery_->snapshots().known(), 1u);
}

TEST_F(AppCachesTest, AnAppWithOnlyASegmentExists) {
  v1::Segment s;
  s.set_app_id("shop");
  s.set_name("android");
  s.set_expression("os == \"android\"");
  ASSERT_THAT(admin_->PutSegment(AdminPrincipal(), s), IsOk());
  EXPECT_TRUE(delivery_->AppExists("shop"));
  EXPECT_FALSE(delivery_->AppExists("shop2"));
}

TEST_F(AppCachesTest, TheFirstReleaseOfANewAppReachesDevicesThatCheckedBefore) {
  v1::CheckRequest check;
  *check.mutable_device() = Device("wallet", "d1");
  STRATA_ASSERT_OK_AND_ASSIGN(v1::CheckResponse before,
                              delivery_->Check(check));
  EXPECT_EQ(before.plan().updates_size(), 0);
  Publish("wallet");
  v1::CreateReleaseRequest r;
  r.set_app_id("wallet");
  r.mutable_module()->set_layer(v1::LAYER_CONFIG);
  r.mutable_module()->set_name("flags");
  r.set_version("1");
  r.set_all_at_once(true);
  ASSERT_THAT(admin_->CreateRelease(AdminPrincipal(), r), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(v1::CheckResponse after, delivery_->Check(check));
  EXPECT_EQ(after.plan().updates_size(), 1);
}

}  // namespace
}  // namespace strata::server
