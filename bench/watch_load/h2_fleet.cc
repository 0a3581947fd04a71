#include "h2_fleet.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "strata/v1/delivery.pb.h"

namespace strata::bench {

struct H2Fleet::Conn {
  struct Stream {
    int index = 0;       // the fleet's stream number
    int version = 0;     // newest seen
    std::string body;    // the request
    size_t body_at = 0;  // sent so far
    std::string in;      // bytes of a frame not yet whole
  };
  H2Fleet* fleet = nullptr;
  int fd = -1;
  nghttp2_session* session = nullptr;
  bool want_out = false;  // EPOLLOUT armed
  std::deque<Stream> streams;
  bool dead = false;

  ~Conn() {
    if (session != nullptr) nghttp2_session_del(session);
    if (fd >= 0) ::close(fd);
  }

  void Fail(const std::string& why) {
    if (!dead && fleet->callbacks_.on_failed) fleet->callbacks_.on_failed(why);
    dead = true;
  }

  void OnFrame(Stream& s, const char* data, size_t n) {
    if (n == 0) return;  // nothing to say yet, or a heartbeat
    v1::ConfigEvent e;
    if (!e.ParseFromArray(data, static_cast<int>(n))) {
      Fail("an event that does not parse");
      return;
    }
    fleet->event_bytes_.store(static_cast<long>(n + 4));
    const int v = std::atoi(e.entry().statement().version().c_str());
    if (v > s.version) {
      fleet->at_ns_[s.index].store(Clock::now().time_since_epoch().count());
      const int from = s.version;
      s.version = v;
      fleet->callbacks_.on_version(s.index, from, v);
    }
  }

  static ssize_t Send(nghttp2_session*, const uint8_t* data, size_t length, int,
                      void* user) {
    auto* c = static_cast<Conn*>(user);
    const ssize_t n = ::send(c->fd, data, length, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return NGHTTP2_ERR_WOULDBLOCK;
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return n;
  }
  static int OnData(nghttp2_session* session, uint8_t, int32_t stream_id,
                    const uint8_t* data, size_t len, void* user) {
    auto* c = static_cast<Conn*>(user);
    auto* s = static_cast<Stream*>(
        nghttp2_session_get_stream_user_data(session, stream_id));
    if (s == nullptr) return 0;
    const char* p = reinterpret_cast<const char*>(data);
    // Whole frames straight from the chunk; a partial one is kept.
    if (!s->in.empty()) {
      s->in.append(p, len);
      p = s->in.data();
      len = s->in.size();
    }
    size_t at = 0;
    while (len - at >= 4) {
      const auto* b = reinterpret_cast<const unsigned char*>(p + at);
      const size_t n = (size_t{b[0]} << 24) | (size_t{b[1]} << 16) |
                       (size_t{b[2]} << 8) | b[3];
      if (len - at - 4 < n) break;
      c->OnFrame(*s, p + at + 4, n);
      at += 4 + n;
    }
    std::string rest(p + at, len - at);
    s->in = std::move(rest);
    return 0;
  }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame,
                      const uint8_t* name, size_t namelen, const uint8_t* value,
                      size_t valuelen, uint8_t, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && namelen == 7 &&
        std::memcmp(name, ":status", 7) == 0 &&
        !(valuelen == 3 && std::memcmp(value, "200", 3) == 0)) {
      static_cast<Conn*>(user)->Fail(
          "status " +
          std::string(reinterpret_cast<const char*>(value), valuelen));
    }
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t, uint32_t error_code,
                     void* user) {
    static_cast<Conn*>(user)->Fail(error_code == 0
                                       ? "a stream ended"
                                       : "a stream was reset (" +
                                             std::to_string(error_code) + ")");
    return 0;
  }
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf,
                          size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void*) {
    auto* s = static_cast<Stream*>(source->ptr);
    const size_t n = std::min(length, s->body.size() - s->body_at);
    std::memcpy(buf, s->body.data() + s->body_at, n);
    s->body_at += n;
    if (s->body_at == s->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

struct H2Fleet::Loop {
  H2Fleet* fleet = nullptr;
  int epfd = -1;
  std::vector<std::unique_ptr<Conn>> conns;
  std::thread thread;
  std::atomic<bool> stop{false};

  ~Loop() {
    conns.clear();
    if (epfd >= 0) ::close(epfd);
  }

  void Arm(Conn* c) {
    const bool out = nghttp2_session_want_write(c->session) != 0;
    if (out == c->want_out) return;
    c->want_out = out;
    epoll_event ev{};
    ev.events = out ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.ptr = c;
    ::epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  }

  void Flush(Conn* c) {
    if (nghttp2_session_send(c->session) != 0) c->Fail("send failed");
    Arm(c);
  }

  void Run() {
    std::vector<epoll_event> events(256);
    char buf[64 * 1024];
    while (!stop.load()) {
      const int n = ::epoll_wait(epfd, events.data(),
                                 static_cast<int>(events.size()), 100);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(events[i].data.ptr);
        if (c->dead) continue;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          for (;;) {
            const ssize_t r = ::recv(c->fd, buf, sizeof buf, 0);
            if (r > 0) {
              if (nghttp2_session_mem_recv(c->session,
                                           reinterpret_cast<uint8_t*>(buf),
                                           static_cast<size_t>(r)) < 0) {
                c->Fail("bad HTTP/2 from the server");
                break;
              }
              continue;
            }
            if (r == 0) {
              if (!stop.load()) c->Fail("the server closed a connection");
              c->dead = true;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
              c->Fail(std::string("recv: ") + std::strerror(errno));
            }
            break;
          }
        }
        if (!c->dead) Flush(c);
      }
    }
  }
};

