// Crash safety of applies, per layer: for every N, the N-th file operation
// of a check-and-activate fails and everything after it too (the process
// died there), then unsynced data is dropped (power cut). Reopening must
// find exactly the old or the new version active and intact, and no
// leftovers.
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "../signing/test_repo.h"
#include "device_world.h"
#include "fake_transport.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/diff/delta.h"
#include "tree_testing.h"

namespace strata::client {
namespace {

using ::strata::client::device_world::ActivateAll;
using ::strata::client::device_world::CompleteUpdate;
using ::strata::client::device_world::DeltaUpdate;
using ::strata::client::device_world::InstallHealthy;
using ::strata::client::device_world::InstallVerifiedPage;
using ::strata::client::device_world::kAllLayers;
using ::strata::client::device_world::kEmbedded;
using ::strata::client::device_world::kNew;
using ::strata::client::device_world::kNewer;
using ::strata::client::device_world::kOld;
using ::strata::client::device_world::LayerParamName;
using ::strata::client::device_world::Release;
using ::strata::client::device_world::ThreeUnhealthyLaunches;
using ::strata::client::device_world::UpdateTarget;
using ::strata::client::device_world::Version;
using ::strata::client::device_world::World;
using ::strata::testing::FaultInjectionFileSystem;
using ::strata::testing::IsOk;
using ::strata::testing::MemFileSystem;
using ::strata::testing::TailModel;
using ::strata::testing::TailModelName;

// Runs `run` on a client whose `n`-th file operation crashes (it and
// every later one fail, as if the process died there), then cuts the
// power. Returns whether `run` got through without reaching the crash.
bool CrashAt(World& w, uint64_t n, const std::function<void(Client&)>& run) {
  FaultInjectionFileSystem faulty(&w.mem);
  {
    auto client = w.Open(&faulty);
    if (client == nullptr) return true;
    faulty.FailNthMutation(n, /*crash=*/true);
    run(*client);
  }
  w.mem.DropUnsyncedData();
  return !faulty.crashed();
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
    // The traffic ledger and the pending downloads (bookkeeping).
    if (f == "/sdk/traffic" || f == "/sdk/pending") continue;
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
    InstallHealthy(w, layer, Version(layer, "m", "2", kNew, 2, 0));
    const bool completed = CrashAt(w, n, [&](Client& client) {
      (void)client.Check();
      ActivateAll(client, layer, "m");
    });
    auto reopened = w.Open(&w.mem);
    ASSERT_NE(reopened, nullptr) << "crash at " << n;
    ExpectOldOrNew(w, *reopened, layer, "m", completed, n);
    if (completed) break;
  }
  EXPECT_GT(n, 10u);  // the apply really has many steps that were crashed
  EXPECT_LT(n, 400u);
}

INSTANTIATE_TEST_SUITE_P(AllLayers, LayerCrashTest,
                         ::testing::ValuesIn(kAllLayers), LayerParamName);

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
    InstallHealthy(w, Release(layer, "b", 1, "b"), Release(layer, "b", 2, "b"));
    const bool completed = CrashAt(w, n, [&](Client& client) {
      (void)client.Check();
      activate(client);
    });
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
                         LayerParamName);

TEST(LaunchGuardCrashTest, RollbackAtEveryCrashIsAllOrNothing) {
  uint64_t n = 1;
  for (; n < 400; ++n) {
    World w;
    ThreeUnhealthyLaunches(w);
    // The fourth rolls both back.
    const bool completed =
        CrashAt(w, n, [](Client& client) { (void)client.BeginLaunch(); });
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
    InstallHealthy(w, v1::LAYER_NATIVE_BUNDLE, DeltaUpdate(w, patch));
    const bool completed = CrashAt(w, n, [&](Client& client) {
      (void)client.Check();
      ActivateAll(client, v1::LAYER_NATIVE_BUNDLE, "m");
    });
    auto reopened = w.Open(&w.mem);
    ASSERT_NE(reopened, nullptr) << "crash at " << n;
    ExpectOldOrNew(w, *reopened, v1::LAYER_NATIVE_BUNDLE, "m", completed, n);
    if (completed) break;
  }
  EXPECT_GT(n, 10u);
  EXPECT_LT(n, 400u);
}

