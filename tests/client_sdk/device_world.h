// The device world of the SDK's crash and disk-full tests: an in-memory
// file system (MemFileSystem: power cuts, torn tails, a disk that fills),
// a simulated clock, one fake server shared by every client of the world,
// and the updates the tests install.
#ifndef STRATA_TESTS_CLIENT_SDK_DEVICE_WORLD_H_
#define STRATA_TESTS_CLIENT_SDK_DEVICE_WORLD_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../signing/test_repo.h"
#include "fake_transport.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"

namespace strata::client::device_world {

using ::strata::testing::IsOk;
using ::strata::testing::MemFileSystem;

inline const std::string kOld = "old module content, version one";
inline const std::string kNew = "new module content, version two, longer";
inline const std::string kNewer = "newer module content, version three";
inline const std::string kEmbedded =
    "embedded module content, shipped with the app";

// Every layer, for tests parameterized by layer, and their names.
inline const std::vector<v1::Layer> kAllLayers = {
    v1::LAYER_CONFIG, v1::LAYER_H5, v1::LAYER_HCF, v1::LAYER_HOTPATCH,
    v1::LAYER_NATIVE_BUNDLE};
inline std::string LayerParamName(
    const ::testing::TestParamInfo<v1::Layer>& info) {
  return v1::Layer_Name(info.param);
}

// The module version an update must make active, and its content.
struct UpdateTarget {
  v1::Layer layer = v1::LAYER_CONFIG;
  std::string name;
  std::string version;
  std::string content;
};

// Forwards to a FakeTransport that outlives the clients, so the reports of
// every client of a world reach one server.
class SharedTransport : public Transport {
 public:
  explicit SharedTransport(FakeTransport* server) : server_(server) {}
  absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) override {
    return server_->Check(request);
  }
  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    return server_->Download(sha256, offset, sink);
  }
  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) override {
    return server_->Report(request);
  }
  absl::Status WatchConfig(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event)
      override {
    return server_->WatchConfig(request, cancel, on_event);
  }

 private:
  FakeTransport* server_;
};

struct World {
  MemFileSystem mem;
  testing::SimulatedClock clock;
  testing::FakeRandom random;
  FakeTransport server;
  // With a repository, TryOpen verifies against its pinned root (trust
  // state written under /sdk/trust) instead of skipping verification.
  std::unique_ptr<signing::testing::TestRepo> repo;

  World() {
    for (const std::string& c : {kOld, kNew, kNewer, kOld + "b", kNew + "b"}) {
      server.blobs[Sha256::HexHash(c)] = c;
    }
  }

  // A client on the one shared server, with the app's embedded modules
  // under /app/embedded; the open may fail (a crash injected into it).
  absl::StatusOr<std::unique_ptr<Client>> TryOpen(FileSystem* fs) {
    ClientOptions options;
    options.app_id = "wallet";
    options.device.device_id = "d1";
    options.device.host_build = "b1";
    options.storage_dir = "/sdk";
    options.embedded_dir = "/app/embedded";
    options.insecure_skip_signature_verification_for_tests =
        true;  // not about trust
    if (repo != nullptr) {
      options.insecure_skip_signature_verification_for_tests = false;
      options.pinned_root_json = repo->pinned_root();
      const signing::DeviceInfo d = repo->Device();
      options.device.device_id = d.device_id;
      options.device.user_id = d.user_id;
      options.device.app_version = d.app_version;
      options.device.host_build = d.host_build;
      options.device.runtime_version = d.runtime_version;
    }
    options.env = Env{fs, &clock, &random};
    return Client::CreateWithTransport(
        options, std::make_unique<SharedTransport>(&server));
  }
  // Like TryOpen; the open must succeed.
  std::unique_ptr<Client> Open(FileSystem* fs) {
    auto client = TryOpen(fs);
    EXPECT_THAT(client, IsOk());
    return client.ok() ? *std::move(client) : nullptr;
  }
};

