// strata restore: bring a `strata backup` back, on the server's machine,
// with the server stopped. It runs `stratad restore` (the CLI talks to the
// server only over gRPC and does not link the server's storage code).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <memory>

#include "strata/admin_cli/cli_context.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

struct RestoreFlags {
  std::string from, data_dir, stratad;
};

// `stratad` next to this `strata` binary, else the one on PATH.
std::string FindStratad() {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string sibling = JoinPath(Dirname(self), "stratad");
    if (::access(sibling.c_str(), X_OK) == 0) return sibling;
  }
  return "stratad";
}

// Runs argv, returning its exit code and what it wrote to stdout and stderr.
absl::StatusOr<std::pair<int, std::string>> Run(
    const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return absl::InternalError("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> argv;
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buf[4096];
  ssize_t r;
  while ((r = ::read(pipe_fds[0], buf, sizeof(buf))) > 0) out.append(buf, r);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
}

void RunRestore(const RestoreFlags& f, CliContext& ctx) {
  FileSystem& fs = *PosixFileSystem();
  if (!fs.Exists(JoinPath(f.from, "CURRENT"))) {
    ctx.Fail(absl::InvalidArgumentError(
        StrCat(f.from,
               " is not a backup made by `strata backup` (no RocksDB "
               "CURRENT file)")));
    return;
  }
  if (fs.Exists(JoinPath(f.data_dir, "db"))) {
    ctx.Fail(absl::FailedPreconditionError(StrCat(
        f.data_dir,
        " already holds a database (maybe of a running stratad); restore "
        "needs a stopped server and a data directory without db/: stop "
        "stratad and move ",
        JoinPath(f.data_dir, "db"), " away, or restore into a new directory")));
    return;
  }
  const std::string stratad = f.stratad.empty() ? FindStratad() : f.stratad;
  auto result =
      Run({stratad, "restore", "--from", f.from, "--data-dir", f.data_dir});
  if (!result.ok()) {
    ctx.Fail(result.status());
    return;
  }
  auto [code, output] = *result;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  if (code == 127) {
    ctx.Fail(absl::NotFoundError(
        StrCat("cannot run ", stratad, "; give its path with --stratad")));
    return;
  }
  if (code != 0) {
    ctx.Fail(absl::Status(code == 2 ? absl::StatusCode::kInvalidArgument
                                    : absl::StatusCode::kUnknown,
                          StrCat("stratad restore failed: ", output)));
    return;
  }
  Json out = Json::MakeObject();
  out["from"] = f.from;
  out["data_dir"] = f.data_dir;
  ctx.Print(out, StrCat("restored ", f.from, " into ", f.data_dir,
                        "; start stratad with --data-dir ", f.data_dir, "\n"));
}

}  // namespace

void AddRestoreCommand(CLI::App& app, CliContext& ctx) {
  auto f = std::make_shared<RestoreFlags>();
  CLI::App* cmd = app.add_subcommand(
      "restore",
      "Restore a backup made by `strata backup` into a data directory that\n"
      "holds no database, on the server's machine, with stratad stopped. It\n"
      "runs `stratad restore` (found next to this binary, on PATH, or given\n"
      "with --stratad), which copies the backup aside, checks that it opens\n"
      "and only then renames it into place. Needs no token or server.\n\n"
      "Example:\n"
      "  systemctl stop stratad\n"
      "  mv /var/lib/strata/db /var/lib/strata/db.broken\n"
      "  strata restore --from /var/backups/strata/2026-11-25 \\\n"
      "      --data-dir /var/lib/strata\n"
      "  systemctl start stratad");
  cmd->add_option("--from", f->from, "the backup directory")->required();
  cmd->add_option("--data-dir", f->data_dir,
                  "stratad's data directory (without a db/ yet)")
      ->required();
  cmd->add_option("--stratad", f->stratad, "path of the stratad binary");
  cmd->callback([f, &ctx] { RunRestore(*f, ctx); });
}

}  // namespace strata::admin
