// Failure signatures and remedies end to end (docs/remedies.md, issue 22):
// a real stratad in this process holding a root of trust, real verifying
// Clients on two OS versions. An H5 module "crashes" on OS 13 (those
// devices report its signature); stratad aggregates it; a publisher-signed
// `strata.remedies` config released to the OS 13 segment disables the
// module there; the signature stops growing while OS 14 devices still run
// the module and never see the rule. A remedy the publishers did not sign
// (unsigned, or signed with a key the root does not delegate to) is
// refused by the device.
#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signed_server_fixture.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/base/http_get.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/signing/director.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"
#include "strata/v1/admin.grpc.pb.h"
#include "transport.h"

namespace strata::testing {
namespace {

using ::testing::HasSubstr;

// The page's script throws on OS 13 (the host app sees a TypeError there).
constexpr char kCrashingPage[] =
    "<html><script>if (os == 13) undefinedFn();</script></html>";

class RemedyServerTest : public SignedServerTest {
 protected:
  void SetUp() override {
    SignedServerTest::SetUp();
    admin_ = std::make_unique<admin::AdminClient>(
        server_.address(), server_.token(),
        admin::ChannelSecurity::Plaintext());
  }
  void TearDown() override {
    devices_.clear();
    SignedServerTest::TearDown();
  }

  v1::TrustInfo Trust() {
    grpc::ClientContext c;
    Auth(c);
    v1::GetTrustRequest req;
    req.set_app_id("wallet");
    v1::TrustInfo info;
    const grpc::Status s = stub_->GetTrust(&c, req, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }

  // `strata publish --key a --key b`.
  void Publish(v1::Layer layer, const std::string& module,
               const std::string& version, const std::string& content) {
    v1::PublishRequest header;
    *header.mutable_header() =
        kit_->PublishOnto(TrustKit::Current(Trust(), TrustKit::LayerOf(layer)),
                          layer, module, version, content);
    const grpc::Status s = Upload(header, content);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  uint64_t Release(v1::Layer layer, const std::string& module,
                   const std::string& version, const std::string& segment) {
    v1::CreateReleaseRequest rr;
    rr.set_app_id("wallet");
    rr.mutable_module()->set_layer(layer);
    rr.mutable_module()->set_name(module);
    rr.set_version(version);
    rr.set_segment(segment);
    rr.set_all_at_once(true);
    absl::StatusOr<v1::Release> r = admin_->CreateRelease(rr);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->release_id() : 0;
  }

  struct Device {
    std::string os_version;
    std::unique_ptr<client::Client> client;
    int crashes = 0;
    int opened = 0;
    int fell_back = 0;  // the module was disabled: loaded from the network
  };

  client::ClientOptions Options(const std::string& id,
                                const std::string& os_version) {
    client::ClientOptions o;
    o.server_address = server_.address();
    o.insecure_plaintext_to_loopback_for_tests = true;
    o.app_id = "wallet";
    o.device.device_id = id;
    o.device.os = "android";
    o.device.os_version = os_version;
    o.device.app_version = "10.3.0";
    o.storage_dir = JoinPath(dir_.path(), id);
    o.pinned_root_json = root_;
    return o;
  }

  void AddDevice(const std::string& id, const std::string& os_version) {
    auto c = client::Client::Create(Options(id, os_version));
    ASSERT_THAT(c, IsOk());
    Device& d = devices_[id];
    d.os_version = os_version;
    d.client = *std::move(c);
  }

  static client::FailureSignature PageCrash() {
    client::FailureSignature f;
    f.kind = client::FailureKind::kCrash;
    f.exception_type = "TypeError";
    f.top_frames = {"undefinedFn is not a function at index.html:1:40"};
    f.layer = client::Layer::kH5;
    f.module = "mall-home";
    return f;
  }

  // One app start on every device: launch, check, open the page; the page
  // crashes on OS 13 and the host reports it.
  void Round() {
    for (auto& [id, d] : devices_) {
      client::Client& c = *d.client;
      ASSERT_THAT(c.BeginLaunch(), IsOk());
      absl::StatusOr<client::CheckResult> check = c.Check();
      ASSERT_THAT(check, IsOk());
      EXPECT_TRUE(check->failures.empty())
          << id << ": " << ::testing::PrintToString(check->failures);
      absl::StatusOr<std::string> page =
          c.OpenModule(client::Layer::kH5, "mall-home");
      if (!page.ok()) {
        EXPECT_TRUE(absl::IsUnavailable(page.status())) << page.status();
        EXPECT_THAT(ToStd(page.status().message()),
                    HasSubstr("remedy mall-home-os13"));
        ++d.fell_back;
      } else {
        ++d.opened;
        const std::string content = *PosixFileSystem()->ReadFile(*page);
        if (content == kCrashingPage && d.os_version == "13") {
          ++d.crashes;
          ASSERT_THAT(c.ReportFailure(PageCrash()), IsOk());
        }
      }
      ASSERT_THAT(c.MarkLaunchHealthy(), IsOk());
      ASSERT_THAT(c.FlushReports(), IsOk());
    }
  }

  v1::FailureInfo Failure(const std::string& id) {
    v1::GetFailureRequest req;
    req.set_app_id("wallet");
    req.set_signature_id(id);
    absl::StatusOr<v1::FailureInfo> info = admin_->GetFailure(req);
    EXPECT_THAT(info, IsOk());
    return info.ok() ? *info : v1::FailureInfo{};
  }

  std::unique_ptr<admin::AdminClient> admin_;
  std::map<std::string, Device> devices_;
};

std::string RulesFor(const std::string& signature) {
  return StrCat(
      R"({"rules": [{"id": "mall-home-os13", "when": {"signature": ")",
      signature,
      R"(", "module": "h5/mall-home"}, "action": "disable_module"}]})");
}

