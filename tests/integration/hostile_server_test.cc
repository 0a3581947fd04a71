// The hostile-server suite (issue 12): a real stratad with a real root of
// trust (made and used by the real `strata` CLI), a lying Delivery server in
// front of it (real gRPC on loopback) and, for the metadata-over-HTTP path,
// a lying HTTP server in front of stratad's TUF repository. Every lie is
// refused by a real Client with its RejectReason, nothing is installed or
// activated, and the device's trusted state is unchanged.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli_fixture.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "strata/base/env.h"
#include "strata/base/file_util.h"
#include "strata/base/http_get.h"
#include "strata/base/json.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/client/client.h"
#include "strata/signing/director.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"
#include "strata/signing/verifier.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata {
namespace {

// strata.v1.RejectReason numbers (proto/strata/v1/common.proto).
constexpr int kUnsigned = 3;
constexpr int kBadSignature = 4;
constexpr int kThresholdNotMet = 5;
constexpr int kExpiredMetadata = 11;
constexpr int kVersionMismatch = 12;
constexpr int kHashMismatch = 13;
constexpr int kLengthMismatch = 14;
constexpr int kEndlessData = 15;
constexpr int kUnsignedDirectorTarget = 19;
constexpr int kDirectorTargetMismatch = 20;
constexpr int kReleaseCounterRollback = 21;
constexpr int kWrongDevice = 27;
constexpr int kContentHashMismatch = 30;
constexpr int kDeltaOutputMismatch = 31;

// Deterministic, incompressible-enough content of `size` bytes.
std::string Content(const std::string& seed, size_t size) {
  std::string out;
  uint64_t x = std::hash<std::string>{}(seed) | 1;
  while (out.size() < size) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out += StrCat("/* ", seed, " ", x, " */\n");
  }
  out.resize(size);
  return out;
}

// Forwards to the real stratad and lies where a test asks it to.
class LyingDelivery final : public v1::Delivery::Service {
 public:
  using CheckHook = std::function<void(v1::CheckResponse&)>;
  using BlobHook = std::function<void(const std::string& sha, std::string&)>;

  explicit LyingDelivery(const std::string& upstream)
      : stub_(v1::Delivery::NewStub(grpc::CreateChannel(
            upstream, grpc::InsecureChannelCredentials()))) {}

  void set_check_hook(CheckHook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    check_hook_ = std::move(hook);
  }
  void set_blob_hook(BlobHook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    blob_hook_ = std::move(hook);
  }
  // Content the liar serves that stratad does not have.
  void AddBlob(const std::string& content) {
    std::lock_guard<std::mutex> lock(mu_);
    extra_[Sha256::HexHash(content)] = content;
  }
  // Every Check response as stratad sent it (before any lie).
  std::vector<v1::CheckResponse> honest_responses() {
    std::lock_guard<std::mutex> lock(mu_);
    return honest_;
  }

  grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest* request,
                     v1::CheckResponse* response) override {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Check(&ctx, *request, response);
    if (!s.ok()) return s;
    CheckHook hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      honest_.push_back(*response);
      hook = check_hook_;
    }
    if (hook) hook(*response);
    return grpc::Status::OK;
  }

  grpc::Status Download(
      grpc::ServerContext*, const v1::DownloadRequest* request,
      grpc::ServerWriter<v1::DownloadChunk>* writer) override {
    std::string blob;
    BlobHook hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hook = blob_hook_;
      auto it = extra_.find(request->sha256());
      if (it != extra_.end()) blob = it->second;
    }
    if (blob.empty()) {
      grpc::ClientContext ctx;
      v1::DownloadRequest whole;
      whole.set_sha256(request->sha256());
      auto reader = stub_->Download(&ctx, whole);
      v1::DownloadChunk chunk;
      while (reader->Read(&chunk)) blob += chunk.data();
      grpc::Status s = reader->Finish();
      if (!s.ok()) return s;
    }
    if (hook) hook(request->sha256(), blob);
    const size_t chunk_size = 64 * 1024;
    for (size_t off = request->offset(); off < blob.size(); off += chunk_size) {
      v1::DownloadChunk chunk;
      chunk.set_offset(off);
      chunk.set_total_size(blob.size());
      chunk.set_data(blob.substr(off, chunk_size));
      if (!writer->Write(chunk)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status Report(grpc::ServerContext*, const v1::ReportRequest* request,
                      v1::ReportResponse* response) override {
    grpc::ClientContext ctx;
    return stub_->Report(&ctx, *request, response);
  }

 private:
  std::unique_ptr<v1::Delivery::Stub> stub_;
  std::mutex mu_;
  CheckHook check_hook_;
  BlobHook blob_hook_;
  std::map<std::string, std::string> extra_;
  std::vector<v1::CheckResponse> honest_;
};

// A minimal HTTP/1.1 server on loopback that answers GET /<file> from
// stratad's TUF repository, through a hook that may lie. `endless` files
// are streamed without end (until the client hangs up, at most 64 MiB).
class LyingHttp {
 public:
  using Hook = std::function<void(const std::string& file, std::string&)>;

  explicit LyingHttp(std::string upstream) : upstream_(std::move(upstream)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LyingHttp() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  void set_hook(Hook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }
  void set_endless(std::string file) {
    std::lock_guard<std::mutex> lock(mu_);
    endless_ = std::move(file);
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      Answer(c);
      ::close(c);
    }
  }
  void Answer(int c) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) return;
      request.append(buf, n);
    }
    const size_t sp1 = request.find(' ');
    const size_t sp2 = request.find(' ', sp1 + 1);
    std::string file = request.substr(sp1 + 2, sp2 - sp1 - 2);
    if (const size_t slash = file.rfind('/'); slash != std::string::npos) {
      file = file.substr(slash + 1);
    }
    Hook hook;
    std::string endless;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hook = hook_;
      endless = endless_;
    }
    if (file == endless) {
      const std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Connection: close\r\n\r\n";
      if (::write(c, head.data(), head.size()) < 0) return;
      const std::string filler(64 * 1024, ' ');
      for (int i = 0; i < 1024 && !stop_; ++i) {
        if (::write(c, filler.data(), filler.size()) <= 0) return;
      }
      return;
    }
    absl::StatusOr<HttpResponse> r = HttpGet(StrCat(upstream_, "/", file));
    int status = r.ok() ? r->status_code : 502;
    std::string body = r.ok() ? r->body : "";
    if (status == 200 && hook) hook(file, body);
    const std::string head = StrCat(
        "HTTP/1.1 ", status, status == 200 ? " OK" : " Not Found",
        "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
    if (::write(c, head.data(), head.size()) < 0) return;
    (void)!::write(c, body.data(), body.size());
  }

  std::string upstream_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  Hook hook_;
  std::string endless_;
};

class HostileServerTest : public CliFixture {
 protected:
  void SetUp() override {
    allow_unsigned_ = false;
    CliFixture::SetUp();
    if (HasFatalFailure()) return;
    keys_ = JoinPath(dir_.path(), "keys");
    root_ = InitTrust();
    ASSERT_FALSE(root_.empty());
    v1_ = Content("cart-v1", 48 * 1024);
    v2_ = Content("cart-v2", 48 * 1024);
    PublishCart("1", v1_);
    PublishCart("2", v2_);
    Release("1");

    liar_ = std::make_unique<LyingDelivery>(server_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &liar_port_);
    builder.RegisterService(liar_.get());
    liar_server_ = builder.BuildAndStart();
    ASSERT_NE(liar_server_, nullptr);
  }
  void TearDown() override {
    if (liar_server_) liar_server_->Shutdown();
    // The liar's idle channel to stratad is closed first: nothing in this
    // process polls it, so stratad would wait out its stop grace for it.
    liar_server_.reset();
    liar_.reset();
    CliFixture::TearDown();
  }

