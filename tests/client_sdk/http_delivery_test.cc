// The Delivery API over plain HTTP (server/http/delivery_handler.h) against
// a real stratad in this process: Check and Report as protobuf bodies over
// HTTP/1.1 and HTTP/2 (h2c), their errors as Statuses; the SDK doing a whole
// check, download, apply and report over its HTTP transport (the ready-made
// libcurl client, strata::client_curl) and over a host's transport through
// the C API; WatchConfig as a stream of length-prefixed events.
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server_fixture.h"
#include "strata/base/http_get.h"
#include "strata/client/c_api.h"
#include "strata/client/client.h"
#include "strata/client/http_client.h"
#include "transport.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::testing::HasSubstr;

class HttpDeliveryTest : public testing::SdkServerTest {
 protected:
  void SetUp() override {
    server_.set_cleartext_http2(true);
    // Short, so the watch test shows an idle stream outlives it.
    server_.set_http_request_timeout(absl::Seconds(1));
    // Short, so a stream whose HTTP/1.1 client left is found soon.
    server_.set_http_push_heartbeat(heartbeat_);
    SdkServerTest::SetUp();
  }
  absl::Duration heartbeat_ = absl::Milliseconds(300);
  std::string BaseUrl() const {
    return StrCat("http://127.0.0.1:", server_.http_port());
  }
  client::ClientOptions Options(const std::string& device) {
    client::ClientOptions o;
    o.server_url = BaseUrl();
    o.http_client = *client::NewCurlHttpClient();  // fails only for options
    o.app_id = "wallet";
    o.device.device_id = device;
    o.storage_dir = JoinPath(dir_.path(), device);
    o.insecure_skip_signature_verification_for_tests = true;  // unsigned app
    return o;
  }
  uint64_t Metric(const std::string& series) {
    absl::StatusOr<HttpResponse> r = HttpGet(StrCat(BaseUrl(), "/metrics"));
    if (!r.ok()) return 0;
    const size_t at = r->body.find("\n" + series + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(r->body.substr(at + series.size() + 2));
  }
  // Runs `run` with a curl client speaking HTTP/1.1, then h2c.
  template <typename Run>
  void OverBothClients(Run run) {
    for (bool h2 : {false, true}) {
      SCOPED_TRACE(h2 ? "HTTP/2" : "HTTP/1.1");
      client::CurlHttpOptions o;
      o.http2_cleartext = h2;
      absl::StatusOr<std::unique_ptr<client::HttpClient>> http =
          client::NewCurlHttpClient(o);
      ASSERT_THAT(http, IsOk());
      run(*std::move(http), h2);
    }
  }
  // Runs `run` against the server's transport over HTTP/1.1 and over h2c.
  template <typename Run>
  void OverBothVersions(Run run) {
    OverBothClients([&](std::unique_ptr<client::HttpClient> http, bool h2) {
      run(client::NewHttpTransport(BaseUrl(), std::move(http)), h2);
    });
  }
};

// Header fields by lowercase name.
std::map<std::string, std::string> Lowercased(const client::HttpHeaders& h) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : h) {
    std::string lower = k;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    out[lower] = v;
  }
  return out;
}

// What a plain HTTP client sees: a raw exchange.
struct Raw : client::HttpResponseSink {
  void OnHead(int s, const client::HttpHeaders& h) override {
    status = s;
    headers = Lowercased(h);
  }
  bool OnBody(std::string_view b) override {
    body.append(b);
    return true;
  }
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

// A WatchConfig stream as a plain HTTP client reads it: the frames parsed
// as they arrive. Stops the request once `stop_at` events came.
class EventReader : public client::HttpResponseSink {
 public:
  explicit EventReader(size_t stop_at) : stop_at_(stop_at) {}
  void OnHead(int s, const client::HttpHeaders& h) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = s;
    headers_ = Lowercased(h);
  }
  bool OnBody(std::string_view b) override {
    std::lock_guard<std::mutex> lock(mu_);
    buffer_.append(b);
    while (status_ == 200 && buffer_.size() >= 4) {
      const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data());
      const size_t n = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) |
                       (size_t{p[2]} << 8) | p[3];
      if (buffer_.size() < 4 + n) break;
      if (n == 0) {
        ++empty_frames_;
      } else {
        v1::ConfigEvent e;
        if (!e.ParseFromArray(buffer_.data() + 4, static_cast<int>(n))) {
          bad_ = true;
          return false;
        }
        events_.push_back(std::move(e));
      }
      buffer_.erase(0, 4 + n);
    }
    cv_.notify_all();
    return events_.size() < stop_at_ && !stop_;
  }
  // The request stops at the next bytes (a heartbeat at the latest).
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  // Waits until `n` events or `frames` frames of any kind came.
  bool WaitFor(size_t n, size_t frames = 0) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] {
      return events_.size() >= n &&
             events_.size() + empty_frames_ >= std::max(n, frames);
    });
  }
  std::vector<v1::ConfigEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  int status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  std::string header(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return headers_[name];
  }
  std::string rest() {
    std::lock_guard<std::mutex> lock(mu_);
    return buffer_;
  }
  int empty_frames() {
    std::lock_guard<std::mutex> lock(mu_);
    return empty_frames_;
  }
  bool bad() {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_;
  }

 private:
  const size_t stop_at_;
  std::mutex mu_;
  std::condition_variable cv_;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  std::string buffer_;
  std::vector<v1::ConfigEvent> events_;
  int empty_frames_ = 0;
  bool bad_ = false;
  bool stop_ = false;
};

