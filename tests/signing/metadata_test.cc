// TUF metadata builders and parsers, the director role, compatibility rules.
#include "strata/signing/metadata.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/signing/compatibility.h"
#include "strata/signing/director.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/signed_metadata.h"
#include "strata/signing/verifier.h"
#include "test_repo.h"

namespace strata::signing {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;
using testing::TestKey;

const absl::Time kExpires = absl::FromUnixSeconds(1'900'000'000);

TEST(MetadataTest, TimeFormat) {
  EXPECT_EQ(FormatTufTime(kExpires), "2030-03-17T17:46:40Z");
  STRATA_ASSERT_OK_AND_ASSIGN(absl::Time t,
                              ParseTufTime("2030-03-17T17:46:40Z"));
  EXPECT_EQ(t, kExpires);
  EXPECT_FALSE(ParseTufTime("2030-03-17T17:46:40").ok());
  EXPECT_FALSE(ParseTufTime("2030-02-30T00:00:00Z").ok());
  EXPECT_FALSE(ParseTufTime("2030-03-17 17:46:40Z").ok());
  EXPECT_FALSE(ParseTufTime("2030-03-17T17:46:40+01:00").ok());
}

TEST(MetadataTest, PathPatternsFollowTufSegments) {
  EXPECT_TRUE(MatchesPathPattern("hotpatch/core@7", "hotpatch/*"));
  EXPECT_FALSE(MatchesPathPattern("hotpatch/a/b", "hotpatch/*"));
  EXPECT_FALSE(MatchesPathPattern("h5/core@7", "hotpatch/*"));
  EXPECT_TRUE(MatchesPathPattern("h5/x.y", "h5/*.?"));
  EXPECT_TRUE(MatchesPathPattern("a/b/c", "*/*/c"));
  EXPECT_FALSE(MatchesPathPattern("hotpatch", "hotpatch/*"));
}

TEST(MetadataTest, NamesAndLayers) {
  EXPECT_EQ(TargetName(Layer::kHotpatch, "core", 7), "hotpatch/core@7");
  EXPECT_EQ(ModuleKey(Layer::kNative, "engine"), "native/engine");
  for (Layer l : kAllLayers) EXPECT_EQ(ParseLayer(LayerName(l)), l);
  EXPECT_EQ(ParseLayer("HOTPATCH"), std::nullopt);
  EXPECT_TRUE(IsValidModuleName("payment.limits"));
  EXPECT_FALSE(IsValidModuleName("a/b"));
  EXPECT_FALSE(IsValidModuleName(".hidden"));
  EXPECT_FALSE(IsValidModuleName(""));
}

TEST(MetadataTest, RootRoundTrip) {
  RootMetadata root;
  root.common.version = 3;
  root.common.expires = kExpires;
  root.app_id = "wallet";
  root.AddKey("root", TestKey(1).public_key());
  root.AddKey("targets", TestKey(2).public_key());
  root.AddKey("snapshot", TestKey(3).public_key());
  root.AddKey("timestamp", TestKey(3).public_key());
  root.AddKey("director", TestKey(4).public_key());
  const Json j = ToJson(root);
  EXPECT_EQ(j.Find("_type")->as_string(), "root");
  EXPECT_EQ(j.Find("expires")->as_string(), "2030-03-17T17:46:40Z");
  STRATA_ASSERT_OK_AND_ASSIGN(RootMetadata back, ParseRoot(j));
  EXPECT_EQ(back.common.version, 3u);
  EXPECT_EQ(back.keys.size(), 4u);
  EXPECT_EQ(back.roles.at("snapshot").keyids, root.roles.at("snapshot").keyids);
  ASSERT_TRUE(back.director.has_value());
  EXPECT_EQ(back.director->keyids, root.director->keyids);
  EXPECT_EQ(back.app_id, "wallet");
  EXPECT_EQ(ToJson(back), j);
}

TEST(MetadataTest, TargetsWithArtifactsAndDelegationsRoundTrip) {
  TargetsMetadata t;
  t.common.expires = kExpires;
  ArtifactInfo a;
  a.app_id = "wallet";
  a.layer = Layer::kHcf;
  a.module = "cashier";
  a.release_counter = 12;
  a.version_label = "2.1.0";
  a.compat.app_version = {"10.0", "11.0"};
  a.compat.runtime_version = {"3.0", ""};
  a.compat.min_sdk_version = "1.2";
  a.deltas.push_back(
      {std::string(64, 'a'), std::string(64, 'b'), 42, "strata-diff/1"});
  t.targets["hcf/cashier@12"] = TargetFileFor("content", a);
  t.targets["hcf/cashier@12"].extra_custom["note"] = "kept";
  t.delegations = LayerDelegations({{Layer::kHotpatch, 2}});
  t.delegations->AddKey("hotpatch", TestKey(5).public_key());
  const Json j = ToJson(t);
  STRATA_ASSERT_OK_AND_ASSIGN(TargetsMetadata back, ParseTargets(j, "targets"));
  const TargetFile& f = back.targets.at("hcf/cashier@12");
  ASSERT_TRUE(f.artifact.has_value());
  EXPECT_EQ(*f.artifact, a);
  EXPECT_EQ(f.extra_custom.Find("note")->as_string(), "kept");
  ASSERT_TRUE(back.delegations.has_value());
  ASSERT_EQ(back.delegations->roles.size(), 5u);
  EXPECT_EQ(back.delegations->roles[3].name, "hotpatch");
  EXPECT_EQ(back.delegations->roles[3].threshold, 2u);
  EXPECT_EQ(back.delegations->roles[3].paths,
            std::vector<std::string>{"hotpatch/*"});
  EXPECT_EQ(ToJson(back), j);
}

TEST(MetadataTest, SnapshotAndTimestampRoundTrip) {
  SnapshotMetadata s;
  s.common.expires = kExpires;
  s.meta["targets.json"] = MetaFileFor("bytes", 4);
  s.meta["h5.json"].version = 2;
  STRATA_ASSERT_OK_AND_ASSIGN(SnapshotMetadata sb, ParseSnapshot(ToJson(s)));
  EXPECT_EQ(sb.meta.at("targets.json").length, 5u);
  EXPECT_EQ(sb.meta.at("h5.json").length, std::nullopt);
  TimestampMetadata ts;
  ts.common.expires = kExpires;
  ts.snapshot = MetaFileFor("snap", 9);
  STRATA_ASSERT_OK_AND_ASSIGN(TimestampMetadata tb, ParseTimestamp(ToJson(ts)));
  EXPECT_EQ(tb.snapshot.version, 9u);
  EXPECT_EQ(tb.snapshot.hashes, ts.snapshot.hashes);
}

// Each mutation of valid targets metadata must fail, naming the field.
struct FieldCase {
  const char* name;
  std::function<void(Json&)> mutate;
  const char* message;
};

TEST(MetadataTest, ParseErrorsNameTheRoleAndField) {
  TargetsMetadata t;
  t.common.expires = kExpires;
  ArtifactInfo a;
  a.app_id = "wallet";
  a.layer = Layer::kHotpatch;
  a.module = "core";
  a.release_counter = 3;
  a.compat.host_build = "b1";
  t.targets["hotpatch/core@3"] = TargetFileFor("x", a);
  t.delegations = LayerDelegations({});
  const Json valid = ToJson(t);
  const std::vector<FieldCase> cases = {
      {"version", [](Json& j) { j["version"] = "3"; },
       "hotpatch metadata: field signed.version must be a integer, got string"},
      {"negative", [](Json& j) { j["version"] = -1; },
       "field signed.version must not be negative"},
      {"zero", [](Json& j) { j["version"] = 0; }, "must be at least 1"},
      {"expires", [](Json& j) { j["expires"] = "tomorrow"; },
       "field signed.expires time 'tomorrow'"},
      {"spec", [](Json& j) { j["spec_version"] = "2.0.0"; },
       "field signed.spec_version"},
      {"length",
       [](Json& j) {
         j["targets"]["hotpatch/core@3"].as_object().erase("length");
       },
       "field signed.targets[hotpatch/core@3].length is missing"},
      {"hash",
       [](Json& j) {
         j["targets"]["hotpatch/core@3"]["hashes"]["sha256"] = "XY";
       },
       "signed.targets[hotpatch/core@3].hashes.sha256 must be a lowercase hex"},
      {"layer",
       [](Json& j) {
         j["targets"]["hotpatch/core@3"]["custom"]["layer"] = "web";
       },
       "signed.targets[hotpatch/core@3].custom.layer \"web\" is not one of"},
      {"host_build",
       [](Json& j) {
         j["targets"]["hotpatch/core@3"]["custom"]["compat"].as_object().erase(
             "host_build");
       },
       "custom.compat.host_build is required for hotpatches"},
      {"threshold",
       [](Json& j) {
         j["delegations"]["roles"].as_array()[0]["threshold"] = 0;
       },
       "signed.delegations.roles[0].threshold must be at least 1"},
      {"unknown_keyid",
       [](Json& j) {
         j["delegations"]["roles"].as_array()[1]["keyids"].Append("feed");
       },
       "signed.delegations.roles[1].keyids names key id feed"},
      {"dup_role",
       [](Json& j) {
         j["delegations"]["roles"].as_array()[1]["name"] = "config";
       },
       "\"config\" is delegated twice"},
      {"role_name",
       [](Json& j) {
         j["delegations"]["roles"].as_array()[1]["name"] = "../x";
       },
       "is not an allowed role name"},
      {"type", [](Json& j) { j["_type"] = "snapshot"; },
       "expected \"targets\""},
  };
  for (const FieldCase& c : cases) {
    SCOPED_TRACE(c.name);
    Json j = valid;
    c.mutate(j);
    absl::StatusOr<TargetsMetadata> parsed = ParseTargets(j, "hotpatch");
    EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr(c.message)));
    EXPECT_TRUE(GetRejectReason(parsed.status()).has_value());
  }
}

