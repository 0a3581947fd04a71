// The verifier with the director's release rules: resolution through a full
// signed repository, director key rotation, the trusted files and versions
// the SDK sends and serves, and thresholds counted by distinct keys.
#include <stdlib.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/bucketing.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/verifier.h"
#include "test_repo.h"

namespace strata::signing {
namespace {

using ::strata::testing::MemFileSystem;
using ::strata::testing::SimulatedClock;
using ::strata::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Optional;
using ::testing::Pair;
using testing::TestKey;
using testing::TestRepo;

// A user id whose bucket under `salt` falls in [lo, hi).
std::string UserInRange(std::string_view salt, uint32_t lo, uint32_t hi) {
  for (int i = 0;; ++i) {
    std::string id = StrCat("user-", i);
    const uint32_t b = rollout::BucketOf(salt, id);
    if (b >= lo && b < hi) return id;
  }
}

// Files the repository sent, then the verifier's trusted copies: what the
// SDK builds from a Check response.
class FallbackSource : public MetadataSource {
 public:
  FallbackSource(MetadataSource* fresh, const Verifier* verifier)
      : fresh_(fresh), verifier_(verifier) {}
  absl::StatusOr<std::string> Fetch(const FetchRequest& request) override {
    absl::StatusOr<std::string> got = fresh_->Fetch(request);
    if (!absl::IsNotFound(got.status())) return got;
    std::optional<std::string> trusted =
        verifier_->TrustedFile(request.FileName());
    if (!trusted.has_value()) return got;
    ++served_from_trust;
    return *trusted;
  }
  int served_from_trust = 0;

 private:
  MetadataSource* fresh_;
  const Verifier* verifier_;
};

class VerifierReleaseTest : public ::testing::Test {
 protected:
  VerifierReleaseTest() : repo_(clock_.Now()) {
    h5_old_ = repo_.AddArtifact(Layer::kH5, "mall-home", 3, "h5 bundle v3");
    h5_new_ = repo_.AddArtifact(Layer::kH5, "mall-home", 4, "h5 bundle v4");
    limits_ = repo_.AddArtifact(Layer::kConfig, "limits", 2, "limits=2");
    repo_.director.segments["everyone"] = {"true", {}, {}};
    repo_.director.segments["android"] = {
        R"(os == "android")", {"tester-1"}, {"banned-1"}};
    // Release 2 (50% of android) over release 1 (completed, everyone).
    repo_.director.assignments.clear();
    repo_.director.assignments.push_back(
        ReleaseAssignment(2, "android", 5000, true, true, {h5_new_, limits_}));
    repo_.director.assignments.push_back(ReleaseAssignment(
        1, "everyone", 10000, true, true, {h5_old_}, /*everyone=*/true));
    repo_.Publish();
  }

  DirectorAssignment ReleaseAssignment(uint64_t id, std::string segment,
                                       uint32_t exposure, bool accepts_new,
                                       bool keeps,
                                       const std::vector<std::string>& targets,
                                       bool everyone = false) {
    DirectorAssignment a;
    a.release = DirectorRelease{{id, exposure, accepts_new, keeps},
                                std::move(segment),
                                StrCat("release-", id),
                                everyone};
    for (const std::string& t : targets) {
      const std::string role(t.substr(0, t.find('/')));
      const TargetFile& file = repo_.delegated.at(role).targets.at(t);
      a.modules[ModuleKey(file.artifact->layer, file.artifact->module)] =
          DirectorTargetFor(t, file);
    }
    return a;
  }

  Env env() {
    Env e;
    e.fs = &fs_;
    e.clock = &clock_;
    return e;
  }

  std::unique_ptr<Verifier> Open(std::string dir = "/state") {
    VerifierOptions o;
    o.state_dir = std::move(dir);
    o.pinned_root = repo_.pinned_root();
    absl::StatusOr<std::unique_ptr<Verifier>> v = Verifier::Open(env(), o);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  }

  std::unique_ptr<Verifier> OpenRefreshed(std::string dir = "/state") {
    std::unique_ptr<Verifier> v = Open(std::move(dir));
    absl::Status s = v->Refresh(repo_.source);
    EXPECT_TRUE(s.ok()) << s;
    return v;
  }

  // The device as the SDK describes it: attributes for segments, ids in the
  // DeviceInfo fields only.
  DeviceInfo Device(std::string user, std::string os = "android") {
    DeviceInfo d = repo_.Device();
    d.user_id = std::move(user);
    d.attributes.os = std::move(os);
    return d;
  }

