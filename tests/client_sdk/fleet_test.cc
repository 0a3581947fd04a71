// The real strata-fleet binary against a real stratad (in this process, on
// loopback): its round lines, push lines, summary JSON, exit codes, and the
// launch reports the server stored.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server_fixture.h"
#include "strata/base/json.h"
#include "strata/base/sha256.h"
#include "strata/server/storage/store.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kHostBuild[] = "10.3.0+100";

std::string Fleet() {
  const char* dir = std::getenv("STRATA_BIN_DIR");
  return JoinPath(dir != nullptr ? dir : STRATA_TEST_BIN_DIR, "strata-fleet");
}

struct FleetRun {
  int exit_code = -1;
  std::vector<std::string> lines;  // stdout and stderr
  // The lines starting with `prefix`.
  std::vector<std::string> With(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& l : lines) {
      if (l.rfind(prefix, 0) == 0) out.push_back(l);
    }
    return out;
  }
};

// Runs `command` (a shell command line); `on_line` sees each output line as
// it comes.
FleetRun RunCommandLines(
    const std::string& command,
    const std::function<void(const std::string&)>& on_line = {}) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  FleetRun run;
  if (p == nullptr) return run;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) {
    std::string line(buf);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    run.lines.push_back(line);
    if (on_line) on_line(line);
  }
  const int status = ::pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Runs strata-fleet; `on_line` sees each output line as it comes.
FleetRun RunFleet(const std::string& args,
                  const std::function<void(const std::string&)>& on_line = {}) {
  return RunCommandLines(Fleet() + " " + args, on_line);
}

Json ReadJson(const std::string& path) {
  absl::StatusOr<std::string> text = PosixFileSystem()->ReadFile(path);
  EXPECT_THAT(text, IsOk());
  if (!text.ok()) return Json();
  absl::StatusOr<Json> j = Json::Parse(*text);
  EXPECT_THAT(j, IsOk());
  return j.ok() ? *j : Json();
}

int64_t Int(const Json& j, std::string_view key) {
  const Json* v = j.Find(key);
  return v != nullptr && v->is_int() ? v->as_int() : -1;
}

class FleetTest : public testing::SdkServerTest {
 protected:
  std::string Args(const std::string& more) {
    return "--plaintext --server " + server_.address() +
           " --app wallet --devices 3" + " --host-build " + kHostBuild +
           " --dir " + JoinPath(dir_.path(), "fleet") +
           " --insecure-skip-signature-verification-for-tests " + more;
  }
};

