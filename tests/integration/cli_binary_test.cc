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
#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/server/storage/store.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliBinaryTest : public CliFixture {};

TEST_F(CliBinaryTest, PublishReleaseAndDeviceReadsConfig) {
  const std::string file = WriteFile("limits.json", "{\"daily_limit\": 5000}");
  const std::string module =
      "--app wallet --layer config --module payment.limits";
  CmdResult r = Strata("health --wait 120");  // a hang guard
  EXPECT_EQ(r.exit_code, 0);
  r = Strata("publish " + module + " --version 1 --file " + file);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("published: config/payment.limits 1"));
  r = Strata("release create " + module +
             " --version 1 --all-at-once --output json");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("\"release_id\":\"1\""));
  EXPECT_THAT(r.out, HasSubstr("\"state\":\"RELEASE_COMPLETED\""));

  r = RunCommand(
      JoinPath(BinDir(), "strata-device") + " --plaintext --server " + server_ +
      " --insecure-skip-signature-verification-for-tests"
      " --app wallet --device-id d1 --storage-dir " +
      JoinPath(dir_.path(), "d1") + " --print-config payment.limits");
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
  r = RunCommand(JoinPath(BinDir(), "strata") + " --plaintext --server " +
                 server_ + " --output json release list --app wallet");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("UNAUTHENTICATED"));
  r = RunCommand(JoinPath(BinDir(), "strata") + " --plaintext --server " +
                 server_ + " --token stk_wrong release list --app wallet");
  EXPECT_EQ(r.exit_code, 4);
  // Unreachable server (5).
  r = RunCommand(JoinPath(BinDir(), "strata") +
                 " --plaintext --server 127.0.0.1:1 release list --app wallet");
  EXPECT_EQ(r.exit_code, 5);
}

