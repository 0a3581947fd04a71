#include "h2_check_driver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace strata::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  struct Slot {
    std::string body;    // the request
    size_t body_at = 0;  // sent so far
    std::string answer;  // the response body so far
    int status = 0;
    Clock::time_point sent;
  };
  int fd = -1;
  nghttp2_session* session = nullptr;
  std::vector<Slot> slots;
  const std::function<void(uint64_t, v1::CheckRequest*)>* make = nullptr;
  std::atomic<uint64_t>* next = nullptr;
  const std::atomic<bool>* stop = nullptr;
  int outstanding = 0;
  std::vector<double> latencies;
  std::string error;
  std::string authority;

  ~Conn() {
    if (session != nullptr) nghttp2_session_del(session);
    if (fd >= 0) ::close(fd);
  }

  void Submit(Slot* s) {
    v1::CheckRequest request;
    (*make)(next->fetch_add(1), &request);
    s->body = request.SerializeAsString();
    s->body_at = 0;
    s->answer.clear();
    s->status = 0;
    static const std::string kPost = "POST", kHttp = "http",
                             kPath = "/v1/delivery/check",
                             kType = "application/x-protobuf";
    auto nv = [](const char* name, const std::string& value) {
      return nghttp2_nv{
          reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())),
          std::strlen(name), value.size(), NGHTTP2_NV_FLAG_NONE};
    };
    const nghttp2_nv head[] = {nv(":method", kPost), nv(":scheme", kHttp),
                               nv(":authority", authority), nv(":path", kPath),
                               nv("content-type", kType)};
    nghttp2_data_provider body{};
    body.source.ptr = s;
    body.read_callback = &ReadBody;
    s->sent = Clock::now();
    if (nghttp2_submit_request(session, nullptr, head, 5, &body, s) < 0) {
      error = "submit failed";
      return;
    }
    ++outstanding;
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf,
                          size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void*) {
    auto* s = static_cast<Slot*>(source->ptr);
    const size_t n = std::min(length, s->body.size() - s->body_at);
    std::memcpy(buf, s->body.data() + s->body_at, n);
    s->body_at += n;
    if (s->body_at == s->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
  static ssize_t Send(nghttp2_session*, const uint8_t* data, size_t length, int,
                      void* user) {
    const ssize_t n =
        ::send(static_cast<Conn*>(user)->fd, data, length, MSG_NOSIGNAL);
    if (n < 0) {
      return errno == EAGAIN || errno == EWOULDBLOCK
                 ? NGHTTP2_ERR_WOULDBLOCK
                 : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return n;
  }
  static int OnData(nghttp2_session* session, uint8_t, int32_t id,
                    const uint8_t* data, size_t len, void*) {
    auto* s =
        static_cast<Slot*>(nghttp2_session_get_stream_user_data(session, id));
    if (s != nullptr)
      s->answer.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame,
                      const uint8_t* name, size_t namelen, const uint8_t* value,
                      size_t valuelen, uint8_t, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS || namelen != 7 ||
        std::memcmp(name, ":status", 7) != 0) {
      return 0;
    }
    auto* s = static_cast<Slot*>(
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (s != nullptr)
      s->status = std::atoi(
          std::string(reinterpret_cast<const char*>(value), valuelen).c_str());
    return 0;
  }
  static int OnClose(nghttp2_session* session, int32_t id, uint32_t code,
                     void* user) {
    auto* c = static_cast<Conn*>(user);
    auto* s =
        static_cast<Slot*>(nghttp2_session_get_stream_user_data(session, id));
    if (s == nullptr) return 0;
    --c->outstanding;
    v1::CheckResponse response;
    // Every device of the bench has updates to get: an answer without any
    // is not stratad's decision.
    if (code != 0 || s->status != 200 || !response.ParseFromString(s->answer) ||
        response.plan().updates_size() == 0) {
      if (c->error.empty()) {
        c->error = "Check over HTTP/2: status " + std::to_string(s->status) +
                   ", reset " + std::to_string(code) + ": " +
                   s->answer.substr(0, 200);
      }
      return 0;
    }
    c->latencies.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - s->sent)
            .count());
    if (!c->stop->load(std::memory_order_relaxed)) c->Submit(s);
    return 0;
  }

  void Loop() {
    char buf[64 * 1024];
    for (;;) {
      if (nghttp2_session_send(session) != 0) error = "send failed";
      if (!error.empty() || (stop->load() && outstanding == 0)) return;
      pollfd p{fd, POLLIN, 0};
      if (nghttp2_session_want_write(session)) p.events |= POLLOUT;
      if (::poll(&p, 1, 100) <= 0) continue;
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r == 0) {
          error = "the server closed the connection";
          return;
        }
        if (r > 0 &&
            nghttp2_session_mem_recv(session, reinterpret_cast<uint8_t*>(buf),
                                     static_cast<size_t>(r)) < 0) {
          error = "bad HTTP/2 from the server";
          return;
        }
      }
    }
  }
};

}  // namespace

H2CheckResult DriveH2Check(
    int port, int connections, int in_flight, double seconds,
    const std::function<void(uint64_t, v1::CheckRequest*)>& make_request) {
  H2CheckResult out;
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_send_callback(cbs, &Conn::Send);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Conn::OnData);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Conn::OnHeader);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Conn::OnClose);
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Conn>> conns;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  for (int i = 0; i < connections; ++i) {
    auto c = std::make_unique<Conn>();
    c->make = &make_request;
    c->next = &next;
    c->stop = &stop;
    c->authority = "127.0.0.1:" + std::to_string(port);
    c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
        0) {
      out.error = std::string("connect: ") + std::strerror(errno);
      nghttp2_session_callbacks_del(cbs);
      return out;
    }
    int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(c->fd, F_SETFL, ::fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    nghttp2_session_client_new(&c->session, cbs, c.get());
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 1);
    const int mine = in_flight / connections + (i < in_flight % connections);
    c->slots.resize(static_cast<size_t>(mine));
    conns.push_back(std::move(c));
  }
  nghttp2_session_callbacks_del(cbs);
  const auto start = Clock::now();
  for (auto& c : conns)
    for (auto& s : c->slots) c->Submit(&s);
  std::vector<std::thread> threads;
  for (auto& c : conns) threads.emplace_back([p = c.get()] { p->Loop(); });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& t : threads) t.join();
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& c : conns) {
    if (out.error.empty()) out.error = c->error;
    out.latencies_ms.insert(out.latencies_ms.end(), c->latencies.begin(),
                            c->latencies.end());
  }
  out.calls = out.latencies_ms.size();
  return out;
}

}  // namespace strata::bench
