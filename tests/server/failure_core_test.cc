// Failure signatures through DeliveryCore::Report into FailureCore's
// aggregates, on a real RocksDB store and a real PostgreSQL (started by
// the test, skipped where it cannot run) (docs/remedies.md).
#include "strata/server/core/failure_core.h"

#include "core_world.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/proto/failure_signature.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/delivery_core.h"
#include "strata/server/storage/postgres_store.h"
#include "strata/server/storage/testing/temp_postgres.h"
#include "test_util.h"

namespace strata::testing {
namespace {

using ::testing::HasSubstr;

// On both store backends: the aggregates are read through
// Store::ForEachReport, and the device attributes travel in the stored
// report, so PostgreSQL needs nothing of its own.
class FailureCoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite() { postgres_.reset(); }
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<server::Store>> store;
    if (GetParam() == "postgresql") {
      if (std::string why = TempPostgres::SkipReason(); !why.empty()) {
        GTEST_SKIP() << why;
      }
      if (postgres_ == nullptr) {
        auto pg = TempPostgres::Start();
        ASSERT_THAT(pg, IsOk());
        postgres_ = *std::move(pg);
      }
      server::PostgresStoreOptions options;
      options.schema = postgres_->NewSchema();
      options.orphan_grace = absl::ZeroDuration();
      store = server::OpenPostgresStore(postgres_->Url(), options);
    } else {
      store = server::Store::Open(JoinPath(dir_.path(), "db"));
    }
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    WireCores(store_.get(), &clock_, &admin_, &delivery_);
    // The app exists: something is published.
    const std::string doc = "{}";
    ASSERT_THAT(admin_->PublishBytes(AdminPrincipal(),
                                     ConfigHeader("flags", "1", doc), doc),
                IsOk());
  }

  static std::unique_ptr<TempPostgres> postgres_;
  TempDir dir_;
  SimulatedClock clock_;
  std::unique_ptr<server::Store> store_;
  std::unique_ptr<server::AdminCore> admin_;
  std::unique_ptr<server::DeliveryCore> delivery_;

  static v1::FailureSignature Sig(const std::string& type,
                                  const std::string& frame) {
    v1::FailureSignature s;
    s.set_kind(v1::FailureSignature::KIND_CRASH);
    s.set_exception_type(type);
    *s.add_top_frames() = frame;
    s.mutable_module()->set_layer(v1::LAYER_H5);
    s.mutable_module()->set_name("mall-home");
    s.set_module_version("2");
    EXPECT_THAT(NormalizeFailureSignature(s), IsOk());
    s.set_signature_id(FailureSignatureId(s));
    return s;
  }

  absl::StatusOr<v1::ReportResponse> Report(const std::string& device,
                                            const std::string& os_version,
                                            const std::string& event_id,
                                            const v1::FailureSignature& sig,
                                            uint64_t release_id = 0) {
    v1::ReportRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id(device);
    req.mutable_device()->set_os("android");
    req.mutable_device()->set_os_version(os_version);
    v1::ReportEvent* e = req.add_events();
    e->set_kind(v1::ReportEvent::KIND_FAILURE);
    e->set_event_id(event_id);
    e->set_release_id(release_id);
    *e->mutable_failure() = sig;
    return delivery_->Report(req);
  }

  v1::ListFailuresResponse List(uint64_t release_id = 0) {
    v1::ListFailuresRequest req;
    req.set_app_id("wallet");
    req.set_release_id(release_id);
    absl::StatusOr<v1::ListFailuresResponse> r =
        admin_->failures().List(AdminPrincipal(), req);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : v1::ListFailuresResponse{};
  }
};

