// The HTTP front (server/http) on loopback with real sockets: keep-alive,
// HTTP/2 (cleartext on request, and over TLS) through curl, the route table,
// the bounds (connections, head and body sizes, request timeout, shutdown), and
// malformed heads: the classic smuggling shapes and a generated corpus sent
// over real connections, checked against the strict head parser.
#include "strata/server/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include "../server/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "request_head.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/http/delivery_handler.h"
#include "strata/server/http/http_router.h"
#include "strata/signing/self_signed_tls.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A client socket to 127.0.0.1:port. Reads give up after 60 s so a broken
// server fails the test instead of hanging it (no timing is asserted).
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval guard{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Conn() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void CloseWrite() { ::shutdown(fd_, SHUT_WR); }
  // Everything until the server closes (or the guard fires).
  std::string ReadAll() {
    std::string out = std::exchange(pending_, "");
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) eof_ = true;
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  // One response with a Content-Length body; "" when the server closed.
  // Bytes of the next (pipelined) response stay for the next call.
  std::string ReadResponse() {
    std::vector<char> buf(1 << 20);
    size_t end = std::string::npos;
    for (;;) {
      if (end == std::string::npos) end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        const size_t cl = pending_.find("Content-Length: ");
        if (cl != std::string::npos && cl < end)
          length = std::strtoul(pending_.c_str() + cl + 16, nullptr, 10);
        last_head_size_ = end + 4;
        if (pending_.size() >= end + 4 + length) {
          std::string one = pending_.substr(0, end + 4 + length);
          pending_.erase(0, one.size());
          return one;
        }
      }
      ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n <= 0) return std::exchange(pending_, "");
      pending_.append(buf.data(), static_cast<size_t>(n));
    }
  }

  // Whether a read ended because the server closed (not the guard).
  bool eof() const { return eof_; }
  size_t last_head_size() const { return last_head_size_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  size_t last_head_size_ = 0;
  std::string pending_;
};

int StatusOf(std::string_view response) {
  if (response.substr(0, 9) != "HTTP/1.1 " || response.size() < 12) return 0;
  return std::stoi(std::string(response.substr(9, 3)));
}

