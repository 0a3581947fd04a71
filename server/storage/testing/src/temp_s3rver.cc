#include "strata/server/storage/testing/temp_s3rver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/strings.h"

namespace strata::testing {
namespace {

std::string ReadAll(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Runs(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace

std::string TempS3rver::SkipReason() {
  if (!Runs("node --version") || !Runs("npm --version")) {
    return "node and npm are needed for s3rver (Debian: apt-get install "
           "nodejs npm; ./strata.sh deps installs them)";
  }
  return "";
}

absl::StatusOr<std::unique_ptr<TempS3rver>> TempS3rver::Start(
    const std::string& package_dir, const std::string& install_dir,
    std::string_view bucket) {
  if (absl::Status s = CreateDirs(*PosixFileSystem(), install_dir); !s.ok()) {
    return s;
  }
  // One install for every test process.
  const std::string lock_path = JoinPath(install_dir, ".install.lock");
  const int lock =
      ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock < 0) return absl::InternalError("opening " + lock_path);
  ::flock(lock, LOCK_EX);
  absl::Status installed = absl::OkStatus();
  if (!PosixFileSystem()->Exists(
          JoinPath(install_dir, "node_modules/s3rver/bin/s3rver.js"))) {
    for (const char* f : {"package.json", "package-lock.json"}) {
      auto bytes = PosixFileSystem()->ReadFile(JoinPath(package_dir, f));
      if (!bytes.ok()) {
        installed = bytes.status();
        break;
      }
      std::ofstream(JoinPath(install_dir, f)) << *bytes;
    }
    if (installed.ok()) {
      const std::string log = JoinPath(install_dir, "npm.log");
      const std::string cmd =
          StrCat("cd '", install_dir, "' && npm ci --no-audit --no-fund >'",
                 log, "' 2>&1");
      if (std::system(cmd.c_str()) != 0) {
        installed = absl::UnavailableError(StrCat(
            "npm ci of s3rver failed in ", install_dir, ":\n", ReadAll(log)));
      }
    }
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  if (!installed.ok()) return installed;

  char tmpl[] = "/tmp/strata-s3rver-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return absl::InternalError("mkdtemp for s3rver failed");
  }
  std::unique_ptr<TempS3rver> s(new TempS3rver());
  s->dir_ = tmpl;
  s->install_dir_ = install_dir;
  s->bucket_ = std::string(bucket);
  if (absl::Status st = s->Launch(0); !st.ok()) return st;
  return s;
}

absl::Status TempS3rver::Launch(int port) {
  const std::string log = JoinPath(dir_, "s3rver.log");
  (void)PosixFileSystem()->DeleteFile(log);
  std::vector<std::string> args = {
      "node",     JoinPath(install_dir_, "node_modules/s3rver/bin/s3rver.js"),
      "-d",       JoinPath(dir_, "data"),
      "-a",       "127.0.0.1",
      "-p",       std::to_string(port),
      "--silent", "--configure-bucket",
      bucket_};
  (void)CreateDirs(*PosixFileSystem(), JoinPath(dir_, "data"));
  pid_ = ::fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(log.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("node", argv.data());
    ::_exit(127);
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const std::string marker = "listening on 127.0.0.1:";
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string out = ReadAll(log);
    if (size_t at = out.find(marker);
        at != std::string::npos && out.find('\n', at) != std::string::npos) {
      port_ = std::atoi(out.c_str() + at + marker.size());
      return absl::OkStatus();
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError("s3rver exited at start:\n" + out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError("s3rver did not start in 60 s:\n" +
                                     ReadAll(log));
}

absl::Status TempS3rver::Stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  return absl::OkStatus();
}

absl::Status TempS3rver::Restart() {
  if (absl::Status s = Stop(); !s.ok()) return s;
  return Launch(port_);
}

TempS3rver::~TempS3rver() {
  (void)Stop();
  (void)DeleteRecursively(*PosixFileSystem(), dir_);
}

std::string TempS3rver::Endpoint() const {
  return StrCat("http://127.0.0.1:", port_);
}

std::string TempS3rver::BlobsUrl(std::string_view prefix) const {
  return StrCat("s3://", bucket_, "/", prefix, "?endpoint=", Endpoint());
}

void TempS3rver::SetCredentialsInEnvironment() {
  ::setenv("AWS_ACCESS_KEY_ID", kAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", kSecretKey, 1);
}

}  // namespace strata::testing
