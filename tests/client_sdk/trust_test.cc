// The SDK verifies by default: a client over a pinned root installs only
// what publishers signed and the signed director assigned to this device,
// with the signed facts, from metadata that comes with the check (or over
// HTTP); every refusal installs nothing and leaves the trusted state as it
// was. Real signed repositories (tests/signing/test_repo.h), the real
// Verifier and module store on an in-memory file system.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <limits>
#include <map>
#include <thread>

#include "../signing/test_repo.h"
#include "device_world.h"
#include "fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/diff/delta.h"
#include "strata/diff/tree_delta.h"
#include "strata/signing/reject_reason.h"
#include "tree_testing.h"
#include "trust_policy.h"

namespace strata::client {
namespace {

using device_world::AddNewerMetadata;
using signing::testing::TestRepo;
using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kStatePath[] = "/sdk/trust/trusted_metadata.json";

// Rejects every entry with the reason it is told.
class RejectingTrustPolicy : public TrustPolicy {
 public:
  explicit RejectingTrustPolicy(signing::RejectReason* reason)
      : reason_(reason) {}
  v1::TrustedVersions Trusted() const override { return {}; }
  absl::Status Refresh(const MetadataFiles&, const v1::UpdatePlan*) override {
    return absl::OkStatus();
  }
  absl::StatusOr<v1::UpdateEntry> Authorize(const v1::UpdateEntry&) override {
    return signing::Reject(*reason_, absl::StatusCode::kPermissionDenied,
                           "refused by the test");
  }
  absl::Status MarkInstalled(int, const std::string&, uint64_t) override {
    return absl::OkStatus();
  }

 private:
  signing::RejectReason* reason_;
};

class VerifiedClientTest : public ::testing::Test {
 protected:
  VerifiedClientTest() : repo_(clock_.Now(), absl::Hours(24)) {}

  void SetUp() override {
    Sign(signing::Layer::kH5, "page", 1, kPage, "1.0");
    repo_.Publish();
    NewClient();
  }

  // Adds a signed artifact with a version label, assigned to everyone.
  std::string Sign(signing::Layer layer, const std::string& module,
                   uint64_t counter, const std::string& content,
                   const std::string& version) {
    const std::string name = repo_.AddArtifact(layer, module, counter, content);
    repo_.delegated[std::string(signing::LayerName(layer))]
        .targets[name]
        .artifact->version_label = version;
    repo_.Assign(name);
    return name;
  }

  void NewClient() {
    // The old client owns the old transport: keep what it served first.
    auto transport = std::make_unique<FakeTransport>();
    if (transport_ != nullptr) {
      transport->blobs = transport_->blobs;
      transport->response = transport_->response;
    }
    client_.reset();
    ClientOptions options;
    options.app_id = "wallet";
    const signing::DeviceInfo d = repo_.Device();
    options.device.device_id = d.device_id;
    options.device.user_id = d.user_id;
    options.device.app_version = d.app_version;
    options.device.host_build = d.host_build;
    options.device.runtime_version = d.runtime_version;
    options.storage_dir = "/sdk";
    options.pinned_root_json = repo_.pinned_root();
    options.env = Env{&fs_, &clock_, &random_};
    transport_ = transport.get();
    // The server: the plan is bound to the asking device and expires in an
    // hour; the metadata is what the device does not trust yet.
    transport_->on_check = [this](const v1::CheckRequest& request,
                                  v1::CheckResponse& r) {
      r.mutable_plan()->set_app_id("wallet");
      if (r.plan().device_id().empty()) {
        r.mutable_plan()->set_device_id(request.device().device_id());
      }
      if (r.plan().expires_at_unix() == 0) {
        r.mutable_plan()->set_expires_at_unix(
            absl::ToUnixSeconds(clock_.Now() + absl::Hours(1)));
      }
      if (send_metadata_) {
        AddNewerMetadata(repo_, request.trusted(), *r.mutable_metadata());
      }
      if (tamper_response_) tamper_response_(r);
    };
    auto c = Client::CreateWithTransport(options, std::move(transport));
    ASSERT_THAT(c, IsOk());
    client_ = *std::move(c);
  }

  // An offer exactly as the publisher signed it (content served too).
  v1::UpdateEntry Offer(v1::Layer layer, const std::string& module,
                        const std::string& content, uint64_t counter,
                        const std::string& version = "1.0") {
    transport_->blobs[Sha256::HexHash(content)] = content;
    return Entry(layer, module, version, content, counter, false);
  }

