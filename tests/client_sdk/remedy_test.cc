// Remedy rules on the device (docs/remedies.md): the strict parser, the
// match, and the Client applying a matching rule once (also across
// restarts), over a fake transport and an in-memory file system.
#include "remedy.h"

#include "fake_transport.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RemedyRulesTest, ParsesARuleWithEveryMatchField) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::vector<RemedyRule> rules,
      ParseRemedyRules(R"({"rules": [{"id": "r1", "when": {
        "signature": "0123456789abcdef", "module": "h5/mall-home",
        "version": ["2", "3"], "os": "android", "os_version": ["13"],
        "attributes": {"rooted": "no"}},
        "action": "disable_module"}]})"));
  ASSERT_EQ(rules.size(), 1u);
  const RemedyRule& r = rules[0];
  EXPECT_EQ(r.id, "r1");
  EXPECT_EQ(r.signature, "0123456789abcdef");
  EXPECT_EQ(r.module, (ModuleKey{2, "mall-home"}));
  EXPECT_EQ(r.target, r.module);  // the action acts on the matched module
  EXPECT_EQ(r.versions, (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(r.device.at("os_version"), (std::vector<std::string>{"13"}));
  EXPECT_EQ(r.action, RemedyAction::kDisableModule);
}

TEST(RemedyRulesTest, AnythingThatCouldWidenAMatchIsRefused) {
  const std::pair<const char*, const char*> bad[] = {
      {R"({"rules": [{"id": "r", "when": {"os_verison": "13"},
          "action": "count_only"}]})",
       "unknown match key"},
      {R"({"rules": [{"id": "r", "when": {}, "action": "count_only",
          "extra": 1}]})",
       "unknown key"},
      {R"({"rules": [{"id": "r", "action": "count_only"}]})", "needs \"when\""},
      {R"({"rules": [{"id": "r", "when": {}, "action": "disable_module"}]})",
       "needs a module"},
      {R"({"rules": [{"id": "r", "when": {}, "action": "block_update",
          "module": "h5/x"}]})",
       "needs the \"version\""},
      {R"({"rules": [{"id": "r", "when": {"signature": "XYZ"},
          "action": "count_only"}]})",
       "signature id"},
      {R"({"rules": [{"id": "r", "when": {"module": "web/x"},
          "action": "count_only"}]})",
       "unknown layer"},
      {R"({"rules": [{"id": "r", "when": {"unhealthy_launches": 0},
          "action": "count_only"}]})",
       "whole number from 1"},
      {R"({"rules": [{"id": "r", "when": {}, "action": "explode"}]})",
       "needs an \"action\""},
      {R"({"rules": [{"id": "r", "when": {}, "action": "count_only"},
                     {"id": "r", "when": {}, "action": "count_only"}]})",
       "repeats the id"},
      {R"({"rulez": []})", "unknown key"},
      {R"([1])", "not a JSON object"},
  };
  for (const auto& [doc, why] : bad) {
    EXPECT_THAT(ParseRemedyRules(doc),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << doc;
  }
}

TEST(RemedyRulesTest, MatchesOnlyWhenEveryGivenFieldHolds) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::vector<RemedyRule> rules,
      ParseRemedyRules(R"({"rules": [{"id": "r1", "when": {
        "signature": "0123456789abcdef", "module": "h5/mall-home",
        "version": "2", "os_version": ["13", "13.1"]},
        "action": "disable_module"}]})"));
  DeviceInfo device;
  device.os_version = "13.1";
  std::vector<std::string> seen = {"0123456789abcdef"};
  std::string version = "2";
  RemedyFacts facts{&device, &seen, [&](const ModuleKey&) { return version; }};
  EXPECT_TRUE(RemedyMatches(rules[0], facts));
  device.os_version = "14";
  EXPECT_FALSE(RemedyMatches(rules[0], facts));
  device.os_version = "13";
  version = "3";
  EXPECT_FALSE(RemedyMatches(rules[0], facts));
  version = "";  // the module does not run here
  EXPECT_FALSE(RemedyMatches(rules[0], facts));
  version = "2";
  seen.clear();  // this device never had the failure
  EXPECT_FALSE(RemedyMatches(rules[0], facts));
}

constexpr char kPage2[] = "<html>v2 crashes</html>";

class RemedyClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(CreateDirs(fs_, "/app/embedded/h5"), IsOk());
    ASSERT_THAT(WriteFileAtomically(fs_, "/app/embedded/h5/mall-home",
                                    "<html>embedded</html>"),
                IsOk());
    Recreate();
    transport_->blobs[Sha256::HexHash(kPage2)] = kPage2;
  }
  void Recreate() {
    ClientOptions o;
    o.app_id = "wallet";
    o.device.device_id = "d1";
    o.device.os = "android";
    o.device.os_version = os_version_;
    o.storage_dir = "/sdk";
    o.embedded_dir = "/app/embedded";
    o.insecure_skip_signature_verification_for_tests = true;  // not about trust
    o.env = Env{&fs_, &clock_, &random_};
    o.remedy_hooks.clear_app_data = [this] {
      ++clears_;
      return clear_result_;
    };
    ASSERT_THAT(RestartClient(o, &transport_, &client_), IsOk());
  }
  // Serves mall-home 2 and the rules (as config version `rules_version`).
  void ServeRules(const std::string& rules, const std::string& rules_version,
                  uint64_t seq) {
    transport_->Serve({Entry(v1::LAYER_H5, "mall-home", "2", kPage2, 1, false),
                       Entry(v1::LAYER_CONFIG, std::string(kRemediesModule),
                             rules_version, rules, seq, true)});
  }
  // mall-home 2 installed and opened (active): the version that crashes.
  void RunVersion2() {
    transport_->Serve(
        {Entry(v1::LAYER_H5, "mall-home", "2", kPage2, 1, false)});
    ASSERT_THAT(client_->Check(), IsOk());
    ASSERT_EQ(Open(), kPage2);
  }
  std::string Open() {
    absl::StatusOr<std::string> path =
        client_->OpenModule(Layer::kH5, "mall-home");
    if (!path.ok()) return path.status().ToString();
    return *fs_.ReadFile(*path);
  }

  testing::MemFileSystem fs_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
  std::string os_version_ = "13";
  int clears_ = 0;
  absl::Status clear_result_ = absl::OkStatus();
  FakeTransport* transport_ = nullptr;
  std::unique_ptr<Client> client_;
};

constexpr char kDisable13[] = R"({"rules": [{"id": "mall-home-13",
  "when": {"module": "h5/mall-home", "version": "2", "os_version": "13"},
  "action": "disable_module"}]})";

TEST_F(RemedyClientTest, AMatchingRuleDisablesTheModuleOnceAndForAll) {
  RunVersion2();
  ServeRules(kDisable13, "1", 1);
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(r.remedies_applied, (std::vector<std::string>{"mall-home-13"}));
  EXPECT_EQ(client_->DisabledBy(Layer::kH5, "mall-home"),
            std::optional<std::string>("mall-home-13"));
  // Disabled: the embedded version opens instead of 2.
  EXPECT_EQ(Open(), "<html>embedded</html>");
  ASSERT_THAT(client_->FlushReports(), IsOk());
  EXPECT_EQ(transport_->CountReports(v1::ReportEvent::KIND_REMEDY_APPLIED), 1);
  for (const v1::ReportEvent& e : transport_->reports) {
    if (e.kind() != v1::ReportEvent::KIND_REMEDY_APPLIED) continue;
    EXPECT_EQ(e.remedy_id(), "mall-home-13");
    EXPECT_EQ(e.detail(), "disable_module");
    EXPECT_EQ(e.module().name(), "mall-home");
  }
  // Never twice: not at the next check, nor after a power cut and a
  // restart at the next launch.
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_TRUE(r.remedies_applied.empty());
  fs_.DropUnsyncedData();
  Recreate();
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult l, client_->BeginLaunch());
  EXPECT_TRUE(l.remedies_applied.empty());
  EXPECT_EQ(client_->AppliedRemedies(),
            (std::vector<std::string>{"mall-home-13"}));
  EXPECT_EQ(Open(), "<html>embedded</html>");
  ASSERT_THAT(client_->FlushReports(), IsOk());
  EXPECT_EQ(transport_->CountReports(v1::ReportEvent::KIND_REMEDY_APPLIED), 1);
}

TEST_F(RemedyClientTest, ADeviceTheRuleDoesNotMatchKeepsTheModule) {
  os_version_ = "14";
  Recreate();
  RunVersion2();
  ServeRules(kDisable13, "1", 1);
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.remedies_applied.empty());
  EXPECT_FALSE(client_->DisabledBy(Layer::kH5, "mall-home").has_value());
  EXPECT_EQ(Open(), kPage2);
}

TEST_F(RemedyClientTest, ASignatureRuleAppliesAtTheLaunchAfterTheFailure) {
  FailureSignature f;
  f.exception_type = "TypeError";
  f.top_frames = {"at render (home.js:10:3)"};
  f.layer = Layer::kH5;
  f.module = "mall-home";
  STRATA_ASSERT_OK_AND_ASSIGN(const std::string id, FailureSignatureId(f));
  const std::string rules = StrCat(
      R"({"rules": [{"id": "sig-rule", "when": {"signature": ")", id,
      R"("}, "action": "rollback_to_embedded", "module": "h5/mall-home"}]})");
  ServeRules(rules, "1", 1);
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.remedies_applied.empty());  // no such failure here yet
  EXPECT_EQ(Open(), kPage2);
  STRATA_ASSERT_OK_AND_ASSIGN(const std::string reported,
                              client_->ReportFailure(f));
  EXPECT_EQ(reported, id);
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult l, client_->BeginLaunch());
  EXPECT_EQ(l.remedies_applied, (std::vector<std::string>{"sig-rule"}));
  EXPECT_EQ(client_->Installed(Layer::kH5, "mall-home")->version, "embedded");
  ASSERT_THAT(client_->FlushReports(), IsOk());
  int failures = 0;
  for (const v1::ReportEvent& e : transport_->reports) {
    if (e.kind() == v1::ReportEvent::KIND_FAILURE) {
      ++failures;
      EXPECT_EQ(e.failure().signature_id(), id);
      EXPECT_EQ(e.failure().module_version(), "2");  // the active version
    }
    if (e.kind() == v1::ReportEvent::KIND_REMEDY_APPLIED) {
      EXPECT_EQ(e.failure().signature_id(), id);
    }
  }
  EXPECT_EQ(failures, 1);
  // The version rolled back is not installed again.
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_EQ(client_->Installed(Layer::kH5, "mall-home")->version, "embedded");
}