TEST_F(CliBinaryTest, ScopedTokensAndTheAuditLog) {
  const std::string file = WriteFile("a.json", "{\"a\":1}");
  CmdResult r = Strata("token create --name ci --role publisher --app wallet");
  ASSERT_EQ(r.exit_code, 0);
  const std::string ci = r.out.substr(0, r.out.find('\n'));
  auto as_ci = [&](const std::string& args) {
    return RunCommand(JoinPath(BinDir(), "strata") + " --plaintext --server " +
                      server_ + " --token " + ci + " " + args);
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
  // An aligned table: columns padded to their widest cell.
  EXPECT_THAT(r.out, ::testing::ContainsRegex(" ci +publish +wallet "));
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
  // `strata restore` (no server, no token) runs the stratad next to it.
  const std::string strata = JoinPath(BinDir(), "strata");
  r = RunCommand(strata + " restore --from " + dir_.path() + " --data-dir " +
                 data + " --output json");
  EXPECT_EQ(r.exit_code, 2);  // not a backup
  EXPECT_THAT(r.out, HasSubstr("is not a backup made by `strata backup`"));
  r = RunCommand(strata + " restore --from " + backup + " --data-dir " + data);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("restored " + backup + " into " + data));
  r = RunCommand(strata + " restore --from " + backup + " --data-dir " + data +
                 " --output json");
  EXPECT_EQ(r.exit_code, 4);  // never over an existing database
  EXPECT_THAT(r.out, HasSubstr("already holds a database"));
  r = RunCommand(JoinPath(BinDir(), "stratad") + " restore --from " + backup +
                 " --data-dir " + data);
  EXPECT_NE(r.exit_code, 0);  // nor does stratad itself
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
  // A missing --key is caught before anything is sent.
  r = Strata("--output json publish " + module + " --version 1 --file " + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--key"));
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
  EXPECT_THAT(r.out,
              HasSubstr("the hotpatch role needs 2 distinct publisher key(s)"));
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
  EXPECT_THAT(r.out, HasSubstr("NAME  ALLOW  DENY  UPDATED"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "\nsh +2 +0 +[-0-9]+ [:0-9]+  os == \"android\"\n"));
}

// Every command path of the CLI, found by walking the same command tree the
// binary builds: "", "release", "release create", ...
void CommandPaths(const CLI::App& app, const std::string& prefix,
                  std::vector<std::string>& out) {
  out.push_back(prefix);
  for (const CLI::App* sub : app.get_subcommands({})) {
    CommandPaths(
        *sub, prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name(),
        out);
  }
}

TEST_F(CliBinaryTest, HelpOfEveryCommandHasAnExample) {
  admin::CliContext ctx;
  CLI::App app;
  admin::BuildCli(app, ctx);
  std::vector<std::string> paths;
  CommandPaths(app, "", paths);
  ASSERT_GT(paths.size(), 30u);
  for (const char* want :
       {"init", "release create", "release rollback", "release explain",
        "keys rotate", "restore", "audit verify"}) {
    EXPECT_THAT(paths, ::testing::Contains(want));
  }
  for (const std::string& cmd : paths) {
    CmdResult r =
        RunCommand(JoinPath(BinDir(), "strata") + " " + cmd + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("Example")) << "strata " << cmd << " --help";
  }
  // The exit codes are documented at the top.
  CmdResult r = RunCommand(JoinPath(BinDir(), "strata") + " --help");
  EXPECT_THAT(r.out, HasSubstr("6 --wait: the release was halted or"));
}

TEST_F(CliBinaryTest, StagedMultiArtifactReleaseAndItsStatus) {
  Publish("config", "payment.limits", "1", "{\"limit\": 1}");
  Publish("h5", "mall-home", "12", "<html>12</html>");
  // Devices check in, so preview and explain have someone to count.
  for (int i = 0; i < 4; ++i) {
    CmdResult d = RunCommand(
        StrCat(JoinPath(BinDir(), "strata-device"), " --plaintext --server ",
               server_, " --insecure-skip-signature-verification-for-tests",
               " --app wallet --os android --device-id dev-", i,
               " --storage-dir ", JoinPath(dir_.path(), StrCat("dev-", i))));
    ASSERT_EQ(d.exit_code, 0) << d.out;
  }
  // A dry run checks the release as create would, says who gets it and how
  // many devices the first stage needs for a verdict, and creates nothing.
  CmdResult dry = Strata(
      "release create --app wallet --artifact config/payment.limits@1 "
      "--artifact h5/mall-home@12 --plan 20%,100% "
      "--gate baseline_crash_rate=0.5% --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.out;
  EXPECT_THAT(dry.out, HasSubstr("Dry run: the release over 4 devices"));
  EXPECT_THAT(dry.out, HasSubstr("needs 9034 launched treatment devices"));
  EXPECT_THAT(dry.out, HasSubstr("Nothing was created (--dry-run)"));
  dry =
      Strata("release create --app wallet --artifact h5/mall-home@13 --dry-run",
             /*with_stderr=*/true);
  EXPECT_EQ(dry.exit_code, 3) << dry.out;  // not found, as create says
  EXPECT_THAT(dry.out, HasSubstr("is not published"));
  dry = Strata(
      "release create --app wallet --artifact h5/mall-home@12 --segment nope "
      "--dry-run",
      /*with_stderr=*/true);
  EXPECT_NE(dry.exit_code, 0) << dry.out;
  EXPECT_THAT(dry.out, HasSubstr("segment nope does not exist"));
  EXPECT_NE(Strata("release create --app wallet --artifact h5/mall-home@12 "
                   "--dry-run --wait")
                .exit_code,
            0);
  dry = Strata("release list --app wallet --output json");
  EXPECT_THAT(dry.out, Not(HasSubstr("release_id")));
  CmdResult r = Strata(
      "release create --app wallet --artifact config/payment.limits@1 "
      "--artifact h5/mall-home@12 --plan 1%:1h:200,5%:2h:500,20%,100% "
      "--gate max_crash_rate=0.05 --gate report_silence=30m --output json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectJsonLines(r.out, "release create");
  EXPECT_THAT(r.out, HasSubstr("\"release_id\":\"1\""));
  EXPECT_THAT(r.out, HasSubstr("\"state\":\"RELEASE_ROLLING\""));
  EXPECT_THAT(r.out,
              HasSubstr("\"exposure_bp\":500,\"bake_seconds\":\"7200\""));
  EXPECT_THAT(r.out, HasSubstr("\"report_silence_seconds\":\"1800\""));

  r = Strata("release status 1 --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Release 1 of wallet: rolling\n"));
  EXPECT_THAT(r.out,
              HasSubstr("artifacts  config/payment.limits@1 (sequence 1)\n"
                        "             h5/mall-home@12 (sequence 1)"));
  EXPECT_THAT(r.out, HasSubstr("exposure   1% of the segment"));
  EXPECT_THAT(r.out, HasSubstr(">      1        1%    1h          200  rolling "
                               "here, since"));
  EXPECT_THAT(r.out, HasSubstr("crash rate"));
  EXPECT_THAT(r.out, HasSubstr("Gate: "));
  EXPECT_THAT(r.out, HasSubstr("History\n"));
  EXPECT_THAT(r.out, HasSubstr("admin  release.create"));

  r = Strata("--output json release status 1 --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectJsonLines(r.out, "release status");
  EXPECT_THAT(r.out, HasSubstr("\"exposure_bp\":100"));
  EXPECT_THAT(r.out, HasSubstr("\"treatment\":{"));
  EXPECT_THAT(r.out, HasSubstr("\"action\":\"release.create\""));

  // The list: one row, the second artifact on a continuation row.
  r = Strata("release list --app wallet");
  EXPECT_THAT(r.out, HasSubstr("rolling  1/4          1%  everyone"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "config/payment.limits@1[^\n]*\n +h5/mall-home@12\n"));

  r = Strata("release preview 1 --app wallet");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("over 4 devices seen recently"));
  r = Strata("release explain --app wallet --device dev-0");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("release 1 rolling(stage 1 of 4, 1%)"));
  EXPECT_EQ(Strata("release explain --app wallet --device nobody").exit_code,
            3);
}

TEST_F(CliBinaryTest, SteeringExitCodes) {
  Publish("config", "m", "1", "{\"v\":1}");
  Publish("config", "m", "2", "{\"v\":2}");
  ASSERT_EQ(
      Strata("release create --app wallet --artifact config/m@1 --all-at-once")
          .exit_code,
      0);
  ASSERT_EQ(
      Strata("release create --app wallet --artifact config/m@2").exit_code,
      0);  // the default plan: 1% for an hour
  const std::string app = " --app wallet";
  CmdResult r = Strata("release pause 2 --reason 'QA first'" + app);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("release 2: paused, stage 1 of 5 (1% exposure)"));
  r = Strata("release pause 2 --output json" + app);
  EXPECT_EQ(r.exit_code, 4);  // already paused
  EXPECT_THAT(r.out, HasSubstr("already paused"));
  EXPECT_EQ(Strata("release promote 2" + app).exit_code, 4);  // paused
  EXPECT_EQ(Strata("release resume 2" + app).exit_code, 0);
  r = Strata("release promote 2 --output json" + app);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"stage\":1"));
  EXPECT_EQ(Strata("release start 2" + app).exit_code, 4);  // not a draft
  EXPECT_EQ(Strata("release halt 2 --reason 'crash spike'" + app).exit_code, 0);
  EXPECT_EQ(Strata("release promote 2" + app).exit_code, 4);  // halted
  EXPECT_EQ(Strata("release halt 9" + app).exit_code, 3);
  EXPECT_EQ(Strata("release status 9" + app).exit_code, 3);
  // Roll back: a new, completed release puts version 1 back.
  r = Strata("release rollback 2 --reason 'bad limits'" + app);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("release 2: rolled_back"));
  EXPECT_THAT(r.out, HasSubstr("rolled back by release 3: config/m@1"));
  EXPECT_EQ(Strata("release resume 2" + app).exit_code, 4);  // final
  r = Strata("release list" + app);
  EXPECT_THAT(r.out, HasSubstr("rolled_back (by 3)"));
  EXPECT_THAT(r.out, HasSubstr("completed (rolls back 2)"));
  r = Strata("release status 2" + app);
  EXPECT_THAT(r.out, HasSubstr("QA first"));  // the history keeps reasons
  EXPECT_THAT(r.out, HasSubstr("crash spike"));
  // A draft is started explicitly.
  ASSERT_EQ(
      Strata("release create --draft --artifact config/m@2" + app).exit_code,
      0);
  EXPECT_THAT(Strata("release status 4" + app).out,
              HasSubstr("Release 4 of wallet: draft"));
  EXPECT_EQ(Strata("release start 4" + app).exit_code, 0);
}

