// A real stratad binary in a child process: `stratad init` on a data
// directory, then `stratad` on loopback ports the kernel picks (read back
// from --port-file), stopped with SIGTERM. Tests read what the server holds
// from its /metrics page.
#ifndef STRATA_TESTS_INTEGRATION_STRATAD_PROCESS_H_
#define STRATA_TESTS_INTEGRATION_STRATAD_PROCESS_H_

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/http_get.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::testing {

// How long a test waits for a child process to reach a state before it
// calls it hung. A hang guard only: every wait ends as soon as the state is
// there, so no test takes this long when it passes.
inline constexpr std::chrono::seconds kProcessHangGuard{120};

// Waits until the child `pid` (stratad with --port-file) has written
// `port_file`, and returns its content: the gRPC port, then the HTTP port,
// one a line. Fails at once when the child exits first (it is then reaped:
// `pid` becomes -1), or after kProcessHangGuard.
inline absl::StatusOr<std::string> WaitForPortFile(
    pid_t& pid, const std::string& port_file) {
  const auto deadline = std::chrono::steady_clock::now() + kProcessHangGuard;
  while (true) {
    // stratad writes the file atomically (temporary file, then rename).
    if (PosixFileSystem()->Exists(port_file)) {
      return PosixFileSystem()->ReadFile(port_file);
    }
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return absl::UnavailableError(
          StrCat("stratad exited before it listened (",
                 WIFEXITED(status) ? StrCat("exit code ", WEXITSTATUS(status))
                                   : StrCat("signal ", WTERMSIG(status)),
                 "); its stderr is above"));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          StrCat("stratad wrote no port file ", port_file, " in ",
                 kProcessHangGuard.count(), " s: hung?"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class StratadProcess {
 public:
  StratadProcess() = default;
  StratadProcess(const StratadProcess&) = delete;
  StratadProcess& operator=(const StratadProcess&) = delete;
  ~StratadProcess() { Stop(); }

  // Initializes `work_dir`/data and starts stratad on it with unsigned
  // publishes allowed, plus `flags`. Use with ASSERT_NO_FATAL_FAILURE.
  void Start(const std::string& work_dir, std::vector<std::string> flags) {
    const std::string data = JoinPath(work_dir, "data");
    const std::string token_file = JoinPath(data, "admin.token");
    const std::string stratad = JoinPath(BinDir(), "stratad");
    ASSERT_EQ(
        std::system((stratad + " init --data-dir " + data + " >/dev/null 2>&1")
                        .c_str()),
        0)
        << "stratad init failed";
    auto token = PosixFileSystem()->ReadFile(token_file);
    ASSERT_THAT(token, IsOk());
    token_ = token->substr(0, token->find('\n'));
    const std::string port_file = JoinPath(work_dir, "port");
    std::vector<std::string> args = {
        "stratad",     "--data-dir",
        data,          "--listen",
        "127.0.0.1:0", "--http",
        "127.0.0.1:0", "--allow-unsigned-publishes",
        "--port-file", port_file};
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      // Dies with the test process (forked from its main thread), so a test
      // that aborts leaves no stratad holding ctest's output pipe open.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(stratad.c_str(), argv.data());
      ::_exit(127);
    }
    // The port file appears once the server listens.
    auto ports = WaitForPortFile(pid_, port_file);
    ASSERT_THAT(ports, IsOk()) << "stratad did not start";
    const size_t nl = ports->find('\n');
    address_ = "127.0.0.1:" + ports->substr(0, nl);
    http_port_ = ports->substr(nl + 1, ports->find('\n', nl + 1) - nl - 1);
  }

  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  const std::string& address() const { return address_; }
  const std::string& http_port() const { return http_port_; }
  pid_t pid() const { return pid_; }
  const std::string& token() const { return token_; }

  // The sum of the samples of metric `name` on /metrics whose labels
  // contain `labels` (0 when absent, -1 when the page cannot be read).
  double Metric(const std::string& name, const std::string& labels = "") {
    auto page = HttpGet(StrCat("http://127.0.0.1:", http_port_, "/metrics"));
    EXPECT_THAT(page, IsOk());
    if (!page.ok()) return -1;
    double total = 0;
    std::string_view body = page->body;
    while (!body.empty()) {
      const size_t nl = body.find('\n');
      std::string_view line = body.substr(0, nl);
      body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
      if (line.empty() || line[0] == '#') continue;
      if (line.substr(0, name.size()) != name) continue;
      std::string_view rest = line.substr(name.size());
      if (!rest.empty() && rest[0] != '{' && rest[0] != ' ') continue;
      if (!labels.empty() && rest.find(labels) == std::string_view::npos) {
        continue;
      }
      const size_t space = rest.rfind(' ');
      total += std::stod(std::string(rest.substr(space + 1)));
    }
    return total;
  }

  // The value of one series, a metric name with its label set, e.g.
  // `strata_cache_entries{cache="fleet_apps"}`.
  double Series(const std::string& series) {
    const size_t brace = series.find('{');
    return Metric(series.substr(0, brace),
                  brace == std::string::npos ? "" : series.substr(brace));
  }

  // Waits (at most `timeout`) until `series` equals `want`.
  bool WaitForMetric(const std::string& series, double want,
                     std::chrono::seconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Series(series) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Waits until the health gates have made two more passes (so one whole
  // pass began after everything the caller sent). Needs --gate-interval > 0.
  bool WaitForGatePasses() {
    const double start = Metric("strata_gate_passes_total");
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Metric("strata_gate_passes_total") >= start + 2) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  static std::string BinDir() {
    const char* dir = std::getenv("STRATA_BIN_DIR");
    return dir ? dir : STRATA_TEST_BIN_DIR;
  }

  pid_t pid_ = -1;
  std::string token_;
  std::string address_;
  std::string http_port_;
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_INTEGRATION_STRATAD_PROCESS_H_