// The two launch-guard calls crash at every operation: a report event in
// the queue after the restart describes only what the state committed (a
// rollback the state shows, a healthy launch the state recorded).
TEST(ReportOrderCrashTest, QueuedEventsDescribeOnlyCommittedState) {
  uint64_t n = 1;
  for (; n < 400; ++n) {
    SCOPED_TRACE(::testing::Message() << "crash at operation " << n);
    World w;
    ThreeUnhealthyLaunches(w);
    {
      // Earlier events out of the way: what is queued later is this run's.
      auto client = w.TryOpen(&w.mem);
      ASSERT_THAT(client, IsOk());
      ASSERT_THAT((*client)->FlushReports(), IsOk());
      w.server.reports.clear();
    }
    // The fourth launch rolls both back, then is healthy.
    const bool completed = CrashAt(w, n, [](Client& client) {
      if (client.BeginLaunch().ok()) (void)client.MarkLaunchHealthy();
    });
    auto reopened = w.TryOpen(&w.mem);
    ASSERT_THAT(reopened, IsOk());
    Client& client = **reopened;
    ASSERT_THAT(client.FlushReports(), IsOk());
    const bool rollback_reported =
        w.server.CountReports(v1::ReportEvent::KIND_ROLLED_BACK) > 0;
    const bool healthy_reported =
        w.server.CountReports(v1::ReportEvent::KIND_LAUNCH_OK) > 0;
    auto a = client.Installed(Layer::kConfig, "a");
    auto core = client.Installed(Layer::kHotpatch, "core");
    ASSERT_TRUE(a.has_value() && core.has_value());
    EXPECT_EQ(a->version, core->version) << "half a rollback";
    if (rollback_reported) {
      EXPECT_EQ(a->version, "1") << "a rollback was reported that the state "
                                    "never committed";
    }
    if (completed) {
      EXPECT_TRUE(rollback_reported);
      EXPECT_TRUE(healthy_reported);
    }
    STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client.BeginLaunch());
    if (healthy_reported) {
      EXPECT_EQ(launch.unhealthy_launches, 0)
          << "a healthy launch was reported that the state never recorded";
    }
    if (completed) break;
  }
  EXPECT_GT(n, 5u);
  EXPECT_LT(n, 400u);
}

// One flow of the complete enumeration: the state it starts from, the
// operation that crashes, what must hold after the restart, and the update
// a check must then complete.
struct CrashFlow {
  std::function<void(World&)> setup;  // on w.mem, without faults
  std::function<void(World&, Client&)> run;
  std::function<void(World&, Client&, bool completed)> check;
  // What the final check must make active (the interrupted update, or
  // the next one the world's server serves after `check`).
  UpdateTarget target;
  // Instead of CompleteUpdate(target) (content that is not one file).
  std::function<void(World&, Client&)> complete;
};

struct CrashPoints {
  uint64_t flow = 0;      // operations of open + flow crashed
  uint64_t open = 0;      // of those, in the open (recovery of the state)
  uint64_t recovery = 0;  // operations of the restarts after them crashed
  uint64_t tails = 0;     // files left with a torn or zeroed tail
};