  std::string KeyFlags() const {
    return StrCat(" --key ", JoinPath(keys_, "publisher-a.key"), " --key ",
                  JoinPath(keys_, "publisher-b.key"));
  }
  void PublishCart(const std::string& version, const std::string& content) {
    const std::string file = WriteFile("cart-" + version, content);
    CmdResult r =
        Strata(StrCat("publish --app wallet --layer hcf --module ",
                      "cart --version ", version, " --file ", file, KeyFlags()),
               true);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  void Release(const std::string& version) {
    CmdResult r =
        Strata(StrCat("release create --app wallet --layer hcf ",
                      "--module cart --version ", version, " --all-at-once"),
               true);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }

  client::ClientOptions Options(const std::string& device) {
    client::ClientOptions o;
    o.server_address = StrCat("127.0.0.1:", liar_port_);
    o.insecure_plaintext_to_loopback_for_tests = true;
    o.app_id = "wallet";
    o.device.device_id = device;
    o.device.app_version = "10.3.0";
    o.device.host_build = "10.3.0+100";
    o.device.os = "android";
    o.storage_dir = JoinPath(dir_.path(), "devices/" + device);
    o.pinned_root_json = root_;
    return o;
  }
  std::unique_ptr<client::Client> NewClient(client::ClientOptions o) {
    auto c = client::Client::Create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  // One Check through a server that withholds every update: the device
  // takes the honest server's newest metadata (and nothing else), so a lie
  // that follows finds the trusted state current.
  void SyncMetadata(client::Client& c) {
    liar_->set_blob_hook(nullptr);
    liar_->set_check_hook(
        [](v1::CheckResponse& r) { r.mutable_plan()->clear_updates(); });
    auto r = c.Check();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->failures.empty()) << r->failures.front();
    liar_->set_check_hook(nullptr);
  }
  // Checks and activates what the honest server offers.
  void InstallHonestly(client::Client& c, const std::string& version) {
    liar_->set_check_hook(nullptr);
    liar_->set_blob_hook(nullptr);
    auto r = c.Check();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->failures.empty()) << r->failures.front();
    ASSERT_TRUE(c.BeginLaunch().ok());
    ASSERT_TRUE(c.MarkLaunchHealthy().ok());
    ASSERT_EQ(ActiveVersion(c), version);
  }
  std::string ActiveVersion(client::Client& c) {
    std::optional<client::InstalledModule> m =
        c.Installed(client::Layer::kHcf, "cart");
    return m.has_value() ? m->version : "";
  }
  std::string TrustState(const std::string& device) {
    auto s = PosixFileSystem()->ReadFile(
        JoinPath(dir_.path(), "devices/" + device +
                                  "/trust/"
                                  "trusted_metadata.json"));
    return s.ok() ? *s : "";
  }

