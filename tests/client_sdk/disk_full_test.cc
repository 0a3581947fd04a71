// The device's storage fills up (issue 15, item 4). For every N the disk
// fills during the N-th space-taking file operation of a flow, counted from
// before the client is opened (MemFileSystem::FillDiskAt: that operation
// fails with RESOURCE_EXHAUSTED, an append after a short write, and the
// disk stays full; deleting frees space). Then:
//   - every error the SDK gives the app says to free storage space;
//   - a restart on the still full disk opens, sees exactly the state the
//     SDK acknowledged (its view after the flow), and the active version
//     verifies;
//   - once the space returns, the same client and then a restarted one
//     complete the update (launch, Check, activation), every report queued
//     before the flow and every failure the flow reported reach the
//     server, and no file is left beyond the state, the report queue, the
//     trust state and the active blobs.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "device_world.h"
#include "fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "report_queue.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/diff/delta.h"

namespace strata::client {
namespace {

using ::strata::client::device_world::ActivateAll;
using ::strata::client::device_world::CompleteUpdate;
using ::strata::client::device_world::DeltaUpdate;
using ::strata::client::device_world::InstallHealthy;
using ::strata::client::device_world::InstallVerifiedPage;
using ::strata::client::device_world::kAllLayers;
using ::strata::client::device_world::kNew;
using ::strata::client::device_world::kNewer;
using ::strata::client::device_world::kOld;
using ::strata::client::device_world::LayerParamName;
using ::strata::client::device_world::Release;
using ::strata::client::device_world::ThreeUnhealthyLaunches;
using ::strata::client::device_world::UpdateTarget;
using ::strata::client::device_world::Version;
using ::strata::client::device_world::World;
using ::strata::testing::IsOk;
using ::testing::HasSubstr;

// What the advice of every storage error contains.
constexpr char kAdvice[] = "free storage space";

// What the SDK told the app during a flow.
struct Outcome {
  std::vector<std::string> errors;  // statuses and reported failures
  // Failures a Check or a push reported (and queued as report events).
  int reported_failures = 0;
};

void Add(Outcome& o, const absl::Status& s) {
  if (!s.ok()) o.errors.push_back(s.ToString());
}
void Add(Outcome& o, const absl::StatusOr<CheckResult>& r) {
  if (!r.ok()) {
    o.errors.push_back(r.status().ToString());
    return;
  }
  for (const std::string& f : r->failures) o.errors.push_back(f);
  o.reported_failures += static_cast<int>(r->failures.size());
}

struct DiskFullFlow {
  std::function<void(World&)> setup;  // with space
  std::function<void(World&, Client&, Outcome&)> run;
  // Before the recovery (space is back): e.g. the next release served.
  std::function<void(World&)> before_recovery;
  // What the recovery must make active.
  UpdateTarget target;
};

struct DiskFullPoints {
  uint64_t points = 0;    // N at which the disk filled
  uint64_t errors = 0;    // of them, the SDK gave the app an error
  uint64_t absorbed = 0;  // the SDK finished the operation regardless
  uint64_t open = 0;      // the client's open failed
};

// Three report events queued on disk before the flow; their ids.
std::set<std::string> QueueEarlierReports(World& w) {
  std::set<std::string> ids;
  if (!w.mem.Exists("/sdk")) return ids;  // a device without the SDK yet
  auto queue = ReportQueue::Open(&w.mem, "/sdk/reports", 1000, &w.random);
  EXPECT_THAT(queue, IsOk());
  if (!queue.ok()) return ids;
  for (int i = 0; i < 3; ++i) {
    v1::ReportEvent e;
    e.set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
    e.set_detail(StrCat("queued before the disk filled #", i));
    e.set_event_id(queue->NewEventId());
    EXPECT_THAT(queue->Append(e), IsOk());
    ids.insert(e.event_id());
  }
  return ids;
}

// Module, version and hash of every installed module, and what is staged.
std::string StateOf(Client& client) {
  std::string out;
  for (const InstalledModule& m : client.AllInstalled()) {
    out += StrCat(LayerName(m.layer), "/", m.name, " ", m.version, " ",
                  m.content_sha256, "\n");
    if (auto s = client.Staged(m.layer, m.name)) {
      out += StrCat("  staged ", s->version, "\n");
    }
  }
  return out;
}

// The active versions' content is intact (read only: no activation).
void ExpectActiveIntact(World& w, Client& client) {
  for (const InstalledModule& m : client.AllInstalled()) {
    auto content =
        w.mem.ReadFile(StrCat("/sdk/blobs/", m.content_sha256, ".blob"));
    ASSERT_THAT(content, IsOk());
    EXPECT_EQ(Sha256::HexHash(*content), m.content_sha256);
  }
  EXPECT_THAT(client.VerifyInstalled(), IsOk());
}

// Space is back: a launch, a Check and the activation bring the final
// version; every report is delivered.
void Recover(World& w, Client& client, const DiskFullFlow& flow) {
  CompleteUpdate(w, client, flow.target);
  EXPECT_THAT(client.FlushReports(), IsOk());
  EXPECT_EQ(client.PendingReports(), 0u);
}

// Nothing in /sdk beyond the state, the report queue, the trust state and
// the blobs of the active versions.
void ExpectNoLeftovers(World& w, Client& client) {
  std::set<std::string> allowed = {"/sdk/state", "/sdk/reports/queue",
                                   "/sdk/traffic", "/sdk/pending"};
  for (const InstalledModule& m : client.AllInstalled()) {
    allowed.insert(StrCat("/sdk/blobs/", m.content_sha256, ".blob"));
  }
  for (const std::string& f : w.mem.AllFiles()) {
    if (f.rfind("/sdk/", 0) != 0 || allowed.count(f) > 0) continue;
    if (f.rfind("/sdk/trust/", 0) == 0 && f.find(".tmp") == std::string::npos) {
      continue;
    }
    ADD_FAILURE() << "leftover " << f;
  }
}

DiskFullPoints EnumerateDiskFull(const DiskFullFlow& flow,
                                 const std::string& name) {
  DiskFullPoints points;
  for (uint64_t n = 1; n < 1000; ++n) {
    SCOPED_TRACE(::testing::Message() << "disk full at operation " << n);
    World w;
    flow.setup(w);
    if (::testing::Test::HasFatalFailure()) return points;
    const std::set<std::string> earlier = QueueEarlierReports(w);
    w.mem.FillDiskAt(n);
    Outcome out;
    absl::StatusOr<std::unique_ptr<Client>> client = w.TryOpen(&w.mem);
    if (client.ok()) {
      flow.run(w, **client, out);
    } else {
      Add(out, client.status());
    }
    const bool filled = w.mem.disk_filled();
    for (const std::string& e : out.errors) {
      EXPECT_THAT(e, HasSubstr(kAdvice)) << "an error that does not say "
                                            "what to do";
    }
    if (filled) {
      ++points.points;
      if (!client.ok()) {
        ++points.open;
      } else if (out.errors.empty()) {
        ++points.absorbed;
      } else {
        ++points.errors;
      }
    } else {
      EXPECT_TRUE(out.errors.empty()) << out.errors.front();
    }
    // Nothing cut short by the full disk keeps holding space: partial
    // downloads and patch outputs are deleted, not kept to resume.
    for (const std::string& f : w.mem.AllFiles()) {
      EXPECT_NE(f.rfind("/sdk/staging/", 0), 0u)
          << f << " left in staging on the full disk";
    }
    // A restart on the full disk sees what the SDK acknowledged, and the
    // active version verifies.
    {
      auto restarted = w.TryOpen(&w.mem);
      if (restarted.ok()) {
        if (client.ok()) {
          EXPECT_EQ(StateOf(**restarted), StateOf(**client))
              << "the restart sees another state than the one acknowledged";
        }
        ExpectActiveIntact(w, **restarted);
      } else {
        // Only a device the SDK never set up fails to open (no room for
        // its directories).
        EXPECT_THAT(restarted.status().ToString(), HasSubstr(kAdvice));
        EXPECT_FALSE(w.mem.Exists("/sdk/state"));
      }
    }
    w.mem.FreeSpace();
    if (flow.before_recovery) flow.before_recovery(w);
    if (client.ok()) {
      SCOPED_TRACE("the same client, once space returned");
      Recover(w, **client, flow);
      client = absl::UnknownError("closed");
    }
    {
      SCOPED_TRACE("a restart, once space returned");
      auto reopened = w.Open(&w.mem);
      if (reopened == nullptr) return points;
      Recover(w, *reopened, flow);
      ExpectNoLeftovers(w, *reopened);
    }
    // Nothing queued was lost, and the failures the flow reported reached
    // the server.
    std::set<std::string> delivered;
    int storage_failures = 0;
    for (const v1::ReportEvent& e : w.server.reports) {
      delivered.insert(e.event_id());
      if (e.detail().find(kAdvice) != std::string::npos) ++storage_failures;
    }
    for (const std::string& id : earlier) {
      EXPECT_EQ(delivered.count(id), 1u) << "queued report " << id << " lost";
    }
    if (out.reported_failures > 0) {
      EXPECT_GT(storage_failures, 0)
          << "the failure for lack of space was not reported";
    }
    if (::testing::Test::HasFailure() || !filled) break;
  }
  std::cout << "[disk full points] " << name << ": " << points.points
            << " (error to the app " << points.errors << ", absorbed "
            << points.absorbed << ", open failed " << points.open << ")\n";
  ::testing::Test::RecordProperty(name + "_points",
                                  static_cast<int>(points.points));
  return points;
}

// Check, then the activation the way the app does it.
void CheckAndActivate(Client& client, v1::Layer layer, const std::string& name,
                      Outcome& out) {
  Add(out, client.Check());
  Add(out, client.BeginLaunch().status());
  // (Not found: a first install that did not happen.)
  auto path = client.OpenModule(static_cast<Layer>(layer), name);
  if (!absl::IsNotFound(path.status())) Add(out, path.status());
}

class DiskFullTest : public ::testing::TestWithParam<v1::Layer> {};

// A full-blob update, checked and activated.
TEST_P(DiskFullTest, CheckAndActivate) {
  const v1::Layer layer = GetParam();
  DiskFullFlow flow;
  flow.setup = [&](World& w) {
    InstallHealthy(w, layer, Version(layer, "m", "2", kNew, 2, 0));
  };
  flow.run = [&](World&, Client& client, Outcome& out) {
    CheckAndActivate(client, layer, "m", out);
  };
  flow.target = {layer, "m", "2", kNew};
  const DiskFullPoints p =
      EnumerateDiskFull(flow, StrCat("check_activate_", v1::Layer_Name(layer)));
  EXPECT_GT(p.errors, 3u);
}

INSTANTIATE_TEST_SUITE_P(Layers, DiskFullTest, ::testing::ValuesIn(kAllLayers),
                         LayerParamName);

class DiskFullActivationTest : public ::testing::TestWithParam<v1::Layer> {};

// A staged version activated: by opening it (H5, HCF; the active version
// opens while the disk is full) or by the launch.
TEST_P(DiskFullActivationTest, ActivationOfAStagedVersion) {
  const v1::Layer layer = GetParam();
  DiskFullFlow flow;
  flow.setup = [&](World& w) {
    InstallHealthy(w, layer, Version(layer, "m", "2", kNew, 2, 0));
    auto client = w.Open(&w.mem);
    ASSERT_NE(client, nullptr);
    STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
    ASSERT_EQ(r.staged.size(), 1u);
  };
  flow.run = [&](World& w, Client& client, Outcome& out) {
    auto path = client.OpenModule(static_cast<Layer>(layer), "m");
    Add(out, path.status());
    if (path.ok()) {
      const std::string content = w.mem.ReadFile(*path).value_or("");
      EXPECT_TRUE(content == kOld || content == kNew) << content;
    }
    auto launch = client.BeginLaunch();
    Add(out, launch.status());
    if (launch.ok()) Add(out, client.MarkLaunchHealthy());
  };
  flow.target = {layer, "m", "2", kNew};
  const DiskFullPoints p =
      EnumerateDiskFull(flow, StrCat("activate_", v1::Layer_Name(layer)));
  EXPECT_GT(p.points, 3u);
}

INSTANTIATE_TEST_SUITE_P(Layers, DiskFullActivationTest,
                         ::testing::Values(v1::LAYER_H5, v1::LAYER_HCF,
                                           v1::LAYER_HOTPATCH,
                                           v1::LAYER_NATIVE_BUNDLE),
                         LayerParamName);

// A delta update: the patch download, its output in staging, the adoption.
TEST(DiskFullFlowTest, DeltaUpdate) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch, diff::CreatePatch(kOld, kNew));
  DiskFullFlow flow;
  flow.setup = [&](World& w) {
    InstallHealthy(w, v1::LAYER_NATIVE_BUNDLE, DeltaUpdate(w, patch));
  };
  flow.run = [&](World&, Client& client, Outcome& out) {
    CheckAndActivate(client, v1::LAYER_NATIVE_BUNDLE, "m", out);
  };
  flow.target = {v1::LAYER_NATIVE_BUNDLE, "m", "2", kNew};
  const DiskFullPoints p = EnumerateDiskFull(flow, "delta_update");
  EXPECT_GT(p.errors, 3u);
}

