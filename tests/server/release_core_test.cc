// Staged, health-gated releases inside the server cores: Check targeting,
// report attribution, the gates, steering, roll back, preview and restart.
#include "strata/server/core/release_core.h"

#include <map>
#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/bucketing.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/delivery_core.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

v1::ModuleId ModuleOf(v1::Layer layer, const std::string& name) {
  v1::ModuleId m;
  m.set_layer(layer);
  m.set_name(name);
  return m;
}

// A device as the server sees it: what it has installed and which releases
// those came from.
struct SimDevice {
  v1::DeviceContext context;
  std::map<std::pair<int, std::string>, v1::InstalledModule> installed;
  std::map<std::pair<int, std::string>, uint64_t> release_of;
  std::string ticket;  // from the latest Check, sent with every report
  int events = 0;      // event ids: "<device>-<n>"

  std::string NextEventId() {
    return StrCat(context.device_id(), "-", ++events);
  }

  std::set<uint64_t> Releases() const {
    std::set<uint64_t> ids;
    for (const auto& [k, id] : release_of) ids.insert(id);
    return ids;
  }
};

class ReleaseCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    admin_ = std::make_unique<AdminCore>(
        store_.get(), &clock_, AdminLimits{.require_signatures = false});
    delivery_ = std::make_unique<DeliveryCore>(
        store_.get(), &clock_, DeliveryOptions{}, nullptr, admin_->fleet());
    admin_->OnReleasesChanged(
        [this](const std::string& app) { delivery_->ReleasesChanged(app); });
  }
  void Reopen() {
    delivery_.reset();
    admin_.reset();
    store_.reset();
    Open();
  }
  ReleaseCore& releases() { return admin_->releases(); }

  void Publish(v1::Layer layer, const std::string& name,
               const std::string& version, const std::string& content) {
    v1::PublishHeader h = testing::ConfigHeader(name, version, content);
    h.mutable_statement()->mutable_module()->set_layer(layer);
    if (layer == v1::LAYER_HOTPATCH) {
      h.mutable_statement()->mutable_compatibility()->set_host_build("b100");
    }
    ASSERT_THAT(admin_->PublishBytes(who_, h, content), IsOk());
  }

  v1::CreateReleaseRequest Request(v1::Layer layer, const std::string& name,
                                   const std::string& version) {
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    *r.mutable_module() = ModuleOf(layer, name);
    r.set_version(version);
    return r;
  }

  static void AddStage(v1::CreateReleaseRequest& r, uint32_t bp,
                       int64_t bake_seconds, uint64_t min_reports) {
    v1::RolloutStage* s = r.add_stages();
    s->set_exposure_bp(bp);
    s->set_bake_seconds(bake_seconds);
    s->set_min_reports(min_reports);
  }

  uint64_t Create(const v1::CreateReleaseRequest& r) {
    absl::StatusOr<v1::Release> created = releases().Create(who_, r);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->release_id() : 0;
  }

  v1::Release Steer(uint64_t id, v1::SteerReleaseRequest::Action action) {
    v1::SteerReleaseRequest req;
    req.set_app_id("wallet");
    req.set_release_id(id);
    req.set_action(action);
    absl::StatusOr<v1::SteerReleaseResponse> r = releases().Steer(who_, req);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->release() : v1::Release();
  }

  v1::ReleaseStatus Status(uint64_t id) {
    v1::GetReleaseStatusRequest req;
    req.set_app_id("wallet");
    req.set_release_id(id);
    absl::StatusOr<v1::ReleaseStatus> s = releases().Status(who_, req);
    EXPECT_THAT(s, IsOk());
    return s.ok() ? *s : v1::ReleaseStatus();
  }

  static SimDevice MakeDevice(int i, const std::string& os = "android") {
    SimDevice d;
    d.context.set_app_id("wallet");
    d.context.set_device_id(StrCat("device-", i));
    d.context.set_user_id(StrCat("user-", i));
    d.context.set_os(os);
    d.context.set_app_version("10.3.0");
    return d;
  }

  // Checks and installs everything offered; returns the offered entries.
  std::vector<v1::UpdateEntry> CheckAndInstall(SimDevice& d) {
    v1::CheckRequest req;
    *req.mutable_device() = d.context;
    for (const auto& [k, m] : d.installed) *req.add_installed() = m;
    absl::StatusOr<v1::CheckResponse> resp = delivery_->Check(req);
    EXPECT_THAT(resp, IsOk());
    if (!resp.ok()) return {};
    d.ticket = resp->plan().report_ticket();
    std::vector<v1::UpdateEntry> offered(resp->plan().updates().begin(),
                                         resp->plan().updates().end());
    for (const v1::UpdateEntry& e : offered) {
      const auto key = std::make_pair(static_cast<int>(e.module().layer()),
                                      e.module().name());
      v1::InstalledModule& m = d.installed[key];
      *m.mutable_module() = e.module();
      m.set_version(e.statement().version());
      m.set_content_sha256(e.statement().content_sha256());
      m.set_release_sequence(e.release_sequence());
      d.release_of[key] = e.release_id();
    }
    return offered;
  }

  void ReportLaunch(SimDevice& d, bool crashed, ReportStats* stats = nullptr) {
    v1::ReportRequest req;
    *req.mutable_device() = d.context;
    req.set_ticket(d.ticket);
    v1::ReportEvent* e = req.add_events();
    e->set_event_id(d.NextEventId());
    e->set_kind(crashed ? v1::ReportEvent::KIND_LAUNCH_CRASH
                        : v1::ReportEvent::KIND_LAUNCH_OK);
    for (uint64_t id : d.Releases()) e->add_release_ids(id);
    ASSERT_THAT(delivery_->Report(req, stats), IsOk());
  }

  void ReportActivated(SimDevice& d, uint64_t release_id) {
    v1::ReportRequest req;
    *req.mutable_device() = d.context;
    req.set_ticket(d.ticket);
    v1::ReportEvent* e = req.add_events();
    e->set_event_id(d.NextEventId());
    e->set_kind(v1::ReportEvent::KIND_ACTIVATED);
    e->set_release_id(release_id);
    ASSERT_THAT(delivery_->Report(req), IsOk());
  }

  std::vector<v1::AuditEntry> Audit() {
    auto entries = admin_->ListAudit(who_, 0, 1000);
    EXPECT_THAT(entries, IsOk());
    return entries.ok() ? *entries : std::vector<v1::AuditEntry>();
  }

  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  Principal who_ = testing::AdminPrincipal();
  std::unique_ptr<Store> store_;
  std::unique_ptr<AdminCore> admin_;
  std::unique_ptr<DeliveryCore> delivery_;
};

TEST_F(ReleaseCoreTest, BadRequestsAreRefusedClearlyAndChangeNothing) {
  Publish(v1::LAYER_H5, "mall", "1", "h5 v1");
  const size_t audit_before = Audit().size();

  EXPECT_THAT(releases().Create(who_, Request(v1::LAYER_H5, "mall", "9")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("publish it")));

  v1::CreateReleaseRequest r = Request(v1::LAYER_H5, "mall", "1");
  r.set_segment("beta");
  EXPECT_THAT(
      releases().Create(who_, r),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("strata segment put")));

  r = Request(v1::LAYER_H5, "mall", "1");
  AddStage(r, 500, 60, 0);
  AddStage(r, 200, 60, 0);  // shrinking
  EXPECT_THAT(releases().Create(who_, r),
              StatusIs(absl::StatusCode::kInvalidArgument));

  r = Request(v1::LAYER_H5, "mall", "1");
  AddStage(r, 10000, 0, 0);
  r.set_all_at_once(true);
  EXPECT_THAT(
      releases().Create(who_, r),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("all_at_once")));

  v1::CreateReleaseRequest twice;
  twice.set_app_id("wallet");
  for (int i = 0; i < 2; ++i) {
    v1::ReleaseArtifact* a = twice.add_artifacts();
    *a->mutable_module() = ModuleOf(v1::LAYER_H5, "mall");
    a->set_version("1");
  }
  EXPECT_THAT(
      releases().Create(who_, twice),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listed twice")));

  r = Request(v1::LAYER_H5, "mall", "1");
  r.mutable_gates()->set_max_crash_rate(-1);
  EXPECT_THAT(releases().Create(who_, r),
              StatusIs(absl::StatusCode::kInvalidArgument));

  const Principal viewer{"v", v1::ROLE_VIEWER, "wallet"};
  EXPECT_THAT(releases().Create(viewer, Request(v1::LAYER_H5, "mall", "1")),
              StatusIs(absl::StatusCode::kPermissionDenied));

  auto listed = releases().List(who_, "wallet");
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(Audit().size(), audit_before);
}

