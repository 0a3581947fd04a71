// server_bench: Check throughput and p50/p99 latency of stratad at 1k and
// 100k distinct devices, as a ratio to an empty Delivery.Check handler on
// gRPC's callback API served by the same gRPC build on the same machine in
// the same run, both driven by a callback client with 128 calls in flight
// (the fastest server and the fastest client this build has); a handler
// that answers stratad's own answer bytes, canned (what moving the answer
// costs gRPC, without deciding it); and the same app with a root of trust
// (director signed per change, Check carrying only metadata the device lacks)
// against the app without one; and stratad's Check over HTTP/2 (its HTTP
// port, h2c, driven by nghttp2 with as many calls in flight:
// h2_check_driver.h) against the same gRPC empty handler.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "h2_check_driver.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/server/storage/testing/temp_postgres.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace {

using strata::v1::CheckRequest;
using strata::v1::CheckResponse;

// The ceiling: answers every Check with an empty plan, on gRPC's callback
// API (no thread hop per call), the fastest server this gRPC build has.
class EmptyDelivery final : public strata::v1::Delivery::CallbackService {
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const CheckRequest*,
                                  CheckResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// The answer's own cost: answers every Check with one fixed response (the
// bytes stratad answers device-1), copied into place, on the same API. What
// separates it from the empty handler is gRPC and the kernel moving the
// answer; what separates stratad from it is Strata deciding the answer.
class CannedDelivery final : public strata::v1::Delivery::CallbackService {
 public:
  void set_answer(const CheckResponse& answer) { answer_ = answer; }
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const CheckRequest*,
                                  CheckResponse* response) override {
    *response = answer_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  CheckResponse answer_;
};

struct Result {
  double qps;
  double p50_ms;
  double p99_ms;
  uint64_t calls;
  // The whole process's CPU time (client and servers, user + system) over
  // the run: a cost per call that the machine's other load hardly moves.
  double cpu_seconds;
};

double ProcessCpuSeconds() {
  struct rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Two runs of one handler as one: calls and CPU add, rates average.
Result Merge(const Result& a, const Result& b) {
  return Result{(a.qps + b.qps) / 2, (a.p50_ms + b.p50_ms) / 2,
                (a.p99_ms + b.p99_ms) / 2, a.calls + b.calls,
                a.cpu_seconds + b.cpu_seconds};
}

double CpuMicrosPerCall(const Result& r) {
  return r.calls == 0 ? 0 : r.cpu_seconds * 1e6 / static_cast<double>(r.calls);
}

// The n-th Check of a run: one of `devices` devices (spread by a prime
// stride), half of them up to date on the first module.
void FillCheck(uint64_t n, int devices,
               const std::vector<std::string>& installed_sha,
               const std::string& app,
               const strata::v1::TrustedVersions* trusted, CheckRequest* req) {
  req->Clear();
  auto* d = req->mutable_device();
  d->set_app_id(app);
  // A device that already trusts the current metadata (the steady
  // state: most checks find nothing new to verify).
  if (trusted != nullptr) *req->mutable_trusted() = *trusted;
  d->set_device_id("device-" + std::to_string((n * 7919) % devices));
  d->set_app_version("10.3.0");
  d->set_os("android");
  if (n % 2 == 0) {
    auto* m = req->add_installed();
    m->mutable_module()->set_layer(strata::v1::LAYER_CONFIG);
    m->mutable_module()->set_name("module-0");
    m->set_content_sha256(installed_sha[0]);
  }
}

struct DriveOptions {
  int in_flight = 128;  // calls outstanding at every moment
  int channels = 2;     // separate TCP connections they spread over
};

// Drives Check the fastest way this gRPC build offers a client: the
// callback API with `in_flight` calls outstanding over `channels`
// connections; each completion starts the next call from gRPC's own
// thread, so no client thread blocks.
class CheckDriver {
 public:
  CheckDriver(const std::string& address, int devices,
              const std::vector<std::string>& installed_sha,
              const std::string& app,
              const strata::v1::TrustedVersions* trusted,
              const DriveOptions& options)
      : devices_(devices),
        installed_sha_(installed_sha),
        app_(app),
        trusted_(trusted),
        slots_(options.in_flight) {
    for (int c = 0; c < options.channels; ++c) {
      grpc::ChannelArguments args;
      args.SetInt("strata.bench.channel", c);  // one connection each
      stubs_.push_back(strata::v1::Delivery::NewStub(grpc::CreateCustomChannel(
          address, grpc::InsecureChannelCredentials(), args)));
    }
  }

  Result Run(double seconds) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = ProcessCpuSeconds();
    running_ = static_cast<int>(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) Start(i);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop_ = true;
    {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, [&] { return running_ == 0; });
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!error_.empty()) {
      std::fprintf(stderr, "Check failed: %s\n", error_.c_str());
      std::exit(1);
    }
    std::vector<double> all;
    for (const Slot& s : slots_) {
      all.insert(all.end(), s.latencies.begin(), s.latencies.end());
    }
    std::sort(all.begin(), all.end());
    Result r;
    r.cpu_seconds = ProcessCpuSeconds() - cpu_start;
    r.calls = all.size();
    r.qps = static_cast<double>(all.size()) / elapsed;
    r.p50_ms = all.empty() ? 0 : all[all.size() / 2];
    r.p99_ms =
        all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
    return r;
  }

