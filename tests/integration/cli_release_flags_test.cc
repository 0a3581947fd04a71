// The structured flags of `strata release create`, parsed directly.
#include <map>
#include <optional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/config.h"
#include "strata/admin_cli/release_flags.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::admin {
namespace {

using ::strata::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

TEST(CliDurationTest, ParsesUnitsAndCombinations) {
  EXPECT_EQ(*ParseDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDuration("10m"), absl::Minutes(10));
  EXPECT_EQ(*ParseDuration("1h"), absl::Hours(1));
  EXPECT_EQ(*ParseDuration("2d"), absl::Hours(48));
  EXPECT_EQ(*ParseDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDuration("1m30s"), absl::Seconds(90));
  EXPECT_EQ(ShortDuration(absl::Minutes(90)), "1h30m");
  EXPECT_EQ(ShortDuration(absl::Seconds(0)), "0s");
  EXPECT_EQ(ShortDuration(absl::Hours(26)), "1d2h");
  EXPECT_EQ(ShortDuration(absl::Milliseconds(1250)), "1s250ms");
  for (const char* bad : {"", "5", "h", "1.5h", "-1h", "1w", "1h 2m"}) {
    absl::StatusOr<absl::Duration> d = ParseDuration(bad);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(Message(d.status()), HasSubstr("30s, 10m, 1h")) << bad;
  }
}

TEST(CliExposureTest, PercentToBasisPointsAndBack) {
  EXPECT_EQ(*ParseExposure("1%"), 100u);
  EXPECT_EQ(*ParseExposure("0.5%"), 50u);
  EXPECT_EQ(*ParseExposure("0.01%"), 1u);
  EXPECT_EQ(*ParseExposure("100%"), 10000u);
  EXPECT_EQ(FormatExposure(50), "0.5%");
  EXPECT_EQ(FormatExposure(1), "0.01%");
  EXPECT_EQ(FormatExposure(2000), "20%");
  EXPECT_THAT(Message(ParseExposure("5").status()), HasSubstr("percent sign"));
  EXPECT_THAT(Message(ParseExposure("0%").status()), HasSubstr("nobody"));
  EXPECT_THAT(Message(ParseExposure("101%").status()), HasSubstr("above 100%"));
  EXPECT_THAT(Message(ParseExposure("0.001%").status()),
              HasSubstr("two decimals"));
  EXPECT_FALSE(ParseExposure("x%").ok());
}

TEST(CliPlanTest, ParsesStagesWithOptionalBakeAndReports) {
  auto plan = ParsePlan("1%:1h:200,5%:2h:500,20%,100%");
  ASSERT_THAT(plan, IsOk());
  ASSERT_EQ(plan->size(), 4u);
  EXPECT_EQ((*plan)[0].exposure_bp(), 100u);
  EXPECT_EQ((*plan)[0].bake_seconds(), 3600);
  EXPECT_EQ((*plan)[0].min_reports(), 200u);
  EXPECT_EQ((*plan)[1].bake_seconds(), 7200);
  EXPECT_EQ((*plan)[2].exposure_bp(), 2000u);
  EXPECT_EQ((*plan)[2].bake_seconds(), 0);
  EXPECT_EQ((*plan)[2].min_reports(), 0u);
  EXPECT_EQ(FormatPlan(*plan), "1%:1h:200,5%:2h:500,20%,100%");
  EXPECT_EQ(FormatPlan(*ParsePlan(" 0.5%:30m , 100% ")), "0.5%:30m,100%");
  EXPECT_EQ(FormatPlan(*ParsePlan("100%")), "100%");
}

TEST(CliPlanTest, DefaultMeansTheServersPlan) {
  auto plan = ParsePlan("default");
  ASSERT_THAT(plan, IsOk());
  EXPECT_TRUE(plan->empty());
  EXPECT_EQ(FormatPlan({}), "default");
}

TEST(CliPlanTest, ErrorsNameTheStageAndTheFix) {
  struct Case {
    const char* plan;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "--plan is empty"},
           {"1%,5%,20%", "the last stage must be 100% (add ,100%)"},
           {"5%,1%,100%", "stage 2 ('1%'): exposure 1% does not grow past"},
           {"1%,1%,100%", "does not grow past the previous stage's 1%"},
           {"1%:1h:x,100%", "min_reports 'x' is not a whole number"},
           {"1%:1y,100%", "stage 1 ('1%:1y'): bake time: unknown unit 'y'"},
           {"1%:1h:2:3,100%", "too many ':' parts"},
           {"1%:1500ms,100%", "use whole seconds"},
           {"1,100%", "needs a percent sign"},
           {"1%,,100%", "stage 2 (''): empty stage"},
           {"1%,100%,", "stage 3 (''): empty stage"},
       }) {
    auto plan = ParsePlan(c.plan);
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument)
        << c.plan;
    EXPECT_THAT(Message(plan.status()), HasSubstr(c.message)) << c.plan;
  }
}

