// `strata keys gen`, `trust init|status|rotate`, publishes and roll backs
// on an app with a root of trust, run as the real binaries against a real
// stratad that requires signatures. What the CLI signs is checked with the
// device's own verifier (signing::Verifier) over stratad's HTTP TUF
// repository (/v1/tuf/<app>/...).
#include <sys/stat.h>

#include <future>
#include <vector>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/env.h"
#include "strata/base/http_get.h"
#include "strata/base/sha256.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"
#include "strata/signing/verifier.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// TUF files by name from stratad's HTTP repository of one app.
class HttpMetadataSource : public signing::MetadataSource {
 public:
  explicit HttpMetadataSource(std::string base) : base_(std::move(base)) {}
  absl::StatusOr<std::string> Fetch(
      const signing::FetchRequest& request) override {
    HttpGetOptions options;
    options.max_body_bytes = request.max_length;
    options.timeout = absl::Seconds(10);
    absl::StatusOr<HttpResponse> r =
        HttpGet(base_ + "/" + request.FileName(), options);
    if (!r.ok()) return r.status();
    if (r->status_code == 404) return absl::NotFoundError(request.FileName());
    if (r->status_code != 200) {
      return absl::UnavailableError(
          StrCat(request.FileName(), ": HTTP ", r->status_code));
    }
    return r->body;
  }

 private:
  std::string base_;
};

class CliTrustTest : public CliFixture {
 protected:
  CliTrustTest() { allow_unsigned_ = false; }
  void SetUp() override {
    CliFixture::SetUp();
    keys_ = JoinPath(dir_.path(), "keys");
    ASSERT_EQ(Strata("keys gen --dir " + keys_).exit_code, 0);
  }
  std::string Key(const std::string& name) const {
    return " --key " + JoinPath(keys_, name + ".key");
  }
  CmdResult Init(const std::string& extra = "") {
    return Strata("trust init --keys " + keys_ + " --app wallet" + extra,
                  /*with_stderr=*/true);
  }
  CmdResult PublishConfig(const std::string& module, const std::string& version,
                          const std::string& content, const std::string& keys) {
    const std::string file =
        WriteFile(StrCat("c-", module, "-", version), content);
    return Strata(
        StrCat("publish --app wallet --layer config --module ", module,
               " --version ", version, " --file ", file, keys),
        /*with_stderr=*/true);
  }
  // The app's layer role as stratad holds it.
  signing::TargetsMetadata Role(const std::string& layer) {
    admin::AdminClient client(server_, token_,
                              admin::ChannelSecurity::Plaintext());
    auto info = client.GetTrust("wallet");
    EXPECT_TRUE(info.ok()) << info.status();
    if (!info.ok()) return {};
    auto it = info->layer_roles().find(layer);
    EXPECT_NE(it, info->layer_roles().end()) << layer;
    if (it == info->layer_roles().end()) return {};
    auto md = signing::SignedMetadata::Parse(it->second, layer);
    EXPECT_TRUE(md.ok()) << md.status();
    auto role = signing::ParseTargets(md->signed_part(), layer);
    EXPECT_TRUE(role.ok()) << role.status();
    return role.ok() ? *role : signing::TargetsMetadata{};
  }
  std::string TufBase() const {
    return "http://127.0.0.1:" + http_port_ + "/v1/tuf/wallet";
  }
  // A device's verifier that pinned `root_file` (state in `state`).
  std::unique_ptr<signing::Verifier> Device(const std::string& root_file,
                                            const std::string& state) {
    auto root = PosixFileSystem()->ReadFile(root_file);
    EXPECT_TRUE(root.ok());
    signing::VerifierOptions options;
    options.state_dir = JoinPath(dir_.path(), state);
    options.pinned_root = *root;
    auto v = signing::Verifier::Open(Env::Default(), options);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  }
  absl::Status Refresh(signing::Verifier& v) {
    HttpMetadataSource source(TufBase());
    return v.Refresh(source);
  }

  std::string keys_;
};

