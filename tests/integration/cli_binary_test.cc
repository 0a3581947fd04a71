// The real binaries: stratad started as a process, driven by `strata` and
// `strata-device`, checking output, JSON and documented exit codes.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "../server/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/server/storage/store.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

struct CmdResult {
  int exit_code;
  std::string out;
};

std::string BinDir() {
  const char* dir = std::getenv("STRATA_BIN_DIR");
  return dir ? dir : STRATA_TEST_BIN_DIR;
}

CmdResult RunCommand(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return CmdResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class CliBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CmdResult init =
        RunCommand(JoinPath(BinDir(), "stratad") + " init --data-dir " +
                   JoinPath(dir_.path(), "data"));
    ASSERT_EQ(init.exit_code, 0) << init.out;
    auto token =
        PosixFileSystem()->ReadFile(JoinPath(dir_.path(), "data/admin.token"));
    ASSERT_TRUE(token.ok());
    token_ = token->substr(0, token->find('\n'));
    StartServer();
  }
  void StartServer() {
    const std::string port_file = JoinPath(dir_.path(), "port");
    (void)PosixFileSystem()->DeleteFile(port_file);
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const std::string stratad = JoinPath(BinDir(), "stratad");
      const std::string data = JoinPath(dir_.path(), "data");
      // Other features' tests publish unsigned; the signing test does not.
      const char* unsigned_flag = allow_unsigned_
                                      ? "--allow-unsigned-publishes"
                                      : "--max-message-bytes=8388608";
      ::execl(stratad.c_str(), "stratad", "--data-dir", data.c_str(),
              "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", unsigned_flag,
              "--port-file", port_file.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !PosixFileSystem()->Exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    auto port = PosixFileSystem()->ReadFile(port_file);
    ASSERT_TRUE(port.ok()) << "stratad did not start";
    server_ = "127.0.0.1:" + port->substr(0, port->find('\n'));
  }
  void TearDown() override { StopServer(); }
  void StopServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  CmdResult Strata(const std::string& args) {
    return RunCommand(JoinPath(BinDir(), "strata") + " --server " + server_ +
                      " --token " + token_ + " " + args);
  }
  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = JoinPath(dir_.path(), name);
    EXPECT_TRUE(WriteFileAtomically(*PosixFileSystem(), path, content).ok());
    return path;
  }

  testing::TempDir dir_;
  pid_t pid_ = -1;
  bool allow_unsigned_ = true;
  std::string server_;
  std::string token_;
};

TEST_F(CliBinaryTest, PublishReleaseAndDeviceReadsConfig) {
  const std::string file = WriteFile("limits.json", "{\"daily_limit\": 5000}");
  const std::string module =
      "--app wallet --layer config --module payment.limits";
  CmdResult r = Strata("health --wait 5");
  EXPECT_EQ(r.exit_code, 0);
  r = Strata("publish " + module + " --version 1 --file " + file);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("published: config/payment.limits 1"));
  r = Strata("release create " + module +
             " --version 1 --all-at-once --output json");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("\"release_id\":\"1\""));
  EXPECT_THAT(r.out, HasSubstr("\"state\":\"RELEASE_COMPLETED\""));

  r = RunCommand(JoinPath(BinDir(), "strata-device") + " --server " + server_ +
                 " --app wallet --device-id d1 --storage-dir " +
                 JoinPath(dir_.path(), "d1") +
                 " --print-config payment.limits");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out,
              HasSubstr("config payment.limits = {\"daily_limit\": 5000}"));
}

TEST_F(CliBinaryTest, ExitCodesFollowTheDocumentedTable) {
  const std::string a = WriteFile("a.json", "{\"a\":1}");
  const std::string b = WriteFile("b.json", "{\"b\":2}");
  const std::string module = "--app wallet --layer config --module m";
  EXPECT_EQ(Strata("publish " + module + " --version 1 --file " + a).exit_code,
            0);
  // Same version, other content: refused (4).
  EXPECT_EQ(Strata("publish " + module + " --version 1 --file " + b).exit_code,
            4);
  // Releasing a version never published: not found (3), with a JSON error.
  CmdResult r =
      Strata("release create " + module + " --version 9 --output json");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.out, HasSubstr("\"code\":\"NOT_FOUND\""));
  // Bad input: unknown layer, missing file (2).
  EXPECT_EQ(
      Strata(
          "publish --app wallet --layer nope --module m --version 1 --file " +
          a)
          .exit_code,
      2);
  EXPECT_EQ(Strata("publish " + module + " --version 2 --file /no/such/file")
                .exit_code,
            2);
  // No token, or a wrong one: refused (4) with the reason.
  r = RunCommand(JoinPath(BinDir(), "strata") + " --server " + server_ +
                 " --output json release list --app wallet");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("UNAUTHENTICATED"));
  r = RunCommand(JoinPath(BinDir(), "strata") + " --server " + server_ +
                 " --token stk_wrong release list --app wallet");
  EXPECT_EQ(r.exit_code, 4);
  // Unreachable server (5).
  r = RunCommand(JoinPath(BinDir(), "strata") +
                 " --server 127.0.0.1:1 release list --app wallet");
  EXPECT_EQ(r.exit_code, 5);
}

