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
// --transport http: the streams are WatchConfig over HTTP/2 on stratad's
// HTTP port (h2c), read by nghttp2 client sessions on --http-threads epoll
// threads (h2_fleet.h), C connections of N/C streams each; stratad runs
// with --http-cleartext-h2. --transport both: gRPC first, then HTTP/2
// against a fresh stratad, and the two side by side.
//
// --ceiling: first the same run against the ceiling, a minimal callback
// server (this binary as a child, --serve-ceiling) that holds the streams
// and, told to push version v, writes one event of about the same size to
// each from one thread, one write in flight per stream: what this gRPC
// build serves on this box with no Strata code in the way. Its Check
// answers at once, so its Check ratio (with/without the streams) tells
// whether a drop is the box's or stratad's.
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
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "h2_fleet.h"
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
  bool ceiling = false;  // also the same run against the ceiling, first
  std::string transport = "grpc";  // grpc, http or both
  int http_threads = 2;
  std::string stratad;  // default: next to this binary
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
  bool Start(const std::string& binary, const std::string& dir, int streams,
             bool h2c = false) {
    (void)strata::CreateDirs(*strata::PosixFileSystem(), dir);
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
    if (h2c) args.push_back("--http-cleartext-h2");
    return Launch(std::move(args), port_file);
  }
  // The ceiling server: this binary with --serve-ceiling.
  bool StartCeiling(const std::string& dir) {
    const std::string port_file = strata::JoinPath(dir, "ceiling-port");
    return Launch({"/proc/self/exe", "--serve-ceiling", port_file}, port_file);
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
  int http_port() const { return http_port_; }
  const std::string& token() const { return token_; }

 private:
  bool Launch(std::vector<std::string> args, const std::string& port_file) {
    const std::string binary = args[0];
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
        std::fprintf(stderr, "%s did not start\n", binary.c_str());
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto ports = strata::PosixFileSystem()->ReadFile(port_file);
    if (!ports.ok()) return false;
    address_ = "127.0.0.1:" + ports->substr(0, ports->find('\n'));
    const size_t second = ports->find('\n');
    if (second != std::string::npos && second + 1 < ports->size())
      http_port_ = std::atoi(ports->c_str() + second + 1);
    return true;
  }

  pid_t pid_ = -1;
  std::string address_;
  int http_port_ = 0;
  std::string token_;
};

// The ceiling server (--serve-ceiling): WatchConfig streams that get one
// event per pushed version, written from one pusher thread; Report with
// device id "push-<v>" pushes version v; Check answers an empty plan.
strata::v1::ConfigEvent CeilingEvent(int v) {
  strata::v1::ConfigEvent e;
  strata::v1::UpdateEntry* u = e.mutable_entry();
  u->mutable_module()->set_layer(strata::v1::LAYER_CONFIG);
  u->mutable_module()->set_name("payment.limits");
  strata::v1::ArtifactStatement* st = u->mutable_statement();
  st->set_app_id("wallet");
  *st->mutable_module() = u->module();
  st->set_version(std::to_string(v));
  st->set_content_sha256(std::string(64, 'a' + v % 26));
  st->set_size(12);
  u->set_inline_content("{\"limit\":" + std::to_string(v) + "}");
  u->set_release_sequence(v);
  return e;
}

class CeilingStream;

class CeilingHub {
 public:
  void Add(CeilingStream* s);
  void Remove(CeilingStream* s) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.erase(s);
  }
  int version() const { return version_.load(); }
  // Pushes `v` to every stream from the pusher thread.
  void Push(int v) {
    {
      std::lock_guard<std::mutex> lock(push_mu_);
      pending_ = std::max(pending_, v);
    }
    push_cv_.notify_one();
  }
  void Run();  // the pusher thread
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(push_mu_);
      stop_ = true;
    }
    push_cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::set<CeilingStream*> streams_;
  std::atomic<int> version_{1};
  std::mutex push_mu_;
  std::condition_variable push_cv_;
  int pending_ = 0;
  bool stop_ = false;
};

