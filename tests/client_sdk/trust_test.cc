// The trust seam: every rejection of the signing library reaches the
// report queue with its number, and the TUF policy over the real Verifier
// installs only what publishers signed and the director assigned.
#include "../signing/test_repo.h"
#include "fake_transport.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/signing/reject_reason.h"
#include "trust_policy.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;

// Rejects every entry with the reason it is told.
class RejectingTrustPolicy : public TrustPolicy {
 public:
  explicit RejectingTrustPolicy(signing::RejectReason* reason)
      : reason_(reason) {}
  absl::Status Refresh(const v1::CheckResponse&) override {
    return absl::OkStatus();
  }
  absl::Status Authorize(const v1::UpdateEntry&) override {
    return signing::Reject(*reason_, absl::StatusCode::kPermissionDenied,
                           "refused by the test");
  }
  absl::Status MarkInstalled(const v1::UpdateEntry&) override {
    return absl::OkStatus();
  }

 private:
  signing::RejectReason* reason_;
};

// Forwards to a source the test keeps.
class ForwardingSource : public signing::MetadataSource {
 public:
  explicit ForwardingSource(signing::MetadataSource* s) : s_(s) {}
  absl::StatusOr<std::string> Fetch(
      const signing::FetchRequest& request) override {
    return s_->Fetch(request);
  }

 private:
  signing::MetadataSource* s_;
};

class TrustTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> NewClient(std::unique_ptr<TrustPolicy> trust) {
    ClientOptions options;
    options.app_id = "wallet";
    options.device.device_id = "device-1";
    options.device.host_build = "10.3.0+100";
    options.storage_dir = "/sdk";
    options.env = Env{&fs_, &clock_, &random_};
    auto transport = std::make_unique<FakeTransport>();
    transport_ = transport.get();
    auto c = Client::CreateWithSeams(options, std::move(transport),
                                     std::move(trust));
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  }
  std::unique_ptr<TrustPolicy> Tuf(signing::testing::TestRepo* repo) {
    TufTrustOptions t;
    t.pinned_root_json = repo->pinned_root();
    t.state_dir = "/sdk/trust";
    t.app_id = "wallet";
    signing::DeviceInfo d = repo->Device();
    t.device.set_device_id(d.device_id);
    t.device.set_user_id(d.user_id);
    t.device.set_app_version(d.app_version);
    t.device.set_host_build(d.host_build);
    t.device.set_runtime_version(d.runtime_version);
    t.device.set_sdk_version(d.sdk_version);
    auto policy =
        NewTufTrustPolicy(Env{&fs_, &clock_, &random_}, t,
                          std::make_unique<ForwardingSource>(&repo->source));
    EXPECT_THAT(policy, IsOk());
    return policy.ok() ? *std::move(policy) : nullptr;
  }

  testing::MemFileSystem fs_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
  FakeTransport* transport_ = nullptr;
};

TEST_F(TrustTest, EveryTrustRejectionReachesTheReportQueueWithItsReason) {
  signing::RejectReason reason = signing::RejectReason::kUnspecified;
  auto client = NewClient(std::make_unique<RejectingTrustPolicy>(&reason));
  size_t count = 0;
  const signing::RejectReason* all = signing::AllRejectReasons(&count);
  int checked = 0;
  for (size_t i = 0; i < count; ++i) {
    if (all[i] == signing::RejectReason::kUnspecified) continue;
    reason = all[i];
    transport_->reports.clear();
    transport_->Serve(
        {Entry(v1::LAYER_CONFIG, "m", "1", "x", 1, /*inline=*/true)});
    STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
    ASSERT_EQ(r.failure_details.size(), 1u);
    EXPECT_EQ(r.failure_details[0].reason, static_cast<int>(reason));
    ASSERT_EQ(transport_->reports.size(), 1u);
    EXPECT_EQ(transport_->reports[0].kind(), v1::ReportEvent::KIND_REJECTED);
    EXPECT_EQ(static_cast<int>(transport_->reports[0].reason()),
              static_cast<int>(reason))
        << signing::RejectReasonName(reason);
    EXPECT_EQ(v1::RejectReason_Name(transport_->reports[0].reason()),
              "REJECT_" + std::string(signing::RejectReasonName(reason)));
    EXPECT_FALSE(client->Installed(Layer::kConfig, "m").has_value());
    ++checked;
  }
  EXPECT_EQ(checked, 29);
}

TEST_F(TrustTest, TufPolicyInstallsOnlyTheSignedAssignedTarget) {
  signing::testing::TestRepo repo(clock_.Now());
  const std::string content = "<html>signed</html>";
  repo.Assign(repo.AddArtifact(signing::Layer::kH5, "page", 1, content));
  repo.Publish();
  auto client = NewClient(Tuf(&repo));
  transport_->blobs[Sha256::HexHash(content)] = content;
  transport_->blobs[Sha256::HexHash("<html>evil</html>")] = "<html>evil</html>";
  // A compromised server offers other content under the same release.
  transport_->Serve(
      {Entry(v1::LAYER_H5, "page", "1", "<html>evil</html>", 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_DIRECTOR_TARGET_MISMATCH);
  EXPECT_TRUE(transport_->downloaded.empty());
  // The signed one installs.
  transport_->Serve({Entry(v1::LAYER_H5, "page", "1", content, 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(r, client->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(r.installed.size(), 1u);
  // A module the director does not assign is refused.
  transport_->Serve({Entry(v1::LAYER_H5, "other", "1", content, 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(r, client->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_UNSIGNED_DIRECTOR_TARGET);
}

TEST_F(TrustTest, ExpiredMetadataRefusesEveryUpdate) {
  signing::testing::TestRepo repo(clock_.Now(), absl::Hours(1));
  repo.Assign(repo.AddArtifact(signing::Layer::kConfig, "m", 1, "x"));
  repo.Publish();
  auto client = NewClient(Tuf(&repo));
  clock_.Advance(absl::Hours(2));  // freeze attack: old metadata replayed
  transport_->Serve({Entry(v1::LAYER_CONFIG, "m", "1", "x", 1, true)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_EXPIRED_METADATA);
}

TEST_F(TrustTest, PinnedRootWithoutServerMetadataFailsClosed) {
  signing::testing::TestRepo repo(clock_.Now());
  ClientOptions options;
  options.app_id = "wallet";
  options.device.device_id = "d";
  options.storage_dir = "/sdk";
  options.pinned_root_json = repo.pinned_root();
  options.env = Env{&fs_, &clock_, &random_};
  auto transport = std::make_unique<FakeTransport>();
  FakeTransport* t = transport.get();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto client, Client::CreateWithTransport(options, std::move(transport)));
  t->Serve({Entry(v1::LAYER_CONFIG, "m", "1", "x", 1, true)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_METADATA_UNAVAILABLE);
  EXPECT_FALSE(client->Installed(Layer::kConfig, "m").has_value());
}

}  // namespace
}  // namespace strata::client
