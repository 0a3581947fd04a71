#include "strata/server/http/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <latch>
#include <new>
#include <thread>
#include <unordered_map>
#include <unordered_set>

// h2o's headers are C; they are system headers here (no warnings of ours).
#define H2O_USE_LIBUV 0
#include "h2o.h"
#include "h2o/http1.h"
#include "h2o/http2.h"
#include "h2o/multithread.h"
#include "h2o/version.h"
#include "request_head.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/strings.h"
#include "tcp_progress.h"
#include "tls_context.h"

namespace strata::server {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return status < 400 ? "OK" : "Internal Server Error";
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

uint64_t Millis(absl::Duration d) {
  return static_cast<uint64_t>(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

h2o_iovec_t PoolCopy(h2o_mem_pool_t* pool, std::string_view s) {
  return h2o_strdup(pool, s.data(), s.size());
}

// A C++ object owned by an h2o request's memory pool: destroyed when the
// request is done, after the last byte that points into it was written.
template <typename T, typename... Args>
T* NewInPool(h2o_mem_pool_t* pool, Args&&... args) {
  void* mem = h2o_mem_alloc_shared(pool, sizeof(T),
                                   [](void* p) { static_cast<T*>(p)->~T(); });
  return new (mem) T(std::forward<Args>(args)...);
}

// A body produced piece by piece as the client reads it (HttpResponse::
// body_reader). `super` comes first: h2o hands back the generator pointer.
struct StreamGenerator {
  h2o_generator_t super;
  std::function<absl::Status(uint64_t, uint64_t, std::string*)> reader;
  uint64_t offset = 0;
  uint64_t end = 0;
  std::string piece;

  static constexpr uint64_t kPiece = 256 * 1024;

  static void Proceed(h2o_generator_t* g, h2o_req_t* req) {
    auto* self = reinterpret_cast<StreamGenerator*>(g);
    self->SendNext(req);
  }

  void SendNext(h2o_req_t* req) {
    piece.clear();
    const uint64_t want = std::min(kPiece, end - offset);
    absl::Status s = reader(offset, want, &piece);
    if (!s.ok() || piece.empty() || piece.size() > want) {
      STRATA_LOG(Warning) << "HTTP body of " << ToStd(req->input.path)
                          << " at byte " << offset << ": "
                          << (s.ok() ? absl::DataLossError("short read") : s);
      h2o_send(req, nullptr, 0, H2O_SEND_STATE_ERROR);
      return;
    }
    offset += piece.size();
    h2o_iovec_t buf = h2o_iovec_init(piece.data(), piece.size());
    h2o_send(req, &buf, 1,
             offset == end ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
  }

  static std::string ToStd(h2o_iovec_t v) { return std::string(v.base, v.len); }
};

h2o_generator_t kNoMoreGenerator = {nullptr, nullptr};

// The bytes of the current HTTP/1 request's head, still at the start of
// the socket's input buffer when the handler runs: h2o consumes a request
// (head and body) only after its response, and copies what it keeps of a
// request with a body to the request's pool. nullopt when no complete
// head is there (then the request is refused: nothing unchecked gets
// through).
std::optional<std::string_view> RawHttp1Head(h2o_req_t* req) {
  if (req->conn->callbacks->get_socket == nullptr) return std::nullopt;
  h2o_socket_t* sock = req->conn->callbacks->get_socket(req->conn);
  if (sock == nullptr || sock->input == nullptr) return std::nullopt;
  std::string_view rest(sock->input->bytes, sock->input->size);
  // Empty lines before a request line are allowed (RFC 9112 2.2).
  while (!rest.empty() && (rest.front() == '\r' || rest.front() == '\n'))
    rest.remove_prefix(1);
  // The first empty line ends the head; a bare LF one is kept in the head
  // so that the strict parser refuses it.
  for (size_t i = 0; i + 1 < rest.size(); ++i) {
    if (rest[i] != '\n') continue;
    if (rest[i + 1] == '\n') return rest.substr(0, i + 2);
    if (rest[i + 1] == '\r' && i + 2 < rest.size() && rest[i + 2] == '\n')
      return rest.substr(0, i > 0 && rest[i - 1] == '\r' ? i - 1 : i + 1);
  }
  return std::nullopt;
}

}  // namespace

// HttpPushStream: writes from any thread are queued here and posted to the
// connection's loop thread (one message in flight at most), which hands
// them to h2o one at a time (h2o takes the next only after `proceed`).
class PushStreamImpl final
    : public HttpPushStream,
      public std::enable_shared_from_this<PushStreamImpl> {
 public:
  PushStreamImpl(std::function<void()> on_close, std::string heartbeat)
      : heartbeat_(std::move(heartbeat)), on_close_(std::move(on_close)) {
    message_.stream = this;
  }
  void Write(std::string bytes, std::function<void()> sent) override {
    MutexLock lock(&mu_);
    if (closed_ || ended_) return;
    queue_.push_back(Piece{std::move(bytes), std::move(sent)});
    PostLocked();
  }
  void End() override {
    MutexLock lock(&mu_);
    if (closed_ || ended_) return;
    ended_ = true;
    PostLocked();
  }

  // The loop thread: the response started on `req`.
  void Attach(HttpServer::Loop* loop, h2o_req_t* req);
  // The loop thread: h2o wrote the last piece.
  void Proceed();
  // The loop thread: the request is disposed (its pool destroyed).
  void Closed();
  // The loop thread: writes the heartbeat if nothing went out for
  // `idle_ms` and nothing waits.
  void Heartbeat(int64_t now_ms, int64_t idle_ms);
  // The loop thread: a posted wake-up (the message `m`).
  static void OnMessage(h2o_multithread_message_t* m);

 private:
  struct Piece {
    std::string bytes;
    std::function<void()> sent;
  };
  // What a post carries; `super` first (h2o links it into the receiver).
  struct Message {
    h2o_multithread_message_t super;
    PushStreamImpl* stream;
  };
  void PostLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The loop thread: hands h2o the next piece, or the end, if none is out.
  void Pump();

  const std::string heartbeat_;
  Mutex mu_;
  std::deque<Piece> queue_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  HttpServer::Loop* loop_ ABSL_GUARDED_BY(mu_) = nullptr;  // once attached
  bool posted_ ABSL_GUARDED_BY(mu_) = false;
  // Holds the stream while a message is posted.
  std::shared_ptr<PushStreamImpl> self_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_close_ ABSL_GUARDED_BY(mu_);
  Message message_{};
  // The loop thread's own: the request (null once closed), the piece h2o
  // has, whether h2o has one, and whether the end was handed over.
  h2o_req_t* req_ = nullptr;
  Piece sending_;
  bool in_flight_ = false;
  bool final_sent_ = false;
  HttpServer::Loop* attached_ = nullptr;
  int64_t last_write_ms_ = 0;
};

// The generator of a pushed response; `super` first. Lives in the
// request's pool: its destruction is the stream's close.
struct PushGenerator {
  h2o_generator_t super;
  std::shared_ptr<PushStreamImpl> stream;
  ~PushGenerator() { stream->Closed(); }
  static void OnProceed(h2o_generator_t* g, h2o_req_t*) {
    reinterpret_cast<PushGenerator*>(g)->stream->Proceed();
  }
};

std::shared_ptr<HttpPushStream> HttpPushStream::Create(
    std::function<void()> on_close, std::string heartbeat) {
  return std::make_shared<PushStreamImpl>(std::move(on_close),
                                          std::move(heartbeat));
}

// What the server's C callbacks reach: private state through a friend.
struct ServerAccess {
  static HttpHandler& handler(HttpServer* s) { return s->handler_; }
  static const HttpServerOptions& options(HttpServer* s) { return s->options_; }
  static std::atomic<int>& connections(HttpServer* s) {
    return s->connections_;
  }
  static bool stopping(HttpServer* s) { return s->stopping_.load(); }
};

struct HttpServer::Loop {
  // The route h2o calls; `super` first (h2o allocates it, zeroed).
  struct Handler {
    h2o_handler_t super;
    Loop* loop;
  };
  struct SocketRef {
    Loop* loop;
    h2o_socket_t* sock;
  };

  HttpServer* server = nullptr;
  int listen_fd = -1;
  h2o_globalconf_t config;
  h2o_context_t ctx;
  h2o_accept_ctx_t accept_ctx;
  h2o_evloop_t* evloop = nullptr;
  h2o_socket_t* listener = nullptr;
  h2o_multithread_queue_t* queue = nullptr;
  h2o_multithread_receiver_t wake;
  // What the write timeout watches: bytes the peer acknowledged, and since
  // when that number has not moved while a write waits.
  struct Progress {
    uint64_t acked = 0;
    int64_t since_ms = 0;
  };
  // Pushed responses in progress on this loop (its thread only).
  std::unordered_set<PushStreamImpl*> pushes;
  // Open connections of this loop (its thread only).
  std::unordered_map<h2o_socket_t*, Progress> sockets;
  int64_t next_sweep_ms = 0;
  int64_t next_heartbeat_ms = 0;

  Loop(HttpServer* s, int fd, ssl_ctx_st* ssl) : server(s), listen_fd(fd) {
    const HttpServerOptions& o = ServerAccess::options(s);
    h2o_config_init(&config);
    config.server_name = h2o_iovec_init(H2O_STRLIT("stratad"));
    config.max_request_entity_size = o.max_body_bytes;
    config.http1.req_timeout = Millis(o.request_timeout);
    config.http2.idle_timeout = Millis(o.http2_idle_timeout);
    config.http2.graceful_shutdown_timeout = Millis(o.request_timeout);
    config.handshake_timeout = Millis(o.tls_handshake_timeout);
    config.http1.upgrade_to_http2 = o.cleartext_http2 ? 1 : 0;
    h2o_hostconf_t* host = h2o_config_register_host(
        &config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t* path = h2o_config_register_path(host, "/", 0);
    auto* h =
        reinterpret_cast<Handler*>(h2o_create_handler(path, sizeof(Handler)));
    h->super.on_req = &Loop::OnRequest;
    h->loop = this;
    evloop = h2o_evloop_create();
    h2o_context_init(&ctx, evloop, &config);
    std::memset(&accept_ctx, 0, sizeof(accept_ctx));
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    accept_ctx.ssl_ctx = ssl;
    queue = h2o_multithread_create_queue(evloop);
    h2o_multithread_register_receiver(
        queue, &wake, [](h2o_multithread_receiver_t*, h2o_linklist_t* list) {
          while (!h2o_linklist_is_empty(list)) {
            auto* m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link,
                                             list->next);
            h2o_linklist_unlink(&m->link);
            PushStreamImpl::OnMessage(m);
          }
        });
    listener =
        h2o_evloop_socket_create(evloop, listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = this;
    h2o_socket_read_start(listener, &Loop::OnAccept);
  }

  ~Loop() {
    if (listener != nullptr) h2o_socket_close(listener);
    // HTTP/2's graceful-shutdown timer (GOAWAY resends) may still be set;
    // h2o_context_dispose insists on empty timers.
    if (h2o_timeout_is_linked(&ctx.http2._graceful_shutdown_timeout))
      h2o_timeout_unlink(&ctx.http2._graceful_shutdown_timeout);
    // Push streams' wake-ups still queued (posted before their connection
    // closed) are delivered first: h2o insists on an empty receiver.
    for (int i = 0; i < 1000 && pushes_posted.load() > 0; ++i)
      h2o_evloop_run(evloop, 10);
    h2o_multithread_unregister_receiver(queue, &wake);
    h2o_multithread_destroy_queue(queue);
    h2o_multithread_queue_t* context_queue = ctx.queue;
    h2o_context_dispose(&ctx);
#if H2O_LIBRARY_VERSION_MAJOR == 0 && H2O_LIBRARY_VERSION_MINOR == 13
    // libh2o-evloop 0.13 (h2o 2.2.5) closes a queue's pipe but never frees
    // the queue itself.
    std::free(queue);
    std::free(context_queue);
#else
    (void)context_queue;
#endif
    // Closed sockets are freed on the loop's next turn.
    h2o_evloop_run(evloop, 0);
    h2o_evloop_destroy(evloop);
    h2o_config_dispose(&config);
  }

  void Wake() { h2o_multithread_send_message(&wake, nullptr); }
  // A push stream's wake-up (PushStreamImpl), from any thread.
  void Post(h2o_multithread_message_t* m) {
    pushes_posted.fetch_add(1);
    h2o_multithread_send_message(&wake, m);
  }
  std::atomic<int> pushes_posted{0};

  // The loop thread: serves until Shutdown, then drains.
  void Run(const std::atomic<int64_t>* deadline_ms) {
    bool draining = false, cut = false;
    for (;;) {
      int32_t wait = INT32_MAX;
      if (ServerAccess::stopping(server)) {
        if (!draining) {
          draining = true;
          StopAccepting();
          h2o_context_request_shutdown(&ctx);
          // Idle keep-alive connections read end-of-file and close; a
          // response being written is finished first.
          for (const auto& [s, progress] : sockets)
            ::shutdown(h2o_socket_get_fd(s), SHUT_RD);
        }
        if (sockets.empty()) break;
        const int64_t left = deadline_ms->load() - NowMs();
        if (left <= 0 && !cut) {
          cut = true;
          for (const auto& [s, progress] : sockets)
            ::shutdown(h2o_socket_get_fd(s), SHUT_RDWR);
        }
        wait = static_cast<int32_t>(std::clamp<int64_t>(left, 1, 50));
      }
      const int64_t now = NowMs();
      if (now >= next_sweep_ms) {
        CutStalledWriters(now);
        const int64_t idle = absl::ToInt64Milliseconds(
            ServerAccess::options(server).push_heartbeat);
        // Pushed responses are looked at twice per heartbeat period, not
        // at every sweep (100,000 of them cost a few % of a core a scan).
        if (idle > 0 && now >= next_heartbeat_ms) {
          next_heartbeat_ms = now + std::max<int64_t>(1, idle / 2);
          // Heartbeat can close a stream (and so erase it): a copy.
          std::vector<PushStreamImpl*> all(pushes.begin(), pushes.end());
          for (PushStreamImpl* p : all)
            if (pushes.count(p) != 0) p->Heartbeat(now, idle);
        }
        next_sweep_ms = now + SweepEveryMs();
      }
      wait = static_cast<int32_t>(
          std::min<int64_t>(wait, std::max<int64_t>(1, next_sweep_ms - now)));
      h2o_evloop_run(evloop, wait);
    }
  }

  int64_t SweepEveryMs() const {
    const HttpServerOptions& o = ServerAccess::options(server);
    int64_t every = absl::ToInt64Milliseconds(o.write_timeout) / 4;
    const int64_t heartbeat = absl::ToInt64Milliseconds(o.push_heartbeat);
    if (heartbeat > 0) every = std::min(every, heartbeat / 2);
    return std::clamp<int64_t>(every, 10, 1000);
  }

  // A connection with a write waiting whose peer has acknowledged nothing
  // for write_timeout is cut (its socket shut down: h2o sees the error and
  // closes it). h2o 2.2.5 has no write timeout of its own.
  void CutStalledWriters(int64_t now) {
    const int64_t timeout =
        absl::ToInt64Milliseconds(ServerAccess::options(server).write_timeout);
    for (auto& [s, p] : sockets) {
      const int fd = h2o_socket_get_fd(s);
      uint64_t acked = 0;
      const bool known =
          h2o_socket_is_writing(s) && internal::BytesAcked(fd, &acked);
      if (!known || acked != p.acked) {
        p.acked = acked;
        p.since_ms = now;
      } else if (now - p.since_ms >= timeout) {
        ::shutdown(fd, SHUT_RDWR);
      }
    }
  }

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void StopAccepting() {
    if (listener == nullptr) return;
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);  // closes listen_fd
    listener = nullptr;
  }

  static void OnAccept(h2o_socket_t* listener, const char* err) {
    auto* self = static_cast<Loop*>(listener->data);
    if (err != nullptr) return;
    const int max = ServerAccess::options(self->server).max_connections;
    std::atomic<int>& open = ServerAccess::connections(self->server);
    for (int i = 0; i < 64; ++i) {
      h2o_socket_t* sock = h2o_evloop_socket_accept(listener);
      if (sock == nullptr) return;
      if (open.fetch_add(1) >= max) {
        open.fetch_sub(1);
        static constexpr std::string_view kBusy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
            "Connection: close\r\nRetry-After: 1\r\n\r\n";
        (void)::send(h2o_socket_get_fd(sock), kBusy.data(), kBusy.size(),
                     MSG_DONTWAIT | MSG_NOSIGNAL);
        h2o_socket_close(sock);
        continue;
      }
      // A peer that vanished without a FIN or RST (a phone changing
      // networks) is dropped once data it has not acknowledged is
      // write_timeout old, even when h2o has nothing left to write (a
      // heartbeat fits in the kernel's buffer): the kernel times it out.
      const unsigned user_timeout = static_cast<unsigned>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(
              ServerAccess::options(self->server).write_timeout),
          1, int64_t{1} << 31));
      (void)::setsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_USER_TIMEOUT,
                         &user_timeout, sizeof(user_timeout));
      auto* ref = new SocketRef{self, sock};
      sock->on_close.cb = &Loop::OnClose;
      sock->on_close.data = ref;
      self->sockets.emplace(sock, Progress{0, NowMs()});
      h2o_accept(&self->accept_ctx, sock);
    }
  }