class CeilingStream final
    : public grpc::ServerWriteReactor<strata::v1::ConfigEvent> {
 public:
  explicit CeilingStream(CeilingHub* hub) : hub_(hub) {
    hub_->Add(this);  // pushes the current version
  }
  void Push(int v) {
    std::lock_guard<std::mutex> lock(mu_);
    queued_ = std::max(queued_, v);
    if (!writing_) NextLocked();
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    NextLocked();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }
  void OnDone() override {
    hub_->Remove(this);
    delete this;
  }

 private:
  void NextLocked() {
    if (finished_ || queued_ <= sent_) return;
    sent_ = queued_;
    event_ = CeilingEvent(sent_);
    writing_ = true;
    StartWrite(&event_);
  }
  void FinishLocked(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }
  CeilingHub* hub_;
  std::mutex mu_;
  int queued_ = 0;
  int sent_ = 0;
  bool writing_ = false;
  bool finished_ = false;
  strata::v1::ConfigEvent event_;
};

void CeilingHub::Add(CeilingStream* s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.insert(s);
  }
  s->Push(version_.load());
}

void CeilingHub::Run() {
  int done = 1;
  while (true) {
    int v = 0;
    {
      std::unique_lock<std::mutex> lock(push_mu_);
      push_cv_.wait(lock, [&] { return stop_ || pending_ > done; });
      if (stop_) return;
      v = pending_;
    }
    version_.store(v);
    // Under the registry lock: a stream cannot be deleted meanwhile
    // (OnDone waits), and Push never blocks.
    std::lock_guard<std::mutex> lock(mu_);
    for (CeilingStream* s : streams_) s->Push(v);
    done = v;
  }
}

class CeilingDelivery final : public strata::v1::Delivery::CallbackService {
 public:
  explicit CeilingDelivery(CeilingHub* hub) : hub_(hub) {}
  grpc::ServerWriteReactor<strata::v1::ConfigEvent>* WatchConfig(
      grpc::CallbackServerContext*,
      const strata::v1::WatchConfigRequest*) override {
    return new CeilingStream(hub_);
  }
  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* context,
                                   const strata::v1::ReportRequest* request,
                                   strata::v1::ReportResponse*) override {
    const std::string& id = request->device().device_id();
    if (id.rfind("push-", 0) == 0) hub_->Push(std::atoi(id.c_str() + 5));
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const strata::v1::CheckRequest*,
                                  strata::v1::CheckResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  CeilingHub* hub_;
};

volatile sig_atomic_t g_ceiling_stop = 0;