TEST_F(CliTrustTest, KeysGenMakesOnlyOfflineKeys) {
  for (const char* name : {"root", "targets", "publisher-a", "publisher-b"}) {
    struct stat st;
    ASSERT_EQ(::stat(JoinPath(keys_, StrCat(name, ".key")).c_str(), &st), 0)
        << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  EXPECT_FALSE(PosixFileSystem()->Exists(JoinPath(keys_, "snapshot.key")));
  EXPECT_FALSE(PosixFileSystem()->Exists(JoinPath(keys_, "timestamp.key")));
}

TEST_F(CliTrustTest, InitWritesARootTheDeviceVerifierPins) {
  CmdResult r = Init();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string root_file = JoinPath(keys_, "root.json");
  EXPECT_THAT(r.out, HasSubstr("Pin " + root_file + " in the app"));
  EXPECT_THAT(r.out, HasSubstr("hotpatch: 2 of 2 keys"));

  // Root v1 lists stratad's online keys and names the app.
  admin::AdminClient client(server_, token_,
                            admin::ChannelSecurity::Plaintext());
  auto info = client.GetTrust("wallet");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->configured());
  auto bytes = PosixFileSystem()->ReadFile(root_file);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, info->root());
  auto md = signing::SignedMetadata::Parse(*bytes, "root");
  ASSERT_TRUE(md.ok());
  auto root = signing::ParseRoot(md->signed_part());
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->common.version, 1u);
  EXPECT_EQ(root->app_id, "wallet");
  EXPECT_TRUE(root->consistent_snapshot);
  ASSERT_TRUE(root->director.has_value());
  for (const v1::OnlineKey& k : info->online_keys()) {
    const std::vector<std::string>& ids = k.role() == "director"
                                              ? root->director->keyids
                                              : root->roles.at(k.role()).keyids;
    EXPECT_THAT(ids, ::testing::Contains(k.key_id())) << k.role();
  }
  // Every layer has an (empty) role signed by its publishers.
  EXPECT_EQ(info->layer_roles().size(), 5u);

  // A device pins it (Open checks it is signed by its own root key) and,
  // once stratad has signed a director (it does on the first publish),
  // verifies the whole repository from it.
  auto device = Device(root_file, "device");
  ASSERT_NE(device, nullptr);
  ASSERT_EQ(PublishConfig("m", "1", "{}", Key("publisher-a")).exit_code, 0);
  absl::Status refreshed = Refresh(*device);
  EXPECT_TRUE(refreshed.ok()) << refreshed;
  EXPECT_EQ(device->TrustedVersion("root"), 1u);
  EXPECT_EQ(device->TrustedVersion("hotpatch"), 1u);
  EXPECT_EQ(device->TrustedVersion("config"), 2u);

  // Again: refused (4), pointing at rotate.
  r = Init();
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("already has a root of trust"));
  EXPECT_THAT(r.out, HasSubstr("strata trust rotate"));
  EXPECT_THAT(r.out, Not(HasSubstr("raise the version")));
}

