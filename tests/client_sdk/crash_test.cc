// Crash safety of applies, per layer: for every N, the N-th file operation
// of a check-and-activate fails and everything after it too (the process
// died there), then unsynced data is dropped (power cut). Reopening must
// find exactly the old or the new version active and intact, and no
// leftovers.
#include "fake_transport.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/diff/delta.h"

namespace strata::client {
namespace {

using ::strata::testing::FaultInjectionFileSystem;
using ::strata::testing::IsOk;
using ::strata::testing::MemFileSystem;

const std::string kOld = "old module content, version one";
const std::string kNew = "new module content, version two, longer";

struct World {
  MemFileSystem mem;
  testing::SimulatedClock clock;
  testing::FakeRandom random;
  FakeTransport server;

  std::unique_ptr<Client> Open(FileSystem* fs) {
    ClientOptions options;
    options.app_id = "wallet";
    options.device.device_id = "d1";
    options.device.host_build = "b1";
    options.storage_dir = "/sdk";
    options.insecure_skip_signature_verification_for_tests =
        true;  // not about trust
    options.env = Env{fs, &clock, &random};
    auto client = Client::CreateWithTransport(
        options, std::make_unique<FakeTransport>(server));
    EXPECT_THAT(client, IsOk());
    return client.ok() ? *std::move(client) : nullptr;
  }
};

v1::UpdateEntry Version(v1::Layer layer, const std::string& name,
                        const std::string& version, const std::string& content,
                        uint64_t seq, uint64_t release_id) {
  v1::UpdateEntry e = Entry(layer, name, version, content, seq,
                            /*inline_content=*/false, release_id);
  e.mutable_statement()->mutable_compatibility()->set_host_build("b1");
  return e;
}

// Activates whatever is staged, the way the app would.
void ActivateAll(Client& client, v1::Layer layer, const std::string& name) {
  (void)client.BeginLaunch();
  (void)client.OpenModule(static_cast<Layer>(layer), name);
}

// Old or new active and intact, and no file beyond the state, the report
// queue, the blobs the state refers to, and the resumable partial download.
void ExpectOldOrNew(World& w, Client& client, v1::Layer layer,
                    const std::string& name, bool must_be_new, uint64_t n) {
  SCOPED_TRACE(::testing::Message() << "crash at operation " << n);
  // Opening activates a staged H5/HCF version first.
  auto path = client.OpenModule(static_cast<Layer>(layer), name);
  ASSERT_THAT(path, IsOk());
  auto active = client.Installed(static_cast<Layer>(layer), name);
  ASSERT_TRUE(active.has_value());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string content, w.mem.ReadFile(*path));
  if (active->version == "1") {
    EXPECT_EQ(content, kOld);
    EXPECT_FALSE(must_be_new) << "acknowledged apply lost";
  } else {
    EXPECT_EQ(active->version, "2");
    EXPECT_EQ(content, kNew);
  }
  EXPECT_THAT(client.VerifyInstalled(), IsOk());
  const std::string old_blob = "/sdk/blobs/" + Sha256::HexHash(kOld) + ".blob";
  const std::string new_blob = "/sdk/blobs/" + Sha256::HexHash(kNew) + ".blob";
  auto staged = client.Staged(static_cast<Layer>(layer), name);
  for (const std::string& f : w.mem.AllFiles()) {
    if (f == "/sdk/state" || f == "/sdk/reports/queue") continue;
    // A resumable partial download (of the content or of a patch).
    if (f.rfind("/sdk/staging/", 0) == 0 && f.size() > 5 &&
        f.substr(f.size() - 5) == ".part") {
      continue;
    }
    // The old blob stays as the last known good until a healthy launch.
    if (f == old_blob) continue;
    if (f == new_blob && (active->version == "2" || staged.has_value())) {
      continue;
    }
    ADD_FAILURE() << "leftover " << f;
  }
}

class LayerCrashTest : public ::testing::TestWithParam<v1::Layer> {};

TEST_P(LayerCrashTest, CrashAtEveryOperationLeavesOldOrNewIntact) {
  const v1::Layer layer = GetParam();
  uint64_t n = 1;
  for (; n < 400; ++n) {
    World w;
    w.server.blobs[Sha256::HexHash(kOld)] = kOld;
    w.server.blobs[Sha256::HexHash(kNew)] = kNew;
    {
      w.server.Serve({Version(layer, "m", "1", kOld, 1, 0)});
      auto client = w.Open(&w.mem);
      ASSERT_THAT(client->Check(), IsOk());
      ActivateAll(*client, layer, "m");
      ASSERT_THAT(client->MarkLaunchHealthy(), IsOk());
    }
    w.server.Serve({Version(layer, "m", "2", kNew, 2, 0)});
    FaultInjectionFileSystem faulty(&w.mem);
    {
      auto client = w.Open(&faulty);
      faulty.FailNthMutation(n, /*crash=*/true);
      (void)client->Check();
      ActivateAll(*client, layer, "m");
    }
    const bool completed = !faulty.crashed();
    w.mem.DropUnsyncedData();
    auto reopened = w.Open(&w.mem);
    ASSERT_NE(reopened, nullptr) << "crash at " << n;
    ExpectOldOrNew(w, *reopened, layer, "m", completed, n);
    if (completed) break;
  }
  EXPECT_GT(n, 10u);  // the apply really has many steps that were crashed
  EXPECT_LT(n, 400u);
}

INSTANTIATE_TEST_SUITE_P(AllLayers, LayerCrashTest,
                         ::testing::Values(v1::LAYER_CONFIG, v1::LAYER_H5,
                                           v1::LAYER_HCF, v1::LAYER_HOTPATCH,
                                           v1::LAYER_NATIVE_BUNDLE),
                         [](const auto& info) {
                           return v1::Layer_Name(info.param);
                         });

// A release of a config and a module of another layer (one group): the
// N-th operation of the check that installs it, or of the group's
// activation (opening the H5 page, or the launch for a hotpatch), crashes.
// Both members are old or both new, active and staged alike, and a staged
// group still activates whole after the restart.
class MultiModuleCrashTest : public ::testing::TestWithParam<v1::Layer> {};

TEST_P(MultiModuleCrashTest, OneReleaseIsAllOldOrAllNewAtEveryCrash) {
  const v1::Layer layer = GetParam();
  const Layer b_layer = static_cast<Layer>(layer);
  auto activate = [&](Client& client) {
    if (layer == v1::LAYER_H5) {
      (void)client.OpenModule(b_layer, "b");
    } else {
      (void)client.BeginLaunch();
    }
  };
  uint64_t n = 1;
  for (; n < 400; ++n) {
    SCOPED_TRACE(::testing::Message() << "crash at operation " << n);
    World w;
    for (const std::string& c : {kOld, kNew, kOld + "b", kNew + "b"}) {
      w.server.blobs[Sha256::HexHash(c)] = c;
    }
    {
      w.server.Serve({Version(v1::LAYER_CONFIG, "a", "1", kOld, 1, 1),
                      Version(layer, "b", "1", kOld + "b", 1, 1)});
      auto client = w.Open(&w.mem);
      ASSERT_THAT(client->Check(), IsOk());
      ASSERT_THAT(client->BeginLaunch(), IsOk());
      ASSERT_THAT(client->MarkLaunchHealthy(), IsOk());
    }
    w.server.Serve({Version(v1::LAYER_CONFIG, "a", "2", kNew, 2, 2),
                    Version(layer, "b", "2", kNew + "b", 2, 2)});
    FaultInjectionFileSystem faulty(&w.mem);
    {
      auto client = w.Open(&faulty);
      faulty.FailNthMutation(n, /*crash=*/true);
      (void)client->Check();
      activate(*client);
    }
    const bool completed = !faulty.crashed();
    w.mem.DropUnsyncedData();
    auto reopened = w.Open(&w.mem);
    ASSERT_NE(reopened, nullptr);
    auto a = reopened->Installed(Layer::kConfig, "a");
    auto b = reopened->Installed(b_layer, "b");
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(a->version, b->version) << "mixed release active";
    auto a_staged = reopened->Staged(Layer::kConfig, "a");
    auto b_staged = reopened->Staged(b_layer, "b");
    EXPECT_EQ(a_staged.has_value(), b_staged.has_value())
        << "half a release staged";
    const bool staged = a_staged.has_value();
    if (staged) {
      EXPECT_EQ(a->version, "1");
      EXPECT_EQ(a_staged->version, "2");
    }
    EXPECT_EQ(*reopened->GetConfig("a"),
              std::optional<std::string>(a->version == "1" ? kOld : kNew));
    if (completed) {
      EXPECT_EQ(a->version, "2");
      EXPECT_FALSE(staged);
    }
    EXPECT_THAT(reopened->VerifyInstalled(), IsOk());
    // What was staged before the crash is activated whole after it.
    const std::string before = a->version;
    activate(*reopened);
    a = reopened->Installed(Layer::kConfig, "a");
    b = reopened->Installed(b_layer, "b");
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(a->version, staged ? "2" : before);
    EXPECT_EQ(b->version, a->version);
    if (completed) break;
  }
  EXPECT_GT(n, 10u);
  EXPECT_LT(n, 400u);
}

INSTANTIATE_TEST_SUITE_P(ConfigWith, MultiModuleCrashTest,
                         ::testing::Values(v1::LAYER_H5, v1::LAYER_HOTPATCH),
                         [](const auto& info) {
                           return v1::Layer_Name(info.param);
                         });

TEST(LaunchGuardCrashTest, RollbackAtEveryCrashIsAllOrNothing) {
  uint64_t n = 1;
  for (; n < 400; ++n) {
    World w;
    for (const auto* c : {&kOld, &kNew}) {
      w.server.blobs[Sha256::HexHash(*c)] = *c;
    }
    {
      w.server.Serve({Version(v1::LAYER_CONFIG, "a", "1", kOld, 1, 1),
                      Version(v1::LAYER_HOTPATCH, "core", "1", kOld, 1, 1)});
      auto client = w.Open(&w.mem);
      ASSERT_THAT(client->Check(), IsOk());
      ASSERT_THAT(client->BeginLaunch(), IsOk());
      ASSERT_THAT(client->MarkLaunchHealthy(), IsOk());
    }
    w.server.Serve({Version(v1::LAYER_CONFIG, "a", "2", kNew, 2, 2),
                    Version(v1::LAYER_HOTPATCH, "core", "2", kNew, 2, 2)});
    for (int launch = 0; launch < 3; ++launch) {
      auto client = w.Open(&w.mem);  // each launch crashes before healthy
      if (launch == 0) {
        ASSERT_THAT(client->Check(), IsOk());
      }
      ASSERT_THAT(client->BeginLaunch(), IsOk());
    }
    FaultInjectionFileSystem faulty(&w.mem);
    {
      auto client = w.Open(&faulty);
      faulty.FailNthMutation(n, /*crash=*/true);
      (void)client->BeginLaunch();  // the fourth: rolls both back
    }
    const bool completed = !faulty.crashed();
    w.mem.DropUnsyncedData();
    auto reopened = w.Open(&w.mem);
    ASSERT_NE(reopened, nullptr);
    auto a = reopened->Installed(Layer::kConfig, "a");
    auto core = reopened->Installed(Layer::kHotpatch, "core");
    ASSERT_TRUE(a.has_value() && core.has_value())
        << "crash at " << n << "\n"
        << w.mem.ReadFile("/sdk/state").value_or("<no state>");
    EXPECT_EQ(a->version, core->version) << "half a rollback at " << n;
    if (completed) {
      EXPECT_EQ(a->version, "1");
    }
    EXPECT_THAT(reopened->VerifyInstalled(), IsOk());
    if (completed) break;
  }
  EXPECT_GT(n, 3u);
  EXPECT_LT(n, 400u);
}

TEST(DeltaCrashTest, DeltaApplyAtEveryCrashLeavesOldOrNewIntact) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch, diff::CreatePatch(kOld, kNew));
  uint64_t n = 1;
  for (; n < 400; ++n) {
    World w;
    w.server.blobs[Sha256::HexHash(kOld)] = kOld;
    w.server.blobs[Sha256::HexHash(patch)] = patch;
    {
      w.server.Serve({Version(v1::LAYER_NATIVE_BUNDLE, "m", "1", kOld, 1, 0)});
      auto client = w.Open(&w.mem);
      ASSERT_THAT(client->Check(), IsOk());
      ActivateAll(*client, v1::LAYER_NATIVE_BUNDLE, "m");
      ASSERT_THAT(client->MarkLaunchHealthy(), IsOk());
    }
    // Only the patch is on the server: the new version must come from it.
    v1::UpdateEntry e = Version(v1::LAYER_NATIVE_BUNDLE, "m", "2", kNew, 2, 0);
    v1::DeltaRef* d = e.add_deltas();
    d->set_from_sha256(Sha256::HexHash(kOld));
    d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
    d->mutable_patch()->set_size(patch.size());
    w.server.Serve({e});
    FaultInjectionFileSystem faulty(&w.mem);
    {
      auto client = w.Open(&faulty);
      faulty.FailNthMutation(n, /*crash=*/true);
      (void)client->Check();
      ActivateAll(*client, v1::LAYER_NATIVE_BUNDLE, "m");
    }
    const bool completed = !faulty.crashed();
    w.mem.DropUnsyncedData();
    auto reopened = w.Open(&w.mem);
    ASSERT_NE(reopened, nullptr) << "crash at " << n;
    ExpectOldOrNew(w, *reopened, v1::LAYER_NATIVE_BUNDLE, "m", completed, n);
    if (completed) break;
  }
  EXPECT_GT(n, 10u);
  EXPECT_LT(n, 400u);
}

}  // namespace
}  // namespace strata::client