TEST_F(FleetTest, ACrashingHotpatchIsRolledBackByEveryDeviceAGoodOneStays) {
  const auto started = std::chrono::steady_clock::now();
  const std::string good = "good patch";
  const uint64_t good_release =
      Release(v1::LAYER_HOTPATCH, "good", "1", good, kHostBuild);
  // First run: the good patch is staged, then active and confirmed.
  FleetRun first = RunFleet(Args("--rounds 2 --interval-ms 0"));
  ASSERT_EQ(first.exit_code, 0) << ::testing::PrintToString(first.lines);
  EXPECT_EQ(first.With("round "),
            (std::vector<std::string>{
                "round 1: 3 devices, 0 crashed launches, 0 rollbacks, "
                "versions: none",
                "round 2: 3 devices, 0 crashed launches, 0 rollbacks, "
                "versions: hotpatch/good=1x3"}));

  // The demo's bad patch: every launch with it active crashes.
  const std::string bad = "patch STRATA_DEMO_CRASH_ON_LAUNCH patch";
  const uint64_t bad_release =
      Release(v1::LAYER_HOTPATCH, "bad", "1", bad, kHostBuild);
  const std::string json = JoinPath(dir_.path(), "summary.json");
  // Second run on the same storage: staged in round 1, active (crashing)
  // in rounds 2-4, rolled back at the launch of round 5.
  FleetRun second =
      RunFleet(Args("--rounds 5 --interval-ms 0 --summary-json " + json));
  ASSERT_EQ(second.exit_code, 0) << ::testing::PrintToString(second.lines);
  const std::string both = "versions: hotpatch/bad=1x3 hotpatch/good=1x3";
  EXPECT_EQ(second.With("round "),
            (std::vector<std::string>{
                "round 1: 3 devices, 0 crashed launches, 0 rollbacks, "
                "versions: hotpatch/good=1x3",
                "round 2: 3 devices, 3 crashed launches, 0 rollbacks, " + both,
                "round 3: 3 devices, 3 crashed launches, 0 rollbacks, " + both,
                "round 4: 3 devices, 3 crashed launches, 0 rollbacks, " + both,
                "round 5: 3 devices, 0 crashed launches, 3 rollbacks, "
                "versions: hotpatch/good=1x3"}));
  EXPECT_THAT(second.With("summary: "),
              Contains(StartsWith("summary: 3 devices, 5 rounds, 6 launches "
                                  "ok, 9 crashed launches, 3 rollbacks")));

  const Json summary = ReadJson(json);
  const Json* totals = summary.Find("totals");
  ASSERT_NE(totals, nullptr);
  EXPECT_EQ(Int(*totals, "launches_ok"), 6);
  EXPECT_EQ(Int(*totals, "launch_crashes"), 9);
  EXPECT_EQ(Int(*totals, "rollbacks"), 3);
  EXPECT_EQ(Int(*totals, "updates_installed"), 3);  // "bad" on each device
  EXPECT_EQ(Int(*totals, "installed_via_full_download"), 3);
  EXPECT_EQ(Int(*totals, "installed_via_delta"), 0);  // nothing to patch
  EXPECT_EQ(Int(*totals, "bytes_downloaded"),
            3 * static_cast<int64_t>(bad.size()));
  EXPECT_EQ(Int(*totals, "check_errors"), 0);
  const Json* devices = summary.Find("devices");
  ASSERT_TRUE(devices != nullptr && devices->is_array());
  ASSERT_EQ(devices->as_array().size(), 3u);
  const Json& second_device = devices->as_array()[1];
  EXPECT_EQ(second_device.Find("device_id")->as_string(), "device-0002");
  EXPECT_EQ(second_device.Find("user_id")->as_string(), "user-0002");
  EXPECT_EQ(second_device.Find("os")->as_string(), "ios");
  EXPECT_EQ(second_device.Find("region")->as_string(), "CN-11");
  for (const Json& d : devices->as_array()) {
    const Json::Array& active = d.Find("active")->as_array();
    ASSERT_EQ(active.size(), 1u) << d.Dump();
    EXPECT_EQ(active[0].Find("layer")->as_string(), "hotpatch");
    EXPECT_EQ(active[0].Find("module")->as_string(), "good");
    EXPECT_EQ(active[0].Find("version")->as_string(), "1");
    EXPECT_EQ(active[0].Find("sha256")->as_string(), Sha256::HexHash(good));
    EXPECT_EQ(Int(*d.Find("counters"), "launch_crashes"), 3);
  }
  ASSERT_EQ(summary.Find("rounds")->as_array().size(), 5u);

  // The server holds every device's launch reports, naming the releases
  // each launch ran: the crashes both patches, the healthy launches after
  // the rollback only the good one.
  server_.Stop();
  auto store = server::Store::Open(JoinPath(dir_.path(), "server/db"));
  ASSERT_THAT(store, IsOk());
  auto reports = (*store)->ListReports("wallet", 10000);
  ASSERT_THAT(reports, IsOk());
  int crashes = 0, ok_good_only = 0;
  std::set<std::string> reporting;
  for (const v1::StoredReport& r : *reports) {
    reporting.insert(r.device_id());
    for (const v1::ReportEvent& e : r.events()) {
      const std::vector<uint64_t> ids(e.release_ids().begin(),
                                      e.release_ids().end());
      if (e.kind() == v1::ReportEvent::KIND_LAUNCH_CRASH) {
        ++crashes;
        EXPECT_EQ(ids, (std::vector<uint64_t>{good_release, bad_release}));
      } else if (e.kind() == v1::ReportEvent::KIND_LAUNCH_OK &&
                 ids == std::vector<uint64_t>{good_release}) {
        ++ok_good_only;
      }
    }
  }
  EXPECT_EQ(crashes, 9);
  // Run 1 round 2, run 2 rounds 1 and 5 (round 1's LAUNCH_OKs name nothing).
  EXPECT_EQ(ok_good_only, 9);
  EXPECT_EQ(reporting, (std::set<std::string>{"device-0001", "device-0002",
                                              "device-0003"}));
  std::cout << "[ time     ] "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms\n";
}