// For every N: the N-th file operation from the open on (recovery of the
// earlier state included) crashes, unsynced data is lost; then for every M
// the restart (open and launch) crashes at its M-th operation too, and
// loses its unsynced data. A clean restart must then satisfy `check`, and
// launches, a Check and the activation bring `final_version`. Each power
// cut leaves the tails `tail` says.
CrashPoints EnumerateCrashesWith(const CrashFlow& flow, TailModel tail) {
  CrashPoints points;
  for (uint64_t n = 1; n < 1000; ++n) {
    bool completed = false;
    for (uint64_t m = 1; m < 200; ++m) {
      SCOPED_TRACE(::testing::Message()
                   << "crash at operation " << n << ", restart crash at " << m);
      World w;
      flow.setup(w);
      if (::testing::Test::HasFatalFailure()) return points;
      FaultInjectionFileSystem faulty(&w.mem);
      faulty.FailNthMutation(n, /*crash=*/true);  // armed before the open
      {
        auto client = w.TryOpen(&faulty);
        if (client.ok()) {
          flow.run(w, **client);
        } else if (m == 1) {
          ++points.open;
        }
      }
      completed = !faulty.crashed();
      points.tails += w.mem.DropUnsyncedData(tail);
      FaultInjectionFileSystem again(&w.mem);
      again.FailNthMutation(m, /*crash=*/true);
      {
        auto client = w.TryOpen(&again);
        if (client.ok()) (void)(*client)->BeginLaunch();
      }
      const bool recovered = !again.crashed();
      points.tails += w.mem.DropUnsyncedData(tail);
      auto reopened = w.TryOpen(&w.mem);
      if (!reopened.ok()) {
        ADD_FAILURE() << "no restart after the crash: " << reopened.status();
        return points;
      }
      Client& client = **reopened;
      flow.check(w, client, completed);
      // The device goes on: a healthy launch, a check, the activation.
      if (flow.complete) {
        flow.complete(w, client);
      } else {
        CompleteUpdate(w, client, flow.target);
      }
      if (::testing::Test::HasFailure()) return points;
      if (recovered) break;
      ++points.recovery;
    }
    if (completed) break;
    ++points.flow;
  }
  return points;
}

void PrintPoints(const std::string& flow, const CrashPoints& p) {
  std::cout << "[crash points] " << flow << ": " << p.flow << " in open+flow ("
            << p.open << " in the open), " << p.recovery
            << " in the restarts after them; " << p.tails
            << " files given a torn/zeroed tail\n";
  ::testing::Test::RecordProperty(flow + "_open_points",
                                  static_cast<int>(p.open));
  ::testing::Test::RecordProperty(flow + "_flow_points",
                                  static_cast<int>(p.flow));
  ::testing::Test::RecordProperty(flow + "_recovery_points",
                                  static_cast<int>(p.recovery));
}

// The enumeration under each power-loss model: unsynced appends dropped,
// torn, zero-filled (or those given). Prints the points of each; returns
// those of the first.
CrashPoints EnumerateCrashes(const CrashFlow& flow, const std::string& name,
                             const std::vector<TailModel>& tails = {
                                 TailModel::kDrop, TailModel::kTorn,
                                 TailModel::kZero}) {
  CrashPoints first;
  for (TailModel tail : tails) {
    SCOPED_TRACE(::testing::Message() << "tails " << TailModelName(tail));
    const CrashPoints p = EnumerateCrashesWith(flow, tail);
    PrintPoints(StrCat(name, "_", TailModelName(tail)), p);
    if (tail == tails.front()) first = p;
    if (tail != TailModel::kDrop) {
      EXPECT_GT(p.tails, 0u) << "no tail was left";
    }
    if (::testing::Test::HasFailure()) break;
  }
  return first;
}

class CompleteCrashTest : public ::testing::TestWithParam<v1::Layer> {};

// Check and activation of an update, crashed from the open on.
TEST_P(CompleteCrashTest, CheckAndActivateFromTheOpenOn) {
  const v1::Layer layer = GetParam();
  CrashFlow flow;
  flow.setup = [&](World& w) {
    InstallHealthy(w, layer, Version(layer, "m", "2", kNew, 2, 0));
  };
  flow.run = [&](World&, Client& client) {
    (void)client.Check();
    ActivateAll(client, layer, "m");
  };
  flow.check = [&](World& w, Client& client, bool completed) {
    ExpectOldOrNew(w, client, layer, "m", completed, 0);
  };
  flow.target = {layer, "m", "2", kNew};
  const CrashPoints p =
      EnumerateCrashes(flow, StrCat("check_activate_", v1::Layer_Name(layer)));
  EXPECT_GT(p.flow, 10u);
  EXPECT_GT(p.recovery, 0u);
}

