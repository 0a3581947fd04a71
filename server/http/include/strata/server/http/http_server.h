// stratad's HTTP front: blobs for CDNs, TUF files, /metrics, and the routes
// later issues add (http_router.h). Built on h2o's event-loop library
// (libh2o-evloop, docs/architecture.md "HTTP"): HTTP/1.1 keep-alive and
// HTTP/2 (h2c and, with TLS, ALPN), a few event-loop threads and no thread
// per connection. Handlers run on the loop thread that read the request, so
// they must not block for long (a cached blob or a RocksDB point read is
// fine; anything slower belongs on a worker pool).
#ifndef STRATA_SERVER_HTTP_HTTP_SERVER_H_
#define STRATA_SERVER_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/mutex.h"

struct ssl_ctx_st;

namespace strata::server {

struct HttpRequest {
  std::string method;
  std::string path;  // the request target as sent (path and query)
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;  // at most HttpServerOptions::max_body_bytes
  std::string peer;  // the client's address, "ip:port" ("" if unknown)
};

// A response body the server pushes as it has it, for as long as the
// client stays (WatchConfig over HTTP, delivery_handler.h). A handler makes
// one and returns it in HttpResponse::push: the status and header fields
// go out with the first bytes written, with no Content-Length (HTTP/1.1
// chunked, an open HTTP/2 stream). Thread-safe.
class HttpPushStream {
 public:
  // `on_close` is called once, on the connection's loop thread, when the
  // response is over: End's last byte went out, the client went away, or
  // the server cut the connection. Nothing is sent after it. It is never
  // called for a stream that no response took (the handler's to drop).
  // `heartbeat`: bytes the server writes when the stream has been idle
  // for HttpServerOptions::push_heartbeat (empty: never); it keeps proxies
  // from cutting an idle response. Over HTTP/1.1 the server reads nothing
  // while it answers, so at each heartbeat scan (every half period) it also
  // peeks at the socket for the client's FIN and closes the stream then.
  static std::shared_ptr<HttpPushStream> Create(std::function<void()> on_close,
                                                std::string heartbeat = "");
  virtual ~HttpPushStream() = default;
  // Queues `bytes` after what is queued. `sent` is called on the loop
  // thread once they were handed to the connection (the client's flow
  // control permitting): a writer that waits for it keeps one write in
  // flight. Never called after on_close. Writes before the response starts
  // wait for it.
  virtual void Write(std::string bytes, std::function<void()> sent) = 0;
  // Ends the body after what is queued. Idempotent.
  virtual void End() = 0;
};

struct HttpResponse {
  int status = 200;
  // Content-Length, Connection and Transfer-Encoding are the server's: set
  // here they are ignored.
  std::map<std::string, std::string> headers;
  // The body is, in this order of precedence:
  //  - `push` when set: what the handler writes there, for as long as it
  //    likes (HttpPushStream);
  //  - `body_reader` when set: called with (offset, max) and appends at
  //    most `max` bytes of the body at `offset` to `out`, for bodies too
  //    large to hold at once; `body_length` bytes in all;
  //  - `body_view` when `body_owner` is set: bytes kept alive by the owner
  //    (a cached blob) and sent without a copy;
  //  - `body`.
  std::string body;
  std::shared_ptr<HttpPushStream> push;
  std::shared_ptr<const void> body_owner;
  std::string_view body_view;
  std::function<absl::Status(uint64_t offset, uint64_t max, std::string* out)>
      body_reader;
  uint64_t body_length = 0;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // Open connections (all threads); one more is answered 503 and closed.
  int max_connections = 12000;
  // Request line plus header fields; larger: 431. (h2o itself refuses a
  // head over ~400 KiB or with over 100 fields with 400 before that.)
  size_t max_header_bytes = 16 * 1024;
  // Request bodies; larger: 413.
  size_t max_body_bytes = 1 << 20;
  // A connection is closed when a request head (and body) has not arrived
  // this long after the connection opened or the previous response was
  // sent: the keep-alive idle limit and the slow-sender limit in one.
  absl::Duration request_timeout = absl::Seconds(30);
  // A connection with a response waiting to be written whose peer has
  // acknowledged no byte of it this long is closed (a stalled reader); the
  // same bound is the socket's TCP_USER_TIMEOUT, so a peer that vanished
  // (no FIN, no RST) is dropped this long after a write it never
  // acknowledged, a heartbeat included.
  absl::Duration write_timeout = absl::Seconds(60);
  // A pushed response (HttpPushStream) idle this long gets its heartbeat.
  absl::Duration push_heartbeat = absl::Seconds(30);
  // HTTP/2 connections with no stream open this long are closed.
  absl::Duration http2_idle_timeout = absl::Seconds(60);
  // TLS handshakes must finish within this.
  absl::Duration tls_handshake_timeout = absl::Seconds(10);
  // HTTP/2 without TLS (prior knowledge and `Upgrade: h2c`). Off by
  // default: h2o 2.2.5 turns both on or off together, and an upgraded
  // request is served as an HTTP/2 stream without the strict HTTP/1 head
  // check (h2c smuggling). HTTP/2 over TLS (ALPN) is always on.
  bool cleartext_http2 = false;
  // Event-loop threads, each with its own listening socket (SO_REUSEPORT).
  int threads = 2;
  // PEM certificate chain and private key: when both are set the port
  // speaks TLS only (HTTP/2 through ALPN, else HTTP/1.1).
  std::string tls_cert_pem;
  std::string tls_key_pem;
};

class HttpServer {
 public:
  // Listens on `address` (host:port; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, HttpHandler handler,
      HttpServerOptions options = {});
  ~HttpServer();
  int port() const { return port_; }
  bool tls() const { return tls_; }
  // Connections open right now (all threads).
  int connections() const { return connections_.load(); }
  // Stops accepting, lets responses in flight finish and closes idle
  // keep-alive connections at once; at `deadline` every connection left is
  // cut. Returns when all loop threads are gone. Idempotent.
  void Shutdown(absl::Duration deadline = absl::Seconds(5));

  struct Loop;  // one event-loop thread (http_server.cc)

 private:
  HttpServer() = default;

  int port_ = 0;
  bool tls_ = false;
  HttpHandler handler_;
  HttpServerOptions options_;
  ssl_ctx_st* ssl_ctx_ = nullptr;  // owned (src/tls_context.h)
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> deadline_ms_{0};  // steady clock, once stopping
  // Each loop is made, run and destroyed on one thread of a process-wide
  // set (h2o keeps per-thread caches that only a thread's exit would drop,
  // as leaks; the threads are reused by the next server). A loop is
  // destroyed only under wake_mu_, so Shutdown can wake them all under it.
  Mutex wake_mu_;
  std::vector<Loop*> loops_ ABSL_GUARDED_BY(wake_mu_);
  CondVar loop_done_;
  int running_ ABSL_GUARDED_BY(wake_mu_) = 0;  // loops not yet destroyed
  bool shut_down_ = false;

  friend struct Loop;
  friend struct ServerAccess;
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