TEST(CliGateTest, SetsTypedFieldsByName) {
  auto gates = ParseGates({"max_crash_rate=0.05", "min_launches=20",
                           "report_silence=30m", "max_apply_failure_rate=2%",
                           "max_crash_ratio=1.5"});
  ASSERT_THAT(gates, IsOk());
  EXPECT_DOUBLE_EQ(gates->max_crash_rate(), 0.05);
  EXPECT_EQ(gates->min_launches(), 20u);
  EXPECT_EQ(gates->report_silence_seconds(), 1800);
  EXPECT_DOUBLE_EQ(gates->max_apply_failure_rate(), 0.02);
  EXPECT_DOUBLE_EQ(gates->max_crash_ratio(), 1.5);
  EXPECT_FALSE(gates->has_min_z_score());  // unset keeps the server default
  EXPECT_EQ(FormatGates(*gates),
            "max_apply_failure_rate=0.02 max_crash_ratio=1.5 "
            "max_crash_rate=0.05 min_launches=20 report_silence=30m");
  EXPECT_DOUBLE_EQ(ParseGates({"min_z_score=3"})->min_z_score(), 3.0);
  // The field's own name works too.
  auto full = ParseGates({"report_silence_seconds=1h"});
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(full->report_silence_seconds(), 3600);
}

TEST(CliGateTest, StatisticAndBaseline) {
  auto gates =
      ParseGates({"statistic=z_score", "baseline_crash_rate=0.5%",
                  "false_halt_budget=0.02", "min_detectable_crash_ratio=1.5"});
  ASSERT_THAT(gates, IsOk());
  EXPECT_EQ(gates->statistic(), v1::GATE_STATISTIC_Z_SCORE);
  EXPECT_DOUBLE_EQ(gates->baseline_crash_rate(), 0.005);
  EXPECT_DOUBLE_EQ(gates->false_halt_budget(), 0.02);
  EXPECT_EQ(FormatGates(*gates),
            "statistic=z_score false_halt_budget=0.02 "
            "baseline_crash_rate=0.005 min_detectable_crash_ratio=1.5");
  EXPECT_EQ(ParseGates({"statistic=sequential"})->statistic(),
            v1::GATE_STATISTIC_SEQUENTIAL);
  auto bad = ParseGates({"statistic=bayes"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bad.status()),
              HasSubstr("--gate statistic='bayes': expected sequential or "
                        "z_score"));
  EXPECT_EQ(ParseGates({"min_detectable_crash_ratio=0.5"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CliGateTest, UnknownKeysListTheKnownOnes) {
  auto gates = ParseGates({"max_crashes=3"});
  EXPECT_EQ(gates.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(gates.status()),
              HasSubstr("unknown --gate key 'max_crashes'; known keys: "
                        "baseline_crash_rate, false_halt_budget, "
                        "max_apply_failure_rate, "));
  EXPECT_THAT(Message(gates.status()), HasSubstr("report_silence"));
  EXPECT_THAT(GateKeys(), ::testing::Contains("min_launches"));
}

TEST(CliGateTest, BadValuesSayWhatIsExpected) {
  struct Case {
    const char* gate;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"max_crash_rate", "needs the form key=value"},
           {"max_crash_rate=lots", "expected a non-negative decimal"},
           {"max_crash_rate=-0.1", "expected a non-negative decimal"},
           {"min_launches=2.5", "expected a whole number"},
           {"min_launches=-1", "expected a whole number"},
           {"report_silence=soon", "30s, 10m, 1h"},
           {"report_silence=0", "longer than 0s"},
           {"max_crash_rate=5", "a fraction between 0 and 1: write 0.05 or 5%"},
           {"max_crash_ratio=0.5", "at least 1"},
       }) {
    auto gates = ParseGates({c.gate});
    EXPECT_EQ(gates.status().code(), absl::StatusCode::kInvalidArgument)
        << c.gate;
    EXPECT_THAT(Message(gates.status()), HasSubstr(c.message)) << c.gate;
  }
  EXPECT_THAT(
      Message(ParseGates({"min_launches=1", "min_launches=2"}).status()),
      HasSubstr("given twice"));
}

TEST(CliArtifactTest, LayerModuleAtVersion) {
  auto a = ParseArtifact("h5/mall-home@12");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->module().layer(), v1::LAYER_H5);
  EXPECT_EQ(a->module().name(), "mall-home");
  EXPECT_EQ(a->version(), "12");
  EXPECT_EQ(FormatArtifact(*a), "h5/mall-home@12");
  EXPECT_EQ(ParseArtifact("native/core.so@10.3.1-rc1")->module().layer(),
            v1::LAYER_NATIVE_BUNDLE);
  EXPECT_THAT(Message(ParseArtifact("mall-home@12").status()),
              HasSubstr("LAYER/MODULE@VERSION"));
  EXPECT_THAT(Message(ParseArtifact("web/mall@1").status()),
              HasSubstr("unknown layer 'web'"));
  EXPECT_THAT(Message(ParseArtifact("h5/@1").status()), HasSubstr("no module"));
  EXPECT_THAT(Message(ParseArtifact("h5/m@").status()),
              HasSubstr("no version"));
  EXPECT_THAT(Message(ParseArtifact("h5/a/b@1").status()),
              HasSubstr("has character '/'"));
}

