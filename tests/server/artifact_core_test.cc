// Published versions inside the server cores: the content checks of a
// publish (nothing stored on refusal), immutable versions, the inventory,
// yanks (releases halted, devices no longer offered the version, content
// deleted once nothing references it) and config schemas.
#include "strata/server/core/artifact_core.h"

#include <cstdio>
#include <cstring>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/blob_writer.h"
#include "strata/server/core/delivery_core.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A ustar archive with the given entries (type '0' files, '2' symlinks).
std::string Tar(
    const std::vector<std::tuple<std::string, char, std::string>>& entries) {
  std::string out;
  for (const auto& [name, type, data] : entries) {
    char h[512] = {};
    std::memcpy(h, name.data(), name.size());
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(
        h + 124, 12, "%011llo",
        static_cast<unsigned long long>(type == '2' ? 0 : data.size()));
    std::memset(h + 148, ' ', 8);
    h[156] = type;
    if (type == '2') std::memcpy(h + 157, data.data(), data.size());
    std::memcpy(h + 257,
                "ustar\0"
                "00",
                8);
    unsigned sum = 0;
    for (unsigned char c : std::string_view(h, 512)) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
    out.append(h, 512);
    if (type != '2') {
      out += data;
      out.append((512 - data.size() % 512) % 512, '\0');
    }
  }
  out.append(1024, '\0');
  return out;
}

class ArtifactCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    admin_ = std::make_unique<AdminCore>(
        store_.get(), &clock_, AdminLimits{.require_signatures = false});
    delivery_ = std::make_unique<DeliveryCore>(store_.get(), &clock_,
                                               DeliveryOptions{});
    admin_->OnReleasesChanged(
        [this](const std::string& app) { delivery_->ReleasesChanged(app); });
  }
  ArtifactCore& artifacts() { return admin_->artifacts(); }

  static v1::PublishHeader Header(v1::Layer layer, const std::string& module,
                                  const std::string& version,
                                  const std::string& content) {
    v1::PublishHeader h = testing::ConfigHeader(module, version, content);
    h.mutable_statement()->mutable_module()->set_layer(layer);
    return h;
  }
  absl::StatusOr<v1::PublishResponse> Publish(v1::Layer layer,
                                              const std::string& module,
                                              const std::string& version,
                                              const std::string& content,
                                              bool allow_empty = false) {
    v1::PublishHeader h = Header(layer, module, version, content);
    h.set_allow_empty(allow_empty);
    return admin_->PublishBytes(admin_principal_, h, content);
  }
  uint64_t Release(v1::Layer layer, const std::string& module,
                   const std::string& version, bool all_at_once = true) {
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    r.mutable_module()->set_layer(layer);
    r.mutable_module()->set_name(module);
    r.set_version(version);
    if (all_at_once) {
      r.set_all_at_once(true);
    } else {
      r.add_stages()->set_exposure_bp(10000);
      r.mutable_stages(0)->set_bake_seconds(3600);
    }
    absl::StatusOr<v1::Release> created =
        admin_->CreateRelease(admin_principal_, r);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->release_id() : 0;
  }
  absl::StatusOr<v1::YankArtifactResponse> Yank(
      v1::Layer layer, const std::string& module, const std::string& version,
      const std::string& reason = "leaks a key") {
    v1::YankArtifactRequest req;
    req.set_app_id("wallet");
    req.mutable_module()->set_layer(layer);
    req.mutable_module()->set_name(module);
    req.set_version(version);
    req.set_reason(reason);
    return artifacts().Yank(release_manager_, req);
  }
  v1::ArtifactInfo Get(v1::Layer layer, const std::string& module,
                       const std::string& version) {
    v1::GetArtifactRequest req;
    req.set_app_id("wallet");
    req.mutable_module()->set_layer(layer);
    req.mutable_module()->set_name(module);
    req.set_version(version);
    absl::StatusOr<v1::ArtifactInfo> info =
        artifacts().Get(admin_principal_, req);
    EXPECT_THAT(info, IsOk());
    return info.ok() ? *info : v1::ArtifactInfo();
  }
  // What a fresh device and one that has `installed_sha` (of module) are
  // offered.
  v1::CheckResponse Check(const std::string& device,
                          const std::string& module = "",
                          const std::string& installed_sha = "",
                          uint64_t sequence = 0) {
    v1::CheckRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id(device);
    if (!installed_sha.empty()) {
      v1::InstalledModule* m = req.add_installed();
      m->mutable_module()->set_layer(v1::LAYER_H5);
      m->mutable_module()->set_name(module);
      m->set_content_sha256(installed_sha);
      m->set_release_sequence(sequence);
    }
    absl::StatusOr<v1::CheckResponse> r = delivery_->Check(req);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : v1::CheckResponse();
  }
  std::vector<v1::AuditEntry> Audit() {
    absl::StatusOr<std::vector<v1::AuditEntry>> a =
        admin_->ListAudit(admin_principal_, 0, 0);
    EXPECT_THAT(a, IsOk());
    return a.ok() ? *a : std::vector<v1::AuditEntry>();
  }
  bool BlobExists(const std::string& content) {
    absl::StatusOr<std::optional<BlobManifest>> m =
        store_->GetBlobManifest(Sha256::HexHash(content));
    EXPECT_THAT(m, IsOk());
    return m.ok() && m->has_value();
  }

  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AdminCore> admin_;
  std::unique_ptr<DeliveryCore> delivery_;
  Principal admin_principal_ = testing::AdminPrincipal();
  Principal release_manager_{"rm-alice", v1::ROLE_RELEASE_MANAGER, "wallet"};
};