// Per device, not per cohort: how many launches each device reported, the
// share of them that crashed, and the bytes each received for the release.
TEST_F(ReleaseCoreTest, DistributionSpreadsLaunchesAndDownloadsPerDevice) {
  Publish(v1::LAYER_H5, "mall", "2", "h5 v2");
  v1::CreateReleaseRequest r = Request(v1::LAYER_H5, "mall", "2");
  AddStage(r, 5000, 3600, 0);
  AddStage(r, 10000, 3600, 0);
  const uint64_t id = Create(r);
  uint64_t treatment = 0, control = 0, all_crashed = 0, t_launches = 0;
  std::vector<uint64_t> sizes;
  for (int i = 0; i < 60; ++i) {
    SimDevice d = MakeDevice(i);
    CheckAndInstall(d);
    const int launches = i % 4 + 1;
    const bool crashes = i % 10 == 0;
    if (d.Releases().count(id) > 0) {
      ++treatment;
      t_launches += launches;
      all_crashed += crashes;
      // The update's bytes, on APPLIED and again on ACTIVATED: counted once.
      v1::ReportRequest req;
      *req.mutable_device() = d.context;
      req.set_ticket(d.ticket);
      for (auto kind :
           {v1::ReportEvent::KIND_APPLIED, v1::ReportEvent::KIND_ACTIVATED}) {
        v1::ReportEvent* e = req.add_events();
        e->set_event_id(d.NextEventId());
        e->set_kind(kind);
        e->set_release_id(id);
        *e->mutable_module() = ModuleOf(v1::LAYER_H5, "mall");
        v1::NetworkBytes* n = e->add_traffic();
        n->set_network(v1::NETWORK_UNMETERED);
        n->set_bytes(1000 * (i + 1));
      }
      ASSERT_THAT(delivery_->Report(req), IsOk());
      sizes.push_back(1000 * (i + 1));
    } else if (rollout::CohortOf(rollout::BucketOf(StrCat("release-", id),
                                                   d.context.user_id()),
                                 5000) == rollout::Cohort::kControl) {
      ++control;
    }
    for (int l = 0; l < launches; ++l) ReportLaunch(d, crashes);
  }
  ASSERT_GT(treatment, 5u);
  ASSERT_GT(control, 5u);

  v1::GetReleaseDistributionRequest req;
  req.set_app_id("wallet");
  req.set_release_id(id);
  absl::StatusOr<v1::ReleaseDistribution> got =
      releases().Distribution(who_, req);
  ASSERT_THAT(got, IsOk());
  ASSERT_EQ(got->cohorts_size(), 2);
  const v1::CohortDistribution& t = got->cohorts(0);
  EXPECT_EQ(t.cohort(), "treatment");
  EXPECT_EQ(t.devices(), treatment);
  EXPECT_EQ(t.launches(), t_launches);
  uint64_t in_buckets = 0;
  for (const auto& b : t.launches_per_device()) in_buckets += b.devices();
  EXPECT_EQ(in_buckets, treatment);
  EXPECT_EQ(t.crash_share(4).label(), "every launch crashed");
  EXPECT_EQ(t.crash_share(4).devices(), all_crashed);
  EXPECT_EQ(t.crash_share(0).devices(), treatment - all_crashed);
  EXPECT_EQ(got->cohorts(1).cohort(), "control");
  EXPECT_EQ(got->cohorts(1).devices(), control);

  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(got->download_devices(), treatment);
  EXPECT_EQ(got->download_bytes_max(), sizes.back());
  EXPECT_EQ(got->download_bytes_p50(), sizes[(sizes.size() + 1) / 2 - 1]);
  uint64_t total = 0;
  for (uint64_t b : sizes) total += b;
  EXPECT_EQ(got->download_bytes_total(), total);
  uint64_t sized = 0;
  for (const auto& b : got->download_bytes()) sized += b.devices();
  EXPECT_EQ(sized, treatment);

  // Viewers of another app see nothing of it.
  const Principal other{"o", v1::ROLE_VIEWER, "other"};
  EXPECT_THAT(releases().Distribution(other, req),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ReleaseCoreTest, DefaultPlanStartsAtOnePercentOfTheSegment) {
  Publish(v1::LAYER_H5, "mall", "1", "h5 v1");
  const uint64_t id = Create(Request(v1::LAYER_H5, "mall", "1"));
  const v1::ReleaseStatus s = Status(id);
  EXPECT_EQ(s.release().state(), v1::RELEASE_ROLLING);
  ASSERT_EQ(s.release().stages_size(), 5);
  EXPECT_EQ(s.release().stages(0).exposure_bp(), 100u);
  EXPECT_EQ(s.release().stages(4).exposure_bp(), 10000u);
  EXPECT_EQ(s.exposure_bp(), 100u);
  EXPECT_EQ(s.gate_action(), "hold");
  ASSERT_FALSE(s.history().empty());
  EXPECT_EQ(s.history(0).action(), "release.create");
  EXPECT_EQ(s.history(0).seq(), s.release().created_audit_seq());
}

TEST_F(ReleaseCoreTest, SegmentAndBucketsDecideWhoGetsItAndGrowingKeepsThem) {
  v1::Segment seg;
  seg.set_app_id("wallet");
  seg.set_name("android");
  seg.set_expression("os == \"android\"");
  ASSERT_THAT(admin_->PutSegment(who_, seg), IsOk());
  Publish(v1::LAYER_HCF, "cashier", "1", "hcf v1");
  v1::CreateReleaseRequest r = Request(v1::LAYER_HCF, "cashier", "1");
  r.set_segment("android");
  r.set_salt("canary");
  AddStage(r, 2000, 3600, 0);
  AddStage(r, 10000, 3600, 0);
  const uint64_t id = Create(r);

  std::set<std::string> got;
  int android = 0;
  for (int i = 0; i < 2000; ++i) {
    SimDevice d = MakeDevice(i, i % 2 == 0 ? "android" : "ios");
    const bool offered = !CheckAndInstall(d).empty();
    const uint32_t bucket = rollout::BucketOf("canary", d.context.user_id());
    if (d.context.os() == "ios") {
      EXPECT_FALSE(offered) << "ios is outside the segment";
      continue;
    }
    ++android;
    // Exactly the treatment buckets get it; control and the rest do not.
    EXPECT_EQ(offered, bucket < 2000) << d.context.device_id();
    if (offered) got.insert(d.context.device_id());
  }
  EXPECT_NEAR(static_cast<double>(got.size()) / android, 0.2, 0.04);

  Steer(id, v1::SteerReleaseRequest::PROMOTE);
  int now_in = 0;
  for (int i = 0; i < 2000; i += 2) {
    SimDevice d = MakeDevice(i, "android");
    if (!CheckAndInstall(d).empty()) {
      ++now_in;
    } else {
      ADD_FAILURE() << "at 100% every android device gets it";
    }
  }
  EXPECT_EQ(now_in, android);
}

TEST_F(ReleaseCoreTest, MultiLayerReleaseIsOfferedWholeOrNotAtAll) {
  Publish(v1::LAYER_H5, "mall", "2", "h5 page needing the module");
  Publish(v1::LAYER_HCF, "cart", "2", "hcf module");
  Publish(v1::LAYER_CONFIG, "mall.switch", "2", "{\"new_mall\": true}");
  v1::CreateReleaseRequest r;
  r.set_app_id("wallet");
  for (auto [layer, name] : std::vector<std::pair<v1::Layer, std::string>>{
           {v1::LAYER_H5, "mall"},
           {v1::LAYER_HCF, "cart"},
           {v1::LAYER_CONFIG, "mall.switch"}}) {
    v1::ReleaseArtifact* a = r.add_artifacts();
    *a->mutable_module() = ModuleOf(layer, name);
    a->set_version("2");
  }
  AddStage(r, 5000, 3600, 0);
  AddStage(r, 10000, 3600, 0);
  const uint64_t id = Create(r);

  int whole = 0, none = 0;
  for (int i = 0; i < 400; ++i) {
    SimDevice d = MakeDevice(i);
    const std::vector<v1::UpdateEntry> offered = CheckAndInstall(d);
    if (offered.empty()) {
      ++none;
      continue;
    }
    ASSERT_EQ(offered.size(), 3u) << "all three modules or none";
    for (const v1::UpdateEntry& e : offered) EXPECT_EQ(e.release_id(), id);
    ++whole;
  }
  EXPECT_GT(whole, 120);
  EXPECT_GT(none, 120);

  // The config switch is not pushed on its own by WatchConfig: it would
  // activate before the page and module it belongs with.
  std::map<std::string, v1::InstalledModule> known;
  for (int i = 0; i < 50; ++i) {
    auto pushed = delivery_->ConfigChanges(MakeDevice(i).context, known);
    ASSERT_THAT(pushed, IsOk());
    EXPECT_TRUE(pushed->empty());
  }
  // A release of config alone is.
  Publish(v1::LAYER_CONFIG, "limits", "1", "{\"max\": 5}");
  v1::CreateReleaseRequest c = Request(v1::LAYER_CONFIG, "limits", "1");
  c.set_all_at_once(true);
  Create(c);
  auto pushed = delivery_->ConfigChanges(MakeDevice(1).context, known);
  ASSERT_THAT(pushed, IsOk());
  ASSERT_EQ(pushed->size(), 1u);
  EXPECT_EQ((*pushed)[0].module().name(), "limits");
}

TEST_F(ReleaseCoreTest, HaltStopsNewDevicesWhileInstalledOnesKeepIt) {
  Publish(v1::LAYER_HOTPATCH, "fix", "1", "patch v1");
  v1::CreateReleaseRequest r = Request(v1::LAYER_HOTPATCH, "fix", "1");
  AddStage(r, 5000, 3600, 0);
  AddStage(r, 10000, 3600, 0);
  const uint64_t id = Create(r);
  std::vector<SimDevice> have, not_yet;
  for (int i = 0; i < 200; ++i) {
    SimDevice d = MakeDevice(i);
    (CheckAndInstall(d).empty() ? not_yet : have).push_back(d);
  }
  ASSERT_FALSE(have.empty());
  v1::Release halted = Steer(id, v1::SteerReleaseRequest::HALT);
  EXPECT_EQ(halted.state(), v1::RELEASE_HALTED);
  // Promoting a halted release is refused with what to do instead.
  v1::SteerReleaseRequest promote;
  promote.set_app_id("wallet");
  promote.set_release_id(id);
  promote.set_action(v1::SteerReleaseRequest::PROMOTE);
  EXPECT_THAT(
      releases().Steer(who_, promote),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("resume")));
  // Fresh devices in the treatment buckets no longer get it.
  for (int i = 0; i < 200; ++i) {
    SimDevice fresh = MakeDevice(i);
    EXPECT_TRUE(CheckAndInstall(fresh).empty());
  }
  // Devices that have it are not told to change.
  for (SimDevice& d : have) EXPECT_TRUE(CheckAndInstall(d).empty());
  bool audited = false;
  for (const v1::AuditEntry& e : Audit()) {
    audited |= e.action() == "release.halt" &&
               e.detail().find(StrCat("release_id=", id)) == 0;
  }
  EXPECT_TRUE(audited);
}

