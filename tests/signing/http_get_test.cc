// The bounded HTTP GET client against real loopback servers that misbehave
// (endless bodies, trickling bytes), and the verifier fetching through it.
#include "strata/base/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/verifier.h"
#include "test_repo.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

// Sends all of `data`; false when the peer is gone.
bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// A one-connection-at-a-time HTTP server on 127.0.0.1 whose handler writes
// the raw response.
class LoopbackServer {
 public:
  using Handler = std::function<void(int fd, const std::string& path,
                                     const std::atomic<bool>& stop)>;

  explicit LoopbackServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
            0 ||
        listen(listen_fd_, 16) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }

  ~LoopbackServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
  }

  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos && !stop_) {
        pollfd c{fd, POLLIN, 0};
        if (poll(&c, 1, 20) <= 0) continue;
        const ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      // "GET /path HTTP/1.1"
      const size_t sp1 = request.find(' ');
      const size_t sp2 = request.find(' ', sp1 + 1);
      const std::string path =
          sp1 == std::string::npos || sp2 == std::string::npos
              ? "/"
              : request.substr(sp1 + 1, sp2 - sp1 - 1);
      handler_(fd, path, stop_);
      close(fd);
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void Respond(int fd, int code, std::string_view body) {
  SendAll(fd, "HTTP/1.1 " + std::to_string(code) +
                  " X\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n\r\n");
  SendAll(fd, body);
}

// No Content-Length, bytes until the client hangs up.
void Endless(int fd, const std::atomic<bool>& stop) {
  SendAll(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
  const std::string chunk(8192, '{');
  while (!stop && SendAll(fd, chunk)) {
  }
}

// Headers, then one byte at a time (a real millisecond apart, only so the
// bytes keep coming), never the whole declared body: the client cannot finish
// however fast or slow it runs, only its deadline can end the read.
void Trickle(int fd, const std::atomic<bool>& stop) {
  constexpr int kLength = 1000;
  SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kLength) +
                  "\r\n\r\n");
  int sent = 0;
  while (!stop) {
    if (sent < kLength - 1) {
      if (!SendAll(fd, "{")) return;
      ++sent;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Simulated time that moves by `step` every time someone reads it: a client
// that looks at its clock before every read sees its deadline come after a
// fixed number of reads, on any machine. Starts at the real time so that
// metadata made "now" is not expired.
class SteppingClock : public testing::SimulatedClock {
 public:
  SteppingClock() : SimulatedClock(absl::Now()) {}
  absl::Time Now() override {
    Advance(absl::Nanoseconds(step_ns_.load()));
    return SimulatedClock::Now();
  }
  void set_step(absl::Duration step) {
    step_ns_ = absl::ToInt64Nanoseconds(step);
  }

 private:
  std::atomic<int64_t> step_ns_{0};
};

TEST(HttpGetTest, FetchesBodyAndStatus) {
  LoopbackServer server([](int fd, const std::string& path, const auto&) {
    if (path == "/hello") {
      Respond(fd, 200, "hello world");
    } else {
      Respond(fd, 404, "no");
    }
  });
  STRATA_ASSERT_OK_AND_ASSIGN(HttpResponse r, HttpGet(server.Url("/hello")));
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.body, "hello world");
  STRATA_ASSERT_OK_AND_ASSIGN(r, HttpGet(server.Url("/missing")));
  EXPECT_EQ(r.status_code, 404);
}

TEST(HttpGetTest, RejectsBadUrls) {
  EXPECT_THAT(HttpGet("https://example.com/"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HttpGet("http://:80/"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HttpGet("http://127.0.0.1:99999999/"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HttpGetTest, DeclaredLengthOverTheCapFailsAtOnce) {
  LoopbackServer server([](int fd, const std::string&, const auto&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\nabc");
  });
  HttpGetOptions o;
  o.max_body_bytes = 1000;
  EXPECT_THAT(HttpGet(server.Url("/"), o),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("Content-Length 5000000")));
}

TEST(HttpGetTest, EndlessBodyStopsAtTheCap) {
  LoopbackServer server(
      [](int fd, const std::string&, const auto& stop) { Endless(fd, stop); });
  HttpGetOptions o;
  o.max_body_bytes = 64 * 1024;
  // The server never stops sending; only the cap can end the read.
  EXPECT_THAT(HttpGet(server.Url("/"), o),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("body exceeds the limit of 65536")));
}

TEST(HttpGetTest, TricklingServerStopsAtTheTotalDeadline) {
  LoopbackServer server(
      [](int fd, const std::string&, const auto& stop) { Trickle(fd, stop); });
  // Every look at the clock costs 10 ms of simulated time, so the 400 ms
  // deadline passes after about 40 looks, a few of them before the body.
  SteppingClock clock;
  clock.set_step(absl::Milliseconds(10));
  HttpGetOptions o;
  o.timeout = absl::Milliseconds(400);
  o.clock = &clock;
  const absl::Time start = clock.Now();
  // Bytes keep arriving (so no per-read timeout would fire) and the body
  // never completes, but the total deadline ends the read.
  EXPECT_THAT(HttpGet(server.Url("/"), o),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("reading the body")));
  EXPECT_GE(clock.Now() - start, absl::Milliseconds(400));
}

TEST(HttpGetTest, ShortBodyIsDataLoss) {
  LoopbackServer server([](int fd, const std::string&, const auto&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  });
  EXPECT_THAT(HttpGet(server.Url("/")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("3 of 10")));
}

}  // namespace

// ---- the verifier over HTTP ----

namespace signing {
namespace {

// Fetches TUF files from "<base>/<file name>" with the request's cap and
// deadline.
class HttpMetadataSource : public MetadataSource {
 public:
  HttpMetadataSource(std::string base, Clock* clock)
      : base_(std::move(base)), clock_(clock) {}
  absl::StatusOr<std::string> Fetch(const FetchRequest& request) override {
    HttpGetOptions o;
    o.max_body_bytes = request.max_length;
    o.timeout = request.deadline - clock_->Now();
    o.clock = clock_;
    absl::StatusOr<HttpResponse> r =
        HttpGet(base_ + "/" + request.FileName(), o);
    if (!r.ok()) return r.status();
    if (r->status_code == 404) {
      return absl::NotFoundError(request.FileName() + " not found");
    }
    if (r->status_code != 200) {
      return absl::UnavailableError("HTTP " + std::to_string(r->status_code));
    }
    return std::move(r->body);
  }

 private:
  std::string base_;
  Clock* clock_;
};

class HttpVerifierTest : public ::testing::Test {
 protected:
  HttpVerifierTest()
      : repo_(SystemClock()->Now()),
        server_([this](int fd, const std::string& path,
                       const std::atomic<bool>& stop) {
          const std::string file = path.substr(path.rfind('/') + 1);
          int mode = 0;
          absl::StatusOr<std::string> bytes;
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (file == misbehaving_file_) mode = mode_;
            bytes = files_.Fetch(
                {file.substr(0, file.size() - 5), std::nullopt, 1 << 30});
          }
          if (mode == 1) return Endless(fd, stop);
          if (mode == 2) return Trickle(fd, stop);
          if (bytes.ok()) {
            Respond(fd, 200, *bytes);
          } else {
            Respond(fd, 404, "");
          }
        }) {
    repo_.Assign(repo_.AddArtifact(Layer::kH5, "home", 1, "h5 bytes"));
    repo_.Publish();
    files_ = repo_.source;
  }

  void Serve(const InMemoryMetadataSource& files, std::string misbehaving_file,
             int mode) {
    std::lock_guard<std::mutex> lock(mu_);
    files_ = files;
    misbehaving_file_ = std::move(misbehaving_file);
    mode_ = mode;
  }

  // A verifier on clock_ (not stepping yet), refreshed once.
  std::unique_ptr<Verifier> OpenRefreshed(absl::Duration timeout) {
    VerifierOptions o;
    o.state_dir = "/state";
    o.pinned_root = repo_.pinned_root();
    o.update_timeout = timeout;
    Env env;
    env.fs = &fs_;
    env.clock = &clock_;
    absl::StatusOr<std::unique_ptr<Verifier>> v = Verifier::Open(env, o);
    EXPECT_TRUE(v.ok()) << v.status();
    HttpMetadataSource source(server_.Url(""), &clock_);
    absl::Status s = (*v)->Refresh(source);
    EXPECT_TRUE(s.ok()) << s;
    return *std::move(v);
  }

  // The file server's content (file names like "2.snapshot.json" map to the
  // in-memory source by splitting the version back off).
  struct Files {
    InMemoryMetadataSource source;
    absl::StatusOr<std::string> Fetch(FetchRequest r) {
      const size_t dot = r.role.find('.');
      if (dot != std::string::npos &&
          r.role.find_first_not_of("0123456789") == dot) {
        r.version = std::stoull(r.role.substr(0, dot));
        r.role = r.role.substr(dot + 1);
      }
      return source.Fetch(r);
    }
    Files& operator=(const InMemoryMetadataSource& s) {
      source = s;
      return *this;
    }
  };

  SteppingClock clock_;
  testing::TestRepo repo_;
  Files files_;
  std::mutex mu_;
  std::string misbehaving_file_;
  int mode_ = 0;
  strata::testing::MemFileSystem fs_;
  LoopbackServer server_;
};

TEST_F(HttpVerifierTest, EndlessSnapshotIsRejectedAtTheListedLength) {
  std::unique_ptr<Verifier> v = OpenRefreshed(absl::Seconds(10));
  repo_.BumpVersions();
  repo_.Publish();
  Serve(repo_.source, "2.snapshot.json", 1);
  const std::string before = *fs_.ReadFile(v->StatePath());
  HttpMetadataSource source(server_.Url(""), &clock_);
  // The server never stops sending; only the snapshot's listed length can
  // end the read.
  const absl::Status s = v->Refresh(source);
  EXPECT_THAT(GetRejectReason(s), Optional(RejectReason::kEndlessData)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*fs_.ReadFile(v->StatePath()), before);
  EXPECT_EQ(v->TrustedVersion("snapshot"), 1u);
}

TEST_F(HttpVerifierTest, TricklingTimestampIsRejectedAtTheDeadline) {
  std::unique_ptr<Verifier> v = OpenRefreshed(absl::Seconds(1));
  Serve(repo_.source, "timestamp.json", 2);
  const std::string before = *fs_.ReadFile(v->StatePath());
  HttpMetadataSource source(server_.Url(""), &clock_);
  // From here every look at the clock (the verifier's and the HTTP
  // client's) costs 10 ms: the 1 s update deadline passes after about 100
  // looks, while the timestamp trickles in and never completes.
  clock_.set_step(absl::Milliseconds(10));
  const absl::Time start = clock_.Now();
  const absl::Status s = v->Refresh(source);
  EXPECT_THAT(GetRejectReason(s), Optional(RejectReason::kSlowRetrieval)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(clock_.Now() - start, absl::Seconds(1));
  EXPECT_EQ(*fs_.ReadFile(v->StatePath()), before);
}

}  // namespace
}  // namespace signing
}  // namespace strata