  // The verifier's state file ("" before the first write).
  std::string TrustedState() {
    absl::StatusOr<std::string> s = fs_.ReadFile(kStatePath);
    return s.ok() ? *s : "";
  }

  // The release counter the verifier holds as installed for `key`
  // ("h5/page"), -1 for none.
  int64_t InstalledCounter(const std::string& key) {
    absl::StatusOr<Json> j = Json::Parse(TrustedState());
    if (!j.ok()) return -1;
    const Json* installed = j->Find("installed");
    const Json* c = installed != nullptr ? installed->Find(key) : nullptr;
    return c != nullptr && c->is_int() ? c->as_int() : -1;
  }

  // A first check that establishes trust (no update offered); returns the
  // trusted state it left.
  std::string EstablishTrust() {
    transport_->Serve({});
    absl::StatusOr<CheckResult> r = client_->Check();
    EXPECT_THAT(r, IsOk());
    const std::string state = TrustedState();
    EXPECT_FALSE(state.empty());
    return state;
  }

  // One check offering `entry` that must be refused with `reason`, install
  // nothing and leave the trusted state as it was.
  void ExpectRefused(
      const v1::UpdateEntry& entry, v1::RejectReason reason,
      v1::ReportEvent::Kind kind = v1::ReportEvent::KIND_REJECTED) {
    const std::string before = TrustedState();
    const auto installed_before = client_->AllInstalled();
    transport_->reports.clear();
    transport_->Serve({entry});
    STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
    EXPECT_TRUE(r.installed.empty());
    ASSERT_EQ(r.failure_details.size(), 1u)
        << ::testing::PrintToString(r.failures);
    EXPECT_EQ(r.failure_details[0].reason, reason)
        << r.failure_details[0].message;
    const Layer layer = static_cast<Layer>(entry.module().layer());
    EXPECT_FALSE(client_->Staged(layer, entry.module().name()).has_value());
    EXPECT_EQ(client_->AllInstalled().size(), installed_before.size());
    EXPECT_EQ(TrustedState(), before);
    // The refusal reached the server with its reason.
    bool reported = false;
    for (const v1::ReportEvent& e : transport_->reports) {
      reported |= e.kind() == kind && e.reason() == reason &&
                  e.module().name() == entry.module().name();
    }
    EXPECT_TRUE(reported);
  }

  static constexpr char kPage[] = "<html>signed page</html>";

  testing::MemFileSystem fs_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
  TestRepo repo_;
  FakeTransport* transport_ = nullptr;
  std::unique_ptr<Client> client_;
  bool send_metadata_ = true;
  std::function<void(v1::CheckResponse&)> tamper_response_;
};

TEST_F(VerifiedClientTest, InstallsACorrectlySignedUpdateWithTheSignedFacts) {
  // The server's statement says another version label; the device keeps
  // the signed one.
  transport_->Serve({Offer(v1::LAYER_H5, "page", kPage, 1, "server-says-9")});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(r.installed[0].version, "1.0");
  EXPECT_EQ(r.installed[0].release_sequence, 1u);
  EXPECT_EQ(r.installed[0].content_sha256, Sha256::HexHash(kPage));
  // The first request trusted only the pinned root.
  EXPECT_EQ(transport_->last_request.trusted().root(), 1u);
  EXPECT_EQ(transport_->last_request.trusted().timestamp(), 0u);
  // Staged only: not installed for the verifier yet.
  EXPECT_EQ(InstalledCounter("h5/page"), -1);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              client_->OpenModule(Layer::kH5, "page"));
  EXPECT_EQ(*fs_.ReadFile(path), kPage);
  // Activated: the verifier now holds the release counter (persisted).
  EXPECT_EQ(InstalledCounter("h5/page"), 1);
  // The next request names what the device trusts now.
  transport_->Serve({});
  ASSERT_THAT(client_->Check(), IsOk());
  const v1::TrustedVersions& t = transport_->last_request.trusted();
  EXPECT_EQ(t.root(), 1u);
  EXPECT_EQ(t.timestamp(), repo_.timestamp.common.version);
  EXPECT_EQ(t.snapshot(), repo_.snapshot.common.version);
  EXPECT_EQ(t.targets(), repo_.targets.common.version);
  EXPECT_EQ(t.director(), repo_.director.common.version);
  EXPECT_EQ(t.roles().at("h5"), repo_.delegated["h5"].common.version);
}

// A tree patch (stratad's, checked by re-packing the tree against the
// signed hash) is kept beside a byte patch the publishers listed for the
// same base, within the content's signed length.
TEST_F(VerifiedClientTest, ATreePatchIsKeptBesideAPublisherListedPatch) {
  const std::map<std::string, std::string> files1 = {
      {"index.html", "<h1>v1</h1>"}, {"static/app.js", std::string(900, 'a')}};
  std::map<std::string, std::string> files2 = files1;
  files2["index.html"] = "<h1>v2</h1>";
  const std::string tar1 = tree_testing::CanonicalTar(files1);
  const std::string tar2 = tree_testing::CanonicalTar(files2);
  Sign(signing::Layer::kH5, "mall", 1, tar1, "1");
  repo_.Publish();
  transport_->Serve({Offer(v1::LAYER_H5, "mall", tar1, 1, "1")});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r1, client_->Check());
  ASSERT_TRUE(r1.failures.empty()) << r1.failures.front();
  ASSERT_THAT(client_->OpenModule(Layer::kH5, "mall"), IsOk());  // unpacked