TEST_F(ReleaseCoreTest, RollBackPutsTheLastGoodContentBackWithAHigherCounter) {
  Publish(v1::LAYER_HOTPATCH, "fix", "1", "good patch");
  Publish(v1::LAYER_HOTPATCH, "fix", "2", "bad patch");
  v1::CreateReleaseRequest good = Request(v1::LAYER_HOTPATCH, "fix", "1");
  good.set_all_at_once(true);
  Create(good);
  SimDevice d = MakeDevice(7);
  ASSERT_EQ(CheckAndInstall(d).size(), 1u);
  const uint64_t bad = Create([&] {
    auto r = Request(v1::LAYER_HOTPATCH, "fix", "2");
    r.set_all_at_once(true);
    return r;
  }());
  ASSERT_EQ(CheckAndInstall(d).size(), 1u);
  const uint64_t bad_sequence = d.installed.begin()->second.release_sequence();

  v1::SteerReleaseRequest req;
  req.set_app_id("wallet");
  req.set_release_id(bad);
  req.set_action(v1::SteerReleaseRequest::ROLL_BACK);
  req.set_reason("crashes on launch");
  auto rb = releases().Steer(who_, req);
  ASSERT_THAT(rb, IsOk());
  EXPECT_EQ(rb->release().state(), v1::RELEASE_ROLLED_BACK);
  EXPECT_EQ(rb->release().rolled_back_by_release_id(),
            rb->rollback().release_id());
  EXPECT_EQ(rb->rollback().rolls_back_release_id(), bad);
  EXPECT_EQ(rb->rollback().version(), "1");

  const std::vector<v1::UpdateEntry> back = CheckAndInstall(d);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].statement().version(), "1");
  EXPECT_GT(back[0].release_sequence(), bad_sequence);
  // A device that never had it sees the good version too.
  SimDevice fresh = MakeDevice(8);
  auto offered = CheckAndInstall(fresh);
  ASSERT_EQ(offered.size(), 1u);
  EXPECT_EQ(offered[0].statement().version(), "1");
  // Rolling back twice is refused.
  EXPECT_THAT(releases().Steer(who_, req),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  // Rolling back the roll back is refused, naming what it is.
  req.set_release_id(rb->rollback().release_id());
  EXPECT_THAT(releases().Steer(who_, req),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("itself the roll back of release")));
}

