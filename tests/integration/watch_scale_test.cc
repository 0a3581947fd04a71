// WatchConfig against a real stratad process, as a fleet uses it: many
// streams over several connections get a push without a server thread
// each; a change to one app wakes only that app's streams; cancelled
// streams free their slots and subscriptions; a device that does not read
// holds up no other device. What the server holds is read from /metrics
// and /proc.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../server/test_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "stratad_process.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;

// The "Threads:" line of /proc/<pid>/status.
long ThreadsOf(pid_t pid) {
  FILE* f = std::fopen(StrCat("/proc/", pid, "/status").c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long n = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "Threads:", 8) == 0) n = std::atol(line + 8);
  }
  std::fclose(f);
  return n;
}

class WatchScaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(stratad_.Start(
        dir_.path(), {"--gate-interval", "0", "--max-watch-streams", "1000"}));
  }
  void TearDown() override { stratad_.Stop(); }

  // A channel with its own TCP connection.
  std::shared_ptr<grpc::Channel> Channel(int i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("strata.test_channel", i);
    return grpc::CreateCustomChannel(stratad_.address(),
                                     grpc::InsecureChannelCredentials(), args);
  }
  void Release(const std::string& app, const std::string& version,
               const std::string& content) {
    admin::AdminClient admin(stratad_.address(), stratad_.token(),
                             admin::ChannelSecurity::Plaintext());
    v1::ArtifactStatement st;
    st.set_app_id(app);
    st.mutable_module()->set_layer(v1::LAYER_CONFIG);
    st.mutable_module()->set_name("flags");
    st.set_version(version);
    ASSERT_THAT(admin.Publish(st, content, ""), IsOk());
    v1::CreateReleaseRequest r;
    r.set_app_id(app);
    *r.mutable_module() = st.module();
    r.set_version(version);
    r.set_all_at_once(true);
    ASSERT_THAT(admin.CreateRelease(r), IsOk());
  }
  double Metric(const std::string& series) { return stratad_.Series(series); }
  bool WaitForMetric(const std::string& series, double want) {
    return stratad_.WaitForMetric(series, want);
  }

  // An open stream and what it read, on the caller's thread.
  struct Stream {
    std::unique_ptr<v1::Delivery::Stub> stub;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::ConfigEvent>> reader;
    // The version of the next event (false: the stream ended).
    bool ReadVersion(std::string* version) {
      v1::ConfigEvent event;
      if (!reader->Read(&event)) return false;
      *version = event.entry().statement().version();
      return true;
    }
    void Close() {
      ctx->TryCancel();
      (void)reader->Finish();
    }
  };
  Stream Open(std::shared_ptr<grpc::Channel> channel, const std::string& app,
              const std::string& device_id) {
    Stream s;
    s.stub = v1::Delivery::NewStub(channel);
    s.ctx = std::make_unique<grpc::ClientContext>();
    s.ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(120));  // a hang guard only
    v1::WatchConfigRequest req;
    req.mutable_device()->set_app_id(app);
    req.mutable_device()->set_device_id(device_id);
    s.reader = s.stub->WatchConfig(s.ctx.get(), req);
    return s;
  }

  // `n` streams of `app` ("<prefix><i>"), round robin over `channels`,
  // each connected: it has read the app's current version.
  std::vector<Stream> OpenConnected(
      const std::vector<std::shared_ptr<grpc::Channel>>& channels,
      const std::string& app, const std::string& prefix, int n) {
    std::vector<Stream> streams;
    for (int i = 0; i < n; ++i) {
      streams.push_back(
          Open(channels[i % channels.size()], app, StrCat(prefix, i)));
      std::string v;
      EXPECT_TRUE(streams.back().ReadVersion(&v)) << prefix << i;
    }
    return streams;
  }

  testing::TempDir dir_;
  testing::StratadProcess stratad_;
};

TEST_F(WatchScaleTest, APushReachesEveryStreamWithoutAThreadPerStream) {
  Release("wallet", "1", "{\"v\":1}");
  const long idle_threads = ThreadsOf(stratad_.pid());
  constexpr int kStreams = 200;
  constexpr int kChannels = 8;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < kChannels; ++c) channels.push_back(Channel(c));
  std::vector<Stream> streams =
      OpenConnected(channels, "wallet", "device-", kStreams);
  EXPECT_EQ(Metric("strata_config_watch_streams_open"), kStreams);
  // The synchronous server held one thread per stream: 200 more.
  EXPECT_LT(ThreadsOf(stratad_.pid()), idle_threads + 20);

  Release("wallet", "2", "{\"v\":2}");
  for (int i = 0; i < kStreams; ++i) {
    std::string v;
    ASSERT_TRUE(streams[i].ReadVersion(&v)) << i;
    EXPECT_EQ(v, "2") << i;
  }
  for (Stream& s : streams) s.Close();
  EXPECT_TRUE(WaitForMetric("strata_config_watch_streams_open", 0));
}

