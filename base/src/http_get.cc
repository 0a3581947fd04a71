#include "strata/base/http_get.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

struct ParsedUrl {
  std::string host;
  std::string port = "80";
  std::string path = "/";
};

absl::StatusOr<ParsedUrl> ParseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        strata::StrCat("unsupported URL '", url, "': only http:// is allowed"));
  }
  url.remove_prefix(kScheme.size());
  ParsedUrl out;
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos)
    out.path = std::string(url.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    out.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
    if (out.port.empty() || out.port.size() > 5 ||
        out.port.find_first_not_of("0123456789") != std::string::npos) {
      return absl::InvalidArgumentError(
          strata::StrCat("invalid port in URL '", url, "'"));
    }
  }
  if (authority.empty()) {
    return absl::InvalidArgumentError(
        strata::StrCat("missing host in URL '", url, "'"));
  }
  for (char c : out.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "URL path contains whitespace or "
          "control characters");
    }
  }
  out.host = std::string(authority);
  return out;
}

class Socket {
 public:
  Socket() = default;
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd_ = -1;
};

class Deadline {
 public:
  Deadline(Clock* clock, absl::Duration timeout)
      : clock_(clock), end_(clock->Now() + timeout) {}
  // Milliseconds left for poll(), at least 0.
  int RemainingMs() const {
    const absl::Duration left = end_ - clock_->Now();
    if (left <= absl::ZeroDuration()) return 0;
    return static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
  }
  bool Expired() const { return clock_->Now() >= end_; }

 private:
  Clock* clock_;
  absl::Time end_;
};

absl::Status DeadlineError(std::string_view url, std::string_view phase,
                           absl::Duration timeout) {
  return absl::DeadlineExceededError(strata::StrCat(
      "GET ", url, ": ", phase, " did not finish within ",
      absl::FormatDuration(timeout), " (server too slow or stalled)"));
}