TEST(CliConfigTest, ParsesKeyValueLinesAndRoundTrips) {
  auto c = ParseConfig(
      "# comment\n\nserver = h:1\napp=wallet\r\ntoken_file = /t\n", "cfg");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->server, "h:1");
  EXPECT_EQ(c->app, "wallet");
  EXPECT_EQ(c->token_file, "/t");
  auto again = ParseConfig(FormatConfig(*c), "cfg");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->server, "h:1");
  EXPECT_EQ(again->token_file, "/t");
  EXPECT_THAT(Message(ParseConfig("server h\n", "/c").status()),
              HasSubstr("/c:1: expected `key = value`"));
  EXPECT_THAT(Message(ParseConfig("\nport = 1\n", "/c").status()),
              HasSubstr("/c:2: unknown key 'port'; known keys: server, app, "
                        "token_file"));
}

TEST(CliConfigTest, ConfigFlagIsFoundBeforeParsing) {
  const char* a[] = {"strata", "--config", "/x/c", "release", "list"};
  EXPECT_EQ(ConfigPathFromArgs(5, a), "/x/c");
  const char* b[] = {"strata", "release", "list", "--config=/y"};
  EXPECT_EQ(ConfigPathFromArgs(4, b), "/y");
}

TEST(CliSourceTest, CiVariablesFirstThenGit) {
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> shell;
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto run = [&](const std::string& cmd) -> std::optional<std::string> {
    auto it = shell.find(cmd);
    if (it == shell.end()) return std::nullopt;
    return it->second;
  };
  // Nothing anywhere: no source.
  SourceInfo s = DetectSource(getenv, run);
  EXPECT_EQ(s.commit, "");
  EXPECT_EQ(s.from, "");
  // git in the working directory; a detached HEAD has no branch.
  shell["git rev-parse HEAD"] = "0123abcd\n";
  shell["git rev-parse --abbrev-ref HEAD"] = "HEAD\n";
  s = DetectSource(getenv, run);
  EXPECT_EQ(s.commit, "0123abcd");
  EXPECT_EQ(s.branch, "");
  EXPECT_EQ(s.from, "git");
  shell["git rev-parse --abbrev-ref HEAD"] = "feature/x\n";
  EXPECT_EQ(DetectSource(getenv, run).branch, "feature/x");
  // GitLab's variables win over git, GitHub's over GitLab's.
  env["CI_COMMIT_SHA"] = "gitlab-sha";
  env["CI_COMMIT_REF_NAME"] = "main";
  s = DetectSource(getenv, run);
  EXPECT_EQ(s.commit, "gitlab-sha");
  EXPECT_EQ(s.branch, "main");
  EXPECT_EQ(s.from, "CI_COMMIT_SHA");
  env["GITHUB_SHA"] = " github-sha ";
  env["GITHUB_REF_NAME"] = "release/10.4";
  s = DetectSource(getenv, run);
  EXPECT_EQ(s.commit, "github-sha");
  EXPECT_EQ(s.branch, "release/10.4");
  EXPECT_EQ(s.from, "GITHUB_SHA");
  // An empty variable counts as unset.
  env["GITHUB_SHA"] = "";
  EXPECT_EQ(DetectSource(getenv, run).from, "CI_COMMIT_SHA");
}

}  // namespace
}  // namespace strata::admin
