// The per-app trust repository over real gRPC and HTTP: a stratad with its
// online keys, the offline roles signed here as `strata` would, and the
// client's own Verifier reading what Check, WatchConfig and the HTTP TUF
// layout serve. The server runs on a simulated clock so expiry and
// re-signing are driven by the test, not by sleeping.
#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>

#include "../server/test_util.h"
#include "../server/trust_kit.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/http_get.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/signing/verifier.h"
#include "strata/v1/admin.grpc.pb.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::Must;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Metadata fetched file by file from stratad's HTTP TUF layout.
class HttpSource : public signing::MetadataSource {
 public:
  explicit HttpSource(std::string base) : base_(std::move(base)) {}
  absl::StatusOr<std::string> Fetch(
      const signing::FetchRequest& request) override {
    HttpGetOptions options;
    options.max_body_bytes = request.max_length;
    STRATA_ASSIGN_OR_RETURN(HttpResponse r,
                            HttpGet(base_ + request.FileName(), options));
    if (r.status_code == 404) {
      return absl::NotFoundError(request.FileName() + " not found");
    }
    if (r.status_code != 200) {
      return absl::UnavailableError(StrCat("HTTP ", r.status_code));
    }
    ++fetched;
    return r.body;
  }
  int fetched = 0;

 private:
  std::string base_;
};

class TrustRpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = JoinPath(dir_.path(), "server");
    const std::string token_file = JoinPath(data_, "admin.token");
    ASSERT_THAT(server::InitializeDataDir(data_, token_file), IsOk());
    token_ = Must(PosixFileSystem()->ReadFile(token_file));
    token_ = token_.substr(0, token_.find('\n'));
    Start();
    // The release engineer reads the server's online public keys from the
    // key directory `stratad init` filled (GetTrust shows the same).
    kit_ = std::make_unique<testing::TrustKit>(
        &clock_, JoinPath(data_, "online-keys"), /*generate=*/false);
  }
  void TearDown() override { Stop(); }

  void Start() {
    server::ServerOptions options;
    options.data_dir = data_;
    options.listen_address = "127.0.0.1:0";
    options.http_address = "127.0.0.1:0";
    options.gate_interval = absl::ZeroDuration();
    options.trust_refresh_interval = absl::ZeroDuration();
    Env env = Env::Default();
    env.clock = &clock_;
    server_ = Must(server::StrataServer::Start(options, env));
    channel_ = grpc::CreateChannel(StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
    delivery_ = v1::Delivery::NewStub(channel_);
  }
  void Stop() {
    if (server_) server_->Shutdown(absl::ZeroDuration());
    server_.reset();
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("authorization", "Bearer " + token_);
    return c;
  }
  v1::TrustInfo GetTrust() {
    v1::GetTrustRequest req;
    req.set_app_id("wallet");
    v1::TrustInfo info;
    grpc::Status s = admin_->GetTrust(Context().get(), req, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }
  grpc::Status SetTrust(const v1::SetTrustRequest& req) {
    v1::SetTrustResponse resp;
    return admin_->SetTrust(Context().get(), req, &resp);
  }
  grpc::Status Publish(const v1::PublishHeader& header,
                       const std::string& content) {
    v1::PublishResponse resp;
    auto ctx = Context();
    auto writer = admin_->Publish(ctx.get(), &resp);
    v1::PublishRequest part;
    *part.mutable_header() = header;
    writer->Write(part);
    part.set_chunk(content);
    writer->Write(part);
    writer->WritesDone();
    return writer->Finish();
  }
  // `strata publish`: read the role, add the target, sign, send.
  grpc::Status SignedPublish(v1::Layer layer, const std::string& module,
                             const std::string& version,
                             const std::string& content) {
    const signing::TargetsMetadata role = testing::TrustKit::Current(
        GetTrust(), testing::TrustKit::LayerOf(layer));
    return Publish(kit_->PublishOnto(role, layer, module, version, content),
                   content);
  }
  grpc::Status Release(v1::Layer layer, const std::string& module,
                       const std::string& version) {
    v1::CreateReleaseRequest req;
    req.set_app_id("wallet");
    req.mutable_module()->set_layer(layer);
    req.mutable_module()->set_name(module);
    req.set_version(version);
    req.set_all_at_once(true);
    v1::Release r;
    return admin_->CreateRelease(Context().get(), req, &r);
  }
  v1::CheckResponse Check(const v1::TrustedVersions& trusted) {
    v1::CheckRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id("dev-1");
    *req.mutable_trusted() = trusted;
    v1::CheckResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = delivery_->Check(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
  std::unique_ptr<signing::Verifier> NewVerifier(const std::string& name) {
    signing::VerifierOptions options;
    options.state_dir = JoinPath(dir_.path(), name);
    options.pinned_root = pinned_root_;
    return Must(signing::Verifier::Open(
        Env{PosixFileSystem(), &clock_, nullptr}, options));
  }
  static signing::DeviceInfo Device() {
    signing::DeviceInfo d;
    d.app_id = "wallet";
    d.device_id = "dev-1";
    d.attributes.device_id = "dev-1";
    return d;
  }
  void InitTrust() {
    const v1::SetTrustRequest init = kit_->Init();
    pinned_root_ = init.root();
    grpc::Status s = SetTrust(init);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::string Url(const std::string& file) {
    return StrCat("http://127.0.0.1:", server_->http_port(), "/v1/tuf/wallet/",
                  file);
  }
  // Response headers of a real curl GET.
  std::string CurlHeaders(const std::string& url) {
    const std::string headers = JoinPath(dir_.path(), "h");
    std::string cmd =
        StrCat("curl -sS -o /dev/null -D ", headers, " '", url, "'");
    int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "is curl installed?";
    return PosixFileSystem()->ReadFile(headers).value_or("");
  }

  testing::TempDir dir_;
  testing::SimulatedClock clock_{absl::FromUnixSeconds(1'780'000'000)};
  std::string data_, token_, pinned_root_;
  std::unique_ptr<server::StrataServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Delivery::Stub> delivery_;
  std::unique_ptr<testing::TrustKit> kit_;
};

TEST_F(TrustRpcTest, GetTrustShowsTheOnlineKeysBeforeAnyRootExists) {
  const v1::TrustInfo info = GetTrust();
  EXPECT_FALSE(info.configured());
  ASSERT_EQ(info.online_keys_size(), 3);
  std::vector<std::string> roles;
  for (const v1::OnlineKey& k : info.online_keys()) {
    roles.push_back(k.role());
    EXPECT_FALSE(k.in_use());
    EXPECT_EQ(Must(signing::PublicKey::FromPem(k.public_key_pem())).KeyId(),
              k.key_id());
  }
  EXPECT_THAT(roles, ElementsAre("director", "snapshot", "timestamp"));
  // Without a root of trust, nothing can be published.
  EXPECT_EQ(
      Publish(testing::ConfigHeader("limits", "1", "x"), "x").error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(TrustRpcTest, CheckCarriesWhatTheDeviceNeedsToVerifyThePlan) {
  InitTrust();
  // A stale role is refused with ABORTED and a message to publish again.
  const signing::TargetsMetadata before =
      testing::TrustKit::Current(GetTrust(), signing::Layer::kH5);
  ASSERT_TRUE(SignedPublish(v1::LAYER_H5, "home", "1", "page one").ok());
  grpc::Status stale = Publish(
      kit_->PublishOnto(before, v1::LAYER_H5, "home", "2", "two"), "two");
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(stale.error_message(), HasSubstr("publish again"));
  ASSERT_TRUE(Release(v1::LAYER_H5, "home", "1").ok());

  v1::TrustedVersions trusted;
  trusted.set_root(1);
  const v1::CheckResponse first = Check(trusted);
  ASSERT_EQ(first.plan().updates_size(), 1);
  auto verifier = NewVerifier("device");
  signing::InMemoryMetadataSource source;
  for (const auto& f : first.metadata()) source.Put(f.name(), f.content());
  ASSERT_THAT(verifier->Refresh(source), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(
      signing::VerifiedTarget t,
      verifier->ResolveModule(Device(), signing::Layer::kH5, "home"));
  EXPECT_EQ(t.name, "h5/home@1");
  EXPECT_EQ(t.sha256, first.plan().updates(0).statement().content_sha256());
  EXPECT_EQ(t.artifact->release_counter,
            first.plan().updates(0).release_sequence());

  // The next Check sends only what is newer than what the device trusts.
  v1::TrustedVersions now;
  now.set_root(verifier->TrustedVersion("root"));
  now.set_timestamp(verifier->TrustedVersion("timestamp"));
  now.set_snapshot(verifier->TrustedVersion("snapshot"));
  now.set_targets(verifier->TrustedVersion("targets"));
  for (const char* layer : {"config", "h5", "hcf", "hotpatch", "native"}) {
    (*now.mutable_roles())[layer] = verifier->TrustedVersion(layer);
  }
  now.set_director(verifier->TrustedVersion("director"));
  const v1::CheckResponse nothing = Check(now);
  EXPECT_THAT(nothing.metadata(), IsEmpty());
  ASSERT_TRUE(SignedPublish(v1::LAYER_H5, "home", "2", "page two").ok());
  std::vector<std::string> names;
  const v1::CheckResponse newer = Check(now);
  for (const auto& f : newer.metadata()) names.push_back(f.name());
  EXPECT_THAT(names,
              ElementsAre("timestamp.json", "3.snapshot.json", "3.h5.json"));
}

TEST_F(TrustRpcTest, WatchConfigEventsCarryTheirMetadata) {
  InitTrust();
  grpc::ClientContext ctx;
  v1::WatchConfigRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("dev-1");
  req.mutable_trusted()->set_root(1);
  auto stream = delivery_->WatchConfig(&ctx, req);
  ASSERT_TRUE(SignedPublish(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}").ok());
  ASSERT_TRUE(Release(v1::LAYER_CONFIG, "flags", "1").ok());
  v1::ConfigEvent event;
  ASSERT_TRUE(stream->Read(&event));
  EXPECT_EQ(event.entry().module().name(), "flags");
  auto verifier = NewVerifier("watcher");
  signing::InMemoryMetadataSource source;
  for (const auto& f : event.metadata()) source.Put(f.name(), f.content());
  ASSERT_THAT(verifier->Refresh(source), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(
      signing::VerifiedTarget t,
      verifier->ResolveModule(Device(), signing::Layer::kConfig, "flags"));
  EXPECT_EQ(t.sha256, event.entry().statement().content_sha256());
  EXPECT_EQ(t.artifact->release_counter, event.entry().release_sequence());
  // The next push carries only what changed since.
  ASSERT_TRUE(SignedPublish(v1::LAYER_CONFIG, "flags", "2", "{\"a\":2}").ok());
  ASSERT_TRUE(Release(v1::LAYER_CONFIG, "flags", "2").ok());
  ASSERT_TRUE(stream->Read(&event));
  std::vector<std::string> names;
  for (const auto& f : event.metadata()) names.push_back(f.name());
  EXPECT_THAT(names, ElementsAre("timestamp.json", "3.snapshot.json",
                                 "3.config.json", "director.json"));
  ctx.TryCancel();
}

TEST_F(TrustRpcTest, HttpServesTheTufRepositoryLayout) {
  InitTrust();
  ASSERT_TRUE(SignedPublish(v1::LAYER_H5, "home", "1", "page one").ok());
  ASSERT_TRUE(Release(v1::LAYER_H5, "home", "1").ok());
  v1::TrustedVersions trusted;
  trusted.set_root(1);
  (void)Check(trusted);  // the director is signed on the first Check

  // A verifier reading file by file over HTTP.
  HttpSource http(Url(""));
  auto verifier = NewVerifier("http-device");
  ASSERT_THAT(verifier->Refresh(http), IsOk());
  EXPECT_GE(http.fetched, 9);
  STRATA_ASSERT_OK_AND_ASSIGN(
      signing::VerifiedTarget t,
      verifier->ResolveModule(Device(), signing::Layer::kH5, "home"));
  // The target's content at its consistent-snapshot path.
  STRATA_ASSERT_OK_AND_ASSIGN(
      HttpResponse content,
      HttpGet(Url(StrCat("targets/h5/", t.sha256, ".home@1"))));
  EXPECT_EQ(content.status_code, 200);
  EXPECT_EQ(content.body, "page one");
  STRATA_ASSERT_OK_AND_ASSIGN(
      HttpResponse escaped,
      HttpGet(Url(StrCat("targets/h5/", t.sha256, ".home%401"))));
  EXPECT_EQ(escaped.body, "page one");
  // Not signed under that name, or another hash: 404.
  EXPECT_EQ(Must(HttpGet(Url(StrCat("targets/h5/", t.sha256, ".home@2"))))
                .status_code,
            404);
  EXPECT_EQ(
      Must(HttpGet(Url(StrCat("targets/h5/", std::string(64, 'a'), ".home@1"))))
          .status_code,
      404);
  EXPECT_EQ(Must(HttpGet(Url("2.root.json"))).status_code, 404);
  EXPECT_EQ(Must(HttpGet(Url("root.json"))).body, pinned_root_);

  // Caching: the moving files are revalidated, versioned ones immutable.
  for (const char* moving : {"timestamp.json", "director.json", "root.json"}) {
    EXPECT_THAT(CurlHeaders(Url(moving)), HasSubstr("Cache-Control: no-cache"))
        << moving;
  }
  for (const char* fixed : {"1.root.json", "1.targets.json", "2.h5.json"}) {
    const std::string headers = CurlHeaders(Url(fixed));
    EXPECT_THAT(headers, HasSubstr("HTTP/1.1 200"));
    EXPECT_THAT(headers,
                HasSubstr("Cache-Control: public, max-age=31536000, immutable"))
        << fixed;
  }
}

TEST_F(TrustRpcTest, RestartKeepsTheChainAndExpiryIsDrivenByTheClock) {
  kit_->lifetime = absl::Hours(24 * 2);  // root, targets and roles
  InitTrust();
  ASSERT_TRUE(SignedPublish(v1::LAYER_H5, "home", "1", "page one").ok());
  ASSERT_TRUE(Release(v1::LAYER_H5, "home", "1").ok());
  v1::TrustedVersions trusted;
  trusted.set_root(1);
  (void)Check(trusted);
  const v1::TrustInfo before = GetTrust();
  auto version = [](const v1::TrustInfo& info, const std::string& role) {
    for (const v1::RoleInfo& r : info.roles()) {
      if (r.role() == role) return r.version();
    }
    return uint64_t{0};
  };
  // Half the timestamp's day: re-signed by the tick the test drives.
  clock_.Advance(absl::Hours(13));
  EXPECT_EQ(*server_->RunTrustRefreshNow(), 1);
  const v1::TrustInfo resigned = GetTrust();
  EXPECT_EQ(version(resigned, "timestamp"), version(before, "timestamp") + 1);
  EXPECT_EQ(version(resigned, "director"), version(before, "director") + 1);

  // Past the root's expiry, stratad still starts: it warns and refuses
  // publishes and releases.
  Stop();
  clock_.Advance(absl::Hours(48));
  Start();
  const v1::TrustInfo after = GetTrust();
  EXPECT_EQ(version(after, "root"), 1u);
  EXPECT_EQ(version(after, "h5"), 2u);
  // Online roles that expired while it was down were re-signed at start.
  EXPECT_GT(version(after, "timestamp"), version(resigned, "timestamp"));
  EXPECT_THAT(after.warnings(), ::testing::Contains(HasSubstr("root expired")));
  grpc::Status publish = SignedPublish(v1::LAYER_H5, "home", "2", "two");
  EXPECT_EQ(publish.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(publish.error_message(),
              HasSubstr("root of trust for app wallet expired"));
  grpc::Status release = Release(v1::LAYER_H5, "home", "1");
  EXPECT_EQ(release.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(release.error_message(), HasSubstr("strata trust rotate root"));
}

}  // namespace
}  // namespace strata
