// Real processes: stratad serves a large H5 package, `strata-device` is
// killed with SIGKILL at several moments of the check, download and apply,
// then run again; the installed state must be the old or the new version,
// verified by hash, never a mix or a damaged file. The device talks to
// stratad through a proxy in this process that holds the call at each
// moment (a check, the download at N bytes, the report after the apply),
// so every moment is hit, on any machine, before the kill.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "../integration/stratad_process.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

std::string BinDir() {
  const char* dir = std::getenv("STRATA_BIN_DIR");
  if (dir != nullptr) return dir;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "bin";
  self[n] = '\0';
  return JoinPath(Dirname(Dirname(self)), "bin");
}

struct CmdResult {
  int exit_code;
  std::string out;
};

CmdResult RunCmd(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return CmdResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string Content(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// Forwards the Delivery service to stratad and, when armed, holds one call
// at a chosen point until the caller is gone (killed): the kill point.
class KillPointProxy final : public v1::Delivery::Service {
 public:
  enum class Hold {
    kNothing,
    kCheck,          // the Check call, before it is forwarded
    kDownloadAt,     // a Download stream, once `at` bytes of the blob went
    kAppliedReport,  // the first Report carrying an APPLIED event
  };

  explicit KillPointProxy(const std::string& upstream)
      : stub_(v1::Delivery::NewStub(grpc::CreateChannel(
            upstream, grpc::InsecureChannelCredentials()))) {}

  void Arm(Hold what, uint64_t at = 0) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = what;
    at_ = at;
    held_ = false;
  }
  // Whether a call is held at the armed point now.
  bool held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_;
  }
  // Lets every held call go (they fail) and passes everything through.
  void Shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = Hold::kNothing;
    shutdown_ = true;
    cv_.notify_all();
  }

  grpc::Status Check(grpc::ServerContext* context,
                     const v1::CheckRequest* request,
                     v1::CheckResponse* response) override {
    if (Armed(Hold::kCheck)) return HoldUntilGone(context);
    grpc::ClientContext upstream;
    return stub_->Check(&upstream, *request, response);
  }

  grpc::Status Download(
      grpc::ServerContext* context, const v1::DownloadRequest* request,
      grpc::ServerWriter<v1::DownloadChunk>* writer) override {
    uint64_t stop_at = UINT64_MAX;
    if (Armed(Hold::kDownloadAt)) {
      std::lock_guard<std::mutex> lock(mu_);
      stop_at = at_;
    }
    grpc::ClientContext upstream;
    auto reader = stub_->Download(&upstream, *request);
    v1::DownloadChunk chunk;
    uint64_t offset = request->offset();
    while (offset < stop_at && reader->Read(&chunk)) {
      if (chunk.data().size() > stop_at - offset) {
        chunk.mutable_data()->resize(stop_at - offset);
      }
      offset += chunk.data().size();
      if (!writer->Write(chunk)) break;
    }
    if (offset >= stop_at) {
      // Every byte up to `stop_at` was sent; the stream neither goes on
      // nor ends.
      upstream.TryCancel();
      (void)reader->Finish();
      return HoldUntilGone(context);
    }
    return reader->Finish();
  }

  grpc::Status Report(grpc::ServerContext* context,
                      const v1::ReportRequest* request,
                      v1::ReportResponse* response) override {
    if (Armed(Hold::kAppliedReport)) {
      for (const v1::ReportEvent& e : request->events()) {
        if (e.kind() == v1::ReportEvent::KIND_APPLIED) {
          return HoldUntilGone(context);
        }
      }
    }
    grpc::ClientContext upstream;
    return stub_->Report(&upstream, *request, response);
  }

 private:
  bool Armed(Hold what) {
    std::lock_guard<std::mutex> lock(mu_);
    return hold_ == what;
  }
  // Holds the call until its client disconnects (or Shutdown()).
  grpc::Status HoldUntilGone(grpc::ServerContext* context) {
    std::unique_lock<std::mutex> lock(mu_);
    held_ = true;
    while (!shutdown_ && !context->IsCancelled()) {
      cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    held_ = false;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "held by the test");
  }

  std::unique_ptr<v1::Delivery::Stub> stub_;
  std::mutex mu_;
  std::condition_variable cv_;
  Hold hold_ = Hold::kNothing;
  uint64_t at_ = 0;
  bool held_ = false;
  bool shutdown_ = false;
};

class DeviceKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata_kill_test_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    const std::string data = JoinPath(dir_, "data");
    CmdResult init =
        RunCmd(JoinPath(BinDir(), "stratad") + " init --data-dir " + data);
    ASSERT_EQ(init.exit_code, 0) << init.out;
    auto token = PosixFileSystem()->ReadFile(JoinPath(data, "admin.token"));
    ASSERT_TRUE(token.ok());
    token_ = token->substr(0, token->find('\n'));
    const std::string port_file = JoinPath(dir_, "port");
    server_pid_ = ::fork();
    ASSERT_GE(server_pid_, 0);
    if (server_pid_ == 0) {
      const std::string stratad = JoinPath(BinDir(), "stratad");
      ::execl(stratad.c_str(), "stratad", "--data-dir", data.c_str(),
              "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--port-file",
              port_file.c_str(),
              // Signed publishing is not what this test is about; deltas
              // of random content are never worth it (and would be work).
              "--allow-unsigned-publishes", "--delta-versions", "0", nullptr);
      ::_exit(127);
    }
    // A hang guard only; stops early if stratad exits.
    auto port = testing::WaitForPortFile(server_pid_, port_file);
    ASSERT_TRUE(port.ok()) << port.status();
    server_ = "127.0.0.1:" + port->substr(0, port->find('\n'));
    // Devices reach stratad through the proxy.
    proxy_ = std::make_unique<KillPointProxy>(server_);
    grpc::ServerBuilder builder;
    int proxy_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &proxy_port);
    builder.RegisterService(proxy_.get());
    proxy_server_ = builder.BuildAndStart();
    ASSERT_NE(proxy_server_, nullptr);
    proxy_address_ = "127.0.0.1:" + std::to_string(proxy_port);
  }
  void TearDown() override {
    if (proxy_server_ != nullptr) {
      proxy_->Shutdown();
      proxy_server_->Shutdown();
    }
    if (server_pid_ > 0) {
      // SIGKILL: a graceful stop waits for background delta generation
      // (~15 s for these 8/24 MB random packages); nothing here needs it.
      ::kill(server_pid_, SIGKILL);
      int status = 0;
      ::waitpid(server_pid_, &status, 0);
    }
    (void)DeleteRecursively(*PosixFileSystem(), dir_);
  }
  void PublishAndRelease(const std::string& version,
                         const std::string& content) {
    const std::string file = JoinPath(dir_, "pkg-" + version);
    ASSERT_TRUE(WriteFileAtomically(*PosixFileSystem(), file, content).ok());
    const std::string cli = JoinPath(BinDir(), "strata") +
                            " --plaintext --server " + server_ + " --token " +
                            token_ + " ";
    const std::string module = " --app wallet --layer h5 --module big";
    CmdResult r = RunCmd(cli + "publish" + module + " --version " + version +
                         " --file " + file);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    r = RunCmd(cli + "release create" + module + " --version " + version +
               " --all-at-once");
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  std::vector<std::string> DeviceArgs() {
    return {"strata-device", "--plaintext", "--server", proxy_address_, "--app",
            "wallet", "--device-id", "d1", "--storage-dir",
            JoinPath(dir_, "device"),
            // The server publishes unsigned content; this test is about
            // crash safety.
            "--insecure-skip-signature-verification-for-tests"};
  }
  std::string DeviceCmd(const std::string& extra) {
    std::string cmd = JoinPath(BinDir(), "strata-device");
    std::vector<std::string> args = DeviceArgs();
    for (size_t i = 1; i < args.size(); ++i) cmd += " " + args[i];
    return cmd + " " + extra;
  }
  // Starts strata-device (check, download, apply) and SIGKILLs it once
  // `when()` holds: a state the device cannot get past by itself (a call
  // the proxy holds). True if it was killed there; false (with a failure)
  // if it finished first, or after the hang guard.
  bool RunAndKill(const std::function<bool()>& when) {
    pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<std::string> args = DeviceArgs();
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const std::string bin = JoinPath(BinDir(), "strata-device");
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    int status = 0;
    const auto deadline =
        std::chrono::steady_clock::now() + testing::kProcessHangGuard;
    while (!when()) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        ADD_FAILURE() << "strata-device finished before the kill point";
        return false;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "the kill point was not reached (hung?)";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }
  uint64_t PartialSize(const std::string& sha) {
    auto info = PosixFileSystem()->Stat(
        JoinPath(dir_, "device/staging/" + sha + ".part"));
    return info.ok() ? info->size : 0;
  }
  // The state after a crash: verified, and `big` is one of `allowed`.
  void ExpectConsistent(const std::vector<std::string>& allowed_sha) {
    CmdResult r = RunCmd(DeviceCmd("--no-check --verify"));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("verified"));
    size_t at = r.out.find("active h5/big ");
    if (at == std::string::npos) {
      EXPECT_TRUE(allowed_sha.empty() || allowed_sha[0].empty()) << r.out;
      return;
    }
    bool ok = false;
    for (const auto& sha : allowed_sha) {
      ok |= !sha.empty() && r.out.find(sha, at) != std::string::npos;
    }
    EXPECT_TRUE(ok) << r.out;
  }

  std::string dir_;
  pid_t server_pid_ = -1;
  std::string server_;
  std::string token_;
  std::unique_ptr<KillPointProxy> proxy_;
  std::unique_ptr<grpc::Server> proxy_server_;
  std::string proxy_address_;
};