HttpHandler EchoRouter() {
  HttpRouter router;
  router
      .Exact("/hello", {"GET", "HEAD"},
             [](const HttpRequest&, std::string_view) {
               return TextResponse(200, "hello");
             })
      .Prefix("/echo/", {"GET", "POST"},
              [](const HttpRequest& req, std::string_view rest) {
                return TextResponse(
                    200, StrCat(req.method, " ", rest, " ", req.body.size()));
              })
      .Prefix("/echo/deeper/", {"GET"},
              [](const HttpRequest&, std::string_view rest) {
                return TextResponse(200, StrCat("deeper ", rest));
              })
      .Exact("/big", {"GET"}, [](const HttpRequest&, std::string_view) {
        // 64 MiB produced piece by piece: more than socket buffers hold.
        HttpResponse r;
        r.body_length = uint64_t{64} << 20;
        r.body_reader = [](uint64_t, uint64_t max, std::string* out) {
          out->append(max, 'x');
          return absl::OkStatus();
        };
        return r;
      });
  return std::move(router).AsHandler();
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    auto server = HttpServer::Start("127.0.0.1:0", EchoRouter(), options);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
  }
  std::string Get(const std::string& target) {
    Conn c(server_->port());
    c.Send(StrCat("GET ", target, " HTTP/1.1\r\nHost: t\r\n\r\n"));
    return c.ReadResponse();
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, KeepAliveServesPipelinedRequestsOnOneConnection) {
  StartServer();
  Conn c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(
      "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde"
      "GET /echo/b?q=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string r1 = c.ReadResponse();
  EXPECT_THAT(r1, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(r1, HasSubstr("Connection: keep-alive"));
  EXPECT_THAT(r1, HasSubstr("\r\n\r\nhello\n"));
  EXPECT_THAT(c.ReadResponse(), HasSubstr("\r\n\r\nPOST a 5\n"));
  EXPECT_THAT(c.ReadResponse(), HasSubstr("\r\n\r\nGET b 0\n"));
  EXPECT_EQ(server_->connections(), 1);
}

TEST_F(HttpServerTest, RoutesPickExactThenLongestPrefixAndAnswer404And405) {
  StartServer();
  EXPECT_THAT(Get("/echo/deeper/x"), HasSubstr("\r\n\r\ndeeper x\n"));
  EXPECT_THAT(Get("/echo/x"), HasSubstr("\r\n\r\nGET x 0\n"));
  EXPECT_THAT(Get("/nothing"), StartsWith("HTTP/1.1 404"));
  Conn c(server_->port());
  c.Send("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string r = c.ReadResponse();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(r, HasSubstr("Allow: GET, HEAD"));
}

TEST_F(HttpServerTest, HeadSendsTheLengthWithoutABody) {
  StartServer();
  Conn c(server_->port());
  c.Send("HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const std::string r = c.ReadAll();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(r, HasSubstr("Content-Length: 6\r\n"));
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "");
}

// Request smuggling needs two parsers that disagree on where a request
// ends; each shape gets 400 and the connection closed, so nothing after it
// on the connection is read as a request.
TEST_F(HttpServerTest, SmugglingShapesGet400AndTheConnectionCloses) {
  StartServer();
  const std::string tail = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  struct Case {
    const char* name;
    std::string head;
  };
  for (const Case& c : std::vector<Case>{
           {"two Content-Lengths",
            "POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
            "Content-Length: 0\r\n\r\nabc"},
           {"equal Content-Lengths",
            "POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
            "Content-Length: 3\r\n\r\nabc"},
           {"chunked plus length",
            "POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
           {"length plus chunked",
            "POST /echo/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            "Content-Length: 5\r\n\r\n0\r\n\r\n"},
           {"obs-fold",
            "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n folded\r\n\r\n"},
           {"obs-fold with tab",
            "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\tfolded\r\n\r\n"},
           {"blank before colon",
            "GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length : 0\r\n\r\n"},
           {"signed length",
            "POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: "
            "+3\r\n\r\nabc"},
           {"bare LF lines", "GET /hello HTTP/1.1\nHost: t\n\n"},
           {"bare CR in a value",
            "GET /hello HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n"},
           {"two Hosts", "GET /hello HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n"},
           {"no Host", "GET /hello HTTP/1.1\r\n\r\n"},
           {"double space in request line",
            "GET  /hello HTTP/1.1\r\nHost: t\r\n\r\n"},
           {"unknown version", "GET /hello HTTP/1.2\r\nHost: t\r\n\r\n"},
           {"chunked in HTTP/1.0",
            "POST /echo/a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n"},
           {"control character in target",
            "GET /hel\x01lo HTTP/1.1\r\nHost: t\r\n\r\n"},
       }) {
    Conn conn(server_->port());
    ASSERT_TRUE(conn.connected());
    conn.Send(c.head + tail);
    const std::string r = conn.ReadAll();  // the server closes
    EXPECT_THAT(r, StartsWith("HTTP/1.1 400")) << c.name;
    EXPECT_THAT(r, HasSubstr("Connection: close")) << c.name;
    EXPECT_THAT(r, ::testing::Not(HasSubstr("hello\n"))) << c.name;
  }
  // Still serving.
  EXPECT_THAT(Get("/hello"), StartsWith("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, OversizedHeadsAre431AndBodies413) {
  HttpServerOptions o;
  o.max_header_bytes = 4096;
  o.max_body_bytes = 1000;
  StartServer(o);
  {
    Conn c(server_->port());
    c.Send(StrCat("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ",
                  std::string(5000, 'a'), "\r\n\r\n"));
    EXPECT_THAT(c.ReadAll(), StartsWith("HTTP/1.1 431"));
  }
  {
    // Past what h2o reads at all (~400 KiB): refused, no crash.
    Conn c(server_->port());
    c.Send(StrCat("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ",
                  std::string(600 * 1024, 'a'), "\r\n\r\n"));
    c.CloseWrite();
    EXPECT_THAT(c.ReadAll(), StartsWith("HTTP/1.1 4"));
  }
  {
    Conn c(server_->port());
    c.Send("POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    EXPECT_THAT(c.ReadAll(), StartsWith("HTTP/1.1 413"));
  }
  {
    Conn c(server_->port());
    c.Send(StrCat("POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 1000",
                  "\r\n\r\n", std::string(1000, 'b')));
    EXPECT_THAT(c.ReadResponse(), HasSubstr("\r\n\r\nPOST a 1000\n"));
  }
  EXPECT_THAT(Get("/hello"), StartsWith("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitGet503) {
  HttpServerOptions o;
  o.max_connections = 2;
  o.threads = 1;
  StartServer(o);
  Conn a(server_->port()), b(server_->port());
  a.Send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  b.Send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_THAT(a.ReadResponse(), StartsWith("HTTP/1.1 200"));
  ASSERT_THAT(b.ReadResponse(), StartsWith("HTTP/1.1 200"));
  Conn c(server_->port());
  EXPECT_THAT(c.ReadAll(), StartsWith("HTTP/1.1 503"));
  EXPECT_EQ(server_->connections(), 2);
}

TEST_F(HttpServerTest, SilentAndSlowClientsAreClosedAfterTheRequestTimeout) {
  HttpServerOptions o;
  o.request_timeout = absl::Milliseconds(200);
  StartServer(o);
  Conn silent(server_->port());
  Conn slow(server_->port());
  slow.Send("GET /hello HTTP/1.1\r\nHo");  // and never the rest
  // Both reads end because the server closes (no response owed).
  EXPECT_EQ(silent.ReadAll().find("200 OK"), std::string::npos);
  EXPECT_EQ(slow.ReadAll().find("200 OK"), std::string::npos);
}

TEST_F(HttpServerTest, ReadersThatStopReadingAreCutAfterTheWriteTimeout) {
  HttpServerOptions o;
  o.write_timeout = absl::Milliseconds(200);
  StartServer(o);
  Conn stalled(server_->port());
  stalled.Send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
  // Wait for the states: the server took the connection, then dropped it
  // (a hang here means it never does; ctest's timeout ends it).
  while (server_->connections() != 1)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  while (server_->connections() != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // What was already in flight arrives, then end of file, short of 64 MiB.
  EXPECT_LT(stalled.ReadAll().size(), size_t{64} << 20);
  EXPECT_TRUE(stalled.eof());
}

TEST_F(HttpServerTest, ShutdownClosesIdleConnectionsAndCutsStalledOnes) {
  StartServer();
  std::vector<std::unique_ptr<Conn>> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(std::make_unique<Conn>(server_->port()));
    idle.back()->Send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_THAT(idle.back()->ReadResponse(), StartsWith("HTTP/1.1 200"));
  }
  // A client that asks for 64 MiB and reads none of it.
  Conn stalled(server_->port());
  stalled.Send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
  server_->Shutdown(absl::Milliseconds(100));
  EXPECT_EQ(server_->connections(), 0);
  for (auto& c : idle) EXPECT_EQ(c->ReadAll(), "");
  EXPECT_LT(stalled.ReadAll().size(), size_t{64} << 20);
  Conn after(server_->port());
  EXPECT_FALSE(after.connected());
}

// Many malformed heads over real connections, made by mutating valid ones
// with a fixed seed. The server must never crash, answer 200 only to heads
// the strict parser accepts, and answer what it refuses with 400 (or 413,
// 431, or a close).
TEST_F(HttpServerTest, MutatedHeadsNeverCrashAndOnlyValidOnesAreServed) {
  StartServer();
  const std::vector<std::string> seeds = {
      "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
      "HEAD /hello HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"x\"\r\n"
      "Range: bytes=0-10\r\n\r\n",
      "POST /echo/p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
      "GET /echo/x HTTP/1.0\r\n\r\n",
      "POST /echo/c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n",
  };
  const std::string alphabet =
      std::string("\r\n \t:\x00\x7f\xff", 8) + "aZ0-;,\"/?%";
  std::mt19937 rng(17);
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  std::set<int> seen;
  for (int i = 0; i < 1500; ++i) {
    std::string req = seeds[pick(seeds.size())];
    const int edits = 1 + static_cast<int>(pick(4));
    for (int e = 0; e < edits && !req.empty(); ++e) {
      const size_t at = pick(req.size());
      switch (pick(5)) {
        case 0:  // replace a byte
          req[at] = alphabet[pick(alphabet.size())];
          break;
        case 1:  // insert a byte
          req.insert(at, 1, alphabet[pick(alphabet.size())]);
          break;
        case 2:  // drop a byte
          req.erase(at, 1);
          break;
        case 3: {  // repeat a header line
          const size_t s = req.find("\r\n");
          const size_t e2 = req.find("\r\n", s + 2);
          if (s != std::string::npos && e2 != std::string::npos)
            req.insert(s + 2, req.substr(s + 2, e2 - s));
          break;
        }
        default:  // cut
          req.resize(at);
      }
    }
    Conn c(server_->port());
    ASSERT_TRUE(c.connected()) << "the server is gone after input " << i;
    c.Send(req);
    c.CloseWrite();
    const std::string r = c.ReadAll();
    const int status = StatusOf(r);
    seen.insert(status);
    const size_t end = req.find("\r\n\r\n");
    int parse_error = 0;
    const bool strict_ok =
        end != std::string::npos &&
        internal::ParseRequestHead(std::string_view(req).substr(0, end),
                                   &parse_error)
            .has_value();
    if (status == 200) {
      EXPECT_TRUE(strict_ok) << "served a head the strict parser refuses: "
                             << ::testing::PrintToString(req);
    }
    if (!strict_ok) {
      EXPECT_TRUE(status == 0 || status == 400 || status == 413 ||
                  status == 431)
          << status << " for " << ::testing::PrintToString(req);
    }
  }
  EXPECT_TRUE(seen.count(400)) << "the corpus should contain refusals";
  EXPECT_TRUE(seen.count(200)) << "and heads that stay valid";
  EXPECT_THAT(Get("/hello"), StartsWith("HTTP/1.1 200"));
}

struct Curl {
  int exit_code;
  std::string out;
};

Curl RunCurl(const std::string& args, const std::string& out_file) {
  const std::string cmd = StrCat("curl -sS -i ", args, " > ", out_file);
  const int status = std::system(cmd.c_str());
  return Curl{WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              PosixFileSystem()->ReadFile(out_file).value_or("")};
}

TEST_F(HttpServerTest, CleartextHttp2OnlyWhenAskedFor) {
  StartServer();
  testing::TempDir dir;
  const std::string url =
      StrCat("http://127.0.0.1:", server_->port(), "/hello");
  // An h2c upgrade would skip the strict HTTP/1 head check: not offered.
  Curl upgrade = RunCurl("--http2 " + url, JoinPath(dir.path(), "up"));
  ASSERT_EQ(upgrade.exit_code, 0) << "curl (./strata.sh deps)";
  EXPECT_THAT(upgrade.out, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(
      RunCurl("--http2-prior-knowledge " + url, JoinPath(dir.path(), "pk")).out,
      ::testing::Not(HasSubstr("HTTP/2 200")));
  server_.reset();
  HttpServerOptions o;
  o.cleartext_http2 = true;
  StartServer(o);
  Curl c = RunCurl(StrCat("--http2-prior-knowledge http://127.0.0.1:",
                          server_->port(), "/hello"),
                   JoinPath(dir.path(), "out"));
  ASSERT_EQ(c.exit_code, 0);
  EXPECT_THAT(c.out, StartsWith("HTTP/2 200"));
  EXPECT_THAT(c.out, HasSubstr("hello\n"));
}

TEST_F(HttpServerTest, TlsWithAlpnServesHttp2AndHttp11) {
  signing::SelfSignedTlsOptions tls_options;
  tls_options.now = absl::Now();
  auto tls = signing::GenerateSelfSignedTls(tls_options);
  ASSERT_THAT(tls, IsOk());
  HttpServerOptions o;
  o.tls_cert_pem = tls->server_cert_pem;
  o.tls_key_pem = tls->server_key_pem;
  StartServer(o);
  EXPECT_TRUE(server_->tls());
  testing::TempDir dir;
  const std::string ca = JoinPath(dir.path(), "ca.pem");
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(), ca, tls->ca_cert_pem),
              IsOk());
  const std::string url =
      StrCat("https://localhost:", server_->port(), "/hello");
  Curl h2 = RunCurl(StrCat("--http2 --cacert ", ca, " ", url),
                    JoinPath(dir.path(), "h2"));
  ASSERT_EQ(h2.exit_code, 0);
  EXPECT_THAT(h2.out, StartsWith("HTTP/2 200"));
  Curl h1 = RunCurl(StrCat("--http1.1 --cacert ", ca, " ", url),
                    JoinPath(dir.path(), "h1"));
  ASSERT_EQ(h1.exit_code, 0);
  EXPECT_THAT(h1.out, StartsWith("HTTP/1.1 200"));
  // Plain HTTP on the TLS port is not served.
  EXPECT_EQ(StatusOf(Get("/hello")), 0);
}

// Delivery calls whose WatchConfig stream ends while it opens, with
// `end_with` (as a stopping server's or an unreadable store's stream does).
class EndingWatchCalls : public DeliveryCalls {
 public:
  explicit EndingWatchCalls(absl::Status end_with)
      : end_with_(std::move(end_with)) {}
  absl::Status HandleCheck(const v1::CheckRequest&,
                           v1::CheckResponse*) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::Status HandleReport(const std::string&, const v1::ReportRequest&,
                            v1::ReportResponse*, absl::Duration*) override {
    return absl::UnimplementedError("not in this test");
  }
  class Call : public WatchCall {
   public:
    explicit Call(std::atomic<int>* open) : open_(open) { ++*open_; }
    ~Call() override { --*open_; }
    void WriteDone() override {}
    void Cancel() override {}

   private:
    std::atomic<int>* open_;
  };
  absl::StatusOr<std::unique_ptr<WatchCall>> HandleWatch(
      const v1::WatchConfigRequest&, ConfigSink* sink) override {
    auto call = std::make_unique<Call>(&open_);
    sink->End(end_with_);
    return call;
  }
  int open() const { return open_.load(); }

 private:
  absl::Status end_with_;
  std::atomic<int> open_{0};
};

// A stream that ends while it opens answers its status, as a refusal is
// (not a 200 with an empty body), and its call is let go; one that ends
// cleanly is an empty stream.
TEST(HttpWatchOpenTest, AStreamThatEndsWhileItOpensAnswersItsStatus) {
  for (const bool clean : {false, true}) {
    SCOPED_TRACE(clean ? "ended OK" : "ended UNAVAILABLE");
    EndingWatchCalls calls(
        clean ? absl::OkStatus()
              : absl::UnavailableError("the server is stopping"));
    HttpRouter router;
    AddDeliveryRoutes(router, &calls);
    auto server =
        HttpServer::Start("127.0.0.1:0", std::move(router).AsHandler(), {});
    ASSERT_THAT(server, IsOk());
    Conn c((*server)->port());
    ASSERT_TRUE(c.Send(StrCat("POST ", kDeliveryWatchConfigPath,
                              " HTTP/1.1\r\nHost: t\r\n"
                              "Content-Type: application/x-protobuf\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n"
                              "\r\n")));
    const std::string answer = c.ReadAll();
    if (clean) {
      EXPECT_EQ(StatusOf(answer), 200) << answer;
    } else {
      EXPECT_EQ(StatusOf(answer), 503) << answer;
      EXPECT_THAT(answer, HasSubstr("the server is stopping"));
      EXPECT_THAT(answer, HasSubstr("Strata-Status: 14"));
      EXPECT_EQ(calls.open(), 0) << "the call was kept";
    }
    server->reset();  // a stream's call lives until its response is over
    EXPECT_EQ(calls.open(), 0) << "the call outlived the server";
  }
}

TEST(HttpServerOptionsTest, BadTlsMaterialIsInvalidArgument) {
  HttpServerOptions o;
  o.tls_cert_pem = "not a certificate";
  o.tls_key_pem = "not a key";
  auto server = HttpServer::Start("127.0.0.1:0", EchoRouter(), o);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("--tls-cert"));
}

}  // namespace
}  // namespace strata::server