client::HttpCall WatchCall(const std::string& base, const std::string& device,
                           const std::string& app = "wallet") {
  v1::WatchConfigRequest request;
  request.mutable_device()->set_app_id(app);
  request.mutable_device()->set_device_id(device);
  client::HttpCall call;
  call.method = "POST";
  call.url = base + "/v1/delivery/watch-config";
  call.headers = {{"Content-Type", "application/x-protobuf"}};
  call.body = request.SerializeAsString();
  call.timeout = absl::Seconds(60);
  return call;
}

TEST_F(HttpDeliveryTest, WatchConfigPushesEachNewVersionOverHttp1AndHttp2) {
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"v\":1}"), 0u);
  int version = 1;
  OverBothClients([&](std::unique_ptr<client::HttpClient> http, bool h2) {
    // The stream ends (the client stops it) after two events: what the
    // device lacks at once, and the next version when it is released.
    EventReader reader(2);
    absl::Status sent;
    std::thread watcher([&] {
      sent = http->Send(WatchCall(BaseUrl(), h2 ? "w-h2" : "w-h1"), reader);
    });
    ASSERT_TRUE(reader.WaitFor(1)) << "no first event";
    EXPECT_EQ(reader.status(), 200);
    EXPECT_EQ(reader.header("content-type"), "application/x-strata-events");
    EXPECT_EQ(reader.events()[0].entry().inline_content(),
              StrCat("{\"v\":", version, "}"));
    EXPECT_EQ(Metric("strata_config_watch_streams_open"), 1u);
    // Idle (but for heartbeats) past the port's request timeout (1 s):
    // the stream stays.
    absl::SleepFor(absl::Milliseconds(2500));
    ++version;
    ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", std::to_string(version),
                      StrCat("{\"v\":", version, "}")),
              0u);
    ASSERT_TRUE(reader.WaitFor(2)) << "the new version was not pushed";
    watcher.join();
    EXPECT_FALSE(reader.bad());
    const std::vector<v1::ConfigEvent> events = reader.events();
    EXPECT_EQ(events[1].entry().statement().version(), std::to_string(version));
    EXPECT_EQ(events[1].entry().inline_content(),
              StrCat("{\"v\":", version, "}"));
    // The client went away: the server closes the stream and frees its
    // slot (HTTP/2: the stream's reset; HTTP/1.1: a heartbeat's write
    // fails).
    for (int i = 0; i < 200 && Metric("strata_config_watch_streams_open") != 0;
         ++i) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(Metric("strata_config_watch_streams_open"), 0u);
  });
  EXPECT_GE(Metric("strata_config_pushes_total"), 4u);
}

