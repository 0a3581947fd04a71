// The fixture of the CLI tests that run the real binaries: a stratad
// process on loopback ports (gates every 100 ms; plaintext gRPC unless
// init_flags_ give it TLS), `strata` run through the shell with its exit
// code and output.
#ifndef STRATA_TESTS_INTEGRATION_CLI_FIXTURE_H_
#define STRATA_TESTS_INTEGRATION_CLI_FIXTURE_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "../server/test_util.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "stratad_process.h"

namespace strata {

struct CmdResult {
  int exit_code;
  std::string out;
};

inline std::string BinDir() {
  const char* dir = std::getenv("STRATA_BIN_DIR");
  return dir ? dir : STRATA_TEST_BIN_DIR;
}

// Runs `cmd` through the shell; stdout only, or stdout and stderr.
inline CmdResult RunCommand(const std::string& cmd, bool with_stderr = false) {
  FILE* p =
      ::popen((cmd + (with_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return CmdResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    CmdResult init =
        RunCommand(JoinPath(BinDir(), "stratad") + " init --data-dir " +
                   JoinPath(dir_.path(), "data") + init_flags_);
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
      // Gates judge every 100 ms, so staged releases move in test time.
      ::execl(stratad.c_str(), "stratad", "--data-dir", data.c_str(),
              "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", unsigned_flag,
              "--gate-interval", "0.1", "--port-file", port_file.c_str(),
              nullptr);
      ::_exit(127);
    }
    // A hang guard only; stops early if stratad exits.
    auto port = testing::WaitForPortFile(pid_, port_file);
    ASSERT_TRUE(port.ok()) << port.status();
    server_ = "127.0.0.1:" + port->substr(0, port->find('\n'));
    http_port_ = port->substr(port->find('\n') + 1);
    while (!http_port_.empty() && http_port_.back() == '\n')
      http_port_.pop_back();
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
  CmdResult Strata(const std::string& args, bool with_stderr = false) {
    return RunCommand(JoinPath(BinDir(), "strata") + " " + transport_flags_ +
                          " --server " + server_ + " --token " + token_ + " " +
                          args,
                      with_stderr);
  }
  // Publishes `content` as LAYER/MODULE@VERSION of wallet (unsigned).
  void Publish(const std::string& layer, const std::string& module,
               const std::string& version, const std::string& content) {
    const std::string file =
        WriteFile(StrCat(layer, "-", module, "-", version), content);
    CmdResult r =
        Strata(StrCat("publish --app wallet --layer ", layer, " --module ",
                      module, " --version ", version, " --file ", file));
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  // `strata keys gen` into <temp>/keys and `strata trust init` for app
  // wallet: the app's root of trust. Returns the root.json an app pins.
  std::string InitTrust() {
    const std::string keys = JoinPath(dir_.path(), "keys");
    CmdResult gen = Strata("keys gen --dir " + keys, true);
    EXPECT_EQ(gen.exit_code, 0) << gen.out;
    CmdResult init =
        Strata("trust init --keys " + keys + " --app wallet", true);
    EXPECT_EQ(init.exit_code, 0) << init.out;
    auto root = PosixFileSystem()->ReadFile(JoinPath(keys, "root.json"));
    EXPECT_TRUE(root.ok()) << root.status();
    return root.ok() ? *root : "";
  }
  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = JoinPath(dir_.path(), name);
    EXPECT_TRUE(WriteFileAtomically(*PosixFileSystem(), path, content).ok());
    return path;
  }

  testing::TempDir dir_;
  pid_t pid_ = -1;
  bool allow_unsigned_ = true;
  // Appended to `stratad init` (e.g. " --tls-self-signed"), and how
  // Strata() reaches the server: this stratad has no TLS unless init made
  // it, so plaintext (loopback) by default.
  std::string init_flags_;
  std::string transport_flags_ = "--plaintext";
  std::string server_;
  std::string http_port_;
  std::string token_;
};

// Every line of `out` is one JSON object (what --output json promises).
inline void ExpectJsonLines(const std::string& out, const std::string& what) {
  EXPECT_FALSE(out.empty()) << what;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(pos, end - pos);
    google::protobuf::Struct parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok())
        << what << ": not one JSON object per line: " << line;
    pos = end + 1;
  }
}

}  // namespace strata

#endif  // STRATA_TESTS_INTEGRATION_CLI_FIXTURE_H_
