// Publishes are checked against the installed root of trust before any
// content is taken: signatures, thresholds, key delegation, root rotation.
#include "strata/server/core/publish_trust.h"

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/proto/statement_signing.h"
#include "strata/server/core/admin_core.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

signing::PrivateKey Key(char seed) {
  return *signing::PrivateKey::FromSeed(std::string(32, seed));
}

class PublishTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    admin_ = std::make_unique<AdminCore>(store_.get(), &clock_);
  }

  // Root v`version` signed by `signers`; targets delegating every layer to
  // publishers a and b, hotpatch needing both.
  v1::SetTrustRequest Trust(uint64_t version,
                            std::vector<const signing::PrivateKey*> signers,
                            const signing::PrivateKey& root_key,
                            absl::Duration valid = absl::Hours(24 * 30)) {
    signing::RootMetadata root;
    root.common.version = version;
    root.common.expires = clock_.Now() + valid;
    root.AddKey("root", root_key.public_key());
    for (const char* role : {"targets", "snapshot", "timestamp"}) {
      root.AddKey(role, targets_key_.public_key());
    }
    signing::TargetsMetadata targets;
    targets.common.version = 1;
    targets.common.expires = clock_.Now() + valid;
    targets.delegations =
        signing::LayerDelegations({{signing::Layer::kHotpatch, 2}});
    for (const auto* k : {&pub_a_, &pub_b_}) {
      targets.delegations->keys.emplace(k->KeyId(), k->public_key());
      for (auto& r : targets.delegations->roles) r.keyids.push_back(k->KeyId());
    }
    v1::SetTrustRequest req;
    req.set_root(*signing::SignToBytes(signing::ToJson(root), signers));
    req.set_targets(
        *signing::SignToBytes(signing::ToJson(targets), {&targets_key_}));
    return req;
  }

  v1::PublishHeader Signed(v1::Layer layer, const std::string& content,
                           std::vector<const signing::PrivateKey*> keys) {
    v1::PublishHeader h = testing::ConfigHeader("m", "1", content);
    h.mutable_statement()->mutable_module()->set_layer(layer);
    if (layer == v1::LAYER_HOTPATCH) {
      h.mutable_statement()->mutable_compatibility()->set_host_build(
          "10.3.0-b77");
    }
    for (const auto* k : keys) {
      auto* s = h.add_signatures();
      s->set_key_id(k->KeyId());
      s->set_signature(*k->Sign(StatementSigningBytes(h.statement())));
    }
    return h;
  }

  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AdminCore> admin_;
  Principal admin_principal_ = testing::AdminPrincipal();
  signing::PrivateKey root_key_ = Key('r'), root2_key_ = Key('s'),
                      targets_key_ = Key('t');
  signing::PrivateKey pub_a_ = Key('a'), pub_b_ = Key('b'),
                      stranger_ = Key('x');
};

TEST_F(PublishTrustTest, WithoutARootOfTrustNothingCanBePublished) {
  EXPECT_THAT(
      admin_->PublishBytes(admin_principal_,
                           Signed(v1::LAYER_CONFIG, "x", {&pub_a_}), "x"),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("strata trust init")));
}

TEST_F(PublishTrustTest, SignedPublishesPassAndOthersAreRefusedBeforeStoring) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto resp,
      admin_->SetTrust(admin_principal_, Trust(1, {&root_key_}, root_key_)));
  EXPECT_EQ(resp.root_version(), 1u);
  ASSERT_EQ(resp.layers_size(), 5);
  EXPECT_THAT(
      admin_->PublishBytes(admin_principal_,
                           Signed(v1::LAYER_CONFIG, "ok", {&pub_a_}), "ok"),
      IsOk());
  struct Case {
    std::string name;
    v1::PublishHeader header;
    std::string message;
  };
  v1::PublishHeader tampered = Signed(v1::LAYER_H5, "pkg", {&pub_a_});
  tampered.mutable_statement()->set_version("2");  // signed as version 1
  v1::PublishHeader twice =
      Signed(v1::LAYER_HOTPATCH, "fix", {&pub_a_, &pub_a_});
  const std::vector<Case> cases = {
      {"unsigned", Signed(v1::LAYER_CONFIG, "u", {}), "got 0"},
      {"unknown key", Signed(v1::LAYER_CONFIG, "s", {&stranger_}),
       "is not a config publisher key"},
      {"tampered", tampered, "does not match the statement"},
      {"hotpatch with one", Signed(v1::LAYER_HOTPATCH, "fix", {&pub_a_}),
       "needs 2"},
      {"same key twice", twice, "needs 2 valid publisher signature(s), got 1"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(
        admin_->ValidateHeader(admin_principal_, c.header),
        StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(c.message)))
        << c.name;
  }
  EXPECT_THAT(admin_->PublishBytes(
                  admin_principal_,
                  Signed(v1::LAYER_HOTPATCH, "fix", {&pub_a_, &pub_b_}), "fix"),
              IsOk());
  // Only the two good publishes (and the trust change) reached the store.
  STRATA_ASSERT_OK_AND_ASSIGN(auto artifacts, store_->ListArtifacts("wallet"));
  EXPECT_EQ(artifacts.size(), 2u);
}

TEST_F(PublishTrustTest, RootMetadataMustBeRightlySigned) {
  // Not signed by its own root key.
  EXPECT_THAT(
      admin_->SetTrust(admin_principal_, Trust(1, {&stranger_}, root_key_)),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("own root keys")));
  // Expired.
  EXPECT_THAT(
      admin_->SetTrust(admin_principal_,
                       Trust(1, {&root_key_}, root_key_, -absl::Hours(1))),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expired")));
  // Only admins.
  EXPECT_THAT(admin_->SetTrust(Principal{"ci", v1::ROLE_RELEASE_MANAGER, "*"},
                               Trust(1, {&root_key_}, root_key_)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(store_->GetTrust()->has_value());
}

TEST_F(PublishTrustTest, ANewRootNeedsTheOldRootsSignatureToo) {
  ASSERT_THAT(
      admin_->SetTrust(admin_principal_, Trust(1, {&root_key_}, root_key_)),
      IsOk());
  // A stolen admin token cannot swap in a root of its own making.
  EXPECT_THAT(
      admin_->SetTrust(admin_principal_, Trust(2, {&root2_key_}, root2_key_)),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("current root")));
  // Same version: refused.
  EXPECT_THAT(
      admin_->SetTrust(admin_principal_, Trust(1, {&root_key_}, root_key_)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("raise the version")));
  // Signed by old and new: accepted.
  EXPECT_THAT(admin_->SetTrust(admin_principal_,
                               Trust(2, {&root_key_, &root2_key_}, root2_key_)),
              IsOk());
}

TEST_F(PublishTrustTest, TheRootOfTrustSurvivesARestart) {
  ASSERT_THAT(
      admin_->SetTrust(admin_principal_, Trust(1, {&root_key_}, root_key_)),
      IsOk());
  AdminCore restarted(store_.get(), &clock_);
  ASSERT_THAT(restarted.LoadTrust(), IsOk());
  EXPECT_THAT(
      restarted.PublishBytes(admin_principal_,
                             Signed(v1::LAYER_CONFIG, "ok", {&pub_b_}), "ok"),
      IsOk());
  EXPECT_THAT(restarted.ValidateHeader(admin_principal_,
                                       Signed(v1::LAYER_CONFIG, "n", {})),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace strata::server