TEST_F(HttpDeliveryTest, AnIdleStreamGetsOneHeartbeatPerPeriod) {
  OverBothClients([&](std::unique_ptr<client::HttpClient> http, bool h2) {
    EventReader reader(100);
    absl::Status sent;
    std::thread watcher([&] {
      sent = http->Send(WatchCall(BaseUrl(), h2 ? "hb-h2" : "hb-h1"), reader);
    });
    ASSERT_TRUE(reader.WaitFor(0, 1)) << "no empty frame";
    const int first = reader.empty_frames();
    const absl::Time start = absl::Now();
    absl::SleepFor(absl::Seconds(3));
    const int beats = reader.empty_frames() - first;
    const double periods = (absl::Now() - start) / heartbeat_;
    // At least one came; and no more than one per idle period (the server
    // scans every half period: a stream whose last write it forgot would
    // get one at every scan, twice as many). A slow machine only makes
    // fewer.
    EXPECT_GE(beats, 1);
    EXPECT_LE(beats, periods + 2)
        << "heartbeats over " << periods << " periods";
    reader.Stop();
    watcher.join();
    EXPECT_THAT(sent, IsOk());
  });
}

// A long heartbeat: an HTTP/1.1 client that closes its end must be found by
// the scan's look for its FIN (every half period), not by failing writes
// (the first write after a FIN succeeds: two heartbeats, 20 s here).
class HttpWatchSlowHeartbeatTest : public HttpDeliveryTest {
 protected:
  HttpWatchSlowHeartbeatTest() { heartbeat_ = absl::Seconds(10); }
};

TEST_F(HttpWatchSlowHeartbeatTest, AClosedHttp1ClientFreesItsSlotAtTheScan) {
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"v\":1}"), 0u);
  absl::StatusOr<std::unique_ptr<client::HttpClient>> http =
      client::NewCurlHttpClient();  // HTTP/1.1
  ASSERT_THAT(http, IsOk());
  EventReader reader(1);  // leaves (closes the connection) after one event
  ASSERT_THAT((*http)->Send(WatchCall(BaseUrl(), "leaver"), reader), IsOk());
  ASSERT_EQ(reader.events().size(), 1u);
  http->reset();  // nothing of the client stays
  const absl::Time closed = absl::Now();
  while (Metric("strata_config_watch_streams_open") != 0 &&
         absl::Now() - closed < absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const absl::Duration took = absl::Now() - closed;
  EXPECT_EQ(Metric("strata_config_watch_streams_open"), 0u);
  // The scan comes every 5 s; two failing writes would take 20 s or more.
  EXPECT_LT(took, absl::Seconds(15)) << "found after " << took;
}

TEST_F(HttpDeliveryTest, WatchConfigRefusalsAndServerStop) {
  absl::StatusOr<std::unique_ptr<client::HttpClient>> http =
      client::NewCurlHttpClient();
  ASSERT_THAT(http, IsOk());
  // A bad app id is refused before any stream, as Check is.
  Raw bad;
  ASSERT_THAT((*http)->Send(WatchCall(BaseUrl(), "d", "no such/app"), bad),
              IsOk());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.headers["strata-status"], "3");
  EXPECT_EQ(Metric("strata_config_watch_streams_open"), 0u);

  // A device that lacks nothing gets an empty frame, so the head is out;
  // stopping the server ends the body.
  EventReader reader(100);
  absl::Status sent;
  std::thread watcher(
      [&] { sent = (*http)->Send(WatchCall(BaseUrl(), "quiet"), reader); });
  ASSERT_TRUE(reader.WaitFor(0, 1)) << "no empty frame";
  EXPECT_EQ(reader.status(), 200);
  EXPECT_EQ(reader.empty_frames(), 1);
  EXPECT_TRUE(reader.events().empty());
  server_.Stop();
  watcher.join();
  EXPECT_THAT(sent, IsOk());  // the body ended cleanly
  EXPECT_EQ(reader.rest(), "");
}

// The server never sends a heartbeat here: a watch the SDK stops while
// nothing comes must be stopped through HttpCall::cancelled.
class HttpWatchNoHeartbeatTest : public HttpDeliveryTest {
 protected:
  HttpWatchNoHeartbeatTest() { heartbeat_ = absl::Hours(1); }
};

