// Limits against abuse, against a real stratad process started with the
// limit flags: the delta queue under made-up hashes, made-up app ids, a
// Report flood from one device or one connection, and WatchConfig streams
// beyond the per-device and server-wide maximums. What the server holds is
// read from its /metrics page.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../server/test_util.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/base/http_get.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "stratad_process.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;

// A stratad process on loopback ports with the given extra flags.
class LimitsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"--gate-interval", "0"});
    ASSERT_NO_FATAL_FAILURE(stratad_.Start(dir_.path(), flags));
    token_ = stratad_.token();
    address_ = stratad_.address();
    channel_ =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    stub_ = v1::Delivery::NewStub(channel_);
  }
  void TearDown() override {
    // This process's idle channel is closed first: nothing here polls it,
    // so stratad would wait out its stop grace for it.
    stub_.reset();
    channel_.reset();
    stratad_.Stop();
  }

  // The value of one series on /metrics (0 when absent).
  int64_t Metric(const std::string& series) {
    return static_cast<int64_t>(stratad_.Series(series));
  }
  // Waits (polling /metrics, at most 10 s) until `series` equals `want`.
  bool WaitForMetric(const std::string& series, int64_t want) {
    return stratad_.WaitForMetric(series, static_cast<double>(want));
  }

  void PublishAndRelease(v1::Layer layer, const std::string& module,
                         const std::string& version,
                         const std::string& content) {
    admin::AdminClient admin(address_, token_,
                             admin::ChannelSecurity::Plaintext());
    v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(layer);
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

  static v1::DeviceContext Device(const std::string& app,
                                  const std::string& id) {
    v1::DeviceContext d;
    d.set_app_id(app);
    d.set_device_id(id);
    return d;
  }
  grpc::Status Report(v1::Delivery::Stub& stub, const v1::DeviceContext& d) {
    v1::ReportRequest req;
    *req.mutable_device() = d;
    v1::ReportEvent* e = req.add_events();
    e->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
    e->set_event_id(StrCat("ev-", ++next_event_));
    v1::ReportResponse resp;
    grpc::ClientContext ctx;
    return stub.Report(&ctx, req, &resp);
  }

  int next_event_ = 0;

  // An open WatchConfig stream.
  struct Watch {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::ConfigEvent>> reader;
    void Close() {
      ctx->TryCancel();
      (void)reader->Finish();
    }
  };
  Watch OpenWatch(const std::string& device_id) {
    Watch w;
    w.ctx = std::make_unique<grpc::ClientContext>();
    w.ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
    v1::WatchConfigRequest req;
    *req.mutable_device() = Device("wallet", device_id);
    w.reader = stub_->WatchConfig(w.ctx.get(), req);
    return w;
  }

  testing::TempDir dir_;
  testing::StratadProcess stratad_;
  std::string token_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Delivery::Stub> stub_;
};

TEST_F(LimitsTest, MadeUpBaseHashesNeitherQueueNorComputeDeltas) {
  Start({"--max-delta-queue", "4"});
  const std::string content(64 * 1024, 'h');  // big enough for deltas
  PublishAndRelease(v1::LAYER_H5, "mall-home", "1", content);
  constexpr int kChecks = 300;
  for (int i = 0; i < kChecks; ++i) {
    v1::CheckRequest req;
    *req.mutable_device() = Device("wallet", StrCat("d", i % 7));
    v1::InstalledModule* m = req.add_installed();
    m->mutable_module()->set_layer(v1::LAYER_H5);
    m->mutable_module()->set_name("mall-home");
    m->set_content_sha256(Sha256::HexHash(StrCat("never published ", i)));
    v1::CheckResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Check(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.plan().updates_size(), 1);  // the full download
    EXPECT_EQ(resp.plan().updates(0).deltas_size(), 0);
  }
  EXPECT_EQ(Metric("strata_delta_requests_dropped_total{reason=\"unknown_"
                   "from\"}"),
            kChecks);
  EXPECT_EQ(Metric("strata_delta_queue_length"), 0);
  EXPECT_EQ(Metric("strata_deltas_computed_total"), 0);
}