TEST_P(FailureCoreTest, SignaturesAggregateAcrossDevicesWithAttributes) {
  const v1::FailureSignature a = Sig("TypeError", "at render (home.js:10)");
  const v1::FailureSignature b = Sig("RangeError", "at pay (pay.js:3)");
  ASSERT_THAT(Report("d1", "13", "e1", a, 4), IsOk());
  ASSERT_THAT(Report("d1", "13", "e2", a, 4), IsOk());
  ASSERT_THAT(Report("d2", "13", "e1", a, 4), IsOk());
  ASSERT_THAT(Report("d3", "14", "e1", a, 0), IsOk());
  ASSERT_THAT(Report("d3", "14", "e2", b, 0), IsOk());
  // A batch sent again is not counted twice.
  ASSERT_THAT(Report("d1", "13", "e1", a, 4), IsOk());

  const v1::ListFailuresResponse list = List();
  ASSERT_EQ(list.failures_size(), 2);
  const v1::FailureInfo& top = list.failures(0);
  EXPECT_EQ(top.signature().signature_id(), a.signature_id());
  EXPECT_EQ(top.count(), 4u);
  EXPECT_EQ(top.devices(), 3u);
  ASSERT_GE(top.releases_size(), 2);
  EXPECT_EQ(top.releases(0).release_id(), 4u);
  EXPECT_EQ(top.releases(0).count(), 3u);
  EXPECT_EQ(top.releases(0).devices(), 2u);
  bool saw_13 = false;
  for (const v1::AttributeCount& c : top.top_attributes()) {
    if (c.name() == "os_version" && c.value() == "13") {
      saw_13 = true;
      EXPECT_EQ(c.devices(), 2u);
    }
  }
  EXPECT_TRUE(saw_13);
  ASSERT_EQ(top.versions_size(), 1);
  EXPECT_EQ(top.versions(0).count(), 4u);
  EXPECT_EQ(list.failures(1).count(), 1u);

  // Per release.
  const v1::ListFailuresResponse rel = List(4);
  ASSERT_EQ(rel.failures_size(), 1);
  EXPECT_EQ(rel.failures(0).count(), 3u);

  v1::GetFailureRequest get;
  get.set_app_id("wallet");
  get.set_signature_id(b.signature_id());
  STRATA_ASSERT_OK_AND_ASSIGN(v1::FailureInfo info,
                              admin_->failures().Get(AdminPrincipal(), get));
  EXPECT_EQ(info.count(), 1u);
  EXPECT_EQ(info.signature().exception_type(), "RangeError");
  ASSERT_EQ(info.windows_size(), 1);
  EXPECT_EQ(info.windows(0).count(), 1u);
}

TEST_P(FailureCoreTest, TheHourlyRateDropsInTheWindowAfterARemedy) {
  const v1::FailureSignature a = Sig("TypeError", "at render");
  auto launch = [&](const std::string& device, const std::string& id) {
    v1::ReportRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id(device);
    v1::ReportEvent* e = req.add_events();
    e->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
    e->set_event_id(id);
    ASSERT_THAT(delivery_->Report(req), IsOk());
  };
  // The first hour: four launches, two hit the failure.
  for (const std::string d : {"d1", "d2", "d3", "d4"}) launch(d, "l1");
  ASSERT_THAT(Report("d1", "13", "f1", a), IsOk());
  ASSERT_THAT(Report("d2", "13", "f1", a), IsOk());
  // The next hour (a remedy applied): four launches, no failure.
  clock_.Advance(absl::Hours(1));
  for (const std::string d : {"d1", "d2", "d3", "d4"}) launch(d, "l2");

  v1::GetFailureRequest get;
  get.set_app_id("wallet");
  get.set_signature_id(a.signature_id());
  STRATA_ASSERT_OK_AND_ASSIGN(v1::FailureInfo info,
                              admin_->failures().Get(AdminPrincipal(), get));
  ASSERT_EQ(info.windows_size(), 2);
  EXPECT_EQ(info.windows(0).count(), 2u);
  EXPECT_EQ(info.windows(0).launches(), 4u);
  EXPECT_EQ(info.windows(1).hour_unix() - info.windows(0).hour_unix(), 3600);
  EXPECT_EQ(info.windows(1).count(), 0u);
  EXPECT_EQ(info.windows(1).launches(), 4u);
}