// The issue's simulated fleet: 1,000 devices launching about every 20
// minutes on a simulated clock; 1% of launches crash anyway. A release
// whose artifact crashes 30% of launches halts itself at its first stage;
// a healthy one is promoted stage by stage to completion.
class ServerFleetTest : public ReleaseCoreTest {
 protected:
  // Runs the fleet until the release leaves `rolling` or `steps` pass;
  // returns the audit actions of the gates.
  std::vector<std::string> Run(uint64_t id, double crash_rate, int steps,
                               int* devices_with_release) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<SimDevice> fleet;
    for (int i = 0; i < 1000; ++i) fleet.push_back(MakeDevice(i));
    std::vector<std::string> actions;
    for (int step = 0; step < steps; ++step) {
      const uint32_t exposure = Status(id).exposure_bp();
      for (SimDevice& d : fleet) {
        CheckAndInstall(d);
        const bool has = d.Releases().count(id) > 0;
        const rollout::Cohort cohort = rollout::CohortOf(
            rollout::BucketOf(StrCat("release-", id), d.context.user_id()),
            exposure);
        // Devices outside treatment and control tell the gates nothing.
        if (!has && cohort != rollout::Cohort::kControl) continue;
        ReportLaunch(d, u(rng) < (has ? crash_rate : 0.01));
      }
      clock_.Advance(absl::Minutes(20));
      auto changed = releases().Tick();
      EXPECT_THAT(changed, IsOk());
      const v1::ReleaseState state = Status(id).release().state();
      if (state != v1::RELEASE_ROLLING) break;
    }
    for (const v1::AuditEntry& e : Audit()) {
      if (e.actor() == "stratad") actions.push_back(e.action());
    }
    *devices_with_release = 0;
    for (const SimDevice& d : fleet) {
      *devices_with_release += d.Releases().count(id) > 0;
    }
    return actions;
  }

  v1::CreateReleaseRequest Plan(const std::string& version) {
    v1::CreateReleaseRequest r = Request(v1::LAYER_HOTPATCH, "fix", version);
    AddStage(r, 1000, 3600, 60);
    AddStage(r, 3000, 3600, 60);
    AddStage(r, 10000, 3600, 60);
    r.mutable_gates()->set_min_launches(80);
    return r;
  }
};

// Issue 22 item 3: a remedy is a release of the CONFIG module
// strata.remedies (docs/remedies.md), so it is staged and gated like any
// release: one whose devices' launches crash halts itself at its first
// stage.
TEST_F(ServerFleetTest, ARemedyReleaseHaltsItselfWhenItsLaunchesCrash) {
  Publish(v1::LAYER_CONFIG, "strata.remedies", "1", R"({"rules": []})");
  v1::CreateReleaseRequest r =
      Request(v1::LAYER_CONFIG, "strata.remedies", "1");
  AddStage(r, 1000, 3600, 60);
  AddStage(r, 10000, 3600, 60);
  r.mutable_gates()->set_min_launches(80);
  const uint64_t id = Create(r);
  int reached = 0;
  const std::vector<std::string> actions = Run(id, 0.3, 30, &reached);
  const v1::ReleaseStatus s = Status(id);
  EXPECT_EQ(s.release().state(), v1::RELEASE_HALTED);
  EXPECT_EQ(s.release().stage(), 0);
  EXPECT_EQ(actions, std::vector<std::string>{"release.auto_halt"});
  EXPECT_GT(reached, 50);
  EXPECT_LT(reached, 150);
}

TEST_F(ServerFleetTest, CrashingReleaseHaltsItselfAtItsFirstStage) {
  Publish(v1::LAYER_HOTPATCH, "fix", "2", "crashes on launch");
  const uint64_t id = Create(Plan("2"));
  int reached = 0;
  const std::vector<std::string> actions = Run(id, 0.3, 30, &reached);
  const v1::ReleaseStatus s = Status(id);
  EXPECT_EQ(s.release().state(), v1::RELEASE_HALTED);
  EXPECT_EQ(s.release().stage(), 0);
  EXPECT_EQ(actions, std::vector<std::string>{"release.auto_halt"});
  // Only the first stage's 10% was ever exposed.
  EXPECT_GT(reached, 50);
  EXPECT_LT(reached, 150);
  // The audit entry carries the figures that caused it.
  const v1::AuditEntry& halt = s.history(s.history_size() - 1);
  EXPECT_EQ(halt.actor(), "stratad");
  EXPECT_THAT(halt.detail(), HasSubstr("rule=crash_rate"));
  EXPECT_THAT(halt.detail(), HasSubstr("control_crash_rate="));
  EXPECT_GT(s.treatment().launch_crashes(), 0u);
  EXPECT_GT(s.control().launches_ok(), 0u);
  // No device gets it any more.
  SimDevice fresh = MakeDevice(5000);
  EXPECT_TRUE(CheckAndInstall(fresh).empty());
}

TEST_F(ServerFleetTest, HealthyReleaseIsPromotedToCompletion) {
  Publish(v1::LAYER_HOTPATCH, "fix", "3", "a good fix");
  const uint64_t id = Create(Plan("3"));
  int reached = 0;
  const std::vector<std::string> actions = Run(id, 0.01, 40, &reached);
  const v1::ReleaseStatus s = Status(id);
  EXPECT_EQ(s.release().state(), v1::RELEASE_COMPLETED);
  EXPECT_EQ(actions, (std::vector<std::string>{"release.auto_promote",
                                               "release.auto_promote",
                                               "release.auto_promote"}));
  EXPECT_GT(reached, 950);
  EXPECT_FALSE(s.adoption().empty());
  EXPECT_GT(s.adoption(s.adoption_size() - 1).exposure_bp(),
            s.adoption(0).exposure_bp());
}

TEST_F(ReleaseCoreTest, HealthIsRebuiltFromStoredReportsAfterARestart) {
  Publish(v1::LAYER_H5, "mall", "1", "h5");
  v1::CreateReleaseRequest r = Request(v1::LAYER_H5, "mall", "1");
  AddStage(r, 10000, 3600, 0);
  const uint64_t id = Create(r);
  for (int i = 0; i < 10; ++i) {
    SimDevice d = MakeDevice(i);
    CheckAndInstall(d);
    ReportActivated(d, id);
    ReportLaunch(d, i < 3);
  }
  const v1::ReleaseStatus before = Status(id);
  EXPECT_EQ(before.treatment().launch_crashes(), 3u);
  EXPECT_EQ(before.treatment().launches_ok(), 7u);
  EXPECT_EQ(before.treatment().activated(), 10u);
  Reopen();
  ASSERT_THAT(releases().LoadHealth(), IsOk());
  const v1::ReleaseStatus after = Status(id);
  EXPECT_EQ(after.treatment().launch_crashes(), 3u);
  EXPECT_EQ(after.treatment().launches_ok(), 7u);
  EXPECT_EQ(after.treatment().activated(), 10u);
}

TEST_F(ReleaseCoreTest, DeviceCountsAreTheSameAfterARestart) {
  Publish(v1::LAYER_H5, "mall", "1", "h5");
  v1::CreateReleaseRequest r = Request(v1::LAYER_H5, "mall", "1");
  AddStage(r, 3000, 3600, 0);
  AddStage(r, 10000, 3600, 0);
  const uint64_t id = Create(r);
  std::vector<SimDevice> fleet;
  for (int i = 0; i < 200; ++i) fleet.push_back(MakeDevice(i));
  // Every device launches five times; a few crash many times; then the
  // release moves on and they launch again in the next stage.
  for (int stage = 0; stage < 2; ++stage) {
    for (SimDevice& d : fleet) {
      CheckAndInstall(d);
      for (int n = 0; n < 5; ++n) {
        ReportLaunch(d, d.context.device_id() < "device-13" && n > 2);
      }
      if (d.Releases().count(id) > 0) ReportActivated(d, id);
    }
    if (stage == 0) Steer(id, v1::SteerReleaseRequest::PROMOTE);
  }
  const v1::ReleaseStatus before = Status(id);
  ASSERT_GT(before.treatment().launch_crashes(), 0u);
  ASSERT_GT(before.control().launches_ok(), 0u);
  // Devices, not events: at most one launch outcome per device per stage.
  EXPECT_LE(
      before.treatment().launches_ok() + before.treatment().launch_crashes(),
      2u * fleet.size());
  EXPECT_LE(before.treatment_stage().launches_ok() +
                before.treatment_stage().launch_crashes(),
            fleet.size());
  Reopen();
  ASSERT_THAT(releases().LoadHealth(), IsOk());
  const v1::ReleaseStatus after = Status(id);
  EXPECT_EQ(after.treatment().DebugString(), before.treatment().DebugString());
  EXPECT_EQ(after.control().DebugString(), before.control().DebugString());
  EXPECT_EQ(after.treatment_stage().DebugString(),
            before.treatment_stage().DebugString());
}