inline v1::UpdateEntry Version(v1::Layer layer, const std::string& name,
                               const std::string& version,
                               const std::string& content, uint64_t seq,
                               uint64_t release_id) {
  v1::UpdateEntry e = Entry(layer, name, version, content, seq,
                            /*inline_content=*/false, release_id);
  e.mutable_statement()->mutable_compatibility()->set_host_build("b1");
  return e;
}

// Activates whatever is staged, the way the app would.
inline void ActivateAll(Client& client, v1::Layer layer,
                        const std::string& name) {
  (void)client.BeginLaunch();
  (void)client.OpenModule(static_cast<Layer>(layer), name);
}

// The device goes on: a healthy launch, a Check (no failure) and the
// activation make `target` active with its content, verified.
inline void CompleteUpdate(World& w, Client& client,
                           const UpdateTarget& target) {
  const Layer layer = static_cast<Layer>(target.layer);
  EXPECT_THAT(client.BeginLaunch(), IsOk());
  EXPECT_THAT(client.MarkLaunchHealthy(), IsOk());
  auto result = client.Check();
  EXPECT_THAT(result, IsOk());
  if (result.ok()) {
    EXPECT_TRUE(result->failures.empty()) << result->failures.front();
  }
  ActivateAll(client, target.layer, target.name);
  EXPECT_THAT(client.MarkLaunchHealthy(), IsOk());
  auto active = client.Installed(layer, target.name);
  EXPECT_TRUE(active.has_value());
  if (active.has_value()) {
    EXPECT_EQ(active->version, target.version) << "the update did not complete";
  }
  auto path = client.OpenModule(layer, target.name);
  EXPECT_THAT(path, IsOk());
  if (path.ok()) {
    EXPECT_EQ(w.mem.ReadFile(*path).value_or("<unreadable>"), target.content);
  }
  EXPECT_THAT(client.VerifyInstalled(), IsOk());
}

// `first` installed, activated by a launch and marked healthy; then the
// server offers `next`.
inline void InstallHealthy(World& w, const std::vector<v1::UpdateEntry>& first,
                           const std::vector<v1::UpdateEntry>& next) {
  w.server.Serve(first);
  auto client = w.Open(&w.mem);
  ASSERT_NE(client, nullptr);
  ASSERT_THAT(client->Check(), IsOk());
  ASSERT_THAT(client->BeginLaunch(), IsOk());
  ASSERT_THAT(client->MarkLaunchHealthy(), IsOk());
  w.server.Serve(next);
}

// Version 1 of layer/"m" installed and healthy; the server offers `next`.
inline void InstallHealthy(World& w, v1::Layer layer,
                           const v1::UpdateEntry& next) {
  InstallHealthy(w, {Version(layer, "m", "1", kOld, 1, 0)}, {next});
}

// Release `version` (1, 2, 3: kOld, kNew, kNewer; release id and
// sequence `version`) of config "a" and `layer`/`name`, whose content has
// `suffix` added.
inline std::vector<v1::UpdateEntry> Release(v1::Layer layer,
                                            const std::string& name,
                                            int version,
                                            const std::string& suffix = "") {
  const std::string& c = version == 1 ? kOld : version == 2 ? kNew : kNewer;
  const std::string v = std::to_string(version);
  const uint64_t n = static_cast<uint64_t>(version);
  return {Version(v1::LAYER_CONFIG, "a", v, c, n, n),
          Version(layer, name, v, c + suffix, n, n)};
}

// Three launches not marked healthy after release 2 of config "a" and
// hotpatch "core" was activated: the next launch rolls both back.
inline void ThreeUnhealthyLaunches(World& w) {
  InstallHealthy(w, Release(v1::LAYER_HOTPATCH, "core", 1),
                 Release(v1::LAYER_HOTPATCH, "core", 2));
  for (int launch = 0; launch < 3; ++launch) {
    auto client = w.Open(&w.mem);  // each launch crashes before healthy
    ASSERT_NE(client, nullptr);
    if (launch == 0) {
      ASSERT_THAT(client->Check(), IsOk());
    }
    ASSERT_THAT(client->BeginLaunch(), IsOk());
  }
}