TEST_F(RemedyServerTest, ASignedRemedyDisablesTheCrashingModuleOnOneOsOnly) {
  Publish(v1::LAYER_H5, "mall-home", "1", kCrashingPage);
  Release(v1::LAYER_H5, "mall-home", "1", "");
  AddDevice("os13-a", "13");
  AddDevice("os13-b", "13");
  AddDevice("os14-a", "14");
  AddDevice("os14-b", "14");
  Round();
  Round();

  // The aggregates: one signature, from the two OS 13 devices only.
  STRATA_ASSERT_OK_AND_ASSIGN(const std::string sig,
                              client::FailureSignatureId(PageCrash()));
  v1::ListFailuresRequest list;
  list.set_app_id("wallet");
  STRATA_ASSERT_OK_AND_ASSIGN(v1::ListFailuresResponse failures,
                              admin_->ListFailures(list));
  ASSERT_EQ(failures.failures_size(), 1);
  EXPECT_EQ(failures.failures(0).signature().signature_id(), sig);
  v1::FailureInfo before = Failure(sig);
  EXPECT_EQ(before.count(), 4u);
  EXPECT_EQ(before.devices(), 2u);
  for (const v1::AttributeCount& a : before.top_attributes()) {
    if (a.name() == "os_version") {
      EXPECT_EQ(a.value(), "13");
    }
  }
  ASSERT_EQ(before.releases_size(), 1);
  EXPECT_NE(before.releases(0).release_id(), 0u);  // the H5 release

  // The remedy: signed by the config publishers, released to OS 13.
  v1::Segment os13;
  os13.set_app_id("wallet");
  os13.set_name("os13");
  os13.set_expression(R"(os_version == "13")");
  ASSERT_THAT(admin_->PutSegment(os13), IsOk());
  Publish(v1::LAYER_CONFIG, "strata.remedies", "1", RulesFor(sig));
  Release(v1::LAYER_CONFIG, "strata.remedies", "1", "os13");

  Round();
  Round();
  for (auto& [id, d] : devices_) {
    if (d.os_version == "13") {
      EXPECT_EQ(d.client->DisabledBy(client::Layer::kH5, "mall-home"),
                std::optional<std::string>("mall-home-os13"))
          << id;
      EXPECT_EQ(d.crashes, 2) << id;    // none after the remedy
      EXPECT_EQ(d.fell_back, 2) << id;  // loaded from the network instead
      EXPECT_EQ(d.client->AppliedRemedies(),
                (std::vector<std::string>{"mall-home-os13"}));
    } else {
      // Untouched: the rule never reached them, the module still runs.
      EXPECT_FALSE(
          d.client->DisabledBy(client::Layer::kH5, "mall-home").has_value())
          << id;
      EXPECT_FALSE(
          d.client->Installed(client::Layer::kConfig, "strata.remedies")
              .has_value())
          << id;
      EXPECT_TRUE(d.client->AppliedRemedies().empty()) << id;
      EXPECT_EQ(d.opened, 4) << id;
      EXPECT_EQ(d.fell_back, 0) << id;
    }
  }
  // The signature stopped growing; stratad counts the remedy per device.
  v1::FailureInfo after = Failure(sig);
  EXPECT_EQ(after.count(), before.count());
  EXPECT_EQ(after.last_seen_unix(), before.last_seen_unix());
  EXPECT_EQ(after.remedied_devices(), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(failures, admin_->ListFailures(list));
  ASSERT_EQ(failures.remedies_size(), 1);
  EXPECT_EQ(failures.remedies(0).remedy_id(), "mall-home-os13");
  EXPECT_EQ(failures.remedies(0).action(), "disable_module");
  EXPECT_EQ(failures.remedies(0).devices(), 2u);
}

// What a stolen server (its database and online keys, not the publishers'
// keys) can send: a lying Delivery front over the real one.
class LyingTransport : public client::Transport {
 public:
  LyingTransport(std::unique_ptr<client::Transport> real,
                 std::function<void(v1::CheckResponse&)> lie)
      : real_(std::move(real)), lie_(std::move(lie)) {}
  absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) override {
    absl::StatusOr<v1::CheckResponse> r = real_->Check(request);
    if (r.ok()) lie_(*r);
    return r;
  }
  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    return real_->Download(sha256, offset, sink);
  }
  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) override {
    return real_->Report(request);
  }

 private:
  std::unique_ptr<client::Transport> real_;
  std::function<void(v1::CheckResponse&)> lie_;
};

