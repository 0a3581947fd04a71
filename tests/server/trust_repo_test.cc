// Each app's TUF repository in stratad: the root chain, targets and layer
// roles installed only when rightly signed, publishes and releases resting
// on publisher-signed counters, online roles re-signed on every change and
// on a schedule, and what survives a restart. Real RocksDB, real keys, and
// the client's own Verifier reading what Check sends.
#include "strata/server/core/trust_repo.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/bucketing.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/blob_writer.h"
#include "strata/server/core/delivery_core.h"
#include "strata/server/core/release_model.h"
#include "strata/signing/verifier.h"
#include "test_util.h"
#include "trust_kit.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::Must;
using ::strata::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::ModuleId Module(v1::Layer layer, const std::string& name) {
  v1::ModuleId m;
  m.set_layer(layer);
  m.set_name(name);
  return m;
}

bool Same(const v1::TrustedVersions& a, const v1::TrustedVersions& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

std::vector<std::string> Names(
    const google::protobuf::RepeatedPtrField<v1::MetadataFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.name());
  return out;
}

class TrustRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kit_ = std::make_unique<testing::TrustKit>(
        &clock_, JoinPath(dir_.path(), "online-keys"));
    Open();
  }

  void Open() {
    store_ = Must(Store::Open(JoinPath(dir_.path(), "db")));
    trust_ = std::make_unique<TrustRepo>(store_.get(), &clock_, kit_->online());
    ASSERT_THAT(trust_->Load(), IsOk());
    admin_ = std::make_unique<AdminCore>(store_.get(), &clock_, AdminLimits{},
                                         trust_.get());
    delivery_ =
        std::make_unique<DeliveryCore>(store_.get(), &clock_, DeliveryOptions{},
                                       nullptr, admin_->fleet(), trust_.get());
    admin_->OnReleasesChanged(
        [this](const std::string& app) { delivery_->ReleasesChanged(app); });
    trust_->SetTargetsInUse([this](const std::string& app) {
      return Must(delivery_->TargetsInUse(app));
    });
  }
  void Reopen() {
    delivery_.reset();
    admin_.reset();
    trust_.reset();
    store_.reset();
    Open();
  }

  void Init() { ASSERT_THAT(admin_->SetTrust(who_, kit_->Init()), IsOk()); }

  // Publishes through the AdminCore with the kit's signatures.
  void Publish(v1::Layer layer, const std::string& module,
               const std::string& version, const std::string& content) {
    ASSERT_THAT(
        admin_->PublishBytes(
            who_, kit_->Publish(*trust_, layer, module, version, content),
            content),
        IsOk());
  }
  absl::StatusOr<v1::Release> Release(v1::Layer layer,
                                      const std::string& module,
                                      const std::string& version,
                                      bool all_at_once = true) {
    v1::CreateReleaseRequest req;
    req.set_app_id("wallet");
    *req.mutable_module() = Module(layer, module);
    req.set_version(version);
    req.set_all_at_once(all_at_once);
    return admin_->CreateRelease(who_, req);
  }
  v1::CheckResponse Check(const v1::TrustedVersions& trusted = {}) {
    v1::CheckRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id("dev-1");
    *req.mutable_trusted() = trusted;
    return Must(delivery_->Check(req));
  }
  v1::TrustInfo Info() {
    v1::GetTrustRequest req;
    req.set_app_id("wallet");
    return Must(admin_->GetTrust(who_, req));
  }
  uint64_t RoleVersion(const std::string& role) {
    const v1::TrustInfo info = Info();
    for (const v1::RoleInfo& r : info.roles()) {
      if (r.role() == role) return r.version();
    }
    return 0;
  }
  // A verifier pinned to root v1 that reads `files`.
  std::unique_ptr<signing::Verifier> Verify(
      const google::protobuf::RepeatedPtrField<v1::MetadataFile>& files,
      absl::Status* status) {
    signing::VerifierOptions options;
    options.state_dir = JoinPath(dir_.path(), "device");
    options.pinned_root = pinned_root_;
    auto verifier = Must(signing::Verifier::Open(
        Env{PosixFileSystem(), &clock_, nullptr}, options));
    signing::InMemoryMetadataSource source;
    for (const auto& f : files) source.Put(f.name(), f.content());
    *status = verifier->Refresh(source);
    return verifier;
  }

  testing::TempDir dir_;
  testing::SimulatedClock clock_{absl::FromUnixSeconds(1'780'000'000)};
  std::unique_ptr<testing::TrustKit> kit_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TrustRepo> trust_;
  std::unique_ptr<AdminCore> admin_;
  std::unique_ptr<DeliveryCore> delivery_;
  Principal who_ = testing::AdminPrincipal();
  std::string pinned_root_;
};

TEST_F(TrustRepoTest, InitInstallsTheRepositoryThatDevicesVerify) {
  const v1::SetTrustRequest init = kit_->Init();
  pinned_root_ = init.root();
  STRATA_ASSERT_OK_AND_ASSIGN(v1::SetTrustResponse resp,
                              admin_->SetTrust(who_, init));
  EXPECT_EQ(resp.root_version(), 1u);
  EXPECT_EQ(resp.targets_version(), 1u);
  EXPECT_THAT(resp.layers(), ::testing::Contains("hotpatch: 2 of 2 keys"));
  const v1::TrustInfo info = Info();
  EXPECT_TRUE(info.configured());
  EXPECT_EQ(info.root(), init.root());
  EXPECT_EQ(info.layer_roles_size(), 5);
  ASSERT_EQ(info.online_keys_size(), 3);
  for (const v1::OnlineKey& k : info.online_keys()) {
    EXPECT_TRUE(k.in_use()) << k.role();
    EXPECT_THAT(k.public_key_pem(), HasSubstr("BEGIN PUBLIC KEY"));
  }
  EXPECT_EQ(RoleVersion("snapshot"), 1u);
  EXPECT_EQ(RoleVersion("timestamp"), 1u);
  EXPECT_THAT(info.warnings(), IsEmpty());
  // The first Check signs the director and sends everything newer than
  // the pinned root, which the client's own verifier accepts.
  v1::TrustedVersions trusted;
  trusted.set_root(1);
  const v1::CheckResponse check = Check(trusted);
  EXPECT_THAT(Names(check.metadata()),
              ElementsAre("timestamp.json", "1.snapshot.json", "1.targets.json",
                          "1.config.json", "1.h5.json", "1.hcf.json",
                          "1.hotpatch.json", "1.native.json", "director.json"));
  absl::Status refreshed;
  auto verifier = Verify(check.metadata(), &refreshed);
  EXPECT_THAT(refreshed, IsOk());
  EXPECT_EQ(verifier->TrustedVersion("director"), 1u);
  // A device that trusts all of it gets nothing more.
  const v1::CheckResponse again = Check(trust_->View("wallet")->Versions());
  EXPECT_THAT(again.metadata(), IsEmpty());
  // Audited.
  STRATA_ASSERT_OK_AND_ASSIGN(auto audit, store_->ListAudit(0, 100));
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit.back().action(), "trust.set");
  EXPECT_EQ(audit.back().app_id(), "wallet");
}