TEST_F(CliBinaryTest, BadPlanGateOrArtifactIsExitTwoAndChangesNothing) {
  Publish("config", "m", "1", "{}");
  const std::string before = Strata("audit list --output json").out;
  struct Case {
    std::string flags, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--plan 1%,5%", "the last stage must be 100% (add ,100%)"},
           {"--plan 5%,1%,100%", "stage 2 ('1%'): exposure 1% does not grow"},
           {"--plan 1%:1x,100%", "unknown unit 'x'"},
           {"--plan 1,100%", "needs a percent sign"},
           {"--gate max_crashes=1",
            "unknown --gate key 'max_crashes'; known keys: "
            "baseline_crash_rate, false_halt_budget, "
            "max_apply_failure_rate"},
           {"--gate min_launches=many", "expected a whole number"},
           {"--gate max_crash_rate=5", "write 0.05 or 5%"},
           {"--all-at-once --plan 1%,100%", "drop --plan/--gate"},
       }) {
    CmdResult r = Strata("release create --app wallet --artifact config/m@1 " +
                         c.flags + " --output json");
    EXPECT_EQ(r.exit_code, 2) << c.flags << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr(c.message)) << c.flags;
    EXPECT_THAT(r.out, HasSubstr("\"exit_code\":2")) << c.flags;
  }
  // Text mode: the message on stderr.
  CmdResult r = Strata(
      "release create --app wallet --artifact config/m@1 --plan 50%,20%,100%",
      /*with_stderr=*/true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("strata: error: --plan stage 2 ('20%')"));
  for (const char* bad :
       {"--artifact config/m", "--artifact web/m@1", "--layer config",
        "--artifact config/m@1 --layer config --module m --version 1", ""}) {
    EXPECT_EQ(Strata(StrCat("release create --app wallet ", bad)).exit_code, 2)
        << bad;
  }
  // Nothing was created or audited.
  EXPECT_THAT(Strata("release list --app wallet --output json").out,
              HasSubstr("\"releases\":[]"));
  EXPECT_EQ(Strata("audit list --output json").out, before);
}

