// Staged releases through the real gRPC services of an in-process stratad:
// devices check and report over Delivery, release engineers steer over
// Admin. The health gates run when a test says so (RunGatesNow), so what
// a test counts between two gate passes cannot move under it; one test
// runs them on the server's own gate thread and waits for the end state.
#include <memory>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/v1/admin.grpc.pb.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "test_server.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

constexpr int kDevices = 40;

class ReleaseRpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata_release_rpc_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    server_.set_gate_interval(GateInterval());
    server_.Start(JoinPath(dir_, "data"));
    auto channel = grpc::CreateChannel(server_.address(),
                                       grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel);
    delivery_ = v1::Delivery::NewStub(channel);
  }
  void TearDown() override {
    server_.Stop();
    (void)DeleteRecursively(*PosixFileSystem(), dir_);
  }
  // Zero: no gate thread; the test runs the gates with RunGates().
  virtual absl::Duration GateInterval() const { return absl::ZeroDuration(); }

  // One pass of the health gates; how many releases changed.
  int RunGates() {
    absl::StatusOr<int> changed = server_.get()->RunGatesNow();
    EXPECT_TRUE(changed.ok()) << changed.status();
    return changed.value_or(-1);
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + server_.token());
    return ctx;
  }

  void Publish(const std::string& version, const std::string& content) {
    v1::PublishResponse response;
    auto ctx = Ctx();
    auto writer = admin_->Publish(ctx.get(), &response);
    v1::PublishRequest header;
    v1::ArtifactStatement* st = header.mutable_header()->mutable_statement();
    st->set_app_id("wallet");
    st->mutable_module()->set_layer(v1::LAYER_HCF);
    st->mutable_module()->set_name("cart");
    st->set_version(version);
    st->set_content_sha256(Sha256::HexHash(content));
    st->set_size(content.size());
    ASSERT_TRUE(writer->Write(header));
    v1::PublishRequest chunk;
    chunk.set_chunk(content);
    ASSERT_TRUE(writer->Write(chunk));
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  v1::Release CreateStaged(const std::string& version, uint64_t min_launches) {
    v1::CreateReleaseRequest req;
    req.set_app_id("wallet");
    req.mutable_module()->set_layer(v1::LAYER_HCF);
    req.mutable_module()->set_name("cart");
    req.set_version(version);
    for (uint32_t bp : {5000u, 10000u}) {
      v1::RolloutStage* s = req.add_stages();
      s->set_exposure_bp(bp);
      s->set_bake_seconds(0);
      s->set_min_reports(min_launches);
    }
    req.mutable_gates()->set_min_launches(min_launches);
    v1::Release release;
    auto ctx = Ctx();
    grpc::Status s = admin_->CreateRelease(ctx.get(), req, &release);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return release;
  }

  v1::ReleaseStatus Status(uint64_t id) {
    v1::GetReleaseStatusRequest req;
    req.set_app_id("wallet");
    req.set_release_id(id);
    v1::ReleaseStatus status;
    auto ctx = Ctx();
    grpc::Status s = admin_->GetReleaseStatus(ctx.get(), req, &status);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return status;
  }

  int Promotions(uint64_t id) {
    int promotions = 0;
    const v1::ReleaseStatus status = Status(id);
    for (const v1::AuditEntry& e : status.history()) {
      if (e.action() == "release.auto_promote") {
        ++promotions;
        EXPECT_EQ(e.actor(), "stratad");
        EXPECT_THAT(e.detail(), HasSubstr("rule=bake_complete"));
      }
    }
    return promotions;
  }

  // Device i checks; if it is offered the release it reports a launch that
  // crashed or not.
  bool CheckAndLaunch(int i, bool crash) {
    v1::CheckRequest check;
    check.mutable_device()->set_app_id("wallet");
    check.mutable_device()->set_device_id(StrCat("device-", i));
    v1::CheckResponse plan;
    grpc::ClientContext c1;
    EXPECT_TRUE(delivery_->Check(&c1, check, &plan).ok());
    if (plan.plan().updates().empty()) return false;
    v1::ReportRequest report;
    *report.mutable_device() = check.device();
    report.set_ticket(plan.plan().report_ticket());
    v1::ReportEvent* e = report.add_events();
    e->set_event_id(StrCat("launch-", ++events_));
    e->set_kind(crash ? v1::ReportEvent::KIND_LAUNCH_CRASH
                      : v1::ReportEvent::KIND_LAUNCH_OK);
    e->add_release_ids(plan.plan().updates(0).release_id());
    v1::ReportResponse ack;
    grpc::ClientContext c2;
    EXPECT_TRUE(delivery_->Report(&c2, report, &ack).ok());
    return true;
  }

  std::string dir_;
  int events_ = 0;
  testing::TestServer server_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Delivery::Stub> delivery_;
};

