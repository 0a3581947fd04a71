// The client verifier: the happy path, then every rejection the trust model
// promises, each leaving the trusted state (on disk and in memory)
// unchanged.
#include "strata/signing/verifier.h"

#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/signing/reject_reason.h"
#include "test_repo.h"

namespace strata::signing {
namespace {

using ::strata::testing::FaultInjectionFileSystem;
using ::strata::testing::MemFileSystem;
using ::strata::testing::SimulatedClock;
using ::testing::Optional;
using testing::TestKey;
using testing::TestRepo;

constexpr const char* kRoles[] = {"root",   "timestamp", "snapshot", "targets",
                                  "config", "h5",        "hcf",      "hotpatch",
                                  "native", "director"};

// What must not change on a rejection.
struct StateImage {
  std::string file;
  std::map<std::string, uint64_t> versions;
  bool operator==(const StateImage&) const = default;
};

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest() : repo_(clock_.Now()) {
    hot_ = repo_.AddArtifact(Layer::kHotpatch, "core", 7, "hotpatch v7 bytes");
    h5_ = repo_.AddArtifact(Layer::kH5, "mall-home", 3, "h5 bundle v3");
    Compatibility hcf_compat;
    hcf_compat.runtime_version = {"3.0", "3.9"};
    hcf_ =
        repo_.AddArtifact(Layer::kHcf, "cashier", 2, "hcf module", hcf_compat);
    repo_.Assign(hot_);
    repo_.Assign(h5_);
    repo_.Assign(hcf_);
    repo_.Publish();
  }

  Env env(FileSystem* fs = nullptr) {
    Env e;
    e.fs = fs != nullptr ? fs : fs_;
    e.clock = &clock_;
    return e;
  }

  VerifierOptions Options() {
    VerifierOptions o;
    o.state_dir = state_dir_;
    o.pinned_root = repo_.pinned_root();
    return o;
  }

  std::unique_ptr<Verifier> Open(FileSystem* fs = nullptr) {
    absl::StatusOr<std::unique_ptr<Verifier>> v =
        Verifier::Open(env(fs), Options());
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  }

  // A verifier that already trusts version 1 of everything.
  std::unique_ptr<Verifier> OpenRefreshed() {
    std::unique_ptr<Verifier> v = Open();
    absl::Status s = v->Refresh(repo_.source);
    EXPECT_TRUE(s.ok()) << s;
    return v;
  }

  StateImage Image(const Verifier& v, FileSystem* fs = nullptr) {
    StateImage image;
    absl::StatusOr<std::string> file =
        (fs != nullptr ? fs : fs_)->ReadFile(v.StatePath());
    image.file = file.ok() ? *file : "<none>";
    for (const char* role : kRoles)
      image.versions[role] = v.TrustedVersion(role);
    return image;
  }

  // Refresh must fail with `reason` and change nothing.
  void ExpectRefreshRejected(Verifier& v, RejectReason reason) {
    const StateImage before = Image(v);
    const absl::Status s = v.Refresh(repo_.source);
    if (getenv("STRATA_VERBOSE") != nullptr) std::cerr << s << "\n";
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(GetRejectReason(s), Optional(reason))
        << "got " << s << " expected " << RejectReasonName(reason);
    EXPECT_EQ(Image(v), before) << "trusted state changed on a rejection";
  }

  SimulatedClock clock_;
  MemFileSystem mem_fs_;
  FileSystem* fs_ = &mem_fs_;
  std::string state_dir_ = "/state";
  TestRepo repo_;
  std::string hot_, h5_, hcf_;
};

TEST_F(VerifierTest, AcceptsAConsistentRepositoryAndResolvesEachLayer) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  for (const char* role : kRoles)
    EXPECT_EQ(v->TrustedVersion(role), 1u) << role;
  const DeviceInfo device = repo_.Device();
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget t, v->ResolveModule(device, Layer::kHotpatch, "core"));
  EXPECT_EQ(t.name, hot_);
  EXPECT_EQ(t.role, "hotpatch");
  ASSERT_TRUE(t.artifact.has_value());
  EXPECT_EQ(t.artifact->release_counter, 7u);
  DownloadChecker check(t);
  STRATA_EXPECT_OK(check.Update("hotpatch v7"));
  STRATA_EXPECT_OK(check.Update(" bytes"));
  STRATA_EXPECT_OK(check.Finish());
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<VerifiedTarget> all,
                              v->ResolveAll(device));
  EXPECT_EQ(all.size(), 3u);
  EXPECT_THAT(v->ResolveModule(device, Layer::kNative, "engine"),
              strata::testing::StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VerifierTest, ResolveNeedsARefreshInThisProcess) {
  std::unique_ptr<Verifier> v = Open();
  EXPECT_THAT(v->ResolveModule(repo_.Device(), Layer::kHotpatch, "core"),
              strata::testing::StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(VerifierTest, RefreshingTwiceWithoutChangesIsFine) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  STRATA_EXPECT_OK(v->Refresh(repo_.source));
  repo_.BumpVersions();
  repo_.Publish();
  STRATA_EXPECT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("snapshot"), 2u);
  EXPECT_EQ(v->TrustedVersion("hotpatch"), 2u);
}