TEST_F(RemedyClientTest, ABlockedVersionIsRefusedWithItsReason) {
  transport_->Serve(
      {Entry(v1::LAYER_CONFIG, std::string(kRemediesModule), "1",
             R"({"rules": [{"id": "no-3", "when": {}, "action": "block_update",
          "module": "h5/mall-home", "version": "3"}]})",
             1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  const std::string page3 = "<html>v3</html>";
  transport_->blobs[Sha256::HexHash(page3)] = page3;
  transport_->Serve({Entry(v1::LAYER_H5, "mall-home", "3", page3, 2, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_BLOCKED_BY_REMEDY);
  EXPECT_THAT(r.failure_details[0].message, HasSubstr("remedy no-3"));
  EXPECT_EQ(client_->Installed(Layer::kH5, "mall-home")->version, "embedded");
}

TEST_F(RemedyClientTest, AFailingHostHookLeavesTheRuleForTheNextLaunch) {
  transport_->Serve(
      {Entry(v1::LAYER_CONFIG, std::string(kRemediesModule), "1",
             R"({"rules": [{"id": "wipe", "when": {"os": "android"},
          "action": "clear_app_data"}]})",
             1, true)});
  clear_result_ = absl::UnavailableError("busy");
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.remedies_applied.empty());
  EXPECT_EQ(clears_, 1);
  clear_result_ = absl::OkStatus();
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult l, client_->BeginLaunch());
  EXPECT_EQ(l.remedies_applied, (std::vector<std::string>{"wipe"}));
  EXPECT_EQ(clears_, 2);
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(l, client_->BeginLaunch());
  EXPECT_EQ(clears_, 2);  // never twice
}

// The super-app's launch-crash fallback as a rule: clear the app's
// non-private data after three failed starts in a row, once.
TEST_F(RemedyClientTest,
       ARuleOnUnhealthyLaunchesClearsDataAfterThreeFailedStarts) {
  transport_->Serve({Entry(
      v1::LAYER_CONFIG, std::string(kRemediesModule), "1",
      R"({"rules": [{"id": "wipe-after-3", "when": {"unhealthy_launches": 3},
          "action": "clear_app_data"}]})",
      1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  // The rules had a healthy launch: a config activated just before a crash
  // loop is the launch guard's suspect and is rolled back, rules included.
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  for (int start = 1; start <= 3; ++start) {
    STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult l, client_->BeginLaunch());
    EXPECT_EQ(l.unhealthy_launches, start - 1);
    EXPECT_TRUE(l.remedies_applied.empty()) << start;
    EXPECT_EQ(clears_, 0);
    Recreate();  // the app dies before MarkLaunchHealthy
  }
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult l, client_->BeginLaunch());
  EXPECT_EQ(l.unhealthy_launches, 3);
  EXPECT_EQ(l.remedies_applied, (std::vector<std::string>{"wipe-after-3"}));
  EXPECT_EQ(clears_, 1);
  Recreate();
  STRATA_ASSERT_OK_AND_ASSIGN(l, client_->BeginLaunch());
  EXPECT_EQ(clears_, 1);  // never twice
}

TEST_F(RemedyClientTest, RulesThatDoNotParseChangeNothingAndSaySo) {
  ServeRules(R"({"rules": [{"id": "r", "when": {"os_verison": "13"},
      "action": "disable_module", "module": "h5/mall-home"}]})",
             "1", 1);
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.remedies_applied.empty());
  EXPECT_THAT(client_->RemedyRulesError(), HasSubstr("os_verison"));
  EXPECT_EQ(Open(), kPage2);
}

TEST_F(RemedyClientTest, AFailureOutOfBoundsIsRefusedAndNothingQueued) {
  const size_t before = client_->PendingReports();
  FailureSignature f;
  f.exception_type = std::string(300, 'E');
  EXPECT_THAT(client_->ReportFailure(f),
              StatusIs(absl::StatusCode::kInvalidArgument));
  FailureSignature empty;
  EXPECT_THAT(client_->ReportFailure(empty),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(client_->PendingReports(), before);
}

}  // namespace
}  // namespace strata::client