// Health across restarts comes from the stored aggregates (issue 16):
// figures made over several hours come back the same, and a device that
// counted before a restart does not count again after it.
class HealthAggregatesTest : public ReleaseCoreTest {
 protected:
  void SetUp() override {
    ReleaseCoreTest::SetUp();
    Publish(v1::LAYER_H5, "mall", "1", "h5");
    v1::CreateReleaseRequest r = Request(v1::LAYER_H5, "mall", "1");
    AddStage(r, 10000, 3600, 0);
    id_ = Create(r);
    for (int i = 0; i < 10; ++i) fleet_.push_back(MakeDevice(i));
    // Hour 1: devices 0-4 launch well. Hour 2: 0-2 crash (they move from
    // launches_ok to launch_crashes), 5-9 launch well and activate.
    for (int i = 0; i < 5; ++i) {
      CheckAndInstall(fleet_[i]);
      ReportLaunch(fleet_[i], false);
    }
    clock_.Advance(absl::Minutes(90));
    for (int i = 0; i < 10; ++i) {
      if (i >= 5) CheckAndInstall(fleet_[i]);
      ReportLaunch(fleet_[i], i < 3);
      if (i >= 5) ReportActivated(fleet_[i], id_);
    }
  }

  std::string Figures() {
    const v1::ReleaseStatus s = Status(id_);
    return StrCat(s.treatment().DebugString(), "|",
                  s.treatment_stage().DebugString(), "|",
                  s.control().DebugString());
  }

  // Reports one more launch of device `i`; returns how many of its events
  // came from a device that already counted.
  uint32_t LaunchAgain(int i, bool crashed) {
    ReportStats stats;
    ReportLaunch(fleet_[static_cast<size_t>(i)], crashed, &stats);
    return stats.repeated;
  }

  uint64_t id_ = 0;
  std::vector<SimDevice> fleet_;
};

TEST_F(HealthAggregatesTest, RestartKeepsFiguresAndDevicesCountOnce) {
  const v1::ReleaseStatus before = Status(id_);
  ASSERT_EQ(before.treatment().launch_crashes(), 3u);
  ASSERT_EQ(before.treatment().launches_ok(), 7u);
  ASSERT_EQ(before.treatment().activated(), 5u);
  const std::string figures = Figures();
  Reopen();
  ASSERT_THAT(releases().LoadHealth(), IsOk());
  EXPECT_EQ(Figures(), figures);
  // Every device sends what it sent before: nothing moves.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(LaunchAgain(i, i < 3), 1u) << i;
  EXPECT_EQ(Figures(), figures);
  // A device that launched well before the restart now crashes: it moves.
  EXPECT_EQ(LaunchAgain(7, true), 0u);
  const v1::ReleaseStatus after = Status(id_);
  EXPECT_EQ(after.treatment().launch_crashes(), 4u);
  EXPECT_EQ(after.treatment().launches_ok(), 6u);
  const std::string moved = Figures();
  Reopen();
  ASSERT_THAT(releases().LoadHealth(), IsOk());
  EXPECT_EQ(Figures(), moved);
  EXPECT_EQ(LaunchAgain(7, true), 1u);
  EXPECT_EQ(Figures(), moved);
}

TEST_F(HealthAggregatesTest, DataDirectoryWithoutAggregatesIsRebuiltOnce) {
  const std::string figures = Figures();
  // What an earlier version left: the reports, no aggregates and no marks.
  ASSERT_THAT(store_->BeginHealthRebuild(), IsOk());
  Reopen();
  absl::StatusOr<bool> built = store_->HealthAggregatesBuilt();
  ASSERT_THAT(built, IsOk());
  EXPECT_FALSE(*built);
  ASSERT_THAT(releases().LoadHealth(), IsOk());
  EXPECT_EQ(Figures(), figures);
  built = store_->HealthAggregatesBuilt();
  ASSERT_THAT(built, IsOk());
  EXPECT_TRUE(*built);
  // The rebuilt marks hold: the same events count for nothing new.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(LaunchAgain(i, i < 3), 1u) << i;
  EXPECT_EQ(Figures(), figures);
  // The next start reads the aggregates, not the reports: with every
  // report pruned the figures stay.
  clock_.Advance(DeliveryOptions().report_retention + absl::Hours(1));
  absl::StatusOr<std::pair<uint64_t, uint64_t>> pruned =
      delivery_->PruneReports();
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->first, 30u);
  Reopen();
  ASSERT_THAT(releases().LoadHealth(), IsOk());
  EXPECT_EQ(Figures(), figures);
}

TEST_F(HealthAggregatesTest, PruningReportsKeepsFigures) {
  const std::string figures = Figures();
  clock_.Advance(DeliveryOptions().report_retention + absl::Hours(1));
  absl::StatusOr<std::pair<uint64_t, uint64_t>> pruned =
      delivery_->PruneReports();
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->first, 20u);
  EXPECT_EQ(Figures(), figures);
  Reopen();
  ASSERT_THAT(releases().LoadHealth(), IsOk());
  EXPECT_EQ(Figures(), figures);
  absl::StatusOr<std::vector<v1::StoredReport>> left =
      store_->ListReports("wallet", 100);
  ASSERT_THAT(left, IsOk());
  EXPECT_TRUE(left->empty());
}

