// The director's release rules: the format (round trip, strict parsing) and
// DirectorChoicesFor, which must make the same choice the server makes with
// rollout::DecideOffer over its live releases, for every device.
#include "strata/signing/director.h"

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/bucketing.h"
#include "strata/rollout/rollout.h"
#include "strata/rollout/segment.h"
#include "strata/rollout/targeting.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/signed_metadata.h"

namespace strata::signing {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const absl::Time kDirectorExpires = absl::FromUnixSeconds(1'900'000'000);

DirectorTarget Target(std::string_view module_key, uint64_t counter) {
  DirectorTarget t;
  t.target = StrCat(module_key, "@", counter);
  t.length = 100 + counter;
  t.hashes["sha256"] = std::string(64, "0123456789abcdef"[counter % 16]);
  t.release_counter = counter;
  return t;
}

// A rollout in a given state, as the server keeps it.
enum class End { kRolling, kPaused, kHalted, kCompleted };
rollout::Rollout MakeRollout(uint64_t id, std::string segment,
                             std::vector<uint32_t> stages, int promotions,
                             End end = End::kRolling, std::string salt = "") {
  rollout::ReleaseSpec spec;
  spec.release_id = id;
  spec.app_id = "wallet";
  spec.segment = std::move(segment);
  spec.salt = std::move(salt);
  spec.artifacts = {{rollout::Layer::kH5, "home", StrCat("1.", id)}};
  spec.plan.stages.clear();
  for (uint32_t bp : stages) spec.plan.stages.push_back({bp, absl::Hours(1)});
  absl::StatusOr<rollout::Rollout> r = rollout::Rollout::Create(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->Start(kT0).ok());
  for (int i = 0; i < promotions; ++i) EXPECT_TRUE(r->Promote(kT0).ok());
  switch (end) {
    case End::kRolling:
      break;
    case End::kPaused:
      EXPECT_TRUE(r->Pause(kT0).ok());
      break;
    case End::kHalted:
      EXPECT_TRUE(r->Halt(kT0).ok());
      break;
    case End::kCompleted:
      while (r->state() != rollout::ReleaseState::kCompleted) {
        EXPECT_TRUE(r->Promote(kT0).ok());
      }
      break;
  }
  return *std::move(r);
}

// One live release as the server holds it.
struct ServerRelease {
  rollout::Rollout rollout;
  std::string segment;
  bool everyone = false;
  std::map<std::string, DirectorTarget> modules;
};

struct Choice {
  uint64_t release_id = 0;
  uint64_t counter = 0;
  bool operator==(const Choice&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Choice& c) {
  return os << "release " << c.release_id << " @" << c.counter;
}

// The server's side, segments by name.
class Server {
 public:
  void AddSegment(std::string name, DirectorSegment s) {
    absl::StatusOr<rollout::UserIdSet> allow =
        rollout::UserIdSet::FromIds(s.allow_user_ids);
    absl::StatusOr<rollout::UserIdSet> deny =
        rollout::UserIdSet::FromIds(s.deny_user_ids);
    absl::StatusOr<rollout::Segment> seg =
        rollout::Segment::Create(name, s.expression, *allow, *deny);
    EXPECT_TRUE(seg.ok()) << seg.status();
    compiled_[name] = std::make_shared<rollout::Segment>(*std::move(seg));
    segments_[std::move(name)] = std::move(s);
  }
  // Newest first, like the server's snapshot.
  std::vector<ServerRelease> releases;

  // Select() of server/core: the first applying release per module.
  std::map<std::string, Choice> Decide(
      const rollout::DeviceAttributes& device,
      const std::map<std::string, uint64_t>& installed) const {
    std::map<std::string, Choice> out;
    for (const ServerRelease& r : releases) {
      bool has = false;
      for (const auto& [key, t] : r.modules) {
        auto it = installed.find(key);
        has |= it != installed.end() && it->second == t.release_counter;
      }
      const bool applies =
          r.everyone ||
          rollout::DecideOffer(r.rollout, *compiled_.at(r.segment),
                               r.rollout.spec().EffectiveSalt(), device, has)
              .applies;
      if (!applies) continue;
      for (const auto& [key, t] : r.modules) {
        out.emplace(key, Choice{r.rollout.release_id(), t.release_counter});
      }
    }
    return out;
  }

  // The director stratad signs for these releases.
  DirectorMetadata Director() const {
    DirectorMetadata d;
    d.common.version = 3;
    d.common.expires = kDirectorExpires;
    d.app_id = "wallet";
    d.segments = segments_;
    for (const ServerRelease& r : releases) {
      DirectorAssignment a;
      a.release = DirectorRelease{rollout::RuleOf(r.rollout), r.segment,
                                  r.rollout.spec().EffectiveSalt(), r.everyone};
      a.modules = r.modules;
      d.assignments.push_back(std::move(a));
    }
    return d;
  }

 private:
  std::map<std::string, DirectorSegment> segments_;
  std::map<std::string, std::shared_ptr<const rollout::Segment>> compiled_;
};

// What the device does with the signed bytes: parse, then choose.
std::map<std::string, Choice> DeviceChoices(
    const DirectorMetadata& director, const rollout::DeviceAttributes& device,
    const std::map<std::string, uint64_t>& installed) {
  std::map<std::string, Choice> out;
  for (const auto& [key, c] : DirectorChoicesFor(director, device, installed)) {
    out[key] = Choice{c.release_id, c.target.release_counter};
  }
  return out;
}

DirectorMetadata ParseBack(const DirectorMetadata& d) {
  absl::StatusOr<SignedMetadata> m =
      SignedMetadata::Parse(SignedMetadata(ToJson(d)).Serialize(), "director");
  EXPECT_TRUE(m.ok()) << m.status();
  absl::StatusOr<DirectorMetadata> back = ParseDirector(m->signed_part());
  EXPECT_TRUE(back.ok()) << back.status();
  return back.ok() ? *std::move(back) : DirectorMetadata();
}

// A user id whose bucket under `salt` falls in [lo, hi).
std::string UserInBuckets(std::string_view salt, uint32_t lo, uint32_t hi,
                          std::string_view prefix = "u") {
  for (int i = 0;; ++i) {
    std::string id = StrCat(prefix, i);
    const uint32_t b = rollout::BucketOf(salt, id);
    if (b >= lo && b < hi) return id;
  }
}

rollout::DeviceAttributes Device(std::string user, std::string os = "android",
                                 std::string device_id = "dev-1") {
  rollout::DeviceAttributes d;
  d.user_id = std::move(user);
  d.device_id = std::move(device_id);
  d.os = std::move(os);
  d.app_version = "10.3.0";
  return d;
}

DirectorSegment Seg(std::string expression, std::vector<std::string> allow = {},
                    std::vector<std::string> deny = {}) {
  return DirectorSegment{std::move(expression), std::move(allow),
                         std::move(deny)};
}

// A director with every kind of assignment.
DirectorMetadata FullDirector() {
  DirectorMetadata d;
  d.common.version = 12;
  d.common.expires = kDirectorExpires;
  d.app_id = "wallet";
  d.segments["android"] = Seg(R"(os == "android" && app_version >= "10.3.0")",
                              {"tester-1"}, {"banned-1", "banned-2"});
  d.segments["everyone"] = Seg("true");
  DirectorAssignment pinned;
  pinned.device_ids = {"dev-9"};
  pinned.modules["hotpatch/core"] = Target("hotpatch/core", 9);
  DirectorAssignment rel;
  rel.release = DirectorRelease{{7, 500, true, true}, "android", "release-7"};
  rel.modules["h5/home"] = Target("h5/home", 4);
  rel.modules["config/limits"] = Target("config/limits", 2);
  DirectorAssignment all;
  all.release = DirectorRelease{
      {5, 10000, true, true}, "everyone", "release-5", /*everyone=*/true};
  all.modules["h5/home"] = Target("h5/home", 3);
  DirectorAssignment half;
  half.buckets = BucketRange{"rel-1", 0, 5000};
  half.modules["native/engine"] = Target("native/engine", 2);
  d.assignments = {pinned, rel, all, half};
  return d;
}

// ---- format ----

TEST(DirectorFormatTest, SegmentsAndReleasesRoundTrip) {
  const DirectorMetadata d = FullDirector();
  const Json j = ToJson(d);
  // The documented shape.
  Json copy = j;
  Json& r = copy["assignments"].as_array()[1]["release"];
  EXPECT_EQ(r["id"].as_int(), 7);
  EXPECT_EQ(r["segment"].as_string(), "android");
  EXPECT_EQ(r["salt"].as_string(), "release-7");
  EXPECT_EQ(r["exposure_bp"].as_int(), 500);
  EXPECT_TRUE(r["accepts_new"].as_bool());
  EXPECT_TRUE(r["keeps_installed"].as_bool());
  EXPECT_FALSE(r["everyone"].as_bool());
  EXPECT_EQ(r.as_object().size(), 7u);
  EXPECT_EQ(j.Find("segments")
                ->Find("android")
                ->Find("deny_user_ids")
                ->as_array()
                .size(),
            2u);
  EXPECT_EQ(j.Find("assignments")->as_array()[1].Find("device_ids"), nullptr);

  const DirectorMetadata back = ParseBack(d);
  EXPECT_TRUE(SameDirectorContent(back, d));
  EXPECT_EQ(ToJson(back), j);
  EXPECT_EQ(SignedMetadata(ToJson(back)).Serialize(),
            SignedMetadata(j).Serialize());
  ASSERT_EQ(back.compiled.size(), 2u);
  EXPECT_EQ(back.compiled.at("android")->name(), "android");
  EXPECT_TRUE(back.compiled.at("android")->allow().Contains("tester-1"));
  EXPECT_TRUE(back.compiled.at("android")->deny().Contains("banned-2"));
  ASSERT_TRUE(back.assignments[1].release.has_value());
  EXPECT_EQ(back.assignments[1].release->rule.release_id, 7u);
  EXPECT_TRUE(back.assignments[2].release->everyone);

  // Changing any field breaks equality.
  DirectorMetadata other = d;
  other.assignments[1].release->rule.exposure_bp = 501;
  EXPECT_FALSE(SameDirectorContent(other, d));
  other = d;
  other.segments["android"].deny_user_ids.pop_back();
  EXPECT_FALSE(SameDirectorContent(other, d));
}

TEST(DirectorFormatTest, OldFormatHasNoSegmentsMember) {
  DirectorMetadata d = FullDirector();
  d.segments.clear();
  d.assignments = {d.assignments[0], d.assignments[3]};
  const Json j = ToJson(d);
  EXPECT_EQ(j.Find("segments"), nullptr);
  const DirectorMetadata back = ParseBack(d);
  EXPECT_TRUE(SameDirectorContent(back, d));
  EXPECT_TRUE(back.compiled.empty());
}

TEST(DirectorFormatTest, CompileInMemory) {
  DirectorMetadata d = FullDirector();
  EXPECT_TRUE(d.compiled.empty());
  STRATA_ASSERT_OK(CompileDirectorSegments(d));
  EXPECT_EQ(d.compiled.size(), 2u);
  // A bad expression names the segment and leaves `compiled` as it was.
  d.segments["broken"] = Seg("os == ");
  absl::Status s = CompileDirectorSegments(d);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("segment 'broken'")));
  EXPECT_THAT(GetRejectReason(s), Optional(RejectReason::kMalformedMetadata));
  EXPECT_EQ(d.compiled.size(), 2u);
  d.segments.erase("broken");
  // A release naming an unlisted segment.
  d.assignments[1].release->segment = "ios";
  EXPECT_THAT(
      CompileDirectorSegments(d),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment 'ios'")));
}

// Each case edits the JSON of FullDirector(); the parser must refuse it with
// MALFORMED_METADATA and a message naming what is wrong.
struct MalformedCase {
  std::string name;
  std::function<void(Json&)> edit;
  std::string message;
};

TEST(DirectorFormatTest, MalformedReleaseRulesAreRefused) {
  auto release = [](Json& j) -> Json& {
    return j["assignments"].as_array()[1]["release"];
  };
  auto android = [](Json& j) -> Json& { return j["segments"]["android"]; };
  const std::vector<MalformedCase> cases = {
      {"bad expression",
       [&](Json& j) { android(j)["expression"] = "os == == 1"; },
       "segment 'android'"},
      {"expression not a string",
       [&](Json& j) { android(j)["expression"] = 3; }, "expression"},
      {"missing expression",
       [&](Json& j) { android(j).as_object().erase("expression"); },
       "expression"},
      {"unknown segment", [&](Json& j) { release(j)["segment"] = "ios"; },
       "\"ios\""},
      {"segment dropped",
       [&](Json& j) { j["segments"].as_object().erase("android"); },
       "\"android\""},
      {"exposure above 100%",
       [&](Json& j) { release(j)["exposure_bp"] = 10001; }, "exposure_bp"},
      {"negative exposure", [&](Json& j) { release(j)["exposure_bp"] = -1; },
       "exposure_bp"},
      {"exposure as string",
       [&](Json& j) { release(j)["exposure_bp"] = "500"; }, "exposure_bp"},
      {"device_ids and release",
       [&](Json& j) {
         Json ids = Json::MakeArray();
         ids.Append("dev-1");
         j["assignments"].as_array()[1]["device_ids"] = std::move(ids);
       },
       "device_ids"},
      {"buckets and release",
       [&](Json& j) {
         Json& b = j["assignments"].as_array()[1]["buckets"];
         b["salt"] = "s";
         b["begin"] = 0;
         b["end"] = 10;
       },
       "buckets"},
      {"accepts_new not a bool",
       [&](Json& j) { release(j)["accepts_new"] = 1; }, "accepts_new"},
      {"missing keeps_installed",
       [&](Json& j) { release(j).as_object().erase("keeps_installed"); },
       "keeps_installed"},
      {"missing everyone",
       [&](Json& j) { release(j).as_object().erase("everyone"); }, "everyone"},
      {"release id 0", [&](Json& j) { release(j)["id"] = 0; }, "id"},
      {"empty salt", [&](Json& j) { release(j)["salt"] = ""; }, "salt"},
      {"release not an object",
       [&](Json& j) { j["assignments"].as_array()[1]["release"] = "7"; },
       "release"},
      {"segments not an object",
       [&](Json& j) { j["segments"] = Json::MakeArray(); }, "segments"},
      {"segment not an object", [&](Json& j) { android(j) = 1; }, "android"},
      {"user id not a string",
       [&](Json& j) { android(j)["allow_user_ids"].Append(5); },
       "allow_user_ids"},
      {"user id with a space",
       [&](Json& j) { android(j)["deny_user_ids"].Append("a b"); },
       "deny_user_ids"},
      {"comment-like user id",
       [&](Json& j) { android(j)["deny_user_ids"].Append("#x"); },
       "deny_user_ids"},
      {"empty user id",
       [&](Json& j) { android(j)["allow_user_ids"].Append(""); },
       "allow_user_ids"},
      {"bad segment name",
       [&](Json& j) {
         j["segments"]["bad name"] = android(j);
         release(j)["segment"] = "bad name";
       },
       "bad name"},
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.name);
    Json j = ToJson(FullDirector());
    c.edit(j);
    absl::StatusOr<DirectorMetadata> d = ParseDirector(j);
    EXPECT_THAT(
        d, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
    EXPECT_THAT(GetRejectReason(d.status()),
                Optional(RejectReason::kMalformedMetadata));
  }
}

TEST(DirectorFormatTest, TheFuzzSeedWithReleaseRulesParses) {
  std::ifstream in(
      StrCat(STRATA_TEST_SOURCE_DIR,
             "/signing/fuzz/seeds/metadata/director-release.json"));
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  STRATA_ASSERT_OK_AND_ASSIGN(SignedMetadata m,
                              SignedMetadata::Parse(bytes, "director"));
  STRATA_ASSERT_OK_AND_ASSIGN(DirectorMetadata d,
                              ParseDirector(m.signed_part()));
  EXPECT_EQ(d.assignments.size(), 2u);
  EXPECT_EQ(d.compiled.size(), 2u);
}

// ---- choices ----

TEST(DirectorChoiceTest, OldStyleAssignmentsKeepTheirMeaning) {
  const DirectorMetadata d = ParseBack(FullDirector());
  // dev-9 is pinned to hotpatch/core@9; others get nothing of it.
  auto pinned = DirectorChoicesFor(d, Device("x", "ios", "dev-9"), {});
  ASSERT_TRUE(pinned.count("hotpatch/core"));
  EXPECT_EQ(pinned.at("hotpatch/core").target.release_counter, 9u);
  EXPECT_EQ(pinned.at("hotpatch/core").release_id, 0u);
  EXPECT_FALSE(DirectorChoicesFor(d, Device("x"), {}).count("hotpatch/core"));
  // Buckets hash the user id, else the device id.
  for (int i = 0; i < 300; ++i) {
    const std::string user = StrCat("user-", i);
    const bool in = RolloutBucket(user, "rel-1") < 5000;
    EXPECT_EQ(
        DirectorChoicesFor(d, Device(user, "ios"), {}).count("native/engine"),
        in ? 1u : 0u);
    const std::string dev = StrCat("dev-", i);
    EXPECT_EQ(DirectorChoicesFor(d, Device("", "ios", dev), {})
                  .count("native/engine"),
              RolloutBucket(dev, "rel-1") < 5000 ? 1u : 0u);
  }
  // The old entry point agrees.
  EXPECT_EQ(DirectorTargetsFor(d, "dev-9", "x").at("hotpatch/core"),
            Target("hotpatch/core", 9));
}

TEST(DirectorChoiceTest, EveryoneAppliesWithoutEvaluation) {
  DirectorMetadata d = ParseBack(FullDirector());
  // Release 5 is for everyone: even a device its segment would not match
  // gets it (the rule is not evaluated).
  d.segments["everyone"] = Seg("false");
  STRATA_ASSERT_OK(CompileDirectorSegments(d));
  auto c = DirectorChoicesFor(d, Device("nobody", "ios"), {});
  ASSERT_TRUE(c.count("h5/home"));
  EXPECT_EQ(c.at("h5/home").release_id, 5u);
  EXPECT_EQ(c.at("h5/home").target.release_counter, 3u);
}

TEST(DirectorChoiceTest, InMemoryDirectorWithoutCompileStillDecides) {
  const DirectorMetadata in_memory = FullDirector();  // compiled is empty
  const DirectorMetadata parsed = ParseBack(in_memory);
  for (int i = 0; i < 500; ++i) {
    const rollout::DeviceAttributes dev =
        Device(StrCat("u", i), i % 3 ? "android" : "ios");
    EXPECT_EQ(DeviceChoices(in_memory, dev, {}), DeviceChoices(parsed, dev, {}))
        << dev.user_id;
  }
  // A segment that does not compile selects nobody (fail closed).
  DirectorMetadata broken = in_memory;
  broken.segments["android"].expression = "os ==";
  const std::string treated = UserInBuckets("release-7", 0, 500);
  EXPECT_EQ(
      DirectorChoicesFor(broken, Device(treated), {}).at("h5/home").release_id,
      5u);
  EXPECT_EQ(DirectorChoicesFor(in_memory, Device(treated), {})
                .at("h5/home")
                .release_id,
            7u);
}

// The scenarios of a release's life, each against the server's decision.
class ReleaseScenarioTest : public ::testing::Test {
 protected:
  ReleaseScenarioTest() {
    server_.AddSegment("everyone", Seg("true"));
    server_.AddSegment("android",
                       Seg(R"(os == "android")", {"tester-1"}, {"banned-1"}));
  }

  ServerRelease Release(rollout::Rollout r, std::string segment,
                        uint64_t counter, bool everyone = false) {
    ServerRelease s{std::move(r), std::move(segment), everyone, {}};
    s.modules["h5/home"] = Target("h5/home", counter);
    return s;
  }

  // The device's choice for h5/home, checked against the server's.
  std::optional<Choice> Check(
      const rollout::DeviceAttributes& device,
      const std::map<std::string, uint64_t>& installed) {
    const DirectorMetadata director = ParseBack(server_.Director());
    const std::map<std::string, Choice> device_side =
        DeviceChoices(director, device, installed);
    EXPECT_EQ(device_side, server_.Decide(device, installed))
        << "user " << device.user_id;
    auto it = device_side.find("h5/home");
    if (it == device_side.end()) return std::nullopt;
    return it->second;
  }

  Server server_;
};

TEST_F(ReleaseScenarioTest, InstalledKeepsAPausedOrHaltedRelease) {
  // Release 7 at 1%, paused.
  server_.releases = {Release(
      MakeRollout(7, "android", {100, 10000}, 0, End::kPaused), "android", 4)};
  const std::string outside = UserInBuckets("release-7", 100, 9000);
  const std::string treated = UserInBuckets("release-7", 0, 100);
  EXPECT_EQ(Check(Device(outside), {}), std::nullopt);
  EXPECT_EQ(Check(Device(outside), {{"h5/home", 4}}), (Choice{7, 4}));
  // Paused still takes new devices in its buckets.
  EXPECT_EQ(Check(Device(treated), {}), (Choice{7, 4}));
  // Installed at another counter is not installed.
  EXPECT_EQ(Check(Device(outside), {{"h5/home", 3}}), std::nullopt);

  // Halted: only devices that have it keep it.
  server_.releases = {Release(
      MakeRollout(7, "android", {100, 10000}, 0, End::kHalted), "android", 4)};
  EXPECT_EQ(Check(Device(treated), {}), std::nullopt);
  EXPECT_EQ(Check(Device(outside), {{"h5/home", 4}}), (Choice{7, 4}));
  // Even off the segment (an ios device that has it keeps it).
  EXPECT_EQ(Check(Device(outside, "ios"), {{"h5/home", 4}}), (Choice{7, 4}));
}

TEST_F(ReleaseScenarioTest, RolledForwardReleaseWinsForTreatmentOnly) {
  // Release 8 (10%) rolls forward over release 7 (completed for everyone).
  server_.releases = {
      Release(MakeRollout(8, "everyone", {1000, 10000}, 0), "everyone", 5),
      Release(MakeRollout(7, "everyone", {100, 10000}, 0, End::kCompleted),
              "everyone", 4, /*everyone=*/true)};
  const std::string treated = UserInBuckets("release-8", 0, 1000);
  const std::string control = UserInBuckets("release-8", 9000, 10000);
  const std::string outside = UserInBuckets("release-8", 1000, 9000);
  EXPECT_EQ(Check(Device(treated), {{"h5/home", 4}}), (Choice{8, 5}));
  EXPECT_EQ(Check(Device(control), {{"h5/home", 4}}), (Choice{7, 4}));
  EXPECT_EQ(Check(Device(outside), {}), (Choice{7, 4}));
  // A treatment device that installed 8 keeps it.
  EXPECT_EQ(Check(Device(treated), {{"h5/home", 5}}), (Choice{8, 5}));

  // The same with 7 completed on a segment (evaluated, not `everyone`).
  server_.releases[1] =
      Release(MakeRollout(7, "android", {100, 10000}, 0, End::kCompleted),
              "android", 4);
  EXPECT_EQ(Check(Device(control), {}), (Choice{7, 4}));
  EXPECT_EQ(Check(Device(control, "ios"), {}), std::nullopt);
  EXPECT_EQ(Check(Device(treated, "ios"), {}), (Choice{8, 5}));
}

TEST_F(ReleaseScenarioTest, DenyListAndAllowList) {
  server_.releases = {
      Release(MakeRollout(9, "android", {100, 10000}, 0), "android", 6),
      Release(MakeRollout(3, "everyone", {10000}, 0, End::kCompleted),
              "everyone", 2, /*everyone=*/true)};
  // Deny wins even in the treatment buckets: falls through to release 3.
  ASSERT_LT(rollout::BucketOf("release-9", "banned-1"), 10000u);
  EXPECT_EQ(Check(Device("banned-1"), {}), (Choice{3, 2}));
  // The allow list bypasses expression and buckets while the release takes
  // new devices.
  const uint32_t tester_bucket = rollout::BucketOf("release-9", "tester-1");
  EXPECT_GE(tester_bucket, 100u) << "pick a tester outside the 1%";
  EXPECT_EQ(Check(Device("tester-1", "ios"), {}), (Choice{9, 6}));
  // ...but not once halted.
  server_.releases[0] = Release(
      MakeRollout(9, "android", {100, 10000}, 0, End::kHalted), "android", 6);
  EXPECT_EQ(Check(Device("tester-1", "ios"), {}), (Choice{3, 2}));
  // Signed-out devices are on no list; they bucket by device id.
  EXPECT_EQ(Check(Device("", "ios", "dev-77"), {}), (Choice{3, 2}));
}

// Many random devices and installed states against several release lists.
TEST(DirectorChoiceFuzzTest, DeviceChoiceEqualsServerDecision) {
  std::mt19937_64 rng(20240612);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::vector<std::string> allow = {"vip-1", "vip-2", "vip-3"};
  const std::vector<std::string> deny = {"bad-1", "bad-2", "vip-3"};

  std::vector<Server> servers(4);
  for (Server& s : servers) {
    s.AddSegment("everyone", Seg("true"));
    s.AddSegment("android", Seg(R"(os == "android")", allow, deny));
    s.AddSegment(
        "new-app",
        Seg(R"(app_version >= "10.3.0" && region != "CN-31")", {}, {"bad-1"}));
  }
  auto release = [](rollout::Rollout r, std::string segment,
                    std::vector<std::pair<std::string, uint64_t>> modules,
                    bool everyone = false) {
    ServerRelease s{std::move(r), std::move(segment), everyone, {}};
    for (const auto& [key, counter] : modules) {
      s.modules[key] = Target(key, counter);
    }
    return s;
  };
  const std::vector<uint32_t> plan = {100, 500, 2000, 5000, 10000};
  // 0: one module, rolling forward over a completed release.
  servers[0].releases = {
      release(MakeRollout(12, "android", plan, 2), "android", {{"h5/home", 5}}),
      release(MakeRollout(11, "everyone", plan, 0, End::kCompleted), "everyone",
              {{"h5/home", 4}}, true)};
  // 1: several states and a multi-module release sharing a salt.
  servers[1].releases = {
      release(MakeRollout(25, "new-app", plan, 3, End::kRolling, "canary"),
              "new-app", {{"h5/home", 9}, {"config/limits", 3}}),
      release(MakeRollout(24, "android", plan, 1, End::kPaused), "android",
              {{"h5/home", 8}}),
      release(MakeRollout(23, "everyone", plan, 2, End::kHalted), "everyone",
              {{"h5/home", 7}, {"hotpatch/core", 2}}),
      release(MakeRollout(22, "android", plan, 0, End::kCompleted), "android",
              {{"h5/home", 6}}),
      release(MakeRollout(21, "new-app", plan, 4, End::kRolling, "canary"),
              "new-app", {{"config/limits", 2}})};
  // 2: completed on an evaluated segment over a completed for-everyone one.
  servers[2].releases = {
      release(MakeRollout(31, "new-app", plan, 0, End::kCompleted), "new-app",
              {{"hcf/cashier", 3}}),
      release(MakeRollout(30, "everyone", plan, 0, End::kCompleted), "everyone",
              {{"hcf/cashier", 2}}, true)};
  // 3: a single halted release at 50%.
  servers[3].releases = {
      release(MakeRollout(40, "android", plan, 3, End::kHalted), "android",
              {{"native/engine", 1}})};

  const std::vector<std::string> oses = {"android", "ios", ""};
  const std::vector<std::string> versions = {"10.2.9", "10.3.0", "11.0", ""};
  const std::vector<std::string> regions = {"CN-31", "US-CA", ""};
  size_t applied = 0, total = 0;
  for (const Server& server : servers) {
    const DirectorMetadata director = ParseBack(server.Director());
    // Every counter some release of the list names, by module.
    std::map<std::string, std::vector<uint64_t>> counters;
    for (const ServerRelease& r : server.releases) {
      for (const auto& [key, t] : r.modules) {
        counters[key].push_back(t.release_counter);
      }
    }
    for (int i = 0; i < 3000; ++i) {
      rollout::DeviceAttributes d;
      d.device_id = StrCat("dev-", rng() % 100000);
      switch (pick(10)) {
        case 0:
          break;  // signed out
        case 1:
          d.user_id = allow[pick(allow.size())];
          break;
        case 2:
          d.user_id = deny[pick(deny.size())];
          break;
        default:
          d.user_id = StrCat("user-", rng() % 1000000);
      }
      d.os = oses[pick(oses.size())];
      d.app_version = versions[pick(versions.size())];
      d.region = regions[pick(regions.size())];
      std::map<std::string, uint64_t> installed;
      for (const auto& [key, list] : counters) {
        const size_t k = pick(list.size() + 2);
        if (k < list.size()) installed[key] = list[k];
        if (k == list.size()) installed[key] = 1000;  // something else
      }
      const auto expected = server.Decide(d, installed);
      const auto got = DeviceChoices(director, d, installed);
      ASSERT_EQ(got, expected) << "device " << d.device_id << " user "
                               << d.user_id << " os " << d.os;
      applied += got.size();
      ++total;
    }
  }
  // The lists must exercise both outcomes.
  EXPECT_GT(applied, total / 4);
  EXPECT_LT(applied, total * 3);
}

}  // namespace
}  // namespace strata::signing