TEST(MetadataTest, SignedEnvelopeParsing) {
  EXPECT_THAT(GetRejectReason(SignedMetadata::Parse("[]", "root").status()),
              Optional(RejectReason::kMalformedMetadata));
  EXPECT_THAT(
      SignedMetadata::Parse("{\"signed\":{},\"signatures\":{}}", "snapshot"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("snapshot metadata: field (top level).signatures "
                         "must be a array")));
  EXPECT_THAT(GetRejectReason(
                  SignedMetadata::Parse("{\"signed\":{},\"signatures\":[]}  ",
                                        "timestamp", 10)
                      .status()),
              Optional(RejectReason::kEndlessData));
  SignedMetadata m(Json::MakeObject());
  const PrivateKey k = TestKey(9);
  STRATA_ASSERT_OK(m.Sign(k));
  STRATA_ASSERT_OK(m.Sign(k));  // replaces, does not duplicate
  EXPECT_EQ(m.signatures().size(), 1u);
  STRATA_ASSERT_OK_AND_ASSIGN(SignedMetadata back,
                              SignedMetadata::Parse(m.Serialize(), "x"));
  RoleKeys role{{k.KeyId()}, 1};
  std::map<std::string, PublicKey> keys = {{k.KeyId(), k.public_key()}};
  STRATA_EXPECT_OK(VerifyThreshold(back, keys, role, "x"));
}