// A delta update (native bundle "m" v1 -> v2 from a patch only),
// crashed from the open on: the patch download, its apply into staging,
// the adoption of the output and the activation.
TEST(DeltaCompleteCrashTest, DeltaApplyFromTheOpenOn) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch, diff::CreatePatch(kOld, kNew));
  CrashFlow flow;
  flow.setup = [&](World& w) {
    InstallHealthy(w, v1::LAYER_NATIVE_BUNDLE, DeltaUpdate(w, patch));
  };
  flow.run = [&](World&, Client& client) {
    (void)client.Check();
    ActivateAll(client, v1::LAYER_NATIVE_BUNDLE, "m");
  };
  flow.check = [&](World& w, Client& client, bool completed) {
    ExpectOldOrNew(w, client, v1::LAYER_NATIVE_BUNDLE, "m", completed, 0);
  };
  flow.target = {v1::LAYER_NATIVE_BUNDLE, "m", "2", kNew};
  const CrashPoints p = EnumerateCrashes(flow, "delta_apply");
  EXPECT_GT(p.flow, 10u);
  EXPECT_GT(p.recovery, 0u);
}

// MarkLaunchHealthy after the launch that activated version 2.
TEST_P(CompleteCrashTest, MarkLaunchHealthy) {
  const v1::Layer layer = GetParam();
  CrashFlow flow;
  flow.setup = [&](World& w) {
    InstallHealthy(w, layer, Version(layer, "m", "2", kNew, 2, 0));
    auto client = w.TryOpen(&w.mem);
    ASSERT_THAT(client, IsOk());
    ASSERT_THAT((*client)->Check(), IsOk());
    ActivateAll(**client, layer, "m");
    ASSERT_EQ((*client)->Installed(static_cast<Layer>(layer), "m")->version,
              "2");
  };
  flow.run = [&](World&, Client& client) { (void)client.MarkLaunchHealthy(); };
  flow.check = [&](World& w, Client& client, bool completed) {
    ExpectOldOrNew(w, client, layer, "m", /*must_be_new=*/true, 0);
    (void)completed;
    w.server.Serve({Version(layer, "m", "3", kNewer, 3, 0)});
  };
  flow.target = {layer, "m", "3", kNewer};
  const CrashPoints p =
      EnumerateCrashes(flow, StrCat("mark_healthy_", v1::Layer_Name(layer)));
  EXPECT_GT(p.flow, 3u);
}

INSTANTIATE_TEST_SUITE_P(AllLayers, CompleteCrashTest,
                         ::testing::ValuesIn(kAllLayers), LayerParamName);