  void ExpectRefreshRejected(Verifier& v, RejectReason reason) {
    const TrustedVersionsInfo before = v.TrustedVersions();
    const absl::StatusOr<std::string> file = fs_.ReadFile(v.StatePath());
    const absl::Status s = v.Refresh(repo_.source);
    if (getenv("STRATA_VERBOSE") != nullptr) std::cerr << s << "\n";
    EXPECT_THAT(GetRejectReason(s), Optional(reason))
        << "got " << s << " expected " << RejectReasonName(reason);
    EXPECT_EQ(v.TrustedVersions(), before);
    const absl::StatusOr<std::string> after = fs_.ReadFile(v.StatePath());
    EXPECT_EQ(file.ok(), after.ok());
    if (file.ok() && after.ok()) {
      EXPECT_EQ(*file, *after);
    }
  }

  SimulatedClock clock_;
  MemFileSystem fs_;
  TestRepo repo_;
  std::string h5_old_, h5_new_, limits_;
};

// ---- resolution by release rules ----

TEST_F(VerifierReleaseTest, ResolvesByTheReleaseRules) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  const std::string treated = UserInRange("release-2", 0, 5000);
  const std::string control = UserInRange("release-2", 5000, 10000);

  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget t,
      v->ResolveModule(Device(treated), Layer::kH5, "mall-home"));
  EXPECT_EQ(t.name, h5_new_);
  EXPECT_EQ(t.release_id, 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget c,
      v->ResolveModule(Device(treated), Layer::kConfig, "limits"));
  EXPECT_EQ(c.name, limits_);
  EXPECT_EQ(c.release_id, 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<VerifiedTarget> all,
                              v->ResolveAll(Device(treated)));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, limits_);
  EXPECT_EQ(all[1].name, h5_new_);

  // Outside the 50%, or not android: release 1 for h5, nothing for config.
  for (const DeviceInfo& d : {Device(control), Device(treated, "ios")}) {
    STRATA_ASSERT_OK_AND_ASSIGN(VerifiedTarget old,
                                v->ResolveModule(d, Layer::kH5, "mall-home"));
    EXPECT_EQ(old.name, h5_old_);
    EXPECT_EQ(old.release_id, 1u);
    EXPECT_THAT(v->ResolveModule(d, Layer::kConfig, "limits"),
                StatusIs(absl::StatusCode::kNotFound));
    STRATA_ASSERT_OK_AND_ASSIGN(std::vector<VerifiedTarget> just_h5,
                                v->ResolveAll(d));
    ASSERT_EQ(just_h5.size(), 1u);
    EXPECT_EQ(just_h5[0].name, h5_old_);
  }
  // Deny list and allow list.
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget banned,
      v->ResolveModule(Device("banned-1"), Layer::kH5, "mall-home"));
  EXPECT_EQ(banned.release_id, 1u);
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget tester,
      v->ResolveModule(Device("tester-1", "ios"), Layer::kH5, "mall-home"));
  EXPECT_EQ(tester.release_id, 2u);

  // Attributes that carry their own ids win over the DeviceInfo fields.
  DeviceInfo d = Device(control);
  d.attributes.user_id = treated;
  STRATA_ASSERT_OK_AND_ASSIGN(VerifiedTarget by_attr,
                              v->ResolveModule(d, Layer::kH5, "mall-home"));
  EXPECT_EQ(by_attr.release_id, 2u);
  // Signed out: bucketed by the device id.
  DeviceInfo signed_out = Device("");
  signed_out.device_id = UserInRange("release-2", 0, 5000);
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget by_device,
      v->ResolveModule(signed_out, Layer::kH5, "mall-home"));
  EXPECT_EQ(by_device.release_id, 2u);
}