TEST_F(HttpWatchNoHeartbeatTest, SdkWatchesConfigOverHttpAndStops) {
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"v\":1}"), 0u);
  // Over h2c: the stop resets the stream, which the server sees at once
  // (over HTTP/1.1 it learns of it at the next heartbeat's write).
  client::ClientOptions options = Options("watch-http");
  client::CurlHttpOptions h2c;
  h2c.http2_cleartext = true;
  options.http_client = *client::NewCurlHttpClient(h2c);
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Create(options);
  ASSERT_THAT(c, IsOk());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> pushed;  // versions installed by pushes
  client::ConfigWatchOptions o;
  o.on_push = [&](const client::ConfigPush& p) {
    std::lock_guard<std::mutex> lock(mu);
    if (p.installed) pushed.push_back(p.version);
    cv.notify_all();
  };
  auto wait_for = [&](size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30),
                       [&] { return pushed.size() >= n; });
  };
  ASSERT_THAT((*c)->StartConfigWatch(o), IsOk());
  ASSERT_TRUE(wait_for(1)) << "the current version was not pushed";
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "2", "{\"v\":2}"), 0u);
  ASSERT_TRUE(wait_for(2)) << "the new version was not pushed";
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_THAT(pushed, ::testing::ElementsAre("1", "2"));
  }
  EXPECT_EQ((*c)->GetConfig("flags").value_or(std::nullopt), "{\"v\":2}");
  EXPECT_EQ((*c)->ConfigWatchStatus().streams_opened, 1u);
  EXPECT_EQ(Metric("strata_config_watch_streams_open"), 1u);
  // Nothing more comes (no heartbeat for an hour): the stop goes through
  // the curl client's progress poll, not the next bytes. A hang guard only.
  std::thread stopper([&] { (*c)->StopConfigWatch(); });
  for (int i = 0; i < 600 && (*c)->ConfigWatchStatus().running; ++i)
    absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE((*c)->ConfigWatchStatus().running) << "the watch did not stop";
  stopper.join();
  for (int i = 0; i < 200 && Metric("strata_config_watch_streams_open") != 0;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Metric("strata_config_watch_streams_open"), 0u);
}

// A host stack that answers 200 with a fixed body, in the given pieces
// (the seam is ours: ClientOptions::http_client).
class ScriptedHttp : public client::HttpClient {
 public:
  explicit ScriptedHttp(std::vector<std::string> pieces)
      : pieces_(std::move(pieces)) {}
  absl::Status Send(const client::HttpCall&,
                    client::HttpResponseSink& sink) override {
    sink.OnHead(200, {{"Content-Type", "application/x-strata-events"}});
    for (const std::string& p : pieces_) {
      if (!sink.OnBody(p)) break;
    }
    return absl::OkStatus();
  }

 private:
  std::vector<std::string> pieces_;
};

std::string Frame(const std::string& payload) {
  std::string f(4, '\0');
  for (int i = 0; i < 4; ++i)
    f[i] = static_cast<char>((payload.size() >> (8 * (3 - i))) & 0xff);
  return f + payload;
}

// A body that stops inside a frame was cut (stratad ends only between
// frames): the watch says so, where a clean end is OK.
TEST(HttpWatchBodyTest, ABodyCutInsideAnEventIsAnErrorNotAnEnd) {
  v1::ConfigEvent event;
  event.mutable_entry()->set_release_id(7);
  const std::string whole = Frame(event.SerializeAsString());
  struct Case {
    std::vector<std::string> pieces;
    bool cut;
  };
  const std::vector<Case> cases = {
      {{Frame(""), whole.substr(0, 5), whole.substr(5)}, false},
      {{Frame(""), whole, whole.substr(0, 3)}, true},
      {{whole, whole.substr(0, whole.size() - 1)}, true},
  };
  for (const Case& c : cases) {
    std::unique_ptr<client::Transport> transport = client::NewHttpTransport(
        "http://stratad.test", std::make_shared<ScriptedHttp>(c.pieces));
    client::StreamCancel cancel;
    std::vector<uint64_t> releases;
    absl::Status s = transport->WatchConfig(
        v1::WatchConfigRequest(), cancel, [&](const v1::ConfigEvent& e) {
          releases.push_back(e.entry().release_id());
          return absl::OkStatus();
        });
    if (c.cut) {
      EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
      EXPECT_THAT(s.message(), HasSubstr("ended inside an event"));
    } else {
      EXPECT_THAT(s, IsOk());
    }
    EXPECT_EQ(releases, std::vector<uint64_t>{7}) << s;
  }
}

