// The SDK's check-and-install path over a fake transport (a seam we own).
#include "strata/client/client.h"

#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "transport.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class FakeTransport : public Transport {
 public:
  v1::CheckResponse response;
  std::map<std::string, std::string> blobs;
  std::string extra_bytes;  // appended to every download (endless data)
  absl::Status check_error;

  absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) override {
    last_request = request;
    if (!check_error.ok()) return check_error;
    return response;
  }
  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    auto it = blobs.find(sha256);
    if (it == blobs.end()) return absl::NotFoundError("no blob");
    std::string data = it->second.substr(offset) + extra_bytes;
    for (size_t off = 0; off < data.size(); off += 4) {
      v1::DownloadChunk chunk;
      chunk.set_offset(offset + off);
      chunk.set_data(data.substr(off, 4));
      STRATA_RETURN_IF_ERROR(sink(chunk));
    }
    return absl::OkStatus();
  }
  v1::CheckRequest last_request;
};

v1::UpdateEntry Entry(v1::Layer layer, const std::string& name,
                      const std::string& version, const std::string& content,
                      uint64_t seq, bool inline_content) {
  v1::UpdateEntry e;
  e.mutable_module()->set_layer(layer);
  e.mutable_module()->set_name(name);
  e.set_release_sequence(seq);
  auto* st = e.mutable_statement();
  st->set_app_id("wallet");
  *st->mutable_module() = e.module();
  st->set_version(version);
  st->set_content_sha256(Sha256::HexHash(content));
  st->set_size(content.size());
  if (inline_content) e.set_inline_content(content);
  return e;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { Recreate(); }
  void Recreate() {
    ClientOptions options;
    options.app_id = "wallet";
    options.device.device_id = "d1";
    options.storage_dir = "/sdk";
    options.env = Env{&fs_, &clock_, &random_};
    auto transport = std::make_unique<FakeTransport>();
    transport_ = transport.get();
    auto client = Client::CreateWithTransport(options, std::move(transport));
    ASSERT_THAT(client, IsOk());
    client_ = *std::move(client);
  }
  void Serve(std::vector<v1::UpdateEntry> entries) {
    transport_->response.mutable_plan()->clear_updates();
    for (auto& e : entries)
      *transport_->response.mutable_plan()->add_updates() = e;
  }

  testing::MemFileSystem fs_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
  FakeTransport* transport_ = nullptr;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, InstallsInlineConfigAndDownloadedPackage) {
  transport_->blobs[Sha256::HexHash("<html>v1</html>")] = "<html>v1</html>";
  Serve({Entry(v1::LAYER_CONFIG, "payment.limits", "1", "{\"a\":1}", 1, true),
         Entry(v1::LAYER_H5, "mall-home", "1", "<html>v1</html>", 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.installed.size(), 2u);
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  STRATA_ASSERT_OK_AND_ASSIGN(auto value, client_->GetConfig("payment.limits"));
  EXPECT_EQ(value, std::optional<std::string>("{\"a\":1}"));
  auto h5 = client_->Installed(Layer::kH5, "mall-home");
  ASSERT_TRUE(h5.has_value());
  EXPECT_EQ(h5->version, "1");

  // The next check reports what is installed, and a new client on the same
  // storage sees it too.
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(transport_->last_request.installed_size(), 2);
  Recreate();
  EXPECT_EQ(client_->AllInstalled().size(), 2u);
}

TEST_F(ClientTest, ReplayedOlderSequenceIsRefusedAndNothingChanges) {
  Serve({Entry(v1::LAYER_CONFIG, "m", "5", "five", 5, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  Serve({Entry(v1::LAYER_CONFIG, "m", "4", "four", 4, true)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("lower than the installed 5"));
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("five"));
}

TEST_F(ClientTest, ContentNotMatchingTheStatementIsRefused) {
  Serve({Entry(v1::LAYER_CONFIG, "m", "1", "good", 1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  v1::UpdateEntry bad = Entry(v1::LAYER_CONFIG, "m", "2", "nice", 2, true);
  bad.set_inline_content("evil");  // same length, other bytes
  Serve({bad});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("hashes to"));
  EXPECT_EQ(*client_->GetConfig("m"), std::optional<std::string>("good"));
}

TEST_F(ClientTest, DownloadLongerThanDeclaredStopsAtTheCap) {
  transport_->blobs[Sha256::HexHash("pkg")] = "pkg";
  transport_->extra_bytes = std::string(1000, 'x');
  Serve({Entry(v1::LAYER_H5, "p", "1", "pkg", 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("more than the 3 bytes"));
  EXPECT_FALSE(client_->Installed(Layer::kH5, "p").has_value());
}

TEST_F(ClientTest, UnsafeNamesAndOtherAppsAreRefused) {
  v1::UpdateEntry escape =
      Entry(v1::LAYER_CONFIG, "../../etc", "1", "x", 1, true);
  v1::UpdateEntry other_app = Entry(v1::LAYER_CONFIG, "m", "1", "x", 1, true);
  other_app.mutable_statement()->set_app_id("other");
  Serve({escape, other_app});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failures.size(), 2u);
  EXPECT_THAT(r.failures[0], HasSubstr("starts with '.'"));
  EXPECT_THAT(r.failures[1], HasSubstr("not 'wallet'"));
  EXPECT_TRUE(client_->AllInstalled().empty());
}

TEST_F(ClientTest, ServerErrorsAreReturned) {
  transport_->check_error = absl::UnavailableError("connection refused");
  EXPECT_THAT(client_->Check(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ClientOptionsTest, MissingOptionsAreExplained) {
  ClientOptions options;
  EXPECT_THAT(
      Client::Create(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("app_id")));
  options.app_id = "wallet";
  EXPECT_THAT(
      Client::Create(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("device_id")));
  options.device.device_id = "d";
  EXPECT_THAT(
      Client::Create(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("storage_dir")));
}

TEST(LayerNameTest, RoundTrips) {
  for (Layer l : {Layer::kConfig, Layer::kH5, Layer::kHcf, Layer::kHotpatch,
                  Layer::kNativeBundle}) {
    EXPECT_EQ(ParseLayer(LayerName(l)), l);
  }
  EXPECT_EQ(ParseLayer("nope"), std::nullopt);
}

}  // namespace
}  // namespace strata::client