TEST_F(VerifierTest, PinnedRootMustBeSelfSigned) {
  VerifierOptions o = Options();
  repo_.signers["root"] = {&repo_.root_keys[0]};
  o.pinned_root = repo_.PublishRoot();
  absl::StatusOr<std::unique_ptr<Verifier>> v = Verifier::Open(env(), o);
  EXPECT_THAT(GetRejectReason(v.status()),
              Optional(RejectReason::kTrustedStateCorrupt));
}

// ---- unsigned / wrongly signed metadata, per role ----

enum class SigFault { kNone, kWrongKey, kCorrupt };

struct SigCase {
  const char* role;
  SigFault fault;
  RejectReason expected;
};

class SignatureTest : public VerifierTest,
                      public ::testing::WithParamInterface<SigCase> {};

TEST_P(SignatureTest, RejectsAndKeepsState) {
  const SigCase& c = GetParam();
  std::unique_ptr<Verifier> v = OpenRefreshed();
  const PrivateKey attacker = TestKey(99);
  const std::string role = c.role;
  repo_.tamper = [&](const std::string& r, SignedMetadata& m) {
    if (r != role) return;
    switch (c.fault) {
      case SigFault::kNone:
        m.mutable_signatures().clear();
        break;
      case SigFault::kWrongKey: {
        m.mutable_signatures().clear();
        ASSERT_TRUE(m.Sign(attacker).ok());
        // Claim to be a trusted key id, too.
        Signature forged = m.signatures()[0];
        forged.keyid = repo_.signers.at(role)[0]->KeyId();
        m.mutable_signatures().push_back(forged);
        break;
      }
      case SigFault::kCorrupt:
        for (Signature& s : m.mutable_signatures()) {
          s.sig_hex[10] = s.sig_hex[10] == '0' ? '1' : '0';
        }
        break;
    }
  };
  repo_.BumpVersions();
  if (role == "root") {
    repo_.root.common.version = 2;
    repo_.PublishRoot();
  }
  repo_.Publish();
  ExpectRefreshRejected(*v, c.expected);
}

std::vector<SigCase> SignatureCases() {
  std::vector<SigCase> cases;
  for (const char* role : {"timestamp", "snapshot", "targets", "config", "h5",
                           "hcf", "hotpatch", "native", "director"}) {
    cases.push_back({role, SigFault::kNone, RejectReason::kUnsigned});
    cases.push_back({role, SigFault::kWrongKey, RejectReason::kBadSignature});
    cases.push_back({role, SigFault::kCorrupt, RejectReason::kBadSignature});
  }
  for (SigFault f :
       {SigFault::kNone, SigFault::kWrongKey, SigFault::kCorrupt}) {
    cases.push_back({"root", f, RejectReason::kRootRotationOldThresholdNotMet});
  }
  return cases;
}

std::string SigCaseName(const ::testing::TestParamInfo<SigCase>& info) {
  static const char* kFault[] = {"Unsigned", "WrongKey", "CorruptSignature"};
  return strata::StrCat(info.param.role, "_",
                        kFault[static_cast<int>(info.param.fault)]);
}

INSTANTIATE_TEST_SUITE_P(PerRole, SignatureTest,
                         ::testing::ValuesIn(SignatureCases()), SigCaseName);

// ---- thresholds and double counting ----

TEST_F(VerifierTest, ThresholdNotMetForATwoSignatureLayer) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.signers["hotpatch"] = {&repo_.layer_keys["hotpatch"][0]};
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kThresholdNotMet);
}

TEST_F(VerifierTest, ThresholdNotMetForRoot) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.root.common.version = 2;
  repo_.signers["root"] = {&repo_.root_keys[0]};
  repo_.PublishRoot();
  ExpectRefreshRejected(*v, RejectReason::kRootRotationOldThresholdNotMet);
}

TEST_F(VerifierTest, TheSameSignatureTwiceCountsOnce) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.signers["native"] = {&repo_.layer_keys["native"][0]};
  repo_.tamper = [](const std::string& role, SignedMetadata& m) {
    if (role != "native") return;
    m.mutable_signatures().push_back(m.signatures()[0]);
  };
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kThresholdNotMet);
}

TEST_F(VerifierTest, TheSameKeyUnderTwoKeyIdsCountsOnce) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  // The targets role lists key A for "hotpatch" twice: under its id and under
  // an alias; threshold 2 must not be met by A alone.
  const PrivateKey& a = repo_.layer_keys["hotpatch"][0];
  const std::string alias(64, 'a');
  Delegations& d = *repo_.targets.delegations;
  d.keys.emplace(alias, a.public_key());
  for (DelegatedRole& r : d.roles) {
    if (r.name == "hotpatch") r.keyids = {a.KeyId(), alias};
  }
  repo_.signers["hotpatch"] = {&a};
  repo_.tamper = [&](const std::string& role, SignedMetadata& m) {
    if (role != "hotpatch") return;
    Signature copy = m.signatures()[0];
    copy.keyid = alias;
    m.mutable_signatures().push_back(copy);
  };
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kThresholdNotMet);
}