TEST_F(CliBinaryTest, WaitFollowsTheReleaseToCompletion) {
  Publish("config", "m", "1", "{}");
  // Promoted at every gate pass: no bake, no reports needed. The --timeout
  // is a hang guard only (two passes of the 100 ms gate thread).
  CmdResult r = Strata(
      "release create --app wallet --artifact config/m@1 --plan 50%,100% "
      "--gate min_launches=0 --wait --poll-interval 50ms --timeout 120s");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("release 1: rolling, stage 1 of 2"));
  EXPECT_THAT(r.out,
              ::testing::ContainsRegex("release 1  completed  stage 2/2  "
                                       "100%"));
  EXPECT_THAT(r.out, HasSubstr("release 1 completed\n"));
  // JSON: the release, one line per transition, the result.
  Publish("config", "m", "2", "{\"v\":2}");
  r = Strata(
      "release create --app wallet --artifact config/m@2 --plan 50%,100% "
      "--gate min_launches=0 --wait --poll-interval 50ms --timeout 120s "
      "--output json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  ExpectJsonLines(r.out, "create --wait");
  EXPECT_THAT(r.out, HasSubstr("{\"transition\":{"));
  EXPECT_THAT(r.out, HasSubstr("{\"result\":{\"release_id\":2,\"state\":"
                               "\"RELEASE_COMPLETED\"}}"));
  // A release that keeps baking (hour-long bakes): --timeout is exit 7.
  Publish("config", "m", "3", "{\"v\":3}");
  r = Strata(
      "release create --app wallet --artifact config/m@3 --wait "
      "--poll-interval 100ms --timeout 500ms --output json");
  EXPECT_EQ(r.exit_code, 7) << r.out;
  EXPECT_THAT(r.out, HasSubstr("gave up waiting after 500ms; release 3 is "
                               "still rolling"));
  EXPECT_EQ(Strata("release create --app wallet --artifact config/m@3 --draft "
                   "--wait")
                .exit_code,
            2);  // would wait forever
}