TEST_F(LimitsTest, MadeUpAppIdsDoNotGrowCaches) {
  Start({});
  PublishAndRelease(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}");
  {
    v1::CheckRequest req;
    *req.mutable_device() = Device("wallet", "real-device");
    v1::CheckResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Check(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.plan().updates_size(), 1);
  }
  const std::string snapshots =
      "strata_cache_entries{cache=\"release_snapshots\"}";
  const std::string known = "strata_cache_entries{cache=\"known_apps\"}";
  const std::string fleet_apps = "strata_cache_entries{cache=\"fleet_apps\"}";
  const std::string fleet_devices =
      "strata_cache_entries{cache=\"fleet_devices\"}";
  EXPECT_EQ(Metric(snapshots), 1);
  EXPECT_EQ(Metric(known), 1);
  EXPECT_EQ(Metric(fleet_apps), 1);
  EXPECT_EQ(Metric(fleet_devices), 1);

  for (int i = 0; i < 400; ++i) {
    const v1::DeviceContext d = Device(StrCat("random-app-", i), "d1");
    v1::CheckRequest req;
    *req.mutable_device() = d;
    v1::CheckResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Check(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.plan().updates_size(), 0);  // an empty plan
    EXPECT_TRUE(Report(*stub_, d).ok());
    if (i % 40 == 0) {
      // A watcher of a made-up app gets nothing and costs no cache entry.
      grpc::ClientContext wctx;
      wctx.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(300));
      v1::WatchConfigRequest wreq;
      *wreq.mutable_device() = d;
      auto reader = stub_->WatchConfig(&wctx, wreq);
      v1::ConfigEvent event;
      EXPECT_FALSE(reader->Read(&event));
      EXPECT_EQ(reader->Finish().error_code(),
                grpc::StatusCode::DEADLINE_EXCEEDED);
    }
  }
  EXPECT_EQ(Metric(snapshots), 1);
  EXPECT_EQ(Metric(known), 1);
  EXPECT_EQ(Metric(fleet_apps), 1);
  EXPECT_EQ(Metric(fleet_devices), 1);
}

TEST_F(LimitsTest, AReportFloodFromOneDeviceIsLimitedAndOthersAreNot) {
  // 5 at once, then one every 100 s: nothing refills during the test.
  Start({"--report-rate-per-device", "0.01", "--report-burst-per-device", "5"});
  PublishAndRelease(v1::LAYER_CONFIG, "flags", "1", "{}");
  const v1::DeviceContext flooder = Device("wallet", "flooder");
  int ok = 0;
  int limited = 0;
  for (int i = 0; i < 50; ++i) {
    grpc::Status s = Report(*stub_, flooder);
    if (s.ok()) {
      ++ok;
    } else {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_NE(s.error_message().find("device flooder of app wallet"),
                std::string::npos)
          << s.error_message();
      EXPECT_NE(s.error_message().find("retry in"), std::string::npos)
          << s.error_message();
      ++limited;
    }
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(limited, 45);
  // Another device on the same connection reports as usual.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(Report(*stub_, Device("wallet", "quiet")).ok());
  }
  // The same device id in another app is another device.
  EXPECT_TRUE(Report(*stub_, Device("shop", "flooder")).ok());
  EXPECT_EQ(
      Metric("strata_rate_limited_total{rpc=\"Report\",scope=\"device\"}"), 45);
  EXPECT_EQ(
      Metric("strata_rate_limited_total{rpc=\"Report\",scope=\"connection\"}"),
      0);
}

TEST_F(LimitsTest, AReportFloodOnOneConnectionIsLimitedAndOthersAreNot) {
  Start({"--report-rate-per-connection", "0.01",
         "--report-burst-per-connection", "20"});
  PublishAndRelease(v1::LAYER_CONFIG, "flags", "1", "{}");
  // Many device ids through one connection: the connection's bucket.
  int ok = 0;
  for (int i = 0; i < 30; ++i) {
    grpc::Status s = Report(*stub_, Device("wallet", StrCat("fake-", i)));
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_NE(s.error_message().find("on this connection"), std::string::npos)
          << s.error_message();
    }
  }
  EXPECT_EQ(ok, 20);
  // A second connection (its own subchannel, not the shared one).
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto other = v1::Delivery::NewStub(grpc::CreateCustomChannel(
      address_, grpc::InsecureChannelCredentials(), args));
  EXPECT_TRUE(Report(*other, Device("wallet", "fake-0")).ok());
  EXPECT_EQ(
      Metric("strata_rate_limited_total{rpc=\"Report\",scope=\"connection\"}"),
      10);
}