TEST_F(FleetTest, WatchingDevicesPrintEveryPushedConfig) {
  Release(v1::LAYER_CONFIG, "flags", "1", "{\"new_ui\":false}");
  const std::string json = JoinPath(dir_.path(), "summary.json");
  bool released = false;
  // Released while the fleet waits between its two rounds; the wait lasts
  // until every device's watch stream installed it (--await-config), so
  // round 2's checks find nothing new, on any machine.
  FleetRun run = RunFleet(
      Args("--rounds 2 --interval-ms 0 --watch-config --await-config flags=2 "
           "--summary-json " +
           json),
      [&](const std::string& line) {
        if (line.rfind("round 1:", 0) == 0 && !released) {
          released = true;
          Release(v1::LAYER_CONFIG, "flags", "2", "{\"new_ui\":true}");
        }
      });
  ASSERT_EQ(run.exit_code, 0) << ::testing::PrintToString(run.lines);
  const std::vector<std::string> pushes = run.With("config ");
  ASSERT_EQ(pushes.size(), 3u) << ::testing::PrintToString(run.lines);
  // (std::regex trips GCC 12's maybe-uninitialized warning under ASan.)
  const std::string prefix = "config flags 2 pushed to device device-000";
  std::set<std::string> devices;
  for (const std::string& line : pushes) {
    EXPECT_THAT(line, ::testing::MatchesRegex(
                          "config flags 2 pushed to device device-000[123] "
                          "[0-9]+ms after round 1 start"));
    ASSERT_TRUE(line.starts_with(prefix)) << line;
    devices.insert(line.substr(prefix.size(), 1));
  }
  EXPECT_EQ(devices, (std::set<std::string>{"1", "2", "3"}));
  EXPECT_EQ(run.With("await: "),
            (std::vector<std::string>{
                "await: config flags 2 active on all 3 devices"}));
  EXPECT_EQ(run.With("round 2:"),
            (std::vector<std::string>{"round 2: 3 devices, 0 crashed "
                                      "launches, 0 rollbacks, versions: "
                                      "config/flags=2x3"}));
  const Json summary = ReadJson(json);
  EXPECT_EQ(Int(*summary.Find("totals"), "config_pushes_installed"), 3);
  EXPECT_EQ(Int(*summary.Find("totals"), "updates_installed"), 3);  // v1
}

TEST_F(FleetTest, AwaitConfigGivesUpAfterItsHangGuard) {
  Release(v1::LAYER_CONFIG, "flags", "1", "{}");
  // Version 9 is never released: the wait can only end at its guard.
  FleetRun run = RunFleet(
      Args("--rounds 3 --interval-ms 0 --watch-config --await-config flags=9 "
           "--await-timeout-ms 200"));
  EXPECT_EQ(run.exit_code, 7) << ::testing::PrintToString(run.lines);
  EXPECT_EQ(run.With("round ").size(), 1u);
  EXPECT_THAT(run.lines,
              Contains(HasSubstr("gave up waiting after 200 ms "
                                 "(--await-timeout-ms): config flags 9 is "
                                 "active on 0 of 3 devices (device-0001 has "
                                 "config flags 1)")));
  EXPECT_THAT(run.With("summary: "), ::testing::SizeIs(1));
  // Bad uses: no MODULE=VERSION, or nothing that could push.
  EXPECT_EQ(RunFleet(Args("--watch-config --await-config flags")).exit_code, 2);
  FleetRun unwatched = RunFleet(Args("--await-config flags=2"));
  EXPECT_EQ(unwatched.exit_code, 2);
  EXPECT_THAT(unwatched.lines, Contains(HasSubstr("add --watch-config")));
}

