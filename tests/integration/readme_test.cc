// README.md's "Using it by hand" runs as written: its ```sh blocks, joined
// in order, run under bash in a temporary directory laid out like a
// checkout (samples/ as in the repository, build/bin holding the built
// binaries, a strata.sh whose `build` has nothing left to do), with a
// temporary HOME and no STRATA_* variables, stopping at the first command
// that fails. The section starts stratad on its default ports (7443, 7480),
// so the test runs it in a network namespace of its own when it can
// (`unshare -rn`), else only if those ports are free.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

std::string SourceDir() {
  const char* dir = std::getenv("STRATA_SOURCE_DIR");
  return dir ? dir : STRATA_TEST_SOURCE_DIR;
}

// The ```sh blocks of the section under `heading`, in order.
std::vector<std::string> ShellBlocks(const std::string& markdown,
                                     const std::string& heading) {
  std::vector<std::string> blocks;
  const size_t start = markdown.find("\n" + heading + "\n");
  if (start == std::string::npos) return blocks;
  size_t end = markdown.find("\n## ", start + heading.size() + 1);
  if (end == std::string::npos) end = markdown.size();
  const std::string section = markdown.substr(start, end - start);
  size_t pos = 0;
  while ((pos = section.find("\n```sh\n", pos)) != std::string::npos) {
    pos += 7;
    const size_t close = section.find("\n```", pos);
    if (close == std::string::npos) break;
    blocks.push_back(section.substr(pos, close - pos + 1));
    pos = close + 4;
  }
  return blocks;
}

bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool free =
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return free;
}

TEST(ReadmeTest, UsingItByHandRunsAsWritten) {
  auto readme = PosixFileSystem()->ReadFile(JoinPath(SourceDir(), "README.md"));
  ASSERT_TRUE(readme.ok()) << readme.status();
  const std::vector<std::string> blocks =
      ShellBlocks(*readme, "## Using it by hand");
  ASSERT_FALSE(blocks.empty()) << "README.md has no ```sh block under "
                                  "\"## Using it by hand\"";
  std::string commands;
  for (const std::string& b : blocks) commands += b;
  // What the section must show, so that this test keeps meaning something.
  for (const char* must :
       {"stratad init", "samples/", "strata-fleet", "strata release status",
        "strata-device", "strata audit verify"}) {
    EXPECT_THAT(commands, HasSubstr(must))
        << "the section lost `" << must << "`";
  }

  // Not testing::TempDir: its clean-up follows symlinks (DeleteRecursively)
  // and would empty the linked build/bin; `rm -rf` removes the links.
  struct LinkedTempDir {
    LinkedTempDir() {
      char tmpl[] = "/tmp/strata_readme_XXXXXX";
      const char* made = ::mkdtemp(tmpl);
      dir = made != nullptr ? made : "";
    }
    ~LinkedTempDir() {
      if (!dir.empty()) (void)RunCommand("rm -rf '" + dir + "'");
    }
    const std::string& path() const { return dir; }
    std::string dir;
  } dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string checkout = JoinPath(dir.path(), "checkout");
  FileSystem& fs = *PosixFileSystem();
  ASSERT_TRUE(CreateDirs(fs, JoinPath(checkout, "build")).ok());
  ASSERT_TRUE(CreateDirs(fs, JoinPath(dir.path(), "home")).ok());
  ASSERT_EQ(::symlink(JoinPath(SourceDir(), "samples").c_str(),
                      JoinPath(checkout, "samples").c_str()),
            0);
  ASSERT_EQ(
      ::symlink(BinDir().c_str(), JoinPath(checkout, "build/bin").c_str()), 0);
  // The binaries are built already (the test depends on them).
  const std::string stub = JoinPath(checkout, "strata.sh");
  ASSERT_TRUE(WriteFileAtomically(fs, stub,
                                  "#!/bin/sh\n"
                                  "[ \"$1\" = build ] || exit 2\n"
                                  "echo \"strata.sh build: built already\"\n")
                  .ok());
  ASSERT_TRUE(fs.SetPermissions(stub, 0755).ok());
  const std::string script = JoinPath(dir.path(), "readme.sh");
  ASSERT_TRUE(WriteFileAtomically(
                  fs, script,
                  StrCat("set -e -o pipefail\n"
                         "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n"
                         "cd ",
                         checkout, "\nset -x\n", commands))
                  .ok());

  const std::string shell = StrCat(
      "env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=",
      JoinPath(dir.path(), "home"), " LANG=C.UTF-8 timeout 600 bash ", script);
  std::string cmd;
  if (RunCommand("unshare -rn sh -c 'ip link set lo up' 2>&1").exit_code == 0) {
    cmd = "unshare -rn sh -c 'ip link set lo up && exec " + shell + "'";
  } else if (PortFree(7443) && PortFree(7480)) {
    cmd = shell;
  } else {
    GTEST_SKIP() << "ports 7443/7480 are in use and `unshare -rn` is not "
                    "available: cannot run README's stratad on its default "
                    "ports";
  }
  CmdResult r = RunCommand(cmd, /*with_stderr=*/true);
  ASSERT_EQ(r.exit_code, 0) << "README \"Using it by hand\" failed; its "
                               "trace:\n"
                            << r.out;
  // What the section promises, seen in its output.
  EXPECT_THAT(r.out, HasSubstr("logged in; token kept in"));
  EXPECT_THAT(r.out, HasSubstr("release 2 completed"));
  EXPECT_THAT(r.out, HasSubstr("config payment.limits = "));
  EXPECT_THAT(r.out, HasSubstr("audit log verified"));
}

}  // namespace
}  // namespace strata