// Launches keep failing with nothing pending: the launch guard resets the
// module to the embedded version.
TEST(LaunchGuardCompleteCrashTest, ResetToEmbedded) {
  CrashFlow flow;
  flow.setup = [&](World& w) {
    ASSERT_THAT(w.mem.CreateDir("/app"), IsOk());
    ASSERT_THAT(w.mem.CreateDir("/app/embedded"), IsOk());
    ASSERT_THAT(w.mem.CreateDir("/app/embedded/config"), IsOk());
    auto f = w.mem.NewWritableFile("/app/embedded/config/m");
    ASSERT_THAT(f, IsOk());
    ASSERT_THAT((*f)->Append(kEmbedded), IsOk());
    ASSERT_THAT((*f)->Sync(), IsOk());
    ASSERT_THAT((*f)->Close(), IsOk());
    for (const char* dir :
         {"/app/embedded/config", "/app/embedded", "/app", "/"}) {
      ASSERT_THAT(w.mem.SyncDir(dir), IsOk());  // survives power cuts
    }
    InstallHealthy(w, v1::LAYER_CONFIG,
                   Version(v1::LAYER_CONFIG, "m", "1", kOld, 1, 0));
    auto client = w.TryOpen(&w.mem);
    ASSERT_THAT(client, IsOk());
    // Six launches not marked healthy; the seventh resets.
    for (int i = 0; i < 6; ++i) ASSERT_THAT((*client)->BeginLaunch(), IsOk());
    ASSERT_EQ((*client)->Installed(Layer::kConfig, "m")->version, "1");
  };
  flow.run = [&](World&, Client& client) { (void)client.BeginLaunch(); };
  flow.check = [&](World& w, Client& client, bool completed) {
    auto active = client.Installed(Layer::kConfig, "m");
    ASSERT_TRUE(active.has_value());
    auto config = client.GetConfig("m");
    ASSERT_THAT(config, IsOk());
    if (active->version == "1") {
      EXPECT_FALSE(completed) << "acknowledged reset lost";
      EXPECT_EQ(*config, std::optional<std::string>(kOld));
    } else {
      EXPECT_EQ(active->version, kEmbeddedVersion);
      EXPECT_EQ(*config, std::optional<std::string>(kEmbedded));
    }
    EXPECT_THAT(client.VerifyInstalled(), IsOk());
    w.server.Serve({Version(v1::LAYER_CONFIG, "m", "2", kNew, 2, 0)});
  };
  flow.target = {v1::LAYER_CONFIG, "m", "2", kNew};
  const CrashPoints p = EnumerateCrashes(flow, "reset_to_embedded");
  EXPECT_GT(p.flow, 3u);
}

// The first install of a module (nothing installed, nothing embedded).
TEST_P(CompleteCrashTest, FirstInstall) {
  const v1::Layer layer = GetParam();
  CrashFlow flow;
  flow.setup = [&](World& w) {
    w.server.Serve({Version(layer, "m", "1", kOld, 1, 0)});
  };
  flow.run = [&](World&, Client& client) {
    (void)client.Check();
    ActivateAll(client, layer, "m");
  };
  flow.check = [&](World& w, Client& client, bool completed) {
    (void)client.OpenModule(static_cast<Layer>(layer), "m");
    auto active = client.Installed(static_cast<Layer>(layer), "m");
    if (!active.has_value()) {
      EXPECT_FALSE(completed) << "acknowledged first install lost";
      return;
    }
    EXPECT_EQ(active->version, "1");
    auto path = client.OpenModule(static_cast<Layer>(layer), "m");
    ASSERT_THAT(path, IsOk());
    EXPECT_EQ(w.mem.ReadFile(*path).value_or("<unreadable>"), kOld);
    EXPECT_THAT(client.VerifyInstalled(), IsOk());
  };
  flow.target = {layer, "m", "1", kOld};
  const CrashPoints p =
      EnumerateCrashes(flow, StrCat("first_install_", v1::Layer_Name(layer)));
  EXPECT_GT(p.flow, 10u);
}

// A config pushed on the WatchConfig stream (the check serves it too).
TEST(ConfigPushCompleteCrashTest, PushedConfigInstall) {
  const v1::UpdateEntry next = Version(v1::LAYER_CONFIG, "m", "2", kNew, 2, 0);
  CrashFlow flow;
  flow.setup = [&](World& w) { InstallHealthy(w, v1::LAYER_CONFIG, next); };
  flow.run = [&](World& w, Client& client) {
    w.server.watch->Push(next);
    if (!client.StartConfigWatch().ok()) return;
    EXPECT_TRUE(w.server.watch->WaitFor(1));
    client.StopConfigWatch();
  };
  flow.check = [&](World& w, Client& client, bool completed) {
    ExpectOldOrNew(w, client, v1::LAYER_CONFIG, "m", completed, 0);
  };
  flow.target = {v1::LAYER_CONFIG, "m", "2", kNew};
  const CrashPoints p = EnumerateCrashes(flow, "config_push");
  EXPECT_GT(p.flow, 10u);
}