TEST_F(CliBinaryTest, WaitExitsSixWhenTheReleaseIsHaltedMeanwhile) {
  Publish("config", "m", "1", "{}");
  CmdResult waited{-1, ""};
  // The --timeout is a hang guard only: the halt below ends the wait.
  std::thread waiter([&] {
    waited = Strata(
        "release create --app wallet --artifact config/m@1 --wait "
        "--poll-interval 50ms --timeout 120s",
        /*with_stderr=*/true);
  });
  // Another process (an operator, a pager bot) halts it, once the release
  // exists (waiting for that state, however long the CLI takes).
  const auto deadline =
      std::chrono::steady_clock::now() + testing::kProcessHangGuard;
  bool created = false;
  while (!created && std::chrono::steady_clock::now() < deadline) {
    created = Strata("release status 1 --app wallet").exit_code == 0;
    if (!created) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  const int halted =
      created ? Strata("release halt 1 --app wallet --reason 'pager: crashes'")
                    .exit_code
              : -1;
  waiter.join();
  ASSERT_TRUE(created) << "release 1 never appeared";
  ASSERT_EQ(halted, 0);
  EXPECT_EQ(waited.exit_code, 6) << waited.out;
  EXPECT_THAT(waited.out, HasSubstr("release 1  halted  stage 1/5"));
  EXPECT_THAT(waited.out, HasSubstr("strata: error: release 1 was halted: "
                                    "pager: crashes"));
  // status --wait on a halted release says so at once.
  CmdResult r = Strata("release status 1 --app wallet --wait --timeout 120s");
  EXPECT_EQ(r.exit_code, 6);
}

TEST_F(CliBinaryTest, KeysRotateRetiresTheOldPublisherKey) {
  StopServer();
  allow_unsigned_ = false;
  StartServer();
  const std::string keys = JoinPath(dir_.path(), "keys");
  ASSERT_EQ(Strata("keys gen --dir " + keys).exit_code, 0);
  // Rotate needs the app's trust.
  CmdResult r =
      Strata("keys rotate --dir " + keys + " --key publisher-a --app wallet",
             /*with_stderr=*/true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("strata trust init --keys"));
  ASSERT_EQ(Strata("trust init --keys " + keys + " --app wallet").exit_code, 0);
  const std::string cfg = WriteFile("c.json", "{}");
  auto publish = [&](const std::string& version, const std::string& key) {
    return Strata("publish --app wallet --layer config --module c --version " +
                  version + " --file " + cfg + " --key " + key);
  };
  const std::string old_a = JoinPath(keys, "publisher-a.key");
  const std::string old_copy = JoinPath(dir_.path(), "publisher-a.old.key");
  ASSERT_EQ(::link(old_a.c_str(), old_copy.c_str()), 0);
  ASSERT_EQ(publish("1", old_a).exit_code, 0);

  const std::string app = " --app wallet";
  EXPECT_EQ(
      Strata("keys rotate --dir " + keys + " --key nobody" + app).exit_code, 3);
  EXPECT_EQ(Strata("keys rotate --dir " + keys +
                   " --key publisher-a --layer config --layer h5" + app)
                .exit_code,
            2);  // only some layers: needs --as
  r = Strata("keys rotate --dir " + keys + " --key publisher-a --output json" +
             app);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectJsonLines(r.out, "keys rotate");
  EXPECT_THAT(r.out, HasSubstr("\"layers\":[\"config\",\"h5\",\"hcf\","
                               "\"hotpatch\",\"native\"]"));
  EXPECT_THAT(r.out, HasSubstr("\"old_key_still_trusted_for\":[]"));
  EXPECT_THAT(r.out, HasSubstr("\"root_version\":1"));  // root unchanged
  EXPECT_THAT(r.out, HasSubstr("\"targets_version\":2"));
  EXPECT_THAT(r.out, HasSubstr("\"old_key_file\":\"" + keys + "/retired/"));

  // The old key is refused, the new one (same file name) accepted.
  r = Strata(
      "--output json publish --app wallet --layer config --module c "
      "--version 2 --file " +
      cfg + " --key " + old_copy);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("not config publisher keys"));
  EXPECT_EQ(publish("2", old_a).exit_code, 0);
  // Hotpatches need both publishers: the new a and the old b.
  const std::string fix = WriteFile("fix.bin", "hotpatch");
  EXPECT_EQ(Strata("publish --app wallet --layer hotpatch --module core "
                   "--host-build b1 --version 1 --file " +
                   fix + " --key " + old_a + " --key " +
                   JoinPath(keys, "publisher-b.key"))
                .exit_code,
            0);
  r = Strata("keys list --dir " + keys);
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "publisher-a +[0-9a-f]{64} +config,h5,hcf,hotpatch,"
                         "native"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "retired/publisher-a\\.[0-9a-f]{16} +[0-9a-f]{64} +"
                         "\\(retired\\)"));
  // Rotating one layer only: the new key is publisher-b-hotpatch.
  r = Strata("keys rotate --dir " + keys +
             " --key publisher-b --layer hotpatch" + app);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("still trusted for config, h5, hcf, native"));
  EXPECT_TRUE(
      PosixFileSystem()->Exists(JoinPath(keys, "publisher-b-hotpatch.key")));
  EXPECT_EQ(Strata("publish --app wallet --layer hotpatch --module core "
                   "--host-build b1 --version 2 --file " +
                   fix + " --key " + old_a + " --key " +
                   JoinPath(keys, "publisher-b.key"))
                .exit_code,
            4);
  EXPECT_EQ(Strata("publish --app wallet --layer hotpatch --module core "
                   "--host-build b1 --version 2 --file " +
                   fix + " --key " + old_a + " --key " +
                   JoinPath(keys, "publisher-b-hotpatch.key"))
                .exit_code,
            0);
}