TEST_F(DeviceKillTest, KilledMidApplyLeavesOldOrNewVerified) {
  const std::string v1 = Content(8 << 20, 1);
  const std::string v2 = Content(24 << 20, 2);
  const std::string sha1 = Sha256::HexHash(v1), sha2 = Sha256::HexHash(v2);
  PublishAndRelease("1", v1);
  CmdResult r = RunCmd(DeviceCmd("--begin-launch --mark-healthy"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = RunCmd(DeviceCmd("--no-check --begin-launch --verify --mark-healthy"));
  ASSERT_THAT(r.out, HasSubstr("active h5/big 1 " + sha1));

  PublishAndRelease("2", v2);
  using Hold = KillPointProxy::Hold;
  const std::string blob2 = JoinPath(dir_, "device/blobs/" + sha2 + ".blob");
  struct Moment {
    const char* what;
    Hold hold;
    uint64_t at;       // kDownloadAt: bytes of the blob sent
    uint64_t partial;  // the partial download the kill leaves
    bool blob_after;   // whether the verified blob exists after it
  };
  const Moment moments[] = {
      {"during the check", Hold::kCheck, 0, 0, false},
      // The download at three offsets (each run resumes), then with every
      // byte there but the stream not ended (nothing verified yet).
      {"download at 4 MiB", Hold::kDownloadAt, 4u << 20, 4u << 20, false},
      {"download at 12 MiB", Hold::kDownloadAt, 12u << 20, 12u << 20, false},
      {"download at 20 MiB", Hold::kDownloadAt, 20u << 20, 20u << 20, false},
      {"every byte, stream open", Hold::kDownloadAt, 24u << 20, 24u << 20,
       false},
      // The resumed run verifies and adopts the blob, stages the version
      // (state committed) and reports: killed while it reports.
      {"reporting the apply", Hold::kAppliedReport, 0, 0, true},
  };
  for (const Moment& m : moments) {
    SCOPED_TRACE(m.what);
    proxy_->Arm(m.hold, m.at);
    const bool killed = RunAndKill([&] {
      if (!proxy_->held()) return false;
      // The device wrote every byte it was sent before it is killed.
      return m.hold != Hold::kDownloadAt || PartialSize(sha2) == m.at;
    });
    EXPECT_TRUE(killed);
    EXPECT_EQ(PartialSize(sha2), m.partial);
    EXPECT_EQ(PosixFileSystem()->Exists(blob2), m.blob_after);
    ExpectConsistent({sha1, sha2});
  }
  proxy_->Arm(Hold::kNothing);
  // Run to completion, then launch: the new version is active, verified.
  r = RunCmd(DeviceCmd("--verify"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = RunCmd(DeviceCmd("--no-check --begin-launch --verify --mark-healthy"));
  EXPECT_THAT(r.out, HasSubstr("active h5/big 2 " + sha2)) << r.out;
  // The healthy launch dropped the old version: only the new blob remains.
  auto blobs = PosixFileSystem()->ListDir(JoinPath(dir_, "device/blobs"));
  ASSERT_TRUE(blobs.ok());
  EXPECT_EQ(blobs->size(), 1u) << ::testing::PrintToString(*blobs);
  auto staging = PosixFileSystem()->ListDir(JoinPath(dir_, "device/staging"));
  ASSERT_TRUE(staging.ok());
  EXPECT_TRUE(staging->empty()) << ::testing::PrintToString(*staging);
}

TEST(StrataDeviceTest, RefusesToStartWithoutARootOfTrust) {
  char tmpl[] = "/tmp/strata_device_root_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string storage = JoinPath(dir, "device");
  const std::string base = JoinPath(BinDir(), "strata-device") +
                           " --server 127.0.0.1:1 --app wallet --device-id d1"
                           " --storage-dir " +
                           storage;
  CmdResult r = RunCmd(base);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--root"));
  EXPECT_THAT(r.out, HasSubstr("strata trust init"));
  EXPECT_FALSE(PosixFileSystem()->Exists(storage));  // nothing started
  // An unreadable root, and a file that is no signed root.
  // Exit codes as strata's: bad input 2, the server unreachable 5.
  r = RunCmd(base + " --root " + JoinPath(dir, "absent.json"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("cannot read --root"));
  const std::string bad = JoinPath(dir, "bad-root.json");
  ASSERT_TRUE(WriteFileAtomically(*PosixFileSystem(), bad, "{}").ok());
  r = RunCmd(base + " --root " + bad);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  // The test-only switch starts it (the check then finds no server).
  r = RunCmd(base + " --insecure-skip-signature-verification-for-tests");
  EXPECT_EQ(r.exit_code, 5) << r.out;
  EXPECT_THAT(r.out, HasSubstr("check failed: cannot reach stratad at"));
  (void)DeleteRecursively(*PosixFileSystem(), dir);
}

}  // namespace
}  // namespace strata