// The fourth unhealthy launch rolls a release of a config and a hotpatch
// back; afterwards the next release installs.
TEST(LaunchGuardCompleteCrashTest, RollbackOfARelease) {
  CrashFlow flow;
  flow.setup = [&](World& w) {
    ThreeUnhealthyLaunches(w);
    auto client = w.TryOpen(&w.mem);
    ASSERT_THAT(client, IsOk());
    ASSERT_EQ((*client)->Installed(Layer::kHotpatch, "core")->version, "2");
  };
  flow.run = [&](World&, Client& client) { (void)client.BeginLaunch(); };
  flow.check = [&](World& w, Client& client, bool completed) {
    auto a = client.Installed(Layer::kConfig, "a");
    auto core = client.Installed(Layer::kHotpatch, "core");
    ASSERT_TRUE(a.has_value() && core.has_value());
    EXPECT_EQ(a->version, core->version) << "half a rollback";
    if (completed) {
      EXPECT_EQ(a->version, "1") << "acknowledged rollback lost";
    }
    EXPECT_THAT(client.VerifyInstalled(), IsOk());
    w.server.Serve(Release(v1::LAYER_HOTPATCH, "core", 3));
  };
  flow.target = {v1::LAYER_CONFIG, "a", "3", kNewer};
  const CrashPoints p = EnumerateCrashes(flow, "launch_guard_rollback");
  EXPECT_GT(p.flow, 3u);
}

// An update verified against the pinned root: the check writes the
// verifier's trust state (/sdk/trust) as well as the module state.
class TrustCompleteCrashTest : public ::testing::TestWithParam<TailModel> {};

TEST_P(TrustCompleteCrashTest, VerifiedUpdateWithTrustState) {
  CrashFlow flow;
  flow.setup = [&](World& w) { InstallVerifiedPage(w); };
  flow.run = [&](World&, Client& client) {
    (void)client.Check();
    ActivateAll(client, v1::LAYER_H5, "page");
  };
  flow.check = [&](World& w, Client& client, bool completed) {
    auto path = client.OpenModule(Layer::kH5, "page");
    ASSERT_THAT(path, IsOk());
    auto active = client.Installed(Layer::kH5, "page");
    ASSERT_TRUE(active.has_value());
    if (active->version == "1") {
      EXPECT_FALSE(completed) << "acknowledged verified update lost";
      EXPECT_EQ(w.mem.ReadFile(*path).value_or(""), kOld);
    } else {
      EXPECT_EQ(active->version, "2");
      EXPECT_EQ(w.mem.ReadFile(*path).value_or(""), kNew);
    }
    EXPECT_THAT(client.VerifyInstalled(), IsOk());
  };
  flow.target = {v1::LAYER_H5, "page", "2", kNew};
  // Each point verifies signatures several times: the slowest flow, one
  // test per power-loss model (ctest runs them in parallel).
  const CrashPoints p =
      EnumerateCrashes(flow, "verified_update_trust_state", {GetParam()});
  EXPECT_GT(p.flow, 10u);
}

INSTANTIATE_TEST_SUITE_P(PowerLoss, TrustCompleteCrashTest,
                         ::testing::Values(TailModel::kDrop, TailModel::kTorn,
                                           TailModel::kZero),
                         [](const auto& info) {
                           return std::string(TailModelName(info.param));
                         });