TEST_F(CliBinaryTest, ScopedTokensAndTheAuditLog) {
  const std::string file = WriteFile("a.json", "{\"a\":1}");
  CmdResult r = Strata("token create --name ci --role publisher --app wallet");
  ASSERT_EQ(r.exit_code, 0);
  const std::string ci = r.out.substr(0, r.out.find('\n'));
  auto as_ci = [&](const std::string& args) {
    return RunCommand(JoinPath(BinDir(), "strata") + " --server " + server_ +
                      " --token " + ci + " " + args);
  };
  const std::string module = "--layer config --module m --version 1";
  EXPECT_EQ(
      as_ci("publish --app wallet " + module + " --file " + file).exit_code, 0);
  EXPECT_EQ(as_ci("publish --app mall " + module + " --file " + file).exit_code,
            4);
  EXPECT_EQ(as_ci("release create --app wallet " + module).exit_code, 4);
  EXPECT_EQ(
      Strata("release create --app wallet --all-at-once " + module).exit_code,
      0);

  r = Strata("audit verify");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // token.create (init), token.create (ci), publish, release.create
  EXPECT_THAT(r.out, HasSubstr("verified: 4 entries"));
  r = Strata("audit list");
  EXPECT_THAT(r.out, HasSubstr("ci  publish  wallet"));
}

TEST_F(CliBinaryTest, AuditVerifyCatchesTamperingOnDisk) {
  const std::string file = WriteFile("a.json", "{\"a\":1}");
  ASSERT_EQ(
      Strata(
          "publish --app wallet --layer config --module m --version 1 --file " +
          file)
          .exit_code,
      0);
  ASSERT_EQ(Strata("audit verify").exit_code, 0);
  StopServer();
  {
    // Someone with access to the disk rewrites who published.
    auto store = server::Store::Open(JoinPath(dir_.path(), "data/db"));
    ASSERT_TRUE(store.ok()) << store.status();
    auto entries = (*store)->ListAudit(0, 100);
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 2u);
    v1::AuditEntry forged = (*entries)[1];
    forged.set_actor("somebody-else");
    ASSERT_TRUE((*store)->RawPutAuditForTesting(forged).ok());
  }
  StartServer();
  CmdResult r = Strata("audit verify");
  EXPECT_EQ(r.exit_code, 4);
  r = Strata("--output json audit verify");
  EXPECT_THAT(r.out, HasSubstr("audit entry 2 (publish) was altered"));
}

TEST_F(CliBinaryTest, BackupAndRestoreBringBackEverything) {
  const std::string file = WriteFile("a.json", "{\"a\":1}");
  const std::string module =
      "--app wallet --layer config --module m --version 1";
  ASSERT_EQ(Strata("publish " + module + " --file " + file).exit_code, 0);
  ASSERT_EQ(Strata("release create --all-at-once " + module).exit_code, 0);
  const std::string backup = JoinPath(dir_.path(), "backup");
  CmdResult r = Strata("backup --to " + backup);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("audit log up to entry 3"));
  EXPECT_EQ(Strata("backup --to " + backup).exit_code, 4);  // exists: refused
  EXPECT_EQ(Strata("backup --to relative/dir").exit_code, 2);

  // Lose the data directory, restore the backup into a fresh one.
  StopServer();
  const std::string data = JoinPath(dir_.path(), "data");
  ASSERT_EQ(::rename(data.c_str(), (data + ".lost").c_str()), 0);
  r = RunCommand(JoinPath(BinDir(), "stratad") + " restore --from " + backup +
                 " --data-dir " + data);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = RunCommand(JoinPath(BinDir(), "stratad") + " restore --from " + backup +
                 " --data-dir " + data);
  EXPECT_NE(r.exit_code, 0);  // never over an existing database
  StartServer();
  r = Strata("release list --app wallet");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("config/m"));
  r = Strata("audit verify");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("verified: 3 entries"));
}