TEST_F(HttpDeliveryTest, CheckAndReportAsProtobufOverHttp1AndHttp2) {
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}"), 0u);
  const uint64_t checks_before =
      Metric("strata_rpc_requests_total{method=\"http.Check\",code=\"OK\"}");
  OverBothVersions([&](std::unique_ptr<client::Transport> t, bool h2) {
    v1::CheckRequest check;
    check.mutable_device()->set_app_id("wallet");
    check.mutable_device()->set_device_id(h2 ? "raw-h2" : "raw-h1");
    absl::StatusOr<v1::CheckResponse> answer = t->Check(check);
    ASSERT_THAT(answer, IsOk());
    ASSERT_EQ(answer->plan().updates_size(), 1);
    EXPECT_EQ(answer->plan().updates(0).module().name(), "flags");
    EXPECT_EQ(answer->plan().updates(0).inline_content(), "{\"a\":1}");
    EXPECT_FALSE(answer->plan().report_ticket().empty());

    v1::ReportRequest report;
    *report.mutable_device() = check.device();
    report.set_ticket(answer->plan().report_ticket());
    v1::ReportEvent* e = report.add_events();
    e->set_kind(v1::ReportEvent::KIND_ACTIVATED);
    *e->mutable_module() = answer->plan().updates(0).module();
    e->set_release_id(answer->plan().updates(0).release_id());
    e->set_event_id("ev1");
    absl::StatusOr<v1::ReportResponse> kept = t->Report(report);
    ASSERT_THAT(kept, IsOk());
    EXPECT_EQ(kept->accepted(), 1u);
    kept = t->Report(report);  // sent again: a duplicate, as over gRPC
    ASSERT_THAT(kept, IsOk());
    EXPECT_EQ(kept->duplicates(), 1u);

    // The core's errors arrive as the same Status as over gRPC.
    v1::CheckRequest bad;
    bad.mutable_device()->set_app_id("no such/app");
    bad.mutable_device()->set_device_id("d");
    EXPECT_EQ(t->Check(bad).status().code(),
              absl::StatusCode::kInvalidArgument);
    report.clear_events();
    report.add_events()->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);  // no id
    EXPECT_EQ(t->Report(report).status().code(),
              absl::StatusCode::kInvalidArgument);
  });
  EXPECT_EQ(
      Metric("strata_rpc_requests_total{method=\"http.Check\",code=\"OK\"}"),
      checks_before + 2);

  // Bodies that are not the message, other methods, other content types.
  absl::StatusOr<std::unique_ptr<client::HttpClient>> http =
      client::NewCurlHttpClient();
  ASSERT_THAT(http, IsOk());
  client::HttpCall call;
  call.method = "POST";
  call.url = BaseUrl() + "/v1/delivery/check";
  call.headers = {{"Content-Type", "application/x-protobuf"}};
  call.body = "\xff\xff\xff";
  Raw garbage;
  ASSERT_THAT((*http)->Send(call, garbage), IsOk());
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(garbage.headers["strata-status"], "3");
  EXPECT_THAT(garbage.body,
              HasSubstr("not a serialized strata.v1.CheckRequest"));
  call.headers = {{"Content-Type", "application/json"}};
  call.body = "{}";
  Raw json;
  ASSERT_THAT((*http)->Send(call, json), IsOk());
  EXPECT_EQ(json.status, 415);
  call.method = "GET";
  call.body.clear();
  Raw get;
  ASSERT_THAT((*http)->Send(call, get), IsOk());
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.headers["allow"], "POST");
}

