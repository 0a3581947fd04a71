// watch_load_bench: many real WatchConfig streams against one stratad.
//
// Starts the stratad binary as a child process (its memory and threads are
// its own), holds N WatchConfig streams from this one process with gRPC's
// callback client, spread over C channels (each its own TCP connection),
// and measures, in one run:
// - the server's RSS and thread count with 0 streams and with N;
// - push latency: from sending CreateRelease until each stream has the
//   new version, p50/p99/max over all streams, for each of R releases;
// - Check throughput (callback client, K calls in flight) with the N
//   streams connected, as a ratio to Check throughput without them.
//
//   watch_load_bench [--streams N] [--channels C] [--releases R]
//                    [--check-seconds S] [--inflight K] [--reports]
//                    [--stratad PATH]
//   (--reports: also Check throughput while K Report calls are in flight,
//   each a synced RocksDB write, without streams)
//   watch_load_bench --smoke     # 200 streams, 8 channels: ctest runs it
//
// Exit code 0 when every stream got every release; 1 otherwise.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int streams = 10000;
  int channels = 100;
  int releases = 3;
  double check_seconds = 5;
  int inflight = 128;
  bool reports = false;  // also: Check while Reports flow
  std::string stratad;   // default: next to this binary
};

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// One field ("VmRSS", "Threads") of /proc/<pid>/status, as a number (kB
// for sizes).
long ProcStatus(pid_t pid, const char* field) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long value = -1;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      value = std::atol(line + n + 1);
      break;
    }
  }
  std::fclose(f);
  return value;
}

// CPU time (user + system) `pid` used so far, in ms ("self" for this
// process).
double CpuMs(const std::string& pid) {
  FILE* f = std::fopen(("/proc/" + pid + "/stat").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the command's closing parenthesis: state is field 3,
  // utime 14, stime 15.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2,
                  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                  &utime, &stime) != 2) {
    return -1;
  }
  return 1000.0 * static_cast<double>(utime + stime) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The stratad binary as a child process on loopback ports it picks.
class Stratad {
 public:
  bool Start(const std::string& binary, const std::string& dir, int streams) {
    const std::string data = strata::JoinPath(dir, "data");
    if (std::system((binary + " init --data-dir " + data + " >/dev/null 2>&1")
                        .c_str()) != 0) {
      std::fprintf(stderr, "stratad init failed (%s)\n", binary.c_str());
      return false;
    }
    auto token = strata::PosixFileSystem()->ReadFile(
        strata::JoinPath(data, "admin.token"));
    if (!token.ok()) return false;
    token_ = token->substr(0, token->find('\n'));
    const std::string port_file = strata::JoinPath(dir, "port");
    std::vector<std::string> args = {binary,
                                     "--data-dir",
                                     data,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--http",
                                     "127.0.0.1:0",
                                     "--port-file",
                                     port_file,
                                     "--allow-unsigned-publishes",
                                     "--gate-interval",
                                     "0",
                                     "--max-watch-streams",
                                     std::to_string(streams + 1000)};
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (!strata::PosixFileSystem()->Exists(port_file)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_ ||
          Clock::now() > deadline) {
        std::fprintf(stderr, "stratad did not start\n");
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto ports = strata::PosixFileSystem()->ReadFile(port_file);
    if (!ports.ok()) return false;
    address_ = "127.0.0.1:" + ports->substr(0, ports->find('\n'));
    return true;
  }
  ~Stratad() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }
  const std::string& token() const { return token_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
  std::string token_;
};

// What every stream saw, shared by all of them.
struct Board {
  explicit Board(int releases) : reached(releases + 2) {
    for (auto& r : reached) r.store(0);
  }
  // reached[v]: streams that have version v or newer.
  std::vector<std::atomic<int>> reached;
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::mutex mu;
  std::condition_variable cv;
  void Bump() {
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
  }
};

// One WatchConfig stream on the callback client: counts each version it
// sees (first time only) and when it saw the newest.
class Watcher : public grpc::ClientReadReactor<strata::v1::ConfigEvent> {
 public:
  Watcher(strata::v1::Delivery::Stub* stub, int index, Board* board)
      : board_(board) {
    request_.mutable_device()->set_app_id("wallet");
    request_.mutable_device()->set_device_id("watcher-" +
                                             std::to_string(index));
    stub->async()->WatchConfig(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    const int v = std::atoi(event_.entry().statement().version().c_str());
    if (v > version_) {
      at_ns_.store(Clock::now().time_since_epoch().count());
      const int top = static_cast<int>(board_->reached.size()) - 1;
      for (int i = version_ + 1; i <= std::min(v, top); ++i) {
        if (board_->reached[i].fetch_add(1) + 1 == target_count_) {
          board_->Bump();
        }
      }
      version_ = v;
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& s) override {
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
      if (board_->failed.fetch_add(1) < 3) {
        std::fprintf(stderr, "stream ended: %d %s\n", s.error_code(),
                     s.error_message().c_str());
      }
    }
    board_->done.fetch_add(1);
    board_->Bump();
  }
  void Cancel() { context_.TryCancel(); }
  // When the stream saw its newest version (read after it is reached).
  Clock::time_point at() const {
    return Clock::time_point(Clock::duration(at_ns_.load()));
  }
  static void set_target_count(int n) { target_count_ = n; }

 private:
  static inline int target_count_ = 0;
  Board* board_;
  grpc::ClientContext context_;
  strata::v1::WatchConfigRequest request_;
  strata::v1::ConfigEvent event_;
  int version_ = 0;
  std::atomic<Clock::rep> at_ns_{0};
};

// Its own TCP connection: channels with different arguments share none.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, int i) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("strata.bench_channel", i);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// Keeps `inflight` unary calls of one kind in flight with the callback
// client over 4 channels of its own until destroyed, and counts those that
// complete between Start() and Rate().
class Driver {
 public:
  enum class Kind { kCheck, kReport };
  Driver(const std::string& address, Kind kind, int inflight, int base)
      : kind_(kind) {
    for (int i = 0; i < 4; ++i) {
      stubs_.push_back(
          strata::v1::Delivery::NewStub(NewChannel(address, base + i)));
    }
    for (int i = 0; i < inflight; ++i) Issue(i);
  }
  ~Driver() {
    stop_ = true;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return outstanding_ == 0; });
    if (errors_ > 0) std::fprintf(stderr, "%ld calls failed\n", errors_);
  }
  void Start() {
    completed_ = 0;
    t0_ = Clock::now();
  }
  double Rate() const {
    return static_cast<double>(completed_.load()) /
           std::chrono::duration<double>(Clock::now() - t0_).count();
  }

