// The rough edges of the command-line tools (issue 14), each against the
// real binaries and a real stratad: stratad refusing an uninitialized data
// directory, `strata login` without the token in argv, `trust init` run
// twice, connection errors, exit codes that agree across strata,
// strata-device and strata-fleet, and the `strata` details (aligned audit
// list, the error prefix, --config, --version, bash completion).
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/base/exit_codes.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A loopback port nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return 1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Bin(const std::string& name) { return JoinPath(BinDir(), name); }

// --- item 5: stratad refuses a data directory `stratad init` did not make.

TEST(StratadDataDirTest, AnUninitializedOrMistypedDataDirIsRefused) {
  testing::TempDir dir;
  const std::string typo = JoinPath(dir.path(), "strata-dta");
  const std::string serve = " --listen 127.0.0.1:0 --http ''";
  CmdResult r =
      RunCommand(Bin("stratad") + " --data-dir " + typo + serve, true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr(typo + " is not an initialized stratad data "
                                      "directory"));
  EXPECT_THAT(r.out, HasSubstr("run `stratad init --data-dir " + typo + "`"));
  EXPECT_THAT(r.out, HasSubstr("check --data-dir for a typo"));
  EXPECT_FALSE(PosixFileSystem()->Exists(typo)) << "nothing is created";

  // An existing directory without a database: the same, and it stays empty.
  const std::string empty = JoinPath(dir.path(), "empty");
  ASSERT_TRUE(CreateDirs(*PosixFileSystem(), empty).ok());
  r = RunCommand(Bin("stratad") + " --data-dir " + empty + serve, true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("stratad init --data-dir " + empty));
  auto left = PosixFileSystem()->ListDir(empty);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

class CliEdgesTest : public CliFixture {
 protected:
  // `strata` with no --token and its own config home, so `login` keeps
  // the token in <temp>/home/strata/token and later commands find it.
  CmdResult Fresh(const std::string& args, const std::string& stdin_from = "") {
    return RunCommand(
        "env -u STRATA_TOKEN -u STRATA_TOKEN_FILE -u "
        "STRATA_SERVER XDG_CONFIG_HOME=" +
            JoinPath(dir_.path(), "home") + " STRATA_CONFIG= " + Bin("strata") +
            " --plaintext --server " + server_ + " " + args +
            (stdin_from.empty() ? " </dev/null" : " <" + stdin_from),
        true);
  }
  std::string KeptToken() {
    auto t =
        PosixFileSystem()->ReadFile(JoinPath(dir_.path(), "home/strata/token"));
    return t.ok() ? *t : "";
  }
};

// --- item 11: login takes the token from stdin or a file, never argv.

TEST_F(CliEdgesTest, LoginReadsTheTokenFromAFileOrStdinNeverArgv) {
  const std::string file = WriteFile("admin.token", token_ + "\n");
  // The token on the command line is refused, and not echoed.
  CmdResult r = Fresh("login --with-token " + token_);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, StartsWith("strata: error: --with-token does not take "
                                "the token on the command line"));
  EXPECT_THAT(r.out, Not(HasSubstr(token_)));
  EXPECT_EQ(KeptToken(), "");

  // --with-token-file.
  r = Fresh("login --with-token-file " + file);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("token kept in " +
                               JoinPath(dir_.path(), "home/strata/token")));
  EXPECT_EQ(KeptToken(), token_ + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(JoinPath(dir_.path(), "home/strata/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Later commands use it.
  r = Fresh("audit verify");
  EXPECT_EQ(r.exit_code, 0) << r.out;

  // stdin, with or without --with-token (gh's spelling).
  ASSERT_TRUE(PosixFileSystem()
                  ->DeleteFile(JoinPath(dir_.path(), "home/strata/token"))
                  .ok());
  r = Fresh("login", file);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(KeptToken(), token_ + "\n");
  r = Fresh("login --with-token", file);
  EXPECT_EQ(r.exit_code, 0) << r.out;

  // Nothing on stdin, a wrong token, an unreadable file.
  r = Fresh("login");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("no token in stdin"));
  r = Fresh("login --with-token-file " + WriteFile("bad.token", "stk_bad\n"));
  EXPECT_EQ(r.exit_code, 4) << r.out;
  r = Fresh("login --with-token-file " + JoinPath(dir_.path(), "absent"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("cannot read --with-token-file"));
  EXPECT_EQ(KeptToken(), token_ + "\n") << "a failed login keeps the old one";
}

// --- item 13: trust init on an app that has trust.

TEST_F(CliEdgesTest, TrustInitAgainIsAConflictPointingAtRotate) {
  InitTrust();
  const std::string keys = JoinPath(dir_.path(), "keys");
  CmdResult r = Strata("trust init --keys " + keys + " --app wallet", true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, StartsWith("strata: error: app wallet already has a "
                                "root of trust (root v1, targets v1)"));
  EXPECT_THAT(r.out, HasSubstr("`strata trust rotate root|targets|publisher|"
                               "online --keys " +
                               keys + " --app wallet`"));
  EXPECT_THAT(r.out, HasSubstr("`strata trust resign --keys " + keys +
                               " --app wallet`"));
  EXPECT_THAT(r.out, Not(HasSubstr("raise the version")));
  r = Strata("--output json trust init --keys " + keys + " --app wallet");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("\"code\":\"ALREADY_EXISTS\""));
  EXPECT_THAT(r.out, HasSubstr("\"exit_code\":4"));
}

// --- item 14: one message for a server that cannot be reached.

TEST_F(CliEdgesTest, AnUnreachableServerSaysWhatWasTriedAndWhatToDo) {
  const std::string down = StrCat("127.0.0.1:", ClosedPort());
  CmdResult r = RunCommand(Bin("strata") + " --plaintext --server " + down +
                               " --token x release list --app wallet",
                           true);
  EXPECT_EQ(r.exit_code, 5) << r.out;
  EXPECT_THAT(r.out,
              StartsWith("strata: error: cannot reach stratad at " + down +
                         ": connection refused: nothing listens on "
                         "that port; is stratad running there?"));
  EXPECT_THAT(r.out, HasSubstr("point --server (or STRATA_SERVER)"));
  // Where the address came from, when it was not --server.
  r = RunCommand("STRATA_SERVER=" + down + " " + Bin("strata") +
                     " --plaintext --token x release list --app wallet",
                 true);
  EXPECT_EQ(r.exit_code, 5) << r.out;
  EXPECT_THAT(r.out, HasSubstr("(the address came from STRATA_SERVER)"));

  // The devices say the same.
  r = RunCommand(Bin("strata-device") + " --plaintext --server " + down +
                     " --insecure-skip-signature-verification-for-tests "
                     "--app wallet --device-id d --storage-dir " +
                     JoinPath(dir_.path(), "d"),
                 true);
  EXPECT_EQ(r.exit_code, 5) << r.out;
  EXPECT_THAT(r.out, HasSubstr("strata-device: error: check failed: cannot "
                               "reach stratad at " +
                               down + ": connection refused"));
  r = RunCommand(Bin("strata-fleet") + " --plaintext --server " + down +
                     " --insecure-skip-signature-verification-for-tests "
                     "--app wallet --devices 2 --rounds 1 --dir " +
                     JoinPath(dir_.path(), "f"),
                 true);
  EXPECT_EQ(r.exit_code, 5) << r.out;
  EXPECT_THAT(r.out, HasSubstr("first: cannot reach stratad at " + down +
                               ": connection refused"));
}

TEST_F(CliEdgesTest, ServerAddressesAreReadAsStratadAddresses) {
  const std::string port = server_.substr(server_.find(':') + 1);
  Publish("config", "flags", "1", "{}");  // so wallet is a known app
  // A URL's https:// is stripped with a note; the call works.
  CmdResult r =
      RunCommand(Bin("strata") + " --plaintext --server https://" + server_ +
                     "/ --token " + token_ + " release list --app wallet",
                 true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("strata: note: --server takes host:port, not "
                               "a URL; using " +
                               server_));
  // http:// is refused before anything is sent (2), by every tool.
  r = RunCommand(Bin("strata") + " --plaintext --server http://" + server_ +
                     " --token " + token_ + " release list --app wallet",
                 true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("is a URL, but stratad speaks gRPC, not "
                               "http://; give host:port (--server " +
                               server_ + ")"));
  r = RunCommand(Bin("strata-device") + " --plaintext --server http://" +
                     server_ +
                     " --insecure-skip-signature-verification-for-tests "
                     "--app wallet --device-id d --storage-dir " +
                     JoinPath(dir_.path(), "d"),
                 true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("is a URL"));
  r = RunCommand(Bin("strata-fleet") + " --plaintext --server http://" +
                     server_ +
                     " --insecure-skip-signature-verification-for-tests "
                     "--app wallet --devices 1 --rounds 1 --dir " +
                     JoinPath(dir_.path(), "f"),
                 true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  // A bare host is stratad's port 7443, not gRPC's 443: what `strata init`
  // writes shows the address the commands dial.
  const std::string config = JoinPath(dir_.path(), "cli.conf");
  r = RunCommand(Bin("strata") + " --config " + config +
                     " --server localhost init --no-verify --app wallet",
                 true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(PosixFileSystem()->ReadFile(config).value_or(""),
              HasSubstr("server = localhost:7443\n"));
  // And against this server, localhost:PORT works as 127.0.0.1:PORT.
  r = RunCommand(Bin("strata") + " --plaintext --server localhost:" + port +
                     " --token " + token_ + " release list --app wallet",
                 true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

// --- item 16: the same exit codes from strata, strata-device, strata-fleet.

// The tools share one table (strata/base/exit_codes.h); what it says:
TEST(ExitCodeTableTest, OneTableForEveryTool) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::OutOfRangeError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), 3);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("x")), 4);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("x")), 4);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("x")), 4);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("x")), 4);
  EXPECT_EQ(ExitCodeFor(absl::DataLossError("x")), 4);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), 5);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("x")), 5);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("x")), 1);
}