TEST_F(HttpDeliveryTest, SdkChecksDownloadsAppliesAndReportsOverHttp) {
  const std::string page(300 * 1024, 'p');  // over several 64 KiB chunks
  ASSERT_NE(Release(v1::LAYER_H5, "mall", "1", page), 0u);
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}"), 0u);
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Create(Options("phone-http"));
  ASSERT_THAT(c, IsOk());
  absl::StatusOr<client::CheckResult> r = (*c)->Check();
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->failures.empty()) << r->failures[0];
  EXPECT_EQ(r->installed.size(), 2u);
  EXPECT_EQ(r->via_full_download, 1u);
  EXPECT_EQ(r->via_inline, 1u);
  absl::StatusOr<std::string> path =
      (*c)->OpenModule(client::Layer::kH5, "mall");
  ASSERT_THAT(path, IsOk());
  EXPECT_EQ(PosixFileSystem()->ReadFile(*path).value_or(""), page);
  EXPECT_EQ((*c)->GetConfig("flags").value_or(std::nullopt), "{\"a\":1}");
  ASSERT_THAT((*c)->BeginLaunch(), IsOk());
  ASSERT_THAT((*c)->MarkLaunchHealthy(), IsOk());
  absl::StatusOr<size_t> sent = (*c)->FlushReports();
  ASSERT_THAT(sent, IsOk());
  EXPECT_GT(*sent, 0u);
  EXPECT_EQ((*c)->PendingReports(), 0u);
  EXPECT_GE(
      Metric("strata_rpc_requests_total{method=\"http.Report\",code=\"OK\"}"),
      1u);
  // Nothing went over gRPC.
  EXPECT_EQ(Metric("strata_rpc_requests_total{method=\"Check\",code=\"OK\"}"),
            0u);

  // server_url needs an HTTP stack and an http(s) URL.
  client::ClientOptions o = Options("phone-x");
  o.http_client = nullptr;
  EXPECT_EQ(client::Client::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = Options("phone-y");
  o.server_url = "ftp://example.com";
  EXPECT_EQ(client::Client::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A host transport for the C API: here libcurl again, behind the function
// pointers, counting what it carried.
struct HostStack {
  std::unique_ptr<client::HttpClient> http;
  // Polls strata_http_response_cancelled while a request runs and stops
  // the request when it turns 1 (as a host's stack would).
  bool poll_cancelled = false;
  std::mutex mu;  // the SDK sends from several threads
  std::vector<std::string> calls;
};

int HostSend(void* user_data, const char* method, const char* url,
             const char* const* names, const char* const* values, size_t n,
             const void* body, size_t body_size, uint64_t timeout_ms,
             strata_http_response* response, char* error, size_t error_size) {
  auto* host = static_cast<HostStack*>(user_data);
  {
    std::lock_guard<std::mutex> lock(host->mu);
    host->calls.push_back(StrCat(method, " ", url));
  }
  client::HttpCall call;
  call.method = method;
  call.url = url;
  for (size_t i = 0; i < n; ++i) call.headers.emplace_back(names[i], values[i]);
  if (body_size > 0)
    call.body.assign(static_cast<const char*>(body), body_size);
  call.timeout = absl::Milliseconds(timeout_ms);
  struct Forward : client::HttpResponseSink {
    strata_http_response* r;
    void OnHead(int status, const client::HttpHeaders& h) override {
      std::vector<const char*> k, v;
      for (const auto& [name, value] : h) {
        k.push_back(name.c_str());
        v.push_back(value.c_str());
      }
      strata_http_response_head(r, status, k.data(), v.data(), k.size());
    }
    bool OnBody(std::string_view b) override {
      return strata_http_response_body(r, b.data(), b.size()) == 1;
    }
  } forward;
  forward.r = response;
  // The host's poll: the libcurl client below stops a request once
  // `call.cancelled` turns true.
  auto stop = std::make_shared<std::atomic<bool>>(false);
  call.cancelled = stop;
  std::atomic<bool> done{false};
  std::thread poller;
  if (host->poll_cancelled) {
    poller = std::thread([&] {
      while (!done.load()) {
        if (strata_http_response_cancelled(response) == 1) stop->store(true);
        absl::SleepFor(absl::Milliseconds(20));
      }
    });
  }
  absl::Status s = host->http->Send(call, forward);
  done.store(true);
  if (poller.joinable()) poller.join();
  if (!s.ok()) {
    snprintf(error, error_size, "%s", std::string(s.message()).c_str());
    return static_cast<int>(s.code());
  }
  return 0;
}

// A C host: its stack (libcurl behind HostSend) and the options of an
// unsigned app's device reaching stratad through it. Stays put: the options
// point into it.
struct CHost {
  CHost(const std::string& base_url, const std::string& dir,
        const std::string& device, bool h2c)
      : url(base_url), device_id(device), storage(JoinPath(dir, device)) {
    client::CurlHttpOptions curl;
    curl.http2_cleartext = h2c;
    host.http = *client::NewCurlHttpClient(curl);  // fails only for options
    transport.user_data = &host;
    transport.send = &HostSend;
    options.app_id = "wallet";
    options.device_id = device_id.c_str();
    options.storage_dir = storage.c_str();
    options.insecure_skip_signature_verification_for_tests = 1;
    options.server_url = url.c_str();
    options.http_transport = &transport;
  }
  CHost(const CHost&) = delete;
  CHost& operator=(const CHost&) = delete;
  HostStack host;
  strata_http_transport transport = {};
  const std::string url, device_id, storage;
  strata_client_options options = {};
};

TEST_F(HttpDeliveryTest, CApiTakesTheHostsTransport) {
  const std::string page(100 * 1024, 'q');
  ASSERT_NE(Release(v1::LAYER_H5, "mall", "1", page), 0u);
  CHost h(BaseUrl(), dir_.path(), "phone-c", /*h2c=*/false);
  const std::string& url = h.url;
  const HostStack& host = h.host;
  strata_client_options& o = h.options;
  strata_client* c = strata_client_create(&o);
  ASSERT_NE(c, nullptr) << strata_last_error();
  size_t installed = 0, failed = 0;
  ASSERT_EQ(strata_client_check(c, &installed, &failed), 0)
      << strata_last_error();
  EXPECT_EQ(installed, 1u);
  EXPECT_EQ(failed, 0u);
  char* path = nullptr;
  ASSERT_EQ(strata_client_open_module(c, "h5", "mall", &path), 0)
      << strata_last_error();
  EXPECT_EQ(PosixFileSystem()->ReadFile(path).value_or(""), page);
  strata_free(path);
  ASSERT_EQ(strata_client_begin_launch(c, nullptr), 0);
  ASSERT_EQ(strata_client_mark_launch_healthy(c), 0);
  ASSERT_EQ(strata_client_check(c, &installed, &failed), 0);  // sends reports
  strata_client_destroy(c);
  // Every exchange went through the host's stack: check, blob, report.
  EXPECT_THAT(host.calls,
              ::testing::Contains(StrCat("POST ", url, "/v1/delivery/check")));
  EXPECT_THAT(host.calls,
              ::testing::Contains(HasSubstr("GET " + url + "/v1/blobs/")));
  EXPECT_THAT(host.calls,
              ::testing::Contains(StrCat("POST ", url, "/v1/delivery/report")));

  // A host that fails says so.
  h.transport.send = [](void*, const char*, const char*, const char* const*,
                        const char* const*, size_t, const void*, size_t,
                        uint64_t, strata_http_response*, char* error,
                        size_t error_size) {
    snprintf(error, error_size, "airplane mode");
    return 14;
  };
  const std::string storage2 = JoinPath(dir_.path(), "phone-d");
  o.storage_dir = storage2.c_str();
  o.device_id = "phone-d";
  c = strata_client_create(&o);
  ASSERT_NE(c, nullptr) << strata_last_error();
  EXPECT_EQ(strata_client_check(c, nullptr, nullptr), 14);
  EXPECT_THAT(strata_last_error(), HasSubstr("airplane mode"));
  strata_client_destroy(c);
}

// A C host's stack sees the SDK's stop through strata_http_response_cancelled
// while the server sends nothing (no heartbeat for an hour here).
TEST_F(HttpWatchNoHeartbeatTest, CApiHostStopsAWatchThroughItsPoll) {
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"v\":1}"), 0u);
  CHost h(BaseUrl(), dir_.path(), "phone-w", /*h2c=*/true);
  HostStack& host = h.host;
  host.poll_cancelled = true;
  const std::string& url = h.url;
  strata_client* c = strata_client_create(&h.options);
  ASSERT_NE(c, nullptr) << strata_last_error();
  ASSERT_EQ(strata_client_start_config_watch(c), 0) << strata_last_error();
  // The watch installs the current version.
  std::string value;
  for (int i = 0; i < 600 && value.empty(); ++i) {
    char* v = nullptr;
    if (strata_client_get_config(c, "flags", &v, nullptr) == 0 && v) {
      value = v;
      strata_free(v);
    } else {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  EXPECT_EQ(value, "{\"v\":1}");
  {
    std::lock_guard<std::mutex> lock(host.mu);
    EXPECT_THAT(host.calls, ::testing::Contains(StrCat(
                                "POST ", url, "/v1/delivery/watch-config")));
  }
  // The stop ends the request through the host's poll, not the next bytes.
  std::future<int> stopped = std::async(
      std::launch::async, [c] { return strata_client_stop_config_watch(c); });
  const bool in_time =
      stopped.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  EXPECT_TRUE(in_time) << "the watch did not stop while nothing came";
  if (!in_time) server_.Stop();  // ends the stream, so the stop returns
  EXPECT_EQ(stopped.get(), 0);
  for (int i = 0; i < 200 && Metric("strata_config_watch_streams_open") != 0;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (in_time) {
    EXPECT_EQ(Metric("strata_config_watch_streams_open"), 0u);
  }
  strata_client_destroy(c);
}

}  // namespace
}  // namespace strata
