// A real stratad in this process (loopback, plaintext) holding the root of
// trust of app "wallet": the release engineer's offline keys in a TrustKit
// (tests/server/trust_kit.h) sign root, targets and the layer roles, and
// stratad's online keys sign snapshot, timestamp and director. For tests
// of verifying Clients against it.
#ifndef STRATA_TESTS_CLIENT_SDK_SIGNED_SERVER_FIXTURE_H_
#define STRATA_TESTS_CLIENT_SDK_SIGNED_SERVER_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "../integration/test_server.h"
#include "../server/test_util.h"
#include "../server/trust_kit.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/v1/admin.grpc.pb.h"

namespace strata::testing {

class SignedServerTest : public ::testing::Test {
 protected:
  // Initializes the data directory, starts stratad (unsigned publishes
  // refused) and installs the kit's root of trust (`strata trust init`).
  void SetUp() override {
    data_ = JoinPath(dir_.path(), "server");
    ASSERT_THAT(
        server::InitializeDataDir(data_, JoinPath(data_, "admin.token")),
        IsOk());
    // The kit adds online keys to the data dir before stratad loads them.
    kit_ = std::make_unique<TrustKit>(SystemClock(),
                                      JoinPath(data_, "online-keys"));
    server_.set_allow_unsigned(false);
    server_.Start(data_);
    channel_ = grpc::CreateChannel(server_.address(),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Admin::NewStub(channel_);
    v1::SetTrustRequest init = kit_->Init();
    root_ = init.root();
    grpc::ClientContext c;
    Auth(c);
    v1::SetTrustResponse r;
    const grpc::Status s = stub_->SetTrust(&c, init, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  void TearDown() override { server_.Stop(); }

  void Auth(grpc::ClientContext& c) {
    c.AddMetadata("authorization", "Bearer " + server_.token());
  }

  // The Publish stream `strata publish` sends: `request`'s header, then
  // `content` in one chunk. The gRPC status of the call.
  grpc::Status Upload(const v1::PublishRequest& request,
                      const std::string& content) {
    grpc::ClientContext c;
    Auth(c);
    v1::PublishResponse response;
    auto writer = stub_->Publish(&c, &response);
    if (!writer->Write(request)) return writer->Finish();
    v1::PublishRequest chunk;
    chunk.set_chunk(content);
    (void)writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  TempDir dir_;
  std::string data_;
  std::unique_ptr<TrustKit> kit_;
  TestServer server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> stub_;
  std::string root_;  // the root.json devices pin
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_CLIENT_SDK_SIGNED_SERVER_FIXTURE_H_