 private:
  struct Call {
    grpc::ClientContext context;
    strata::v1::CheckRequest check;
    strata::v1::CheckResponse checked;
    strata::v1::ReportRequest report;
    strata::v1::ReportResponse reported;
  };
  void Issue(int slot) {
    auto* call = new Call;
    const long n = next_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
    }
    auto done = [this, call, slot](grpc::Status s) {
      completed_.fetch_add(1);
      delete call;
      if (!stop_.load()) Issue(slot);
      std::lock_guard<std::mutex> lock(mu_);
      if (!s.ok()) ++errors_;
      if (--outstanding_ == 0) cv_.notify_all();
    };
    auto* stub = stubs_[slot % stubs_.size()].get();
    if (kind_ == Kind::kCheck) {
      call->check.mutable_device()->set_app_id("wallet");
      call->check.mutable_device()->set_device_id("checker-" +
                                                  std::to_string(n % 1000));
      stub->async()->Check(&call->context, &call->check, &call->checked,
                           std::move(done));
    } else {
      // One launch event of a new device each time: a RocksDB write each.
      call->report.mutable_device()->set_app_id("wallet");
      call->report.mutable_device()->set_device_id("reporter-" +
                                                   std::to_string(n));
      strata::v1::ReportEvent* e = call->report.add_events();
      e->set_kind(strata::v1::ReportEvent::KIND_LAUNCH_OK);
      e->set_event_id("e" + std::to_string(n));
      stub->async()->Report(&call->context, &call->report, &call->reported,
                            std::move(done));
    }
  }
  const Kind kind_;
  std::vector<std::unique_ptr<strata::v1::Delivery::Stub>> stubs_;
  std::atomic<bool> stop_{false};
  std::atomic<long> next_{0};
  std::atomic<long> completed_{0};
  Clock::time_point t0_ = Clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  int outstanding_ = 0;
  long errors_ = 0;
};