  // Runs a Check through the lie and expects it refused with one of
  // `reasons`: nothing installed, staged or activated, trusted state as
  // before.
  void ExpectRefused(client::Client& c, const std::string& device,
                     const std::set<int>& reasons) {
    const std::string state_before = TrustState(device);
    const std::string active_before = ActiveVersion(c);
    auto r = c.Check();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->installed.empty());
    EXPECT_TRUE(r->staged.empty());
    ASSERT_FALSE(r->failure_details.empty()) << "the lie was not refused";
    for (const client::UpdateFailure& f : r->failure_details) {
      EXPECT_TRUE(reasons.count(f.reason))
          << "refused with reason " << f.reason << ": " << f.message;
    }
    auto launch = c.BeginLaunch();
    ASSERT_TRUE(launch.ok());
    EXPECT_TRUE(launch->activated.empty());
    ASSERT_TRUE(c.MarkLaunchHealthy().ok());
    EXPECT_EQ(ActiveVersion(c), active_before);
    if (metadata_may_change_) {
      // Metadata signed with stolen online keys verifies (that is what
      // those keys are for); what the device installed must not move.
      auto installed = [](const std::string& state) {
        auto j = Json::Parse(state);
        const Json* i = j.ok() ? j->Find("installed") : nullptr;
        return i == nullptr ? std::string() : i->Dump();
      };
      EXPECT_EQ(installed(TrustState(device)), installed(state_before));
    } else {
      EXPECT_TRUE(TrustState(device) == state_before)
          << "the trusted state changed";
    }
  }
  bool metadata_may_change_ = false;

  // The cart entry stratad offered in the first honest response that had
  // `version`.
  v1::UpdateEntry HonestEntry(const std::string& version) {
    for (const v1::CheckResponse& r : liar_->honest_responses()) {
      for (const v1::UpdateEntry& e : r.plan().updates()) {
        if (e.module().name() == "cart" && e.statement().version() == version)
          return e;
      }
    }
    ADD_FAILURE() << "stratad never offered cart " << version;
    return {};
  }
  // An entry for content nobody signed, served by the liar.
  v1::UpdateEntry EvilEntry(const std::string& module) {
    const std::string evil = Content("evil-" + module, 4096);
    liar_->AddBlob(evil);
    v1::UpdateEntry e;
    e.mutable_module()->set_layer(v1::LAYER_HCF);
    e.mutable_module()->set_name(module);
    e.set_release_id(99);
    e.set_release_sequence(7);
    v1::ArtifactStatement* st = e.mutable_statement();
    st->set_app_id("wallet");
    *st->mutable_module() = e.module();
    st->set_version("6.6.6");
    st->set_content_sha256(Sha256::HexHash(evil));
    st->set_size(evil.size());
    e.mutable_full()->set_sha256(st->content_sha256());
    e.mutable_full()->set_size(evil.size());
    return e;
  }
  // The online key stratad signs `role` with (what a thief of the server
  // has).
  signing::PrivateKey StolenKey(const std::string& role) {
    std::vector<std::string> names;
    auto list =
        PosixFileSystem()->ListDir(JoinPath(dir_.path(), "data/online-keys"));
    EXPECT_TRUE(list.ok()) << list.status();
    for (const std::string& n : *list) {
      if (n.rfind(role + "-", 0) == 0) names.push_back(n);
    }
    EXPECT_EQ(names.size(), 1u) << "online keys of " << role;
    auto key = signing::LoadPrivateKey(
        *PosixFileSystem(),
        JoinPath(dir_.path(), "data/online-keys/" + names.front()));
    EXPECT_TRUE(key.ok()) << key.status();
    return *std::move(key);
  }
  // stratad's current director, as a thief would re-sign it.
  signing::DirectorMetadata CurrentDirector() {
    auto r = HttpGet(StrCat("http://127.0.0.1:", http_port_,
                            "/v1/tuf/wallet/director.json"));
    EXPECT_TRUE(r.ok() && r->status_code == 200);
    auto md = signing::SignedMetadata::Parse(r->body, "director");
    EXPECT_TRUE(md.ok()) << md.status();
    auto d = signing::ParseDirector(md->signed_part());
    EXPECT_TRUE(d.ok()) << d.status();
    return *std::move(d);
  }
  // stratad's director re-signed with the stolen director key, with a
  // first assignment that gives `entry`'s content (at its counter) to its
  // module: what a thief of the online keys can make.
  std::string ForgedDirectorFor(const v1::UpdateEntry& entry) {
    const signing::PrivateKey director_key = StolenKey("director");
    signing::DirectorMetadata d = CurrentDirector();
    d.common.version += 10;
    const std::string module = StrCat("hcf/", entry.module().name());
    signing::DirectorAssignment a;
    signing::DirectorTarget& t = a.modules[module];
    t.target = StrCat(module, "@", entry.release_sequence());
    t.length = entry.statement().size();
    t.hashes["sha256"] = entry.statement().content_sha256();
    t.release_counter = entry.release_sequence();
    d.assignments.insert(d.assignments.begin(), a);
    auto bytes = signing::SignToBytes(signing::ToJson(d), {&director_key});
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : "";
  }
  static void ReplaceFile(v1::CheckResponse& r, const std::string& name,
                          std::string content) {
    for (v1::MetadataFile& f : *r.mutable_metadata()) {
      if (f.name() == name) {
        f.set_content(std::move(content));
        return;
      }
    }
    v1::MetadataFile* f = r.add_metadata();
    f->set_name(name);
    f->set_content(std::move(content));
  }
  static std::string FileNamed(const v1::CheckResponse& r,
                               const std::string& suffix) {
    for (const v1::MetadataFile& f : r.metadata()) {
      const std::string& n = f.name();
      if (n.size() >= suffix.size() &&
          n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return n;
      }
    }
    return "";
  }

  std::string keys_;
  std::string root_;
  std::string v1_, v2_;
  std::unique_ptr<LyingDelivery> liar_;
  std::unique_ptr<grpc::Server> liar_server_;
  int liar_port_ = 0;
};