TEST_F(CliBinaryTest, KeysTrustAndSignedPublishes) {
  StopServer();
  allow_unsigned_ = false;
  StartServer();
  const std::string keys = JoinPath(dir_.path(), "keys");
  const std::string file = WriteFile("fix.bin", "hotpatch bytes");
  const std::string module =
      "--app wallet --layer hotpatch --module core --host-build b77";
  // Without a root of trust no publish is possible.
  CmdResult r = Strata("publish " + module + " --version 1 --file " + file);
  EXPECT_EQ(r.exit_code, 4);
  ASSERT_EQ(Strata("keys gen --dir " + keys).exit_code, 0);
  EXPECT_EQ(Strata("keys gen --dir " + keys).exit_code,
            4);  // never overwritten
  struct stat st;
  ASSERT_EQ(::stat(JoinPath(keys, "publisher-a.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The private key is ordinary PKCS#8 PEM that openssl reads.
  EXPECT_EQ(RunCommand("openssl pkey -in " + JoinPath(keys, "publisher-a.key") +
                       " -noout")
                .exit_code,
            0);
  r = Strata("trust init --keys " + keys + " --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("hotpatch: 2 of 2 keys"));
  const std::string a = " --key " + JoinPath(keys, "publisher-a.key");
  const std::string b = " --key " + JoinPath(keys, "publisher-b.key");
  const std::string root = " --key " + JoinPath(keys, "root.key");
  EXPECT_EQ(
      Strata("publish " + module + " --version 1 --file " + file).exit_code, 4);
  EXPECT_EQ(
      Strata("publish " + module + " --version 1 --file " + file + a).exit_code,
      4);
  EXPECT_EQ(
      Strata("publish " + module + " --version 1 --file " + file + a + root)
          .exit_code,
      4);
  r = Strata("--output json publish " + module + " --version 1 --file " + file +
             a + a);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("needs 2 valid publisher signature(s), got 1"));
  r = Strata("publish " + module + " --version 1 --file " + file + a + b);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // Config needs one of the two.
  const std::string cfg = WriteFile("c.json", "{}");
  EXPECT_EQ(
      Strata(
          "publish --app wallet --layer config --module c --version 1 --file " +
          cfg + b)
          .exit_code,
      0);
  // The root is pinned to wallet.
  EXPECT_EQ(
      Strata(
          "publish --app mall --layer config --module c --version 1 --file " +
          cfg + a)
          .exit_code,
      4);
}

TEST_F(CliBinaryTest, PublishADirectoryTree) {
  const std::string tree = JoinPath(dir_.path(), "mall-home");
  ASSERT_TRUE(CreateDirs(*PosixFileSystem(), JoinPath(tree, "js")).ok());
  WriteFile("mall-home/index.html", "<html>mall</html>");
  WriteFile("mall-home/js/app.js", "console.log(1)");
  const std::string module = "--app wallet --layer h5 --module mall-home";
  CmdResult r = Strata("publish " + module + " --version 1 --dir " + tree);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("published: h5/mall-home 1"));
  EXPECT_EQ(Strata("publish " + module + " --version 2 --dir " + tree +
                   " --file " + tree + "/index.html")
                .exit_code,
            2);  // one or the other
  EXPECT_EQ(Strata("publish " + module + " --version 2").exit_code, 2);
  EXPECT_EQ(
      Strata("publish " + module + " --version 2 --dir /no/such").exit_code, 2);
}

TEST_F(CliBinaryTest, SegmentsWithIdFiles) {
  const std::string allow =
      WriteFile("allow.txt", "# testers\ntester-1\ntester-2\n\n");
  CmdResult r = Strata(
      "segment put --app wallet --name sh --expr 'os == \"android\"' "
      "--allow-file " +
      allow);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("2 allowed"));
  r = Strata(
      "--output json segment put --app wallet --name bad --expr 'os =='");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("column"));
  r = Strata("segment list --app wallet");
  EXPECT_THAT(r.out, HasSubstr("sh  os == \"android\"  (+2 -0)"));
}

TEST_F(CliBinaryTest, HelpExplainsEveryCommand) {
  for (const std::string cmd :
       {"", "publish", "release create", "release list", "health",
        "token create", "audit verify", "login", "backup", "keys gen",
        "trust init", "segment put"}) {
    CmdResult r =
        RunCommand(JoinPath(BinDir(), "strata") + " " + cmd + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("Example")) << cmd;
  }
}

TEST_F(CliBinaryTest, StratadStopsCleanlyOnSigterm) {
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace strata
