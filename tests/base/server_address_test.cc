#include "strata/base/server_address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/status_matchers.h"

namespace strata {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::IsOk;
using ::testing::StartsWith;
using testing::StatusIs;

std::string Target(std::string_view value) {
  absl::StatusOr<ServerAddress> a = ParseServerAddress(value, "--server");
  EXPECT_THAT(a, IsOk()) << value;
  return a.ok() ? a->target : "";
}

TEST(ServerAddressTest, HostAndPortAreKept) {
  EXPECT_EQ(Target("127.0.0.1:7443"), "127.0.0.1:7443");
  EXPECT_EQ(Target("stratad.example.com:9000"), "stratad.example.com:9000");
  EXPECT_EQ(Target("[::1]:7443"), "[::1]:7443");
}

TEST(ServerAddressTest, ABareHostGetsStratadsPortNot443) {
  EXPECT_EQ(Target("localhost"), "localhost:7443");
  EXPECT_EQ(Target("10.0.0.7"), "10.0.0.7:7443");
  EXPECT_EQ(Target("[::1]"), "[::1]:7443");
  EXPECT_EQ(Target("::1"), "[::1]:7443");
  EXPECT_TRUE(ParseServerAddress("localhost", "--server")->note.empty());
}

TEST(ServerAddressTest, GrpcTargetSyntaxPassesThrough) {
  EXPECT_EQ(Target("dns:///stratad.example.com:7443"),
            "dns:///stratad.example.com:7443");
  EXPECT_EQ(Target("unix:/run/stratad.sock"), "unix:/run/stratad.sock");
  EXPECT_EQ(Target("ipv4:127.0.0.1:7443"), "ipv4:127.0.0.1:7443");
}

TEST(ServerAddressTest, AnHttpsUrlIsStrippedWithANote) {
  absl::StatusOr<ServerAddress> a =
      ParseServerAddress("https://stratad.example.com:7443/", "--server");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->target, "stratad.example.com:7443");
  EXPECT_THAT(a->note, HasSubstr("takes host:port, not a URL; using "
                                 "stratad.example.com:7443"));
  // A URL without a port means 443, as URLs do.
  EXPECT_EQ(Target("HTTPS://stratad.example.com"), "stratad.example.com:443");
}

TEST(ServerAddressTest, AnHttpUrlIsRefusedSayingWhatToWrite) {
  EXPECT_THAT(
      ParseServerAddress("http://127.0.0.1:7443", "--server"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("--server 'http://127.0.0.1:7443' is a URL"),
                     HasSubstr("not http://"),
                     HasSubstr("(--server 127.0.0.1:7443)"))));
  EXPECT_THAT(
      ParseServerAddress("grpc://h:1", "--server"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not grpc://")));
}

TEST(ServerAddressTest, WhatCannotBeAnAddressIsRefused) {
  for (std::string_view bad :
       {"", "host:", ":7443", "host:http", "host:0", "host:70000",
        "host:123456", "a b:1", "https://h:1/v1/x", "[::1", "[::1]x"}) {
    EXPECT_THAT(
        ParseServerAddress(bad, "--server"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--server '")))
        << bad;
  }
}

TEST(ServerAddressTest, ConnectFailuresAreWorded) {
  EXPECT_THAT(
      ConnectFailureReason("failed to connect to all addresses; last error: "
                           "UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to "
                           "remote host: Connection refused"),
      StartsWith("connection refused"));
  EXPECT_THAT(ConnectFailureReason(
                  "DNS resolution failed for nohost.invalid:7443: C-ares "
                  "status is not ARES_SUCCESS qtype=A name=nohost.invalid "
                  "is_balancer=0: Domain name not found"),
              HasSubstr("does not resolve"));
  EXPECT_THAT(ConnectFailureReason("... connect: No route to host"),
              HasSubstr("no route"));
  // The server's own UNAVAILABLE answers are not connection failures.
  EXPECT_EQ(ConnectFailureReason("the store is shutting down"), "");
  EXPECT_EQ(UnreachableMessage("h:1", "connection refused", "start it", "raw"),
            "cannot reach stratad at h:1: connection refused; start it "
            "(gRPC: raw)");
}

}  // namespace
}  // namespace strata