TEST_F(WatchScaleTest, AChangeToOneAppWakesOnlyThatAppsStreams) {
  Release("wallet", "1", "{\"w\":1}");
  Release("shop", "1", "{\"s\":1}");
  auto channel = Channel(0);
  std::vector<Stream> shop = OpenConnected({channel}, "shop", "s", 30);
  Stream wallet = Open(channel, "wallet", "w1");
  std::string v;
  ASSERT_TRUE(wallet.ReadVersion(&v));
  const double wakes = Metric("strata_config_watch_wakes");
  const double evaluations = Metric("strata_config_watch_evaluations");

  Release("wallet", "2", "{\"w\":2}");
  ASSERT_TRUE(wallet.ReadVersion(&v));
  EXPECT_EQ(v, "2");
  // One pass of the notifier counts all the streams it woke at once: 31
  // had the shop's streams been woken too.
  EXPECT_TRUE(WaitForMetric("strata_config_watch_wakes", wakes + 1));
  EXPECT_EQ(Metric("strata_config_watch_evaluations"), evaluations + 1);
  EXPECT_EQ(Metric("strata_cache_entries{cache=\"watched_apps\"}"), 2);
  wallet.Close();
  for (Stream& s : shop) s.Close();
}

TEST_F(WatchScaleTest, CancelledStreamsFreeTheirSlotsAndSubscriptions) {
  Release("wallet", "1", "{}");
  auto channel = Channel(0);
  std::vector<Stream> streams = OpenConnected({channel}, "wallet", "d", 50);
  EXPECT_EQ(Metric("strata_config_watch_streams_open"), 50);
  EXPECT_EQ(Metric("strata_cache_entries{cache=\"watched_apps\"}"), 1);
  for (Stream& s : streams) s.Close();
  EXPECT_TRUE(WaitForMetric("strata_config_watch_streams_open", 0));
  EXPECT_TRUE(WaitForMetric("strata_cache_entries{cache=\"watched_apps\"}", 0));
  // A change now wakes nobody.
  const double wakes = Metric("strata_config_watch_wakes");
  Release("wallet", "2", "{\"v\":2}");
  Stream late = Open(channel, "wallet", "late");  // sees version 2 at once
  std::string v;
  ASSERT_TRUE(late.ReadVersion(&v));
  EXPECT_EQ(v, "2");
  EXPECT_EQ(Metric("strata_config_watch_wakes"), wakes);
  late.Close();
}

TEST_F(WatchScaleTest, ADeviceThatDoesNotReadHoldsUpNoOtherDevice) {
  Release("wallet", "1", "{}");
  // Its own connection, never read: its events pile up until flow
  // control stops them.
  Stream stalled = Open(Channel(1), "wallet", "stalled");
  Stream reader = Open(Channel(2), "wallet", "reader");
  std::string v;
  ASSERT_TRUE(reader.ReadVersion(&v));
  // Each version nearly fills an inline CONFIG document (64 KiB).
  constexpr int kVersions = 24;
  for (int n = 2; n <= kVersions; ++n) {
    const std::string content =
        StrCat("{\"v\":", n, ",\"pad\":\"", std::string(60000, 'x'), "\"}");
    Release("wallet", StrCat(n), content);
    ASSERT_TRUE(reader.ReadVersion(&v));
    EXPECT_EQ(v, StrCat(n));  // each version reaches the reading device
  }
  // The stalled device, once it reads, ends at the latest version. (What
  // HTTP/2 flow control let through before it stalled is buffered on its
  // side; beyond that the server keeps one event in flight and coalesces
  // the rest: config_watch_test.cc checks that without gRPC's buffers.)
  int events = 0;
  std::string last;
  while (last != StrCat(kVersions) && stalled.ReadVersion(&last)) ++events;
  EXPECT_EQ(last, StrCat(kVersions));
  EXPECT_LE(events, kVersions);
  std::printf("the stalled stream read %d events for %d versions\n", events,
              kVersions);
  stalled.Close();
  reader.Close();
}

}  // namespace
}  // namespace strata