H2Fleet::H2Fleet(std::string host, int port, int connections, int streams,
                 int threads, Callbacks callbacks)
    : host_(std::move(host)),
      port_(port),
      connections_(connections),
      streams_(streams),
      threads_(threads),
      callbacks_(std::move(callbacks)),
      at_ns_(new std::atomic<Clock::rep>[static_cast<size_t>(streams)]) {
  for (int i = 0; i < streams; ++i) at_ns_[i].store(0);
}

H2Fleet::~H2Fleet() { Stop(); }

H2Fleet::Clock::time_point H2Fleet::at(int i) const {
  return Clock::time_point(Clock::duration(at_ns_[i].load()));
}

bool H2Fleet::Start() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_send_callback(cbs, &Conn::Send);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Conn::OnData);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Conn::OnHeader);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Conn::OnClose);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  ::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
  for (int t = 0; t < threads_; ++t) {
    auto loop = std::make_unique<Loop>();
    loop->fleet = this;
    loop->epfd = ::epoll_create1(EPOLL_CLOEXEC);
    loops_.push_back(std::move(loop));
  }
  const std::string authority = host_ + ":" + std::to_string(port_);
  const std::string post = "POST", http = "http",
                    path = "/v1/delivery/watch-config",
                    type = "application/x-protobuf";
  auto nv = [](const char* name, const std::string& value) {
    return nghttp2_nv{
        reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
        reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())),
        std::strlen(name), value.size(), NGHTTP2_NV_FLAG_NONE};
  };
  const nghttp2_nv head[] = {nv(":method", post), nv(":scheme", http),
                             nv(":authority", authority), nv(":path", path),
                             nv("content-type", type)};
  bool ok = true;
  for (int ci = 0; ci < connections_ && ok; ++ci) {
    Loop* loop = loops_[static_cast<size_t>(ci % threads_)].get();
    auto c = std::make_unique<Conn>();
    c->fleet = this;
    c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
        0) {
      std::fprintf(stderr, "connect: %s\n", std::strerror(errno));
      ok = false;
      break;
    }
    int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(c->fd, F_SETFL, ::fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    nghttp2_session_client_new(&c->session, cbs, c.get());
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 2);
    for (int s = ci; s < streams_; s += connections_) {
      c->streams.emplace_back();
      Conn::Stream& st = c->streams.back();
      st.index = s;
      v1::WatchConfigRequest request;
      request.mutable_device()->set_app_id("wallet");
      request.mutable_device()->set_device_id("watcher-" + std::to_string(s));
      st.body = request.SerializeAsString();
      nghttp2_data_provider body{};
      body.source.ptr = &st;
      body.read_callback = &Conn::ReadBody;
      if (nghttp2_submit_request(c->session, nullptr, head, 5, &body, &st) <
          0) {
        ok = false;
        break;
      }
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c.get();
    c->want_out = true;
    ::epoll_ctl(loop->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    loop->conns.push_back(std::move(c));
  }
  nghttp2_session_callbacks_del(cbs);
  for (auto& loop : loops_) {
    Loop* l = loop.get();
    l->thread = std::thread([l] { l->Run(); });
  }
  return ok;
}

void H2Fleet::Stop() {
  for (auto& loop : loops_) loop->stop.store(true);
  for (auto& loop : loops_)
    if (loop->thread.joinable()) loop->thread.join();
  loops_.clear();  // closes the connections
}

}  // namespace strata::bench