TEST(DirectorTest, RoundTripAndAssignment) {
  DirectorMetadata d;
  d.common.expires = kExpires;
  d.app_id = "wallet";
  DirectorAssignment pinned;
  pinned.device_ids = {"dev-9"};
  pinned.modules["h5/home"] = {
      "h5/home@2", 10, {{"sha256", std::string(64, 'a')}}, 2};
  DirectorAssignment half;
  half.buckets = BucketRange{"rel-1", 0, 5000};
  half.modules["h5/home"] = {
      "h5/home@3", 11, {{"sha256", std::string(64, 'b')}}, 3};
  DirectorAssignment rest;
  rest.modules["h5/home"] = {
      "h5/home@1", 9, {{"sha256", std::string(64, 'c')}}, 1};
  d.assignments = {pinned, half, rest};
  STRATA_ASSERT_OK_AND_ASSIGN(DirectorMetadata back, ParseDirector(ToJson(d)));
  EXPECT_EQ(ToJson(back), ToJson(d));
  EXPECT_EQ(
      DirectorTargetsFor(back, "dev-9", "u").at("h5/home").release_counter, 2u);
  int in_half = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string user = "user-" + std::to_string(i);
    const uint64_t counter =
        DirectorTargetsFor(back, "dev", user).at("h5/home").release_counter;
    const bool expected = RolloutBucket(user, "rel-1") < 5000;
    EXPECT_EQ(counter, expected ? 3u : 1u);
    in_half += expected;
  }
  EXPECT_GT(in_half, 900);
  EXPECT_LT(in_half, 1100);
  EXPECT_EQ(RolloutBucket("user-1", "salt"), RolloutBucket("user-1", "salt"));
  EXPECT_LT(RolloutBucket("user-1", "salt"), kBucketCount);

  Json bad = ToJson(d);
  bad["assignments"].as_array()[1]["buckets"]["end"] = 10001;
  EXPECT_THAT(ParseDirector(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("assignments[1].buckets")));
  bad = ToJson(d);
  bad["assignments"].as_array()[0]["modules"]["web/home"] =
      bad["assignments"].as_array()[0]["modules"]["h5/home"];
  EXPECT_THAT(ParseDirector(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("\"web/home\"")));
}