TEST_F(VerifierTest, RevokedPublisherKeyInvalidatesTheCachedLayerRole) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  // targets v2 replaces hotpatch key 0 (compromised); hotpatch.json stays at
  // version 1, still signed by the revoked key.
  const PrivateKey replacement = TestKey(50);
  Delegations& d = *repo_.targets.delegations;
  for (DelegatedRole& r : d.roles) {
    if (r.name == "hotpatch") {
      r.keyids = {replacement.KeyId(), repo_.layer_keys["hotpatch"][1].KeyId()};
    }
  }
  d.keys.emplace(replacement.KeyId(), replacement.public_key());
  ++repo_.targets.common.version;
  ++repo_.snapshot.common.version;
  ++repo_.timestamp.common.version;
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kBadSignature);
  // Once the layer role is re-signed with the new key, all is well.
  ++repo_.delegated["hotpatch"].common.version;
  ++repo_.snapshot.common.version;
  ++repo_.timestamp.common.version;
  repo_.signers["hotpatch"] = {&replacement, &repo_.layer_keys["hotpatch"][1]};
  repo_.Publish();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("hotpatch"), 2u);
}

// ---- root rotation ----

class RootRotationTest : public VerifierTest {
 protected:
  // Root v2 replaces root key 3 by key 4 (threshold stays 2).
  void MakeRootV2() {
    repo_.root.common.version = 2;
    RoleKeys& r = repo_.root.roles["root"];
    r.keyids.pop_back();
    repo_.root.keys.erase(repo_.root_keys[2].KeyId());
    repo_.root.AddKey("root", new_key_.public_key());
  }
  PrivateKey new_key_ = TestKey(4);
};

TEST_F(RootRotationTest, SignedByOldAndNewThresholdsIsAccepted) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  MakeRootV2();
  // Keys 1 and 2 are in both roots; key 4 adds a signature from the new set.
  repo_.signers["root"] = {&repo_.root_keys[0], &repo_.root_keys[1], &new_key_};
  repo_.PublishRoot();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("root"), 2u);
}

TEST_F(RootRotationTest, OldKeysOnlyIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  MakeRootV2();
  repo_.root.roles["root"].threshold = 2;
  // New root demands keys {1,2,4} threshold 2 but drop key 2 from it so the
  // old signers (1,3) satisfy only the old root.
  repo_.root.roles["root"].keyids = {repo_.root_keys[0].KeyId(),
                                     new_key_.KeyId()};
  repo_.root.keys.erase(repo_.root_keys[1].KeyId());
  repo_.signers["root"] = {&repo_.root_keys[0], &repo_.root_keys[2]};
  repo_.PublishRoot();
  ExpectRefreshRejected(*v, RejectReason::kRootRotationNewThresholdNotMet);
}

TEST_F(RootRotationTest, NewKeysOnlyIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.root.common.version = 2;
  const PrivateKey k5 = TestKey(5);
  repo_.root.roles["root"].keyids.clear();
  repo_.root.AddKey("root", new_key_.public_key());
  repo_.root.AddKey("root", k5.public_key());
  repo_.signers["root"] = {&new_key_, &k5};
  repo_.PublishRoot();
  ExpectRefreshRejected(*v, RejectReason::kRootRotationOldThresholdNotMet);
}

TEST_F(RootRotationTest, VersionSkipIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.root.common.version = 3;
  const std::string bytes = repo_.PublishRoot();
  repo_.source.Put("2.root.json", bytes);
  ExpectRefreshRejected(*v, RejectReason::kRootRotationVersionMismatch);
}

TEST_F(RootRotationTest, SameVersionIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.source.Put("2.root.json", repo_.pinned_root());
  ExpectRefreshRejected(*v, RejectReason::kRootRotationVersionMismatch);
}

TEST_F(RootRotationTest, ExpiredIntermediateRootIsAccepted) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.root.common.version = 2;
  repo_.root.common.expires = clock_.Now() - absl::Hours(1);
  repo_.PublishRoot();
  repo_.root.common.version = 3;
  repo_.root.common.expires = clock_.Now() + absl::Hours(48);
  repo_.PublishRoot();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("root"), 3u);
}

TEST_F(RootRotationTest, ExpiredFinalRootIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.root.common.version = 2;
  repo_.PublishRoot();
  repo_.root.common.version = 3;
  repo_.root.common.expires = clock_.Now() - absl::Seconds(1);
  repo_.PublishRoot();
  ExpectRefreshRejected(*v, RejectReason::kExpiredMetadata);
}

