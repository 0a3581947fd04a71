#include "strata/server/storage/testing/temp_postgres.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "strata/base/file_util.h"
#include "strata/base/strings.h"

namespace strata::testing {
namespace {

bool IsExecutable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

absl::StatusOr<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return absl::InternalError("finding a free port failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Tail(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

}  // namespace

std::string TempPostgres::BinDir() {
  // Debian keeps the server binaries out of PATH.
  if (DIR* d = ::opendir("/usr/lib/postgresql")) {
    std::vector<std::string> versions;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') versions.push_back(e->d_name);
    }
    ::closedir(d);
    std::sort(versions.begin(), versions.end(),
              [](const std::string& a, const std::string& b) {
                return std::atoi(a.c_str()) > std::atoi(b.c_str());
              });
    for (const std::string& v : versions) {
      const std::string bin = StrCat("/usr/lib/postgresql/", v, "/bin");
      if (IsExecutable(bin + "/initdb") && IsExecutable(bin + "/pg_ctl")) {
        return bin;
      }
    }
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && IsExecutable(dir + "/initdb") &&
        IsExecutable(dir + "/pg_ctl")) {
      return dir;
    }
  }
  return "";
}

std::string TempPostgres::SkipReason() {
  if (BinDir().empty()) {
    return "PostgreSQL's server binaries (initdb, pg_ctl) are not installed "
           "(Debian: apt-get install postgresql, or ./strata.sh deps); the "
           "PostgreSQL store is not tested here";
  }
  if (::geteuid() == 0 && ::getpwnam("postgres") == nullptr) {
    return "running as root and there is no 'postgres' user to run the test "
           "server as (initdb refuses root)";
  }
  return "";
}

absl::StatusOr<std::unique_ptr<TempPostgres>> TempPostgres::Start(
    const std::vector<std::string>& settings) {
  if (std::string why = SkipReason(); !why.empty()) {
    return absl::FailedPreconditionError(why);
  }
  char tmpl[] = "/tmp/strata-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return absl::InternalError("making a temporary directory failed");
  }
  std::unique_ptr<TempPostgres> pg(new TempPostgres(tmpl, BinDir()));
  pg->settings_ = settings;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (::chown(tmpl, pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError(
          StrCat("chown of ", tmpl, " to the postgres user failed"));
    }
  }
  const std::string data = JoinPath(pg->dir_, "data");
  // initdb once per machine (over a second), then a copy per server.
  const std::string base = Basename(Dirname(pg->bin_));
  const std::string tmpl_dir =
      StrCat("/tmp/strata-pg-template-", base, "-", ::geteuid());
  if (!PosixFileSystem()->Exists(JoinPath(tmpl_dir, "PG_VERSION"))) {
    const std::string fresh = JoinPath(pg->dir_, "template");
    absl::Status s =
        pg->Run({pg->bin_ + "/initdb", "-D", fresh, "-U", "strata",
                 "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"});
    if (!s.ok()) return s;
    // Published whole by a rename; a concurrent test's copy may win.
    const std::string staging = StrCat(tmpl_dir, ".", ::getpid());
    s = pg->Run({"/bin/mv", fresh, staging});
    if (s.ok() && ::rename(staging.c_str(), tmpl_dir.c_str()) != 0) {
      (void)pg->Run({"/bin/rm", "-rf", staging});
    }
  }
  absl::Status s = pg->Run({"/bin/cp", "-a", tmpl_dir, data});
  if (!s.ok()) return s;
  // A port taken between FreePort and the server's bind: try another.
  for (int attempt = 0;; ++attempt) {
    s = pg->StartServer();
    if (s.ok() || attempt == 2) break;
  }
  if (!s.ok()) return s;
  return pg;
}

absl::Status TempPostgres::StartServer() {
  if (port_ == 0) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    port_ = *port;
  }
  std::string options =
      StrCat("-c listen_addresses=127.0.0.1 -p ", port_,
             " -c unix_socket_directories=", dir_,
             " -c fsync=off -c full_page_writes=off -c max_connections=300"
             " -c shared_buffers=16MB");
  for (const std::string& setting : settings_) {
    options += StrCat(" -c ", setting);
  }
  absl::Status s = Run({bin_ + "/pg_ctl", "-D", JoinPath(dir_, "data"), "-l",
                        JoinPath(dir_, "server.log"), "-w", "-t", "60", "-o",
                        options, "start"});
  if (!s.ok()) {
    port_ = 0;
    return absl::UnavailableError(StrCat(s.message(), "\nserver log:\n",
                                         Tail(JoinPath(dir_, "server.log"))));
  }
  running_ = true;
  return absl::OkStatus();
}

TempPostgres::~TempPostgres() {
  if (running_) {
    (void)Run({bin_ + "/pg_ctl", "-D", JoinPath(dir_, "data"), "-m",
               "immediate", "-w", "stop"});
  }
  (void)DeleteRecursively(*PosixFileSystem(), dir_);
}

std::string TempPostgres::Url(std::string_view database) const {
  return StrCat("postgresql://strata@127.0.0.1:", port_, "/", database);
}

std::string TempPostgres::NewSchema() { return StrCat("t", ++schemas_); }

absl::Status TempPostgres::Stop() {
  absl::Status s = Run({bin_ + "/pg_ctl", "-D", JoinPath(dir_, "data"), "-m",
                        "fast", "-w", "stop"});
  if (s.ok()) running_ = false;
  return s;
}

absl::Status TempPostgres::Restart() {
  if (running_) {
    absl::Status s = Stop();
    if (!s.ok()) return s;
  }
  return StartServer();
}

absl::Status TempPostgres::Run(const std::vector<std::string>& argv) {
  const std::string log = JoinPath(dir_, "commands.log");
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // The server must not hold the test's pipes (ctest would wait for it).
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr || ::setgid(pw->pw_gid) != 0 ||
          ::setuid(pw->pw_uid) != 0) {
        ::_exit(126);
      }
    }
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(StrCat(argv[0], " ", argv.back(),
                                      " failed (status ", status, "):\n",
                                      Tail(log)));
  }
  return absl::OkStatus();
}

}  // namespace strata::testing
