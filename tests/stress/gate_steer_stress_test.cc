// The gate loop against operator steering (issue 23): one thread runs the
// health gates' passes (ReleaseCore::Tick, as stratad's gate thread does)
// while operators pause, resume, promote and halt the same releases,
// devices check and report launches, and readers ask for status, previews
// and the fleet. A real RocksDB store and a simulated clock; no gRPC in
// the process, so ThreadSanitizer sees every access of ours
// (`./strata.sh test --tsan`, label "stress").
//
// What must hold whatever the interleaving: every change of a release was
// made from the state the one before it left (each audit entry's "before"
// is the previous entry's "after", and the release's own history chains
// the same way), the audit log's hash chain verifies, and the stored state
// is the last one audited: no update lost or applied on a stale read.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "core_world.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/proto/audit_chain.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/delivery_core.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;

constexpr int kReleases = 3;
constexpr int kGatePasses = 60;
constexpr int kSteersEach = 60;
constexpr int kOperators = 2;
constexpr int kDeviceThreads = 2;
constexpr int kDevicesEach = 40;

std::string ModuleName(int i) { return StrCat("mall", i); }

// "release_id=7 release 7 rolling(stage 1 of 3, 10%) -> release 7 ...: why"
// (an operator's steer) or "... -> release 7 ... rule=crash_rate: why"
// (the gates'): the states before and after.
struct Change {
  uint64_t release_id = 0;
  std::string before;
  std::string after;
};
bool ParseChange(const std::string& detail, Change* out) {
  constexpr std::string_view kId = "release_id=";
  if (detail.rfind(kId, 0) != 0) return false;
  const size_t id_end = detail.find(' ');
  const size_t arrow = detail.find(" -> ");
  if (id_end == std::string::npos || arrow == std::string::npos) return false;
  out->release_id = std::stoull(detail.substr(kId.size(), id_end - kId.size()));
  out->before = detail.substr(id_end + 1, arrow - id_end - 1);
  size_t end = detail.find(" rule=", arrow);
  if (end == std::string::npos) end = detail.find(": ", arrow);
  if (end == std::string::npos) return false;
  out->after = detail.substr(arrow + 4, end - arrow - 4);
  return true;
}

// A device as the server sees it: what it installed and from which release.
struct Device {
  v1::DeviceContext context;
  std::map<std::string, v1::InstalledModule> installed;  // by module name
  std::map<std::string, uint64_t> release_of;
  std::string ticket;
  int events = 0;
};

// The store and cores wired as stratad wires them (tests/server).
class GateSteerStressTest : public testing::CoreWorldTest {
 protected:
  ReleaseCore& releases() { return admin_->releases(); }

  uint64_t CreateRelease(int i) {
    const std::string content = StrCat("h5 content of ", ModuleName(i));
    v1::PublishHeader h = testing::ConfigHeader(ModuleName(i), "2", content);
    h.mutable_statement()->mutable_module()->set_layer(v1::LAYER_H5);
    EXPECT_THAT(admin_->PublishBytes(who_, h, content), IsOk());
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    r.mutable_module()->set_layer(v1::LAYER_H5);
    r.mutable_module()->set_name(ModuleName(i));
    r.set_version("2");
    for (uint32_t bp : {1000u, 2000u, 5000u, 8000u, 10000u}) {
      v1::RolloutStage* s = r.add_stages();
      s->set_exposure_bp(bp);
      s->set_bake_seconds(90);
      s->set_min_reports(3);
    }
    r.mutable_gates()->set_min_launches(5);
    absl::StatusOr<v1::Release> created = releases().Create(who_, r);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->release_id() : 0;
  }

  // Checks, installs what is offered and reports a launch (crashing now
  // and then, more often for the first release so its gates halt it).
  void Launch(Device& d, std::mt19937_64& rng) {
    v1::CheckRequest check;
    *check.mutable_device() = d.context;
    for (const auto& [name, m] : d.installed) *check.add_installed() = m;
    absl::StatusOr<v1::CheckResponse> resp = delivery_->Check(check);
    ASSERT_THAT(resp, IsOk());
    d.ticket = resp->plan().report_ticket();
    for (const v1::UpdateEntry& e : resp->plan().updates()) {
      v1::InstalledModule& m = d.installed[e.module().name()];
      *m.mutable_module() = e.module();
      m.set_version(e.statement().version());
      m.set_content_sha256(e.statement().content_sha256());
      m.set_release_sequence(e.release_sequence());
      d.release_of[e.module().name()] = e.release_id();
    }
    v1::ReportRequest report;
    *report.mutable_device() = d.context;
    report.set_ticket(d.ticket);
    v1::ReportEvent* e = report.add_events();
    e->set_event_id(StrCat(d.context.device_id(), "-", ++d.events));
    const bool risky = d.release_of.count(ModuleName(0)) > 0;
    const bool crashed = std::uniform_real_distribution<double>(0, 1)(rng) <
                         (risky ? 0.3 : 0.01);
    e->set_kind(crashed ? v1::ReportEvent::KIND_LAUNCH_CRASH
                        : v1::ReportEvent::KIND_LAUNCH_OK);
    for (const auto& [name, id] : d.release_of) e->add_release_ids(id);
    ASSERT_THAT(delivery_->Report(report), IsOk());
  }

  Principal who_ = testing::AdminPrincipal();
};

