// A real StrataServer in this process: initialized data directory (admin
// token), gRPC and HTTP on loopback ports picked by the kernel.
#ifndef STRATA_TESTS_INTEGRATION_TEST_SERVER_H_
#define STRATA_TESTS_INTEGRATION_TEST_SERVER_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/rpc/strata_server.h"

namespace strata::testing {

class TestServer {
 public:
  // Initializes `data_dir` (once) and starts a server on it.
  void Start(const std::string& data_dir) {
    const std::string token_file = JoinPath(data_dir, "admin.token");
    if (!PosixFileSystem()->Exists(token_file)) {
      ASSERT_THAT(server::InitializeDataDir(data_dir, token_file), IsOk());
    }
    auto token = PosixFileSystem()->ReadFile(token_file);
    ASSERT_THAT(token, IsOk());
    token_ = token->substr(0, token->find('\n'));
    server::ServerOptions options;
    options.data_dir = data_dir;
    options.listen_address = "127.0.0.1:0";
    options.http_address = "127.0.0.1:0";
    options.allow_unsigned_publishes = allow_unsigned_;
    options.gate_interval = gate_interval_;
    options.http.cleartext_http2 = cleartext_http2_;
    if (http_request_timeout_ > absl::ZeroDuration())
      options.http.request_timeout = http_request_timeout_;
    if (http_push_heartbeat_ > absl::ZeroDuration())
      options.http.push_heartbeat = http_push_heartbeat_;
    auto server = server::StrataServer::Start(options);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
  }
  void Stop() {
    if (server_) server_->Shutdown();
    server_.reset();
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(server_->port());
  }
  int http_port() const { return server_->http_port(); }
  const std::string& token() const { return token_; }
  server::StrataServer* get() { return server_.get(); }
  // Tests of other features publish unsigned content; signature tests
  // turn this off.
  void set_allow_unsigned(bool allow) { allow_unsigned_ = allow; }
  // How often the health gates run (before Start).
  void set_gate_interval(absl::Duration d) { gate_interval_ = d; }
  // HTTP/2 without TLS on the HTTP port (before Start).
  void set_cleartext_http2(bool on) { cleartext_http2_ = on; }
  // The HTTP port's request (keep-alive) timeout (before Start).
  void set_http_request_timeout(absl::Duration d) { http_request_timeout_ = d; }
  // How long a pushed HTTP response may stay silent (before Start).
  void set_http_push_heartbeat(absl::Duration d) { http_push_heartbeat_ = d; }

 private:
  std::unique_ptr<server::StrataServer> server_;
  std::string token_;
  bool allow_unsigned_ = true;
  absl::Duration gate_interval_ = absl::Seconds(10);
  bool cleartext_http2_ = false;
  absl::Duration http_request_timeout_ = absl::ZeroDuration();
  absl::Duration http_push_heartbeat_ = absl::ZeroDuration();
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_INTEGRATION_TEST_SERVER_H_