// Waits until `fd` is ready for `events` or the deadline passes.
absl::Status WaitFor(int fd, short events, const Deadline& deadline,
                     std::string_view url, std::string_view phase,
                     absl::Duration timeout) {
  while (true) {
    const int ms = deadline.RemainingMs();
    if (ms <= 0 || deadline.Expired()) {
      return DeadlineError(url, phase, timeout);
    }
    pollfd p{fd, events, 0};
    const int r = poll(&p, 1, ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          strata::StrCat("GET ", url, ": poll failed: ", std::strerror(errno)));
    }
    if (r > 0) return absl::OkStatus();
  }
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(std::string_view url,
                                     const HttpGetOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : SystemClock();
  const Deadline deadline(clock, options.timeout);
  absl::StatusOr<ParsedUrl> parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  const int gai =
      getaddrinfo(parsed->host.c_str(), parsed->port.c_str(), &hints, &addrs);
  if (gai != 0) {
    return absl::UnavailableError(
        strata::StrCat("GET ", url, ": cannot resolve ", parsed->host, ": ",
                       gai_strerror(gai)));
  }
  Socket sock;
  absl::Status connect_status = absl::UnavailableError(
      strata::StrCat("GET ", url, ": no address to connect to"));
  for (addrinfo* a = addrs; a != nullptr; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               a->ai_protocol);
    if (fd < 0) continue;
    if (sock.fd_ >= 0) close(sock.fd_);
    sock.fd_ = fd;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      connect_status = absl::OkStatus();
      break;
    }
    if (errno != EINPROGRESS) {
      connect_status = absl::UnavailableError(strata::StrCat(
          "GET ", url, ": connect failed: ", std::strerror(errno)));
      continue;
    }
    connect_status =
        WaitFor(fd, POLLOUT, deadline, url, "connect", options.timeout);
    if (!connect_status.ok()) break;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) break;
    connect_status = absl::UnavailableError(
        strata::StrCat("GET ", url, ": connect failed: ", std::strerror(err)));
  }
  freeaddrinfo(addrs);
  if (!connect_status.ok()) return connect_status;

  const std::string request = strata::StrCat(
      "GET ", parsed->path, " HTTP/1.1\r\nHost: ", parsed->host,
      "\r\nConnection: close\r\nAccept-Encoding: identity\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    absl::Status s =
        WaitFor(sock.fd_, POLLOUT, deadline, url, "sending", options.timeout);
    if (!s.ok()) return s;
    const ssize_t n = send(sock.fd_, request.data() + sent,
                           request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(
          strata::StrCat("GET ", url, ": send failed: ", std::strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }

  // Read headers, then the body, never holding more than the caps allow.
  std::string buffer;
  HttpResponse response;
  bool headers_done = false;
  bool has_length = false;
  uint64_t content_length = 0;
  char chunk[16 * 1024];
  while (true) {
    absl::Status s =
        WaitFor(sock.fd_, POLLIN, deadline, url,
                headers_done ? "reading the body" : "reading the headers",
                options.timeout);
    if (!s.ok()) return s;
    size_t want = sizeof(chunk);
    if (headers_done) {
      // Read at most one byte past the cap: enough to know it was exceeded.
      const uint64_t cap =
          std::min<uint64_t>(options.max_body_bytes, UINT64_MAX - 1);
      const uint64_t room = cap + 1 - response.body.size();
      want = static_cast<size_t>(std::min<uint64_t>(want, room));
    }
    const ssize_t n = recv(sock.fd_, chunk, want, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(
          strata::StrCat("GET ", url, ": recv failed: ", std::strerror(errno)));
    }
    if (n == 0) break;  // server closed
    if (!headers_done) {
      buffer.append(chunk, static_cast<size_t>(n));
      const size_t end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (buffer.size() > options.max_header_bytes) {
          return absl::ResourceExhaustedError(
              strata::StrCat("GET ", url, ": response headers exceed ",
                             options.max_header_bytes, " bytes"));
        }
        continue;
      }
      if (end > options.max_header_bytes) {
        return absl::ResourceExhaustedError(
            strata::StrCat("GET ", url, ": response headers exceed ",
                           options.max_header_bytes, " bytes"));
      }
      std::string_view head(buffer.data(), end);
      const size_t line_end = head.find("\r\n");
      std::string_view status_line = head.substr(0, line_end);
      if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12 ||
          status_line[8] != ' ') {
        return absl::DataLossError(strata::StrCat(
            "GET ", url, ": malformed status line '", status_line, "'"));
      }
      int code = 0;
      for (size_t i = 9; i < 12; ++i) {
        const char c = status_line[i];
        if (c < '0' || c > '9') {
          return absl::DataLossError(strata::StrCat(
              "GET ", url, ": malformed status code in '", status_line, "'"));
        }
        code = code * 10 + (c - '0');
      }
      response.status_code = code;
      std::string_view rest =
          line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
      while (!rest.empty()) {
        const size_t eol = rest.find("\r\n");
        std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string name = ToLower(Trim(line.substr(0, colon)));
        const std::string_view value = Trim(line.substr(colon + 1));
        if (name == "content-length") {
          if (value.empty() || value.size() > 19 ||
              value.find_first_not_of("0123456789") != std::string::npos) {
            return absl::DataLossError(strata::StrCat(
                "GET ", url, ": invalid Content-Length '", value, "'"));
          }
          content_length = 0;
          for (char c : value) {
            content_length =
                content_length * 10 + static_cast<uint64_t>(c - '0');
          }
          has_length = true;
        } else if (name == "transfer-encoding" &&
                   ToLower(value) != "identity") {
          return absl::UnimplementedError(strata::StrCat(
              "GET ", url, ": Transfer-Encoding '", value, "' not supported"));
        }
      }
      if (has_length && content_length > options.max_body_bytes) {
        return absl::ResourceExhaustedError(strata::StrCat(
            "GET ", url, ": Content-Length ", content_length,
            " exceeds the limit of ", options.max_body_bytes, " bytes"));
      }
      headers_done = true;
      response.body = buffer.substr(end + 4);
      buffer.clear();
    } else {
      response.body.append(chunk, static_cast<size_t>(n));
    }
    if (response.body.size() > options.max_body_bytes) {
      return absl::ResourceExhaustedError(
          strata::StrCat("GET ", url, ": body exceeds the limit of ",
                         options.max_body_bytes, " bytes; stopped reading"));
    }
    if (has_length && response.body.size() > content_length) {
      return absl::DataLossError(
          strata::StrCat("GET ", url, ": body longer than its Content-Length ",
                         content_length));
    }
    if (has_length && response.body.size() == content_length) break;
  }
  if (!headers_done) {
    return absl::DataLossError(
        strata::StrCat("GET ", url, ": connection closed before the headers"));
  }
  if (has_length && response.body.size() < content_length) {
    return absl::DataLossError(strata::StrCat(
        "GET ", url, ": connection closed after ", response.body.size(), " of ",
        content_length, " body bytes"));
  }
  return response;
}

}  // namespace strata
