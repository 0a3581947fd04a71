// Hostile devices against a real stratad process (gRPC and HTTP on
// loopback): forged reports from device ids that never checked, tickets that
// were forged, altered or lent to another device, reports about a release
// from devices outside its segment or bucket, replayed batches, a flood from
// one device id and LAUNCH_OK stuffing. None of them may halt, pause or
// promote a rolling release, and each must show in a /metrics counter.
//
// The gates run every 50 ms; a test waits for two more passes (counted in
// strata_gate_passes_total) after its attack, so the verdict it checks is
// one the attack could have changed.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "strata/base/http_get.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/v1/admin.grpc.pb.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "strata/v1/storage.pb.h"
#include "stratad_process.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

// A device as the attacker or the honest fleet drives it: its context and
// the latest ticket its checks returned.
struct Device {
  v1::DeviceContext context;
  std::string ticket;
  bool offered = false;  // the last check offered the release
};

class AbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata_abuse_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ASSERT_NO_FATAL_FAILURE(stratad_.Start(dir_, {"--gate-interval", "0.05"}));
    auto channel = grpc::CreateChannel(stratad_.address(),
                                       grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel);
    delivery_ = v1::Delivery::NewStub(channel);
    Publish("1", "cart module v1");
    v1::Segment segment;
    segment.set_app_id("wallet");
    segment.set_name("cn");
    segment.set_expression("region == \"CN\"");
    v1::Segment stored;
    auto ctx = Ctx();
    grpc::Status s = admin_->PutSegment(ctx.get(), segment, &stored);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  void TearDown() override {
    // The idle channel is closed first: nothing in this process polls it,
    // so stratad would wait out its stop grace for it.
    admin_.reset();
    delivery_.reset();
    stratad_.Stop();
    (void)DeleteRecursively(*PosixFileSystem(), dir_);
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + stratad_.token());
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

  // A release of cart v1 to the "cn" segment, 20% then 100%. The stage
  // needs `min_reports` reports and the crash rules `min_launches`
  // launches, so a test chooses whether honest data alone could move it.
  uint64_t CreateStaged(uint64_t min_reports, uint64_t min_launches) {
    v1::CreateReleaseRequest req;
    req.set_app_id("wallet");
    req.mutable_module()->set_layer(v1::LAYER_HCF);
    req.mutable_module()->set_name("cart");
    req.set_version("1");
    req.set_segment("cn");
    for (uint32_t bp : {2000u, 10000u}) {
      v1::RolloutStage* s = req.add_stages();
      s->set_exposure_bp(bp);
      s->set_bake_seconds(0);
      s->set_min_reports(min_reports);
    }
    req.mutable_gates()->set_min_launches(min_launches);
    v1::Release release;
    auto ctx = Ctx();
    grpc::Status s = admin_->CreateRelease(ctx.get(), req, &release);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return release.release_id();
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

  // Runs the gates and expects the release where it was: rolling at its
  // first stage, never promoted, halted or paused.
  void ExpectUnmoved(uint64_t id) {
    ASSERT_TRUE(stratad_.WaitForGatePasses()) << "the gates stopped running";
    const v1::ReleaseStatus s = Status(id);
    EXPECT_EQ(s.release().state(), v1::RELEASE_ROLLING)
        << s.release().state_reason();
    EXPECT_EQ(s.release().stage(), 0);
    for (const v1::AuditEntry& e : s.history()) {
      EXPECT_NE(e.actor(), "stratad") << e.action() << ": " << e.detail();
    }
  }

  static Device MakeDevice(const std::string& id, const std::string& region) {
    Device d;
    d.context.set_app_id("wallet");
    d.context.set_device_id(id);
    d.context.set_user_id("user-" + id);
    d.context.set_region(region);
    return d;
  }

  // The device checks: keeps the ticket and whether cart was offered.
  void Check(Device& d) {
    v1::CheckRequest req;
    *req.mutable_device() = d.context;
    v1::CheckResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = delivery_->Check(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    d.ticket = resp.plan().report_ticket();
    d.offered = !resp.plan().updates().empty();
  }

  // Devices of `region` until `want` of them are offered the release (in
  // treatment) or, with `offered` false, are not.
  std::vector<Device> Fleet(const std::string& prefix,
                            const std::string& region, bool offered, int want) {
    std::vector<Device> out;
    for (int i = 0; static_cast<int>(out.size()) < want && i < 5000; ++i) {
      Device d = MakeDevice(StrCat(prefix, i), region);
      Check(d);
      if (d.offered == offered) out.push_back(d);
    }
    EXPECT_EQ(static_cast<int>(out.size()), want);
    return out;
  }

  static v1::ReportEvent Event(v1::ReportEvent::Kind kind, uint64_t release,
                               const std::string& event_id) {
    v1::ReportEvent e;
    e.set_kind(kind);
    e.set_event_id(event_id);
    e.mutable_module()->set_layer(v1::LAYER_HCF);
    e.mutable_module()->set_name("cart");
    if (kind == v1::ReportEvent::KIND_LAUNCH_OK ||
        kind == v1::ReportEvent::KIND_LAUNCH_CRASH) {
      e.add_release_ids(release);
    } else {
      e.set_release_id(release);
    }
    if (kind == v1::ReportEvent::KIND_REJECTED) {
      e.set_reason(v1::REJECT_CONTENT_HASH_MISMATCH);
    }
    return e;
  }

  // The worst news a device can send about `release`: a crashed launch and
  // a tampered download, with fresh event ids.
  static std::vector<v1::ReportEvent> BadNews(uint64_t release,
                                              const std::string& tag) {
    return {Event(v1::ReportEvent::KIND_LAUNCH_CRASH, release, tag + "-c"),
            Event(v1::ReportEvent::KIND_REJECTED, release, tag + "-r")};
  }

  grpc::Status Report(const v1::DeviceContext& device,
                      const std::string& ticket,
                      const std::vector<v1::ReportEvent>& events,
                      v1::ReportResponse* out) {
    v1::ReportRequest req;
    *req.mutable_device() = device;
    req.set_ticket(ticket);
    for (const v1::ReportEvent& e : events) *req.add_events() = e;
    grpc::ClientContext ctx;
    return delivery_->Report(&ctx, req, out);
  }

  // The value of one /metrics sample (0 when absent), e.g.
  // Metric("strata_report_not_counted_events_total", "reason=\"no_ticket\"").
  double Metric(const std::string& name, const std::string& labels = "") {
    return stratad_.Metric(name, labels);
  }

  std::string dir_;
  testing::StratadProcess stratad_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Delivery::Stub> delivery_;
};

constexpr char kNotCounted[] = "strata_report_not_counted_events_total";

TEST_F(AbuseTest, ReportsFromDeviceIdsThatNeverCheckedCountForNothing) {
  const uint64_t id = CreateStaged(1000, 1000);
  // 300 made-up device ids, no ticket: a crash and a tampered download each.
  for (int i = 0; i < 300; ++i) {
    Device d = MakeDevice(StrCat("ghost-", i), "CN");
    v1::ReportResponse ack;
    grpc::Status s = Report(d.context, "", BadNews(id, StrCat("g", i)), &ack);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(ack.not_counted(), 2u);
  }
  ExpectUnmoved(id);
  const v1::ReleaseStatus s = Status(id);
  EXPECT_EQ(s.treatment().launch_crashes(), 0u);
  EXPECT_EQ(s.treatment().integrity_failures(), 0u);
  EXPECT_EQ(s.control().launch_crashes(), 0u);
  EXPECT_GE(Metric(kNotCounted, "reason=\"no_ticket\""), 600);
}

TEST_F(AbuseTest, ForgedAlteredAndLentTicketsCountForNothing) {
  const uint64_t id = CreateStaged(1000, 1000);
  std::vector<Device> treated = Fleet("honest-", "CN", true, 1);
  ASSERT_EQ(treated.size(), 1u);
  const Device& owner = treated[0];

  // Random bytes as a ticket.
  Device ghost = MakeDevice("ghost", "CN");
  v1::ReportResponse ack;
  ASSERT_TRUE(
      Report(ghost.context, std::string(120, 'x'), BadNews(id, "f"), &ack)
          .ok());
  EXPECT_EQ(ack.not_counted(), 2u);

  // A ticket whose body was rewritten (device id swapped) keeps its MAC.
  v1::SignedReportTicket signed_ticket;
  ASSERT_TRUE(signed_ticket.ParseFromString(owner.ticket));
  v1::ReportTicket body;
  ASSERT_TRUE(body.ParseFromString(signed_ticket.body()));
  EXPECT_EQ(body.device_id(), owner.context.device_id());
  body.set_device_id("ghost");
  signed_ticket.set_body(body.SerializeAsString());
  ASSERT_TRUE(Report(ghost.context, signed_ticket.SerializeAsString(),
                     BadNews(id, "a"), &ack)
                  .ok());
  EXPECT_EQ(ack.not_counted(), 2u);

  // The real device's ticket, presented by another device id.
  ASSERT_TRUE(Report(ghost.context, owner.ticket, BadNews(id, "l"), &ack).ok());
  EXPECT_EQ(ack.not_counted(), 2u);

  ExpectUnmoved(id);
  EXPECT_EQ(Status(id).treatment().launch_crashes(), 0u);
  EXPECT_GE(Metric(kNotCounted, "reason=\"bad_ticket\""), 4);
  EXPECT_GE(Metric(kNotCounted, "reason=\"wrong_device\""), 2);
}

TEST_F(AbuseTest, DevicesOutsideTheSegmentOrBucketCannotSpeakForTheRelease) {
  const uint64_t id = CreateStaged(1000, 1000);
  // Outside the segment (region US) and inside it but outside the 20%
  // bucket: both checked for real and hold genuine tickets of their own.
  std::vector<Device> outsiders = Fleet("us-", "US", false, 30);
  std::vector<Device> unbucketed = Fleet("cn-", "CN", false, 30);
  int n = 0;
  for (const std::vector<Device>* group : {&outsiders, &unbucketed}) {
    for (const Device& d : *group) {
      ASSERT_FALSE(d.ticket.empty());
      v1::ReportResponse ack;
      ASSERT_TRUE(
          Report(d.context, d.ticket, BadNews(id, StrCat("o", n++)), &ack)
              .ok());
      // Control devices may count their launches as control; neither event
      // may count as treatment.
      EXPECT_GE(ack.not_counted(), 1u);
    }
  }
  ExpectUnmoved(id);
  const v1::ReleaseStatus s = Status(id);
  EXPECT_EQ(s.treatment().launch_crashes(), 0u);
  EXPECT_EQ(s.treatment().integrity_failures(), 0u);
  EXPECT_GE(Metric(kNotCounted, "reason=\"not_offered\""), 60);
}

TEST_F(AbuseTest, AReplayedBatchChangesNothing) {
  const uint64_t id = CreateStaged(1000, 1000);
  std::vector<Device> treated = Fleet("honest-", "CN", true, 1);
  ASSERT_EQ(treated.size(), 1u);
  const std::vector<v1::ReportEvent> batch = {
      Event(v1::ReportEvent::KIND_LAUNCH_OK, id, "launch-1")};
  v1::ReportResponse ack;
  ASSERT_TRUE(Report(treated[0].context, treated[0].ticket, batch, &ack).ok());
  EXPECT_EQ(ack.accepted(), 1u);
  EXPECT_EQ(ack.not_counted(), 0u);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        Report(treated[0].context, treated[0].ticket, batch, &ack).ok());
    EXPECT_EQ(ack.accepted(), 0u);
    EXPECT_EQ(ack.duplicates(), 1u);
  }
  ExpectUnmoved(id);
  EXPECT_EQ(Status(id).treatment().launches_ok(), 1u);
  EXPECT_GE(Metric("strata_report_duplicate_events_total"), 50);
}