TEST_F(ReleaseCoreTest, PreviewCountsRecentDevicesAndExplainSaysWhy) {
  v1::Segment seg;
  seg.set_app_id("wallet");
  seg.set_name("android");
  seg.set_expression("os == \"android\"");
  seg.add_deny_user_ids("user-0");
  ASSERT_THAT(admin_->PutSegment(who_, seg), IsOk());
  Publish(v1::LAYER_H5, "mall", "1", "h5");
  for (int i = 0; i < 100; ++i) {
    SimDevice d = MakeDevice(i, i % 4 == 0 ? "ios" : "android");
    if (i == 0) d.context.set_os("android");
    CheckAndInstall(d);
  }
  v1::CreateReleaseRequest r = Request(v1::LAYER_H5, "mall", "1");
  r.set_segment("android");
  r.set_draft(true);
  const uint64_t id = Create(r);
  EXPECT_EQ(Status(id).release().state(), v1::RELEASE_DRAFT);

  v1::PreviewReleaseRequest p;
  p.set_app_id("wallet");
  p.set_release_id(id);
  auto preview = releases().Preview(who_, p);
  ASSERT_THAT(preview, IsOk());
  EXPECT_EQ(preview->devices(), 100u);
  EXPECT_EQ(preview->denied(), 1u);
  EXPECT_EQ(preview->matched(), 75u);
  EXPECT_EQ(preview->not_matched(), 24u);
  ASSERT_EQ(preview->stages_size(), 5);
  EXPECT_EQ(preview->stages(4).treatment(), 75u);
  EXPECT_EQ(preview->current().treatment(), 0u);  // a draft reaches nobody
  // No baseline crash rate: nothing sizes the first stage, and it says how.
  EXPECT_EQ(preview->devices_for_verdict(), 0u);
  EXPECT_THAT(preview->verdict(), HasSubstr("--gate baseline_crash_rate="));

  Steer(id, v1::SteerReleaseRequest::START);
  v1::ExplainDeviceRequest x;
  x.set_app_id("wallet");
  x.set_device_id("device-0");
  auto why = releases().Explain(who_, x);
  ASSERT_THAT(why, IsOk());
  ASSERT_EQ(why->releases_size(), 1);
  EXPECT_FALSE(why->releases(0).applies());
  EXPECT_THAT(::testing::PrintToString(why->releases(0).reasons()),
              HasSubstr("deny list"));
  x.set_device_id("nobody");
  EXPECT_THAT(releases().Explain(who_, x),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ReleaseCoreTest, DryRunPreviewChecksLikeCreateAndStoresNothing) {
  Publish(v1::LAYER_H5, "mall", "1", "h5");
  for (int i = 0; i < 40; ++i) {
    SimDevice d = MakeDevice(i, "android");
    CheckAndInstall(d);
  }
  v1::PreviewReleaseRequest p;
  p.set_app_id("wallet");
  *p.mutable_dry_run_of() = Request(v1::LAYER_H5, "mall", "1");
  p.mutable_dry_run_of()->mutable_gates()->set_baseline_crash_rate(0.005);
  auto preview = releases().Preview(who_, p);
  ASSERT_THAT(preview, IsOk());
  EXPECT_EQ(preview->release_id(), 0u);
  EXPECT_EQ(preview->devices(), 40u);
  // Started at once (not a draft): stage 1 (1%) is what it reaches now.
  EXPECT_EQ(preview->current().exposure_bp(), 100u);
  EXPECT_EQ(preview->devices_for_verdict(), 9034u);
  EXPECT_THAT(preview->verdict(), HasSubstr("needs 9034 launched"));
  auto listed = releases().List(who_, "wallet");
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());

  // Refused as create refuses: the role, what is not published, a live
  // release of the same module on the same segment; and id plus spec.
  const Principal viewer{"v", v1::ROLE_VIEWER, "wallet"};
  EXPECT_THAT(releases().Preview(viewer, p),
              StatusIs(absl::StatusCode::kPermissionDenied));
  v1::PreviewReleaseRequest missing = p;
  missing.mutable_dry_run_of()->set_version("2");
  EXPECT_THAT(releases().Preview(who_, missing),
              StatusIs(absl::StatusCode::kNotFound));
  const uint64_t id = Create(Request(v1::LAYER_H5, "mall", "1"));
  EXPECT_THAT(releases().Preview(who_, p),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  p.set_release_id(id);
  EXPECT_THAT(releases().Preview(who_, p),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- Issue 14: segments in use, roll back reach and targets, overlaps,
// edits, messages and sources, the fleet view, explain.

class ReleaseEngineeringTest : public ReleaseCoreTest {
 protected:
  void PutSegment(const std::string& name, const std::string& expr,
                  bool force = false) {
    ASSERT_THAT(TryPutSegment(name, expr, force), IsOk());
  }
  absl::StatusOr<v1::Segment> TryPutSegment(const std::string& name,
                                            const std::string& expr,
                                            bool force = false) {
    v1::Segment seg;
    seg.set_app_id("wallet");
    seg.set_name(name);
    seg.set_expression(expr);
    seg.set_force(force);
    return admin_->PutSegment(who_, seg);
  }
  absl::StatusOr<v1::SteerReleaseResponse> RollBack(uint64_t id,
                                                    const std::string& to = "",
                                                    bool dry_run = false) {
    v1::SteerReleaseRequest req;
    req.set_app_id("wallet");
    req.set_release_id(id);
    req.set_action(v1::SteerReleaseRequest::ROLL_BACK);
    req.set_rollback_to(to);
    req.set_dry_run(dry_run);
    return releases().Steer(who_, req);
  }
  // 200 android devices, every other one in region CN-31.
  std::vector<SimDevice> Fleet() {
    std::vector<SimDevice> fleet;
    for (int i = 0; i < 200; ++i) {
      SimDevice d = MakeDevice(i);
      d.context.set_region(i % 2 == 0 ? "CN-31" : "CN-11");
      fleet.push_back(std::move(d));
    }
    return fleet;
  }
};

TEST_F(ReleaseEngineeringTest, RollBackReachesOnlyTheDevicesTheBadOneReached) {
  PutSegment("android", "os == \"android\"");
  Publish(v1::LAYER_H5, "mall", "1", "mall v1");
  Publish(v1::LAYER_H5, "mall", "2", "mall v2");
  auto good = Request(v1::LAYER_H5, "mall", "1");
  good.set_segment("android");
  good.set_all_at_once(true);
  Create(good);
  auto bad = Request(v1::LAYER_H5, "mall", "2");
  bad.set_segment("android");
  AddStage(bad, 1000, 3600, 0);  // 10% for an hour
  AddStage(bad, 10000, 0, 0);
  const uint64_t bad_id = Create(bad);
  std::vector<SimDevice> fleet = Fleet();
  std::set<std::string> had_bad;
  for (SimDevice& d : fleet) {
    CheckAndInstall(d);
    if (d.installed.begin()->second.version() == "2")
      had_bad.insert(d.context.device_id());
  }
  ASSERT_GT(had_bad.size(), 5u);
  ASSERT_LT(had_bad.size(), 50u);

  auto rb = RollBack(bad_id);
  ASSERT_THAT(rb, IsOk());
  EXPECT_EQ(rb->rollback().max_exposure_bp(), 1000u);
  EXPECT_EQ(rb->rollback().salt(), StrCat("release-", bad_id));
  EXPECT_EQ(rb->rollback().version(), "1");
  for (SimDevice& d : fleet) {
    const std::vector<v1::UpdateEntry> offered = CheckAndInstall(d);
    if (had_bad.count(d.context.device_id())) {
      ASSERT_EQ(offered.size(), 1u) << d.context.device_id();
      EXPECT_EQ(offered[0].statement().version(), "1");
    } else {
      EXPECT_TRUE(offered.empty()) << d.context.device_id();
    }
    EXPECT_EQ(d.installed.begin()->second.version(), "1");
  }
  // A device that checks in for the first time gets version 1 (from
  // release 1, or from the roll back in its buckets).
  SimDevice late = MakeDevice(999);
  ASSERT_EQ(CheckAndInstall(late).size(), 1u);
  EXPECT_EQ(late.installed.begin()->second.version(), "1");
}

TEST_F(ReleaseEngineeringTest,
       RollBackGoesToEmbeddedWhenNoEarlierReleaseCovers) {
  PutSegment("android", "os == \"android\"");
  PutSegment("android-sh", "os == \"android\" && region == \"CN-31\"");
  Publish(v1::LAYER_H5, "mall", "1", "mall v1");
  Publish(v1::LAYER_H5, "mall", "2", "mall v2");
  auto narrow = Request(v1::LAYER_H5, "mall", "1");
  narrow.set_segment("android-sh");
  narrow.set_all_at_once(true);
  Create(narrow);
  auto wide = Request(v1::LAYER_H5, "mall", "2");
  wide.set_segment("android");
  wide.set_all_at_once(true);
  const uint64_t bad_id = Create(wide);
  std::vector<SimDevice> fleet = Fleet();
  for (SimDevice& d : fleet) CheckAndInstall(d);

  auto plan = RollBack(bad_id, "", /*dry_run=*/true);
  ASSERT_THAT(plan, IsOk());
  ASSERT_EQ(plan->rollback_plan_size(), 1);
  EXPECT_TRUE(plan->rollback_plan(0).revert_to_embedded());
  EXPECT_EQ(plan->rollback_plan(0).version(), "embedded");
  EXPECT_EQ(plan->rollback_plan(0).size(), 0u);
  EXPECT_THAT(plan->rollback_plan(0).why(),
              HasSubstr("release 1 (segment android-sh) does not cover "
                        "segment android"));
  auto rb = RollBack(bad_id);
  ASSERT_THAT(rb, IsOk());
  EXPECT_TRUE(rb->rollback().artifacts(0).revert_to_embedded());
  // Every device that had version 2 (all of them) is told to run its
  // embedded version; none gets version 1 it never had.
  for (SimDevice& d : fleet) {
    const std::vector<v1::UpdateEntry> offered = CheckAndInstall(d);
    ASSERT_EQ(offered.size(), 1u);
    EXPECT_TRUE(offered[0].revert_to_embedded());
    EXPECT_EQ(offered[0].statement().version(), "embedded");
    EXPECT_EQ(offered[0].statement().size(), 0u);
    EXPECT_GT(offered[0].release_sequence(), 2u);
  }
  // Reverted devices report the embedded version: nothing more is offered.
  for (SimDevice& d : fleet) {
    d.installed.begin()->second.set_version("embedded");
    d.installed.begin()->second.set_release_sequence(0);
    EXPECT_TRUE(CheckAndInstall(d).empty());
  }
}

TEST_F(ReleaseEngineeringTest, FirstReleaseAndToEmbeddedRollBackToEmbedded) {
  Publish(v1::LAYER_NATIVE_BUNDLE, "core", "1", "bundle 1");
  Publish(v1::LAYER_NATIVE_BUNDLE, "core", "2", "bundle 2");
  auto first = Request(v1::LAYER_NATIVE_BUNDLE, "core", "1");
  first.set_all_at_once(true);
  const uint64_t id = Create(first);
  auto plan = RollBack(id, "", true);
  ASSERT_THAT(plan, IsOk());
  EXPECT_THAT(plan->rollback_plan(0).why(), HasSubstr("was the first of"));
  EXPECT_TRUE(plan->rollback_plan(0).revert_to_embedded());

  auto second = Request(v1::LAYER_NATIVE_BUNDLE, "core", "2");
  second.set_all_at_once(true);
  const uint64_t id2 = Create(second);
  SimDevice d = MakeDevice(1);
  ASSERT_EQ(CheckAndInstall(d).size(), 1u);
  SimDevice never = MakeDevice(2);  // runs its embedded version: nothing
  plan = RollBack(id2, "", true);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->rollback_plan(0).version(), "1");
  plan = RollBack(id2, "embedded", true);
  ASSERT_THAT(plan, IsOk());
  EXPECT_TRUE(plan->rollback_plan(0).revert_to_embedded());
  EXPECT_THAT(
      RollBack(id2, "yesterday"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("embedded")));
  ASSERT_THAT(RollBack(id2, "embedded"), IsOk());
  auto offered = CheckAndInstall(d);
  ASSERT_EQ(offered.size(), 1u);
  EXPECT_TRUE(offered[0].revert_to_embedded());
  EXPECT_TRUE(CheckAndInstall(never).empty());
}

TEST_F(ReleaseEngineeringTest,
       SecondRolloutOfAModuleOnTheSameSegmentIsRefused) {
  PutSegment("android", "os == \"android\"");
  Publish(v1::LAYER_H5, "mall", "1", "mall v1");
  Publish(v1::LAYER_H5, "mall", "2", "mall v2");
  auto one = Request(v1::LAYER_H5, "mall", "1");
  one.set_segment("android");
  const uint64_t first = Create(one);  // default plan: rolling at 1%
  auto two = Request(v1::LAYER_H5, "mall", "2");
  two.set_segment("android");
  EXPECT_THAT(releases().Create(who_, two),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(StrCat("release ", first,
                                        " is still rolling h5/mall@1"))));
  // Another segment is another set of devices: fine.
  auto elsewhere = Request(v1::LAYER_H5, "mall", "2");
  Create(elsewhere);
  // Asked for: created, and the audit entry says which it overlaps.
  two.set_allow_overlap(true);
  ASSERT_THAT(releases().Create(who_, two), IsOk());
  EXPECT_THAT(Audit().back().detail(), HasSubstr(StrCat("overlaps=", first)));
  // A halted release does not block the fix.
  Steer(first, v1::SteerReleaseRequest::HALT);
  two.set_allow_overlap(false);
  Publish(v1::LAYER_H5, "mall", "3", "mall v3");
  two.set_version("3");
  EXPECT_THAT(releases().Create(who_, two),
              StatusIs(absl::StatusCode::kFailedPrecondition));  // 2nd rolls
}

TEST_F(ReleaseEngineeringTest, EditChangesTheRestOfALiveReleaseAndIsAudited) {
  Publish(v1::LAYER_H5, "mall", "1", "mall v1");
  auto r = Request(v1::LAYER_H5, "mall", "1");
  AddStage(r, 100, 3600, 0);
  AddStage(r, 500, 3600, 0);
  AddStage(r, 10000, 0, 0);
  const uint64_t id = Create(r);
  Steer(id, v1::SteerReleaseRequest::PROMOTE);  // stage 2: 5%

  v1::EditReleaseRequest e;
  e.set_app_id("wallet");
  e.set_release_id(id);
  EXPECT_THAT(releases().Edit(who_, e),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("nothing to change")));
  v1::RolloutStage* s = e.add_remaining_stages();
  s->set_exposure_bp(200);
  e.add_remaining_stages()->set_exposure_bp(10000);
  EXPECT_THAT(releases().Edit(who_, e),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cannot start below 5%")));
  s->set_exposure_bp(2000);
  s->set_bake_seconds(600);
  e.mutable_gates()->set_max_crash_rate(0.01);
  e.set_message("sale week");
  e.set_reason("QA signed off");
  auto edited = releases().Edit(who_, e);
  ASSERT_THAT(edited, IsOk());
  ASSERT_EQ(edited->stages_size(), 3);
  EXPECT_EQ(edited->stages(0).exposure_bp(), 100u);  // done: kept
  EXPECT_EQ(edited->stages(1).exposure_bp(), 2000u);
  EXPECT_EQ(edited->stages(1).bake_seconds(), 600);
  EXPECT_EQ(edited->stage(), 1);
  EXPECT_DOUBLE_EQ(edited->gates().max_crash_rate(), 0.01);
  EXPECT_EQ(edited->message(), "sale week");
  EXPECT_EQ(Status(id).exposure_bp(), 2000u);  // the current stage grew
  const v1::AuditEntry last = Audit().back();
  EXPECT_EQ(last.action(), "release.edit");
  EXPECT_THAT(last.detail(), HasSubstr("plan=1%:3600s:0,5%:3600s:0,100%:0s:0 "
                                       "-> 1%:3600s:0,20%:600s:0,100%:0s:0"));
  EXPECT_THAT(last.detail(), HasSubstr("max_crash_rate: 0.01"));
  EXPECT_THAT(last.detail(), HasSubstr("message=\"\" -> \"sale week\""));
  EXPECT_THAT(last.detail(), HasSubstr("QA signed off"));
  // The history of the release shows the edit.
  EXPECT_EQ(Status(id).history().rbegin()->action(), "release.edit");

  // Not ending at 100%: refused with the library's words.
  v1::EditReleaseRequest bad = e;
  bad.clear_remaining_stages();
  bad.add_remaining_stages()->set_exposure_bp(5000);
  EXPECT_THAT(releases().Edit(who_, bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Completed: only the message can change.
  Steer(id, v1::SteerReleaseRequest::PROMOTE);
  Steer(id, v1::SteerReleaseRequest::PROMOTE);
  EXPECT_THAT(releases().Edit(who_, e),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("only its message")));
  v1::EditReleaseRequest note;
  note.set_app_id("wallet");
  note.set_release_id(id);
  note.set_message("shipped");
  ASSERT_THAT(releases().Edit(who_, note), IsOk());
  EXPECT_EQ(Status(id).release().message(), "shipped");
}

TEST_F(ReleaseEngineeringTest, MessageAndSourceAreKeptAndAudited) {
  Publish(v1::LAYER_CONFIG, "flags", "1", "{}");
  auto r = Request(v1::LAYER_CONFIG, "flags", "1");
  r.set_all_at_once(true);
  r.set_message("turn on the new checkout");
  r.set_source_commit("0123456789abcdef0123456789abcdef01234567");
  r.set_source_branch("release/10.4");
  const uint64_t id = Create(r);
  const v1::Release stored = Status(id).release();
  EXPECT_EQ(stored.message(), "turn on the new checkout");
  EXPECT_EQ(stored.source_branch(), "release/10.4");
  EXPECT_THAT(Audit().back().detail(),
              HasSubstr("source=0123456789abcdef0123456789abcdef01234567@"
                        "release/10.4 message=turn on the new checkout"));
  r.set_message("two\nlines");
  EXPECT_THAT(releases().Create(who_, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("control character")));
}

TEST_F(ReleaseEngineeringTest, SegmentInUseIsNotChangedOrDeletedWithoutForce) {
  PutSegment("android", "os == \"android\"");
  PutSegment("unused", "os == \"ios\"");
  Publish(v1::LAYER_H5, "mall", "1", "mall v1");
  auto r = Request(v1::LAYER_H5, "mall", "1");
  r.set_segment("android");
  r.set_all_at_once(true);
  const uint64_t id = Create(r);
  // The same rule again is fine; another one is refused, naming the release.
  PutSegment("android", "os == \"android\"");
  EXPECT_THAT(
      TryPutSegment("android", "os == \"ios\""),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr(StrCat("live releases ", id, " (completed)"))));
  v1::DeleteSegmentRequest del;
  del.set_app_id("wallet");
  del.set_name("android");
  EXPECT_THAT(admin_->DeleteSegment(who_, del),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(StrCat("live releases ", id))));
  // Forced: done, audited as such with the releases it retargets.
  PutSegment("android", "os == \"android\" && app_version >= \"10.0\"",
             /*force=*/true);
  EXPECT_EQ(Audit().back().action(), "segment.force_put");
  EXPECT_THAT(Audit().back().detail(),
              HasSubstr(StrCat("retargets releases ", id)));
  // An unused one is deleted; its history remains.
  del.set_name("unused");
  ASSERT_THAT(admin_->DeleteSegment(who_, del), IsOk());
  EXPECT_THAT(admin_->DeleteSegment(who_, del),
              StatusIs(absl::StatusCode::kNotFound));
  v1::GetSegmentHistoryRequest h;
  h.set_app_id("wallet");
  h.set_name("unused");
  auto history = admin_->SegmentHistory(who_, h);
  ASSERT_THAT(history, IsOk());
  ASSERT_EQ(history->entries_size(), 2);
  EXPECT_EQ(history->entries(0).action(), "segment.put");
  EXPECT_EQ(history->entries(1).action(), "segment.delete");
  h.set_name("android");
  history = admin_->SegmentHistory(who_, h);
  ASSERT_THAT(history, IsOk());
  EXPECT_EQ(history->entries_size(), 3);
  // Once a newer completed release for everyone replaces it, the segment
  // reaches nobody through it: it can go.
  Publish(v1::LAYER_H5, "mall", "2", "mall v2");
  auto all = Request(v1::LAYER_H5, "mall", "2");
  all.set_all_at_once(true);
  Create(all);
  del.set_name("android");
  EXPECT_THAT(admin_->DeleteSegment(who_, del), IsOk());
}