TEST_F(ReleaseRpcTest, GatesPromoteAHealthyReleaseStageByStage) {
  Publish("1", "cart module v1");
  const v1::Release r = CreateStaged("1", 5);
  EXPECT_EQ(r.state(), v1::RELEASE_ROLLING);
  // No gate runs while the fleet checks: the first stage stays at 50%.
  std::set<int> offered;
  for (int i = 0; i < kDevices; ++i) {
    if (CheckAndLaunch(i, false)) offered.insert(i);
  }
  EXPECT_GT(offered.size(), 10u);
  EXPECT_LT(offered.size(), 30u);  // half the fleet at the first stage
  EXPECT_EQ(Status(r.release_id()).release().stage(), 0);

  // The gates promote to 100%; then the rest get it.
  EXPECT_EQ(RunGates(), 1);
  v1::ReleaseStatus s = Status(r.release_id());
  EXPECT_EQ(s.release().state(), v1::RELEASE_ROLLING);
  EXPECT_EQ(s.release().stage(), 1);
  int newly = 0;
  for (int i = 0; i < kDevices; ++i) {
    if (offered.count(i) == 0) newly += CheckAndLaunch(i, false);
  }
  EXPECT_EQ(newly, kDevices - static_cast<int>(offered.size()));

  // Enough reports at 100%: the next pass completes it.
  EXPECT_EQ(RunGates(), 1);
  s = Status(r.release_id());
  EXPECT_EQ(s.release().state(), v1::RELEASE_COMPLETED);
  EXPECT_EQ(Promotions(r.release_id()), 2);
  EXPECT_EQ(RunGates(), 0);  // a completed release is not judged again
}

TEST_F(ReleaseRpcTest, GatesHoldAStageWithoutEnoughReports) {
  Publish("1", "cart module v1");
  const v1::Release r = CreateStaged("1", 1000);
  for (int i = 0; i < kDevices; ++i) CheckAndLaunch(i, false);
  EXPECT_EQ(RunGates(), 0);
  const v1::ReleaseStatus s = Status(r.release_id());
  EXPECT_EQ(s.release().state(), v1::RELEASE_ROLLING);
  EXPECT_EQ(s.release().stage(), 0);
  EXPECT_EQ(Promotions(r.release_id()), 0);
}

TEST_F(ReleaseRpcTest, CrashReportsHaltTheReleaseAndOperatorsRollItBack) {
  Publish("1", "cart module v1");
  Publish("2", "cart module v2 that crashes");
  v1::CreateReleaseRequest first;
  first.set_app_id("wallet");
  first.mutable_module()->set_layer(v1::LAYER_HCF);
  first.mutable_module()->set_name("cart");
  first.set_version("1");
  first.set_all_at_once(true);
  v1::Release v1_release;
  {
    auto ctx = Ctx();
    ASSERT_TRUE(admin_->CreateRelease(ctx.get(), first, &v1_release).ok());
  }
  for (int i = 0; i < kDevices; ++i) CheckAndLaunch(i, false);

  const v1::Release bad = CreateStaged("2", 5);
  int reached = 0;
  for (int i = 0; i < kDevices; ++i) reached += CheckAndLaunch(i, true);
  ASSERT_GT(reached, 5);
  ASSERT_GE(RunGates(), 1);
  const v1::ReleaseStatus halted = Status(bad.release_id());
  ASSERT_EQ(halted.release().state(), v1::RELEASE_HALTED);
  EXPECT_EQ(halted.release().stage(), 0);
  EXPECT_THAT(halted.release().state_reason(), HasSubstr("crash"));

  // Promoting it now is refused (FAILED_PRECONDITION), rolling back works.
  v1::SteerReleaseRequest steer;
  steer.set_app_id("wallet");
  steer.set_release_id(bad.release_id());
  steer.set_action(v1::SteerReleaseRequest::PROMOTE);
  v1::SteerReleaseResponse out;
  {
    auto ctx = Ctx();
    grpc::Status s = admin_->SteerRelease(ctx.get(), steer, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  steer.set_action(v1::SteerReleaseRequest::ROLL_BACK);
  steer.set_reason("crashes on launch");
  {
    auto ctx = Ctx();
    grpc::Status s = admin_->SteerRelease(ctx.get(), steer, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(out.release().state(), v1::RELEASE_ROLLED_BACK);
  EXPECT_EQ(out.rollback().version(), "1");
  EXPECT_GT(out.rollback().release_sequence(), bad.release_sequence());

  // Without a token, steering is refused.
  grpc::ClientContext anonymous;
  EXPECT_EQ(admin_->SteerRelease(&anonymous, steer, &out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// The same promotion on the server's own gate thread (every 50 ms). Devices
// keep checking and reporting until the release completes; whenever the
// thread runs, the end state and its audit trail are the same.
class ReleaseRpcGateThreadTest : public ReleaseRpcTest {
 protected:
  absl::Duration GateInterval() const override {
    return absl::Milliseconds(50);
  }
};

TEST_F(ReleaseRpcGateThreadTest,
       GateThreadPromotesAHealthyReleaseToCompletion) {
  Publish("1", "cart module v1");
  const v1::Release r = CreateStaged("1", 5);
  EXPECT_EQ(r.state(), v1::RELEASE_ROLLING);
  const absl::Time give_up = absl::Now() + absl::Seconds(120);  // hang guard
  while (Status(r.release_id()).release().state() != v1::RELEASE_COMPLETED) {
    ASSERT_LT(absl::Now(), give_up) << "the gate thread never completed it";
    for (int i = 0; i < kDevices; ++i) CheckAndLaunch(i, false);
  }
  EXPECT_EQ(Promotions(r.release_id()), 2);
}

}  // namespace
}  // namespace strata