TEST_F(RootRotationTest, TooManyStepsIsRejected) {
  VerifierOptions o = Options();
  o.max_root_rotations = 3;
  STRATA_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Verifier> v,
                              Verifier::Open(env(), o));
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  for (uint64_t version = 2; version <= 5; ++version) {
    repo_.root.common.version = version;
    repo_.PublishRoot();
  }
  ExpectRefreshRejected(*v, RejectReason::kRootRotationTooManySteps);
  // Exactly the cap is fine.
  repo_.source.Remove("5.root.json");
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("root"), 4u);
}

TEST_F(RootRotationTest, RotatedTimestampKeyRecoversFromFastForward) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  // An attacker with the old timestamp key pushed timestamp v1000.
  repo_.timestamp.common.version = 1000;
  repo_.Publish();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("timestamp"), 1000u);
  // The repository rotates the timestamp key and restarts at version 2.
  const PrivateKey new_ts = TestKey(40);
  repo_.root.common.version = 2;
  repo_.root.roles["timestamp"].keyids.clear();
  repo_.root.AddKey("timestamp", new_ts.public_key());
  repo_.PublishRoot();
  repo_.timestamp.common.version = 2;
  repo_.signers["timestamp"] = {&new_ts};
  repo_.Publish();
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("timestamp"), 2u);
}

// ---- rollback across a client restart (real file system) ----

class RestartTest : public VerifierTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata_signing_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs_ = PosixFileSystem();
    state_dir_ = JoinPath(dir_, "state");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

struct RollbackCase {
  const char* role;
  RejectReason expected;
};

class RollbackTest : public RestartTest,
                     public ::testing::WithParamInterface<RollbackCase> {};

TEST_P(RollbackTest, OlderMetadataIsRejectedAfterARestart) {
  const std::string role = GetParam().role;
  // v1 everywhere, then v2 everywhere; keep the v1 files around.
  InMemoryMetadataSource v1_files = repo_.source;
  {
    std::unique_ptr<Verifier> v = OpenRefreshed();
    repo_.BumpVersions();
    repo_.Publish();
    STRATA_ASSERT_OK(v->Refresh(repo_.source));
    EXPECT_EQ(v->TrustedVersion(role), role == "root" ? 1u : 2u);
  }
  std::unique_ptr<Verifier> v = Open();  // a new process
  EXPECT_EQ(v->TrustedVersion(role), role == "root" ? 1u : 2u);
  if (role == "timestamp" || role == "director") {
    // Replay the old, validly signed file.
    repo_.source.Put(strata::StrCat(role, ".json"),
                     *v1_files.Fetch({role, std::nullopt, 1 << 20}));
  } else if (role == "root") {
    // The server answers 2.root.json with the old root.
    repo_.source.Put("2.root.json", repo_.pinned_root());
  } else {
    // A new timestamp/snapshot (compromised snapshot key) lists the old
    // version of `role`.
    repo_.timestamp.common.version = 3;
    repo_.snapshot.common.version = 3;
    repo_.Publish();
    const std::string file = strata::StrCat(role, ".json");
    if (role == "snapshot") {
      repo_.timestamp.snapshot.version = 1;
      repo_.source.Put("timestamp.json", *SignToBytes(ToJson(repo_.timestamp),
                                                      {&repo_.timestamp_key}));
    } else {
      repo_.snapshot.meta[file] =
          MetaFileFor(*v1_files.Fetch({role, 1, 1 << 20}), 1);
      const std::string snap =
          *SignToBytes(ToJson(repo_.snapshot), {&repo_.snapshot_key});
      repo_.source.Put("3.snapshot.json", snap);
      repo_.timestamp.snapshot = MetaFileFor(snap, 3);
      repo_.source.Put("timestamp.json", *SignToBytes(ToJson(repo_.timestamp),
                                                      {&repo_.timestamp_key}));
      repo_.source.Put(strata::StrCat("1.", file),
                       *v1_files.Fetch({role, 1, 1 << 20}));
    }
  }
  ExpectRefreshRejected(*v, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    EachRole, RollbackTest,
    ::testing::Values(
        RollbackCase{"root", RejectReason::kRootRotationVersionMismatch},
        RollbackCase{"timestamp", RejectReason::kRoleVersionRollback},
        RollbackCase{"snapshot", RejectReason::kRoleVersionRollback},
        RollbackCase{"targets", RejectReason::kRoleVersionRollback},
        RollbackCase{"hotpatch", RejectReason::kRoleVersionRollback},
        RollbackCase{"h5", RejectReason::kRoleVersionRollback},
        RollbackCase{"director", RejectReason::kRoleVersionRollback}),
    [](const auto& info) { return std::string(info.param.role); });

TEST_F(RestartTest, ReleaseCounterRollbackIsRejectedAfterARestart) {
  const std::string old_release =
      repo_.AddArtifact(Layer::kHotpatch, "core", 5, "hotpatch v5 bytes");
  repo_.BumpVersions();
  repo_.Publish();
  {
    std::unique_ptr<Verifier> v = OpenRefreshed();
    STRATA_ASSERT_OK_AND_ASSIGN(
        VerifiedTarget t,
        v->ResolveModule(repo_.Device(), Layer::kHotpatch, "core"));
    EXPECT_EQ(t.artifact->release_counter, 7u);
    STRATA_ASSERT_OK(v->MarkInstalled(t));
  }
  // The director (or a replay of an old plan) now offers release 5, which
  // the publisher did sign once.
  repo_.Assign(old_release);
  repo_.BumpVersions();
  repo_.Publish();
  std::unique_ptr<Verifier> v = Open();
  EXPECT_THAT(v->InstalledReleaseCounter(Layer::kHotpatch, "core"),
              Optional(7u));
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  const StateImage before = Image(*v);
  absl::StatusOr<VerifiedTarget> t =
      v->ResolveModule(repo_.Device(), Layer::kHotpatch, "core");
  EXPECT_THAT(GetRejectReason(t.status()),
              Optional(RejectReason::kReleaseCounterRollback))
      << t.status();
  EXPECT_EQ(Image(*v), before);
}

TEST_F(RestartTest, TrustedStateSurvivesARestart) {
  { std::unique_ptr<Verifier> v = OpenRefreshed(); }
  std::unique_ptr<Verifier> v = Open();
  EXPECT_EQ(v->TrustedVersion("snapshot"), 1u);
  EXPECT_EQ(v->TrustedVersion("director"), 1u);
  STRATA_EXPECT_OK(v->Refresh(repo_.source));
}

// ---- freeze ----

class FreezeTest : public VerifierTest,
                   public ::testing::WithParamInterface<const char*> {};

TEST_P(FreezeTest, ExpiredMetadataIsRejected) {
  const std::string role = GetParam();
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  const absl::Time past = clock_.Now() - absl::Seconds(1);
  if (role == "timestamp") repo_.timestamp.common.expires = past;
  if (role == "snapshot") repo_.snapshot.common.expires = past;
  if (role == "targets") repo_.targets.common.expires = past;
  if (role == "hotpatch") repo_.delegated["hotpatch"].common.expires = past;
  if (role == "director") repo_.director.common.expires = past;
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kExpiredMetadata);
}

