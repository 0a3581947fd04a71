// WatchConfig: a connected device is pushed config changes as they are
// released, and only what it does not have already.
#include <thread>

#include "../server/test_util.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/sha256.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "test_server.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;

class WatchConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.Start(JoinPath(dir_.path(), "server")); }
  void Release(const std::string& module, const std::string& version,
               const std::string& content) {
    admin::AdminClient admin(server_.address(), server_.token(),
                             admin::ChannelSecurity::Plaintext());
    v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(v1::LAYER_CONFIG);
    st.mutable_module()->set_name(module);
    st.set_version(version);
    ASSERT_THAT(admin.Publish(st, content, ""), IsOk());
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    *r.mutable_module() = st.module();
    r.set_version(version);
    r.set_all_at_once(true);
    ASSERT_THAT(admin.CreateRelease(r), IsOk());
  }
  testing::TempDir dir_;
  testing::TestServer server_;
};

TEST_F(WatchConfigTest, ReleasesArePushedToConnectedDevices) {
  Release("already", "1", "{\"have\":1}");
  auto stub = v1::Delivery::NewStub(grpc::CreateChannel(
      server_.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(120));
  v1::WatchConfigRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("d1");
  auto* have = req.add_installed();
  have->mutable_module()->set_layer(v1::LAYER_CONFIG);
  have->mutable_module()->set_name("already");
  have->set_content_sha256(Sha256::HexHash("{\"have\":1}"));
  auto reader = stub->WatchConfig(&ctx, req);

  std::thread releaser([&] {
    Release("payment.limits", "1", "{\"limit\":1}");
    Release("payment.limits", "2", "{\"limit\":2}");
  });
  // Read until version 2 arrives (whether version 1 came first depends on
  // when the stream's thread woke, so neither count nor order of the
  // earlier events is assumed). The deadline only guards against a hang.
  const std::string last = "payment.limits={\"limit\":2}";
  std::vector<std::string> received;
  v1::ConfigEvent event;
  while ((received.empty() || received.back() != last) &&
         reader->Read(&event)) {
    received.push_back(event.entry().module().name() + "=" +
                       event.entry().inline_content());
  }
  releaser.join();
  ctx.TryCancel();
  (void)reader->Finish();
  // Version 1 may be superseded before it is pushed; version 2 always
  // arrives, and the module the device has is never pushed.
  ASSERT_FALSE(received.empty());
  EXPECT_EQ(received.back(), last);
  EXPECT_LE(received.size(), 2u);
  for (const auto& r : received)
    EXPECT_EQ(r.rfind("already", 0), std::string::npos) << r;
}

TEST_F(WatchConfigTest, ADeviceThatWasAwayGetsTheCurrentConfigOnConnect) {
  Release("flags", "1", "{\"new_ui\":false}");
  Release("flags", "2", "{\"new_ui\":true}");
  auto stub = v1::Delivery::NewStub(grpc::CreateChannel(
      server_.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(120));
  v1::WatchConfigRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("d2");
  auto reader = stub->WatchConfig(&ctx, req);
  v1::ConfigEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.entry().inline_content(), "{\"new_ui\":true}");
  EXPECT_EQ(event.entry().release_sequence(), 2u);
  ctx.TryCancel();
  (void)reader->Finish();
}

// Streams never end by themselves, so stopping ends them first: a stop
// with an hour's grace returns without waiting it out, and the device is
// told to reconnect.
TEST_F(WatchConfigTest, StoppingTheServerEndsStreamsWithUnavailable) {
  Release("flags", "1", "{}");
  auto stub = v1::Delivery::NewStub(grpc::CreateChannel(
      server_.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::WatchConfigRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("d3");
  auto reader = stub->WatchConfig(&ctx, req);
  v1::ConfigEvent event;
  ASSERT_TRUE(reader->Read(&event));  // the stream is open on the server
  server_.get()->Shutdown(absl::Hours(1));
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("reconnect"), std::string::npos)
      << status.error_message();
}

TEST_F(WatchConfigTest, BadRequestsAreRefused) {
  auto stub = v1::Delivery::NewStub(grpc::CreateChannel(
      server_.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::WatchConfigRequest req;
  req.mutable_device()->set_app_id("../etc");
  auto reader = stub->WatchConfig(&ctx, req);
  v1::ConfigEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace strata
