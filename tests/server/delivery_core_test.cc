#include "strata/server/core/delivery_core.h"

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/core/admin_core.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::ConfigHeader;
using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;

class DeliveryCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    admin_ = std::make_unique<AdminCore>(
        store_.get(), &clock_, AdminLimits{.require_signatures = false});
    delivery_ = std::make_unique<DeliveryCore>(
        store_.get(), &clock_, DeliveryOptions{.max_inline_bytes = 16});
    admin_->OnReleasesChanged(
        [this](const std::string& app) { delivery_->ReleasesChanged(app); });
  }
  void PublishAndRelease(const std::string& module, const std::string& version,
                         const std::string& content) {
    ASSERT_THAT(
        admin_->PublishBytes(testing::AdminPrincipal(),
                             ConfigHeader(module, version, content), content),
        IsOk());
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    r.mutable_module()->set_layer(v1::LAYER_CONFIG);
    r.mutable_module()->set_name(module);
    r.set_version(version);
    r.set_all_at_once(true);
    ASSERT_THAT(admin_->CreateRelease(testing::AdminPrincipal(), r), IsOk());
  }
  v1::CheckRequest Request() {
    v1::CheckRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id("d1");
    return req;
  }

  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AdminCore> admin_;
  std::unique_ptr<DeliveryCore> delivery_;
};

TEST_F(DeliveryCoreTest, OffersCurrentReleaseWithInlineSmallConfig) {
  PublishAndRelease("small", "1", "{\"t\":1}");
  PublishAndRelease("large", "1", "{\"a\":\"document over sixteen bytes\"}");
  STRATA_ASSERT_OK_AND_ASSIGN(auto resp, delivery_->Check(Request()));
  ASSERT_EQ(resp.plan().updates_size(), 2);
  std::map<std::string, v1::UpdateEntry> by_name;
  for (const auto& u : resp.plan().updates()) by_name[u.module().name()] = u;
  EXPECT_EQ(by_name["small"].inline_content(), "{\"t\":1}");
  EXPECT_TRUE(by_name["large"].inline_content().empty());
  EXPECT_EQ(by_name["large"].full().sha256(),
            Sha256::HexHash("{\"a\":\"document over sixteen bytes\"}"));
  EXPECT_EQ(resp.plan().issued_at_unix(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_GT(resp.plan().expires_at_unix(), resp.plan().issued_at_unix());
}

TEST_F(DeliveryCoreTest, UpToDateModulesAreNotOffered) {
  PublishAndRelease("m", "1", "{\"v\":1}");
  v1::CheckRequest req = Request();
  auto* installed = req.add_installed();
  installed->mutable_module()->set_layer(v1::LAYER_CONFIG);
  installed->mutable_module()->set_name("m");
  installed->set_content_sha256(Sha256::HexHash("{\"v\":1}"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto resp, delivery_->Check(req));
  EXPECT_EQ(resp.plan().updates_size(), 0);
  PublishAndRelease("m", "2", "{\"v\":2}");
  STRATA_ASSERT_OK_AND_ASSIGN(resp, delivery_->Check(req));
  ASSERT_EQ(resp.plan().updates_size(), 1);
  EXPECT_EQ(resp.plan().updates(0).statement().version(), "2");
  EXPECT_EQ(resp.plan().updates(0).release_sequence(), 2u);
}

TEST_F(DeliveryCoreTest, RefusesRequestsWithoutIdentity) {
  v1::CheckRequest req = Request();
  req.mutable_device()->clear_device_id();
  EXPECT_THAT(delivery_->Check(req),
              StatusIs(absl::StatusCode::kInvalidArgument));
  req = Request();
  req.mutable_device()->set_app_id("bad app");
  EXPECT_THAT(delivery_->Check(req),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST_F(DeliveryCoreTest, ReportsAreKeptInOrderAndBadOnesChangeNothing) {
  v1::ReportRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("d1");
  auto* e = req.add_events();
  e->set_kind(v1::ReportEvent::KIND_LAUNCH_CRASH);
  e->set_release_id(7);
  e = req.add_events();
  e->set_kind(v1::ReportEvent::KIND_REJECTED);
  e->set_reason(v1::REJECT_BAD_SIGNATURE);
  STRATA_ASSERT_OK_AND_ASSIGN(auto resp, delivery_->Report(req));
  EXPECT_EQ(resp.accepted(), 2u);

  v1::ReportRequest bad = req;
  bad.add_events();  // no kind
  EXPECT_THAT(delivery_->Report(bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  bad = req;
  for (int i = 0; i < 1000; ++i)
    bad.add_events()->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
  EXPECT_THAT(delivery_->Report(bad),
              StatusIs(absl::StatusCode::kResourceExhausted));

  STRATA_ASSERT_OK_AND_ASSIGN(auto stored, store_->ListReports("wallet", 100));
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].device_id(), "d1");
  ASSERT_EQ(stored[0].events_size(), 2);
  EXPECT_EQ(stored[0].events(1).reason(), v1::REJECT_BAD_SIGNATURE);
}

}  // namespace
}  // namespace strata::server