// The first install on a device the SDK never set up.
TEST(DiskFullFlowTest, FirstInstall) {
  DiskFullFlow flow;
  flow.setup = [&](World& w) {
    w.server.Serve({Version(v1::LAYER_CONFIG, "m", "1", kOld, 1, 0)});
  };
  flow.run = [&](World&, Client& client, Outcome& out) {
    CheckAndActivate(client, v1::LAYER_CONFIG, "m", out);
  };
  flow.target = {v1::LAYER_CONFIG, "m", "1", kOld};
  const DiskFullPoints p = EnumerateDiskFull(flow, "first_install");
  EXPECT_GT(p.open, 0u);
}

// A config pushed on the WatchConfig stream.
TEST(DiskFullFlowTest, ConfigPush) {
  const v1::UpdateEntry next = Version(v1::LAYER_CONFIG, "m", "2", kNew, 2, 0);
  DiskFullFlow flow;
  flow.setup = [&](World& w) { InstallHealthy(w, v1::LAYER_CONFIG, next); };
  flow.run = [&](World& w, Client& client, Outcome& out) {
    std::mutex mu;
    std::vector<ConfigPush> pushes;
    ConfigWatchOptions o;
    o.on_push = [&](const ConfigPush& p) {
      std::lock_guard<std::mutex> lock(mu);
      pushes.push_back(p);
    };
    w.server.watch->Push(next);
    ASSERT_THAT(client.StartConfigWatch(o), IsOk());
    EXPECT_TRUE(w.server.watch->WaitFor(1));
    client.StopConfigWatch();
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(pushes.size(), 1u);
    if (pushes[0].failure.has_value()) {
      out.errors.push_back(pushes[0].failure->message);
      ++out.reported_failures;
    }
  };
  flow.target = {v1::LAYER_CONFIG, "m", "2", kNew};
  const DiskFullPoints p = EnumerateDiskFull(flow, "config_push");
  EXPECT_GT(p.errors, 3u);
}

