// gRPC over TLS when stratad is given a certificate and key: a client that
// trusts the certificate talks to it; a plaintext client cannot.
#include <cstdlib>

#include "../server/test_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;

TEST(TlsTest, ServesTlsWithTheGivenCertificate) {
  testing::TempDir dir;
  const std::string cert = JoinPath(dir.path(), "cert.pem");
  const std::string key = JoinPath(dir.path(), "key.pem");
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 1 "
      "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0)
      << "openssl is needed (./strata.sh deps)";

  server::ServerOptions options;
  options.data_dir = JoinPath(dir.path(), "data");
  options.listen_address = "127.0.0.1:0";
  options.http_address = "";
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  auto server = server::StrataServer::Start(options);
  ASSERT_THAT(server, IsOk());
  // An IP target: no DNS resolver involved (c-ares leaks under LSan).
  const std::string target = "127.0.0.1:" + std::to_string((*server)->port());

  v1::CheckRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("d1");
  {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *PosixFileSystem()->ReadFile(cert);
    auto stub = v1::Delivery::NewStub(
        grpc::CreateChannel(target, grpc::SslCredentials(ssl)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    v1::CheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  {
    auto stub = v1::Delivery::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(2));
    v1::CheckResponse resp;
    EXPECT_FALSE(stub->Check(&ctx, req, &resp).ok());
  }
  (*server)->Shutdown();
}

TEST(TlsTest, HalfATlsConfigurationIsAClearError) {
  testing::TempDir dir;
  server::ServerOptions options;
  options.data_dir = JoinPath(dir.path(), "data");
  options.listen_address = "127.0.0.1:0";
  options.http_address = "";
  options.tls_cert_file = JoinPath(dir.path(), "cert.pem");
  auto server = server::StrataServer::Start(options);
  EXPECT_THAT(server, testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                        ::testing::HasSubstr("--tls-key")));
}

}  // namespace
}  // namespace strata
