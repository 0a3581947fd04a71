#include "strata/server/http/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "request_head.h"
#include "strata/base/log.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

constexpr size_t kMaxHeaderBytes = 16 * 1024;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Reads the request head; false when the client sent nothing usable.
std::optional<HttpRequest> ReadRequest(int fd, int* error_status) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (head.size() > kMaxHeaderBytes) {
      *error_status = 431;
      return std::nullopt;
    }
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    head.append(buf, static_cast<size_t>(n));
  }
  head.resize(head.find("\r\n\r\n"));
  return internal::ParseRequestHead(head, error_status);
}

}  // namespace

namespace internal {

std::optional<HttpRequest> ParseRequestHead(std::string_view head,
                                            int* error_status) {
  HttpRequest req;
  size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    *error_status = 400;
    return std::nullopt;
  }
  req.method = std::string(line.substr(0, sp1));
  req.path = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string_view h = head.substr(pos, end - pos);
    size_t colon = h.find(':');
    if (colon != std::string_view::npos) {
      req.headers[Lower(std::string(h.substr(0, colon)))] =
          Trim(h.substr(colon + 1));
    }
    pos = end + 2;
  }
  return req;
}

}  // namespace internal

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

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, HttpHandler handler, int max_connections) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("HTTP address '", address, "' must be host:port"));
  }
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                             port.c_str(), &hints, &res);
      rc != 0) {
    return absl::InvalidArgumentError(StrCat("cannot resolve HTTP address '",
                                             address, "': ", gai_strerror(rc)));
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
      ::listen(fd, 128) != 0) {
    int err = errno;
    ::freeaddrinfo(res);
    if (fd >= 0) ::close(fd);
    return absl::UnavailableError(StrCat("cannot listen for HTTP on ", address,
                                         ": ", std::strerror(err),
                                         "; pick another --http"));
  }
  ::freeaddrinfo(res);
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  std::unique_ptr<HttpServer> server(new HttpServer(
      fd, ntohs(bound.sin_port), std::move(handler), max_connections));
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

HttpServer::HttpServer(int fd, int port, HttpHandler handler,
                       int max_connections)
    : listen_fd_(fd),
      port_(port),
      handler_(std::move(handler)),
      max_connections_(max_connections) {}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return active_ == 0; });
}

void HttpServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (stopping_) break;
      if (errno == EMFILE || errno == ENFILE) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (active_ >= max_connections_) {
        SendAll(fd,
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                "Connection: close\r\nRetry-After: 1\r\n\r\n");
        ::close(fd);
        continue;
      }
      ++active_;
    }
    std::thread([this, fd] {
      Serve(fd);
      ::close(fd);
      std::lock_guard<std::mutex> lock(mu_);
      --active_;
      idle_.notify_all();
    }).detach();
  }
}

void HttpServer::Serve(int fd) {
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  int error_status = 0;
  std::optional<HttpRequest> req = ReadRequest(fd, &error_status);
  HttpResponse resp;
  if (!req.has_value()) {
    if (error_status == 0) return;
    resp.status = error_status;
  } else {
    resp = handler_(*req);
  }
  if (!resp.body_writer && !resp.headers.count("Content-Length")) {
    resp.headers["Content-Length"] = std::to_string(resp.body.size());
  }
  std::string head =
      StrCat("HTTP/1.1 ", resp.status, " ", Reason(resp.status), "\r\n");
  resp.headers["Connection"] = "close";
  for (const auto& [k, v] : resp.headers) head += StrCat(k, ": ", v, "\r\n");
  head += "\r\n";
  if (!SendAll(fd, head)) return;
  const bool head_only = req.has_value() && req->method == "HEAD";
  if (head_only) return;
  if (resp.body_writer) {
    absl::Status s = resp.body_writer(
        [fd](std::string_view piece) { return SendAll(fd, piece); });
    if (!s.ok()) STRATA_LOG(Warning) << "HTTP body: " << s;
  } else {
    SendAll(fd, resp.body);
  }
}

}  // namespace strata::server