TEST_F(VerifierReleaseTest, InstalledKeepsAHaltedReleaseAcrossRefreshes) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  const std::string treated = UserInRange("release-2", 0, 5000);
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget t,
      v->ResolveModule(Device(treated), Layer::kH5, "mall-home"));
  STRATA_ASSERT_OK(v->MarkInstalled(t));

  // Release 2 is halted: new devices no longer get it, this one keeps it.
  repo_.BumpVersions();
  repo_.director.assignments[0] =
      ReleaseAssignment(2, "android", 5000, false, true, {h5_new_, limits_});
  repo_.Publish();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget kept,
      v->ResolveModule(Device(treated), Layer::kH5, "mall-home"));
  EXPECT_EQ(kept.name, h5_new_);
  EXPECT_EQ(kept.release_id, 2u);
  // ...and so does the release's other module, whatever its own state.
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget config,
      v->ResolveModule(Device(treated), Layer::kConfig, "limits"));
  EXPECT_EQ(config.release_id, 2u);
  // Another treatment device without it falls through to release 1; a second
  // verifier has nothing installed.
  std::unique_ptr<Verifier> fresh = OpenRefreshed("/other");
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget other,
      fresh->ResolveModule(Device(treated), Layer::kH5, "mall-home"));
  EXPECT_EQ(other.name, h5_old_);
  // The older release is then a downgrade for the device that has 4.
  repo_.BumpVersions();
  repo_.director.assignments.erase(repo_.director.assignments.begin());
  repo_.Publish();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_THAT(
      GetRejectReason(
          v->ResolveModule(Device(treated), Layer::kH5, "mall-home").status()),
      Optional(RejectReason::kReleaseCounterRollback));
}

TEST_F(VerifierReleaseTest, ReleaseRuleNamingUnsignedContentIsRefused) {
  repo_.BumpVersions();
  DirectorAssignment a = ReleaseAssignment(3, "everyone", 10000, true, true,
                                           {h5_new_}, /*everyone=*/true);
  a.modules["h5/mall-home"].target = "h5/mall-home@9";
  a.modules["h5/mall-home"].release_counter = 9;
  repo_.director.assignments.insert(repo_.director.assignments.begin(), a);
  repo_.Publish();
  std::unique_ptr<Verifier> v = OpenRefreshed();
  EXPECT_THAT(
      GetRejectReason(
          v->ResolveModule(Device("anyone"), Layer::kH5, "mall-home").status()),
      Optional(RejectReason::kUnsignedDirectorTarget));
  // Same name, other content: a mismatch.
  repo_.BumpVersions();
  repo_.director.assignments[0].modules["h5/mall-home"] =
      DirectorTargetFor(h5_new_, repo_.delegated.at("h5").targets.at(h5_new_));
  repo_.director.assignments[0].modules["h5/mall-home"].length += 1;
  repo_.Publish();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_THAT(
      GetRejectReason(
          v->ResolveModule(Device("anyone"), Layer::kH5, "mall-home").status()),
      Optional(RejectReason::kDirectorTargetMismatch));
}

TEST_F(VerifierReleaseTest, MalformedReleaseRuleRejectsTheRefresh) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.director.segments["android"].expression = "os ==";
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kMalformedMetadata);
}

// ---- director key rotation ----

class DirectorRotationTest : public VerifierReleaseTest {
 protected:
  // The holder of the stolen director key signs a far-future version.
  void FastForward(std::unique_ptr<Verifier>& v) {
    const uint64_t real = repo_.director.common.version;
    repo_.director.common.version = 1000;
    repo_.Publish();
    STRATA_ASSERT_OK(v->Refresh(repo_.source));
    EXPECT_EQ(v->TrustedVersion("director"), 1000u);
    repo_.director.common.version = real;
  }
  // Root v2 with `director` as the only director key.
  void RotateDirectorKey(const PrivateKey& director) {
    repo_.root.common.version = 2;
    repo_.root.keys.erase(repo_.director_key.KeyId());
    repo_.root.director->keyids.clear();
    repo_.root.AddKey("director", director.public_key());
    repo_.PublishRoot();
    repo_.signers["director"] = {&director};
  }
};

TEST_F(DirectorRotationTest, RotatingTheKeyResetsAFastForwardedVersion) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  FastForward(v);
  // The real director (v2) is refused while the old key is trusted.
  ++repo_.director.common.version;
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kRoleVersionRollback);

  const PrivateKey new_key = TestKey(60);
  RotateDirectorKey(new_key);
  repo_.Publish();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("root"), 2u);
  EXPECT_EQ(v->TrustedVersion("director"), 2u);
  STRATA_EXPECT_OK(
      v->ResolveModule(Device("anyone"), Layer::kH5, "mall-home").status());
  // The stolen key no longer signs anything the device accepts.
  repo_.director.common.version = 2000;
  repo_.signers["director"] = {&repo_.director_key};
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kBadSignature);

  // The reset survives a restart (the state file holds the new director).
  std::unique_ptr<Verifier> reopened = Open();
  EXPECT_EQ(reopened->TrustedVersion("director"), 2u);
}