TEST_F(ArtifactCoreTest, EmptyContentIsRefusedUnlessAllowed) {
  EXPECT_THAT(Publish(v1::LAYER_CONFIG, "limits", "1", ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config/limits@1 is empty (0 bytes); "
                                 "nothing is stored")));
  EXPECT_THAT(
      Publish(v1::LAYER_H5, "home", "1", ""),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--allow-empty")));
  // Nothing was stored: the app is still unknown to the server.
  EXPECT_THAT(artifacts().List(admin_principal_,
                               [] {
                                 v1::ListArtifactsRequest r;
                                 r.set_app_id("wallet");
                                 return r;
                               }()),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("app wallet is not known")));
  EXPECT_THAT(Publish(v1::LAYER_CONFIG, "limits", "1", "", true), IsOk());
  // A tree without files is empty content too.
  EXPECT_THAT(Publish(v1::LAYER_H5, "home", "1", Tar({{"web/", '5', ""}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds no files")));
}

TEST_F(ArtifactCoreTest, ConfigMustBeAJsonObject) {
  EXPECT_THAT(
      Publish(v1::LAYER_CONFIG, "limits", "1", "{\"a\": 1,}"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("config/limits@1 is not valid JSON: invalid JSON at "
                         "byte ")));
  EXPECT_THAT(Publish(v1::LAYER_CONFIG, "limits", "1", "[1, 2]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be a JSON object (a key/value "
                                 "document); its top level is array")));
  // Standard JSON numbers are fine.
  EXPECT_THAT(Publish(v1::LAYER_CONFIG, "limits", "1", R"({"rate": 0.25})"),
              IsOk());
  // Other layers are opaque bytes.
  EXPECT_THAT(Publish(v1::LAYER_HCF, "cart", "1", "not json"), IsOk());
  // Nothing of the refused attempts was stored: one publish in the log.
  int publishes = 0;
  for (const v1::AuditEntry& e : Audit()) publishes += e.action() == "publish";
  EXPECT_EQ(publishes, 2);
}

TEST_F(ArtifactCoreTest, TreesMustStayInsideThemselves) {
  EXPECT_THAT(Publish(v1::LAYER_H5, "home", "1",
                      Tar({{"index.html", '0', "<html>"},
                           {"host", '2', "../../etc/hostname"}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("h5/home@1 is a tar archive that cannot be "
                                 "published: archive entry 2")));
  EXPECT_THAT(
      Publish(v1::LAYER_H5, "home", "1", Tar({{"../escape", '0', "x"}})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("\"..\" components are not allowed")));
  EXPECT_THAT(Publish(v1::LAYER_H5, "home", "1",
                      Tar({{"index.html", '0', "<html>"},
                           {"latest", '2', "index.html"}})),
              IsOk());
}

TEST_F(ArtifactCoreTest, SchemasAreCheckedAtPublishAndAudited) {
  v1::SetModuleSchemaRequest set;
  set.set_app_id("wallet");
  set.mutable_module()->set_layer(v1::LAYER_CONFIG);
  set.mutable_module()->set_name("limits");
  set.set_schema(R"({"type":"object","required":["daily"],
                     "properties":{"daily":{"type":"integer","maximum":5000}}})");
  // Publishers cannot change what their publishes are checked against.
  EXPECT_THAT(
      artifacts().SetSchema(Principal{"ci", v1::ROLE_PUBLISHER, "wallet"}, set),
      StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_THAT(artifacts().SetSchema(release_manager_, set), IsOk());
  EXPECT_THAT(Publish(v1::LAYER_CONFIG, "limits", "1", R"({"daily": 7000})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config/limits@1 does not match the "
                                 "module's schema: at /daily: 7000 is above "
                                 "the maximum 5000. Nothing is stored")));
  EXPECT_THAT(Publish(v1::LAYER_CONFIG, "limits", "1", R"({"daily": 4000})"),
              IsOk());
  // Unsupported keywords are refused by name; only CONFIG modules have one.
  v1::SetModuleSchemaRequest bad = set;
  bad.set_schema(R"({"type":"string","format":"email"})");
  EXPECT_THAT(artifacts().SetSchema(release_manager_, bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("keyword 'format' is not supported")));
  bad = set;
  bad.mutable_module()->set_layer(v1::LAYER_H5);
  EXPECT_THAT(artifacts().SetSchema(release_manager_, bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("schemas are for CONFIG modules")));
  // Cleared: any JSON object again.
  v1::SetModuleSchemaRequest clear = set;
  clear.clear_schema();
  ASSERT_THAT(artifacts().SetSchema(release_manager_, clear), IsOk());
  EXPECT_THAT(Publish(v1::LAYER_CONFIG, "limits", "2", R"({"daily": 7000})"),
              IsOk());
  std::vector<std::string> actions;
  for (const v1::AuditEntry& e : Audit()) {
    if (e.action().rfind("schema.", 0) == 0) {
      actions.push_back(e.action() + " " + e.actor());
    }
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"schema.set rm-alice",
                                               "schema.clear rm-alice"}));
}

TEST_F(ArtifactCoreTest, OtherContentUnderAVersionSaysVersionsAreImmutable) {
  ASSERT_THAT(Publish(v1::LAYER_CONFIG, "limits", "1", R"({"a":1})"), IsOk());
  // The default idempotency key (app/module/version) is reused by the CLI:
  // the refusal must be about the version, not the key.
  v1::PublishHeader h = Header(v1::LAYER_CONFIG, "limits", "1", R"({"a":2})");
  h.set_idempotency_key("wallet/limits/1");
  EXPECT_THAT(
      admin_->PublishBytes(admin_principal_, h, R"({"a":2})"),
      StatusIs(absl::StatusCode::kAlreadyExists,
               HasSubstr("config/limits@1 is already published with other "
                         "content (sha256 ")));
  EXPECT_THAT(admin_->PublishBytes(admin_principal_, h, R"({"a":2})")
                  .status()
                  .message(),
              HasSubstr("by test-admin); versions are immutable: publish "
                        "this content as a new version"));
  // Refused before any content is taken, too.
  EXPECT_THAT(admin_->ValidateHeader(admin_principal_, h),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(ArtifactCoreTest, ListAndGetShowSizeSignersPublisherAndReleases) {
  v1::PublishHeader h = Header(v1::LAYER_H5, "home", "1", "v1 content");
  v1::Signature* sig = h.add_signatures();
  sig->set_key_id("key-a");
  sig->set_signature("sig");
  ASSERT_THAT(
      admin_->PublishBytes(Principal{"ci-wallet", v1::ROLE_PUBLISHER, "wallet"},
                           h, "v1 content"),
      IsOk());
  clock_.Advance(absl::Minutes(1));
  ASSERT_THAT(Publish(v1::LAYER_H5, "home", "2", "v2 content"), IsOk());
  ASSERT_THAT(Publish(v1::LAYER_CONFIG, "limits", "1", "{}"), IsOk());
  const uint64_t id = Release(v1::LAYER_H5, "home", "1");

  v1::ListArtifactsRequest req;
  req.set_app_id("wallet");
  req.set_layer(v1::LAYER_H5);
  STRATA_ASSERT_OK_AND_ASSIGN(v1::ListArtifactsResponse list,
                              artifacts().List(admin_principal_, req));
  ASSERT_EQ(list.artifacts_size(), 2);
  const v1::ArtifactInfo& a = list.artifacts(0);
  EXPECT_EQ(a.statement().version(), "1");
  EXPECT_EQ(a.statement().size(), 10u);
  EXPECT_EQ(a.published_by(), "ci-wallet");
  ASSERT_EQ(a.signer_key_ids_size(), 1);
  EXPECT_EQ(a.signer_key_ids(0), "key-a");
  ASSERT_EQ(a.releases_size(), 1);
  EXPECT_EQ(a.releases(0).release_id(), id);
  EXPECT_EQ(a.releases(0).state(), v1::RELEASE_COMPLETED);
  EXPECT_EQ(list.artifacts(1).releases_size(), 0);
  req.set_layer(v1::LAYER_UNSPECIFIED);
  req.set_module("limits");
  EXPECT_EQ(artifacts().List(admin_principal_, req)->artifacts_size(), 1);
  // Viewers of other apps see nothing.
  EXPECT_THAT(artifacts().List(Principal{"v", v1::ROLE_VIEWER, "mall"}, req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  v1::GetArtifactRequest get;
  get.set_app_id("wallet");
  get.mutable_module()->set_layer(v1::LAYER_H5);
  get.mutable_module()->set_name("home");
  get.set_version("9");
  EXPECT_THAT(artifacts().Get(admin_principal_, get),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("h5/home@9 is not published in app wallet")));
}

TEST_F(ArtifactCoreTest, YankHaltsReleasesStopsOffersAndDeletesTheContent) {
  ASSERT_THAT(Publish(v1::LAYER_H5, "home", "1", "home v1"), IsOk());
  Release(v1::LAYER_H5, "home", "1");
  ASSERT_THAT(Publish(v1::LAYER_H5, "home", "2", "home v2 with a secret"),
              IsOk());
  const uint64_t bad = Release(v1::LAYER_H5, "home", "2");
  const std::string v2_sha = Sha256::HexHash("home v2 with a secret");
  ASSERT_EQ(Check("fresh").plan().updates(0).statement().version(), "2");

  // A release manager's decision, with a reason.
  v1::YankArtifactRequest no_reason;
  no_reason.set_app_id("wallet");
  no_reason.mutable_module()->set_layer(v1::LAYER_H5);
  no_reason.mutable_module()->set_name("home");
  no_reason.set_version("2");
  EXPECT_THAT(artifacts().Yank(release_manager_, no_reason),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("needs a reason")));
  no_reason.set_reason("x");
  EXPECT_THAT(artifacts().Yank(Principal{"ci", v1::ROLE_PUBLISHER, "wallet"},
                               no_reason),
              StatusIs(absl::StatusCode::kPermissionDenied));

  STRATA_ASSERT_OK_AND_ASSIGN(v1::YankArtifactResponse yanked,
                              Yank(v1::LAYER_H5, "home", "2"));
  ASSERT_EQ(yanked.halted_size(), 1);
  EXPECT_EQ(yanked.halted(0).release_id(), bad);
  EXPECT_EQ(yanked.halted(0).state(), v1::RELEASE_HALTED);
  EXPECT_THAT(yanked.halted(0).state_reason(),
              HasSubstr("yanked h5/home@2: leaks a key (rm-alice)"));
  EXPECT_EQ(yanked.artifact().yanked_by(), "rm-alice");
  EXPECT_EQ(yanked.artifact().yank_reason(), "leaks a key");
  // Devices that run it keep it, so its halted release still lists it.
  EXPECT_FALSE(yanked.artifact().content_deleted());
  EXPECT_THAT(yanked.content_kept_because(),
              HasSubstr("release 2 (halted) of app wallet lists h5/home@2: "
                        "devices that run it keep it"));
  EXPECT_TRUE(BlobExists("home v2 with a secret"));

  // No other device is offered it: a fresh one gets v1 again.
  v1::CheckResponse fresh = Check("fresh-2");
  ASSERT_EQ(fresh.plan().updates_size(), 1);
  EXPECT_EQ(fresh.plan().updates(0).statement().version(), "1");
  // One that runs it is not told to change anything.
  EXPECT_EQ(Check("has-v2", "home", v2_sha, 2).plan().updates_size(), 0);

  // Never again: not as a release, not resumed, not published.
  v1::CreateReleaseRequest again;
  again.set_app_id("wallet");
  again.mutable_module()->set_layer(v1::LAYER_H5);
  again.mutable_module()->set_name("home");
  again.set_version("2");
  again.set_all_at_once(true);
  EXPECT_THAT(admin_->CreateRelease(admin_principal_, again),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("h5/home@2 was yanked by rm-alice (leaks a "
                                 "key)")));
  v1::SteerReleaseRequest resume;
  resume.set_app_id("wallet");
  resume.set_release_id(bad);
  resume.set_action(v1::SteerReleaseRequest::RESUME);
  EXPECT_THAT(admin_->releases().Steer(admin_principal_, resume),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cannot resume release 2")));
  EXPECT_THAT(Publish(v1::LAYER_H5, "home", "2", "home v2 with a secret"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("versions are immutable, so it cannot be "
                                 "published again")));
  EXPECT_THAT(
      Publish(v1::LAYER_H5, "home", "2", "fixed"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was yanked")));

  // Rolling the halted release back moves its devices off it; nothing
  // references the content any more, so it goes.
  v1::SteerReleaseRequest rollback;
  rollback.set_app_id("wallet");
  rollback.set_release_id(bad);
  rollback.set_action(v1::SteerReleaseRequest::ROLL_BACK);
  ASSERT_THAT(admin_->releases().Steer(admin_principal_, rollback), IsOk());
  EXPECT_FALSE(BlobExists("home v2 with a secret"));
  EXPECT_TRUE(Get(v1::LAYER_H5, "home", "2").content_deleted());
  EXPECT_TRUE(BlobExists("home v1"));
  // Devices that had it are told to go back to v1.
  v1::CheckResponse back = Check("has-v2", "home", v2_sha, 2);
  ASSERT_EQ(back.plan().updates_size(), 1);
  EXPECT_EQ(back.plan().updates(0).statement().version(), "1");

  std::vector<std::string> actions;
  for (const v1::AuditEntry& e : Audit()) {
    if (e.action().rfind("artifact.", 0) == 0) {
      actions.push_back(e.action() + " " + e.actor());
      if (e.action() == "artifact.yank") {
        EXPECT_THAT(e.detail(),
                    HasSubstr("artifact=h5/home@2 sha256=" + v2_sha +
                              " halted=1 release_id=2 "
                              "reason=leaks a key"));
      }
    }
  }
  EXPECT_EQ(actions,
            (std::vector<std::string>{"artifact.yank rm-alice",
                                      "artifact.content_deleted stratad"}));
}

TEST_F(ArtifactCoreTest, UnreleasedOrSharedContent) {
  // Never released: deleted at once.
  ASSERT_THAT(Publish(v1::LAYER_HCF, "cart", "1", "cart bytes"), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(v1::YankArtifactResponse r,
                              Yank(v1::LAYER_HCF, "cart", "1"));
  EXPECT_TRUE(r.artifact().content_deleted());
  EXPECT_EQ(r.content_kept_because(), "");
  EXPECT_EQ(r.halted_size(), 0);
  EXPECT_FALSE(BlobExists("cart bytes"));
  // A second yank changes nothing.
  STRATA_ASSERT_OK_AND_ASSIGN(r, Yank(v1::LAYER_HCF, "cart", "1", "again"));
  EXPECT_TRUE(r.already_yanked());
  EXPECT_EQ(r.artifact().yank_reason(), "leaks a key");

  // The same bytes under another version that is not yanked keep it.
  ASSERT_THAT(Publish(v1::LAYER_HCF, "cart", "2", "shared"), IsOk());
  ASSERT_THAT(Publish(v1::LAYER_HCF, "cart", "3", "shared"), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(r, Yank(v1::LAYER_HCF, "cart", "2"));
  EXPECT_THAT(r.content_kept_because(),
              HasSubstr("hcf/cart@3 of app wallet has the same content and "
                        "is not yanked"));
  EXPECT_TRUE(BlobExists("shared"));
  STRATA_ASSERT_OK_AND_ASSIGN(r, Yank(v1::LAYER_HCF, "cart", "3"));
  EXPECT_TRUE(r.artifact().content_deleted());
  EXPECT_FALSE(BlobExists("shared"));
  EXPECT_TRUE(Get(v1::LAYER_HCF, "cart", "2").content_deleted());
}

TEST_F(ArtifactCoreTest, YankHaltsRollingReleasesAndKeptContentGoesAtStart) {
  ASSERT_THAT(Publish(v1::LAYER_H5, "home", "1", "staged bytes"), IsOk());
  const uint64_t id = Release(v1::LAYER_H5, "home", "1", /*all_at_once=*/false);
  STRATA_ASSERT_OK_AND_ASSIGN(v1::YankArtifactResponse r,
                              Yank(v1::LAYER_H5, "home", "1"));
  ASSERT_EQ(r.halted_size(), 1);
  EXPECT_EQ(r.halted(0).release_id(), id);
  EXPECT_FALSE(r.artifact().content_deleted());
  EXPECT_EQ(Check("fresh").plan().updates_size(), 0);
  // A roll back needs an earlier completed release; change the record as a
  // stratad restarted after one would find it: the start-up collection
  // deletes the content nothing references any more.
  STRATA_ASSERT_OK_AND_ASSIGN(std::optional<v1::Release> rec,
                              store_->GetRelease("wallet", id));
  rec->set_state(v1::RELEASE_ROLLED_BACK);
  ASSERT_THAT(store_->UpdateRelease(*rec, testing::TestAudit("test")), IsOk());
  delivery_.reset();
  admin_.reset();
  store_.reset();
  Open();
  EXPECT_TRUE(BlobExists("staged bytes"));
  ASSERT_THAT(artifacts().CollectYanked(""), IsOk());
  EXPECT_FALSE(BlobExists("staged bytes"));
}

TEST_F(ArtifactCoreTest, DeltasToYankedContentGoWithIt) {
  ASSERT_THAT(Publish(v1::LAYER_HCF, "cart", "1", std::string(5000, 'a')),
              IsOk());
  ASSERT_THAT(
      Publish(v1::LAYER_HCF, "cart", "2", std::string(5000, 'a') + "secret"),
      IsOk());
  const std::string from = Sha256::HexHash(std::string(5000, 'a'));
  const std::string to = Sha256::HexHash(std::string(5000, 'a') + "secret");
  STRATA_ASSERT_OK_AND_ASSIGN(BlobManifest patch,
                              BlobWriter::WriteAll(store_.get(), "patch"));
  v1::StoredDelta d;
  d.set_from_sha256(from);
  d.set_to_sha256(to);
  d.set_patch_sha256(patch.sha256);
  d.set_patch_size(patch.size);
  d.set_worthwhile(true);
  STRATA_ASSERT_OK_AND_ASSIGN(BlobManifest tree,
                              BlobWriter::WriteAll(store_.get(), "tree patch"));
  d.set_tree_patch_sha256(tree.sha256);
  d.set_tree_patch_size(tree.size);
  ASSERT_THAT(store_->PutDelta(d, &patch, &tree), IsOk());
  EXPECT_TRUE(BlobExists("tree patch"));
  ASSERT_THAT(Yank(v1::LAYER_HCF, "cart", "2"), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(std::optional<v1::StoredDelta> gone,
                              store_->GetDelta(from, to));
  EXPECT_FALSE(gone.has_value());
  EXPECT_FALSE(BlobExists("patch"));
  EXPECT_FALSE(BlobExists("tree patch"));
}

}  // namespace
}  // namespace strata::server
