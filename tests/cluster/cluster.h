// Several real stratad processes (replicas) on one real PostgreSQL server,
// all on loopback: `stratad init --metadata URL` once, then each replica
// with its own data directory, the shared online keys and --metadata URL.
#ifndef STRATA_TESTS_CLUSTER_CLUSTER_H_
#define STRATA_TESTS_CLUSTER_CLUSTER_H_

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../integration/stratad_process.h"
#include "../server/test_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/server/storage/testing/temp_postgres.h"
#include "strata/server/storage/testing/temp_s3rver.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata::testing {

// Polls `done` (every 10 ms) until it holds; false after kProcessHangGuard
// (a hang guard: a passing test never waits that long).
inline bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + kProcessHangGuard;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// One s3rver for the whole test binary (tests keep apart by key prefix),
// started on first use; null with `why` set when it cannot run here.
inline TempS3rver* SharedS3rver(std::string* why) {
  static std::unique_ptr<TempS3rver> server;
  static std::string error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    error = TempS3rver::SkipReason();
    if (error.empty()) {
      auto s =
          TempS3rver::Start(STRATA_S3RVER_PACKAGE_DIR, STRATA_S3RVER_WORK_DIR);
      if (s.ok()) {
        server = *std::move(s);
        TempS3rver::SetCredentialsInEnvironment();
      } else {
        error = s.status().ToString();
      }
    }
  }
  if (why != nullptr) *why = error;
  return server.get();
}

class Cluster {
 public:
  struct Replica {
    pid_t pid = -1;
    std::string data_dir;
    std::string port_file;
    std::string address;  // 127.0.0.1:<grpc port>
    std::string http_port;
    std::vector<std::string> flags;
  };

  ~Cluster() { Stop(); }