TEST_F(GateSteerStressTest, EveryChangeStartsFromTheStateTheLastOneLeft) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < kReleases; ++i) ids.push_back(CreateRelease(i));
  ASSERT_EQ(ids.size(), static_cast<size_t>(kReleases));

  std::atomic<int> gate_changes{0};
  std::atomic<int> steers_applied{0};
  std::atomic<bool> gates_done{false};
  // Paces the threads so that each side has something to act on, without
  // serializing them: a gate pass waits for a round of launches from every
  // device thread, an operator's next steer for the next gate pass.
  std::atomic<int> passes{0};
  std::atomic<int> device_rounds{0};
  auto wait_until = [](const std::atomic<int>& n, int at_least) {
    while (n.load() < at_least) std::this_thread::yield();
  };
  std::vector<std::thread> threads;
  // The gate thread: a pass every 30 simulated seconds.
  threads.emplace_back([&] {
    for (int pass = 0; pass < kGatePasses; ++pass) {
      wait_until(device_rounds, kDeviceThreads * pass);
      clock_.Advance(absl::Seconds(30));
      absl::StatusOr<std::vector<rollout::GateDecision>> changed =
          releases().Tick();
      EXPECT_THAT(changed, IsOk());
      if (changed.ok()) gate_changes.fetch_add(changed->size());
      passes.fetch_add(1);
    }
    gates_done.store(true);
  });
  // Operators steering the same releases; refusals (promote a paused one,
  // halt a halted one) are expected, anything else is not.
  for (int t = 0; t < kOperators; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      const v1::SteerReleaseRequest::Action actions[] = {
          v1::SteerReleaseRequest::PAUSE, v1::SteerReleaseRequest::RESUME,
          v1::SteerReleaseRequest::PROMOTE, v1::SteerReleaseRequest::HALT,
          v1::SteerReleaseRequest::RESUME};
      for (int i = 0; i < kSteersEach && !gates_done.load(); ++i) {
        if (i > 0) wait_until(passes, std::min(kGatePasses, passes.load() + 1));
        v1::SteerReleaseRequest req;
        req.set_app_id("wallet");
        req.set_release_id(ids[rng() % ids.size()]);
        req.set_action(actions[rng() % std::size(actions)]);
        absl::StatusOr<v1::SteerReleaseResponse> r =
            releases().Steer(who_, req);
        if (r.ok()) {
          steers_applied.fetch_add(1);
        } else {
          EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
        }
      }
    });
  }
  // Devices launching while the gates and operators change what they get.
  for (int t = 0; t < kDeviceThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(200 + t);
      std::vector<Device> devices(kDevicesEach);
      for (int i = 0; i < kDevicesEach; ++i) {
        v1::DeviceContext& c = devices[i].context;
        c.set_app_id("wallet");
        c.set_device_id(StrCat("device-", t, "-", i));
        c.set_user_id(StrCat("user-", t, "-", i));
        c.set_os("android");
        c.set_app_version("10.3.0");
      }
      while (!gates_done.load()) {
        for (Device& d : devices) Launch(d, rng);
        device_rounds.fetch_add(1);
      }
    });
  }
  // Readers: what the CLI and the console ask while all that happens.
  threads.emplace_back([&] {
    while (!gates_done.load()) {
      for (uint64_t id : ids) {
        v1::GetReleaseStatusRequest status;
        status.set_app_id("wallet");
        status.set_release_id(id);
        EXPECT_THAT(releases().Status(who_, status), IsOk());
        v1::PreviewReleaseRequest preview;
        preview.set_app_id("wallet");
        preview.set_release_id(id);
        EXPECT_THAT(releases().Preview(who_, preview), IsOk());
      }
      v1::GetFleetRequest fleet;
      fleet.set_app_id("wallet");
      EXPECT_THAT(releases().Fleet(who_, fleet), IsOk());
    }
  });
  for (std::thread& t : threads) t.join();

  // Something happened on both sides, or the test proved nothing.
  EXPECT_GT(gate_changes.load(), 0);
  EXPECT_GT(steers_applied.load(), 0);

  absl::StatusOr<std::vector<v1::AuditEntry>> audit =
      admin_->ListAudit(who_, 0, 100000);
  ASSERT_THAT(audit, IsOk());
  EXPECT_THAT(VerifyAuditChain(*audit, 1, ""), IsOk());
  std::map<uint64_t, std::vector<Change>> changes;
  for (const v1::AuditEntry& e : *audit) {
    if (e.action() == "release.create" || e.action() == "publish" ||
        e.action().rfind("release.", 0) != 0) {
      continue;
    }
    Change c;
    ASSERT_TRUE(ParseChange(e.detail(), &c))
        << e.action() << ": " << e.detail();
    changes[c.release_id].push_back(c);
  }
  for (uint64_t id : ids) {
    const std::vector<Change>& chain = changes[id];
    ASSERT_FALSE(chain.empty()) << "release " << id << " never changed";
    for (size_t i = 1; i < chain.size(); ++i) {
      EXPECT_EQ(chain[i].before, chain[i - 1].after)
          << "release " << id << ", change " << i
          << " was made from a state another change had already left";
    }
    v1::GetReleaseStatusRequest req;
    req.set_app_id("wallet");
    req.set_release_id(id);
    absl::StatusOr<v1::ReleaseStatus> s = releases().Status(who_, req);
    ASSERT_THAT(s, IsOk());
    // The stored state is the last one audited (its text starts with the
    // state's name, e.g. "halted(stage 1 of 3, 10%)").
    const std::string last = chain.back().after;
    const std::string state = v1::ReleaseState_Name(s->release().state());
    EXPECT_NE(last.find(absl::AsciiStrToLower(state.substr(8))),
              std::string::npos)
        << "release " << id << " is " << state << ", last audited " << last;
  }
}

}  // namespace
}  // namespace strata::server