TEST_P(FailureCoreTest, AMismatchedOrOversizedSignatureIsRefusedAndNotKept) {
  v1::FailureSignature forged = Sig("TypeError", "at x");
  forged.set_signature_id("0123456789abcdef");
  EXPECT_THAT(Report("d1", "13", "e1", forged),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("normalised fields give")));
  v1::FailureSignature big = Sig("TypeError", "at x");
  big.set_exception_type(std::string(200, 'E'));
  EXPECT_THAT(
      Report("d1", "13", "e2", big),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 128")));
  v1::FailureSignature none;
  EXPECT_THAT(Report("d1", "13", "e3", none),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(List().failures_size(), 0);
  STRATA_ASSERT_OK_AND_ASSIGN(auto reports, store_->ListReports("wallet", 10));
  EXPECT_TRUE(reports.empty());
}

TEST_P(FailureCoreTest, RemediesAppliedAreCountedPerRuleAndSignature) {
  const v1::FailureSignature a = Sig("TypeError", "at render");
  ASSERT_THAT(Report("d1", "13", "e1", a), IsOk());
  for (const std::string device : {"d1", "d2"}) {
    v1::ReportRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id(device);
    v1::ReportEvent* e = req.add_events();
    e->set_kind(v1::ReportEvent::KIND_REMEDY_APPLIED);
    e->set_event_id("r1");
    e->set_remedy_id("mall-home-13");
    e->set_detail("disable_module");
    e->mutable_module()->set_layer(v1::LAYER_H5);
    e->mutable_module()->set_name("mall-home");
    e->mutable_failure()->set_signature_id(a.signature_id());
    ASSERT_THAT(delivery_->Report(req), IsOk());
  }
  const v1::ListFailuresResponse list = List();
  ASSERT_EQ(list.remedies_size(), 1);
  EXPECT_EQ(list.remedies(0).remedy_id(), "mall-home-13");
  EXPECT_EQ(list.remedies(0).devices(), 2u);
  ASSERT_EQ(list.failures_size(), 1);
  EXPECT_EQ(list.failures(0).remedied_devices(), 2u);

  // A remedy event with a full signature (or a bad id) is refused.
  v1::ReportRequest bad;
  bad.mutable_device()->set_app_id("wallet");
  bad.mutable_device()->set_device_id("d3");
  v1::ReportEvent* e = bad.add_events();
  e->set_kind(v1::ReportEvent::KIND_REMEDY_APPLIED);
  e->set_event_id("r1");
  e->set_remedy_id("bad id!");
  EXPECT_THAT(delivery_->Report(bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(FailureCoreTest, ViewersOfAnotherAppAreRefused) {
  v1::ListFailuresRequest req;
  req.set_app_id("wallet");
  const server::Principal other{"v", v1::ROLE_VIEWER, "other-app"};
  EXPECT_THAT(admin_->failures().List(other, req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  const server::Principal viewer{"v", v1::ROLE_VIEWER, "wallet"};
  EXPECT_THAT(admin_->failures().List(viewer, req), IsOk());
  v1::GetFailureRequest get;
  get.set_app_id("wallet");
  get.set_signature_id("not-an-id");
  EXPECT_THAT(admin_->failures().Get(viewer, get),
              StatusIs(absl::StatusCode::kInvalidArgument));
  get.set_signature_id("0123456789abcdef");
  EXPECT_THAT(admin_->failures().Get(viewer, get),
              StatusIs(absl::StatusCode::kNotFound));
}

std::unique_ptr<TempPostgres> FailureCoreTest::postgres_;

INSTANTIATE_TEST_SUITE_P(Backends, FailureCoreTest,
                         ::testing::Values("rocksdb", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param;
                         });

TEST(FailureSignatureTest, NormalisationMakesOneIdAcrossDevices) {
  v1::FailureSignature a;
  a.set_kind(v1::FailureSignature::KIND_CRASH);
  a.set_exception_type("  SIGSEGV ");
  *a.add_top_frames() = "#0 0x7f3a11 in  render()";
  *a.add_top_frames() = "   ";
  a.set_host_hash("ABC123");
  v1::FailureSignature b;
  b.set_kind(v1::FailureSignature::KIND_CRASH);
  b.set_exception_type("SIGSEGV");
  *b.add_top_frames() = "#0 0x55aa00ff in render()";
  b.set_host_hash("abc123");
  ASSERT_THAT(NormalizeFailureSignature(a), IsOk());
  ASSERT_THAT(NormalizeFailureSignature(b), IsOk());
  EXPECT_EQ(a.top_frames_size(), 1);
  EXPECT_EQ(a.top_frames(0), "#0 0x? in render()");
  EXPECT_EQ(FailureSignatureId(a), FailureSignatureId(b));
  EXPECT_TRUE(IsFailureSignatureId(FailureSignatureId(a)));
  b.set_exception_type("SIGABRT");
  EXPECT_NE(FailureSignatureId(a), FailureSignatureId(b));
  // The version is not part of the id; the module is.
  a.set_module_version("2");
  b.set_exception_type("SIGSEGV");
  EXPECT_EQ(FailureSignatureId(a), FailureSignatureId(b));
  a.mutable_module()->set_layer(v1::LAYER_H5);
  a.mutable_module()->set_name("x");
  EXPECT_NE(FailureSignatureId(a), FailureSignatureId(b));
  v1::FailureSignature bad_hash = b;
  bad_hash.set_host_hash("not/hex");
  EXPECT_THAT(NormalizeFailureSignature(bad_hash),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace strata::testing
