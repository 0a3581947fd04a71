// stratad's HTTP front against nginx serving the same bytes from files, in
// one run, driven by wrk (all from Debian; ./strata.sh deps installs them).
//
//   http_bench                    # 64 KiB and 4 MiB GETs, a Range GET,
//                                 # then 10,000 idle keep-alive connections
//   http_bench --seconds 10 --connections 32 --stratad-threads 1
//   http_bench --hold 10000       # only the held-connections part
//   http_bench --smoke            # tiny: ctest runs it so it cannot rot
//
// stratad runs as a child process with blobs published through the Admin
// API (stored as zstd chunks in RocksDB); nginx runs as a child with one
// worker, sendfile on, from a generated config in a temp dir. The wrk
// client and the held connections are this process, apart from both
// servers. Printed: requests/s for each server, the ratio stratad/nginx,
// and server CPU per request (from /proc, less sensitive to a busy
// machine than the rates).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/base/http_get.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace {

using Clock = std::chrono::steady_clock;
using strata::StrCat;

struct Options {
  double seconds = 5;
  int connections = 32;  // wrk -c
  int wrk_threads = 1;   // wrk -t
  int stratad_threads = 1;
  int hold = 10000;  // held keep-alive connections
  bool throughput = true;
  bool smoke = false;
  std::string stratad;
};

std::string Dirname(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}

