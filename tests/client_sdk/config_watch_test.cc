// Client::StartConfigWatch over the fake transport's WatchConfig streams
// (a seam we own) and an in-memory file system: pushed entries go through
// the check path's validation, trust and verification, reconnects back off
// up to a cap, and a stop cancels the open stream.
#include <mutex>

#include "fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ConfigWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClientOptions options;
    options.app_id = "wallet";
    options.device.device_id = "d1";
    options.device.host_build = "10.3.0+100";
    options.storage_dir = "/sdk";
    options.embedded_dir = "/app/embedded";
    options.insecure_skip_signature_verification_for_tests =
        true;  // not about trust
    options.env = Env{&fs_, &clock_, &random_};
    auto transport = std::make_unique<FakeTransport>();
    transport->watch = std::make_shared<FakeWatch>(&clock_);
    transport_ = transport.get();
    watch_owner_ = transport->watch;  // outlives the client in every test
    watch_ = watch_owner_.get();
    auto client = Client::CreateWithTransport(options, std::move(transport));
    ASSERT_THAT(client, IsOk());
    client_ = *std::move(client);
    client_->AddConfigListener(
        [this](const std::string& name, const std::optional<std::string>& c) {
          std::lock_guard<std::mutex> lock(mu_);
          heard_.push_back(name + "=" + c.value_or("<none>"));
        });
  }
  void TearDown() override { client_.reset(); }

  void Embed(const std::string& layer, const std::string& name,
             const std::string& content) {
    ASSERT_THAT(CreateDirs(fs_, "/app/embedded/" + layer), IsOk());
    ASSERT_THAT(WriteFileAtomically(fs_, "/app/embedded/" + layer + "/" + name,
                                    content),
                IsOk());
  }
  ConfigWatchOptions Options() {
    ConfigWatchOptions o;
    o.on_push = [this](const ConfigPush& p) {
      std::lock_guard<std::mutex> lock(mu_);
      std::string line = p.name + " " + p.version + " ";
      if (p.installed) {
        line += "installed";
      } else if (p.failure.has_value()) {
        line += "refused " + std::to_string(p.failure->reason);
      } else {
        line += "skipped";
      }
      pushes_.push_back(line);
    };
    return o;
  }
  std::vector<std::string> Heard() {
    std::lock_guard<std::mutex> lock(mu_);
    return heard_;
  }
  std::vector<std::string> Pushes() {
    std::lock_guard<std::mutex> lock(mu_);
    return pushes_;
  }

  testing::MemFileSystem fs_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
  FakeTransport* transport_ = nullptr;
  std::shared_ptr<FakeWatch> watch_owner_;
  FakeWatch* watch_ = nullptr;
  std::unique_ptr<Client> client_;
  std::mutex mu_;
  std::vector<std::string> heard_;
  std::vector<std::string> pushes_;
};