  STRATA_ASSERT_OK_AND_ASSIGN(std::string bytes, diff::CreatePatch(tar1, tar2));
  diff::TreeDiffOptions per_file;  // the form stratad makes
  per_file.form = diff::TreePatchForm::kPerFile;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string tree,
      diff::CreateTreePatchFromArchives(tar1, tar2, per_file));
  const std::string name = Sign(signing::Layer::kH5, "mall", 2, tar2, "2");
  repo_.delegated["h5"].targets[name].artifact->deltas.push_back(
      signing::DeltaEntry{Sha256::HexHash(tar1), Sha256::HexHash(bytes),
                          bytes.size(), "strata-diff/1"});
  ++repo_.delegated["h5"].common.version;
  ++repo_.snapshot.common.version;
  ++repo_.timestamp.common.version;
  ++repo_.director.common.version;
  repo_.Publish();
  v1::UpdateEntry v2 = Offer(v1::LAYER_H5, "mall", tar2, 2, "2");
  transport_->blobs.erase(Sha256::HexHash(tar2));  // patches only
  for (const std::string* patch : {&tree, &bytes}) {
    transport_->blobs[Sha256::HexHash(*patch)] = *patch;
    v1::DeltaRef* d = v2.add_deltas();
    d->set_from_sha256(Sha256::HexHash(tar1));
    d->set_tree(patch == &tree);
    d->mutable_patch()->set_sha256(Sha256::HexHash(*patch));
    d->mutable_patch()->set_size(patch->size());
  }
  transport_->Serve({v2});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r2, client_->Check());
  ASSERT_TRUE(r2.failures.empty()) << r2.failures.front();
  EXPECT_EQ(r2.via_tree_delta, 1u);
  EXPECT_EQ(r2.bytes_downloaded, tree.size());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string dir,
                              client_->OpenModule(Layer::kH5, "mall"));
  EXPECT_EQ(*fs_.ReadFile(dir + "/index.html"), "<h1>v2</h1>");
}

