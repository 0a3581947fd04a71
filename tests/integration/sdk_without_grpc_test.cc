// The full SDK without its gRPC add-on (issue 18 item 7): this binary links
// strata::client and strata::client_curl, not strata::client_grpc, and
// installs a signed, verified release from a real stratad process over
// HTTP. The admin side (keys, trust, publish, release) runs through the
// `strata` binary, so no gRPC code enters this process.
#include <fstream>
#include <string>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/client/http_client.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The shared libraries mapped into this process whose file name contains
// `name`, one path a line.
std::string Mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string file = path.substr(path.rfind('/') + 1);
    if (file.find(name) != std::string::npos &&
        found.find(path) == std::string::npos) {
      found += path + "\n";
    }
  }
  return found;
}

class SdkWithoutGrpcTest : public CliFixture {
 protected:
  SdkWithoutGrpcTest() { allow_unsigned_ = false; }

  client::ClientOptions Options(const std::string& device) {
    client::ClientOptions o;
    o.app_id = "wallet";
    o.device.device_id = device;
    o.storage_dir = JoinPath(dir_.path(), device);
    return o;
  }
};

TEST_F(SdkWithoutGrpcTest, InstallsAVerifiedReleaseOverHttpWithNoGrpcLinked) {
  // The check below sees shared libraries: libcurl is one (the HTTP stack
  // this test gives the SDK).
  EXPECT_THAT(Mapped("libcurl"), Not(IsEmpty()));
  EXPECT_THAT(Mapped("libgrpc"), IsEmpty());
  EXPECT_THAT(Mapped("libgpr"), IsEmpty());

  const std::string root = InitTrust();
  ASSERT_FALSE(root.empty());
  const std::string file = WriteFile("limits.json", "{\"daily_limit\": 5000}");
  const std::string module =
      "--app wallet --layer config --module payment.limits --version 1";
  CmdResult r = Strata(StrCat("publish ", module, " --file ", file, " --key ",
                              JoinPath(dir_.path(), "keys/publisher-a.key")),
                       /*with_stderr=*/true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Strata("release create " + module + " --all-at-once", true);
  ASSERT_EQ(r.exit_code, 0) << r.out;

  // Asked for gRPC (server_address, no server_url): refused with what to
  // do, before anything is written.
  client::ClientOptions grpc = Options("d0");
  grpc.server_address = server_;
  grpc.pinned_root_json = root;
  absl::StatusOr<std::unique_ptr<client::Client>> refused =
      client::Client::Create(grpc);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("strata::client_grpc"));
  EXPECT_THAT(refused.status().message(), HasSubstr("server_url"));
  EXPECT_FALSE(PosixFileSystem()->Exists(grpc.storage_dir));

  // Over HTTP, with the app's pinned root: verified and installed.
  client::ClientOptions http = Options("d1");
  http.server_url = "http://127.0.0.1:" + http_port_;
  absl::StatusOr<std::unique_ptr<client::HttpClient>> curl =
      client::NewCurlHttpClient();
  ASSERT_THAT(curl, testing::IsOk());
  http.http_client = *std::move(curl);
  http.pinned_root_json = root;
  absl::StatusOr<std::unique_ptr<client::Client>> sdk =
      client::Client::Create(http);
  ASSERT_THAT(sdk, testing::IsOk());
  absl::StatusOr<client::CheckResult> check = (*sdk)->Check();
  ASSERT_THAT(check, testing::IsOk());
  ASSERT_EQ(check->installed.size(), 1u) << r.out;
  EXPECT_EQ(check->installed[0].name, "payment.limits");
  EXPECT_THAT(check->failures, IsEmpty());
  absl::StatusOr<std::optional<std::string>> config =
      (*sdk)->GetConfig("payment.limits");
  ASSERT_THAT(config, testing::IsOk());
  ASSERT_TRUE(config->has_value());
  EXPECT_EQ(**config, "{\"daily_limit\": 5000}");

  // Still no gRPC in the process after a whole check.
  EXPECT_THAT(Mapped("libgrpc"), IsEmpty());
  EXPECT_THAT(Mapped("libgpr"), IsEmpty());
}

}  // namespace
}  // namespace strata