  static void OnClose(void* data) {
    auto* ref = static_cast<SocketRef*>(data);
    ref->loop->sockets.erase(ref->sock);
    ServerAccess::connections(ref->loop->server).fetch_sub(1);
    delete ref;
  }

  static int OnRequest(h2o_handler_t* h, h2o_req_t* req) {
    Loop* self = reinterpret_cast<Handler*>(h)->loop;
    self->Handle(req);
    return 0;
  }

  void Refuse(h2o_req_t* req, int status, std::string_view why) {
    req->http1_is_persistent = 0;
    HttpResponse r;
    r.status = status;
    r.headers["Content-Type"] = "text/plain; charset=utf-8";
    r.headers["Connection"] = "close";
    r.body = StrCat(why, "\n");
    Send(req, std::move(r), /*head_only=*/false);
  }

  static std::string PeerOf(h2o_conn_t* conn) {
    sockaddr_storage sa{};
    const socklen_t len =
        conn->callbacks->get_peername(conn, reinterpret_cast<sockaddr*>(&sa));
    char host[NI_MAXHOST];
    const size_t n =
        h2o_socket_getnumerichost(reinterpret_cast<sockaddr*>(&sa), len, host);
    if (n == SIZE_MAX) return "";
    return StrCat(std::string_view(host, n), ":",
                  h2o_socket_getport(reinterpret_cast<sockaddr*>(&sa)));
  }