TEST_F(CliTrustTest, PublishSignsATargetWithTheNextCounter) {
  ASSERT_EQ(Init().exit_code, 0);
  CmdResult r = PublishConfig("limits", "1", "{\"a\":1}", Key("publisher-a"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("as target config/limits@1 in config role v2"));
  r = PublishConfig("limits", "2", "{\"a\":2}", Key("publisher-b"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("config/limits@2"));
  // Other modules count on their own.
  ASSERT_EQ(PublishConfig("other", "7", "{}", Key("publisher-a")).exit_code, 0);

  signing::TargetsMetadata role = Role("config");
  EXPECT_EQ(role.common.version, 4u);
  ASSERT_TRUE(role.targets.count("config/limits@2"));
  const signing::TargetFile& t = role.targets.at("config/limits@2");
  ASSERT_TRUE(t.artifact.has_value());
  EXPECT_EQ(t.artifact->app_id, "wallet");
  EXPECT_EQ(t.artifact->module, "limits");
  EXPECT_EQ(t.artifact->version_label, "2");
  EXPECT_EQ(t.artifact->release_counter, 2u);
  EXPECT_EQ(t.length, 7u);
  EXPECT_EQ(t.hashes.at("sha256"), Sha256::HexHash("{\"a\":2}"));
  EXPECT_TRUE(role.targets.count("config/other@1"));

  // The same content again: nothing new to sign.
  r = PublishConfig("limits", "2", "{\"a\":2}", Key("publisher-a"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("already published"));
  // Other content under a published version: versions are immutable (4).
  r = PublishConfig("limits", "2", "{\"a\":3}", Key("publisher-a"));
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("versions are immutable"));
  EXPECT_EQ(Role("config").common.version, 4u);

  // A device sees the signed target.
  auto device = Device(JoinPath(keys_, "root.json"), "device");
  ASSERT_TRUE(Refresh(*device).ok());
  auto found = device->FindTarget("config/limits@2");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->sha256, Sha256::HexHash("{\"a\":2}"));
}

TEST_F(CliTrustTest, PublishWithoutTheRightKeysIsRefusedBeforeUpload) {
  ASSERT_EQ(Init().exit_code, 0);
  const std::string fix = WriteFile("fix.bin", "hotpatch bytes");
  const std::string hotpatch =
      "publish --app wallet --layer hotpatch --module core --host-build b7 "
      "--version 1 --file " +
      fix;
  // No --key: bad input (2), named.
  CmdResult r = Strata("--output json " + hotpatch);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--key"));
  // One publisher, or a key that is no publisher's: refused (4).
  r = Strata("--output json " + hotpatch + Key("publisher-a"));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("needs 2 distinct publisher key(s)"));
  r = Strata("--output json " + hotpatch + Key("publisher-a") + Key("root"));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("not hotpatch publisher keys"));
  EXPECT_EQ(Role("hotpatch").common.version, 1u);  // nothing sent
  r = Strata(hotpatch + Key("publisher-a") + Key("publisher-b"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Role("hotpatch").targets.count("hotpatch/core@1"), 1u);
  // A hotpatch without its host build.
  r = Strata(
      "publish --app wallet --layer hotpatch --module core --version 2 "
      "--file " +
      fix + Key("publisher-a") + Key("publisher-b"));
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CliTrustTest, ConcurrentPublishesAllLandWithDistinctCounters) {
  ASSERT_EQ(Init().exit_code, 0);
  // A role read before another publish changed it is stale: stratad
  // refuses it (ABORTED) and the CLI signs again from a fresh read.
  admin::AdminClient client(server_, token_,
                            admin::ChannelSecurity::Plaintext());
  auto stale = client.GetTrust("wallet");
  ASSERT_TRUE(stale.ok());
  ASSERT_EQ(PublishConfig("m", "1", "{\"v\":1}", Key("publisher-a")).exit_code,
            0);
  {
    // The stale role with a target for another upload, sent directly.
    auto md = signing::SignedMetadata::Parse(stale->layer_roles().at("config"),
                                             "config");
    ASSERT_TRUE(md.ok());
    auto role = signing::ParseTargets(md->signed_part(), "config");
    ASSERT_TRUE(role.ok());
    const std::string content = "{\"v\":2}";
    signing::ArtifactInfo info;
    info.app_id = "wallet";
    info.layer = signing::Layer::kConfig;
    info.module = "m";
    info.release_counter = 1;
    info.version_label = "2";
    role->targets["config/m@1"] = signing::TargetFileFor(content, info);
    role->common.version += 1;
    auto key = signing::LoadPrivateKey(*PosixFileSystem(),
                                       JoinPath(keys_, "publisher-a.key"));
    ASSERT_TRUE(key.ok());
    auto bytes = signing::SignToBytes(signing::ToJson(*role), {&*key});
    ASSERT_TRUE(bytes.ok());
    v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(v1::LAYER_CONFIG);
    st.mutable_module()->set_name("m");
    st.set_version("2");
    auto sent =
        client.Publish(st, content, "stale", nullptr, {}, false, *bytes);
    EXPECT_EQ(sent.status().code(), absl::StatusCode::kAborted)
        << sent.status();
  }
  // Several CLIs at once, on the same role: each lands, none is lost.
  std::vector<std::future<CmdResult>> runs;
  for (int i = 0; i < 4; ++i) {
    const std::string module = StrCat("c", i);
    const std::string file = WriteFile(module, StrCat("{\"i\":", i, "}"));
    const std::string cmd =
        StrCat("publish --app wallet --layer config --module ", module,
               " --version 1 --file ", file, Key("publisher-a"));
    runs.push_back(std::async(std::launch::async,
                              [this, cmd] { return Strata(cmd, true); }));
  }
  for (auto& run : runs) {
    CmdResult r = run.get();
    EXPECT_EQ(r.exit_code, 0) << r.out;
  }
  signing::TargetsMetadata role = Role("config");
  EXPECT_EQ(role.common.version, 6u);  // init, m, four modules
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(role.targets.count(StrCat("config/c", i, "@1"))) << i;
}

