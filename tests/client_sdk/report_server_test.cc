// The SDK's reports against a real stratad on loopback: the ticket of the
// device's Check makes its launches count for the release it was offered;
// a device that never checked counts for nothing; a batch sent again after
// a lost answer changes nothing. Checked through ReleaseStatus and
// /metrics, as an operator sees them.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server_fixture.h"
#include "strata/base/http_get.h"
#include "strata/base/status_macros.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/client/client.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

class ReportServerTest : public testing::SdkServerTest {
 protected:
  client::ClientOptions Options(const std::string& device) {
    client::ClientOptions o;
    o.server_address = server_.address();
    o.app_id = "wallet";
    o.device.device_id = device;
    o.storage_dir = JoinPath(dir_.path(), device);
    o.insecure_skip_signature_verification_for_tests = true;  // unsigned app
    o.insecure_plaintext_to_loopback_for_tests = true;
    return o;
  }
  std::unique_ptr<client::Client> Device(const std::string& id) {
    absl::StatusOr<std::unique_ptr<client::Client>> c =
        client::Client::Create(Options(id));
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  }
  // A config release rolling at 100% (not completed: the gates still judge
  // it, so reports count for it).
  uint64_t RollingRelease() {
    Publish(v1::LAYER_CONFIG, "flags", "1", "{\"new_ui\":true}");
    admin::AdminClient admin(server_.address(), server_.token(),
                             admin::ChannelSecurity::Plaintext());
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    r.mutable_module()->set_layer(v1::LAYER_CONFIG);
    r.mutable_module()->set_name("flags");
    r.set_version("1");
    v1::RolloutStage* s = r.add_stages();
    s->set_exposure_bp(10000);
    s->set_bake_seconds(3600);
    absl::StatusOr<v1::Release> release = admin.CreateRelease(r);
    EXPECT_THAT(release, IsOk());
    return release.ok() ? release->release_id() : 0;
  }
  v1::CohortHealth Treatment(uint64_t id) {
    admin::AdminClient admin(server_.address(), server_.token(),
                             admin::ChannelSecurity::Plaintext());
    absl::StatusOr<v1::ReleaseStatus> s = admin.GetReleaseStatus("wallet", id);
    EXPECT_THAT(s, IsOk());
    return s.ok() ? s->treatment() : v1::CohortHealth();
  }
  std::string Metrics() {
    absl::StatusOr<HttpResponse> r =
        HttpGet(StrCat("http://127.0.0.1:", server_.http_port(), "/metrics"));
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->body : "";
  }
  // The value of one series in the /metrics text; 0 when absent.
  uint64_t Metric(const std::string& series) {
    const std::string text = Metrics();
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + series.size() + 2));
  }
  static void HealthyLaunch(client::Client& c) {
    ASSERT_THAT(c.BeginLaunch(), IsOk());
    ASSERT_THAT(c.MarkLaunchHealthy(), IsOk());
  }
};

TEST_F(ReportServerTest, TheDevicesReportsCountForTheReleaseItWasOffered) {
  const uint64_t id = RollingRelease();
  std::unique_ptr<client::Client> d1 = Device("d1");
  ASSERT_NE(d1, nullptr);
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, d1->Check());
  ASSERT_EQ(r.installed.size(), 1u);
  for (int i = 0; i < 3; ++i) HealthyLaunch(*d1);
  ASSERT_THAT(d1->FlushReports(), IsOk());
  EXPECT_EQ(d1->PendingReports(), 0u);

  v1::CohortHealth t = Treatment(id);
  EXPECT_EQ(t.activated(), 1u);
  EXPECT_EQ(t.launches_ok(), 1u) << "three launches of one device: one device";
  EXPECT_EQ(Metric("strata_report_repeated_device_events_total"), 2u);
  EXPECT_THAT(Metrics(), Not(HasSubstr("strata_report_not_counted")));

  // A second device counts as a second device.
  std::unique_ptr<client::Client> d2 = Device("d2");
  ASSERT_THAT(d2->Check(), IsOk());
  HealthyLaunch(*d2);
  ASSERT_THAT(d2->FlushReports(), IsOk());
  EXPECT_EQ(Treatment(id).launches_ok(), 2u);
}

TEST_F(ReportServerTest, ADeviceThatNeverCheckedCountsForNothing) {
  const uint64_t id = RollingRelease();
  std::unique_ptr<client::Client> d = Device("never-checked");
  HealthyLaunch(*d);
  HealthyLaunch(*d);
  STRATA_ASSERT_OK_AND_ASSIGN(size_t sent, d->FlushReports());
  EXPECT_EQ(sent, 2u);                         // kept by the server...
  EXPECT_EQ(Treatment(id).launches_ok(), 0u);  // ...but not counted
  EXPECT_EQ(
      Metric("strata_report_not_counted_events_total{reason=\"no_ticket\"}"),
      2u);
}