TEST_F(TrustRepoTest, RootsTargetsAndRolesMustBeRightlySigned) {
  struct Case {
    std::string name;
    v1::SetTrustRequest req;
    absl::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    v1::SetTrustRequest r = kit_->Init();
    r.set_root(kit_->Sign(
        signing::ToJson(kit_->Root(1, kit_->root_key, kit_->targets_key)),
        {&kit_->stranger}));
    cases.push_back({"root not self-signed", r,
                     absl::StatusCode::kUnauthenticated, "own root keys"});
  }
  {
    v1::SetTrustRequest r = kit_->Init();
    r.set_app_id("shop");
    cases.push_back({"root of another app", r,
                     absl::StatusCode::kInvalidArgument, "custom.app"});
  }
  const signing::PrivateKey foreign = testing::SeedKey('o');
  {
    signing::RootMetadata root =
        kit_->Root(1, kit_->root_key, kit_->targets_key);
    root.AddKey("snapshot", foreign.public_key());
    v1::SetTrustRequest r = kit_->Init();
    r.set_root(kit_->Sign(signing::ToJson(root), {&kit_->root_key}));
    cases.push_back({"online key the server lacks", r,
                     absl::StatusCode::kFailedPrecondition,
                     "snapshot " + foreign.KeyId().substr(0, 16)});
  }
  {
    signing::RootMetadata root =
        kit_->Root(1, kit_->root_key, kit_->targets_key);
    root.common.expires = clock_.Now() - absl::Seconds(1);
    v1::SetTrustRequest r = kit_->Init();
    r.set_root(kit_->Sign(signing::ToJson(root), {&kit_->root_key}));
    cases.push_back(
        {"expired root", r, absl::StatusCode::kInvalidArgument, "expired"});
  }
  {
    v1::SetTrustRequest r = kit_->Init();
    r.set_targets(
        kit_->Sign(signing::ToJson(kit_->Targets(1)), {&kit_->stranger}));
    cases.push_back({"targets not signed by the targets key", r,
                     absl::StatusCode::kUnauthenticated, "targets keys"});
  }
  {
    v1::SetTrustRequest r = kit_->Init();
    r.mutable_layer_roles()->RemoveLast();
    cases.push_back({"a layer without a role", r,
                     absl::StatusCode::kFailedPrecondition, "no native role"});
  }
  {
    v1::SetTrustRequest r = kit_->Init();
    *r.mutable_layer_roles(0) =
        kit_->Sign(signing::ToJson(signing::TargetsMetadata{
                       {"1.0.31", 1, kit_->Expires()}, {}, std::nullopt}),
                   {&kit_->stranger});
    cases.push_back({"a role no publisher signed", r,
                     absl::StatusCode::kPermissionDenied, "publisher"});
  }
  for (const Case& c : cases) {
    EXPECT_THAT(admin_->SetTrust(who_, c.req),
                StatusIs(c.code, HasSubstr(c.message)))
        << c.name;
  }
  // Only an admin of the app may install it.
  EXPECT_THAT(admin_->SetTrust(Principal{"ci", v1::ROLE_RELEASE_MANAGER, "*"},
                               kit_->Init()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(admin_->SetTrust(Principal{"other", v1::ROLE_ADMIN, "shop"},
                               kit_->Init()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(*store_->ListTrustApps(), IsEmpty());
  EXPECT_FALSE(Info().configured());
}

TEST_F(TrustRepoTest, ANewRootFollowsTheChain) {
  const v1::SetTrustRequest init = kit_->Init();
  pinned_root_ = init.root();
  ASSERT_THAT(admin_->SetTrust(who_, init), IsOk());
  auto rotate = [&](uint64_t version,
                    std::vector<const signing::PrivateKey*> signers) {
    v1::SetTrustRequest r;
    r.set_app_id("wallet");
    r.set_root(kit_->Sign(signing::ToJson(kit_->Root(version, kit_->root2_key,
                                                     kit_->targets_key)),
                          signers));
    return admin_->SetTrust(who_, r);
  };
  // A stolen admin token cannot swap in a root of its own making.
  EXPECT_THAT(
      rotate(2, {&kit_->root2_key}),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("current root")));
  EXPECT_THAT(rotate(3, {&kit_->root_key, &kit_->root2_key}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("sign version 2")));
  EXPECT_THAT(rotate(1, {&kit_->root_key, &kit_->root2_key}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(rotate(2, {&kit_->root_key, &kit_->root2_key}), IsOk());
  EXPECT_EQ(RoleVersion("root"), 2u);
  EXPECT_EQ(RoleVersion("snapshot"), 2u);
  // A device that pinned v1 walks to v2.
  v1::TrustedVersions trusted;
  trusted.set_root(1);
  const v1::CheckResponse check = Check(trusted);
  ASSERT_GE(check.metadata_size(), 1);
  EXPECT_EQ(check.metadata(0).name(), "2.root.json");
  absl::Status refreshed;
  auto verifier = Verify(check.metadata(), &refreshed);
  EXPECT_THAT(refreshed, IsOk());
  EXPECT_EQ(verifier->TrustedVersion("root"), 2u);
}

TEST_F(TrustRepoTest, PublishesCarryTheLayerRoleSignedByItsPublishers) {
  Init();
  const std::string content = "<html>v1</html>";
  v1::PublishHeader good =
      kit_->Publish(*trust_, v1::LAYER_H5, "home", "1", content);
  struct Case {
    std::string name;
    v1::PublishHeader header;
    absl::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    v1::PublishHeader h = good;
    h.clear_layer_role();
    cases.push_back({"no layer role", h, absl::StatusCode::kInvalidArgument,
                     "must carry the h5 role"});
  }
  {
    v1::PublishHeader h = good;
    signing::TargetsMetadata role =
        testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
    role.targets["h5/home@1"] =
        kit_->Target(signing::Layer::kH5, "home", 1, "1", content);
    role.common.version += 2;  // skips one
    role.common.expires = kit_->Expires();
    h.set_layer_role(
        kit_->Sign(signing::ToJson(role), {&kit_->pub_a, &kit_->pub_b}));
    cases.push_back({"not the next version", h, absl::StatusCode::kAborted,
                     "the h5 role changed since you read it (now v1); publish "
                     "again"});
  }
  cases.push_back({"signed by a stranger",
                   kit_->Publish(*trust_, v1::LAYER_H5, "home", "1", content,
                                 {&kit_->stranger}),
                   absl::StatusCode::kPermissionDenied, "publisher keys"});
  cases.push_back({"hotpatch with one key",
                   kit_->Publish(*trust_, v1::LAYER_HOTPATCH, "core", "1",
                                 "fix", {&kit_->pub_a}),
                   absl::StatusCode::kPermissionDenied, "2 of the 2"});
  cases.push_back({"hotpatch with the same key twice",
                   kit_->Publish(*trust_, v1::LAYER_HOTPATCH, "core", "1",
                                 "fix", {&kit_->pub_a, &kit_->pub_a}),
                   absl::StatusCode::kPermissionDenied, "2 of the 2"});
  {
    v1::PublishHeader h = good;
    signing::TargetsMetadata role =
        testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
    role.targets["config/home@1"] =
        kit_->Target(signing::Layer::kConfig, "home", 1, "1", content);
    h.set_layer_role(kit_->Resign(role, {&kit_->pub_a}));
    cases.push_back({"a target outside the layer", h,
                     absl::StatusCode::kPermissionDenied, "outside"});
  }
  {
    v1::PublishHeader h = good;
    h.mutable_statement()->set_version("2");  // the role signs version 1
    cases.push_back({"no target for this upload", h,
                     absl::StatusCode::kInvalidArgument,
                     "exactly one target for home 2"});
  }
  {
    v1::PublishHeader h = good;
    signing::TargetsMetadata role =
        testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
    role.targets["h5/home@5"] =
        kit_->Target(signing::Layer::kH5, "home", 5, "0", "older");
    role.targets["h5/home@4"] =
        kit_->Target(signing::Layer::kH5, "home", 4, "1", content);
    h.set_layer_role(kit_->Resign(role, {&kit_->pub_a}));
    cases.push_back({"a counter below the module's others", h,
                     absl::StatusCode::kInvalidArgument, "use counter 6"});
  }
  {
    v1::PublishHeader h = good;
    signing::TargetsMetadata role =
        testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
    role.targets["h5/home@1"] =
        kit_->Target(signing::Layer::kH5, "home", 1, "1", content);
    role.common.version += 1;
    role.common.expires = clock_.Now() - absl::Seconds(1);
    h.set_layer_role(kit_->Sign(signing::ToJson(role), {&kit_->pub_a}));
    cases.push_back(
        {"an expired role", h, absl::StatusCode::kInvalidArgument, "expired"});
  }
  for (const Case& c : cases) {
    EXPECT_THAT(admin_->ValidateHeader(who_, c.header),
                StatusIs(c.code, HasSubstr(c.message)))
        << c.name;
  }
  EXPECT_THAT(*store_->ListArtifacts("wallet"), IsEmpty());
  EXPECT_EQ(RoleVersion("h5"), 1u);
  EXPECT_EQ(RoleVersion("snapshot"), 1u);

  // The good one: artifact, role, snapshot and timestamp stored together.
  ASSERT_THAT(admin_->PublishBytes(who_, good, content), IsOk());
  EXPECT_EQ(store_->ListArtifacts("wallet")->size(), 1u);
  EXPECT_EQ(RoleVersion("h5"), 2u);
  EXPECT_EQ(RoleVersion("snapshot"), 2u);
  EXPECT_EQ(RoleVersion("timestamp"), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<TrustFile> stored,
                              store_->ListTrustFiles("wallet"));
  uint64_t h5 = 0;
  for (const TrustFile& f : stored) {
    if (f.role == "h5") h5 = f.version;
  }
  EXPECT_EQ(h5, 2u);
  // A retry of the same upload is answered from what is stored.
  STRATA_ASSERT_OK_AND_ASSIGN(v1::PublishResponse again,
                              admin_->PublishBytes(who_, good, content));
  EXPECT_TRUE(again.already_existed());
}

TEST_F(TrustRepoTest, TwoPublishesFromTheSameRoleVersionOneWins) {
  Init();
  v1::PublishHeader first =
      kit_->Publish(*trust_, v1::LAYER_CONFIG, "limits", "1", "{\"a\":1}");
  v1::PublishHeader second =
      kit_->Publish(*trust_, v1::LAYER_CONFIG, "flags", "1", "{\"b\":1}");
  ASSERT_THAT(admin_->PublishBytes(who_, first, "{\"a\":1}"), IsOk());
  EXPECT_THAT(admin_->PublishBytes(who_, second, "{\"b\":1}"),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("config role changed since you read it (now "
                                 "v2); publish again")));
  // Read again, sign again: accepted.
  EXPECT_THAT(admin_->PublishBytes(who_,
                                   kit_->Publish(*trust_, v1::LAYER_CONFIG,
                                                 "flags", "1", "{\"b\":1}"),
                                   "{\"b\":1}"),
              IsOk());
}

TEST_F(TrustRepoTest, AppsWithoutTrustNeedTheDevelopmentFlag) {
  v1::PublishHeader h = testing::ConfigHeader("limits", "1", "{}");
  EXPECT_THAT(admin_->PublishBytes(who_, h, "{}"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("strata trust init")));
  AdminCore dev(store_.get(), &clock_, AdminLimits{.require_signatures = false},
                trust_.get());
  EXPECT_THAT(dev.PublishBytes(who_, h, "{}"), IsOk());
  // Once the app has a root of trust, the flag no longer helps.
  Init();
  EXPECT_THAT(
      dev.PublishBytes(who_, testing::ConfigHeader("limits", "2", "y"), "y"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("must carry the config role")));
}

TEST_F(TrustRepoTest, ReleasesUseTheSignedCounterAndTheSignedFacts) {
  Init();
  Publish(v1::LAYER_H5, "home", "1", "one");
  Publish(v1::LAYER_H5, "home", "2", "two");
  Publish(v1::LAYER_H5, "cart", "1", "cart");
  // The server's own counter would say 1; the publishers signed 2.
  STRATA_ASSERT_OK_AND_ASSIGN(v1::Release r,
                              Release(v1::LAYER_H5, "home", "2"));
  EXPECT_EQ(r.artifacts(0).release_sequence(), 2u);
  const v1::CheckResponse check = Check();
  ASSERT_EQ(check.plan().updates_size(), 1);
  const v1::UpdateEntry& e = check.plan().updates(0);
  EXPECT_EQ(e.release_sequence(), 2u);
  EXPECT_EQ(e.statement().version(), "2");
  EXPECT_EQ(e.statement().content_sha256(), Sha256::HexHash("two"));
  EXPECT_EQ(e.statement().size(), 3u);
  EXPECT_THAT(e.signatures(), IsEmpty());
  // A version no publisher signed (stored by a server without trust at the
  // time) cannot be released.
  v1::StoredArtifact unsigned_artifact;
  *unsigned_artifact.mutable_statement() =
      testing::ConfigHeader("legacy", "1", "old").statement();
  ASSERT_THAT(
      store_->PutArtifact(unsigned_artifact,
                          Must(BlobWriter::WriteAll(store_.get(), "old")),
                          nullptr, testing::TestAudit("publish")),
      IsOk());
  EXPECT_THAT(Release(v1::LAYER_CONFIG, "legacy", "1"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has no target signed by the config "
                                 "publishers")));
}

TEST_F(TrustRepoTest, RollBackUsesTheCountersThePublishersSignedAgain) {
  Init();
  Publish(v1::LAYER_H5, "home", "1", "good");
  ASSERT_THAT(Release(v1::LAYER_H5, "home", "1"), IsOk());
  Publish(v1::LAYER_H5, "home", "2", "bad");
  STRATA_ASSERT_OK_AND_ASSIGN(v1::Release bad,
                              Release(v1::LAYER_H5, "home", "2", false));
  EXPECT_EQ(bad.artifacts(0).release_sequence(), 2u);

  v1::SteerReleaseRequest steer;
  steer.set_app_id("wallet");
  steer.set_release_id(bad.release_id());
  steer.set_action(v1::SteerReleaseRequest::ROLL_BACK);
  steer.set_dry_run(true);
  STRATA_ASSERT_OK_AND_ASSIGN(v1::SteerReleaseResponse plan,
                              admin_->releases().Steer(who_, steer));
  ASSERT_EQ(plan.rollback_plan_size(), 1);
  const v1::RollbackArtifact& p = plan.rollback_plan(0);
  EXPECT_EQ(p.version(), "1");
  EXPECT_EQ(p.content_sha256(), Sha256::HexHash("good"));
  EXPECT_EQ(p.size(), 4u);
  EXPECT_EQ(p.min_release_counter(), 2u);
  EXPECT_EQ(plan.release().state(), v1::RELEASE_ROLLING);  // nothing changed

  steer.set_dry_run(false);
  EXPECT_THAT(
      admin_->releases().Steer(who_, steer),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("dry_run")));
  // A role that does not re-approve the content above counter 2.
  {
    signing::TargetsMetadata role =
        testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
    *steer.add_layer_roles() = kit_->Resign(role, {&kit_->pub_a});
    EXPECT_THAT(admin_->releases().Steer(who_, steer),
                StatusIs(absl::StatusCode::kInvalidArgument));
    steer.clear_layer_roles();
  }
  signing::TargetsMetadata role =
      testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
  role.targets["h5/home@3"] =
      kit_->Target(signing::Layer::kH5, "home", 3, "1", "good");
  *steer.add_layer_roles() = kit_->Resign(role, {&kit_->pub_a});
  STRATA_ASSERT_OK_AND_ASSIGN(v1::SteerReleaseResponse done,
                              admin_->releases().Steer(who_, steer));
  EXPECT_EQ(done.release().state(), v1::RELEASE_ROLLED_BACK);
  EXPECT_EQ(done.rollback().artifacts(0).version(), "1");
  EXPECT_EQ(done.rollback().artifacts(0).release_sequence(), 3u);
  EXPECT_EQ(RoleVersion("h5"), 4u);
  // The roll back reaches the 1% release 2 reached: a device in those
  // buckets gets the good content under counter 3; dev-1, outside them,
  // keeps release 1 (counter 1).
  EXPECT_EQ(done.rollback().max_exposure_bp(), 100u);
  const std::string salt = StrCat("release-", bad.release_id());
  std::string reached;
  for (int i = 0; reached.empty(); ++i) {
    const std::string id = StrCat("dev-in-", i);
    if (rollout::BucketOf(salt, id) < 100) reached = id;
  }
  v1::CheckRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id(reached);
  const v1::CheckResponse check = Must(delivery_->Check(req));
  ASSERT_EQ(check.plan().updates_size(), 1);
  EXPECT_EQ(check.plan().updates(0).release_sequence(), 3u);
  EXPECT_EQ(check.plan().updates(0).statement().content_sha256(),
            Sha256::HexHash("good"));
  ASSERT_GE(rollout::BucketOf(salt, "dev-1"), 100u);
  const v1::CheckResponse outside = Check();
  ASSERT_EQ(outside.plan().updates_size(), 1);
  EXPECT_EQ(outside.plan().updates(0).release_sequence(), 1u);
}

TEST_F(TrustRepoTest, LayerRolesAreReplacedByCompareAndSwap) {
  Init();
  Publish(v1::LAYER_H5, "home", "1", "one");
  Publish(v1::LAYER_H5, "cart", "1", "cart");
  ASSERT_THAT(Release(v1::LAYER_H5, "home", "1"), IsOk());
  signing::TargetsMetadata role =
      testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
  v1::PutLayerRoleRequest req;
  req.set_app_id("wallet");
  // Stale version.
  {
    signing::TargetsMetadata stale = role;
    stale.common.version -= 1;
    req.set_role(kit_->Resign(stale, {&kit_->pub_a}));
    EXPECT_THAT(admin_->PutLayerRole(who_, req),
                StatusIs(absl::StatusCode::kAborted, HasSubstr("now v3")));
  }
  // Withdrawing what a live release uses.
  {
    signing::TargetsMetadata withdrawn = role;
    withdrawn.targets.erase("h5/home@1");
    req.set_role(kit_->Resign(withdrawn, {&kit_->pub_a}));
    EXPECT_THAT(admin_->PutLayerRole(who_, req),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("h5/home@1, which a live release uses")));
  }
  // Only publishers of the app.
  req.set_role(kit_->Resign(role, {&kit_->pub_a}));
  EXPECT_THAT(admin_->PutLayerRole(Principal{"v", v1::ROLE_VIEWER, "*"}, req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Withdrawing an unreleased target: fine.
  signing::TargetsMetadata ok = role;
  ok.targets.erase("h5/cart@1");
  req.set_role(kit_->Resign(ok, {&kit_->pub_b}));
  STRATA_ASSERT_OK_AND_ASSIGN(v1::TrustInfo info,
                              admin_->PutLayerRole(who_, req));
  EXPECT_EQ(RoleVersion("h5"), 4u);
  EXPECT_EQ(info.layer_roles().at("h5"), req.role());
}

TEST_F(TrustRepoTest, ExpiredRootStillStartsButRefusesPublishesAndReleases) {
  kit_->lifetime = absl::Hours(24 * 10);
  Init();
  kit_->lifetime = absl::Hours(24 * 365);
  Publish(v1::LAYER_H5, "home", "1", "one");
  // Warned ahead.
  const v1::TrustInfo soon = Info();
  EXPECT_THAT(soon.warnings(),
              ::testing::Contains(HasSubstr("root expires in 10 days")));
  clock_.Advance(absl::Hours(24 * 11));
  Reopen();
  const v1::TrustInfo expired = Info();
  EXPECT_THAT(expired.warnings(),
              ::testing::Contains(HasSubstr("root expired at")));
  EXPECT_THAT(
      admin_->PublishBytes(
          who_, kit_->Publish(*trust_, v1::LAYER_H5, "home", "2", "two"),
          "two"),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("root of trust for app wallet expired at")));
  EXPECT_THAT(Release(v1::LAYER_H5, "home", "1"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("strata trust rotate root")));
}

TEST_F(TrustRepoTest, RepositorySurvivesARestartAndTheDirectorKeepsCounting) {
  const v1::SetTrustRequest init = kit_->Init();
  pinned_root_ = init.root();
  ASSERT_THAT(admin_->SetTrust(who_, init), IsOk());
  v1::SetTrustRequest rotate;
  rotate.set_app_id("wallet");
  rotate.set_root(kit_->Sign(
      signing::ToJson(kit_->Root(2, kit_->root2_key, kit_->targets_key)),
      {&kit_->root_key, &kit_->root2_key}));
  ASSERT_THAT(admin_->SetTrust(who_, rotate), IsOk());
  Publish(v1::LAYER_H5, "home", "1", "one");
  ASSERT_THAT(Release(v1::LAYER_H5, "home", "1"), IsOk());
  (void)Check();
  const v1::TrustedVersions before = trust_->View("wallet")->Versions();
  EXPECT_GE(before.director(), 1u);

  Reopen();
  std::shared_ptr<const TrustView> view = trust_->View("wallet");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->roots.size(), 2u);
  EXPECT_TRUE(Same(view->Versions(), before));
  // A change after the restart signs a higher director version.
  Publish(v1::LAYER_H5, "home", "2", "two");
  ASSERT_THAT(Release(v1::LAYER_H5, "home", "2"), IsOk());
  const v1::CheckResponse check = Check();
  EXPECT_GT(trust_->View("wallet")->director.version, before.director());
  absl::Status refreshed;
  auto verifier = Verify(check.metadata(), &refreshed);
  EXPECT_THAT(refreshed, IsOk());
  EXPECT_EQ(verifier->TrustedVersion("root"), 2u);
}

TEST_F(TrustRepoTest, OnlineRolesAreResignedWhenHalfTheirLifeIsGone) {
  Init();
  (void)Check();  // signs the director
  const TrustView first = *trust_->View("wallet");
  clock_.Advance(absl::Hours(11));
  EXPECT_EQ(*trust_->RefreshExpiring(), 0);
  clock_.Advance(absl::Hours(2));  // 13h of 24h
  EXPECT_EQ(*trust_->RefreshExpiring(), 1);
  const TrustView second = *trust_->View("wallet");
  EXPECT_EQ(second.timestamp.version, first.timestamp.version + 1);
  EXPECT_EQ(second.director.version, first.director.version + 1);
  EXPECT_EQ(second.snapshot.version, first.snapshot.version);
  EXPECT_EQ(second.timestamp.expires, clock_.Now() + absl::Hours(24));
  clock_.Advance(absl::Hours(24 * 4));  // past half the snapshot's 7 days
  EXPECT_EQ(*trust_->RefreshExpiring(), 1);
  const TrustView third = *trust_->View("wallet");
  EXPECT_EQ(third.snapshot.version, first.snapshot.version + 1);
  EXPECT_EQ(third.timestamp.version, second.timestamp.version + 1);
  // Stored: a restart serves the re-signed files.
  Reopen();
  EXPECT_TRUE(Same(trust_->View("wallet")->Versions(), third.Versions()));
}

TEST_F(TrustRepoTest, RotatedOnlineKeysSignAtOnce) {
  Init();
  EXPECT_THAT(
      admin_->GenerateOnlineKeys(Principal{"a", v1::ROLE_ADMIN, "wallet"}, {}),
      StatusIs(absl::StatusCode::kPermissionDenied));
  v1::GenerateOnlineKeysRequest req;
  req.add_roles("snapshot");
  STRATA_ASSERT_OK_AND_ASSIGN(v1::GenerateOnlineKeysResponse generated,
                              admin_->GenerateOnlineKeys(who_, req));
  ASSERT_EQ(generated.keys_size(), 1);
  const v1::OnlineKey fresh = generated.keys(0);
  EXPECT_FALSE(fresh.in_use());
  // 0700 directory, 0600 file named after role and key id.
  struct stat st;
  const std::string dir = JoinPath(dir_.path(), "online-keys");
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const std::string file =
      JoinPath(dir, StrCat("snapshot-", fresh.key_id().substr(0, 16), ".key"));
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Root v2 lists only the new snapshot key.
  signing::RootMetadata root = kit_->Root(2, kit_->root_key, kit_->targets_key);
  root.roles["snapshot"].keyids = {fresh.key_id()};
  v1::SetTrustRequest rotate;
  rotate.set_app_id("wallet");
  rotate.set_root(kit_->Sign(signing::ToJson(root), {&kit_->root_key}));
  ASSERT_THAT(admin_->SetTrust(who_, rotate), IsOk());
  const signing::SignedMetadata snapshot = Must(signing::SignedMetadata::Parse(
      trust_->View("wallet")->snapshot.bytes, "snapshot"));
  ASSERT_EQ(snapshot.signatures().size(), 1u);
  EXPECT_EQ(snapshot.signatures()[0].keyid, fresh.key_id());
  EXPECT_THAT(signing::VerifyThreshold(snapshot, root.keys,
                                       root.roles["snapshot"], "snapshot"),
              IsOk());
}

TEST_F(TrustRepoTest, ARevokedPublisherKeyMustBeReplacedInTheSameChange) {
  Init();
  // Publisher b signs h5 alone.
  Publish(v1::LAYER_H5, "home", "1", "one");
  {
    signing::TargetsMetadata role =
        testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
    v1::PutLayerRoleRequest req;
    req.set_app_id("wallet");
    req.set_role(kit_->Resign(role, {&kit_->pub_b}));
    ASSERT_THAT(admin_->PutLayerRole(who_, req), IsOk());
  }
  // targets v2 delegates every layer to a and c: b is revoked.
  signing::TargetsMetadata targets = kit_->Targets(2);
  for (signing::DelegatedRole& r : targets.delegations->roles) {
    r.keyids.clear();
    r.threshold = 1;
  }
  targets.delegations->keys.clear();
  for (const signing::DelegatedRole& r :
       std::vector<signing::DelegatedRole>(targets.delegations->roles)) {
    targets.delegations->AddKey(r.name, kit_->pub_a.public_key());
    targets.delegations->AddKey(r.name, kit_->pub_c.public_key());
  }
  v1::SetTrustRequest req;
  req.set_app_id("wallet");
  req.set_targets(kit_->Sign(signing::ToJson(targets), {&kit_->targets_key}));
  EXPECT_THAT(admin_->SetTrust(who_, req),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("installed h5 role v3 is not signed")));
  // With the h5 role re-signed by a, the change goes in.
  signing::TargetsMetadata role =
      testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
  *req.add_layer_roles() = kit_->Resign(role, {&kit_->pub_a});
  ASSERT_THAT(admin_->SetTrust(who_, req), IsOk());
  EXPECT_EQ(RoleVersion("targets"), 2u);
  EXPECT_EQ(RoleVersion("h5"), 4u);
  STRATA_ASSERT_OK_AND_ASSIGN(v1::Release r,
                              Release(v1::LAYER_H5, "home", "1"));
  EXPECT_EQ(r.artifacts(0).release_sequence(), 1u);
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

// What a device computes from the metadata of its own Check, against what
// the server's plan offers it.
struct DeviceView {
  std::string cohort;  // "treatment", "control", "outside", "allowed"
  const v1::UpdateEntry* entry = nullptr;
};

TEST_F(TrustRepoTest, TheSignedDirectorGivesEachDeviceExactlyThePlan) {
  const v1::SetTrustRequest init = kit_->Init();
  pinned_root_ = init.root();
  ASSERT_THAT(admin_->SetTrust(who_, init), IsOk());
  v1::Segment android;
  android.set_app_id("wallet");
  android.set_name("android");
  android.set_expression("os == \"android\"");
  android.add_allow_user_ids("tester-1");
  ASSERT_THAT(admin_->PutSegment(who_, android), IsOk());
  // v1 for everyone (completed), v2 to half of the android segment, and a
  // config switch to the android segment at once.
  Publish(v1::LAYER_H5, "home", "1", "home one");
  STRATA_ASSERT_OK_AND_ASSIGN(v1::Release everyone,
                              Release(v1::LAYER_H5, "home", "1"));
  Publish(v1::LAYER_H5, "home", "2", "home two");
  Publish(v1::LAYER_CONFIG, "flags", "1", "{\"new\":true}");
  v1::CreateReleaseRequest staged;
  staged.set_app_id("wallet");
  v1::ReleaseArtifact* a = staged.add_artifacts();
  *a->mutable_module() = Module(v1::LAYER_H5, "home");
  a->set_version("2");
  a = staged.add_artifacts();
  *a->mutable_module() = Module(v1::LAYER_CONFIG, "flags");
  a->set_version("1");
  staged.set_segment("android");
  v1::RolloutStage* stage = staged.add_stages();
  stage->set_exposure_bp(5000);
  stage->set_bake_seconds(3600);
  staged.add_stages()->set_exposure_bp(10000);
  STRATA_ASSERT_OK_AND_ASSIGN(v1::Release rolling,
                              admin_->CreateRelease(who_, staged));
  ASSERT_EQ(rolling.state(), v1::RELEASE_ROLLING);

  std::map<std::string, int> seen;
  for (int i = 0; i < 60; ++i) {
    v1::CheckRequest req;
    v1::DeviceContext& ctx = *req.mutable_device();
    ctx.set_app_id("wallet");
    ctx.set_device_id(StrCat("dev-", i));
    ctx.set_app_version("10.3.0");
    ctx.set_os(i % 3 == 0 ? "ios" : "android");
    if (i == 0) ctx.set_user_id("tester-1");  // ios, but allow-listed
    req.mutable_trusted()->set_root(1);
    STRATA_ASSERT_OK_AND_ASSIGN(v1::CheckResponse check, delivery_->Check(req));

    // The device's side: its own verifier, fed with the response.
    signing::VerifierOptions options;
    options.state_dir = JoinPath(dir_.path(), StrCat("device-", i));
    options.pinned_root = pinned_root_;
    auto verifier = Must(signing::Verifier::Open(
        Env{PosixFileSystem(), &clock_, nullptr}, options));
    signing::InMemoryMetadataSource source;
    for (const auto& f : check.metadata()) source.Put(f.name(), f.content());
    ASSERT_THAT(verifier->Refresh(source), IsOk()) << ctx.device_id();
    signing::DeviceInfo device;
    device.app_id = "wallet";
    device.device_id = ctx.device_id();
    device.user_id = ctx.user_id();
    device.app_version = ctx.app_version();
    device.attributes = ToAttributes(ctx);

    std::map<std::string, const v1::UpdateEntry*> plan;
    for (const v1::UpdateEntry& e : check.plan().updates()) {
      plan[e.module().name()] = &e;
    }
    for (const auto& [layer, module] :
         std::vector<std::pair<signing::Layer, std::string>>{
             {signing::Layer::kH5, "home"},
             {signing::Layer::kConfig, "flags"}}) {
      absl::StatusOr<signing::VerifiedTarget> t =
          verifier->ResolveModule(device, layer, module);
      auto entry = plan.find(module);
      if (!t.ok()) {
        EXPECT_TRUE(absl::IsNotFound(t.status())) << t.status();
        EXPECT_EQ(entry, plan.end())
            << ctx.device_id() << " " << module
            << ": the server offers what the director does not assign";
        continue;
      }
      ASSERT_NE(entry, plan.end())
          << ctx.device_id() << " " << module
          << ": the director assigns what the server does not offer";
      EXPECT_EQ(t->sha256, entry->second->statement().content_sha256());
      EXPECT_EQ(t->length, entry->second->statement().size());
      EXPECT_EQ(t->artifact->release_counter,
                entry->second->release_sequence());
      EXPECT_EQ(t->release_id, entry->second->release_id());
    }
    EXPECT_EQ(plan.size(), check.plan().updates_size() + 0u);
    // Which cohort this device was in, by what the plan says.
    const v1::UpdateEntry* home = plan.count("home") ? plan["home"] : nullptr;
    ASSERT_NE(home, nullptr) << "every device gets some h5/home";
    if (ctx.os() == "ios") {
      ++seen[ctx.user_id() == "tester-1" ? "allowed" : "outside"];
    } else {
      ++seen[home->release_id() == rolling.release_id() ? "treatment"
                                                        : "control"];
    }
    if (home->release_id() == everyone.release_id()) {
      EXPECT_EQ(plan.count("flags"), 0u);
    }
  }
  EXPECT_EQ(seen["allowed"], 1);
  EXPECT_GT(seen["outside"], 0);
  EXPECT_GT(seen["treatment"], 0);
  EXPECT_GT(seen["control"], 0);
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST_F(TrustRepoTest, ADraftStartsOnlyWhileItsTargetsAreSigned) {
  Init();
  Publish(v1::LAYER_H5, "home", "1", "one");
  v1::CreateReleaseRequest req;
  req.set_app_id("wallet");
  *req.mutable_module() = Module(v1::LAYER_H5, "home");
  req.set_version("1");
  req.set_draft(true);
  STRATA_ASSERT_OK_AND_ASSIGN(v1::Release draft,
                              admin_->CreateRelease(who_, req));
  // Drafts are not live: the publishers may withdraw its target...
  signing::TargetsMetadata role =
      testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
  role.targets.erase("h5/home@1");
  v1::PutLayerRoleRequest put;
  put.set_app_id("wallet");
  put.set_role(kit_->Resign(role, {&kit_->pub_a}));
  ASSERT_THAT(admin_->PutLayerRole(who_, put), IsOk());
  // ...and then it cannot start.
  v1::SteerReleaseRequest start;
  start.set_app_id("wallet");
  start.set_release_id(draft.release_id());
  start.set_action(v1::SteerReleaseRequest::START);
  EXPECT_THAT(admin_->releases().Steer(who_, start),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("h5/home@1, which the h5 publishers no "
                                 "longer sign")));
}

TEST_F(TrustRepoTest, ALiveTargetKeepsItsContent) {
  Init();
  Publish(v1::LAYER_H5, "home", "1", "one");
  ASSERT_THAT(Release(v1::LAYER_H5, "home", "1"), IsOk());
  signing::TargetsMetadata role =
      testing::TrustKit::Current(*trust_, "wallet", signing::Layer::kH5);
  role.targets["h5/home@1"] =
      kit_->Target(signing::Layer::kH5, "home", 1, "1", "other bytes");
  v1::PutLayerRoleRequest put;
  put.set_app_id("wallet");
  put.set_role(kit_->Resign(role, {&kit_->pub_a}));
  EXPECT_THAT(admin_->PutLayerRole(who_, put),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("changes the content of target h5/home@1")));
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST_F(TrustRepoTest, TheDirectorIsSignedOnTheChangeNotOnChecks) {
  Init();
  const uint64_t at_init = trust_->View("wallet")->director.version;
  EXPECT_EQ(at_init, 1u);  // signed when the trust was installed
  Publish(v1::LAYER_H5, "home", "1", "one");
  ASSERT_THAT(Release(v1::LAYER_H5, "home", "1"), IsOk());
  const uint64_t at_release = trust_->View("wallet")->director.version;
  EXPECT_EQ(at_release, at_init + 1);
  for (int i = 0; i < 5; ++i) (void)Check();
  EXPECT_EQ(trust_->View("wallet")->director.version, at_release);
  // A change that leaves the selection as it was signs nothing new.
  v1::Segment unused;
  unused.set_app_id("wallet");
  unused.set_name("unused");
  unused.set_expression("os == \"ios\"");
  ASSERT_THAT(admin_->PutSegment(who_, unused), IsOk());
  EXPECT_EQ(trust_->View("wallet")->director.version, at_release);
}

}  // namespace
}  // namespace strata::server