INSTANTIATE_TEST_SUITE_P(EachRole, FreezeTest,
                         ::testing::Values("timestamp", "snapshot", "targets",
                                           "hotpatch", "director"));

TEST_F(VerifierTest, FrozenRepositoryIsRejectedWhenTimePasses) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  // Nothing new is published; the trusted copies expire.
  clock_.Advance(absl::Hours(25));
  ExpectRefreshRejected(*v, RejectReason::kExpiredMetadata);
}

// ---- mix-and-match, endless data, slow retrieval ----

TEST_F(VerifierTest, SnapshotHashDifferentFromTimestampIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.Publish();
  repo_.timestamp.snapshot.hashes["sha256"] = std::string(64, '0');
  repo_.source.Put("timestamp.json", *SignToBytes(ToJson(repo_.timestamp),
                                                  {&repo_.timestamp_key}));
  ExpectRefreshRejected(*v, RejectReason::kHashMismatch);
}

TEST_F(VerifierTest, TargetsHashDifferentFromSnapshotIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.Publish();
  // Another validly signed targets v2 than the one the snapshot lists.
  repo_.targets.common.expires += absl::Seconds(1);
  repo_.source.Put("2.targets.json",
                   *SignToBytes(ToJson(repo_.targets), {&repo_.targets_key}));
  ExpectRefreshRejected(*v, RejectReason::kHashMismatch);
}

TEST_F(VerifierTest, DelegatedVersionDifferentFromSnapshotIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  const std::string h5_v1 = repo_.published("h5");
  repo_.BumpVersions();
  repo_.Publish();
  // The snapshot lists h5 v2 without hashes; the mirror serves h5 v1.
  repo_.snapshot.meta["h5.json"].hashes.clear();
  repo_.snapshot.meta["h5.json"].length.reset();
  repo_.source.Put("2.h5.json", h5_v1);
  const std::string snap =
      *SignToBytes(ToJson(repo_.snapshot), {&repo_.snapshot_key});
  repo_.source.Put("2.snapshot.json", snap);
  repo_.timestamp.snapshot = MetaFileFor(snap, 2);
  repo_.source.Put("timestamp.json", *SignToBytes(ToJson(repo_.timestamp),
                                                  {&repo_.timestamp_key}));
  ExpectRefreshRejected(*v, RejectReason::kVersionMismatch);
}

TEST_F(VerifierTest, SnapshotShorterThanListedIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.Publish();
  *repo_.timestamp.snapshot.length += 10;
  repo_.source.Put("timestamp.json", *SignToBytes(ToJson(repo_.timestamp),
                                                  {&repo_.timestamp_key}));
  ExpectRefreshRejected(*v, RejectReason::kLengthMismatch);
}