TEST_F(LimitsTest, WatchStreamsBeyondTheMaximumsAreRefusedAndSlotsFreed) {
  Start({"--max-watch-streams", "3", "--max-watch-streams-per-device", "1"});
  PublishAndRelease(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}");
  // A device that has nothing gets the current config on connect: once it
  // is read, the stream holds its slot.
  auto open = [&](const std::string& id) {
    Watch w = OpenWatch(id);
    v1::ConfigEvent event;
    EXPECT_TRUE(w.reader->Read(&event)) << id;
    return w;
  };
  auto refused = [&](const std::string& id) {
    Watch w = OpenWatch(id);
    v1::ConfigEvent event;
    EXPECT_FALSE(w.reader->Read(&event)) << id;
    grpc::Status s = w.reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << id;
    return std::string(s.error_message());
  };
  Watch d1 = open("d1");
  EXPECT_NE(refused("d1").find("already holds 1 WatchConfig streams"),
            std::string::npos);
  Watch d2 = open("d2");
  Watch d3 = open("d3");
  EXPECT_EQ(Metric("strata_config_watch_streams_open"), 3);
  EXPECT_NE(refused("d4").find("maximum of 3 WatchConfig streams"),
            std::string::npos);
  EXPECT_EQ(Metric("strata_config_watch_refused_total{scope=\"device\"}"), 1);
  EXPECT_EQ(Metric("strata_config_watch_refused_total{scope=\"server\"}"), 1);

  // A stream that ends frees its slot, for that device or another.
  d1.Close();
  ASSERT_TRUE(WaitForMetric("strata_config_watch_streams_open", 2));
  Watch d4 = open("d4");
  d2.Close();
  ASSERT_TRUE(WaitForMetric("strata_config_watch_streams_open", 2));
  Watch d1_again = open("d1");
  EXPECT_EQ(Metric("strata_config_watch_streams_open"), 3);
  for (Watch* w : {&d3, &d4, &d1_again}) w->Close();
  EXPECT_TRUE(WaitForMetric("strata_config_watch_streams_open", 0));
}

TEST_F(LimitsTest, TheSdkWatcherBacksOffWhenRefusedAndGetsInOnceASlotFrees) {
  Start({"--max-watch-streams-per-device", "1"});
  PublishAndRelease(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}");
  // Two app instances with one device id (e.g. a cloned install).
  auto client = [&](const std::string& dir) {
    client::ClientOptions o;
    o.server_address = address_;
    o.app_id = "wallet";
    o.device.device_id = "twin";
    o.storage_dir = JoinPath(dir_.path(), dir);
    o.insecure_skip_signature_verification_for_tests = true;  // unsigned app
    o.insecure_plaintext_to_loopback_for_tests = true;
    auto c = client::Client::Create(o);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  };
  // Polls `done` for at most 10 s.
  auto wait_until = [](const std::function<bool()>& done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  };
  std::unique_ptr<client::Client> first = client("first");
  std::unique_ptr<client::Client> second = client("second");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  client::ConfigWatchOptions o;
  o.initial_backoff = absl::Milliseconds(100);
  o.max_backoff = absl::Milliseconds(400);
  ASSERT_THAT(first->StartConfigWatch(o), IsOk());
  ASSERT_TRUE(wait_until([&] { return first->ConfigWatchStatus().installed; }));
  ASSERT_THAT(second->StartConfigWatch(o), IsOk());
  ASSERT_TRUE(wait_until(
      [&] { return second->ConfigWatchStatus().streams_opened >= 3; }));
  const client::ConfigWatchStats refused = second->ConfigWatchStatus();
  EXPECT_EQ(refused.installed, 0u);
  EXPECT_NE(refused.last_error.find("already holds 1 WatchConfig streams"),
            std::string::npos)
      << refused.last_error;
  EXPECT_GE(Metric("strata_config_watch_refused_total{scope=\"device\"}"), 3);
  // The first instance stops watching: the second gets in on a retry.
  first->StopConfigWatch();
  EXPECT_TRUE(
      wait_until([&] { return second->ConfigWatchStatus().installed > 0; }));
  second->StopConfigWatch();
}

}  // namespace
}  // namespace strata