TEST_F(ConfigWatchTest, PushedConfigsAreCheckedLikeAPlanAndActiveAtOnce) {
  Embed("config", "shipped", "{\"embedded\":true}");
  Embed("h5", "page", "<html>shipped</html>");
  transport_->Serve({Entry(v1::LAYER_CONFIG, "flags", "1", "{\"new_ui\":false}",
                           1, true, 3)});
  ASSERT_THAT(client_->Check(), IsOk());
  const std::string big(3000, 'b');  // too big to travel inline
  transport_->blobs[Sha256::HexHash(big)] = big;

  ASSERT_THAT(client_->StartConfigWatch(Options()), IsOk());
  ASSERT_TRUE(watch_->WaitFor(1));
  // The stream is opened with the device and its active CONFIG versions
  // (installed or embedded), not the other layers.
  const v1::WatchConfigRequest request = watch_->requests().at(0);
  EXPECT_EQ(request.device().app_id(), "wallet");
  EXPECT_EQ(request.device().device_id(), "d1");
  ASSERT_EQ(request.installed_size(), 2);
  EXPECT_EQ(request.installed(0).module().name(), "flags");
  EXPECT_EQ(request.installed(0).content_sha256(),
            Sha256::HexHash("{\"new_ui\":false}"));
  EXPECT_EQ(request.installed(0).release_sequence(), 1u);
  EXPECT_EQ(request.installed(1).module().name(), "shipped");
  EXPECT_EQ(request.installed(1).version(), "embedded");

  v1::UpdateEntry tampered =
      Entry(v1::LAYER_CONFIG, "limits", "1", "{\"a\":1}", 1, true);
  tampered.set_inline_content("{\"a\":9}");  // same size, other bytes
  v1::UpdateEntry other_app = Entry(v1::LAYER_CONFIG, "x", "1", "x", 1, true);
  other_app.mutable_statement()->set_app_id("other");
  v1::UpdateEntry hotpatch =
      Entry(v1::LAYER_HOTPATCH, "core", "1", "patch", 1, true);
  hotpatch.mutable_statement()->mutable_compatibility()->set_host_build(
      "10.3.0+100");
  watch_->Push(
      Entry(v1::LAYER_CONFIG, "flags", "2", "{\"new_ui\":true}", 2, true, 4));
  watch_->Push(Entry(v1::LAYER_CONFIG, "big", "1", big, 1, false, 5));
  watch_->Push(tampered);
  watch_->Push(
      Entry(v1::LAYER_CONFIG, "flags", "1", "{\"new_ui\":false}", 1, true, 3));
  watch_->Push(other_app);
  watch_->Push(hotpatch);
  watch_->Push(
      Entry(v1::LAYER_CONFIG, "flags", "2", "{\"new_ui\":true}", 2, true, 4));
  ASSERT_TRUE(watch_->WaitFor(1));
  EXPECT_THAT(
      Pushes(),
      ElementsAre("flags 2 installed", "big 1 installed",
                  "limits 1 refused " +
                      std::to_string(v1::REJECT_CONTENT_HASH_MISMATCH),
                  "flags 1 refused " +
                      std::to_string(v1::REJECT_RELEASE_COUNTER_ROLLBACK),
                  "x 1 refused " + std::to_string(v1::REJECT_WRONG_APP),
                  "core 1 refused " + std::to_string(v1::REJECT_WRONG_LAYER),
                  "flags 2 skipped"));
  // Listeners heard the two installs, on the watch thread, at once.
  EXPECT_THAT(Heard(), ElementsAre("flags={\"new_ui\":false}",
                                   "flags={\"new_ui\":true}", "big=" + big));
  EXPECT_EQ(*client_->GetConfigBool("flags", "new_ui"), true);
  EXPECT_EQ(client_->Installed(Layer::kConfig, "flags")->release_id, 4u);
  EXPECT_EQ(*client_->GetConfig("big"), std::optional<std::string>(big));
  EXPECT_FALSE(client_->Installed(Layer::kConfig, "limits").has_value());
  EXPECT_FALSE(client_->Staged(Layer::kHotpatch, "core").has_value());
  EXPECT_THAT(transport_->downloaded,
              ElementsAre(Sha256::HexHash(big)));  // big only; the rest inline

  client_->StopConfigWatch();
  const ConfigWatchStats stats = client_->ConfigWatchStatus();
  EXPECT_FALSE(stats.running);
  EXPECT_EQ(stats.streams_opened, 1u);
  EXPECT_EQ(stats.pushes, 7u);
  EXPECT_EQ(stats.installed, 2u);
  EXPECT_EQ(stats.failed, 4u);

  // Queued like a check's reports; sent with the next flush.
  transport_->reports.clear();
  ASSERT_THAT(client_->FlushReports(), IsOk());
  std::vector<std::string> reports;
  for (const v1::ReportEvent& e : transport_->reports) {
    reports.push_back(v1::ReportEvent::Kind_Name(e.kind()) + " " +
                      e.module().name() + " " + std::to_string(e.release_id()) +
                      " " + v1::RejectReason_Name(e.reason()));
  }
  EXPECT_THAT(
      reports,
      ElementsAre("KIND_ACTIVATED flags 4 REJECT_REASON_UNSPECIFIED",
                  "KIND_ACTIVATED big 5 REJECT_REASON_UNSPECIFIED",
                  "KIND_APPLY_FAILED limits 0 REJECT_CONTENT_HASH_MISMATCH",
                  "KIND_REJECTED flags 3 REJECT_RELEASE_COUNTER_ROLLBACK",
                  "KIND_REJECTED x 0 REJECT_WRONG_APP",
                  "KIND_REJECTED core 0 REJECT_WRONG_LAYER"));
}