// The forged rules disable the module everywhere.
constexpr char kForgedRules[] =
    R"({"rules": [{"id": "forged", "when": {}, "action": "disable_module",
        "module": "h5/mall-home"}]})";

v1::UpdateEntry ForgedEntry(uint64_t sequence) {
  v1::UpdateEntry e;
  e.mutable_module()->set_layer(v1::LAYER_CONFIG);
  e.mutable_module()->set_name("strata.remedies");
  e.set_release_id(999);
  e.set_release_sequence(sequence);
  v1::ArtifactStatement* st = e.mutable_statement();
  st->set_app_id("wallet");
  *st->mutable_module() = e.module();
  st->set_version("forged");
  st->set_content_sha256(Sha256::HexHash(kForgedRules));
  st->set_size(sizeof(kForgedRules) - 1);
  e.set_inline_content(kForgedRules);
  return e;
}

TEST_F(RemedyServerTest, UnsignedAndForgedRemediesAreRefusedByTheDevice) {
  Publish(v1::LAYER_H5, "mall-home", "1", kCrashingPage);
  Release(v1::LAYER_H5, "mall-home", "1", "");
  client::TransportSecurity plain;
  plain.plaintext = true;

  // 1. Unsigned: an entry no publisher signed, added to an honest answer.
  {
    STRATA_ASSERT_OK_AND_ASSIGN(
        auto real, client::NewGrpcTransport(server_.address(), plain));
    auto lying = std::make_unique<LyingTransport>(
        std::move(real), [](v1::CheckResponse& r) {
          *r.mutable_plan()->add_updates() = ForgedEntry(1);
        });
    STRATA_ASSERT_OK_AND_ASSIGN(
        auto c, client::Client::CreateWithTransport(Options("d-unsigned", "13"),
                                                    std::move(lying)));
    STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, c->Check());
    ASSERT_EQ(r.failure_details.size(), 1u);
    EXPECT_EQ(r.failure_details[0].name, "strata.remedies");
    EXPECT_NE(r.failure_details[0].reason, 0);
    EXPECT_FALSE(r.failure_details[0].message.empty());
    EXPECT_TRUE(r.remedies_applied.empty());
    EXPECT_FALSE(
        c->Installed(client::Layer::kConfig, "strata.remedies").has_value());
    EXPECT_FALSE(c->DisabledBy(client::Layer::kH5, "mall-home").has_value());
    EXPECT_THAT(c->OpenModule(client::Layer::kH5, "mall-home"), IsOk());
  }

  // 2. Forged by a thief of the server: with stratad's online keys
  // (snapshot, timestamp, director) it makes a config role listing the
  // forged rules, signed with a key of its own (the root delegates config
  // to the publishers' keys only), lists that role in a new snapshot and
  // timestamp and assigns the rules to the device in a new director.
  {
    bool lie = false;
    std::function<void(v1::CheckResponse&)> forge;
    STRATA_ASSERT_OK_AND_ASSIGN(
        auto real, client::NewGrpcTransport(server_.address(), plain));
    auto lying = std::make_unique<LyingTransport>(std::move(real),
                                                  [&](v1::CheckResponse& r) {
                                                    if (lie) forge(r);
                                                  });
    STRATA_ASSERT_OK_AND_ASSIGN(
        auto c, client::Client::CreateWithTransport(Options("d-forged", "13"),
                                                    std::move(lying)));
    STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult honest, c->Check());
    ASSERT_TRUE(honest.failures.empty())
        << ::testing::PrintToString(honest.failures);

    auto stolen = [&](const std::string& role) {
      for (const server::OnlineKey& k : kit_->online()->List()) {
        if (k.role == role) return k.key;
      }
      ADD_FAILURE() << "no online key for " << role;
      return std::shared_ptr<const signing::PrivateKey>();
    };
    auto get = [&](const std::string& file) {
      auto r = HttpGet(StrCat("http://127.0.0.1:", server_.http_port(),
                              "/v1/tuf/wallet/", file));
      EXPECT_TRUE(r.ok() && r->status_code == 200) << file;
      return r.ok() ? r->body : "";
    };
    auto ts = signing::ParseTimestamp(
        signing::SignedMetadata::Parse(get("timestamp.json"), "t")
            ->signed_part());
    ASSERT_THAT(ts, IsOk());
    auto snap = signing::ParseSnapshot(
        signing::SignedMetadata::Parse(
            get(StrCat(ts->snapshot.version, ".snapshot.json")), "s")
            ->signed_part());
    ASSERT_THAT(snap, IsOk());
    auto director = signing::ParseDirector(
        signing::SignedMetadata::Parse(get("director.json"), "d")
            ->signed_part());
    ASSERT_THAT(director, IsOk());

    signing::TargetsMetadata role =
        TrustKit::Current(Trust(), signing::Layer::kConfig);
    const uint64_t counter = TrustKit::NextCounter(role, "strata.remedies");
    const std::string target = signing::TargetName(signing::Layer::kConfig,
                                                   "strata.remedies", counter);
    role.targets[target] =
        kit_->Target(signing::Layer::kConfig, "strata.remedies", counter,
                     "forged", kForgedRules);
    role.common.version = snap->meta.at("config.json").version + 1;
    role.common.expires = absl::Now() + absl::Hours(24);
    auto role_bytes =
        signing::SignToBytes(signing::ToJson(role), {&kit_->stranger});
    ASSERT_THAT(role_bytes, IsOk());
    snap->common.version += 1;
    snap->meta["config.json"] =
        signing::MetaFileFor(*role_bytes, role.common.version);
    auto snap_bytes = signing::SignToBytes(signing::ToJson(*snap),
                                           {stolen("snapshot").get()});
    ASSERT_THAT(snap_bytes, IsOk());
    ts->common.version += 1;
    ts->snapshot = signing::MetaFileFor(*snap_bytes, snap->common.version);
    auto ts_bytes =
        signing::SignToBytes(signing::ToJson(*ts), {stolen("timestamp").get()});
    ASSERT_THAT(ts_bytes, IsOk());
    director->common.version += 10;
    signing::DirectorAssignment a;
    a.modules["config/strata.remedies"] =
        signing::DirectorTargetFor(target, role.targets.at(target));
    director->assignments.insert(director->assignments.begin(), a);
    auto director_bytes = signing::SignToBytes(signing::ToJson(*director),
                                               {stolen("director").get()});
    ASSERT_THAT(director_bytes, IsOk());
    forge = [&](v1::CheckResponse& r) {
      r.clear_metadata();
      auto add = [&](const std::string& name, const std::string& content) {
        v1::MetadataFile* f = r.add_metadata();
        f->set_name(name);
        f->set_content(content);
      };
      add("timestamp.json", *ts_bytes);
      add(StrCat(snap->common.version, ".snapshot.json"), *snap_bytes);
      add(StrCat(role.common.version, ".config.json"), *role_bytes);
      add("director.json", *director_bytes);
      *r.mutable_plan()->add_updates() = ForgedEntry(counter);
    };
    lie = true;
    STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, c->Check());
    bool refused = false;
    for (const client::UpdateFailure& f : r.failure_details) {
      if (f.name != "strata.remedies") continue;
      refused = true;
      // Refused for its signature: the role is not the publishers'.
      EXPECT_TRUE(f.reason == v1::REJECT_UNSIGNED ||
                  f.reason == v1::REJECT_BAD_SIGNATURE ||
                  f.reason == v1::REJECT_THRESHOLD_NOT_MET)
          << f.reason << ": " << f.message;
    }
    EXPECT_TRUE(refused) << ::testing::PrintToString(r.failures);
    EXPECT_TRUE(r.remedies_applied.empty());
    EXPECT_FALSE(
        c->Installed(client::Layer::kConfig, "strata.remedies").has_value());
    EXPECT_FALSE(c->DisabledBy(client::Layer::kH5, "mall-home").has_value());
    EXPECT_TRUE(c->AppliedRemedies().empty());
    EXPECT_THAT(c->OpenModule(client::Layer::kH5, "mall-home"), IsOk());
  }

  // 3. And stratad refuses to publish rules signed with that key at all.
  {
    v1::PublishRequest header;
    *header.mutable_header() = kit_->PublishOnto(
        TrustKit::Current(Trust(), signing::Layer::kConfig), v1::LAYER_CONFIG,
        "strata.remedies", "forged", kForgedRules, {&kit_->stranger});
    const grpc::Status s = Upload(header, kForgedRules);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << s.error_message();
  }
}

}  // namespace
}  // namespace strata::testing