TEST_F(VerifierTest, MetadataLongerThanListedIsEndlessData) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.Publish();
  std::string snap = repo_.published("snapshot");
  snap.append(1 << 20, ' ');  // still valid JSON, far too long
  repo_.source.Put("2.snapshot.json", snap);
  ExpectRefreshRejected(*v, RejectReason::kEndlessData);
}

TEST_F(VerifierTest, TimestampOverItsCapIsEndlessData) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.source.Put("timestamp.json", std::string(20000, ' '));
  ExpectRefreshRejected(*v, RejectReason::kEndlessData);
}

TEST_F(VerifierTest, ArtifactLongerThanSignedStopsAtTheCap) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget t,
      v->ResolveModule(repo_.Device(), Layer::kH5, "mall-home"));
  DownloadChecker check(t);
  STRATA_EXPECT_OK(check.Update("h5 bundle v3"));
  const absl::Status s = check.Update("x");
  EXPECT_THAT(GetRejectReason(s), Optional(RejectReason::kEndlessData));
  EXPECT_EQ(check.received(), t.length);
  EXPECT_THAT(GetRejectReason(check.Finish()),
              Optional(RejectReason::kEndlessData));
}

TEST_F(VerifierTest, ArtifactWithWrongBytesIsHashMismatch) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget t,
      v->ResolveModule(repo_.Device(), Layer::kH5, "mall-home"));
  DownloadChecker check(t);
  STRATA_EXPECT_OK(check.Update("h5 bundle v4"));
  EXPECT_THAT(GetRejectReason(check.Finish()),
              Optional(RejectReason::kHashMismatch));
  DownloadChecker short_check(t);
  STRATA_EXPECT_OK(short_check.Update("h5"));
  EXPECT_THAT(GetRejectReason(short_check.Finish()),
              Optional(RejectReason::kLengthMismatch));
}

// A source that takes simulated time to answer.
class SlowSource : public MetadataSource {
 public:
  SlowSource(MetadataSource* inner, SimulatedClock* clock, absl::Duration delay)
      : inner_(inner), clock_(clock), delay_(delay) {}
  absl::StatusOr<std::string> Fetch(const FetchRequest& request) override {
    clock_->Advance(delay_);
    return inner_->Fetch(request);
  }

 private:
  MetadataSource* inner_;
  SimulatedClock* clock_;
  absl::Duration delay_;
};

TEST_F(VerifierTest, UpdateSlowerThanTheDeadlineIsSlowRetrieval) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.Publish();
  // 2 minutes allowed; each file takes 20 s; the update needs 13 files.
  SlowSource slow(&repo_.source, &clock_, absl::Seconds(20));
  const StateImage before = Image(*v);
  const absl::Status s = v->Refresh(slow);
  EXPECT_THAT(GetRejectReason(s), Optional(RejectReason::kSlowRetrieval)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Image(*v), before);
}

TEST_F(VerifierTest, ArtifactDownloadPastItsDeadlineIsSlowRetrieval) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget t,
      v->ResolveModule(repo_.Device(), Layer::kH5, "mall-home"));
  DownloadChecker check(t, &clock_, clock_.Now() + absl::Seconds(30));
  STRATA_EXPECT_OK(check.Update("h5 "));
  clock_.Advance(absl::Seconds(31));
  EXPECT_THAT(GetRejectReason(check.Update("bundle v3")),
              Optional(RejectReason::kSlowRetrieval));
}

// ---- wrong software and the director ----

struct WrongCase {
  const char* name;
  RejectReason expected;
};

class WrongSoftwareTest : public VerifierTest,
                          public ::testing::WithParamInterface<WrongCase> {};