// Calls a second of `kind` with `inflight` in flight, over `seconds` after
// a short warm-up.
double Throughput(const std::string& address, Driver::Kind kind, int inflight,
                  double seconds) {
  Driver d(address, kind, inflight, 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  d.Start();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  return d.Rate();
}

bool Release(strata::admin::AdminClient& admin, int v) {
  strata::v1::ArtifactStatement st;
  st.set_app_id("wallet");
  st.mutable_module()->set_layer(strata::v1::LAYER_CONFIG);
  st.mutable_module()->set_name("payment.limits");
  st.set_version(std::to_string(v));
  if (!admin.Publish(st, "{\"limit\":" + std::to_string(v) + "}", "").ok()) {
    return false;
  }
  strata::v1::CreateReleaseRequest r;
  r.set_app_id("wallet");
  *r.mutable_module() = st.module();
  r.set_version(std::to_string(v));
  r.set_all_at_once(true);
  auto made = admin.CreateRelease(r);
  if (!made.ok())
    std::fprintf(stderr, "release %d: %s\n", v,
                 std::string(made.status().message()).c_str());
  return made.ok();
}

// Many file descriptors: one per channel here, one per connection there.
void RaiseFileLimit() {
  rlimit l{};
  if (::getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
    l.rlim_cur = l.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &l);
  }
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--smoke") {
      o.streams = 200;
      o.channels = 8;
      o.releases = 2;
      o.check_seconds = 0.5;
      o.inflight = 32;
    } else if (a == "--streams") {
      o.streams = std::atoi(next());
    } else if (a == "--channels") {
      o.channels = std::atoi(next());
    } else if (a == "--releases") {
      o.releases = std::atoi(next());
    } else if (a == "--check-seconds") {
      o.check_seconds = std::atof(next());
    } else if (a == "--inflight") {
      o.inflight = std::atoi(next());
    } else if (a == "--reports") {
      o.reports = true;
    } else if (a == "--stratad") {
      o.stratad = next();
    } else {
      std::fprintf(stderr, "unknown flag %s (see the file's header)\n",
                   a.c_str());
      return 2;
    }
  }
  if (o.stratad.empty()) o.stratad = Dirname(argv[0]) + "/stratad";
  RaiseFileLimit();
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);

  char tmpl[] = "/tmp/strata_watch_load_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  int code = 1;
  {
    Stratad server;
    if (!server.Start(o.stratad, dir, o.streams)) return 1;
    strata::admin::AdminClient admin(
        server.address(), server.token(),
        strata::admin::ChannelSecurity::Plaintext());
    if (!Release(admin, 1)) return 1;

    const double check_before = Throughput(
        server.address(), Driver::Kind::kCheck, o.inflight, o.check_seconds);
    if (o.reports) {
      // Check and Report run inline on gRPC's callback threads; Report
      // waits for a synced RocksDB write. Check while Reports flow, as a
      // ratio to Check alone.
      Driver reports(server.address(), Driver::Kind::kReport, o.inflight, 2000);
      Driver checks(server.address(), Driver::Kind::kCheck, o.inflight, 3000);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      reports.Start();
      checks.Start();
      std::this_thread::sleep_for(
          std::chrono::duration<double>(o.check_seconds));
      const double report_rate = reports.Rate();
      const double check_rate = checks.Rate();
      std::printf(
          "| with %d Reports in flight | Report/s | Check/s | Check "
          "ratio to alone |\n|---|---|---|---|\n| | %.0f | %.0f | "
          "%.2f |\n\n",
          o.inflight, report_rate, check_rate,
          check_before > 0 ? check_rate / check_before : 0);
    }
    const long rss0 = ProcStatus(server.pid(), "VmRSS");
    const long threads0 = ProcStatus(server.pid(), "Threads");

    // N streams over C channels; each is connected once it has version 1.
    Board board(o.releases + 1);
    Watcher::set_target_count(o.streams);
    std::vector<std::unique_ptr<strata::v1::Delivery::Stub>> stubs;
    for (int c = 0; c < o.channels; ++c) {
      stubs.push_back(
          strata::v1::Delivery::NewStub(NewChannel(server.address(), c)));
    }
    std::vector<std::unique_ptr<Watcher>> watchers;
    watchers.reserve(o.streams);
    const auto open0 = Clock::now();
    for (int i = 0; i < o.streams; ++i) {
      watchers.push_back(
          std::make_unique<Watcher>(stubs[i % stubs.size()].get(), i, &board));
    }
    auto wait_reached = [&](int v, std::chrono::seconds limit) {
      std::unique_lock<std::mutex> lock(board.mu);
      return board.cv.wait_for(lock, limit, [&] {
        return board.reached[v].load() >= o.streams || board.failed.load() > 0;
      });
    };
    const bool connected =
        wait_reached(1, std::chrono::seconds(600)) && board.failed.load() == 0;
    const double open_s =
        std::chrono::duration<double>(Clock::now() - open0).count();
    std::this_thread::sleep_for(std::chrono::seconds(1));  // settle
    const std::string server_pid = std::to_string(server.pid());
    const double idle_server0 = CpuMs(server_pid);
    const double idle_bench0 = CpuMs("self");
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const double idle_server = (CpuMs(server_pid) - idle_server0) / 30.0;
    const double idle_bench = (CpuMs("self") - idle_bench0) / 30.0;
    const long rss_n = ProcStatus(server.pid(), "VmRSS");
    const long threads_n = ProcStatus(server.pid(), "Threads");
    std::printf(
        "streams: %d over %d channels (RLIMIT_NOFILE %llu); %s in "
        "%.1f s\n",
        o.streams, o.channels, static_cast<unsigned long long>(nofile.rlim_cur),
        connected ? "all connected" : "NOT all connected", open_s);
    std::printf(
        "| server | 0 streams | %d streams | per stream |\n"
        "|---|---|---|---|\n",
        o.streams);
    std::printf("| RSS (VmRSS) | %.1f MiB | %.1f MiB | %.2f KiB |\n",
                rss0 / 1024.0, rss_n / 1024.0,
                static_cast<double>(rss_n - rss0) / o.streams);
    std::printf("| threads | %ld | %ld | |\n", threads0, threads_n);
    std::printf(
        "idle CPU with the streams open: server %.1f%%, bench %.1f%% "
        "of one core\n",
        idle_server, idle_bench);

    // Pushes: each release must reach every stream before the next.
    std::vector<double> all_ms;
    int missed = 0;
    std::printf(
        "\n| release | RPC ms | push p50 ms | p99 ms | max ms | server CPU "
        "ms | bench CPU ms |\n|---|---|---|---|---|---|---|\n");
    double server_cpu = 0;
    double bench_cpu = 0;
    for (int v = 2; v <= o.releases + 1 && connected; ++v) {
      const double server_cpu0 = CpuMs(server_pid);
      const double bench_cpu0 = CpuMs("self");
      const auto t0 = Clock::now();
      if (!Release(admin, v)) break;
      const double rpc_ms = Ms(Clock::now() - t0);
      if (!wait_reached(v, std::chrono::seconds(120))) {
        missed += o.streams - board.reached[v].load();
      }
      std::vector<double> ms;
      ms.reserve(watchers.size());
      for (const auto& w : watchers) {
        if (w->at() >= t0) ms.push_back(Ms(w->at() - t0));
      }
      all_ms.insert(all_ms.end(), ms.begin(), ms.end());
      const double p50 = Percentile(ms, 0.5);
      const double p99 = Percentile(ms, 0.99);
      const double server_ms = CpuMs(server_pid) - server_cpu0;
      const double bench_ms = CpuMs("self") - bench_cpu0;
      server_cpu += server_ms;
      bench_cpu += bench_ms;
      std::printf("| %d | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f |\n", v,
                  rpc_ms, p50, p99, Percentile(ms, 1.0), server_ms, bench_ms);
    }
    const double all_p50 = Percentile(all_ms, 0.5);
    const double all_p99 = Percentile(all_ms, 0.99);
    std::printf("| all | | %.1f | %.1f | %.1f | %.0f | %.0f |\n", all_p50,
                all_p99, Percentile(all_ms, 1.0), server_cpu, bench_cpu);
    if (!all_ms.empty()) {
      std::printf("server CPU per pushed event: %.1f us\n",
                  1000.0 * server_cpu / static_cast<double>(all_ms.size()));
    }

    const double check_during =
        connected ? Throughput(server.address(), Driver::Kind::kCheck,
                               o.inflight, o.check_seconds)
                  : 0;
    std::printf(
        "\n| Check/s, %d in flight | without streams | with %d | "
        "ratio |\n|---|---|---|---|\n| | %.0f | %.0f | %.2f |\n",
        o.inflight, o.streams, check_before, check_during,
        check_before > 0 ? check_during / check_before : 0);
    std::printf("stream failures: %d, pushes missed: %d\n", board.failed.load(),
                missed);
    code = connected && missed == 0 && board.failed.load() == 0 ? 0 : 1;

    for (auto& w : watchers) w->Cancel();
    std::unique_lock<std::mutex> lock(board.mu);
    board.cv.wait_for(lock, std::chrono::seconds(120),
                      [&] { return board.done.load() >= o.streams; });
    if (board.done.load() < o.streams) {
      std::fprintf(stderr, "streams did not end; leaving them\n");
      std::_Exit(code == 0 ? 1 : code);
    }
  }
  (void)strata::DeleteRecursively(*strata::PosixFileSystem(), dir);
  return code;
}
