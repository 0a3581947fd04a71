// Issue 14 through the real binaries: segments that live releases use,
// roll back reach and "back to embedded", overlapping rollouts, edits of a
// live release, messages and source metadata, the fleet view, release
// status wording and explain.
#include <set>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

class CliReleaseEngineeringTest : public CliFixture {
 protected:
  // `strata` with environment assignments before it (VAR=value ...).
  CmdResult StrataEnv(const std::string& env, const std::string& args,
                      const std::string& cwd = "") {
    std::string cmd = cwd.empty() ? "" : StrCat("cd ", cwd, " && ");
    cmd += StrCat(
        "env -u GITHUB_SHA -u GITHUB_REF_NAME -u CI_COMMIT_SHA "
        "-u CI_COMMIT_REF_NAME ",
        env, " ", JoinPath(BinDir(), "strata"), " ", transport_flags_,
        " --server ", server_, " --token ", token_, " ", args);
    return RunCommand(cmd, /*with_stderr=*/true);
  }
  // One check of device `id` (android, region `region`); returns what
  // --print-config says of config module `module` ("" when none).
  std::string Device(const std::string& id, const std::string& module,
                     const std::string& region = "CN-31",
                     const std::string& extra = "") {
    CmdResult r = RunCommand(StrCat(
        JoinPath(BinDir(), "strata-device"), " --plaintext --server ", server_,
        extra.find("--root") == std::string::npos
            ? " --insecure-skip-signature-verification-for-tests"
            : "",
        " --app wallet --os android --region ", region, " --device-id ", id,
        " --storage-dir ", JoinPath(dir_.path(), id), " --print-config ",
        module, extra));
    const std::string prefix = StrCat("config ", module, " = ");
    const size_t at = r.out.find(prefix);
    if (at == std::string::npos) return "";
    std::string value = r.out.substr(at + prefix.size());
    return value.substr(0, value.find('\n'));
  }
};