TEST_F(DirectorRotationTest, ARootThatKeepsTheDirectorKeyKeepsTheVersion) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  FastForward(v);
  // Root v2 lists the same director key, even under a second key id.
  repo_.root.common.version = 2;
  const std::string alias(64, 'd');
  repo_.root.keys.emplace(alias, repo_.director_key.public_key());
  repo_.root.director->keyids = {alias};
  repo_.PublishRoot();
  ++repo_.director.common.version;
  repo_.tamper = [&](const std::string& role, SignedMetadata& m) {
    if (role == "director") m.mutable_signatures()[0].keyid = alias;
  };
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kRoleVersionRollback);
}

TEST_F(DirectorRotationTest, APinnedRootWithANewDirectorKeyResetsToo) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  FastForward(v);
  v.reset();
  // The next app build pins root v2 with a new director key.
  const PrivateKey new_key = TestKey(61);
  RotateDirectorKey(new_key);
  ++repo_.director.common.version;
  repo_.Publish();
  VerifierOptions o;
  o.state_dir = "/state";
  o.pinned_root = repo_.published("root");
  STRATA_ASSERT_OK_AND_ASSIGN(v, Verifier::Open(env(), o));
  EXPECT_EQ(v->TrustedVersion("director"), 0u);
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("director"), 2u);
}

// ---- what the SDK sends and serves ----

TEST_F(VerifierReleaseTest, TrustedVersions) {
  std::unique_ptr<Verifier> v = Open();
  TrustedVersionsInfo none;
  none.root = 1;
  EXPECT_EQ(v->TrustedVersions(), none);
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  repo_.BumpVersions();
  ++repo_.delegated["h5"].common.version;  // h5 at 3, the rest at 2
  repo_.Publish();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  const TrustedVersionsInfo t = v->TrustedVersions();
  EXPECT_EQ(t.root, 1u);
  EXPECT_EQ(t.timestamp, 2u);
  EXPECT_EQ(t.snapshot, 2u);
  EXPECT_EQ(t.targets, 2u);
  EXPECT_EQ(t.director, 2u);
  EXPECT_THAT(t.roles,
              ElementsAre(Pair("config", 2u), Pair("h5", 3u), Pair("hcf", 2u),
                          Pair("hotpatch", 2u), Pair("native", 2u)));
  for (const auto& [role, version] : t.roles) {
    EXPECT_EQ(v->TrustedVersion(role), version);
  }
}

TEST_F(VerifierReleaseTest, TrustedFileServesTheBytesAsReceived) {
  std::unique_ptr<Verifier> v = Open();
  EXPECT_THAT(v->TrustedFile("1.root.json"), Optional(repo_.pinned_root()));
  EXPECT_EQ(v->TrustedFile("timestamp.json"), std::nullopt);
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_THAT(v->TrustedFile("timestamp.json"),
              Optional(repo_.published("timestamp")));
  EXPECT_THAT(v->TrustedFile("director.json"),
              Optional(repo_.published("director")));
  EXPECT_THAT(v->TrustedFile("1.snapshot.json"),
              Optional(repo_.published("snapshot")));
  EXPECT_THAT(v->TrustedFile("1.targets.json"),
              Optional(repo_.published("targets")));
  for (const char* layer : {"config", "h5", "hcf", "hotpatch", "native"}) {
    EXPECT_THAT(v->TrustedFile(StrCat("1.", layer, ".json")),
                Optional(repo_.published(layer)))
        << layer;
  }
  // The snapshot's bytes still hash to what the timestamp lists.
  EXPECT_EQ(Sha256::HexHash(*v->TrustedFile("1.snapshot.json")),
            repo_.timestamp.snapshot.hashes.at("sha256"));
  for (const char* name :
       {"2.root.json", "root.json", "2.snapshot.json", "snapshot.json",
        "targets.json", "h5.json", "0.h5.json", "01.h5.json", "x.h5.json",
        "1.timestamp.json", "1.director.json", "1.web.json", "timestamp", "",
        ".json", "1..json", "99999999999999999999.h5.json"}) {
    EXPECT_EQ(v->TrustedFile(name), std::nullopt) << name;
  }
}

