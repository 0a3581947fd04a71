// The verifying SDK against a real stratad (in this process, on loopback)
// that holds a per-app root of trust: the release engineer's offline keys
// sign root, targets and the h5 role (tests/server/trust_kit.h), stratad
// signs snapshot, timestamp and director with its online keys, and a Client
// with the pinned root installs the release with metadata from the Check
// answer, or over HTTP from stratad's TUF repository; strata-device and
// strata-fleet do the same with --root.
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <cstdio>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signed_server_fixture.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/v1/admin.grpc.pb.h"

namespace strata::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPage[] = "<html>signed by the publisher</html>";

std::string BinDir() {
  const char* dir = std::getenv("STRATA_BIN_DIR");
  return dir != nullptr ? dir : STRATA_TEST_BIN_DIR;
}

struct CmdRun {
  int exit_code = -1;
  std::string out;
};

CmdRun RunCmd(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  CmdRun r;
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class VerifiedServerTest : public SignedServerTest {
 protected:
  void SetUp() override {
    SignedServerTest::SetUp();
    if (HasFatalFailure()) return;
    root_file_ = JoinPath(dir_.path(), "wallet-root.json");
    ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(), root_file_, root_),
                IsOk());
  }

  // `strata publish`: the h5 role re-signed with one more target, then
  // `strata release create --all-at-once`.
  // `delivery`: the target's custom "delivery" (null: none).
  void PublishAndRelease(const std::string& module, const std::string& version,
                         const std::string& content,
                         const Json& delivery = Json()) {
    ++counter_;
    h5_role_.common.version = h5_version_;  // Resign adds one
    signing::TargetFile& target = h5_role_.targets[signing::TargetName(
        signing::Layer::kH5, module, counter_)];
    target =
        kit_->Target(signing::Layer::kH5, module, counter_, version, content);
    if (!delivery.is_null()) target.extra_custom["delivery"] = delivery;
    v1::PublishRequest header;
    v1::PublishHeader* h = header.mutable_header();
    v1::ArtifactStatement* st = h->mutable_statement();
    st->set_app_id("wallet");
    st->mutable_module()->set_layer(v1::LAYER_H5);
    st->mutable_module()->set_name(module);
    st->set_version(version);
    st->set_content_sha256(Sha256::HexHash(content));
    st->set_size(content.size());
    h->set_layer_role(kit_->Resign(h5_role_, {&kit_->pub_a}));
    ++h5_version_;
    const grpc::Status s = Upload(header, content);
    ASSERT_TRUE(s.ok()) << s.error_message();

    admin::AdminClient admin(server_.address(), server_.token(),
                             admin::ChannelSecurity::Plaintext());
    v1::CreateReleaseRequest rr;
    rr.set_app_id("wallet");
    rr.mutable_module()->set_layer(v1::LAYER_H5);
    rr.mutable_module()->set_name(module);
    rr.set_version(version);
    rr.set_all_at_once(true);
    ASSERT_THAT(admin.CreateRelease(rr), IsOk());
  }

  client::ClientOptions Options(const std::string& device) {
    client::ClientOptions o;
    o.server_address = server_.address();
    o.insecure_plaintext_to_loopback_for_tests = true;
    o.app_id = "wallet";
    o.device.device_id = device;
    o.storage_dir = JoinPath(dir_.path(), device);
    o.pinned_root_json = root_;
    return o;
  }

  std::string root_file_;
  signing::TargetsMetadata h5_role_;
  uint64_t h5_version_ = 1;  // EmptyRole() of trust init
  uint64_t counter_ = 0;
};

TEST_F(VerifiedServerTest, APinnedClientInstallsTheSignedReleaseFromCheck) {
  PublishAndRelease("page", "1.0", kPage);
  STRATA_ASSERT_OK_AND_ASSIGN(auto client,
                              client::Client::Create(Options("d1")));
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, client->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].version, "1.0");
  EXPECT_EQ(r.installed[0].release_sequence, 1u);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              client->OpenModule(client::Layer::kH5, "page"));
  EXPECT_EQ(*PosixFileSystem()->ReadFile(path), kPage);
  // The next version: only the newer files come with the answer.
  PublishAndRelease("page", "2.0", "<html>v2</html>");
  STRATA_ASSERT_OK_AND_ASSIGN(r, client->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].version, "2.0");
}

// The on-demand flag the device obeys is the publishers' (the signed
// target's custom "delivery"), not the server's statement, which here
// says nothing.
TEST_F(VerifiedServerTest, SignedOnDemandFlagDefersTheDownloadToTheFirstOpen) {
  Json lazy = Json::MakeObject();
  lazy["on_demand"] = true;
  PublishAndRelease("game", "1.0", kPage, lazy);
  STRATA_ASSERT_OK_AND_ASSIGN(auto client,
                              client::Client::Create(Options("d-lazy")));
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, client->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_TRUE(r.installed.empty());
  EXPECT_EQ(r.bytes_downloaded, 0u);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_TRUE(r.pending[0].on_demand);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              client->OpenModule(client::Layer::kH5, "game"));
  EXPECT_EQ(*PosixFileSystem()->ReadFile(path), kPage);
  EXPECT_EQ(client->Installed(client::Layer::kH5, "game")->version, "1.0");
}

TEST_F(VerifiedServerTest, MetadataOverStratadsHttpRepository) {
  PublishAndRelease("page", "1.0", kPage);
  client::ClientOptions o = Options("d-http");
  o.metadata_base_url =
      StrCat("http://127.0.0.1:", server_.http_port(), "/v1/tuf/wallet");
  STRATA_ASSERT_OK_AND_ASSIGN(auto client, client::Client::Create(o));
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, client->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(r.installed.size(), 1u);
}

TEST_F(VerifiedServerTest, ARootFromAnotherTrustInitVerifiesNothing) {
  PublishAndRelease("page", "1.0", kPage);
  // A root for the same app made with other keys (a different trust init).
  TrustKit other(SystemClock(), JoinPath(dir_.path(), "other-online"));
  other.root_key = SeedKey('z');
  client::ClientOptions o = Options("d-other");
  o.pinned_root_json = other.Init().root();
  STRATA_ASSERT_OK_AND_ASSIGN(auto client, client::Client::Create(o));
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, client->Check());
  EXPECT_TRUE(r.installed.empty());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_BAD_SIGNATURE);
  EXPECT_FALSE(client->Installed(client::Layer::kH5, "page").has_value());
}

TEST_F(VerifiedServerTest, TheToolsPinTheRootTheyAreGiven) {
  PublishAndRelease("page", "1.0", kPage);
  const std::string device =
      StrCat(JoinPath(BinDir(), "strata-device"), " --plaintext --server ",
             server_.address(), " --app wallet --device-id tool-1 --root ",
             root_file_, " --storage-dir ", JoinPath(dir_.path(), "tool-1"));
  CmdRun r = RunCmd(device + " --verify");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("installed h5/page 1.0"));
  const std::string fleet =
      StrCat(JoinPath(BinDir(), "strata-fleet"), " --plaintext --server ",
             server_.address(),
             " --app wallet --devices 2 --rounds 2 --interval-ms 0 --root ",
             root_file_, " --dir ", JoinPath(dir_.path(), "fleet"));
  r = RunCmd(fleet);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("verifying against the pinned root"));
  EXPECT_THAT(r.out, HasSubstr("round 2: 2 devices, 0 crashed launches, 0 "
                               "rollbacks, versions: h5/page=1.0x2"));
}

}  // namespace
}  // namespace strata::testing