TEST_F(CliBinaryTest, InitWritesTheConfigLaterCommandsUse) {
  const std::string home = JoinPath(dir_.path(), "home");
  const std::string token_file = WriteFile("my.token", token_ + "\n");
  const std::string strata = "XDG_CONFIG_HOME=" + home +
                             " STRATA_CONFIG= " + JoinPath(BinDir(), "strata");
  CmdResult r = RunCommand(strata + " --plaintext --server " + server_ +
                           " init --app wallet --token-file " + token_file);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string config = JoinPath(home, "strata/config");
  EXPECT_THAT(r.out, HasSubstr("wrote " + config));
  // No --server, --token or --app from here on.
  Publish("config", "m", "1", "{}");
  r = RunCommand(strata +
                 " release create --artifact config/m@1 --all-at-once");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  r = RunCommand(strata + " release list");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("config/m@1"));
  // Flags still win.
  r = RunCommand(strata + " release list --app mall", true);
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_THAT(r.out, HasSubstr("app mall is not known to this server"));
  // Never overwritten without --force.
  r = RunCommand(strata + " init --app mall --output json");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("--force replaces it"));
  // A server that does not answer is not written (unless --no-verify).
  EXPECT_EQ(
      RunCommand(strata + " --plaintext --server 127.0.0.1:1 init --force")
          .exit_code,
      5);
  EXPECT_EQ(
      RunCommand(strata + " --plaintext --server 127.0.0.1:1 init --force "
                          "--no-verify")
          .exit_code,
      0);
  EXPECT_EQ(RunCommand(strata + " release list").exit_code, 5);
  // A broken config stops commands with the line to fix; init --force mends.
  WriteFile("home/strata/config", "server = x\nport = 1\n");
  r = RunCommand(strata + " release list", /*with_stderr=*/true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr(config + ":2: unknown key 'port'"));
  EXPECT_EQ(RunCommand(strata + " --plaintext --server " + server_ +
                       " init --force --app wallet --token-file " + token_file)
                .exit_code,
            0);
  EXPECT_EQ(RunCommand(strata + " release list").exit_code, 0);
}