TEST_F(ReleaseEngineeringTest, FleetCountsVersionsWithTheirReleasesHealth) {
  Publish(v1::LAYER_H5, "mall", "1", "mall v1");
  Publish(v1::LAYER_H5, "mall", "2", "mall v2");
  auto one = Request(v1::LAYER_H5, "mall", "1");
  one.set_all_at_once(true);
  Create(one);
  std::vector<SimDevice> fleet;
  for (int i = 0; i < 10; ++i) fleet.push_back(MakeDevice(i));
  for (SimDevice& d : fleet) CheckAndInstall(d);
  auto two = Request(v1::LAYER_H5, "mall", "2");
  AddStage(two, 5000, 3600, 0);
  AddStage(two, 10000, 0, 0);
  const uint64_t id2 = Create(two);
  int on_two = 0;
  for (SimDevice& d : fleet) {
    CheckAndInstall(d);  // installs
    CheckAndInstall(d);  // reports what it runs now
    if (d.installed.begin()->second.version() == "2") {
      ++on_two;
      ReportLaunch(d, /*crashed=*/on_two == 1);
    }
  }
  ASSERT_GT(on_two, 1);
  v1::GetFleetRequest req;
  req.set_app_id("wallet");
  auto view = releases().Fleet(who_, req);
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->devices(), 10u);
  ASSERT_EQ(view->modules_size(), 1);
  const v1::FleetModule& m = view->modules(0);
  EXPECT_EQ(m.module().name(), "mall");
  EXPECT_EQ(m.devices(), 10u);
  uint64_t seen_two = 0, seen_one = 0;
  for (const v1::FleetVersion& v : m.versions()) {
    if (v.version() == "2") {
      seen_two = v.devices();
      EXPECT_EQ(v.release_id(), id2);
      EXPECT_EQ(v.launches_ok() + v.launch_crashes(),
                static_cast<uint64_t>(on_two));
      EXPECT_EQ(v.launch_crashes(), 1u);
    } else {
      seen_one = v.devices();
      EXPECT_EQ(v.release_id(), 1u);
    }
  }
  EXPECT_EQ(seen_two, static_cast<uint64_t>(on_two));
  EXPECT_EQ(seen_one + seen_two, 10u);
}