TEST_F(FleetTest, ASignalStopsTheRunAfterTheRoundWithItsSummary) {
  Release(v1::LAYER_CONFIG, "flags", "1", "{}");
  const std::string json = JoinPath(dir_.path(), "summary.json");
  pid_t pid = -1;
  // `exec` keeps the shell's pid, printed first; the pause between rounds
  // is an hour: only the signal can end the run.
  FleetRun run = RunCommandLines(
      "sh -c 'echo pid $$; exec " + Fleet() + " " +
          Args("--rounds 1000 --interval-ms 3600000 --summary-json " + json) +
          "'",
      [&](const std::string& line) {
        if (line.rfind("pid ", 0) == 0) pid = std::stoi(line.substr(4));
        if (line.rfind("round 1:", 0) == 0 && pid > 0) ::kill(pid, SIGTERM);
      });
  EXPECT_EQ(run.exit_code, 0) << ::testing::PrintToString(run.lines);
  EXPECT_EQ(run.With("round ").size(), 1u);
  EXPECT_EQ(run.With("stopped "),
            (std::vector<std::string>{"stopped by signal 15 after round 1"}));
  EXPECT_THAT(run.With("summary: "), ::testing::SizeIs(1));
  EXPECT_EQ(ReadJson(json).Find("rounds")->as_array().size(), 1u);
}

TEST_F(FleetTest, ExitCodesSayWhatWentWrong) {
  FleetRun help = RunFleet("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.lines, Contains(HasSubstr("STRATA_DEMO_CRASH_ON_LAUNCH")));
  EXPECT_THAT(help.lines, Contains(StartsWith("Exit codes:")));
  EXPECT_EQ(RunFleet(Args("--devices 0")).exit_code, 2);
  EXPECT_EQ(RunFleet("--app wallet").exit_code, 2);  // no --dir
  FleetRun bad_app = RunFleet("--app ../x --dir " + JoinPath(dir_.path(), "x"));
  EXPECT_EQ(bad_app.exit_code, 2);
  EXPECT_THAT(bad_app.lines, Contains(HasSubstr("app id")));
  // Nothing listens there.
  FleetRun unreachable = RunFleet(
      "--plaintext --server 127.0.0.1:1 --app wallet --devices 2 "
      "--rounds 3 --interval-ms 0 "
      "--insecure-skip-signature-verification-for-tests --dir " +
      JoinPath(dir_.path(), "u"));
  EXPECT_EQ(unreachable.exit_code, 5);
  EXPECT_EQ(unreachable.With("round ").size(), 1u);  // stops after round 1
  EXPECT_THAT(unreachable.lines, Contains(HasSubstr("could not be reached")));
  // No root of trust: refused before any device starts, naming the fix.
  FleetRun no_root =
      RunFleet("--plaintext --server " + server_.address() +
               " --app wallet --devices 1 --dir " + JoinPath(dir_.path(), "n"));
  EXPECT_EQ(no_root.exit_code, 2);
  EXPECT_THAT(no_root.lines, Contains(HasSubstr("--root")));
  EXPECT_THAT(no_root.lines, Contains(HasSubstr("strata trust init")));
  EXPECT_TRUE(no_root.With("round ").empty());
  EXPECT_FALSE(PosixFileSystem()->Stat(JoinPath(dir_.path(), "n")).ok());
}

}  // namespace
}  // namespace strata