TEST_F(VerifiedClientTest, FilesTheServerDoesNotResendComeFromTheTrustedState) {
  EstablishTrust();
  // A new release: only the changed roles are newer (timestamp, snapshot,
  // the h5 role, director); root and targets are not sent again.
  Sign(signing::Layer::kH5, "page", 2, "<html>v2</html>", "2.0");
  ++repo_.delegated["h5"].common.version;
  ++repo_.snapshot.common.version;
  ++repo_.timestamp.common.version;
  ++repo_.director.common.version;
  repo_.Publish();
  std::vector<std::string> sent;
  tamper_response_ = [&](v1::CheckResponse& r) {
    sent.clear();
    for (const auto& f : r.metadata()) sent.push_back(f.name());
  };
  transport_->Serve({Offer(v1::LAYER_H5, "page", "<html>v2</html>", 2)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(r.installed.size(), 1u);
  EXPECT_THAT(
      sent, ::testing::UnorderedElementsAre("timestamp.json", "2.snapshot.json",
                                            "2.h5.json", "director.json"));
  // Nothing new at all: timestamp and director come from the trusted
  // bytes, and the staged version is not offered in vain.
  transport_->Serve({Offer(v1::LAYER_H5, "page", "<html>v2</html>", 2)});
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  EXPECT_TRUE(sent.empty());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
}

TEST_F(VerifiedClientTest, AnEntryNoPublisherSignedIsRefused) {
  EstablishTrust();
  // Another module: the signed director assigns nothing for it.
  ExpectRefused(Offer(v1::LAYER_H5, "other", "<html>unsigned</html>", 1),
                v1::REJECT_UNSIGNED_DIRECTOR_TARGET);
  EXPECT_TRUE(transport_->downloaded.empty());
}

TEST_F(VerifiedClientTest, AnOfferDifferingFromTheSignedHashIsRefused) {
  EstablishTrust();
  ExpectRefused(Offer(v1::LAYER_H5, "page", "<html>evil page!</html>", 1),
                v1::REJECT_DIRECTOR_TARGET_MISMATCH);
  EXPECT_TRUE(transport_->downloaded.empty());
}

TEST_F(VerifiedClientTest, BytesDifferingFromTheSignedHashAreRefused) {
  EstablishTrust();
  // The offer is the signed one; the download serves other bytes of the
  // same length.
  v1::UpdateEntry e = Offer(v1::LAYER_H5, "page", kPage, 1);
  std::string evil = kPage;
  evil[7] = 'X';
  transport_->blobs[Sha256::HexHash(kPage)] = evil;
  ExpectRefused(e, v1::REJECT_CONTENT_HASH_MISMATCH,
                v1::ReportEvent::KIND_APPLY_FAILED);
  // Endless bytes stop at the signed length.
  transport_->blobs[Sha256::HexHash(kPage)] = std::string(kPage) + "more";
  ExpectRefused(e, v1::REJECT_ENDLESS_DATA, v1::ReportEvent::KIND_APPLY_FAILED);
}

TEST_F(VerifiedClientTest, AnInlineCopyDifferingFromTheSignedHashIsRefused) {
  Sign(signing::Layer::kConfig, "limits", 1, "{\"daily\":5}", "1");
  repo_.Publish();
  EstablishTrust();
  v1::UpdateEntry e = Offer(v1::LAYER_CONFIG, "limits", "{\"daily\":5}", 1);
  e.set_inline_content("{\"daily\":9}");  // same length, other bytes
  ExpectRefused(e, v1::REJECT_CONTENT_HASH_MISMATCH,
                v1::ReportEvent::KIND_APPLY_FAILED);
  EXPECT_EQ(*client_->GetConfig("limits"), std::nullopt);
}

TEST_F(VerifiedClientTest, ACounterDifferingFromTheSignedOneIsRefused) {
  EstablishTrust();
  ExpectRefused(Offer(v1::LAYER_H5, "page", kPage, 2),
                v1::REJECT_DIRECTOR_TARGET_MISMATCH);
  // The 2^64-1 pin: a server cannot freeze the module for good.
  ExpectRefused(
      Offer(v1::LAYER_H5, "page", kPage, std::numeric_limits<uint64_t>::max()),
      v1::REJECT_DIRECTOR_TARGET_MISMATCH);
  // The signed one still installs afterwards.
  transport_->Serve({Offer(v1::LAYER_H5, "page", kPage, 1)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.installed.size(), 1u) << ::testing::PrintToString(r.failures);
}

TEST_F(VerifiedClientTest, APlanForAnotherDeviceIsRefused) {
  EstablishTrust();
  transport_->response.mutable_plan()->set_device_id("device-2");
  ExpectRefused(Offer(v1::LAYER_H5, "page", kPage, 1), v1::REJECT_WRONG_DEVICE);
}

TEST_F(VerifiedClientTest, AnExpiredPlanIsRefused) {
  EstablishTrust();
  transport_->response.mutable_plan()->set_expires_at_unix(
      absl::ToUnixSeconds(clock_.Now() - absl::Seconds(1)));
  ExpectRefused(Offer(v1::LAYER_H5, "page", kPage, 1),
                v1::REJECT_EXPIRED_METADATA);
}

TEST_F(VerifiedClientTest, AFrozenTimestampIsRefused) {
  EstablishTrust();
  // The server stops sending anything new; the trusted timestamp (24 h)
  // expires.
  clock_.Advance(absl::Hours(25));
  ExpectRefused(Offer(v1::LAYER_H5, "page", kPage, 1),
                v1::REJECT_EXPIRED_METADATA);
}

TEST_F(VerifiedClientTest, AnExpiredTimestampSentByTheServerIsRefused) {
  EstablishTrust();
  ++repo_.timestamp.common.version;
  repo_.timestamp.common.expires = clock_.Now() - absl::Seconds(1);
  repo_.Publish();
  ExpectRefused(Offer(v1::LAYER_H5, "page", kPage, 1),
                v1::REJECT_EXPIRED_METADATA);
}

TEST_F(VerifiedClientTest, MetadataSignedByAnUntrustedKeyRefusesEveryEntry) {
  EstablishTrust();
  // A server holding its online keys but not the publisher's re-signs the
  // h5 role to list other content.
  repo_.delegated["h5"].targets.clear();
  Sign(signing::Layer::kH5, "page", 5, "<html>server's own</html>", "5");
  ++repo_.delegated["h5"].common.version;
  ++repo_.snapshot.common.version;
  ++repo_.timestamp.common.version;
  ++repo_.director.common.version;
  const signing::PrivateKey rogue = signing::testing::TestKey(99);
  repo_.signers["h5"] = {&rogue};
  repo_.Publish();
  ExpectRefused(Offer(v1::LAYER_H5, "page", "<html>server's own</html>", 5),
                v1::REJECT_BAD_SIGNATURE);
}

TEST_F(VerifiedClientTest, NoMetadataAtAllFailsClosed) {
  send_metadata_ = false;
  ExpectRefused(Offer(v1::LAYER_H5, "page", kPage, 1),
                v1::REJECT_METADATA_UNAVAILABLE);
  EXPECT_TRUE(TrustedState().empty());
}

TEST_F(VerifiedClientTest, ARestartedClientKeepsItsTrustAndCounters) {
  transport_->Serve({Offer(v1::LAYER_H5, "page", kPage, 1)});
  ASSERT_THAT(client_->Check(), IsOk());
  ASSERT_THAT(client_->OpenModule(Layer::kH5, "page"), IsOk());
  NewClient();
  // Trust comes from the stored state: only newer files are asked for.
  transport_->Serve({});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_EQ(transport_->last_request.trusted().timestamp(),
            repo_.timestamp.common.version);
  EXPECT_EQ(InstalledCounter("h5/page"), 1);
  Sign(signing::Layer::kH5, "page", 3, "<html>v3</html>", "3");
  ++repo_.delegated["h5"].common.version;
  ++repo_.snapshot.common.version;
  ++repo_.timestamp.common.version;
  ++repo_.director.common.version;
  repo_.Publish();
  transport_->Serve({Offer(v1::LAYER_H5, "page", "<html>v3</html>", 3)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.installed.size(), 1u) << ::testing::PrintToString(r.failures);
  ASSERT_THAT(client_->OpenModule(Layer::kH5, "page"), IsOk());
  EXPECT_EQ(InstalledCounter("h5/page"), 3);
  // A director that points back at the older signed release (a replay of
  // its old choice under new signatures) is refused.
  repo_.Assign(signing::TargetName(signing::Layer::kH5, "page", 1));
  ++repo_.snapshot.common.version;
  ++repo_.timestamp.common.version;
  ++repo_.director.common.version;
  repo_.Publish();
  EstablishTrust();
  ExpectRefused(Offer(v1::LAYER_H5, "page", kPage, 1),
                v1::REJECT_RELEASE_COUNTER_ROLLBACK);
  EXPECT_EQ(client_->Installed(Layer::kH5, "page")->version, "3");
}

TEST_F(VerifiedClientTest, ActivationReHashesStagedContent) {
  transport_->Serve({Offer(v1::LAYER_H5, "page", kPage, 1)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.staged.size(), 1u);
  // The staged blob changes on disk after it was verified.
  const std::string blob =
      StrCat("/sdk/blobs/", Sha256::HexHash(kPage), ".blob");
  std::string bytes = *fs_.ReadFile(blob);
  bytes[0] = '#';
  ASSERT_THAT(WriteFileAtomically(fs_, blob, bytes), IsOk());
  transport_->reports.clear();
  EXPECT_THAT(client_->OpenModule(Layer::kH5, "page"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(client_->Installed(Layer::kH5, "page").has_value());
  EXPECT_FALSE(client_->Staged(Layer::kH5, "page").has_value());
  EXPECT_EQ(InstalledCounter("h5/page"), -1);
  ASSERT_THAT(client_->FlushReports(), IsOk());
  ASSERT_EQ(transport_->reports.size(), 1u);
  EXPECT_EQ(transport_->reports[0].kind(), v1::ReportEvent::KIND_APPLY_FAILED);
  EXPECT_EQ(transport_->reports[0].reason(), v1::REJECT_CONTENT_HASH_MISMATCH);
  // The next check fetches it again and the page opens.
  STRATA_ASSERT_OK_AND_ASSIGN(r, client_->Check());
  ASSERT_EQ(r.staged.size(), 1u) << ::testing::PrintToString(r.failures);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              client_->OpenModule(Layer::kH5, "page"));
  EXPECT_EQ(*fs_.ReadFile(path), kPage);
}

TEST_F(VerifiedClientTest, PushedConfigsAreVerifiedWithTheirMetadata) {
  Sign(signing::Layer::kConfig, "flags", 1, "{\"on\":true}", "1");
  repo_.Publish();
  std::vector<ConfigPush> pushes;
  std::mutex mu;
  ConfigWatchOptions o;
  o.on_push = [&](const ConfigPush& p) {
    std::lock_guard<std::mutex> lock(mu);
    pushes.push_back(p);
  };
  FakeWatch& watch = *transport_->watch;
  ASSERT_THAT(client_->StartConfigWatch(o), IsOk());
  ASSERT_TRUE(watch.WaitFor(1));
  // The stream was opened naming what the device trusts.
  EXPECT_EQ(watch.requests()[0].trusted().root(), 1u);
  // An unsigned config first, then the signed one with its metadata.
  v1::ConfigEvent unsigned_event;
  *unsigned_event.mutable_entry() =
      Entry(v1::LAYER_CONFIG, "other", "1", "{}", 1, true);
  AddNewerMetadata(repo_, watch.requests()[0].trusted(),
                   *unsigned_event.mutable_metadata());
  watch.Push(unsigned_event);
  ASSERT_TRUE(watch.WaitFor(1));
  v1::ConfigEvent signed_event;
  *signed_event.mutable_entry() =
      Entry(v1::LAYER_CONFIG, "flags", "1", "{\"on\":true}", 1, true);
  watch.Push(signed_event);  // metadata already sent on this stream
  ASSERT_TRUE(watch.WaitFor(1));
  client_->StopConfigWatch();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(pushes.size(), 2u);
  ASSERT_TRUE(pushes[0].failure.has_value());
  EXPECT_EQ(pushes[0].failure->reason, v1::REJECT_UNSIGNED_DIRECTOR_TARGET);
  EXPECT_TRUE(pushes[1].installed)
      << (pushes[1].failure ? pushes[1].failure->message : "");
  EXPECT_EQ(*client_->GetConfig("flags"),
            std::optional<std::string>("{\"on\":true}"));
  EXPECT_EQ(*client_->GetConfig("other"), std::nullopt);
  EXPECT_EQ(InstalledCounter("config/flags"), 1);
}

TEST_F(VerifiedClientTest, RefusedPushedMetadataReopensTheStream) {
  Sign(signing::Layer::kConfig, "flags", 1, "{\"on\":true}", "1");
  const signing::PrivateKey rogue = signing::testing::TestKey(99);
  repo_.signers["timestamp"] = {&rogue};  // the server lost its keys
  repo_.Publish();
  std::vector<ConfigPush> pushes;
  std::mutex mu;
  ConfigWatchOptions o;
  o.on_push = [&](const ConfigPush& p) {
    std::lock_guard<std::mutex> lock(mu);
    pushes.push_back(p);
  };
  FakeWatch& watch = *transport_->watch;
  ASSERT_THAT(client_->StartConfigWatch(o), IsOk());
  ASSERT_TRUE(watch.WaitFor(1));
  v1::ConfigEvent event;
  *event.mutable_entry() =
      Entry(v1::LAYER_CONFIG, "flags", "1", "{\"on\":true}", 1, true);
  AddNewerMetadata(repo_, watch.requests()[0].trusted(),
                   *event.mutable_metadata());
  const std::string before = TrustedState();
  watch.Push(event);
  // The refusal ends the stream; the next one names the same trust.
  ASSERT_TRUE(watch.WaitFor(2));
  client_->StopConfigWatch();
  const auto requests = watch.requests();
  EXPECT_EQ(requests[1].trusted().timestamp(), 0u);
  EXPECT_EQ(TrustedState(), before);
  EXPECT_THAT(client_->ConfigWatchStatus().last_error,
              HasSubstr("pushed metadata refused"));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(pushes.size(), 1u);
  ASSERT_TRUE(pushes[0].failure.has_value());
  EXPECT_EQ(pushes[0].failure->reason, v1::REJECT_BAD_SIGNATURE);
  EXPECT_EQ(*client_->GetConfig("flags"), std::nullopt);
}

// A loopback HTTP server handing out the repository's files by path, one
// connection at a time; `endless` names a file served without end.
class RepoHttpServer {
 public:
  RepoHttpServer(const TestRepo* repo, std::string endless = "")
      : repo_(repo), endless_(std::move(endless)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(fd_, 8) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RepoHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  std::string BaseUrl() const {
    return StrCat("http://127.0.0.1:", port_, "/v1/tuf/wallet");
  }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

 private:
  static void Send(int fd, std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[2048];
      while (req.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      const size_t a = req.find(' '), b = req.find(' ', a + 1);
      const std::string path = req.substr(a + 1, b - a - 1);
      {
        std::lock_guard<std::mutex> lock(mu_);
        paths_.push_back(path);
      }
      const std::string prefix = "/v1/tuf/wallet/";
      const std::string name = path.substr(prefix.size());
      const auto& files = repo_->source.files();
      if (name == endless_) {
        Send(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        const std::string chunk(4096, ' ');
        for (int i = 0; i < 100000 && !stop_; ++i) Send(c, chunk);
      } else if (auto it = files.find(name); it != files.end()) {
        Send(c, StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", it->second.size(),
                       "\r\nConnection: close\r\n\r\n"));
        Send(c, it->second);
      } else {
        Send(c,
             "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: "
             "close\r\n\r\n");
      }
      close(c);
    }
  }

  const TestRepo* repo_;
  std::string endless_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> paths_;
};

class HttpMetadataTest : public VerifiedClientTest {
 protected:
  std::unique_ptr<Client> HttpClient(const std::string& base_url) {
    ClientOptions options;
    options.app_id = "wallet";
    const signing::DeviceInfo d = repo_.Device();
    options.device.device_id = d.device_id;
    options.device.host_build = d.host_build;
    options.device.app_version = d.app_version;
    options.storage_dir = "/http-sdk";
    options.pinned_root_json = repo_.pinned_root();
    options.metadata_base_url = base_url;
    options.env = Env{&fs_, &clock_, &random_};
    auto transport = std::make_unique<FakeTransport>(*transport_);
    http_transport_ = transport.get();
    auto c = Client::CreateWithTransport(options, std::move(transport));
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  }
  FakeTransport* http_transport_ = nullptr;
};

TEST_F(HttpMetadataTest, MetadataComesOverHttpFilePerFile) {
  RepoHttpServer http(&repo_);
  send_metadata_ = false;  // nothing in the check answers
  transport_->Serve({Offer(v1::LAYER_H5, "page", kPage, 1)});
  auto client = HttpClient(http.BaseUrl());
  ASSERT_NE(client, nullptr);
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  EXPECT_EQ(r.installed.size(), 1u);
  EXPECT_THAT(
      http.paths(),
      ::testing::IsSupersetOf(
          {"/v1/tuf/wallet/2.root.json", "/v1/tuf/wallet/timestamp.json",
           "/v1/tuf/wallet/1.snapshot.json", "/v1/tuf/wallet/1.targets.json",
           "/v1/tuf/wallet/1.h5.json", "/v1/tuf/wallet/director.json"}));
  // Versioned files already trusted are not fetched again.
  const size_t before = http.paths().size();
  STRATA_ASSERT_OK_AND_ASSIGN(r, client->Check());
  const std::vector<std::string> paths = http.paths();
  EXPECT_THAT(std::vector<std::string>(paths.begin() + before, paths.end()),
              ::testing::UnorderedElementsAre("/v1/tuf/wallet/2.root.json",
                                              "/v1/tuf/wallet/timestamp.json",
                                              "/v1/tuf/wallet/director.json"));
}

TEST_F(HttpMetadataTest, EndlessMetadataOverHttpIsCutAtTheRoleCap) {
  RepoHttpServer http(&repo_, "timestamp.json");
  send_metadata_ = false;
  transport_->Serve({Offer(v1::LAYER_H5, "page", kPage, 1)});
  auto client = HttpClient(http.BaseUrl());
  ASSERT_NE(client, nullptr);
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_EQ(r.failure_details[0].reason, v1::REJECT_ENDLESS_DATA)
      << r.failure_details[0].message;
  EXPECT_TRUE(r.installed.empty());
}

class TrustSeamTest : public ::testing::Test {
 protected:
  testing::MemFileSystem fs_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
};

TEST_F(TrustSeamTest, EveryTrustRejectionReachesTheReportQueueWithItsReason) {
  signing::RejectReason reason = signing::RejectReason::kUnspecified;
  ClientOptions options;
  options.app_id = "wallet";
  options.device.device_id = "device-1";
  options.device.host_build = "10.3.0+100";
  options.storage_dir = "/sdk";
  options.env = Env{&fs_, &clock_, &random_};
  auto transport = std::make_unique<FakeTransport>();
  FakeTransport* t = transport.get();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto client,
      Client::CreateWithSeams(options, std::move(transport),
                              std::make_unique<RejectingTrustPolicy>(&reason)));
  size_t count = 0;
  const signing::RejectReason* all = signing::AllRejectReasons(&count);
  int checked = 0;
  for (size_t i = 0; i < count; ++i) {
    if (all[i] == signing::RejectReason::kUnspecified) continue;
    reason = all[i];
    t->reports.clear();
    t->Serve({Entry(v1::LAYER_CONFIG, "m", "1", "x", 1, /*inline=*/true)});
    STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
    ASSERT_EQ(r.failure_details.size(), 1u);
    EXPECT_EQ(r.failure_details[0].reason, static_cast<int>(reason));
    ASSERT_EQ(t->reports.size(), 1u);
    EXPECT_EQ(t->reports[0].kind(), v1::ReportEvent::KIND_REJECTED);
    EXPECT_EQ(static_cast<int>(t->reports[0].reason()),
              static_cast<int>(reason))
        << signing::RejectReasonName(reason);
    EXPECT_EQ(v1::RejectReason_Name(t->reports[0].reason()),
              "REJECT_" + std::string(signing::RejectReasonName(reason)));
    EXPECT_FALSE(client->Installed(Layer::kConfig, "m").has_value());
    ++checked;
  }
  EXPECT_GE(checked, 29);
}

TEST_F(TrustSeamTest, TheInsecureOptionInstallsUnsignedUpdates) {
  ClientOptions options;
  options.app_id = "wallet";
  options.device.device_id = "d";
  options.storage_dir = "/sdk";
  options.insecure_skip_signature_verification_for_tests = true;
  options.env = Env{&fs_, &clock_, &random_};
  auto transport = std::make_unique<FakeTransport>();
  FakeTransport* t = transport.get();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto client, Client::CreateWithTransport(options, std::move(transport)));
  t->Serve({Entry(v1::LAYER_CONFIG, "m", "1", "x", 1, true)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
  EXPECT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(*client->GetConfig("m"), std::optional<std::string>("x"));
  // It asks for no metadata and keeps no trusted state.
  EXPECT_EQ(t->last_request.trusted().root(), 0u);
  EXPECT_FALSE(fs_.Stat("/sdk/trust").ok());
}

TEST_F(TrustSeamTest, APinnedRootWinsOverTheInsecureOption) {
  TestRepo repo(clock_.Now());
  ClientOptions options;
  options.app_id = "wallet";
  options.device.device_id = "d";
  options.storage_dir = "/sdk";
  options.pinned_root_json = repo.pinned_root();
  options.insecure_skip_signature_verification_for_tests = true;
  options.env = Env{&fs_, &clock_, &random_};
  auto transport = std::make_unique<FakeTransport>();
  FakeTransport* t = transport.get();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto client, Client::CreateWithTransport(options, std::move(transport)));
  t->Serve({Entry(v1::LAYER_CONFIG, "m", "1", "x", 1, true)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
  EXPECT_TRUE(r.installed.empty());
  ASSERT_EQ(r.failure_details.size(), 1u);
}

}  // namespace
}  // namespace strata::client