TEST_F(CliTrustTest, RollbackSignsTheContentItPutsBack) {
  ASSERT_EQ(Init().exit_code, 0);
  ASSERT_EQ(PublishConfig("m", "1", "{\"v\":1}", Key("publisher-a")).exit_code,
            0);
  ASSERT_EQ(PublishConfig("m", "2", "{\"v\":2}", Key("publisher-a")).exit_code,
            0);
  const std::string app = " --app wallet";
  ASSERT_EQ(Strata("release create --artifact config/m@1 --all-at-once" + app)
                .exit_code,
            0);
  ASSERT_EQ(
      Strata("release create --artifact config/m@2 --plan 50%:1h,100%" + app)
          .exit_code,
      0);
  // Without keys: bad input (2), named, nothing changed.
  CmdResult r = Strata("--output json release rollback 2 --yes" + app);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--key"));
  EXPECT_THAT(Strata("release status 2" + app).out, HasSubstr("rolling"));
  // A key that is no config publisher's: refused (4).
  r = Strata("release rollback 2 --yes" + Key("root") + app, true);
  EXPECT_EQ(r.exit_code, 4) << r.out;

  r = Strata("release rollback 2 --yes --reason bad" + Key("publisher-b") + app,
             true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("signed config/m@3 (version 1)"));
  EXPECT_THAT(r.out, HasSubstr("rolled back by release 3"));
  // Version 1's content, re-signed above every counter of the module.
  signing::TargetsMetadata role = Role("config");
  ASSERT_TRUE(role.targets.count("config/m@3"));
  const signing::TargetFile& t = role.targets.at("config/m@3");
  EXPECT_EQ(t.hashes.at("sha256"), Sha256::HexHash("{\"v\":1}"));
  EXPECT_EQ(t.artifact->version_label, "1");
  EXPECT_EQ(t.artifact->release_counter, 3u);
}

TEST_F(CliTrustTest, StatusShowsVersionsKeysAndWarnings) {
  CmdResult r = Strata("trust status --app wallet");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("has no root of trust"));
  ASSERT_EQ(Init(" --days 10").exit_code, 0);
  r = Strata("trust status --app wallet");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("root +1 +"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("hotpatch +1 +"));
  EXPECT_THAT(r.out, HasSubstr("snapshot"));
  EXPECT_THAT(r.out, HasSubstr("director"));
  // Ten days left: the offline roles are flagged.
  EXPECT_THAT(r.out, HasSubstr("Warnings"));
  EXPECT_THAT(r.out, HasSubstr("root expires"));
  EXPECT_THAT(r.out, HasSubstr("strata trust rotate root"));
  r = Strata("--output json trust status --app wallet");
  EXPECT_EQ(r.exit_code, 0);
  ExpectJsonLines(r.out, "trust status");
  EXPECT_THAT(r.out, HasSubstr("\"configured\":true"));
  EXPECT_THAT(r.out, HasSubstr("root expires"));
}