// CPU milliseconds (user + system) of process `pid` and its threads.
double CpuMs(pid_t pid) {
  auto stat =
      strata::PosixFileSystem()->ReadFile(StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return -1;
  const char* p = std::strrchr(stat->c_str(), ')');
  if (p == nullptr) return -1;
  unsigned long long utime = 0, stime = 0;  // NOLINT(runtime/int)
  if (std::sscanf(p + 2,
                  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                  &utime, &stime) != 2) {
    return -1;
  }
  return 1000.0 * static_cast<double>(utime + stime) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// "Threads:" and "VmRSS:" (KiB) of `pid`, summed over `pids`.
long StatusField(pid_t pid, const std::string& field) {  // NOLINT
  auto s =
      strata::PosixFileSystem()->ReadFile(StrCat("/proc/", pid, "/status"));
  if (!s.ok()) return -1;
  const size_t at = s->find(field + ":");
  if (at == std::string::npos) return -1;
  return std::atol(s->c_str() + at + field.size() + 1);
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

pid_t Spawn(std::vector<std::string> args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void Stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

// Waits until `url` answers (the server started) or the child died.
bool WaitServing(pid_t pid, const std::string& url) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    strata::HttpGetOptions o;
    o.max_body_bytes = 64 << 20;
    auto r = strata::HttpGet(url, o);
    if (r.ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

struct Server {
  std::string name;
  pid_t pid = -1;
  int port = 0;
};

struct WrkResult {
  double rps = 0;
  double cpu_us_per_request = 0;
  bool ok = false;
  std::string error;
};

WrkResult Wrk(const Options& o, const Server& s, const std::string& path,
              const std::string& header) {
  const std::string cmd =
      StrCat("wrk --timeout 30s -t", o.wrk_threads, " -c", o.connections, " -d",
             std::max(1, static_cast<int>(o.seconds + 0.5)), "s ",
             header.empty() ? "" : StrCat("-H '", header, "' "),
             "http://127.0.0.1:", s.port, path, " 2>&1");
  const double cpu0 = CpuMs(s.pid);
  const std::string out = Run(cmd);
  const double cpu1 = CpuMs(s.pid);
  WrkResult r;
  const size_t rps = out.find("Requests/sec:");
  const size_t total = out.find(" requests in ");
  if (rps == std::string::npos || total == std::string::npos) {
    r.error =
        "wrk printed no rate (is wrk installed? ./strata.sh deps):\n" + out;
    return r;
  }
  r.rps = std::atof(out.c_str() + rps + 13);
  size_t line = out.rfind('\n', total);
  const double requests =
      std::atof(out.c_str() + (line == std::string::npos ? 0 : line + 1));
  // Timeouts (a 4 MiB response on a busy machine) are not errors; failed
  // connects, reads and writes are.
  int connect_errors = 0, read_errors = 0, write_errors = 0;
  if (const size_t e = out.find("Socket errors:"); e != std::string::npos) {
    std::sscanf(out.c_str() + e, "Socket errors: connect %d, read %d, write %d",
                &connect_errors, &read_errors, &write_errors);
  }
  if (out.find("Non-2xx or 3xx") != std::string::npos ||
      connect_errors + read_errors + write_errors > 0 || requests <= 0) {
    r.error = "wrk saw errors:\n" + out;
    return r;
  }
  r.cpu_us_per_request = 1000.0 * (cpu1 - cpu0) / requests;
  r.ok = true;
  return r;
}

// Opens `n` connections to `port`, sends one keep-alive GET on each and
// reads its response, then keeps them open. Returns the fds (-1: failed).
std::vector<int> Hold(int port, int n, const std::string& path, int* served) {
  std::vector<int> fds;
  *served = 0;
  const std::string req =
      StrCat("GET ", path, " HTTP/1.1\r\nHost: bench\r\n\r\n");
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(req.size())) {
      ::close(fd);
      break;
    }
    fds.push_back(fd);
  }
  for (int fd : fds) {
    char buf[4096];
    std::string got;
    while (got.find("\r\n\r\n") == std::string::npos) {
      const ssize_t k = ::recv(fd, buf, sizeof(buf), 0);
      if (k <= 0) break;
      got.append(buf, static_cast<size_t>(k));
    }
    if (got.rfind("HTTP/1.1 200", 0) == 0) ++*served;
  }
  return fds;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--smoke") {
      o.smoke = true;
      o.seconds = 1;
      o.connections = 4;
      o.hold = 200;
    } else if (a == "--seconds") {
      o.seconds = std::atof(next());
    } else if (a == "--connections") {
      o.connections = std::atoi(next());
    } else if (a == "--wrk-threads") {
      o.wrk_threads = std::atoi(next());
    } else if (a == "--stratad-threads") {
      o.stratad_threads = std::atoi(next());
    } else if (a == "--hold") {
      o.hold = std::atoi(next());
      o.throughput = false;
    } else if (a == "--stratad") {
      o.stratad = next();
    } else {
      std::fprintf(stderr, "unknown flag %s (see the file's header)\n",
                   a.c_str());
      return 2;
    }
  }
  if (o.stratad.empty()) o.stratad = Dirname(argv[0]) + "/stratad";
  // Children inherit the raised limit (the hard limit is 20,000 here).
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  // nginx lives in /usr/sbin, not always on a user's PATH.
  std::string nginx_bin = Run("PATH=$PATH:/usr/sbin command -v nginx");
  if (!nginx_bin.empty() && nginx_bin.back() == '\n') nginx_bin.pop_back();
  if (nginx_bin.empty() || Run("command -v wrk").empty()) {
    std::fprintf(stderr,
                 "http_bench needs nginx and wrk on PATH (Debian packages "
                 "nginx and wrk; ./strata.sh deps installs them)\n");
    return 1;
  }

  char tmpl[] = "/tmp/strata_http_bench_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string data = strata::JoinPath(dir, "data");
  int code = 1;
  Server stratad{"stratad"}, nginx{"nginx"};
  do {
    // stratad with the blobs.
    if (std::system(
            StrCat(o.stratad, " init --data-dir ", data, " >/dev/null 2>&1")
                .c_str()) != 0) {
      std::fprintf(stderr, "stratad init failed (%s)\n", o.stratad.c_str());
      break;
    }
    const std::string token =
        strata::PosixFileSystem()
            ->ReadFile(strata::JoinPath(data, "admin.token"))
            .value_or("");
    const int grpc_port = FreePort();
    stratad.port = FreePort();
    stratad.pid =
        Spawn({o.stratad, "--data-dir", data, "--listen",
               StrCat("127.0.0.1:", grpc_port), "--http",
               StrCat("127.0.0.1:", stratad.port), "--http-threads",
               std::to_string(o.stratad_threads), "--http-max-connections",
               std::to_string(o.hold + 1000), "--allow-unsigned-publishes",
               "--gate-interval", "0"},
              strata::JoinPath(dir, "stratad.log"));
    if (!WaitServing(stratad.pid,
                     StrCat("http://127.0.0.1:", stratad.port, "/healthz"))) {
      std::fprintf(stderr, "stratad did not start; see %s/stratad.log\n",
                   dir.c_str());
      break;
    }
    struct Blob {
      std::string label;
      std::string bytes;
      std::string sha;
    };
    std::vector<Blob> blobs = {{"64 KiB", RandomBytes(64 << 10, 1), ""}};
    if (!o.smoke) blobs.push_back({"4 MiB", RandomBytes(4 << 20, 2), ""});
    strata::admin::AdminClient admin(
        StrCat("127.0.0.1:", grpc_port), token.substr(0, token.find('\n')),
        strata::admin::ChannelSecurity::Plaintext());
    const std::string www = strata::JoinPath(dir, "www");
    bool published = strata::CreateDirs(*strata::PosixFileSystem(),
                                        strata::JoinPath(www, "v1/blobs"))
                         .ok();
    for (size_t i = 0; published && i < blobs.size(); ++i) {
      Blob& b = blobs[i];
      b.sha = strata::Sha256::HexHash(b.bytes);
      strata::v1::ArtifactStatement st;
      st.set_app_id("bench");
      st.mutable_module()->set_layer(strata::v1::LAYER_H5);
      st.mutable_module()->set_name(StrCat("blob-", i));
      st.set_version("1");
      absl::Status s = admin.Publish(st, b.bytes, "").status();
      if (!s.ok()) {
        std::fprintf(stderr, "publish: %s\n", std::string(s.message()).c_str());
        published = false;
        break;
      }
      published = strata::WriteFileAtomically(
                      *strata::PosixFileSystem(),
                      strata::JoinPath(www, "v1/blobs/" + b.sha), b.bytes)
                      .ok();
    }
    if (!published) break;

    // nginx: one worker, sendfile, the same paths.
    nginx.port = FreePort();
    const std::string conf = strata::JoinPath(dir, "nginx.conf");
    const std::string config = StrCat(
        "worker_processes 1;\ndaemon off;\nmaster_process off;\n"
        "user root;\npid ",
        dir, "/nginx.pid;\nerror_log ", dir,
        "/nginx.err warn;\nworker_rlimit_nofile ", files.rlim_cur,
        ";\nevents { worker_connections ", o.hold + 1000,
        "; }\nhttp {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n"
        "  keepalive_requests 100000000;\n  keepalive_timeout 300s;\n"
        "  default_type application/octet-stream;\n"
        "  client_body_temp_path ",
        dir, "/cb;\n  proxy_temp_path ", dir, "/px;\n  fastcgi_temp_path ", dir,
        "/fc;\n  uwsgi_temp_path ", dir, "/uw;\n  scgi_temp_path ", dir,
        "/sc;\n  server {\n    listen 127.0.0.1:", nginx.port, ";\n    root ",
        www,
        ";\n    location = /healthz { return 200 \"ok\\n\"; }\n"
        "  }\n}\n");
    if (!strata::WriteFileAtomically(*strata::PosixFileSystem(), conf, config)
             .ok()) {
      break;
    }
    nginx.pid = Spawn({nginx_bin, "-c", conf, "-p", dir, "-e",
                       strata::JoinPath(dir, "nginx.err")},
                      strata::JoinPath(dir, "nginx.log"));
    if (!WaitServing(nginx.pid,
                     StrCat("http://127.0.0.1:", nginx.port, "/healthz"))) {
      std::fprintf(stderr, "nginx did not start; see %s/nginx.err\n",
                   dir.c_str());
      break;
    }
    // Both serve the same bytes.
    bool same = true;
    for (const Blob& b : blobs) {
      strata::HttpGetOptions g;
      g.max_body_bytes = 64 << 20;
      for (const Server* s : {&stratad, &nginx}) {
        auto r = strata::HttpGet(
            StrCat("http://127.0.0.1:", s->port, "/v1/blobs/", b.sha), g);
        if (!r.ok() || r->status_code != 200 || r->body != b.bytes) {
          std::fprintf(stderr, "%s does not serve blob %s intact\n",
                       s->name.c_str(), b.label.c_str());
          same = false;
        }
      }
    }
    if (!same) break;

    std::printf("load: %s", Run("cat /proc/loadavg").c_str());
    bool failed = false;
    if (o.throughput) {
      std::printf(
          "\nwrk -t%d -c%d, %.1f s per run; stratad --http-threads %d, nginx "
          "1 worker\n\n| request | stratad req/s | nginx req/s | ratio | "
          "stratad CPU us/req | nginx CPU us/req "
          "|\n|---|---|---|---|---|---|\n",
          o.wrk_threads, o.connections, o.seconds, o.stratad_threads);
      struct Case {
        std::string label, path, header;
      };
      std::vector<Case> cases;
      for (const Blob& b : blobs)
        cases.push_back({"GET " + b.label, "/v1/blobs/" + b.sha, ""});
      cases.push_back({"GET 64 KiB, Range 2000 bytes",
                       "/v1/blobs/" + blobs[0].sha, "Range: bytes=1000-2999"});
      for (const Case& c : cases) {
        WrkResult s = Wrk(o, stratad, c.path, c.header);
        WrkResult n = Wrk(o, nginx, c.path, c.header);
        if (!s.ok || !n.ok) {
          std::fprintf(stderr, "%s: %s%s\n", c.label.c_str(), s.error.c_str(),
                       n.error.c_str());
          failed = true;
          continue;
        }
        std::printf("| %s | %.0f | %.0f | %.2f | %.1f | %.1f |\n",
                    c.label.c_str(), s.rps, n.rps, s.rps / n.rps,
                    s.cpu_us_per_request, n.cpu_us_per_request);
      }
    }
    if (o.hold > 0) {
      std::printf(
          "\n| %d idle keep-alive connections | threads before | "
          "threads with them | RSS before (MiB) | RSS with (MiB) | "
          "served |\n|---|---|---|---|---|---|\n",
          o.hold);
      for (const Server* s : {&stratad, &nginx}) {
        const long threads0 = StatusField(s->pid, "Threads");  // NOLINT
        const long rss0 = StatusField(s->pid, "VmRSS");        // NOLINT
        int served = 0;
        std::vector<int> fds = Hold(s->port, o.hold, "/healthz", &served);
        const long threads1 = StatusField(s->pid, "Threads");  // NOLINT
        const long rss1 = StatusField(s->pid, "VmRSS");        // NOLINT
        std::printf("| %s | %ld | %ld | %.1f | %.1f | %d of %d |\n",
                    s->name.c_str(), threads0, threads1, rss0 / 1024.0,
                    rss1 / 1024.0, served, o.hold);
        for (int fd : fds) ::close(fd);
        if (served != o.hold) failed = true;
      }
    }
    std::printf("load: %s", Run("cat /proc/loadavg").c_str());
    code = failed ? 1 : 0;
  } while (false);
  Stop(nginx.pid);
  Stop(stratad.pid);
  if (code == 0)
    (void)strata::DeleteRecursively(*strata::PosixFileSystem(), dir);
  return code;
}