TEST_F(HostileServerTest, HonestServerInstallsVerifiedContent) {
  auto c = NewClient(Options("d-honest"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  EXPECT_FALSE(TrustState("d-honest").empty());
}

TEST_F(HostileServerTest, UnsignedContentIsRefused) {
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  const v1::UpdateEntry evil = EvilEntry("evil");
  liar_->set_check_hook(
      [&](v1::CheckResponse& r) { *r.mutable_plan()->add_updates() = evil; });
  ExpectRefused(*c, "d1", {kUnsignedDirectorTarget});
}

TEST_F(HostileServerTest, BytesThatDifferFromTheSignedHashAreRefused) {
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  Release("2");
  SyncMetadata(*c);
  liar_->set_blob_hook([](const std::string&, std::string& blob) {
    if (!blob.empty()) blob[blob.size() / 2] ^= 0x5a;
  });
  ExpectRefused(*c, "d1",
                {kContentHashMismatch, kHashMismatch, kDeltaOutputMismatch});
}

TEST_F(HostileServerTest, OlderContentUnderAHigherServerCounterIsRefused) {
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  Release("2");
  InstallHonestly(*c, "2");
  v1::UpdateEntry old = HonestEntry("1");
  old.set_release_sequence(old.release_sequence() + 100);
  liar_->set_check_hook(
      [&](v1::CheckResponse& r) { *r.mutable_plan()->add_updates() = old; });
  ExpectRefused(*c, "d1", {kDirectorTargetMismatch});
}

TEST_F(HostileServerTest, TheMaximumSequenceCannotPinAModule) {
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  Release("2");
  SyncMetadata(*c);
  liar_->set_check_hook([](v1::CheckResponse& r) {
    for (v1::UpdateEntry& e : *r.mutable_plan()->mutable_updates()) {
      e.set_release_sequence(std::numeric_limits<uint64_t>::max());
    }
  });
  ExpectRefused(*c, "d1", {kDirectorTargetMismatch});
  // The honest update still installs afterwards: nothing was pinned.
  InstallHonestly(*c, "2");
}

TEST_F(HostileServerTest, APlanForAnotherDeviceIsRefused) {
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  Release("2");
  SyncMetadata(*c);
  liar_->set_check_hook([](v1::CheckResponse& r) {
    r.mutable_plan()->set_device_id("someone-else");
  });
  ExpectRefused(*c, "d1", {kWrongDevice});
}

TEST_F(HostileServerTest, MetadataFrozenPastItsExpiryIsRefused) {
  testing::SimulatedClock clock(absl::Now());
  client::ClientOptions o = Options("d1");
  o.env = Env{PosixFileSystem(), &clock, SystemRandom()};
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  Release("2");
  SyncMetadata(*c);
  // The server withholds every new metadata file while the device's
  // trusted timestamp runs out.
  liar_->set_check_hook([](v1::CheckResponse& r) { r.clear_metadata(); });
  clock.Advance(absl::Hours(72));
  ExpectRefused(*c, "d1", {kExpiredMetadata});
}

TEST_F(HostileServerTest, MixAndMatchOfRoleVersionsIsRefused) {
  // An old snapshot recorded before version 2 was released...
  auto first = NewClient(Options("d-record"));
  ASSERT_NE(first, nullptr);
  InstallHonestly(*first, "1");
  const v1::CheckResponse old = liar_->honest_responses().front();
  const std::string old_snapshot_name = FileNamed(old, ".snapshot.json");
  ASSERT_FALSE(old_snapshot_name.empty());
  std::string old_snapshot;
  for (const auto& f : old.metadata()) {
    if (f.name() == old_snapshot_name) old_snapshot = f.content();
  }
  PublishCart("3", Content("cart-v3", 48 * 1024));
  // ...served to a new device under the new snapshot's name.
  liar_->set_check_hook([&](v1::CheckResponse& r) {
    const std::string name = FileNamed(r, ".snapshot.json");
    if (!name.empty()) ReplaceFile(r, name, old_snapshot);
  });
  auto c = NewClient(Options("d-new"));
  ASSERT_NE(c, nullptr);
  ExpectRefused(
      *c, "d-new",
      {kVersionMismatch, kHashMismatch, kLengthMismatch, kEndlessData});
}

TEST_F(HostileServerTest, ADirectorEntryForUnsignedContentIsRefused) {
  metadata_may_change_ = true;
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  // A thief with the director key assigns content no publisher signed.
  const v1::UpdateEntry evil = EvilEntry("evil");
  const std::string bytes = ForgedDirectorFor(evil);
  liar_->set_check_hook([&](v1::CheckResponse& r) {
    ReplaceFile(r, "director.json", bytes);
    *r.mutable_plan()->add_updates() = evil;
  });
  ExpectRefused(*c, "d1", {kUnsignedDirectorTarget});
}

TEST_F(HostileServerTest, AllOnlineKeysCannotSignAPublisherRole) {
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  // A thief with snapshot, timestamp and director keys makes an hcf role
  // listing its content, lists it in a new snapshot and timestamp, and
  // assigns it in a new director.
  const signing::PrivateKey snapshot_key = StolenKey("snapshot");
  const signing::PrivateKey timestamp_key = StolenKey("timestamp");
  const signing::PrivateKey director_key = StolenKey("director");
  const v1::UpdateEntry evil = EvilEntry("evil");
  auto get = [&](const std::string& file) {
    auto r = HttpGet(
        StrCat("http://127.0.0.1:", http_port_, "/v1/tuf/wallet/", file));
    EXPECT_TRUE(r.ok() && r->status_code == 200) << file;
    return r.ok() ? r->body : "";
  };
  auto ts_md = signing::SignedMetadata::Parse(get("timestamp.json"), "t");
  ASSERT_TRUE(ts_md.ok());
  auto ts = signing::ParseTimestamp(ts_md->signed_part());
  ASSERT_TRUE(ts.ok());
  auto snap_md = signing::SignedMetadata::Parse(
      get(StrCat(ts->snapshot.version, ".snapshot.json")), "s");
  ASSERT_TRUE(snap_md.ok());
  auto snap = signing::ParseSnapshot(snap_md->signed_part());
  ASSERT_TRUE(snap.ok());
  const uint64_t hcf_version = snap->meta.at("hcf.json").version + 1;
  signing::TargetsMetadata hcf;
  hcf.common.version = hcf_version;
  hcf.common.expires = absl::Now() + absl::Hours(24 * 30);
  signing::ArtifactInfo art;
  art.app_id = "wallet";
  art.layer = signing::Layer::kHcf;
  art.module = "evil";
  art.release_counter = 7;
  art.version_label = "6.6.6";
  const std::string evil_content = Content("evil-evil", 4096);
  hcf.targets["hcf/evil@7"] = signing::TargetFileFor(evil_content, art);
  auto hcf_bytes = signing::SignToBytes(signing::ToJson(hcf), {&director_key});
  ASSERT_TRUE(hcf_bytes.ok());
  snap->common.version += 1;
  snap->meta["hcf.json"] = signing::MetaFileFor(*hcf_bytes, hcf_version);
  auto snap_bytes =
      signing::SignToBytes(signing::ToJson(*snap), {&snapshot_key});
  ASSERT_TRUE(snap_bytes.ok());
  ts->common.version += 1;
  ts->snapshot = signing::MetaFileFor(*snap_bytes, snap->common.version);
  auto ts_bytes = signing::SignToBytes(signing::ToJson(*ts), {&timestamp_key});
  ASSERT_TRUE(ts_bytes.ok());
  signing::DirectorMetadata d = CurrentDirector();
  d.common.version += 10;
  signing::DirectorAssignment a;
  a.modules["hcf/evil"] =
      signing::DirectorTargetFor("hcf/evil@7", hcf.targets.at("hcf/evil@7"));
  d.assignments.insert(d.assignments.begin(), a);
  auto d_bytes = signing::SignToBytes(signing::ToJson(d), {&director_key});
  ASSERT_TRUE(d_bytes.ok());
  liar_->set_check_hook([&](v1::CheckResponse& r) {
    r.clear_metadata();
    ReplaceFile(r, "timestamp.json", *ts_bytes);
    ReplaceFile(r, StrCat(snap->common.version, ".snapshot.json"), *snap_bytes);
    ReplaceFile(r, StrCat(hcf_version, ".hcf.json"), *hcf_bytes);
    ReplaceFile(r, "director.json", *d_bytes);
    *r.mutable_plan()->add_updates() = evil;
  });
  ExpectRefused(*c, "d1", {kUnsigned, kBadSignature, kThresholdNotMet});
}

TEST_F(HostileServerTest, AllOnlineKeysCannotDowngrade) {
  metadata_may_change_ = true;
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  Release("2");
  InstallHonestly(*c, "2");
  // The thief's director assigns the older, publisher-signed version 1.
  const v1::UpdateEntry old = HonestEntry("1");
  const std::string bytes = ForgedDirectorFor(old);
  liar_->set_check_hook([&](v1::CheckResponse& r) {
    ReplaceFile(r, "director.json", bytes);
    *r.mutable_plan()->add_updates() = old;
  });
  ExpectRefused(*c, "d1", {kReleaseCounterRollback});
}

TEST_F(HostileServerTest, EndlessDataOnEveryMetadataFileIsRefused) {
  struct Case {
    std::string suffix;  // which file of a fresh device's response
    size_t pad;
  };
  const std::vector<Case> cases = {
      {"timestamp.json", 64 * 1024},  {".snapshot.json", 1},
      {".targets.json", 1},           {".hcf.json", 1},
      {"director.json", 1100 * 1024}, {"2.root.json", 600 * 1024}};
  int n = 0;
  for (const Case& k : cases) {
    SCOPED_TRACE(k.suffix);
    liar_->set_check_hook([&](v1::CheckResponse& r) {
      std::string name = FileNamed(r, k.suffix);
      std::string content;
      for (const auto& f : r.metadata()) {
        if (f.name() == name) content = f.content();
      }
      if (name.empty()) name = k.suffix;  // a root the server never made
      ReplaceFile(r, name, content + std::string(k.pad, ' '));
    });
    const std::string device = StrCat("d-endless-", n++);
    client::ClientOptions o = Options(device);
    auto r = client::Client::Create(o);
    ASSERT_TRUE(r.ok());
    ExpectRefused(**r, device, {kEndlessData});
  }
}

TEST_F(HostileServerTest, EndlessContentIsRefused) {
  auto c = NewClient(Options("d1"));
  ASSERT_NE(c, nullptr);
  InstallHonestly(*c, "1");
  Release("2");
  SyncMetadata(*c);
  liar_->set_blob_hook([](const std::string&, std::string& blob) {
    blob += std::string(1 << 20, 'x');
  });
  ExpectRefused(*c, "d1", {kEndlessData});
}

// The same lies over HTTP: the device fetches metadata per file from a TUF
// repository URL (what a CDN serves) instead of the Check response.
class HostileHttpTest : public HostileServerTest {
 protected:
  void SetUp() override {
    HostileServerTest::SetUp();
    if (HasFatalFailure()) return;
    http_ = std::make_unique<LyingHttp>(
        StrCat("http://127.0.0.1:", http_port_, "/v1/tuf/wallet"));
    // The Check response carries no metadata on this path.
    liar_->set_check_hook([](v1::CheckResponse& r) { r.clear_metadata(); });
  }
  client::ClientOptions HttpOptions(const std::string& device) {
    client::ClientOptions o = Options(device);
    o.metadata_base_url = StrCat("http://127.0.0.1:", http_->port());
    return o;
  }
  std::unique_ptr<LyingHttp> http_;
};

TEST_F(HostileHttpTest, HonestRepositoryOverHttpInstalls) {
  auto c = NewClient(HttpOptions("h1"));
  ASSERT_NE(c, nullptr);
  auto r = c->Check();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->failures.empty()) << r->failures.front();
  ASSERT_EQ(r->installed.size(), 1u);
}

TEST_F(HostileHttpTest, EndlessMetadataOverHttpIsRefused) {
  int n = 0;
  for (const std::string file : {"timestamp.json", "director.json"}) {
    SCOPED_TRACE(file);
    http_->set_endless(file);
    const std::string device = StrCat("h-endless-", n++);
    auto c = NewClient(HttpOptions(device));
    ASSERT_NE(c, nullptr);
    liar_->set_check_hook([](v1::CheckResponse& r) { r.clear_metadata(); });
    ExpectRefused(*c, device, {kEndlessData});
  }
}

TEST_F(HostileHttpTest, UnsignedTimestampOverHttpIsRefused) {
  http_->set_hook([](const std::string& file, std::string& body) {
    if (file != "timestamp.json") return;
    auto md = signing::SignedMetadata::Parse(body, "timestamp");
    if (!md.ok()) return;
    md->mutable_signatures().clear();
    body = md->Serialize();
  });
  auto c = NewClient(HttpOptions("h1"));
  ASSERT_NE(c, nullptr);
  ExpectRefused(*c, "h1", {kUnsigned});
}

TEST_F(HostileHttpTest, MixAndMatchOverHttpIsRefused) {
  // The hcf role as it is now...
  auto role_file = [&]() -> std::string {
    const std::string base =
        StrCat("http://127.0.0.1:", http_port_, "/v1/tuf/wallet/");
    auto ts = HttpGet(base + "timestamp.json");
    if (!ts.ok()) return "";
    auto ts_md = signing::SignedMetadata::Parse(ts->body, "timestamp");
    if (!ts_md.ok()) return "";
    auto t = signing::ParseTimestamp(ts_md->signed_part());
    if (!t.ok()) return "";
    auto snap = HttpGet(StrCat(base, t->snapshot.version, ".snapshot.json"));
    if (!snap.ok()) return "";
    auto snap_md = signing::SignedMetadata::Parse(snap->body, "snapshot");
    if (!snap_md.ok()) return "";
    auto sn = signing::ParseSnapshot(snap_md->signed_part());
    if (!sn.ok() || !sn->meta.count("hcf.json")) return "";
    return StrCat(sn->meta.at("hcf.json").version, ".hcf.json");
  };
  const std::string old_name = role_file();
  ASSERT_FALSE(old_name.empty());
  auto old_role = HttpGet(
      StrCat("http://127.0.0.1:", http_port_, "/v1/tuf/wallet/", old_name));
  ASSERT_TRUE(old_role.ok() && old_role->status_code == 200);
  // ...served in place of the next version.
  PublishCart("3", Content("cart-v3", 48 * 1024));
  const std::string new_name = role_file();
  ASSERT_NE(new_name, old_name);
  const std::string old_bytes = old_role->body;
  http_->set_hook([&](const std::string& file, std::string& body) {
    if (file == new_name) body = old_bytes;
  });
  auto c = NewClient(HttpOptions("h1"));
  ASSERT_NE(c, nullptr);
  ExpectRefused(
      *c, "h1",
      {kVersionMismatch, kHashMismatch, kLengthMismatch, kEndlessData});
}

}  // namespace
}  // namespace strata