 private:
  struct Slot {
    std::unique_ptr<grpc::ClientContext> context;
    CheckRequest request;
    CheckResponse response;
    std::chrono::steady_clock::time_point sent;
    std::vector<double> latencies;
  };

  void Start(size_t i) {
    Slot& slot = slots_[i];
    const uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
    FillCheck(n, devices_, installed_sha_, app_, trusted_, &slot.request);
    slot.response.Clear();
    slot.context = std::make_unique<grpc::ClientContext>();
    slot.sent = std::chrono::steady_clock::now();
    stubs_[i % stubs_.size()]->async()->Check(
        slot.context.get(), &slot.request, &slot.response,
        [this, i](grpc::Status s) { Finished(i, s); });
  }

  void Finished(size_t i, const grpc::Status& s) {
    Slot& slot = slots_[i];
    slot.latencies.push_back(std::chrono::duration<double, std::milli>(
                                 std::chrono::steady_clock::now() - slot.sent)
                                 .count());
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = s.error_message();
      stop_ = true;
    }
    if (!stop_.load(std::memory_order_relaxed)) {
      Start(i);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (--running_ == 0) done_.notify_all();
  }

  const int devices_;
  const std::vector<std::string>& installed_sha_;
  const std::string app_;
  const strata::v1::TrustedVersions* trusted_;
  std::vector<std::unique_ptr<strata::v1::Delivery::Stub>> stubs_;
  std::vector<Slot> slots_;
  std::atomic<uint64_t> next_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable done_;
  int running_ = 0;
  std::string error_;
};

DriveOptions drive_options;

Result Drive(const std::string& address, int devices, double seconds,
             const std::vector<std::string>& installed_sha,
             const std::string& app = "wallet",
             const strata::v1::TrustedVersions* trusted = nullptr) {
  CheckDriver driver(address, devices, installed_sha, app, trusted,
                     drive_options);
  return driver.Run(seconds);
}

// Check over HTTP/2 on stratad's HTTP port, as many in flight over as many
// connections as the gRPC driver uses.
Result DriveHttp(int port, int devices, double seconds,
                 const std::vector<std::string>& installed_sha) {
  const double cpu_start = ProcessCpuSeconds();
  strata::bench::H2CheckResult h = strata::bench::DriveH2Check(
      port, drive_options.channels, drive_options.in_flight, seconds,
      [&](uint64_t n, CheckRequest* req) {
        FillCheck(n, devices, installed_sha, "wallet", nullptr, req);
      });
  if (!h.error.empty()) {
    std::fprintf(stderr, "%s\n", h.error.c_str());
    std::exit(1);
  }
  std::vector<double>& all = h.latencies_ms;
  std::sort(all.begin(), all.end());
  Result r;
  r.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  r.calls = all.size();
  r.qps = static_cast<double>(all.size()) / h.seconds;
  r.p50_ms = all.empty() ? 0 : all[all.size() / 2];
  r.p99_ms =
      all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

}  // namespace