TEST_F(CliEdgesTest, ExitCodesAgreeAcrossTheTools) {
  const std::string root = JoinPath(dir_.path(), "keys/root.json");
  InitTrust();
  const std::string device_flags =
      " --plaintext --device-id d --storage-dir " + JoinPath(dir_.path(), "d");
  const std::string fleet_flags =
      " --plaintext --devices 2 --rounds 1 --dir " + JoinPath(dir_.path(), "f");

  // An unknown app: 3 everywhere, listings included (an app known to the
  // server but with nothing of a kind lists nothing, 0).
  CmdResult r = Strata("release status 1 --app nope", true);
  EXPECT_EQ(r.exit_code, 3) << r.out;
  for (const char* list :
       {"release list", "segment list", "artifact list", "fleet"}) {
    r = Strata(StrCat(list, " --app nope"), true);
    EXPECT_EQ(r.exit_code, 3) << list << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("app nope is not known to this server"));
    r = Strata(StrCat(list, " --app wallet"), true);
    EXPECT_EQ(r.exit_code, 0) << list << ": " << r.out;
  }
  r = RunCommand(Bin("strata-device") + " --server " + server_ +
                     " --app nope --root " + root + device_flags,
                 true);
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_THAT(r.out, HasSubstr("is the root of trust of app 'wallet', not of "
                               "app 'nope': check --app"));
  r = RunCommand(Bin("strata-fleet") + " --server " + server_ +
                     " --app nope --root " + root + fleet_flags,
                 true);
  EXPECT_EQ(r.exit_code, 3) << r.out;

  // Bad input: 2 everywhere, with the tool's error prefix.
  r = Strata("release list --app wallet --bogus", true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, StartsWith("strata: error: "));
  r = RunCommand(Bin("strata-device") + " --bogus", true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, StartsWith("strata-device: error: "));
  r = RunCommand(Bin("strata-fleet") + " --bogus", true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = RunCommand(Bin("strata-device") + " --server " + server_ +
                     " --app wallet --root " +
                     JoinPath(dir_.path(), "absent.json") + device_flags,
                 true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("cannot read --root"));

  // A missing --key is caught before any byte is uploaded: 2, naming it.
  const std::string file = WriteFile("limits.json", "{\"a\":1}");
  r = Strata(
      "publish --app wallet --layer config --module limits --version 1 "
      "--file " +
          file,
      true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("sign the publish with --key FILE"));
  r = Strata("release create --app wallet --artifact config/limits@1", true);
  EXPECT_EQ(r.exit_code, 3) << "nothing was published: " << r.out;

  // The server unavailable: 5 everywhere.
  StopServer();
  r = Strata("release list --app wallet", true);
  EXPECT_EQ(r.exit_code, 5) << r.out;
  r = RunCommand(Bin("strata-device") + " --server " + server_ +
                     " --app wallet --root " + root + device_flags,
                 true);
  EXPECT_EQ(r.exit_code, 5) << r.out;
  r = RunCommand(Bin("strata-fleet") + " --server " + server_ +
                     " --app wallet --root " + root + fleet_flags,
                 true);
  EXPECT_EQ(r.exit_code, 5) << r.out;
}