// --serve-ceiling PORT_FILE: serves until SIGTERM.
int ServeCeiling(const std::string& port_file) {
  ::signal(SIGTERM, [](int) { g_ceiling_stop = 1; });
  CeilingHub hub;
  std::thread pusher([&] { hub.Run(); });
  CeilingDelivery service(&hub);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return 1;
  if (!strata::WriteFileAtomically(*strata::PosixFileSystem(), port_file,
                                   std::to_string(port) + "\n")
           .ok()) {
    return 1;
  }
  while (g_ceiling_stop == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  hub.Stop();
  pusher.join();
  server->Shutdown(std::chrono::system_clock::now());
  return 0;
}

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
    event_bytes_.store(static_cast<long>(event_.ByteSizeLong()));
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
  // The size of an event a stream read last (any stream).
  static long event_bytes() { return event_bytes_.load(); }

 private:
  static inline int target_count_ = 0;
  static inline std::atomic<long> event_bytes_{0};
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

// What one run against one server measured.
struct Phase {
  bool ok = false;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double cpu_us_per_event = 0;  // the server's
  double bench_cpu_us_per_event = 0;
  double check_before = 0, check_during = 0;
};

// N streams against `server`, R pushes (`release(v)` for v = 2..R+1),
// Check before and with the streams; prints the tables, returns the
// figures. Every stream must get every version.
Phase Run(const Options& o, const char* name, Stratad& server,
          const std::function<bool(int)>& release, bool http = false) {
  Phase out;
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  std::printf("\n### %s\n\n", name);
  if (!release(1)) return out;

  const double check_before = Throughput(server.address(), Driver::Kind::kCheck,
                                         o.inflight, o.check_seconds);
  if (o.reports) {
    // Report waits for a synced RocksDB write (on its own pool). Check
    // while Reports flow, as a ratio to Check alone.
    Driver reports(server.address(), Driver::Kind::kReport, o.inflight, 2000);
    Driver checks(server.address(), Driver::Kind::kCheck, o.inflight, 3000);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    reports.Start();
    checks.Start();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.check_seconds));
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
  std::vector<std::unique_ptr<Watcher>> watchers;
  std::unique_ptr<strata::bench::H2Fleet> fleet;
  const auto open0 = Clock::now();
  if (http) {
    strata::bench::H2Fleet::Callbacks cb;
    cb.on_version = [&board, &o](int, int from, int to) {
      const int top = static_cast<int>(board.reached.size()) - 1;
      for (int i = from + 1; i <= std::min(to, top); ++i) {
        if (board.reached[i].fetch_add(1) + 1 == o.streams) board.Bump();
      }
    };
    cb.on_failed = [&board](const std::string& why) {
      if (board.failed.fetch_add(1) < 3)
        std::fprintf(stderr, "HTTP/2 stream: %s\n", why.c_str());
      board.Bump();
    };
    fleet = std::make_unique<strata::bench::H2Fleet>(
        "127.0.0.1", server.http_port(), o.channels, o.streams, o.http_threads,
        std::move(cb));
    if (!fleet->Start()) return out;
  } else {
    for (int c = 0; c < o.channels; ++c) {
      stubs.push_back(
          strata::v1::Delivery::NewStub(NewChannel(server.address(), c)));
    }
    watchers.reserve(o.streams);
    for (int i = 0; i < o.streams; ++i) {
      watchers.push_back(
          std::make_unique<Watcher>(stubs[i % stubs.size()].get(), i, &board));
    }
  }
  auto seen_at = [&](int i) {
    return http ? fleet->at(i) : watchers[static_cast<size_t>(i)]->at();
  };
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
      "%.1f s; an event is %ld bytes\n",
      o.streams, o.channels, static_cast<unsigned long long>(nofile.rlim_cur),
      connected ? "all connected" : "NOT all connected", open_s,
      http ? fleet->event_bytes() : Watcher::event_bytes());
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
    if (!release(v)) break;
    const double rpc_ms = Ms(Clock::now() - t0);
    if (!wait_reached(v, std::chrono::seconds(120))) {
      missed += o.streams - board.reached[v].load();
    }
    std::vector<double> ms;
    ms.reserve(static_cast<size_t>(o.streams));
    for (int i = 0; i < o.streams; ++i) {
      if (seen_at(i) >= t0) ms.push_back(Ms(seen_at(i) - t0));
    }
    all_ms.insert(all_ms.end(), ms.begin(), ms.end());
    const double p50 = Percentile(ms, 0.5);
    const double p99 = Percentile(ms, 0.99);
    const double server_ms = CpuMs(server_pid) - server_cpu0;
    const double bench_ms = CpuMs("self") - bench_cpu0;
    server_cpu += server_ms;
    bench_cpu += bench_ms;
    std::printf("| %d | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f |\n", v, rpc_ms,
                p50, p99, Percentile(ms, 1.0), server_ms, bench_ms);
  }
  out.p50_ms = Percentile(all_ms, 0.5);
  out.p99_ms = Percentile(all_ms, 0.99);
  out.max_ms = Percentile(all_ms, 1.0);
  std::printf("| all | | %.1f | %.1f | %.1f | %.0f | %.0f |\n", out.p50_ms,
              out.p99_ms, out.max_ms, server_cpu, bench_cpu);
  if (!all_ms.empty()) {
    const double n = static_cast<double>(all_ms.size());
    out.cpu_us_per_event = 1000.0 * server_cpu / n;
    out.bench_cpu_us_per_event = 1000.0 * bench_cpu / n;
    std::printf("server CPU per pushed event: %.1f us (bench: %.1f us)\n",
                out.cpu_us_per_event, out.bench_cpu_us_per_event);
  }

  const double check_during =
      connected ? Throughput(server.address(), Driver::Kind::kCheck, o.inflight,
                             o.check_seconds)
                : 0;
  std::printf(
      "\n| Check/s, %d in flight | without streams | with %d | "
      "ratio |\n|---|---|---|---|\n| | %.0f | %.0f | %.2f |\n",
      o.inflight, o.streams, check_before, check_during,
      check_before > 0 ? check_during / check_before : 0);
  std::printf("stream failures: %d, pushes missed: %d\n", board.failed.load(),
              missed);
  out.check_before = check_before;
  out.check_during = check_during;
  out.ok = connected && missed == 0 && board.failed.load() == 0;

  if (http) {
    fleet->Stop();  // closes the connections: the server ends the streams
    return out;
  }
  for (auto& w : watchers) w->Cancel();
  std::unique_lock<std::mutex> lock(board.mu);
  board.cv.wait_for(lock, std::chrono::seconds(120),
                    [&] { return board.done.load() >= o.streams; });
  if (board.done.load() < o.streams) {
    std::fprintf(stderr, "streams did not end; leaving them\n");
    std::_Exit(1);
  }
  return out;
}