  void Handle(h2o_req_t* req) {
    const HttpServerOptions& o = ServerAccess::options(server);
    HttpRequest request;
    if (req->version < 0x200) {
      std::optional<std::string_view> head = RawHttp1Head(req);
      if (!head.has_value()) return Refuse(req, 400, "malformed request");
      if (head->size() > o.max_header_bytes) {
        return Refuse(
            req, 431,
            StrCat("request head over ", o.max_header_bytes, " bytes"));
      }
      int error = 0;
      std::optional<HttpRequest> parsed =
          internal::ParseRequestHead(*head, &error);
      if (!parsed.has_value()) {
        return Refuse(req, error == 0 ? 400 : error,
                      "malformed request head (RFC 9112)");
      }
      request = *std::move(parsed);
    } else {
      size_t size = req->input.path.len + req->input.method.len;
      for (size_t i = 0; i < req->headers.size; ++i) {
        const h2o_header_t& e = req->headers.entries[i];
        size += e.name->len + e.value.len;
        request.headers[std::string(e.name->base, e.name->len)] =
            std::string(e.value.base, e.value.len);
      }
      if (size > o.max_header_bytes) {
        return Refuse(
            req, 431,
            StrCat("request head over ", o.max_header_bytes, " bytes"));
      }
      request.method.assign(req->input.method.base, req->input.method.len);
      request.path.assign(req->input.path.base, req->input.path.len);
    }
    if (req->entity.base != nullptr)
      request.body.assign(req->entity.base, req->entity.len);
    request.peer = PeerOf(req->conn);
    HttpResponse response = ServerAccess::handler(server)(request);
    Send(req, std::move(response), request.method == "HEAD");
  }