TEST_F(ConfigWatchTest, BrokenStreamsAreReopenedWithCappedBackoff) {
  ConfigWatchOptions o = Options();
  o.initial_backoff = absl::Seconds(1);
  o.max_backoff = absl::Seconds(8);
  watch_->RefuseNext(8);
  ASSERT_THAT(client_->StartConfigWatch(o), IsOk());
  ASSERT_TRUE(watch_->WaitFor(9));  // 8 refused, the 9th stays open
  std::vector<absl::Time> at = watch_->opened_at();
  // Each wait is drawn from [b/2, b]; b doubles up to the cap (simulated
  // clock: the waits are exact).
  const int caps[] = {1, 2, 4, 8, 8, 8, 8, 8};
  for (int i = 0; i < 8; ++i) {
    const absl::Duration wait = at[i + 1] - at[i];
    EXPECT_GE(wait, absl::Seconds(caps[i]) / 2) << i;
    EXPECT_LE(wait, absl::Seconds(caps[i])) << i;
  }
  EXPECT_THAT(client_->ConfigWatchStatus().last_error,
              HasSubstr("connection refused by the test"));

  // A stream that delivered something was healthy: after it breaks, the
  // next attempt waits the initial backoff only, and names what it has now.
  watch_->Push(Entry(v1::LAYER_CONFIG, "flags", "1", "on", 1, true, 9));
  watch_->Break();
  ASSERT_TRUE(watch_->WaitFor(10));
  at = watch_->opened_at();
  EXPECT_GE(at[9] - at[8], absl::Milliseconds(500));
  EXPECT_LE(at[9] - at[8], absl::Seconds(1));
  const v1::WatchConfigRequest again = watch_->requests().at(9);
  ASSERT_EQ(again.installed_size(), 1);
  EXPECT_EQ(again.installed(0).content_sha256(), Sha256::HexHash("on"));
  EXPECT_THAT(client_->ConfigWatchStatus().last_error,
              HasSubstr("broken by the test"));
  EXPECT_EQ(client_->ConfigWatchStatus().streams_opened, 10u);
  EXPECT_THAT(Heard(), ElementsAre("flags=on"));
}

TEST_F(ConfigWatchTest, StopCancelsTheOpenStreamPromptly) {
  ConfigWatchOptions bad;
  bad.initial_backoff = absl::ZeroDuration();
  EXPECT_THAT(client_->StartConfigWatch(bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(client_->StartConfigWatch(), IsOk());
  EXPECT_THAT(client_->StartConfigWatch(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("StopConfigWatch")));
  ASSERT_TRUE(watch_->WaitFor(1));
  ASSERT_TRUE(watch_->WaitUntilOpen());
  EXPECT_TRUE(client_->ConfigWatchStatus().running);
  // The fake stream never ends by itself: StopConfigWatch() returning shows
  // it cancelled the open stream.
  client_->StopConfigWatch();
  EXPECT_FALSE(watch_->open());
  EXPECT_FALSE(client_->ConfigWatchStatus().running);
  client_->StopConfigWatch();  // idempotent

  // It can be started again; destroying the client stops it too.
  ASSERT_THAT(client_->StartConfigWatch(), IsOk());
  ASSERT_TRUE(watch_->WaitFor(2));
  client_.reset();
  EXPECT_FALSE(watch_->open());
}

// A listener may stop the watch from the watch thread itself.
TEST_F(ConfigWatchTest, AListenerMayStopTheWatch) {
  client_->AddConfigListener(
      [this](const std::string&, const std::optional<std::string>&) {
        client_->StopConfigWatch();
      });
  ASSERT_THAT(client_->StartConfigWatch(), IsOk());
  watch_->Push(Entry(v1::LAYER_CONFIG, "flags", "1", "on", 1, true));
  ASSERT_TRUE(watch_->WaitFor(1));
  EXPECT_TRUE(watch_->WaitUntilClosed());
  EXPECT_EQ(*client_->GetConfig("flags"), std::optional<std::string>("on"));
  ASSERT_THAT(client_->StartConfigWatch(), IsOk());  // joins the old thread
  client_->StopConfigWatch();
}

}  // namespace
}  // namespace strata::client