TEST_F(CliTrustTest, EveryRotationIsFollowedByAPinnedDevice) {
  ASSERT_EQ(Init().exit_code, 0);
  const std::string v1_root = JoinPath(dir_.path(), "v1.root.json");
  ASSERT_EQ(::link(JoinPath(keys_, "root.json").c_str(), v1_root.c_str()), 0);
  ASSERT_EQ(PublishConfig("m", "1", "{\"v\":1}", Key("publisher-a")).exit_code,
            0);
  // One device follows every step, another only catches up at the end.
  auto follower = Device(v1_root, "follower");
  auto late = Device(v1_root, "late");
  ASSERT_TRUE(Refresh(*follower).ok());
  const std::string rotate = " --keys " + keys_ + " --app wallet";

  CmdResult r = Strata("trust rotate root" + rotate, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("installed root v2"));
  EXPECT_THAT(r.out, HasSubstr("no new app build is needed"));
  EXPECT_TRUE(PosixFileSystem()->Exists(JoinPath(keys_, "2.root.json")));
  EXPECT_TRUE(PosixFileSystem()->Exists(JoinPath(keys_, "retired")));
  ASSERT_TRUE(Refresh(*follower).ok());
  EXPECT_EQ(follower->TrustedVersion("root"), 2u);

  r = Strata("trust rotate targets" + rotate, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("installed root v3"));
  ASSERT_TRUE(Refresh(*follower).ok());
  EXPECT_EQ(follower->TrustedVersion("root"), 3u);
  EXPECT_EQ(follower->TrustedVersion("targets"), 2u);

  const std::string old_a = JoinPath(dir_.path(), "old-a.key");
  ASSERT_EQ(::link(JoinPath(keys_, "publisher-a.key").c_str(), old_a.c_str()),
            0);
  r = Strata("trust rotate publisher --publisher publisher-a" + rotate, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("no new app build is needed"));
  ASSERT_TRUE(Refresh(*follower).ok());
  // The old publisher key no longer signs; the new one (same file) does.
  r = PublishConfig("m", "2", "{\"v\":2}", " --key " + old_a);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  ASSERT_EQ(PublishConfig("m", "2", "{\"v\":2}", Key("publisher-a")).exit_code,
            0);
  ASSERT_TRUE(Refresh(*follower).ok());
  auto target = follower->FindTarget("config/m@2");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_TRUE(follower->FindTarget("config/m@1").ok());  // re-signed, kept

  r = Strata("trust rotate online" + rotate, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("installed root v4"));
  ASSERT_TRUE(Refresh(*follower).ok());
  EXPECT_EQ(follower->TrustedVersion("root"), 4u);
  ASSERT_EQ(PublishConfig("m", "3", "{\"v\":3}", Key("publisher-b")).exit_code,
            0);
  ASSERT_TRUE(Refresh(*follower).ok());
  EXPECT_TRUE(follower->FindTarget("config/m@3").ok());

  // Pinned to v1, three rotations behind: walks 2, 3, 4 in one refresh.
  absl::Status s = Refresh(*late);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(late->TrustedVersion("root"), 4u);
  EXPECT_TRUE(late->FindTarget("config/m@3").ok());

  // A root that expires soon is re-signed the same way.
  r = Strata("--output json trust rotate root" + rotate);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectJsonLines(r.out, "trust rotate root");
  EXPECT_THAT(r.out, HasSubstr("\"root_version\":5"));
}

