// Real processes: stratad serves a large H5 package, `strata-device` is
// killed with SIGKILL at several moments of the download and apply, then
// run again; the installed state must be the old or the new version,
// verified by hash, never a mix or a damaged file.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"

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
              // Signed publishing is not what this test is about.
              "--allow-unsigned-publishes", nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 400 && !PosixFileSystem()->Exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    auto port = PosixFileSystem()->ReadFile(port_file);
    ASSERT_TRUE(port.ok()) << "stratad did not start";
    server_ = "127.0.0.1:" + port->substr(0, port->find('\n'));
  }
  void TearDown() override {
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
    return {"strata-device", "--plaintext", "--server", server_, "--app",
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
  // Starts strata-device (check, download, apply) and SIGKILLs it as soon
  // as `when()` holds (polled every millisecond, at most 10 s). Returns true
  // if it was killed before finishing.
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
    for (int i = 0; i < 10000 && !when(); ++i) {
      if (::waitpid(pid, &status, WNOHANG) == pid) return false;  // finished
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return WIFSIGNALED(status);
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
  int killed = 0, mid_download = 0;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::function<bool()>> moments = {
      // at start-up / during the check
      [&] {
        return std::chrono::steady_clock::now() - start >
               std::chrono::milliseconds(5);
      },
      // during the download, at three offsets (each run resumes)
      [&] { return PartialSize(sha2) >= (4u << 20); },
      [&] { return PartialSize(sha2) >= (12u << 20); },
      [&] { return PartialSize(sha2) >= (20u << 20); },
      // between the verified blob and the state switch
      [&] {
        return PosixFileSystem()->Exists(
            JoinPath(dir_, "device/blobs/" + sha2 + ".blob"));
      },
  };
  for (const auto& when : moments) {
    killed += RunAndKill(when);
    mid_download += PartialSize(sha2) > 0;
    ExpectConsistent({sha1, sha2});
  }
  EXPECT_GE(killed, 3) << "the device finished too quickly to be killed";
  EXPECT_GE(mid_download, 2) << "no kill hit the download";
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