TEST_F(VerifierReleaseTest, RefreshFromOnlyTheNewFilesPlusTrustedOnes) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  // Only the h5 role changes (a publish): the response carries 2.h5.json,
  // the snapshot and the timestamp; everything else comes from trust.
  ++repo_.delegated["h5"].common.version;
  ++repo_.snapshot.common.version;
  ++repo_.timestamp.common.version;
  repo_.Publish();
  InMemoryMetadataSource sent;
  for (const char* name : {"2.h5.json", "2.snapshot.json", "timestamp.json"}) {
    sent.Put(name, repo_.source.files().at(name));
  }
  FallbackSource source(&sent, v.get());
  STRATA_ASSERT_OK(v->Refresh(source));
  EXPECT_EQ(v->TrustedVersion("h5"), 2u);
  EXPECT_EQ(v->TrustedVersion("director"), 1u);
  EXPECT_EQ(source.served_from_trust, 1);  // director.json
  // Nothing new at all: timestamp and director from trust.
  InMemoryMetadataSource nothing;
  FallbackSource unchanged(&nothing, v.get());
  STRATA_ASSERT_OK(v->Refresh(unchanged));
  EXPECT_EQ(unchanged.served_from_trust, 2);
  // A second device, starting from the pinned root, can be fed entirely
  // from the first one's trusted files.
  std::unique_ptr<Verifier> second = Open("/second");
  FallbackSource all(&nothing, v.get());
  STRATA_ASSERT_OK(second->Refresh(all));
  EXPECT_EQ(second->TrustedVersions(), v->TrustedVersions());
}

// ---- thresholds count distinct public keys ----

TEST_F(VerifierReleaseTest, RootKeyUnderTwoIdsCountsOnce) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  // Root v2 lists root key 1 twice (under its id and an alias), threshold 2.
  const PrivateKey& k1 = repo_.root_keys[0];
  const std::string alias(64, 'a');
  repo_.root.common.version = 2;
  repo_.root.keys.emplace(alias, k1.public_key());
  repo_.root.roles["root"].keyids = {k1.KeyId(), alias};
  repo_.tamper = [&](const std::string& role, SignedMetadata& m) {
    if (role != "root") return;
    Signature copy = m.signatures()[0];
    ASSERT_EQ(copy.keyid, k1.KeyId());
    copy.keyid = alias;
    m.mutable_signatures().push_back(copy);
  };
  repo_.PublishRoot();  // signed by keys 1 and 2, plus the alias copy
  repo_.tamper = nullptr;
  ExpectRefreshRejected(*v, RejectReason::kRootRotationNewThresholdNotMet);

  // A pinned root like it does not even open.
  VerifierOptions o;
  o.state_dir = "/pinned";
  o.pinned_root = repo_.published("root");
  absl::StatusOr<std::unique_ptr<Verifier>> pinned = Verifier::Open(env(), o);
  EXPECT_THAT(GetRejectReason(pinned.status()),
              Optional(RejectReason::kTrustedStateCorrupt));
  EXPECT_THAT(pinned.status().message(), ::testing::HasSubstr("distinct"));
}

TEST_F(VerifierReleaseTest, OnlineKeyUnderTwoIdsCountsOnce) {
  for (const std::string role : {"timestamp", "snapshot", "director"}) {
    SCOPED_TRACE(role);
    TestRepo repo(clock_.Now());
    repo.Publish();
    const PrivateKey& key = role == "timestamp"  ? repo.timestamp_key
                            : role == "snapshot" ? repo.snapshot_key
                                                 : repo.director_key;
    const std::string alias(64, 'e');
    repo.root.common.version = 2;
    repo.root.keys.emplace(alias, key.public_key());
    RoleKeys& keys =
        role == "director" ? *repo.root.director : repo.root.roles[role];
    keys.keyids = {key.KeyId(), alias};
    keys.threshold = 2;
    repo.PublishRoot();
    repo.BumpVersions();
    repo.tamper = [&](const std::string& r, SignedMetadata& m) {
      if (r != role) return;
      Signature copy = m.signatures()[0];
      copy.keyid = alias;
      m.mutable_signatures().push_back(copy);
    };
    repo.Publish();
    VerifierOptions o;
    o.state_dir = StrCat("/alias-", role);
    o.pinned_root = repo.pinned_root();
    STRATA_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Verifier> v,
                                Verifier::Open(env(), o));
    const absl::Status s = v->Refresh(repo.source);
    EXPECT_THAT(GetRejectReason(s), Optional(RejectReason::kThresholdNotMet))
        << s;
    // A second, distinct key meets the threshold.
    const PrivateKey second = TestKey(70);
    repo.root.common.version = 3;
    keys.keyids = {key.KeyId(), second.KeyId()};
    repo.root.keys.emplace(second.KeyId(), second.public_key());
    repo.PublishRoot();
    repo.tamper = nullptr;
    repo.signers[role].push_back(&second);
    repo.BumpVersions();
    repo.Publish();
    STRATA_EXPECT_OK(v->Refresh(repo.source));
  }
}

}  // namespace
}  // namespace strata::signing