// Version 2 of native bundle "m" as a delta from version 1; only the
// patch is on the server, so the new version must come from it.
inline v1::UpdateEntry DeltaUpdate(World& w, const std::string& patch) {
  w.server.blobs.erase(Sha256::HexHash(kNew));
  w.server.blobs[Sha256::HexHash(patch)] = patch;
  v1::UpdateEntry e = Version(v1::LAYER_NATIVE_BUNDLE, "m", "2", kNew, 2, 0);
  v1::DeltaRef* d = e.add_deltas();
  d->set_from_sha256(Sha256::HexHash(kOld));
  d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
  d->mutable_patch()->set_size(patch.size());
  return e;
}

// What stratad sends: every metadata file of `repo` newer than `trusted`.
inline void AddNewerMetadata(
    const signing::testing::TestRepo& repo, const v1::TrustedVersions& trusted,
    google::protobuf::RepeatedPtrField<v1::MetadataFile>& out) {
  out.Clear();
  for (const auto& [name, bytes] : repo.source.files()) {
    std::string role;
    uint64_t version = 0;
    if (name == "timestamp.json") {
      role = "timestamp";
      version = repo.timestamp.common.version;
    } else if (name == "director.json") {
      role = "director";
      version = repo.director.common.version;
    } else {
      const size_t dot = name.find('.');
      role = name.substr(dot + 1, name.size() - dot - 1 - 5);
      version = std::stoull(name.substr(0, dot));
    }
    uint64_t have = 0;
    if (role == "root") {
      have = trusted.root();
    } else if (role == "timestamp") {
      have = trusted.timestamp();
    } else if (role == "snapshot") {
      have = trusted.snapshot();
    } else if (role == "targets") {
      have = trusted.targets();
    } else if (role == "director") {
      have = trusted.director();
    } else if (auto it = trusted.roles().find(role);
               it != trusted.roles().end()) {
      have = it->second;
    }
    if (version <= have) continue;
    v1::MetadataFile* f = out.Add();
    f->set_name(name);
    f->set_content(bytes);
  }
}

// A signed H5 page `page` at `counter`, assigned, published, and offered.
inline void PublishPage(World& w, uint64_t counter, const std::string& content,
                        const std::string& version) {
  signing::testing::TestRepo& repo = *w.repo;
  if (counter > 1) repo.BumpVersions();
  const std::string name =
      repo.AddArtifact(signing::Layer::kH5, "page", counter, content);
  repo.delegated["h5"].targets[name].artifact->version_label = version;
  repo.Assign(name);
  repo.Publish();
  w.server.blobs[Sha256::HexHash(content)] = content;
  w.server.Serve(
      {Entry(v1::LAYER_H5, "page", version, content, counter, false)});
}

// Signed H5 page "page" version 1 (counter 1) installed against the
// repository's pinned root (trust state in /sdk/trust) and healthy; the
// server then offers version 2 (kNew), with the metadata stratad would.
inline void InstallVerifiedPage(World& w) {
  w.repo = std::make_unique<signing::testing::TestRepo>(w.clock.Now(),
                                                        absl::Hours(24));
  w.server.on_check = [&w](const v1::CheckRequest& request,
                           v1::CheckResponse& r) {
    r.mutable_plan()->set_app_id("wallet");
    r.mutable_plan()->set_device_id(request.device().device_id());
    r.mutable_plan()->set_expires_at_unix(
        absl::ToUnixSeconds(w.clock.Now() + absl::Hours(1)));
    AddNewerMetadata(*w.repo, request.trusted(), *r.mutable_metadata());
  };
  PublishPage(w, 1, kOld, "1");
  auto client = w.TryOpen(&w.mem);
  ASSERT_THAT(client, IsOk());
  absl::StatusOr<CheckResult> r = (*client)->Check();
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->failures.empty()) << r->failures.front();
  ActivateAll(**client, v1::LAYER_H5, "page");
  ASSERT_THAT((*client)->MarkLaunchHealthy(), IsOk());
  ASSERT_EQ((*client)->Installed(Layer::kH5, "page")->version, "1");
  PublishPage(w, 2, kNew, "2");
}

}  // namespace strata::client::device_world

#endif  // STRATA_TESTS_CLIENT_SDK_DEVICE_WORLD_H_