// A verified update: the check writes the trust state (/sdk/trust) first.
TEST(DiskFullFlowTest, VerifiedUpdateWithTrustState) {
  DiskFullFlow flow;
  flow.setup = [&](World& w) { InstallVerifiedPage(w); };
  flow.run = [&](World&, Client& client, Outcome& out) {
    CheckAndActivate(client, v1::LAYER_H5, "page", out);
  };
  flow.target = {v1::LAYER_H5, "page", "2", kNew};
  const DiskFullPoints p = EnumerateDiskFull(flow, "verified_update");
  EXPECT_GT(p.errors, 3u);
}

// Report events queued and flushed: two launches (the second reports the
// first as crashed) and a flush that removes what the server acknowledged.
TEST(DiskFullFlowTest, ReportQueueAppendAndFlush) {
  DiskFullFlow flow;
  flow.setup = [&](World& w) {
    InstallHealthy(w, v1::LAYER_CONFIG,
                   Version(v1::LAYER_CONFIG, "m", "2", kNew, 2, 0));
  };
  flow.run = [&](World&, Client& client, Outcome& out) {
    Add(out, client.BeginLaunch().status());
    Add(out, client.BeginLaunch().status());
    Add(out, client.FlushReports().status());
  };
  flow.target = {v1::LAYER_CONFIG, "m", "2", kNew};
  const DiskFullPoints p = EnumerateDiskFull(flow, "report_queue");
  EXPECT_GT(p.points, 3u);
}