TEST(CompatibilityTest, VersionComparison) {
  EXPECT_EQ(CompareVersions("1.2", "1.2.0"), 0);
  EXPECT_LT(CompareVersions("1.9", "1.10"), 0);
  EXPECT_GT(CompareVersions("10.3.1", "10.3"), 0);
  EXPECT_EQ(CompareVersions("10.3.0+77", "10.3.0+78"), 0);
  EXPECT_LT(CompareVersions("1.0.0-beta", "1.0.1"), 0);
  EXPECT_TRUE(InRange("10.3.0", {"10.3.0", "10.3.0"}));
  EXPECT_TRUE(InRange("5", {"", ""}));
  EXPECT_FALSE(InRange("10.2.9", {"10.3", ""}));
  EXPECT_FALSE(InRange("11.0.1", {"", "11.0"}));
}

TEST(CompatibilityTest, EachRuleHasItsReason) {
  ArtifactInfo a;
  a.app_id = "wallet";
  a.layer = Layer::kHotpatch;
  a.module = "core";
  a.compat.host_build = "b1";
  a.compat.min_sdk_version = "2.0";
  DeviceInfo d;
  d.app_id = "wallet";
  d.host_build = "b1";
  d.sdk_version = "2.1";
  STRATA_EXPECT_OK(CheckCompatibility(a, d, Layer::kHotpatch, "core"));
  d.sdk_version = "1.9";
  EXPECT_THAT(
      GetRejectReason(CheckCompatibility(a, d, Layer::kHotpatch, "core")),
      Optional(RejectReason::kIncompatible));
  d.sdk_version = "2.1";
  EXPECT_THAT(GetRejectReason(CheckCompatibility(a, d, Layer::kNative, "core")),
              Optional(RejectReason::kWrongLayer));
  a.compat.host_build.clear();
  EXPECT_THAT(
      GetRejectReason(CheckCompatibility(a, d, Layer::kHotpatch, "core")),
      Optional(RejectReason::kWrongHostBuild));
}

// Random corruptions of real metadata never crash the parsers (a cheap
// stand-in for a fuzzer; ASan/UBSan builds check memory safety).
TEST(MetadataTest, CorruptedMetadataNeverCrashesTheParsers) {
  testing::TestRepo repo(absl::FromUnixSeconds(1'700'000'000));
  repo.AddArtifact(Layer::kHotpatch, "core", 1, "x");
  repo.Publish();
  strata::testing::FakeRandom random(7);
  constexpr std::string_view kChars = "{}[]\\\",:0-9e";
  size_t parsed = 0;
  for (const char* role :
       {"root", "timestamp", "snapshot", "targets", "hotpatch", "director"}) {
    const std::string original = repo.published(role);
    for (int i = 0; i < 300; ++i) {
      std::string bytes = original;
      const int edits = 1 + static_cast<int>(random.Uniform(4));
      for (int e = 0; e < edits; ++e) {
        const size_t pos = random.Uniform(bytes.size());
        switch (random.Uniform(4)) {
          case 0:
            bytes[pos] = static_cast<char>(random.Uniform(256));
            break;
          case 1:
            bytes.resize(pos);
            break;
          case 2:
            bytes.insert(pos, 1, kChars[random.Uniform(kChars.size())]);
            break;
          default:
            bytes.erase(pos, 1);
        }
        if (bytes.empty()) bytes = "{";
      }
      absl::StatusOr<SignedMetadata> m = SignedMetadata::Parse(bytes, role);
      if (!m.ok()) {
        EXPECT_TRUE(GetRejectReason(m.status()).has_value());
        continue;
      }
      const Json& sp = m->signed_part();
      const std::string r = role;
      absl::Status s = r == "root"        ? ParseRoot(sp).status()
                       : r == "timestamp" ? ParseTimestamp(sp).status()
                       : r == "snapshot"  ? ParseSnapshot(sp).status()
                       : r == "director"  ? ParseDirector(sp).status()
                                          : ParseTargets(sp, r).status();
      if (s.ok()) ++parsed;
    }
  }
  EXPECT_GT(parsed, 0u);  // some mutations hit only signatures or strings
}

}  // namespace
}  // namespace strata::signing