// --- item 19: the details of `strata`.

TEST_F(CliEdgesTest, AuditListIsATableWithLayersByName) {
  Publish("config", "payment.limits", "1", "{}");
  Publish("h5", "mall-home", "1", "<html></html>");
  CmdResult r = Strata("audit list");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < r.out.size();) {
    size_t end = r.out.find('\n', pos);
    lines.push_back(r.out.substr(pos, end - pos));
    pos = end + 1;
  }
  ASSERT_GE(lines.size(), 4u) << r.out;
  EXPECT_THAT(lines[0], StartsWith("SEQ  TIME"));
  // Every column starts where its header does.
  for (const char* column : {"TIME", "ACTOR", "ACTION", "APP", "DETAIL"}) {
    const size_t at = lines[0].find(column);
    ASSERT_NE(at, std::string::npos) << column;
    for (size_t i = 1; i < lines.size(); ++i) {
      ASSERT_GT(lines[i].size(), at) << lines[i];
      EXPECT_EQ(lines[i][at - 1], ' ') << column << ": " << lines[i];
      EXPECT_NE(lines[i][at], ' ') << column << ": " << lines[i];
    }
  }
  EXPECT_THAT(r.out, HasSubstr("module=config/payment.limits version=1"));
  EXPECT_THAT(r.out, HasSubstr("module=h5/mall-home version=1"));
  EXPECT_THAT(r.out, Not(HasSubstr("module=1:")));
  // JSON keeps what the hash chain covers.
  r = Strata("audit list --output json");
  EXPECT_THAT(r.out, HasSubstr("module=1:payment.limits"));
}