// Trees (issue 18): H5 "mall" v1 is an unpacked tree; v2 arrives as a
// patch over the archive, is unpacked into its own directory (files
// written and synced, then the tree's marker, then the state switch) and
// activated by opening it. At every crash point, and every crash of the
// restart after it, the reopened device opens exactly v1's or v2's tree,
// file for file, with no incomplete tree left; the device then completes
// the update and v1's tree is collected after the healthy launch.
const std::string kTreeV1 = tree_testing::Tar({
    {"strata-package.json", R"({"url_prefixes": ["https://mall.example/"]})"},
    {"index.html", "<h1>mall v1</h1>"},
    {"static/app.js", "console.log('shared')"},
});
const std::string kTreeV2 = tree_testing::Tar({
    {"strata-package.json", R"({"url_prefixes": ["https://mall.example/"]})"},
    {"index.html", "<h1>mall v2</h1>"},
    {"static/app.js", "console.log('shared')"},
    {"static/new.css", "body{}"},
});
const std::map<std::string, std::string> kTreeV1Files = {
    {"strata-package.json", R"({"url_prefixes": ["https://mall.example/"]})"},
    {"index.html", "<h1>mall v1</h1>"},
    {"static/app.js", "console.log('shared')"},
};
const std::map<std::string, std::string> kTreeV2Files = {
    {"strata-package.json", R"({"url_prefixes": ["https://mall.example/"]})"},
    {"index.html", "<h1>mall v2</h1>"},
    {"static/app.js", "console.log('shared')"},
    {"static/new.css", "body{}"},
};

// The files under `dir` (relative paths) with their content.
std::map<std::string, std::string> FilesUnder(MemFileSystem& mem,
                                              const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const std::string& f : mem.AllFiles()) {
    if (f.rfind(dir + "/", 0) != 0) continue;
    out[f.substr(dir.size() + 1)] = mem.ReadFile(f).value_or("<unreadable>");
  }
  return out;
}

// Only complete trees of the versions the state refers to: every file
// under /sdk/trees is in a tree whose marker exists.
void ExpectOnlyCompleteTrees(MemFileSystem& mem,
                             const std::set<std::string>& allowed) {
  for (const std::string& f : mem.AllFiles()) {
    if (f.rfind("/sdk/trees/", 0) != 0) continue;
    const std::string rest = f.substr(std::string("/sdk/trees/").size());
    const std::string sha = rest.substr(0, 64);
    EXPECT_TRUE(allowed.count(sha) > 0) << "leftover tree file " << f;
    EXPECT_TRUE(mem.Exists("/sdk/trees/" + sha + ".ok"))
        << "file of an incomplete tree: " << f;
  }
}

// Enumerates the crashes of an H5 tree update from `v1_tar` to `v2_tar`
// that the server holds only as `patch` (a tree patch when `tree_patch`).
// After each: the device opens v1's or v2's tree file for file, the page
// resolves to it, no incomplete tree is left, and the update completes
// (by the patch, or from the archive adopted before the crash) with v1's
// tree collected after the healthy launch.
CrashPoints EnumerateTreeSwitch(const std::string& v1_tar,
                                const std::string& v2_tar,
                                const std::string& patch, bool tree_patch,
                                const std::string& name) {
  const std::string sha1 = Sha256::HexHash(v1_tar);
  const std::string sha2 = Sha256::HexHash(v2_tar);
  CrashFlow flow;
  flow.setup = [&](World& w) {
    w.server.blobs[sha1] = v1_tar;
    w.server.blobs[Sha256::HexHash(patch)] = patch;  // v2 only as a patch
    v1::UpdateEntry v2 = Version(v1::LAYER_H5, "mall", "2", v2_tar, 2, 0);
    v1::DeltaRef* d = v2.add_deltas();
    d->set_from_sha256(sha1);
    d->set_tree(tree_patch);
    d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
    d->mutable_patch()->set_size(patch.size());
    InstallHealthy(w, {Version(v1::LAYER_H5, "mall", "1", v1_tar, 1, 0)}, {v2});
  };
  flow.run = [&](World&, Client& client) {
    (void)client.Check();
    (void)client.OpenModule(Layer::kH5, "mall");
  };
  flow.check = [&](World& w, Client& client, bool completed) {
    STRATA_ASSERT_OK_AND_ASSIGN(std::string dir,
                                client.OpenModule(Layer::kH5, "mall"));
    auto active = client.Installed(Layer::kH5, "mall");
    ASSERT_TRUE(active.has_value());
    if (active->version == "1") {
      EXPECT_FALSE(completed) << "acknowledged switch lost";
      EXPECT_EQ(dir, "/sdk/trees/" + sha1);
      EXPECT_EQ(FilesUnder(w.mem, dir), kTreeV1Files);
    } else {
      EXPECT_EQ(active->version, "2");
      EXPECT_EQ(dir, "/sdk/trees/" + sha2);
      EXPECT_EQ(FilesUnder(w.mem, dir), kTreeV2Files);
    }
    // The H5 page resolves to the installed file of the version open.
    STRATA_ASSERT_OK_AND_ASSIGN(
        Client::UrlResolution page,
        client.ResolveUrl("https://mall.example/index.html"));
    EXPECT_TRUE(page.offline) << page.fallback_reason;
    EXPECT_EQ(page.path, dir + "/index.html");
    EXPECT_EQ(page.version, active->version);
    EXPECT_THAT(client.VerifyInstalled(), IsOk());
    ExpectOnlyCompleteTrees(w.mem, {sha1, sha2});
  };
  flow.complete = [&](World& w, Client& client) {
    EXPECT_THAT(client.BeginLaunch(), IsOk());
    EXPECT_THAT(client.MarkLaunchHealthy(), IsOk());
    auto result = client.Check();
    EXPECT_THAT(result, IsOk());
    if (result.ok() && !result->failures.empty()) {
      ADD_FAILURE() << result->failures.front();
    }
    if (result.ok() && !result->installed.empty()) {
      // By the patch, or from the archive adopted before the crash.
      EXPECT_EQ((tree_patch ? result->via_tree_delta : result->via_delta) +
                    result->via_local,
                1u);
    }
    ActivateAll(client, v1::LAYER_H5, "mall");
    EXPECT_THAT(client.MarkLaunchHealthy(), IsOk());
    auto dir = client.ModuleDir(Layer::kH5, "mall");
    ASSERT_THAT(dir, IsOk());
    EXPECT_EQ(*dir, "/sdk/trees/" + sha2);
    EXPECT_EQ(FilesUnder(w.mem, *dir), kTreeV2Files);
    EXPECT_THAT(client.VerifyInstalled(), IsOk());
    // v1's tree is gone with its archive after the healthy launch.
    ExpectOnlyCompleteTrees(w.mem, {sha2});
    EXPECT_FALSE(w.mem.Exists("/sdk/trees/" + sha1 + ".ok"));
  };
  return EnumerateCrashes(flow, name);
}

// v2 as a byte patch of the archive: applied to the archive, verified,
// unpacked into its own directory, then the state switched.
TEST(TreeCompleteCrashTest, TreeDeltaUnpackAndSwitch) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                              diff::CreatePatch(kTreeV1, kTreeV2));
  const CrashPoints p =
      EnumerateTreeSwitch(kTreeV1, kTreeV2, patch,
                          /*tree_patch=*/false, "tree_delta_switch");
  EXPECT_GT(p.flow, 10u);
  EXPECT_GT(p.recovery, 0u);
}

// v2 as a tree patch (DeltaRef.tree), on canonical archives: v2's tree is
// built from v1's directory, re-packed and checked against the signed
// archive hash, its archive adopted, its marker written, then the state
// switched.
TEST(TreeCompleteCrashTest, TreePatchBuildAndSwitch) {
  const std::string v1_tar = tree_testing::CanonicalTar(kTreeV1Files);
  const std::string v2_tar = tree_testing::CanonicalTar(kTreeV2Files);
  diff::TreeDiffOptions per_file;  // the form stratad makes
  per_file.form = diff::TreePatchForm::kPerFile;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string patch,
      diff::CreateTreePatchFromArchives(v1_tar, v2_tar, per_file));
  const CrashPoints p =
      EnumerateTreeSwitch(v1_tar, v2_tar, patch,
                          /*tree_patch=*/true, "tree_patch_switch");
  EXPECT_GT(p.flow, 10u);
  EXPECT_GT(p.recovery, 0u);
}

}  // namespace
}  // namespace strata::client