TEST_P(WrongSoftwareTest, IsRejectedAtResolve) {
  const std::string c = GetParam().name;
  DeviceInfo device = repo_.Device();
  Layer layer = Layer::kHotpatch;
  std::string module = "core";
  if (c == "app") {
    // A target signed for another app, assigned to our module.
    const std::string t =
        repo_.AddArtifact(Layer::kHotpatch, "core", 8, "other app", {}, "bank");
    repo_.Assign(t);
  } else if (c == "layer") {
    // The director maps h5/mall-home to an HCF target of the same name.
    const std::string t =
        repo_.AddArtifact(Layer::kHcf, "mall-home", 4, "hcf not h5");
    repo_.director.assignments[0].modules["h5/mall-home"] =
        DirectorTargetFor(t, repo_.delegated["hcf"].targets[t]);
    layer = Layer::kH5;
    module = "mall-home";
  } else if (c == "module") {
    const std::string t =
        repo_.AddArtifact(Layer::kHotpatch, "payments", 9, "another module");
    repo_.director.assignments[0].modules["hotpatch/core"] =
        DirectorTargetFor(t, repo_.delegated["hotpatch"].targets[t]);
  } else if (c == "host_build") {
    device.host_build = "10.3.0+101";
  } else if (c == "app_version") {
    Compatibility compat;
    compat.app_version = {"10.4.0", ""};
    repo_.Assign(
        repo_.AddArtifact(Layer::kH5, "mall-home", 5, "needs 10.4", compat));
    layer = Layer::kH5;
    module = "mall-home";
  } else if (c == "runtime") {
    device.runtime_version = "4.0";
    layer = Layer::kHcf;
    module = "cashier";
  } else if (c == "other_app_device") {
    device.app_id = "bank";
  }
  repo_.BumpVersions();
  repo_.Publish();
  std::unique_ptr<Verifier> v = OpenRefreshed();
  const StateImage before = Image(*v);
  absl::StatusOr<VerifiedTarget> t = v->ResolveModule(device, layer, module);
  EXPECT_THAT(GetRejectReason(t.status()), Optional(GetParam().expected))
      << t.status();
  EXPECT_EQ(t.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Image(*v), before);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WrongSoftwareTest,
    ::testing::Values(WrongCase{"app", RejectReason::kWrongApp},
                      WrongCase{"other_app_device", RejectReason::kWrongApp},
                      WrongCase{"layer", RejectReason::kWrongLayer},
                      WrongCase{"module", RejectReason::kWrongModule},
                      WrongCase{"host_build", RejectReason::kWrongHostBuild},
                      WrongCase{"app_version", RejectReason::kIncompatible},
                      WrongCase{"runtime", RejectReason::kIncompatible}),
    [](const auto& info) { return std::string(info.param.name); });

struct DirectorCase {
  const char* name;
  RejectReason expected;
};

class DirectorTest : public VerifierTest,
                     public ::testing::WithParamInterface<DirectorCase> {};

TEST_P(DirectorTest, EntryMustMatchThePublisherSignedOne) {
  const std::string c = GetParam().name;
  DirectorTarget& entry =
      repo_.director.assignments[0].modules["hotpatch/core"];
  if (c == "unsigned_target") {
    entry.target = "hotpatch/core@99";
    entry.release_counter = 99;
  } else if (c == "hash") {
    entry.hashes["sha256"] = std::string(64, 'e');
  } else if (c == "length") {
    entry.length += 1;
  } else if (c == "release_counter") {
    entry.release_counter = 70;
  }
  repo_.BumpVersions();
  repo_.Publish();
  std::unique_ptr<Verifier> v = OpenRefreshed();
  const StateImage before = Image(*v);
  absl::StatusOr<VerifiedTarget> t =
      v->ResolveModule(repo_.Device(), Layer::kHotpatch, "core");
  EXPECT_THAT(GetRejectReason(t.status()), Optional(GetParam().expected))
      << t.status();
  EXPECT_EQ(Image(*v), before);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DirectorTest,
    ::testing::Values(
        DirectorCase{"unsigned_target", RejectReason::kUnsignedDirectorTarget},
        DirectorCase{"hash", RejectReason::kDirectorTargetMismatch},
        DirectorCase{"length", RejectReason::kDirectorTargetMismatch},
        DirectorCase{"release_counter", RejectReason::kDirectorTargetMismatch}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(VerifierTest, DirectorAssignsByDeviceIdAndBucket) {
  const std::string canary =
      repo_.AddArtifact(Layer::kH5, "mall-home", 4, "h5 canary");
  DirectorAssignment for_device;
  for_device.device_ids = {"device-1"};
  for_device.modules["h5/mall-home"] =
      DirectorTargetFor(canary, repo_.delegated["h5"].targets[canary]);
  DirectorAssignment for_nobody;
  for_nobody.buckets = BucketRange{"salt", 0, 0};
  for_nobody.modules["hotpatch/core"] = for_device.modules["h5/mall-home"];
  repo_.director.assignments.insert(repo_.director.assignments.begin(),
                                    {for_device, for_nobody});
  repo_.BumpVersions();
  repo_.Publish();
  std::unique_ptr<Verifier> v = OpenRefreshed();
  DeviceInfo device = repo_.Device();
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget t, v->ResolveModule(device, Layer::kH5, "mall-home"));
  EXPECT_EQ(t.name, canary);
  STRATA_ASSERT_OK_AND_ASSIGN(
      t, v->ResolveModule(device, Layer::kHotpatch, "core"));
  EXPECT_EQ(t.name, hot_);
  device.device_id = "device-2";
  STRATA_ASSERT_OK_AND_ASSIGN(
      t, v->ResolveModule(device, Layer::kH5, "mall-home"));
  EXPECT_EQ(t.name, h5_);
}

TEST_F(VerifierTest, DelegatedRoleSigningOutsideItsPathsIsRejected) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  // The H5 publisher tries to ship a hotpatch.
  ArtifactInfo a;
  a.app_id = "wallet";
  a.layer = Layer::kHotpatch;
  a.module = "core";
  a.release_counter = 8;
  a.compat.host_build = "10.3.0+100";
  repo_.delegated["h5"].targets["hotpatch/core@8"] = TargetFileFor("evil", a);
  repo_.BumpVersions();
  repo_.Publish();
  ExpectRefreshRejected(*v, RejectReason::kDelegationPathNotAllowed);
}