TEST_F(ReportServerTest, ABatchSentAgainAfterALostAnswerChangesNothing) {
  const uint64_t id = RollingRelease();
  const std::string queue = JoinPath(dir_.path(), "d1/reports/queue");
  {
    std::unique_ptr<client::Client> d = Device("d1");
    ASSERT_THAT(d->Check(), IsOk());
    HealthyLaunch(*d);
    HealthyLaunch(*d);
  }
  // Flushing reaches the server, but the device "loses" the answer: it
  // still has the events (here: the queue file as it was before).
  STRATA_ASSERT_OK_AND_ASSIGN(std::string before,
                              PosixFileSystem()->ReadFile(queue));
  {
    std::unique_ptr<client::Client> d = Device("d1");
    STRATA_ASSERT_OK_AND_ASSIGN(size_t sent, d->FlushReports());
    EXPECT_EQ(sent, 2u);
  }
  const v1::CohortHealth once = Treatment(id);
  ASSERT_EQ(once.launches_ok(), 1u);
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(), queue, before), IsOk());
  {
    std::unique_ptr<client::Client> d = Device("d1");
    EXPECT_EQ(d->PendingReports(), 2u);
    STRATA_ASSERT_OK_AND_ASSIGN(size_t sent, d->FlushReports());
    EXPECT_EQ(sent, 2u);
  }
  EXPECT_EQ(Metric("strata_report_duplicate_events_total"), 2u);
  EXPECT_EQ(Treatment(id).DebugString(), once.DebugString());
}

// Retention on the server's (injected) clock: RunReportPruneNow deletes what
// is older than --report-retention and counts it in /metrics.
TEST(ReportRetentionServerTest, OldReportsArePrunedAndCounted) {
  testing::TempDir dir;
  testing::SimulatedClock clock(absl::Now());
  Env env = Env::Default();
  env.clock = &clock;
  server::ServerOptions options;
  options.data_dir = JoinPath(dir.path(), "server");
  options.listen_address = "127.0.0.1:0";
  options.http_address = "127.0.0.1:0";
  options.gate_interval = absl::ZeroDuration();
  options.report_prune_interval = absl::ZeroDuration();
  options.report_retention = absl::Hours(48);
  options.allow_unsigned_publishes = true;
  const std::string token_file = JoinPath(options.data_dir, "admin.token");
  ASSERT_THAT(server::InitializeDataDir(options.data_dir, token_file), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(auto server,
                              server::StrataServer::Start(options, env));
  {
    // The app exists on this server (reports for an app it does not have
    // are not kept).
    STRATA_ASSERT_OK_AND_ASSIGN(std::string token,
                                PosixFileSystem()->ReadFile(token_file));
    admin::AdminClient admin(StrCat("127.0.0.1:", server->port()),
                             token.substr(0, token.find('\n')),
                             admin::ChannelSecurity::Plaintext());
    v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(v1::LAYER_CONFIG);
    st.mutable_module()->set_name("flags");
    st.set_version("1");
    ASSERT_THAT(admin.Publish(st, "{}", ""), IsOk());
  }
  client::ClientOptions o;
  o.server_address = StrCat("127.0.0.1:", server->port());
  o.app_id = "wallet";
  o.device.device_id = "d1";
  o.storage_dir = JoinPath(dir.path(), "d1");
  o.insecure_skip_signature_verification_for_tests = true;
  o.insecure_plaintext_to_loopback_for_tests = true;
  STRATA_ASSERT_OK_AND_ASSIGN(auto device, client::Client::Create(o));
  ASSERT_THAT(device->BeginLaunch(), IsOk());
  ASSERT_THAT(device->MarkLaunchHealthy(), IsOk());
  ASSERT_THAT(device->FlushReports(), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(uint64_t pruned, server->RunReportPruneNow());
  EXPECT_EQ(pruned, 0u);
  clock.Advance(absl::Hours(49));
  STRATA_ASSERT_OK_AND_ASSIGN(pruned, server->RunReportPruneNow());
  EXPECT_EQ(pruned, 1u);
  absl::StatusOr<HttpResponse> metrics =
      HttpGet(StrCat("http://127.0.0.1:", server->http_port(), "/metrics"));
  ASSERT_THAT(metrics, IsOk());
  EXPECT_THAT(metrics->body, HasSubstr("\nstrata_reports_pruned_total 1\n"));
  EXPECT_THAT(metrics->body,
              HasSubstr("\nstrata_report_events_pruned_total 1\n"));
  server->Shutdown();

  // A horizon not longer than a plan's lifetime is refused.
  options.report_retention = absl::Hours(24);
  EXPECT_THAT(server::StrataServer::Start(options, env),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("--report-retention")));
}

}  // namespace
}  // namespace strata