  // PostgreSQL, `stratad init` on it, then `n` replicas with `flags`
  // (default: no health gates).
  // Use with ASSERT_NO_FATAL_FAILURE; skips the test when PostgreSQL is
  // not installed.
  void Start(int n, std::vector<std::string> flags = {"--gate-interval", "0"}) {
    if (std::string why = TempPostgres::SkipReason(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    if (!blobs_.empty()) {
      flags.push_back("--blobs");
      flags.push_back(blobs_);
    }
    auto pg = TempPostgres::Start();
    ASSERT_THAT(pg, IsOk());
    postgres_ = *std::move(pg);
    url_ = postgres_->Url();
    keys_ = JoinPath(dir_.path(), "online-keys");
    std::string init_dir = JoinPath(dir_.path(), "init");
    std::string cmd =
        StrCat(Stratad(), " init --data-dir ", init_dir, " --metadata ", url_,
               " --online-keys-dir ", keys_);
    if (!migrate_from_.empty()) {
      // The cluster takes over a single stratad's data directory.
      init_dir = migrate_from_;
      keys_ = JoinPath(migrate_from_, "online-keys");
      cmd =
          StrCat(Stratad(), " migrate --from ", migrate_from_, " --metadata ",
                 url_, blobs_.empty() ? "" : StrCat(" --blobs '", blobs_, "'"));
    }
    cmd += StrCat(" >", dir_.path(), "/init.log 2>&1");
    ASSERT_EQ(std::system(cmd.c_str()), 0)
        << cmd << " failed: "
        << PosixFileSystem()
               ->ReadFile(JoinPath(dir_.path(), "init.log"))
               .value_or("");
    auto token = PosixFileSystem()->ReadFile(JoinPath(init_dir, "admin.token"));
    ASSERT_THAT(token, IsOk());
    token_ = token->substr(0, token->find('\n'));
    for (int i = 0; i < n; ++i) {
      Replica r;
      r.data_dir = JoinPath(dir_.path(), StrCat("replica", i));
      r.port_file = JoinPath(dir_.path(), StrCat("replica", i, ".port"));
      r.flags = flags;
      ASSERT_THAT(CreateDirs(*PosixFileSystem(), r.data_dir), IsOk());
      replicas_.push_back(std::move(r));
      ASSERT_NO_FATAL_FAILURE(StartReplica(i));
    }
  }

  // Before Start: blob chunks go to the shared s3rver under a prefix of
  // this cluster's own (skips the test when s3rver cannot run).
  void UseS3Blobs() {
    if (std::string why = TempS3rver::SkipReason(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    std::string why;
    TempS3rver* s3 = SharedS3rver(&why);
    ASSERT_NE(s3, nullptr) << "s3rver: " << why;
    static int clusters = 0;
    blobs_ = s3->BlobsUrl(StrCat("cluster", ++clusters));
  }
  const std::string& blobs() const { return blobs_; }
  // Before Start: `stratad migrate --from data_dir` (a stopped single
  // stratad's RocksDB data directory) instead of `stratad init`; replicas
  // use its online keys and its admin token.
  void MigrateFrom(const std::string& data_dir) { migrate_from_ = data_dir; }
  // What `stratad init` or `migrate` printed.
  std::string InitLog() const {
    return PosixFileSystem()
        ->ReadFile(JoinPath(dir_.path(), "init.log"))
        .value_or("");
  }

  // (Re)starts replica `i` (after Kill or StopReplica).
  void StartReplica(int i) {
    Replica& r = replicas_[i];
    (void)PosixFileSystem()->DeleteFile(r.port_file);
    std::vector<std::string> args = {
        "stratad",     "--data-dir",  r.data_dir,
        "--metadata",  url_,          "--online-keys-dir",
        keys_,         "--listen",    "127.0.0.1:0",
        "--http",      "127.0.0.1:0", "--allow-unsigned-publishes",
        "--port-file", r.port_file};
    args.insert(args.end(), r.flags.begin(), r.flags.end());
    const std::string stratad = Stratad();
    r.pid = ::fork();
    ASSERT_GE(r.pid, 0);
    if (r.pid == 0) {
      // Dies with the test process (forked from its main thread), so a test
      // that aborts leaves no stratad holding ctest's output pipe open.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(stratad.c_str(), argv.data());
      ::_exit(127);
    }
    auto ports = WaitForPortFile(r.pid, r.port_file);
    ASSERT_THAT(ports, IsOk()) << "replica " << i << " did not start";
    const size_t nl = ports->find('\n');
    r.address = "127.0.0.1:" + ports->substr(0, nl);
    r.http_port = ports->substr(nl + 1, ports->find('\n', nl + 1) - nl - 1);
  }

  // Sends `sig` to replica `i` and reaps it (SIGKILL: a crash).
  void Kill(int i, int sig = SIGKILL) {
    Replica& r = replicas_[i];
    if (r.pid <= 0) return;
    ::kill(r.pid, sig);
    int status = 0;
    ::waitpid(r.pid, &status, 0);
    r.pid = -1;
  }
  void Stop() {
    for (size_t i = 0; i < replicas_.size(); ++i) {
      Kill(static_cast<int>(i), SIGTERM);
    }
  }

  int size() const { return static_cast<int>(replicas_.size()); }
  const Replica& replica(int i) const { return replicas_[i]; }
  TempPostgres& postgres() { return *postgres_; }
  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }

  // The value of the unlabelled metric `name` on replica `i`'s /metrics
  // (-1 when unreadable or absent).
  double Metric(int i, const std::string& name) const {
    auto page = HttpGet(
        StrCat("http://127.0.0.1:", replicas_[i].http_port, "/metrics"));
    if (!page.ok()) return -1;
    const std::string prefix = "\n" + name + " ";
    const size_t at = ("\n" + page->body).find(prefix);
    if (at == std::string::npos) return -1;
    return std::atof(page->body.c_str() + at + prefix.size() - 1);
  }

  std::unique_ptr<admin::AdminClient> Admin(int i) const {
    return std::make_unique<admin::AdminClient>(
        replicas_[i].address, token_, admin::ChannelSecurity::Plaintext(),
        absl::Seconds(30));
  }
  std::shared_ptr<grpc::Channel> Channel(int i) const {
    return grpc::CreateChannel(replicas_[i].address,
                               grpc::InsecureChannelCredentials());
  }

  // The stratad binary under test.
  static std::string Stratad() {
    const char* dir = std::getenv("STRATA_BIN_DIR");
    return JoinPath(dir ? dir : STRATA_TEST_BIN_DIR, "stratad");
  }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::unique_ptr<TempPostgres> postgres_;
  std::string url_;
  std::string keys_;
  std::string token_;
  std::vector<Replica> replicas_;
  std::string blobs_;
  std::string migrate_from_;
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_CLUSTER_CLUSTER_H_
