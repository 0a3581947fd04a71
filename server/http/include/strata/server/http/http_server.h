// A small HTTP/1.1 server for what a CDN or nginx fronts: immutable blobs
// with Range, and the Prometheus metrics page. One thread per connection
// (bounded), `Connection: close` after each response.
#ifndef STRATA_SERVER_HTTP_HTTP_SERVER_H_
#define STRATA_SERVER_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace strata::server {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lowercase names
};

struct HttpResponse {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
  // When set, streams the body instead of `body`: call `write` with pieces
  // (it returns false when the client went away). Content-Length must be
  // set in `headers`.
  std::function<absl::Status(
      const std::function<bool(std::string_view)>& write)>
      body_writer;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Listens on `address` (host:port; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, HttpHandler handler,
      int max_connections = 64);
  ~HttpServer();
  int port() const { return port_; }
  // Stops accepting and waits for open connections to finish.
  void Shutdown();

 private:
  HttpServer(int fd, int port, HttpHandler handler, int max_connections);
  void AcceptLoop();
  void Serve(int fd);

  int listen_fd_;
  int port_;
  HttpHandler handler_;
  int max_connections_;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;
};

// Parses a single `bytes=` range against a blob of `size` bytes:
// "bytes=a-b", "bytes=a-", "bytes=-n". nullopt when unsatisfiable or
// malformed (HTTP then answers 416).
struct ByteRange {
  uint64_t first;
  uint64_t last;  // inclusive
};
std::optional<ByteRange> ParseRange(std::string_view header, uint64_t size);

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_HTTP_SERVER_H_