TEST_F(VerifierTest, TimestampServedAsSnapshotIsWrongType) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.BumpVersions();
  repo_.Publish();
  const std::string ts = repo_.published("timestamp");
  repo_.source.Put("2.snapshot.json", ts);
  repo_.timestamp.snapshot = MetaFileFor(ts, 2);
  repo_.source.Put("timestamp.json", *SignToBytes(ToJson(repo_.timestamp),
                                                  {&repo_.timestamp_key}));
  ExpectRefreshRejected(*v, RejectReason::kWrongMetadataType);
}

TEST_F(VerifierTest, GarbageMetadataIsMalformed) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.source.Put("timestamp.json", "{\"signed\": [1, 2");
  ExpectRefreshRejected(*v, RejectReason::kMalformedMetadata);
}

TEST_F(VerifierTest, MissingMetadataIsUnavailable) {
  std::unique_ptr<Verifier> v = OpenRefreshed();
  repo_.source.Remove("timestamp.json");
  ExpectRefreshRejected(*v, RejectReason::kMetadataUnavailable);
}

// ---- persistence failures ----

TEST_F(VerifierTest, FailedPersistLeavesTheOldTrustedState) {
  FaultInjectionFileSystem faulty(&mem_fs_);
  std::unique_ptr<Verifier> v = Open(&faulty);
  STRATA_ASSERT_OK(v->Refresh(repo_.source));
  repo_.BumpVersions();
  repo_.Publish();
  // Count the mutations of a successful persist, then fail each one.
  uint64_t mutations = 0;
  {
    MemFileSystem probe_fs;
    FaultInjectionFileSystem probe(&probe_fs);
    std::unique_ptr<Verifier> p = Open(&probe);
    STRATA_ASSERT_OK(p->Refresh(repo_.source));
    probe.Reset();
    repo_.BumpVersions();
    repo_.Publish();
    STRATA_ASSERT_OK(p->Refresh(repo_.source));
    mutations = probe.mutation_count();
  }
  ASSERT_GT(mutations, 2u);
  for (uint64_t n = 1; n <= mutations; ++n) {
    SCOPED_TRACE(strata::StrCat("failing mutation ", n));
    const StateImage before = Image(*v, &faulty);
    faulty.FailNthMutation(n, /*crash=*/false);
    const absl::Status s = v->Refresh(repo_.source);
    faulty.FailNthMutation(0);
    if (n == mutations) {
      // The directory sync after the rename: the new state is in place but
      // not reported durable; the verifier keeps the old state in memory.
      EXPECT_FALSE(s.ok());
      continue;
    }
    EXPECT_THAT(GetRejectReason(s),
                Optional(RejectReason::kTrustedStatePersistFailed))
        << s;
    EXPECT_EQ(Image(*v, &faulty), before);
    // A restart sees the same old state.
    std::unique_ptr<Verifier> reopened = Open(&faulty);
    EXPECT_EQ(reopened->TrustedVersion("snapshot"),
              before.versions.at("snapshot"));
  }
  STRATA_EXPECT_OK(v->Refresh(repo_.source));
  EXPECT_EQ(v->TrustedVersion("snapshot"), 3u);
}

TEST_F(VerifierTest, CorruptStateFileIsReported) {
  { std::unique_ptr<Verifier> v = OpenRefreshed(); }
  STRATA_ASSERT_OK(WriteFileAtomically(mem_fs_, "/state/trusted_metadata.json",
                                       "{\"format\": 1, \"root\": \"x\"}"));
  absl::StatusOr<std::unique_ptr<Verifier>> v =
      Verifier::Open(env(), Options());
  EXPECT_THAT(GetRejectReason(v.status()),
              Optional(RejectReason::kTrustedStateCorrupt));
}

TEST(RejectReasonTest, NamesAndNumbersAreStable) {
  size_t n = 0;
  const RejectReason* all = AllRejectReasons(&n);
  ASSERT_EQ(n, 30u);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(static_cast<size_t>(all[i]), i);
    EXPECT_NE(RejectReasonName(all[i]), "UNKNOWN_REJECT_REASON");
  }
  EXPECT_EQ(RejectReasonName(RejectReason::kBadSignature), "BAD_SIGNATURE");
  EXPECT_EQ(static_cast<int>(RejectReason::kSlowRetrieval), 16);
  const absl::Status s =
      Reject(RejectReason::kEndlessData, absl::StatusCode::kResourceExhausted,
             "too long");
  EXPECT_THAT(GetRejectReason(s), Optional(RejectReason::kEndlessData));
  EXPECT_EQ(GetRejectReason(absl::InternalError("x")), std::nullopt);
}

}  // namespace
}  // namespace strata::signing