// Two runs' figures side by side, with b / a.
void PrintSideBySide(int streams, const char* a_name, const Phase& a,
                     const char* b_name, const Phase& b) {
  auto ratio = [](double x, double y) { return y > 0 ? x / y : 0; };
  std::printf("\n| %d streams | %s | %s | %s / %s |\n|---|---|---|---|\n",
              streams, a_name, b_name, b_name, a_name);
  auto row = [&](const char* what, double x, double y) {
    std::printf("| %s | %.1f | %.1f | %.2f |\n", what, x, y, ratio(y, x));
  };
  row("push p50 ms", a.p50_ms, b.p50_ms);
  row("push p99 ms", a.p99_ms, b.p99_ms);
  row("server CPU us per pushed event", a.cpu_us_per_event, b.cpu_us_per_event);
  row("bench CPU us per received event", a.bench_cpu_us_per_event,
      b.bench_cpu_us_per_event);
  std::printf("| Check ratio with/without streams | %.2f | %.2f | |\n",
              ratio(a.check_during, a.check_before),
              ratio(b.check_during, b.check_before));
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped
  // As stratad does: Debian's Abseil keeps a lock-order graph on every
  // absl::Mutex (all of gRPC's) unless told not to; off for the ceiling
  // server and the client alike.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
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
    } else if (a == "--transport") {
      o.transport = next();
      if (o.transport != "grpc" && o.transport != "http" &&
          o.transport != "both") {
        std::fprintf(stderr, "--transport is grpc, http or both\n");
        return 2;
      }
    } else if (a == "--http-threads") {
      o.http_threads = std::max(1, std::atoi(next()));
    } else if (a == "--ceiling") {
      o.ceiling = true;
    } else if (a == "--serve-ceiling") {
      return ServeCeiling(next());
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

  char tmpl[] = "/tmp/strata_watch_load_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  int code = 1;
  Phase ceiling;
  if (o.ceiling) {
    Stratad server;
    if (!server.StartCeiling(dir)) return 1;
    auto stub = strata::v1::Delivery::NewStub(NewChannel(server.address(), 0));
    ceiling = Run(o, "ceiling (minimal callback server)", server, [&](int v) {
      grpc::ClientContext ctx;
      strata::v1::ReportRequest req;
      strata::v1::ReportResponse resp;
      req.mutable_device()->set_app_id("wallet");
      req.mutable_device()->set_device_id("push-" + std::to_string(v));
      return stub->Report(&ctx, req, &resp).ok();
    });
    if (!ceiling.ok) return 1;
  }
  Phase grpc_phase;
  if (o.transport != "http") {
    Stratad server;
    if (!server.Start(o.stratad, strata::JoinPath(dir, "grpc"), o.streams))
      return 1;
    strata::admin::AdminClient admin(
        server.address(), server.token(),
        strata::admin::ChannelSecurity::Plaintext());
    const Phase strata_phase =
        Run(o, "stratad", server, [&](int v) { return Release(admin, v); });
    grpc_phase = strata_phase;
    code = strata_phase.ok ? 0 : 1;
    if (o.ceiling && strata_phase.ok)
      PrintSideBySide(o.streams, "ceiling", ceiling, "stratad", strata_phase);
  }
  if (o.transport != "grpc") {
    Stratad server;
    if (!server.Start(o.stratad, strata::JoinPath(dir, "http"), o.streams,
                      /*h2c=*/true)) {
      return 1;
    }
    strata::admin::AdminClient admin(
        server.address(), server.token(),
        strata::admin::ChannelSecurity::Plaintext());
    const Phase http_phase = Run(
        o, "stratad, WatchConfig over HTTP/2 (h2c)", server,
        [&](int v) { return Release(admin, v); }, /*http=*/true);
    const bool grpc_ok = o.transport != "both" || code == 0;
    code = grpc_ok && http_phase.ok ? 0 : 1;
    if (o.transport == "both" && grpc_phase.ok && http_phase.ok)
      PrintSideBySide(o.streams, "gRPC", grpc_phase, "HTTP/2", http_phase);
  }
  (void)strata::DeleteRecursively(*strata::PosixFileSystem(), dir);
  return code;
}