// Runs the `strata` CLI next to this binary; exits on failure.
void Cli(const std::string& bin, const std::string& address,
         const std::string& token, const std::string& args) {
  const std::string cmd = bin + "/strata --plaintext --server " + address +
                          " --token " + token + " " + args + " >/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "failed: strata %s\n", args.c_str());
    std::exit(1);
  }
}

// The app every row checks: five live CONFIG modules (all at once) and a
// staged grey H5 release to a segment. Returns the modules' content
// hashes; empty when a call failed.
std::vector<std::string> SetUpWallet(strata::admin::AdminClient& admin) {
  std::vector<std::string> shas;
  for (int m = 0; m < 5; ++m) {
    strata::v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(strata::v1::LAYER_CONFIG);
    st.mutable_module()->set_name("module-" + std::to_string(m));
    st.set_version("1");
    std::string content = "{\"switch\": " + std::to_string(m) + "}";
    auto pub = admin.Publish(st, content, "");
    strata::v1::CreateReleaseRequest req;
    req.set_app_id("wallet");
    *req.mutable_module() = st.module();
    req.set_version("1");
    req.set_all_at_once(true);
    if (!pub.ok() || !admin.CreateRelease(req).ok()) return {};
    shas.push_back(pub->statement().content_sha256());
  }
  // Plus a staged grey release of an H5 page to a segment, so every Check
  // evaluates an expression and hashes the device into a bucket.
  {
    strata::v1::Segment seg;
    seg.set_app_id("wallet");
    seg.set_name("android-10");
    seg.set_expression(
        "os == \"android\" && app_version >= \"10.0.0\" && "
        "region in [\"CN-31\", \"CN-11\", \"\"]");
    strata::v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(strata::v1::LAYER_H5);
    st.mutable_module()->set_name("mall");
    st.set_version("1");
    auto pub = admin.Publish(st, std::string(4096, 'h'), "");
    strata::v1::CreateReleaseRequest req;
    req.set_app_id("wallet");
    *req.mutable_module() = st.module();
    req.set_version("1");
    req.set_segment("android-10");
    for (uint32_t bp : {2000u, 10000u}) {
      strata::v1::RolloutStage* stage = req.add_stages();
      stage->set_exposure_bp(bp);
      stage->set_bake_seconds(86400);
    }
    if (!admin.PutSegment(seg).ok() || !pub.ok() ||
        !admin.CreateRelease(req).ok()) {
      return {};
    }
  }

  return shas;
}