TEST_F(AbuseTest, AFloodFromOneDeviceIsLimitedAndCountsAsOneDevice) {
  // The crash and integrity rules can judge with this many devices: only
  // counting distinct devices keeps one device from halting the release
  // (1 crashed device of 40 is 2.5%, under the 5% rule; 1 device reporting
  // tampering is under the 3 devices the integrity rule needs).
  const uint64_t id = CreateStaged(1000, 5);
  std::vector<Device> treated = Fleet("honest-", "CN", true, 40);
  ASSERT_EQ(treated.size(), 40u);
  for (size_t i = 1; i < treated.size(); ++i) {
    v1::ReportResponse ack;
    ASSERT_TRUE(Report(treated[i].context, treated[i].ticket,
                       {Event(v1::ReportEvent::KIND_APPLIED, id, "applied"),
                        Event(v1::ReportEvent::KIND_LAUNCH_OK, id, "ok")},
                       &ack)
                    .ok());
    EXPECT_EQ(ack.not_counted(), 0u);
  }
  // One device sends bad news as fast as it can, fresh ids every time.
  const Device& loud = treated[0];
  int refused = 0;
  for (int i = 0; i < 400; ++i) {
    v1::ReportResponse ack;
    grpc::Status s =
        Report(loud.context, loud.ticket, BadNews(id, StrCat("b", i)), &ack);
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_THAT(s.error_message(), HasSubstr("retry"));
    } else {
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GE(Metric("strata_rate_limited_total", "scope=\"device\""), refused);
  ExpectUnmoved(id);
  const v1::ReleaseStatus s = Status(id);
  EXPECT_EQ(s.treatment().launch_crashes(), 1u);
  EXPECT_EQ(s.treatment().launches_ok(), 39u);
  EXPECT_LE(s.treatment().integrity_failures(), 1u);
  // Another device is not limited by the loud one.
  v1::ReportResponse ack;
  EXPECT_TRUE(Report(treated[1].context, treated[1].ticket,
                     {Event(v1::ReportEvent::KIND_ACTIVATED, id, "act")}, &ack)
                  .ok());
  EXPECT_GT(Metric("strata_report_repeated_device_events_total"), 0);
}

TEST_F(AbuseTest, LaunchOkStuffingDoesNotPromote) {
  // The stage needs 20 reports; the attacker has one device in treatment
  // and any number of made-up ones.
  const uint64_t id = CreateStaged(20, 20);
  std::vector<Device> treated = Fleet("honest-", "CN", true, 1);
  ASSERT_EQ(treated.size(), 1u);
  for (int i = 0; i < 50; ++i) {
    v1::ReportResponse ack;
    std::vector<v1::ReportEvent> oks;
    for (int j = 0; j < 5; ++j) {
      oks.push_back(
          Event(v1::ReportEvent::KIND_LAUNCH_OK, id, StrCat("ok-", i, "-", j)));
    }
    grpc::Status s = Report(treated[0].context, treated[0].ticket, oks, &ack);
    ASSERT_TRUE(s.ok() ||
                s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
        << s.error_message();
  }
  for (int i = 0; i < 100; ++i) {
    Device ghost = MakeDevice(StrCat("ghost-", i), "CN");
    v1::ReportResponse ack;
    ASSERT_TRUE(Report(ghost.context, treated[0].ticket,
                       {Event(v1::ReportEvent::KIND_LAUNCH_OK, id, "ok")}, &ack)
                    .ok());
    EXPECT_EQ(ack.not_counted(), 1u);
  }
  ExpectUnmoved(id);
  const v1::ReleaseStatus s = Status(id);
  EXPECT_EQ(s.treatment().launches_ok(), 1u);
  EXPECT_EQ(s.treatment_stage().launches_ok(), 1u);
  EXPECT_GT(Metric("strata_report_repeated_device_events_total"), 0);
  EXPECT_GE(Metric(kNotCounted, "reason=\"wrong_device\""), 100);
}

TEST_F(AbuseTest, HonestDevicesStillMoveTheRelease) {
  // The control for the tests above: with the same server, genuine
  // tickets and enough distinct devices the gates do promote.
  const uint64_t id = CreateStaged(10, 5);
  std::vector<Device> treated = Fleet("honest-", "CN", true, 15);
  for (const Device& d : treated) {
    v1::ReportResponse ack;
    ASSERT_TRUE(Report(d.context, d.ticket,
                       {Event(v1::ReportEvent::KIND_LAUNCH_OK, id, "ok")}, &ack)
                    .ok());
    EXPECT_EQ(ack.accepted(), 1u);
    EXPECT_EQ(ack.not_counted(), 0u);
  }
  ASSERT_TRUE(stratad_.WaitForGatePasses()) << "the gates stopped running";
  EXPECT_EQ(Status(id).release().stage(), 1);
}

}  // namespace
}  // namespace strata
