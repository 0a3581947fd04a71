// End to end, in process: a real stratad (gRPC on loopback, RocksDB in a
// temp dir), the admin client publishing and releasing, and the client SDK
// checking, installing and reading the config.
#include "../server/test_util.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/server/storage/store.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "test_server.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::strata::testing::TempDir;

class WalkingSkeletonTest : public ::testing::Test {
 protected:
  void StartServer() {
    server_.Start(JoinPath(dir_.path(), "server"));
    address_ = server_.address();
  }
  admin::AdminClient Admin() {
    return admin::AdminClient(address_, server_.token(),
                              admin::ChannelSecurity::Plaintext());
  }
  std::unique_ptr<client::Client> NewDevice(const std::string& id) {
    client::ClientOptions options;
    options.server_address = address_;
    options.insecure_plaintext_to_loopback_for_tests = true;
    options.app_id = "wallet";
    options.device.device_id = id;
    options.storage_dir = JoinPath(dir_.path(), id);
    // The delivery path on an unsigned server; verification has its own
    // suites (hostile_server_test, client_sdk trust tests).
    options.insecure_skip_signature_verification_for_tests = true;
    auto c = client::Client::Create(options);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  }
  void PublishAndRelease(const std::string& version,
                         const std::string& content) {
    admin::AdminClient admin = Admin();
    v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(v1::LAYER_CONFIG);
    st.mutable_module()->set_name("payment.limits");
    st.set_version(version);
    ASSERT_THAT(admin.Publish(st, content, "key-" + version), IsOk());
    v1::CreateReleaseRequest req;
    req.set_app_id("wallet");
    *req.mutable_module() = st.module();
    req.set_version(version);
    req.set_all_at_once(true);
    ASSERT_THAT(admin.CreateRelease(req), IsOk());
  }

  TempDir dir_;
  testing::TestServer server_;
  std::string address_;
};

TEST_F(WalkingSkeletonTest, PublishReleaseCheckAndRead) {
  StartServer();
  // Start() returns once serving; the bound only guards against a hang.
  ASSERT_THAT(Admin().WaitUntilServing(absl::Seconds(60)), IsOk());
  PublishAndRelease("1", "{\"daily_limit\": 5000}");
  auto device = NewDevice("d1");
  ASSERT_NE(device, nullptr);
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, device->Check());
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_TRUE(r.failures.empty());
  STRATA_ASSERT_OK_AND_ASSIGN(auto value, device->GetConfig("payment.limits"));
  EXPECT_EQ(value, std::optional<std::string>("{\"daily_limit\": 5000}"));

  // A second check has nothing to do.
  STRATA_ASSERT_OK_AND_ASSIGN(r, device->Check());
  EXPECT_TRUE(r.installed.empty());
}

TEST_F(WalkingSkeletonTest, LargeContentIsDownloadedInChunks) {
  StartServer();
  admin::AdminClient admin = Admin();
  std::string big(300 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 131 % 251);
  v1::ArtifactStatement st;
  st.set_app_id("wallet");
  st.mutable_module()->set_layer(v1::LAYER_H5);
  st.mutable_module()->set_name("mall-home");
  st.set_version("1");
  ASSERT_THAT(admin.Publish(st, big, "k"), IsOk());
  v1::CreateReleaseRequest req;
  req.set_app_id("wallet");
  *req.mutable_module() = st.module();
  req.set_version("1");
  req.set_all_at_once(true);
  ASSERT_THAT(admin.CreateRelease(req), IsOk());
  auto device = NewDevice("d2");
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, device->Check());
  ASSERT_EQ(r.installed.size(), 1u) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(r.installed[0].content_sha256, Sha256::HexHash(big));
}

TEST_F(WalkingSkeletonTest, AcknowledgedReleasesSurviveARestart) {
  StartServer();
  PublishAndRelease("1", "{\"v\":1}");
  PublishAndRelease("2", "{\"v\":2}");
  server_.Stop();
  StartServer();
  auto device = NewDevice("d3");
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, device->Check());
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].version, "2");
  EXPECT_EQ(r.installed[0].release_sequence, 2u);
}

TEST_F(WalkingSkeletonTest, DeviceReportsAreAcceptedOverGrpcAndSurviveRestart) {
  StartServer();
  PublishAndRelease("1", "{\"v\":1}");  // the app exists on this server
  auto stub = v1::Delivery::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  v1::ReportRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("d9");
  v1::ReportEvent* e = req.add_events();
  e->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
  e->set_event_id("launch-1");
  v1::ReportResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Report(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 1u);
  server_.Stop();
  auto store = server::Store::Open(JoinPath(dir_.path(), "server/db"));
  ASSERT_THAT(store, IsOk());
  auto reports = (*store)->ListReports("wallet", 10);
  ASSERT_THAT(reports, IsOk());
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ((*reports)[0].device_id(), "d9");
}

TEST_F(WalkingSkeletonTest, ServerErrorsReachTheCaller) {
  StartServer();
  admin::AdminClient admin = Admin();
  v1::CreateReleaseRequest req;
  req.set_app_id("wallet");
  req.mutable_module()->set_layer(v1::LAYER_CONFIG);
  req.mutable_module()->set_name("never-published");
  req.set_version("1");
  req.set_all_at_once(true);
  EXPECT_THAT(admin.CreateRelease(req), StatusIs(absl::StatusCode::kNotFound));
  server_.Stop();
  EXPECT_THAT(admin.WaitUntilServing(absl::Milliseconds(300)),
              StatusIs(absl::StatusCode::kUnavailable));
  auto device = NewDevice("d4");
  EXPECT_THAT(device->Check(), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace strata