// SERVER_BENCH_CLUSTER=1: the same app on two stratad replicas (A, B)
// sharing a throwaway PostgreSQL, in this process next to the RocksDB
// stratad: Check throughput of each replica against the RocksDB mode in
// the same run (interleaved), then push latency across replicas (a
// release made on A until a WatchConfig stream on B delivers it) and
// convergence (until B's Check offers it), `kRounds` times.
int RunCluster(double seconds, const std::string& dir, const std::string& rocks,
               const std::vector<std::string>& shas) {
  using Clock = std::chrono::steady_clock;
  auto pg = strata::testing::TempPostgres::Start();
  if (!pg.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", pg.status().ToString().c_str());
    return 1;
  }
  const std::string url = (*pg)->Url();
  const std::string keys = strata::JoinPath(dir, "cluster-keys");
  const std::string init = strata::JoinPath(dir, "cluster-init");
  const std::string token_file = strata::JoinPath(init, "admin.token");
  if (auto s = strata::server::InitializeDataDir(
          init, token_file, strata::Env::Default(), keys, url);
      !s.ok()) {
    std::fprintf(stderr, "init: %s\n", s.ToString().c_str());
    return 1;
  }
  std::string token = *strata::PosixFileSystem()->ReadFile(token_file);
  token = token.substr(0, token.find('\n'));
  std::vector<std::unique_ptr<strata::server::StrataServer>> replicas;
  std::vector<std::string> addr;
  for (int i = 0; i < 2; ++i) {
    strata::server::ServerOptions options;
    options.data_dir = strata::JoinPath(dir, "replica" + std::to_string(i));
    (void)strata::CreateDirs(*strata::PosixFileSystem(), options.data_dir);
    options.metadata = url;
    options.online_keys_dir = keys;
    options.listen_address = "127.0.0.1:0";
    options.http_address = "";
    options.allow_unsigned_publishes = true;
    options.gate_interval = absl::ZeroDuration();
    auto r = strata::server::StrataServer::Start(options);
    if (!r.ok()) {
      std::fprintf(stderr, "replica: %s\n", r.status().ToString().c_str());
      return 1;
    }
    addr.push_back("127.0.0.1:" + std::to_string((*r)->port()));
    replicas.push_back(*std::move(r));
  }
  strata::admin::AdminClient a(addr[0], token,
                               strata::admin::ChannelSecurity::Plaintext());
  if (SetUpWallet(a) != shas) return 1;

  std::printf(
      "| devices | server | calls | Check/s | p50 ms | p99 ms | CPU us/call "
      "| Check/s ratio to RocksDB |\n|---|---|---|---|---|---|---|---|\n");
  for (int devices : {1000, 100000}) {
    const Result r1 = Drive(rocks, devices, seconds / 2, shas);
    const Result a1 = Drive(addr[0], devices, seconds / 2, shas);
    const Result b1 = Drive(addr[1], devices, seconds / 2, shas);
    const Result b2 = Drive(addr[1], devices, seconds / 2, shas);
    const Result a2 = Drive(addr[0], devices, seconds / 2, shas);
    const Result r2 = Drive(rocks, devices, seconds / 2, shas);
    const Result r = Merge(r1, r2);
    const std::pair<const char*, Result> rows[] = {
        {"RocksDB stratad", r},
        {"replica A (PostgreSQL)", Merge(a1, a2)},
        {"replica B (PostgreSQL)", Merge(b1, b2)}};
    for (const auto& [name, x] : rows) {
      std::printf("| %d | %s | %llu | %.0f | %.3f | %.3f | %.1f | %.2f |\n",
                  devices, name, static_cast<unsigned long long>(x.calls),
                  x.qps, x.p50_ms, x.p99_ms, CpuMicrosPerCall(x),
                  x.qps / r.qps);
    }
  }

  // Push and convergence: release version k of "pushed" on A.
  constexpr int kRounds = 30;
  auto stub_b = strata::v1::Delivery::NewStub(
      grpc::CreateChannel(addr[1], grpc::InsecureChannelCredentials()));
  grpc::ClientContext watch_ctx;
  strata::v1::WatchConfigRequest watch_req;
  watch_req.mutable_device()->set_app_id("wallet");
  watch_req.mutable_device()->set_device_id("watcher");
  auto reader = stub_b->WatchConfig(&watch_ctx, watch_req);
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Clock::time_point> pushed_at;
  std::thread watcher([&] {
    strata::v1::ConfigEvent event;
    while (reader->Read(&event)) {
      if (event.entry().module().name() != "pushed") continue;
      std::lock_guard<std::mutex> lock(mu);
      pushed_at[event.entry().statement().version()] = Clock::now();
      cv.notify_all();
    }
  });
  std::vector<double> push_ms, converge_ms;
  for (int k = 1; k <= kRounds; ++k) {
    const std::string version = std::to_string(k);
    strata::v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(strata::v1::LAYER_CONFIG);
    st.mutable_module()->set_name("pushed");
    st.set_version(version);
    if (!a.Publish(st, "{\"k\": " + version + "}", "").ok()) return 1;
    strata::v1::CreateReleaseRequest req;
    req.set_app_id("wallet");
    *req.mutable_module() = st.module();
    req.set_version(version);
    req.set_all_at_once(true);
    if (!a.CreateRelease(req).ok()) return 1;
    const auto released = Clock::now();
    // Convergence: B's Check offers it (polled every millisecond).
    for (;;) {
      strata::v1::CheckRequest check;
      check.mutable_device()->set_app_id("wallet");
      check.mutable_device()->set_device_id("checker");
      strata::v1::CheckResponse resp;
      grpc::ClientContext ctx;
      bool offered = false;
      if (stub_b->Check(&ctx, check, &resp).ok()) {
        for (const auto& u : resp.plan().updates()) {
          offered |= u.module().name() == "pushed" &&
                     u.statement().version() == version;
        }
      }
      if (offered) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    converge_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - released)
            .count());
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(30),
                     [&] { return pushed_at.count(version) > 0; })) {
      std::fprintf(stderr, "no push of version %s on B\n", version.c_str());
      return 1;
    }
    push_ms.push_back(
        std::chrono::duration<double, std::milli>(pushed_at[version] - released)
            .count());
  }
  watch_ctx.TryCancel();
  watcher.join();
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
  };
  std::printf(
      "release on A -> WatchConfig push on B: p50 %.1f ms, p90 %.1f ms, max "
      "%.1f ms (%d releases)\n",
      pct(push_ms, 0.5), pct(push_ms, 0.9), pct(push_ms, 1.0), kRounds);
  std::printf(
      "release on A -> B's Check offers it: p50 %.1f ms, p90 %.1f ms, max "
      "%.1f ms\n",
      pct(converge_ms, 0.5), pct(converge_ms, 0.9), pct(converge_ms, 1.0));
  for (auto& r : replicas) r->Shutdown();
  return 0;
}

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, so by default every absl::Mutex
  // (all of gRPC's locks) keeps a lock-order graph to detect deadlocks, a
  // cost on every call (docs/benchmarks.md, Check). Off, as in release
  // builds of Abseil.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // server_bench [SECONDS [IN_FLIGHT [CHANNELS]]]
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  if (argc > 2) drive_options.in_flight = std::max(1, std::atoi(argv[2]));
  if (argc > 3) drive_options.channels = std::max(1, std::atoi(argv[3]));
  std::string bin = argv[0];
  bin =
      bin.find('/') == std::string::npos ? "." : bin.substr(0, bin.rfind('/'));
  char tmpl[] = "/tmp/strata_server_bench_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string data = strata::JoinPath(dir, "data");
  const std::string token_file = strata::JoinPath(data, "admin.token");
  if (auto s = strata::server::InitializeDataDir(data, token_file); !s.ok()) {
    std::fprintf(stderr, "init: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::string token = *strata::PosixFileSystem()->ReadFile(token_file);
  token = token.substr(0, token.find('\n'));

  strata::server::ServerOptions options;
  options.data_dir = data;
  options.listen_address = "127.0.0.1:0";
  options.http_address = "127.0.0.1:0";  // Check over HTTP/2 too
  options.http.cleartext_http2 = true;
  options.allow_unsigned_publishes = true;  // measures Check, not signing
  auto server = strata::server::StrataServer::Start(options);
  if (!server.ok()) return 1;
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());

  strata::admin::AdminClient admin(address, token,
                                   strata::admin::ChannelSecurity::Plaintext());
  std::vector<std::string> shas = SetUpWallet(admin);
  if (shas.empty()) return 1;
  if (std::getenv("SERVER_BENCH_CLUSTER") != nullptr) {
    const int rc = RunCluster(seconds, dir, address, shas);
    (*server)->Shutdown();
    (void)strata::DeleteRecursively(*strata::PosixFileSystem(), dir);
    return rc;
  }

  // The same app again, with a root of trust made by the real CLI: every
  // publish carries its publisher-signed layer role, stratad signs the
  // director once per change.
  const std::string keys = strata::JoinPath(dir, "keys");
  Cli(bin, address, token, "keys gen --dir " + keys);
  Cli(bin, address, token, "trust init --keys " + keys + " --app secure");
  const std::string key_flags =
      " --key " + keys + "/publisher-a.key --key " + keys + "/publisher-b.key";
  for (int m = 0; m < 5; ++m) {
    const std::string file = strata::JoinPath(dir, "m" + std::to_string(m));
    (void)strata::WriteFileAtomically(
        *strata::PosixFileSystem(), file,
        "{\"switch\": " + std::to_string(m) + "}");
    const std::string module = "module-" + std::to_string(m);
    Cli(bin, address, token,
        "publish --app secure --layer config --module " + module +
            " --version 1 --file " + file + key_flags);
    Cli(bin, address, token,
        "release create --app secure --layer config --module " + module +
            " --version 1 --all-at-once");
  }
  {
    const std::string file = strata::JoinPath(dir, "mall");
    (void)strata::WriteFileAtomically(*strata::PosixFileSystem(), file,
                                      std::string(4096, 'h'));
    Cli(bin, address, token,
        "segment put --app secure --name android-10 --expr "
        "'os == \"android\" && app_version >= \"10.0.0\" && "
        "region in [\"CN-31\", \"CN-11\", \"\"]'");
    Cli(bin, address, token,
        "publish --app secure --layer h5 --module mall --version 1 --file " +
            file + key_flags);
    Cli(bin, address, token,
        "release create --app secure --segment android-10 --artifact "
        "h5/mall@1 --plan 20%:1d,100%:1d");
  }
  strata::v1::TrustedVersions trusted;
  {
    // One check first: stratad signs the director when it rebuilds the
    // app's release snapshot, which the first check after a change does.
    Drive(address, 1, 0.05, shas, "secure");
    auto info = admin.GetTrust("secure");
    if (!info.ok()) return 1;
    for (const strata::v1::RoleInfo& r : info->roles()) {
      const std::string& n = r.role();
      if (n == "root")
        trusted.set_root(r.version());
      else if (n == "timestamp")
        trusted.set_timestamp(r.version());
      else if (n == "snapshot")
        trusted.set_snapshot(r.version());
      else if (n == "targets")
        trusted.set_targets(r.version());
      else if (n == "director")
        trusted.set_director(r.version());
      else
        (*trusted.mutable_roles())[n] = r.version();
    }
  }
  std::vector<std::string> secure_shas = shas;  // same content, same hashes
  CannedDelivery canned;
  {
    // What one Check of each app carries: the figures the ratios are about.
    auto stub = strata::v1::Delivery::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    for (const char* app : {"wallet", "secure"}) {
      CheckRequest req;
      req.mutable_device()->set_app_id(app);
      req.mutable_device()->set_device_id("device-1");
      req.mutable_device()->set_app_version("10.3.0");
      req.mutable_device()->set_os("android");
      if (std::string(app) == "secure") *req.mutable_trusted() = trusted;
      CheckResponse resp;
      grpc::ClientContext ctx;
      if (!stub->Check(&ctx, req, &resp).ok()) return 1;
      if (std::string(app) == "wallet") canned.set_answer(resp);
      std::printf(
          "app %s: a Check answers %zu bytes: %d updates, %d metadata files\n",
          app, resp.ByteSizeLong(), resp.plan().updates_size(),
          resp.metadata_size());
    }
  }

  EmptyDelivery empty;
  grpc::ServerBuilder builder;
  int empty_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &empty_port);
  builder.RegisterService(&empty);
  auto empty_server = builder.BuildAndStart();
  const std::string empty_address = "127.0.0.1:" + std::to_string(empty_port);
  grpc::ServerBuilder canned_builder;
  int canned_port = 0;
  canned_builder.AddListeningPort(
      "127.0.0.1:0", grpc::InsecureServerCredentials(), &canned_port);
  canned_builder.RegisterService(&canned);
  auto canned_server = canned_builder.BuildAndStart();
  const std::string canned_address = "127.0.0.1:" + std::to_string(canned_port);

  std::printf(
      "| devices | handler | calls | Check/s | p50 ms | p99 ms | CPU us/call "
      "| ratio to empty | CPU ratio | trust on / off |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  if (const char* only = std::getenv("SERVER_BENCH_ONLY")) {
    // For a profiler: drive one handler only ("empty", "off", "on").
    const std::string which = only;
    const Result r =
        which == "empty"    ? Drive(empty_address, 100000, seconds, shas)
        : which == "canned" ? Drive(canned_address, 100000, seconds, shas)
        : which == "http"
            ? DriveHttp((*server)->http_port(), 100000, seconds, shas)
        : which == "on"
            ? Drive(address, 100000, seconds, secure_shas, "secure", &trusted)
            : Drive(address, 100000, seconds, shas);
    std::printf("%s: %.0f Check/s, %.1f CPU us/call\n", only, r.qps,
                CpuMicrosPerCall(r));
  }
  for (int devices : {1000, 100000}) {
    if (std::getenv("SERVER_BENCH_ONLY") != nullptr) break;
    // Interleave to share the machine's noise: empty, strata, empty, strata.
    Result e1 = Drive(empty_address, devices, seconds / 2, shas);
    Result c1 = Drive(canned_address, devices, seconds / 2, shas);
    Result s1 = Drive(address, devices, seconds / 2, shas);
    Result h1 = DriveHttp((*server)->http_port(), devices, seconds / 2, shas);
    Result t1 =
        Drive(address, devices, seconds / 2, secure_shas, "secure", &trusted);
    Result e2 = Drive(empty_address, devices, seconds / 2, shas);
    Result t2 =
        Drive(address, devices, seconds / 2, secure_shas, "secure", &trusted);
    Result h2 = DriveHttp((*server)->http_port(), devices, seconds / 2, shas);
    Result s2 = Drive(address, devices, seconds / 2, shas);
    Result c2 = Drive(canned_address, devices, seconds / 2, shas);
    const Result c = Merge(c1, c2);
    const Result t = Merge(t1, t2);
    const Result e = Merge(e1, e2);
    const Result s = Merge(s1, s2);
    const Result h = Merge(h1, h2);
    const double e_cpu = CpuMicrosPerCall(e);
    std::printf(
        "| %d | empty | %llu | %.0f | %.3f | %.3f | %.1f | 1.00 | 1.00 | |\n",
        devices, static_cast<unsigned long long>(e.calls), e.qps, e.p50_ms,
        e.p99_ms, e_cpu);
    std::printf(
        "| %d | canned answer | %llu | %.0f | %.3f | %.3f | %.1f | %.2f | "
        "%.2f | |\n",
        devices, static_cast<unsigned long long>(c.calls), c.qps, c.p50_ms,
        c.p99_ms, CpuMicrosPerCall(c), c.qps / e.qps,
        e_cpu / CpuMicrosPerCall(c));
    std::printf(
        "| %d | stratad, trust off | %llu | %.0f | %.3f | %.3f | %.1f | %.2f | "
        "%.2f | |\n",
        devices, static_cast<unsigned long long>(s.calls), s.qps, s.p50_ms,
        s.p99_ms, CpuMicrosPerCall(s), s.qps / e.qps,
        e_cpu / CpuMicrosPerCall(s));
    std::printf(
        "| %d | stratad, trust on | %llu | %.0f | %.3f | %.3f | %.1f | %.2f | "
        "%.2f | %.2f |\n",
        devices, static_cast<unsigned long long>(t.calls), t.qps, t.p50_ms,
        t.p99_ms, CpuMicrosPerCall(t), t.qps / e.qps,
        e_cpu / CpuMicrosPerCall(t), t.qps / s.qps);
    std::printf(
        "| %d | stratad over HTTP/2, trust off | %llu | %.0f | %.3f | %.3f | "
        "%.1f | %.2f | %.2f | |\n",
        devices, static_cast<unsigned long long>(h.calls), h.qps, h.p50_ms,
        h.p99_ms, CpuMicrosPerCall(h), h.qps / e.qps,
        e_cpu / CpuMicrosPerCall(h));
  }
  empty_server->Shutdown();
  canned_server->Shutdown();
  (*server)->Shutdown();
  (void)strata::DeleteRecursively(*strata::PosixFileSystem(), dir);
  return 0;
}