// The launch guard's rollback of a release (fourth unhealthy launch).
TEST(DiskFullFlowTest, LaunchGuardRollback) {
  DiskFullFlow flow;
  flow.setup = [&](World& w) { ThreeUnhealthyLaunches(w); };
  flow.run = [&](World&, Client& client, Outcome& out) {
    Add(out, client.BeginLaunch().status());
  };
  flow.before_recovery = [](World& w) {
    w.server.Serve(Release(v1::LAYER_HOTPATCH, "core", 3));
  };
  flow.target = {v1::LAYER_CONFIG, "a", "3", kNewer};
  const DiskFullPoints p = EnumerateDiskFull(flow, "launch_guard_rollback");
  EXPECT_GT(p.points, 2u);
}

// Real files: no file of the SDK may grow past 64 bytes (RLIMIT_FSIZE in
// a child process; EFBIG, RESOURCE_EXHAUSTED like ENOSPC). A full file
// system needs a mount (root); this is what an unprivileged test can do.
// The check downloads the 39-byte version 2, cannot write the state
// (about 200 bytes): it says to free space and version 1 stays active and
// intact. Without the limit the next check installs version 2.
TEST(DiskFullRealFilesTest, FileSizeLimitOnTheStorageDirectory) {
  char tmpl[] = "/tmp/strata_sdk_disk_full_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  World w;
  auto open = [&]() {
    ClientOptions options;
    options.app_id = "wallet";
    options.device.device_id = "d1";
    options.device.host_build = "b1";
    options.storage_dir = JoinPath(root, "sdk");
    options.insecure_skip_signature_verification_for_tests = true;
    options.env = Env{PosixFileSystem(), &w.clock, &w.random};
    return Client::CreateWithTransport(
        options, std::make_unique<device_world::SharedTransport>(&w.server));
  };
  const v1::UpdateEntry v2 = Version(v1::LAYER_CONFIG, "m", "2", kNew, 2, 0);
  {
    w.server.Serve({Version(v1::LAYER_CONFIG, "m", "1", kOld, 1, 0)});
    STRATA_ASSERT_OK_AND_ASSIGN(auto client, open());
    ASSERT_THAT(client->Check(), IsOk());
    ASSERT_THAT(client->BeginLaunch(), IsOk());
    ASSERT_THAT(client->MarkLaunchHealthy(), IsOk());
    ASSERT_THAT(client->FlushReports(), IsOk());
    w.server.Serve({v2});
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Exit codes: 0 as expected, 2 setup, 3 no storage error, 4 the
    // active version changed or is damaged.
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {64, 64};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(2);
    auto client = open();
    if (!client.ok()) ::_exit(2);
    auto r = (*client)->Check();
    if (!r.ok() || r->failures.size() != 1 ||
        r->failures[0].find(kAdvice) == std::string::npos) {
      ::_exit(3);
    }
    auto config = (*client)->GetConfig("m");
    if (!config.ok() || *config != std::optional<std::string>(kOld) ||
        !(*client)->VerifyInstalled().ok()) {
      ::_exit(4);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto client, open());
    EXPECT_EQ(*client->GetConfig("m"), std::optional<std::string>(kOld));
    STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
    EXPECT_TRUE(r.failures.empty()) << r.failures.front();
    EXPECT_EQ(*client->GetConfig("m"), std::optional<std::string>(kNew));
    EXPECT_THAT(client->VerifyInstalled(), IsOk());
  }
  (void)DeleteRecursively(*PosixFileSystem(), root);
}

}  // namespace
}  // namespace strata::client