TEST_F(CliReleaseEngineeringTest, SegmentInUseNeedsForceAndKeepsAHistory) {
  const std::string app = " --app wallet";
  ASSERT_EQ(
      Strata("segment put --name android --expr 'os == \"android\"'" + app)
          .exit_code,
      0);
  ASSERT_EQ(
      Strata("segment put --name old-beta --expr 'channel == \"beta\"'" + app)
          .exit_code,
      0);
  Publish("config", "m", "1", "{\"v\":1}");
  ASSERT_EQ(Strata("release create --artifact config/m@1 --segment android "
                   "--all-at-once" +
                   app)
                .exit_code,
            0);
  // The completed android release would begin targeting iOS: refused (4),
  // naming the release and the way out.
  CmdResult r =
      Strata("segment put --name android --expr 'os == \"ios\"'" + app, true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("live releases 1 (completed)"));
  EXPECT_THAT(r.out, HasSubstr("--force"));
  r = Strata("segment delete --name android" + app, true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("live releases 1"));
  // Forced: done and audited as such.
  r = Strata(
      "segment put --name android --expr 'os == \"android\" && "
      "app_version >= \"10.0\"' --force" +
          app,
      true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Strata("segment history --name android" + app);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ContainsRegex("SEQ +TIME +ACTOR +ACTION +DETAIL"));
  EXPECT_THAT(r.out, HasSubstr("segment.put"));
  EXPECT_THAT(r.out, HasSubstr("segment.force_put"));
  EXPECT_THAT(r.out, HasSubstr("retargets releases 1 (completed)"));
  EXPECT_THAT(Strata("audit list").out, HasSubstr("segment.force_put"));
  // Unused: deleted; gone from the list; its history stays.
  r = Strata("segment delete --name old-beta" + app, true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("deleted segment old-beta"));
  EXPECT_EQ(Strata("segment delete --name old-beta" + app).exit_code, 3);
  EXPECT_THAT(Strata("segment history --name old-beta" + app).out,
              HasSubstr("segment.delete"));
  // The list: a header and aligned columns.
  ASSERT_EQ(Strata("segment put --name sh --expr 'region in [\"CN-31\"]'" + app)
                .exit_code,
            0);
  r = Strata("segment list" + app);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out,
              ContainsRegex("^NAME +ALLOW +DENY +UPDATED +EXPRESSION\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("old-beta")));
  // Every row's expression starts in the header's EXPRESSION column.
  const size_t column = r.out.find("EXPRESSION");
  size_t line = r.out.find('\n') + 1;
  int rows = 0;
  while (line < r.out.size()) {
    const std::string row = r.out.substr(line, r.out.find('\n', line) - line);
    EXPECT_GT(row.size(), column) << row;
    if (row.size() > column) {
      EXPECT_NE(row[column], ' ') << row;
      EXPECT_EQ(row[column - 1], ' ') << row;
    }
    ++rows;
    line += row.size() + 1;
  }
  EXPECT_EQ(rows, 2);
}

TEST_F(CliReleaseEngineeringTest, MessageAndSourceShowInListStatusAndAudit) {
  Publish("config", "m", "1", "{\"v\":1}");
  Publish("config", "n", "1", "{\"v\":1}");
  Publish("config", "o", "1", "{\"v\":1}");
  // GitHub Actions' variables.
  CmdResult r = StrataEnv(
      "GITHUB_SHA=4f2a9c1e0b7d4f2a9c1e0b7d4f2a9c1e0b7d4f2a "
      "GITHUB_REF_NAME=release/10.4",
      "release create --app wallet --artifact config/m@1 --all-at-once "
      "--message 'limits for the sale'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("message: limits for the sale"));
  EXPECT_THAT(r.out, HasSubstr("source: 4f2a9c1e0b7d@release/10.4"));
  // GitLab's.
  r = StrataEnv("CI_COMMIT_SHA=9999aaaa9999aaaa CI_COMMIT_REF_NAME=main",
                "release create --app wallet --artifact config/n@1 "
                "--all-at-once");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Neither: git where the command runs.
  const std::string repo = JoinPath(dir_.path(), "repo");
  CmdResult git = RunCommand(
      StrCat("mkdir -p ", repo, " && cd ", repo,
             " && git init -q -b hotfix && git -c user.email=a@b -c "
             "user.name=ci commit -q --allow-empty -m x && git rev-parse "
             "HEAD"));
  ASSERT_EQ(git.exit_code, 0) << git.out;
  const std::string head = git.out.substr(0, 12);
  r = StrataEnv("",
                "release create --app wallet --artifact config/o@1 "
                "--all-at-once -m 'from a laptop'",
                repo);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(StrCat("source: ", head, "@hotfix")));

  r = Strata("release list --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ContainsRegex("SOURCE +MESSAGE\n"));
  EXPECT_THAT(r.out,
              HasSubstr("4f2a9c1e0b7d@release/10.4  limits for the sale"));
  EXPECT_THAT(r.out, HasSubstr("9999aaaa9999@main"));
  EXPECT_THAT(r.out, HasSubstr(StrCat(head, "@hotfix")));
  r = Strata("release status 1 --app wallet");
  EXPECT_THAT(r.out, ContainsRegex("message +limits for the sale\n"));
  EXPECT_THAT(r.out, ContainsRegex("source +4f2a9c1e0b7d@release/10.4\n"));
  r = Strata("--output json release status 1 --app wallet");
  EXPECT_THAT(r.out, HasSubstr("\"source_commit\":\"4f2a9c1e0b7d4f2a9c1e0b7d"
                               "4f2a9c1e0b7d4f2a\""));
  r = Strata("audit list");
  EXPECT_THAT(r.out, HasSubstr("message=limits for the sale"));
  EXPECT_THAT(r.out, HasSubstr("source=4f2a9c1e0b7d4f2a9c1e0b7d4f2a9c1e0b7d"
                               "4f2a@release/10.4"));
  // --no-source records none; a newline in a message is bad input.
  Publish("config", "p", "1", "{}");
  r = StrataEnv("GITHUB_SHA=abc",
                "--output json release create --app wallet --artifact "
                "config/p@1 --all-at-once --no-source");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"source_commit\":\"\""));
  r = Strata(
      "release create --app wallet --artifact config/p@1 "
      "--message \"$(printf 'a\\nb')\"",
      true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

TEST_F(CliReleaseEngineeringTest, EditALiveReleaseAndOverlapsAreRefused) {
  Publish("config", "m", "1", "{\"v\":1}");
  Publish("config", "m", "2", "{\"v\":2}");
  const std::string app = " --app wallet";
  ASSERT_EQ(
      Strata("release create --artifact config/m@1 --plan 1%:1h,100%" + app)
          .exit_code,
      0);
  // A second rollout of the module to the same devices: refused (4).
  CmdResult r = Strata("release create --artifact config/m@2" + app, true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("release 1 is still rolling config/m@1"));
  EXPECT_THAT(r.out, HasSubstr("--allow-overlap"));
  // Edit: nothing given is bad input; a lower exposure is refused.
  EXPECT_EQ(Strata("release edit 1" + app).exit_code, 2);
  r = Strata("release edit 1 --plan 0.5%,100%" + app, true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("cannot start below 1%"));
  r = Strata(
      "release edit 1 --plan 10%:30m,100% --gate max_crash_rate=0.01 "
      "--message 'widen for QA' --reason 'QA signed off'" +
          app,
      true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("plan 10%:30m,100%"));
  EXPECT_THAT(r.out, HasSubstr("max_crash_rate=0.01"));
  EXPECT_THAT(r.out, HasSubstr("message: widen for QA"));
  r = Strata("release status 1" + app);
  EXPECT_THAT(r.out, ContainsRegex("exposure +10% of the segment"));
  EXPECT_THAT(r.out, HasSubstr("release.edit"));
  EXPECT_THAT(r.out, HasSubstr("QA signed off"));
  EXPECT_THAT(Strata("audit list").out, HasSubstr("release.edit"));
  // Done: only the message can change.
  ASSERT_EQ(Strata("release promote 1" + app).exit_code, 0);
  ASSERT_EQ(Strata("release promote 1" + app).exit_code, 0);
  EXPECT_EQ(Strata("release edit 1 --plan 100%" + app).exit_code, 4);
  EXPECT_EQ(Strata("release edit 1 -m shipped" + app).exit_code, 0);
  EXPECT_THAT(Strata("release list" + app).out, HasSubstr("shipped"));
}

TEST_F(CliReleaseEngineeringTest, RollBackReachesOnlyTheDevicesItReached) {
  const std::string app = " --app wallet";
  ASSERT_EQ(
      Strata("segment put --name android --expr 'os == \"android\"'" + app)
          .exit_code,
      0);
  Publish("config", "m", "1", "{\"v\":1}");
  Publish("config", "m", "2", "{\"v\":2}");
  ASSERT_EQ(Strata("release create --artifact config/m@1 --segment android "
                   "--all-at-once" +
                   app)
                .exit_code,
            0);
  std::vector<std::string> devices;
  for (int i = 0; i < 30; ++i) devices.push_back(StrCat("dev-", i));
  for (const std::string& d : devices) ASSERT_EQ(Device(d, "m"), "{\"v\":1}");
  ASSERT_EQ(Strata("release create --artifact config/m@2 --segment android "
                   "--plan 20%:1h,100%" +
                   app)
                .exit_code,
            0);
  std::set<std::string> got_bad;
  for (const std::string& d : devices) {
    if (Device(d, "m") == "{\"v\":2}") got_bad.insert(d);
  }
  ASSERT_FALSE(got_bad.empty());
  ASSERT_LT(got_bad.size(), devices.size());
  CmdResult r = Strata("release rollback 2 --yes --reason bad" + app, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rolled back by release 3: config/m@1"));
  EXPECT_THAT(r.out, HasSubstr("reaches: segment android, the 20% of it "
                               "release 2 reached (salt release-2)"));
  for (const std::string& d : devices) EXPECT_EQ(Device(d, "m"), "{\"v\":1}");
  // Only the devices that had release 2 took the roll back.
  for (const std::string& d : devices) Device(d, "m");  // report what runs
  r = Strata("--output json release status 3" + app);
  EXPECT_THAT(r.out, HasSubstr("\"max_exposure_bp\":2000"));
  r = Strata("fleet" + app);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("30 devices seen"));
  EXPECT_THAT(r.out,
              ContainsRegex(StrCat("1 \\(#3\\) +", got_bad.size(), " ")));
  EXPECT_THAT(
      r.out, ContainsRegex(
                 StrCat("1 \\(#1\\) +", devices.size() - got_bad.size(), " ")));
  // The roll back itself cannot be rolled back (4), saying what it is.
  r = Strata("release rollback 3 --yes" + app, true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("itself the roll back of release 2"));
}

TEST_F(CliReleaseEngineeringTest, FirstReleaseRollsBackToTheEmbeddedVersion) {
  const std::string app = " --app wallet";
  const std::string embedded = JoinPath(dir_.path(), "embedded");
  ASSERT_TRUE(
      CreateDirs(*PosixFileSystem(), JoinPath(embedded, "config")).ok());
  WriteFile("embedded/config/m", "{\"v\":0}");
  const std::string extra = " --embedded-dir " + embedded;
  ASSERT_EQ(Device("d1", "m", "CN-31", extra), "{\"v\":0}");
  Publish("config", "m", "1", "{\"v\":1}");
  ASSERT_EQ(Strata("release create --artifact config/m@1 --all-at-once" + app)
                .exit_code,
            0);
  ASSERT_EQ(Device("d1", "m", "CN-31", extra), "{\"v\":1}");
  CmdResult r = Strata("release rollback 1 --yes" + app, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("config/m@embedded (the version the app ships "
                               "with)"));
  EXPECT_EQ(Device("d1", "m", "CN-31", extra), "{\"v\":0}");
  EXPECT_EQ(Device("d1", "m", "CN-31", extra), "{\"v\":0}");  // and stays
}

class CliTrustedRevertTest : public CliReleaseEngineeringTest {
 protected:
  CliTrustedRevertTest() { allow_unsigned_ = false; }
};

TEST_F(CliTrustedRevertTest, RevertTargetIsSignedAndDevicesVerifyIt) {
  InitTrust();
  const std::string keys = JoinPath(dir_.path(), "keys");
  const std::string key = " --key " + JoinPath(keys, "publisher-a.key");
  const std::string app = " --app wallet";
  const std::string file = WriteFile("m1.json", "{\"v\":1}");
  ASSERT_EQ(Strata("publish --app wallet --layer config --module m --version "
                   "1 --file " +
                   file + key)
                .exit_code,
            0);
  ASSERT_EQ(Strata("release create --artifact config/m@1 --all-at-once" + app)
                .exit_code,
            0);
  const std::string embedded = JoinPath(dir_.path(), "embedded");
  ASSERT_TRUE(
      CreateDirs(*PosixFileSystem(), JoinPath(embedded, "config")).ok());
  WriteFile("embedded/config/m", "{\"v\":0}");
  const std::string extra =
      " --embedded-dir " + embedded + " --root " + JoinPath(keys, "root.json");
  ASSERT_EQ(Device("d1", "m", "CN-31", extra), "{\"v\":1}");
  CmdResult r =
      Strata("release rollback 1 --yes --to embedded" + key + app, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("signed config/m@2 (revert to the embedded version)"));
  EXPECT_EQ(Device("d1", "m", "CN-31", extra), "{\"v\":0}");
  EXPECT_EQ(Device("d1", "m", "CN-31", extra), "{\"v\":0}");
}

TEST_F(CliReleaseEngineeringTest, StatusSaysWhatTheGateWaitsForAndExplainWhy) {
  const std::string app = " --app wallet";
  ASSERT_EQ(Strata("segment put --name sh --expr 'os == \"android\" && "
                   "region in [\"CN-31\"]'" +
                   app)
                .exit_code,
            0);
  Publish("config", "m", "1", "{\"v\":1}");
  Publish("config", "m", "2", "{\"v\":2}");
  ASSERT_EQ(Strata("release create --artifact config/m@1 --all-at-once" + app)
                .exit_code,
            0);
  // No bake time: the gate waits for launches and says so.
  ASSERT_EQ(Strata("release create --artifact config/m@2 --segment sh "
                   "--plan 100%:0:0 --gate min_launches=5" +
                   app)
                .exit_code,
            0);
  Device("sh-1", "m", "CN-31");
  Device("bj-1", "m", "CN-11");
  CmdResult r = Strata("release status 2" + app);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("downloaded")));
  EXPECT_THAT(r.out, Not(HasSubstr("(baking)")));
  EXPECT_THAT(r.out, HasSubstr("hold (waiting_for_launches): holding: 0 of 5 "
                               "launched devices the crash gate needs"));
  r = Strata("release status 1" + app);
  EXPECT_THAT(r.out, HasSubstr("Gate: not judging (the release is completed)"));

  r = Strata("release explain --device sh-1" + app);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("config/m: from release 2"));
  EXPECT_THAT(r.out, HasSubstr("config/m: release 2 wins (newer) over "
                               "release 1"));
  r = Strata("release explain --device bj-1" + app);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("`region in [\"CN-31\"]` is false: region is "
                               "\"CN-11\""));
  EXPECT_THAT(r.out, HasSubstr("config/m: from release 1"));
}

}  // namespace
}  // namespace strata