TEST_F(CliTrustTest, ResignExtendsExpiryWithTheSameKeys) {
  ASSERT_EQ(Init(" --days 10").exit_code, 0);
  ASSERT_EQ(PublishConfig("m", "1", "{}", Key("publisher-a")).exit_code, 0);
  auto device = Device(JoinPath(keys_, "root.json"), "device");
  ASSERT_TRUE(Refresh(*device).ok());
  CmdResult r =
      Strata("trust resign --days 200 --keys " + keys_ + " --app wallet", true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("re-signed targets (v2)"));
  // Every offline role but root now lives 200 days; the target is kept.
  for (const char* layer : {"config", "h5", "hcf", "hotpatch", "native"}) {
    signing::TargetsMetadata role = Role(layer);
    EXPECT_GT(role.common.expires, absl::Now() + absl::Hours(24 * 199))
        << layer;
  }
  EXPECT_EQ(Role("config").common.version, 3u);
  EXPECT_TRUE(Role("config").targets.count("config/m@1"));
  r = Strata("trust status --app wallet");
  EXPECT_THAT(r.out, Not(HasSubstr("targets expires")));
  EXPECT_THAT(r.out, Not(HasSubstr("config expires")));
  EXPECT_THAT(r.out, HasSubstr("root expires"));  // root: rotate root
  ASSERT_TRUE(Refresh(*device).ok());
  EXPECT_EQ(device->TrustedVersion("targets"), 2u);
  EXPECT_TRUE(device->FindTarget("config/m@1").ok());
}

TEST_F(CliTrustTest, InitPicksAmongSeveralOnlineKeysOnlyWhenTold) {
  ASSERT_EQ(Init().exit_code, 0);
  ASSERT_EQ(
      Strata("trust rotate online --keys " + keys_ + " --app wallet").exit_code,
      0);
  // stratad now holds two keys per online role; a new app must say which.
  const std::string mall_keys = JoinPath(dir_.path(), "mall-keys");
  ASSERT_EQ(Strata("keys gen --dir " + mall_keys).exit_code, 0);
  const std::string init = "trust init --keys " + mall_keys + " --app mall";
  CmdResult r = Strata(init, true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--online-key"));
  admin::AdminClient client(server_, token_,
                            admin::ChannelSecurity::Plaintext());
  auto wallet = client.GetTrust("wallet");
  ASSERT_TRUE(wallet.ok());
  std::string picks;
  std::vector<std::string> ids;
  for (const v1::OnlineKey& k : wallet->online_keys()) {
    if (!k.in_use()) continue;
    picks += " --online-key " + k.key_id().substr(0, 12);
    ids.push_back(k.key_id());
  }
  ASSERT_EQ(ids.size(), 3u);
  r = Strata(init + picks, true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto mall = client.GetTrust("mall");
  ASSERT_TRUE(mall.ok());
  for (const v1::OnlineKey& k : mall->online_keys()) {
    EXPECT_EQ(k.in_use(),
              std::find(ids.begin(), ids.end(), k.key_id()) != ids.end())
        << k.role() << " " << k.key_id();
  }
}

TEST_F(CliTrustTest, RotateRefusesAnotherAppsKeysAndChangesNothing) {
  ASSERT_EQ(Init().exit_code, 0);
  const std::string other = JoinPath(dir_.path(), "other");
  ASSERT_EQ(Strata("keys gen --dir " + other).exit_code, 0);
  for (const char* kind : {"root", "targets", "online"}) {
    CmdResult r = Strata(
        StrCat("trust rotate ", kind, " --keys ", other, " --app wallet"),
        true);
    EXPECT_EQ(r.exit_code, 4) << kind << r.out;
    EXPECT_THAT(r.out, HasSubstr("is not a")) << kind;
  }
  CmdResult r =
      Strata("trust rotate publisher --publisher publisher-a --keys " + other +
                 " --app wallet",
             true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  admin::AdminClient client(server_, token_,
                            admin::ChannelSecurity::Plaintext());
  auto info = client.GetTrust("wallet");
  ASSERT_TRUE(info.ok());
  auto bytes = PosixFileSystem()->ReadFile(JoinPath(keys_, "root.json"));
  EXPECT_EQ(info->root(), *bytes);
  // No trust yet for another app: rotate says how to start.
  r = Strata("trust rotate root --keys " + keys_ + " --app mall", true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("strata trust init"));
}

}  // namespace
}  // namespace strata