  void Send(h2o_req_t* req, HttpResponse&& r, bool head_only) {
    req->res.status = r.status;
    req->res.reason = Reason(r.status);
    for (const auto& [name, value] : r.headers) {
      if (EqualsIgnoreCase(name, "content-length") ||
          EqualsIgnoreCase(name, "transfer-encoding")) {
        continue;
      }
      if (EqualsIgnoreCase(name, "connection")) {
        if (EqualsIgnoreCase(value, "close")) req->http1_is_persistent = 0;
        continue;
      }
      std::string lower(name);
      for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      h2o_iovec_t n = PoolCopy(&req->pool, lower);
      h2o_iovec_t orig = PoolCopy(&req->pool, name);
      h2o_iovec_t v = PoolCopy(&req->pool, value);
      h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1,
                            orig.base, v.base, v.len);
    }
    const bool no_body = r.status == 204 || r.status == 304 ||
                         (r.status >= 100 && r.status < 200);
    if (r.push != nullptr && !no_body && !head_only) {
      auto* g = NewInPool<PushGenerator>(&req->pool);
      g->super.proceed = &PushGenerator::OnProceed;
      g->super.stop = nullptr;
      g->stream = std::static_pointer_cast<PushStreamImpl>(std::move(r.push));
      h2o_start_response(req, &g->super);
      g->stream->Attach(this, req);
      return;
    }
    if (no_body) {
      h2o_start_response(req, &kNoMoreGenerator);
      h2o_send(req, nullptr, 0, H2O_SEND_STATE_FINAL);
      return;
    }
    if (r.body_reader) {
      req->res.content_length = r.body_length;
      if (head_only || r.body_length == 0) {
        h2o_start_response(req, &kNoMoreGenerator);
        h2o_send(req, nullptr, 0, H2O_SEND_STATE_FINAL);
        return;
      }
      auto* g = NewInPool<StreamGenerator>(&req->pool);
      g->super.proceed = &StreamGenerator::Proceed;
      g->super.stop = nullptr;
      g->reader = std::move(r.body_reader);
      g->end = r.body_length;
      h2o_start_response(req, &g->super);
      g->SendNext(req);
      return;
    }
    std::string_view bytes;
    if (r.body_owner != nullptr) {
      bytes = r.body_view;
      NewInPool<std::shared_ptr<const void>>(&req->pool,
                                             std::move(r.body_owner));
    } else {
      auto* owned = NewInPool<std::string>(&req->pool, std::move(r.body));
      bytes = *owned;
    }
    req->res.content_length = bytes.size();
    h2o_start_response(req, &kNoMoreGenerator);
    if (head_only || bytes.empty()) {
      h2o_send(req, nullptr, 0, H2O_SEND_STATE_FINAL);
      return;
    }
    h2o_iovec_t buf =
        h2o_iovec_init(const_cast<char*>(bytes.data()), bytes.size());
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
  }
};