TEST_F(CliEdgesTest, EveryErrorHasThePrefix) {
  for (const std::string& args :
       {std::string(""), std::string("nosuchcommand"),
        std::string("release create --app wallet --plan"),
        std::string("publish --app wallet"),
        std::string("release status 99 --app wallet")}) {
    CmdResult r = Strata(args, true);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_THAT(r.out, StartsWith("strata: error: ")) << args;
  }
  CmdResult r = Strata("publish --app wallet", true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--layer is required; run `strata publish "
                               "--help` for more information"));
}

TEST_F(CliEdgesTest, AConfigFileNamedByConfigMustExist) {
  const std::string missing = JoinPath(dir_.path(), "no-such.conf");
  Publish("config", "flags", "1", "{}");  // so wallet is a known app
  CmdResult r =
      Strata("--config " + missing + " release list --app wallet", true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out,
              StartsWith("strata: error: --config " + missing +
                         ": no such file; `strata init --config " + missing));
  r = Strata("--output json release list --app wallet --config=" + missing);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("\"exit_code\":2"));
  // `strata init --config` is how it comes to exist; then it is used.
  r = Strata("--config " + missing + " init --app wallet", true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Strata("--config " + missing + " release list", true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // STRATA_CONFIG naming an absent file still means "no config".
  r = RunCommand("STRATA_CONFIG=" + JoinPath(dir_.path(), "absent") + " " +
                     Bin("strata") + " --plaintext --server " + server_ +
                     " --token " + token_ + " release list --app wallet",
                 true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(CliVersionTest, StrataAndStratadPrintTheirVersion) {
  CmdResult r = RunCommand(Bin("strata") + " --version", true);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("strata 0."));
  r = RunCommand(Bin("stratad") + " --version", true);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("stratad 0."));
  // Even with a broken config file.
  testing::TempDir dir;
  const std::string bad = JoinPath(dir.path(), "bad.conf");
  ASSERT_TRUE(WriteFileAtomically(*PosixFileSystem(), bad, "nonsense\n").ok());
  r = RunCommand("STRATA_CONFIG=" + bad + " " + Bin("strata") + " --version",
                 true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

// Completes `words` (the last one being completed) with the script
// `strata completion bash` printed; the candidates, one per line.
std::string Complete(const std::string& script, const std::string& words) {
  const std::string cmd =
      "bash -c 'source " + script + " && COMP_WORDS=(" + words +
      ") && COMP_CWORD=$((${#COMP_WORDS[@]}-1))"
      " && _strata && printf \"%s\\n\" \"${COMPREPLY[@]}\"'";
  return RunCommand(cmd, true).out;
}

TEST(CliCompletionTest, BashCompletionFollowsTheCommandTree) {
  testing::TempDir dir;
  const std::string script = JoinPath(dir.path(), "strata.bash");
  CmdResult r =
      RunCommand(Bin("strata") + " completion bash > " + script, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(PosixFileSystem()->ReadFile(script).value_or(""),
              HasSubstr("complete -F _strata strata"));
  EXPECT_EQ(Complete(script, "strata rel"), "release\n");
  EXPECT_THAT(Complete(script, "strata release \"\""),
              AllOf(HasSubstr("create\n"), HasSubstr("status\n"),
                    HasSubstr("rollback\n")));
  EXPECT_THAT(Complete(script, "strata release create --pl"),
              HasSubstr("--plan\n"));
  // Global flags follow any command; values of known kinds complete.
  EXPECT_THAT(Complete(script, "strata --server h:1 audit list --out"),
              HasSubstr("--output\n"));
  EXPECT_EQ(Complete(script, "strata audit list --output \"\""),
            "text\njson\n");
  EXPECT_THAT(Complete(script, "strata trust i"), HasSubstr("init\n"));
  // Unknown shells are refused.
  r = RunCommand(Bin("strata") + " completion fish", true);
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace strata