TEST_F(ReleaseEngineeringTest, ExplainSaysWhichReleaseWinsAndWhichClauseFails) {
  PutSegment("android", "os == \"android\"");
  PutSegment("sh", "os == \"android\" && region in [\"CN-31\"]");
  Publish(v1::LAYER_H5, "mall", "1", "mall v1");
  Publish(v1::LAYER_H5, "mall", "2", "mall v2");
  auto one = Request(v1::LAYER_H5, "mall", "1");
  one.set_segment("android");
  one.set_all_at_once(true);
  const uint64_t older = Create(one);
  auto two = Request(v1::LAYER_H5, "mall", "2");
  two.set_segment("sh");
  two.set_all_at_once(true);
  const uint64_t newer = Create(two);
  SimDevice sh = MakeDevice(1);
  sh.context.set_region("CN-31");
  SimDevice bj = MakeDevice(2);
  bj.context.set_region("CN-11");
  CheckAndInstall(sh);
  CheckAndInstall(bj);

  v1::ExplainDeviceRequest x;
  x.set_app_id("wallet");
  x.set_device_id("device-1");
  auto why = releases().Explain(who_, x);
  ASSERT_THAT(why, IsOk());
  ASSERT_EQ(why->releases_size(), 2);
  EXPECT_EQ(why->releases(0).release_id(), newer);
  EXPECT_THAT(why->releases(0).wins(), ::testing::ElementsAre("h5/mall"));
  EXPECT_THAT(why->releases(1).loses(),
              ::testing::ElementsAre(
                  StrCat("h5/mall: release ", newer, " wins (newer)")));
  EXPECT_EQ(why->releases(1).release_id(), older);

  x.set_device_id("device-2");
  why = releases().Explain(who_, x);
  ASSERT_THAT(why, IsOk());
  EXPECT_FALSE(why->releases(0).applies());
  EXPECT_THAT(::testing::PrintToString(why->releases(0).reasons()),
              HasSubstr("`region in [\\\"CN-31\\\"]` is false: region is "
                        "\\\"CN-11\\\""));
  EXPECT_THAT(why->releases(1).wins(), ::testing::ElementsAre("h5/mall"));
}

}  // namespace
}  // namespace strata::server