void PushStreamImpl::PostLocked() {
  if (loop_ == nullptr || posted_) return;
  posted_ = true;
  self_ = shared_from_this();
  loop_->Post(&message_.super);
}

void PushStreamImpl::OnMessage(h2o_multithread_message_t* m) {
  PushStreamImpl* self = reinterpret_cast<Message*>(m)->stream;
  std::shared_ptr<PushStreamImpl> hold;
  {
    MutexLock lock(&self->mu_);
    self->posted_ = false;
    hold = std::move(self->self_);
    self->loop_->pushes_posted.fetch_sub(1);
  }
  self->Pump();
}

void PushStreamImpl::Attach(HttpServer::Loop* loop, h2o_req_t* req) {
  req_ = req;
  attached_ = loop;
  loop->pushes.insert(this);
  last_write_ms_ = HttpServer::Loop::NowMs();
  {
    MutexLock lock(&mu_);
    loop_ = loop;
  }
  // The head goes out with the first bytes.
  Pump();
}

void PushStreamImpl::Pump() {
  if (req_ == nullptr || in_flight_ || final_sent_) return;
  bool final = false;
  {
    MutexLock lock(&mu_);
    if (!queue_.empty()) {
      sending_ = std::move(queue_.front());
      queue_.pop_front();
    } else if (ended_) {
      final = true;
    } else {
      return;
    }
  }
  if (final) {
    final_sent_ = true;
    h2o_send(req_, nullptr, 0, H2O_SEND_STATE_FINAL);
    return;
  }
  in_flight_ = true;
  last_write_ms_ = HttpServer::Loop::NowMs();
  h2o_iovec_t buf =
      h2o_iovec_init(sending_.bytes.data(), sending_.bytes.size());
  h2o_send(req_, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

void PushStreamImpl::Proceed() {
  in_flight_ = false;
  std::function<void()> sent = std::move(sending_.sent);
  sending_ = Piece{};
  if (sent && req_ != nullptr) sent();
  Pump();
}

void PushStreamImpl::Heartbeat(int64_t now_ms, int64_t idle_ms) {
  if (heartbeat_.empty() || req_ == nullptr || in_flight_ || final_sent_) {
    return;
  }
  // Over HTTP/1.x h2o reads nothing while it answers, so a client that
  // closed its end is seen only when a write fails, and the first write
  // after its FIN still succeeds. Look for the FIN here instead: shut the
  // socket and write at once, so the write fails and h2o closes it.
  bool left = false;
  if (req_->version < 0x200 && req_->conn->callbacks->get_socket != nullptr) {
    if (h2o_socket_t* sock = req_->conn->callbacks->get_socket(req_->conn)) {
      const int fd = h2o_socket_get_fd(sock);
      char c;
      if (::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
        ::shutdown(fd, SHUT_RDWR);
        left = true;
      }
    }
  }
  if (!left && now_ms - last_write_ms_ < idle_ms) return;
  {
    MutexLock lock(&mu_);
    if (!queue_.empty() || ended_) return;
    queue_.push_back(Piece{heartbeat_, nullptr});
  }
  Pump();
}

void PushStreamImpl::Closed() {
  if (attached_ != nullptr) attached_->pushes.erase(this);
  attached_ = nullptr;
  req_ = nullptr;
  sending_ = Piece{};
  std::function<void()> on_close;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    queue_.clear();
    on_close = std::move(on_close_);
  }
  if (on_close) on_close();
}

std::optional<ByteRange> ParseRange(std::string_view header, uint64_t size) {
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view spec = header.substr(kPrefix.size());
  if (spec.find(',') != std::string_view::npos)
    return std::nullopt;  // one range only
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto parse = [](std::string_view s, uint64_t* out) {
    if (s.empty() || s.size() > 19) return false;
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = v;
    return true;
  };
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last n bytes
    uint64_t n;
    if (!parse(b, &n) || n == 0 || size == 0) return std::nullopt;
    first = n >= size ? 0 : size - n;
    return ByteRange{first, size - 1};
  }
  if (!parse(a, &first) || first >= size) return std::nullopt;
  if (b.empty()) return ByteRange{first, size - 1};
  if (!parse(b, &last) || last < first) return std::nullopt;
  return ByteRange{first, std::min(last, size - 1)};
}