TEST_F(CliBinaryTest, JsonOutputOnEveryCommandIsOneObjectPerLine) {
  const std::string keys = JoinPath(dir_.path(), "keys");
  Publish("config", "m", "1", "{}");
  for (const std::string& cmd : std::vector<std::string>{
           "health", "keys gen --dir " + keys, "keys list --dir " + keys,
           "segment put --app wallet --name a --expr 'os == \"android\"'",
           "segment list --app wallet",
           "release create --app wallet --artifact config/m@1 --segment a",
           "release list --app wallet", "release status 1 --app wallet",
           "release preview 1 --app wallet", "release pause 1 --app wallet",
           "token create --name ci --role viewer", "audit list", "audit verify",
           "backup --to " + JoinPath(dir_.path(), "b"),
           "release status 42 --app wallet", "publish --app wallet"}) {
    CmdResult r = Strata("--output json " + cmd);
    ExpectJsonLines(r.out, cmd);
  }
  // Usage errors too.
  CmdResult r = Strata("publish --app wallet --output json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("{\"error\":{\"code\":\"INVALID_ARGUMENT\""));
  EXPECT_THAT(r.out, HasSubstr("--layer is required"));
}

TEST_F(CliBinaryTest, UploadProgressOnlyOnATerminal) {
  if (RunCommand("script --version").exit_code != 0) {
    GTEST_SKIP() << "util-linux `script` (a pseudo-terminal) is not installed";
  }
  const std::string big = WriteFile("big.bin", std::string(3 << 20, 'x'));
  auto publish = [&](const std::string& version, const std::string& extra) {
    // `script` gives the command a terminal for stdin, stdout and stderr.
    return RunCommand("script -qec \"" + JoinPath(BinDir(), "strata") +
                      " --plaintext --server " + server_ + " --token " +
                      token_ +
                      " publish --app wallet --layer native --module big "
                      "--version " +
                      version + " --file " + big + extra + "\" /dev/null");
  };
  CmdResult r = publish("1", "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("upload [##############################] 100%"));
  EXPECT_THAT(r.out, HasSubstr("3.0 MiB / 3.0 MiB"));
  r = publish("2", " --output json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("upload [")));
  // Not a terminal: no bar either.
  r = Strata(
      "publish --app wallet --layer native --module big --version 3 "
      "--file " +
          big,
      /*with_stderr=*/true);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, Not(HasSubstr("upload [")));
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