namespace {

// The threads h2o loops run on, for the life of the process: h2o keeps
// per-thread caches (memory-pool chunks, socket buffers) that nothing
// frees before the thread exits, so a thread per server would leak them
// (and LeakSanitizer says so). A finished loop's thread waits for the
// next one.
class LoopThreads {
 public:
  static LoopThreads& Get() {
    static LoopThreads* threads = new LoopThreads();  // never destroyed
    return *threads;
  }

  void Run(std::function<void()> fn) {
    MutexLock lock(&mu_);
    work_.push_back(std::move(fn));
    if (waiting_ >= work_.size()) {
      ready_.Signal();
      return;
    }
    std::thread([this] { Serve(); }).detach();
  }

 private:
  void Serve() {
    MutexLock lock(&mu_);
    for (;;) {
      ++waiting_;
      while (work_.empty()) ready_.Wait(&mu_);
      --waiting_;
      std::function<void()> fn = std::move(work_.front());
      work_.pop_front();
      mu_.Unlock();
      fn();
      fn = nullptr;
      mu_.Lock();
    }
  }

  Mutex mu_;
  CondVar ready_;
  std::deque<std::function<void()>> work_ ABSL_GUARDED_BY(mu_);
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

// Listening sockets for `address`, one per thread (SO_REUSEPORT), all on
// the port the first one got.
absl::StatusOr<std::vector<int>> Listen(const std::string& address, int count,
                                        int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("HTTP address '", address, "' must be host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                             port_text.c_str(), &hints, &res);
      rc != 0) {
    return absl::InvalidArgumentError(StrCat("cannot resolve HTTP address '",
                                             address, "': ", gai_strerror(rc)));
  }
  std::vector<int> fds;
  sockaddr_storage addr{};
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  const socklen_t addr_len = res->ai_addrlen;
  const int family = res->ai_family;
  ::freeaddrinfo(res);
  auto fail = [&](std::string_view what) -> absl::Status {
    const int err = errno;
    for (int fd : fds) ::close(fd);
    return absl::UnavailableError(StrCat("cannot ", what, " for HTTP on ",
                                         address, ": ", std::strerror(err),
                                         "; pick another --http"));
  };
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail("open a socket");
    fds.push_back(fd);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0)
      return fail("bind");
    if (::listen(fd, 4096) != 0) return fail("listen");
    if (i == 0) {
      sockaddr_storage bound{};
      socklen_t len = sizeof(bound);
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      *port = bound.ss_family == AF_INET6
                  ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                  : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      if (family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(*port);
      } else {
        reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(*port);
      }
    }
  }
  return fds;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, HttpHandler handler,
    HttpServerOptions options) {
  if (options.threads < 1 || options.threads > 64) {
    return absl::InvalidArgumentError(
        StrCat("HTTP threads must be between 1 and 64, not ", options.threads));
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError(
        "HTTP max connections must be at least 1");
  }
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "HTTP TLS needs both a certificate chain and a key");
  }
  // A peer that closes while a response is written must not kill the
  // process (h2o writes with writev).
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->handler_ = std::move(handler);
  server->options_ = std::move(options);
  const HttpServerOptions& o = server->options_;
  if (!o.tls_cert_pem.empty()) {
    absl::StatusOr<ssl_ctx_st*> ctx =
        internal::NewServerTlsContext(o.tls_cert_pem, o.tls_key_pem);
    if (!ctx.ok()) return ctx.status();
    server->ssl_ctx_ = *ctx;
    server->tls_ = true;
    h2o_ssl_register_alpn_protocols(*ctx, h2o_http2_alpn_protocols);
  }
  absl::StatusOr<std::vector<int>> fds =
      Listen(address, o.threads, &server->port_);
  if (!fds.ok()) return fds.status();
  {
    MutexLock lock(&server->wake_mu_);  // no loop runs yet
    server->loops_.resize(fds->size());
    server->running_ = static_cast<int>(fds->size());
  }
  std::latch ready(static_cast<std::ptrdiff_t>(fds->size()));
  for (size_t i = 0; i < fds->size(); ++i) {
    LoopThreads::Get().Run([s = server.get(), i, fd = (*fds)[i], &ready] {
      auto loop = std::make_unique<Loop>(s, fd, s->ssl_ctx_);
      {
        MutexLock lock(&s->wake_mu_);
        s->loops_[i] = loop.get();
      }
      ready.count_down();
      loop->Run(&s->deadline_ms_);
      MutexLock lock(&s->wake_mu_);
      s->loops_[i] = nullptr;
      loop.reset();
      --s->running_;
      s->loop_done_.SignalAll();
      // `s` may be gone once the lock is released.
    });
  }
  ready.wait();
  return server;
}

HttpServer::~HttpServer() {
  Shutdown();
  if (ssl_ctx_ != nullptr) internal::FreeServerTlsContext(ssl_ctx_);
}

void HttpServer::Shutdown(absl::Duration deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  {
    MutexLock lock(&wake_mu_);
    deadline_ms_ = Loop::NowMs() + absl::ToInt64Milliseconds(deadline);
    stopping_ = true;
    for (Loop* loop : loops_)
      if (loop != nullptr) loop->Wake();
  }
  MutexLock lock(&wake_mu_);
  while (running_ != 0) loop_done_.Wait(&wake_mu_);
}

}  // namespace strata::server
