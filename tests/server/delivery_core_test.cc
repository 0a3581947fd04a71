#include "strata/server/core/delivery_core.h"

#include <optional>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/bucketing.h"
#include "strata/server/core/admin_core.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::ConfigHeader;
using ::strata::testing::FakeRandom;
using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;

class DeliveryCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    admin_ = std::make_unique<AdminCore>(
        store_.get(), &clock_, AdminLimits{.require_signatures = false});
    delivery_ = std::make_unique<DeliveryCore>(
        store_.get(), &clock_, DeliveryOptions{.max_inline_bytes = 16}, nullptr,
        admin_->fleet());
    admin_->OnReleasesChanged(
        [this](const std::string& app) { delivery_->ReleasesChanged(app); });
  }
  void PublishAndRelease(const std::string& module, const std::string& version,
                         const std::string& content) {
    ASSERT_THAT(
        admin_->PublishBytes(testing::AdminPrincipal(),
                             ConfigHeader(module, version, content), content),
        IsOk());
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    r.mutable_module()->set_layer(v1::LAYER_CONFIG);
    r.mutable_module()->set_name(module);
    r.set_version(version);
    r.set_all_at_once(true);
    ASSERT_THAT(admin_->CreateRelease(testing::AdminPrincipal(), r), IsOk());
  }
  v1::CheckRequest Request() {
    v1::CheckRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id("d1");
    return req;
  }

  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AdminCore> admin_;
  std::unique_ptr<DeliveryCore> delivery_;
};

TEST_F(DeliveryCoreTest, OffersCurrentReleaseWithInlineSmallConfig) {
  PublishAndRelease("small", "1", "{\"t\":1}");
  PublishAndRelease("large", "1", "{\"a\":\"document over sixteen bytes\"}");
  STRATA_ASSERT_OK_AND_ASSIGN(auto resp, delivery_->Check(Request()));
  ASSERT_EQ(resp.plan().updates_size(), 2);
  std::map<std::string, v1::UpdateEntry> by_name;
  for (const auto& u : resp.plan().updates()) by_name[u.module().name()] = u;
  EXPECT_EQ(by_name["small"].inline_content(), "{\"t\":1}");
  EXPECT_TRUE(by_name["large"].inline_content().empty());
  EXPECT_EQ(by_name["large"].full().sha256(),
            Sha256::HexHash("{\"a\":\"document over sixteen bytes\"}"));
  EXPECT_EQ(resp.plan().issued_at_unix(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_GT(resp.plan().expires_at_unix(), resp.plan().issued_at_unix());
}

TEST_F(DeliveryCoreTest, UpToDateModulesAreNotOffered) {
  PublishAndRelease("m", "1", "{\"v\":1}");
  v1::CheckRequest req = Request();
  auto* installed = req.add_installed();
  installed->mutable_module()->set_layer(v1::LAYER_CONFIG);
  installed->mutable_module()->set_name("m");
  installed->set_content_sha256(Sha256::HexHash("{\"v\":1}"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto resp, delivery_->Check(req));
  EXPECT_EQ(resp.plan().updates_size(), 0);
  PublishAndRelease("m", "2", "{\"v\":2}");
  STRATA_ASSERT_OK_AND_ASSIGN(resp, delivery_->Check(req));
  ASSERT_EQ(resp.plan().updates_size(), 1);
  EXPECT_EQ(resp.plan().updates(0).statement().version(), "2");
  EXPECT_EQ(resp.plan().updates(0).release_sequence(), 2u);
}

TEST_F(DeliveryCoreTest, RefusesRequestsWithoutIdentity) {
  v1::CheckRequest req = Request();
  req.mutable_device()->clear_device_id();
  EXPECT_THAT(delivery_->Check(req),
              StatusIs(absl::StatusCode::kInvalidArgument));
  req = Request();
  req.mutable_device()->set_app_id("bad app");
  EXPECT_THAT(delivery_->Check(req),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

v1::ReportEvent Event(v1::ReportEvent::Kind kind, const std::string& id,
                      uint64_t release_id = 0) {
  v1::ReportEvent e;
  e.set_kind(kind);
  e.set_event_id(id);
  if (kind == v1::ReportEvent::KIND_LAUNCH_OK ||
      kind == v1::ReportEvent::KIND_LAUNCH_CRASH) {
    if (release_id != 0) e.add_release_ids(release_id);
  } else {
    e.set_release_id(release_id);
  }
  return e;
}

TEST_F(DeliveryCoreTest, ReportsAreKeptInOrderAndBadOnesChangeNothing) {
  PublishAndRelease("flags", "1", "{}");  // wallet exists
  v1::ReportRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("d1");
  *req.add_events() = Event(v1::ReportEvent::KIND_LAUNCH_CRASH, "e1", 7);
  *req.add_events() = Event(v1::ReportEvent::KIND_REJECTED, "e2");
  req.mutable_events(1)->set_reason(v1::REJECT_BAD_SIGNATURE);
  STRATA_ASSERT_OK_AND_ASSIGN(auto resp, delivery_->Report(req));
  EXPECT_EQ(resp.accepted(), 2u);

  v1::ReportRequest bad = req;
  bad.add_events()->set_event_id("e3");  // no kind
  EXPECT_THAT(delivery_->Report(bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  bad = req;
  for (int i = 0; i < 1000; ++i) {
    *bad.add_events() =
        Event(v1::ReportEvent::KIND_LAUNCH_OK, StrCat("many-", i));
  }
  EXPECT_THAT(delivery_->Report(bad),
              StatusIs(absl::StatusCode::kResourceExhausted));

  STRATA_ASSERT_OK_AND_ASSIGN(auto stored, store_->ListReports("wallet", 100));
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].device_id(), "d1");
  ASSERT_EQ(stored[0].events_size(), 2);
  EXPECT_EQ(stored[0].events(1).reason(), v1::REJECT_BAD_SIGNATURE);
}

// Made-up app ids cannot fill the disk: an app this server does not have
// keeps no report; its events count for nothing, and a real app's do.
TEST_F(DeliveryCoreTest, ReportsForAnAppThisServerDoesNotHaveKeepNothing) {
  v1::ReportRequest req;
  req.mutable_device()->set_app_id("made-up");
  req.mutable_device()->set_device_id("d1");
  *req.add_events() = Event(v1::ReportEvent::KIND_LAUNCH_CRASH, "e1", 7);
  *req.add_events() = Event(v1::ReportEvent::KIND_LAUNCH_OK, "e2");
  ReportStats stats;
  STRATA_ASSERT_OK_AND_ASSIGN(auto resp, delivery_->Report(req, &stats));
  EXPECT_EQ(resp.accepted(), 0u);
  EXPECT_EQ(resp.not_counted(), 2u);
  EXPECT_EQ(stats.not_counted_reason, "unknown_app");
  STRATA_ASSERT_OK_AND_ASSIGN(auto stored, store_->ListReports("made-up", 100));
  EXPECT_TRUE(stored.empty());
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto have, store_->HaveReportEvents("made-up", "d1", {"e1", "e2"}));
  EXPECT_EQ(have, (std::vector<bool>{false, false}));

  // Once the app exists its reports are kept.
  PublishAndRelease("flags", "1", "{}");
  req.mutable_device()->set_app_id("wallet");
  STRATA_ASSERT_OK_AND_ASSIGN(resp, delivery_->Report(req));
  EXPECT_EQ(resp.accepted(), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(stored, store_->ListReports("wallet", 100));
  EXPECT_EQ(stored.size(), 1u);
}

TEST_F(DeliveryCoreTest, EveryEventNeedsAnIdOfSafeCharacters) {
  PublishAndRelease("flags", "1", "{}");  // wallet exists
  for (const std::string& id :
       {std::string(), std::string(65, 'a'), std::string("a b"),
        std::string("a/b"), std::string("\xc3\xa9"), std::string("a\n")}) {
    v1::ReportRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id("d1");
    *req.add_events() = Event(v1::ReportEvent::KIND_LAUNCH_OK, "good-1");
    *req.add_events() = Event(v1::ReportEvent::KIND_LAUNCH_OK, id);
    EXPECT_THAT(delivery_->Report(req),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::HasSubstr("report event 1 has event_id")))
        << "'" << id << "'";
  }
  STRATA_ASSERT_OK_AND_ASSIGN(auto stored, store_->ListReports("wallet", 100));
  EXPECT_TRUE(stored.empty()) << "a refused report stores nothing";
  v1::ReportRequest req;
  req.mutable_device()->set_app_id("wallet");
  req.mutable_device()->set_device_id("d1");
  *req.add_events() = Event(v1::ReportEvent::KIND_LAUNCH_OK,
                            "Az09_-" + std::string(58, 'x'));  // 64
  STRATA_ASSERT_OK_AND_ASSIGN(auto resp, delivery_->Report(req));
  EXPECT_EQ(resp.accepted(), 1u);
}

// A rolling H5 release at 20%: devices in buckets [0, 2000) are its
// treatment, [8000, 10000) its control, the rest outside.
class TicketedReportTest : public DeliveryCoreTest {
 protected:
  void SetUp() override {
    DeliveryCoreTest::SetUp();
    v1::PublishHeader h = ConfigHeader("mall", "1", "h5 page");
    h.mutable_statement()->mutable_module()->set_layer(v1::LAYER_H5);
    ASSERT_THAT(admin_->PublishBytes(testing::AdminPrincipal(), h, "h5 page"),
                IsOk());
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    r.mutable_module()->set_layer(v1::LAYER_H5);
    r.mutable_module()->set_name("mall");
    r.set_version("1");
    for (uint32_t bp : {2000u, 10000u}) {
      v1::RolloutStage* s = r.add_stages();
      s->set_exposure_bp(bp);
      s->set_bake_seconds(3600);
    }
    STRATA_ASSERT_OK_AND_ASSIGN(
        v1::Release release,
        admin_->releases().Create(testing::AdminPrincipal(), r));
    id_ = release.release_id();
    // One device of each cohort.
    for (int i = 0; !treatment_ || !control_ || !outside_; ++i) {
      const v1::DeviceContext d = Device(StrCat("device-", i));
      const rollout::Cohort c = rollout::CohortOf(
          rollout::BucketOf(StrCat("release-", id_), d.user_id()), 2000);
      std::optional<v1::DeviceContext>& slot =
          c == rollout::Cohort::kTreatment ? treatment_
          : c == rollout::Cohort::kControl ? control_
                                           : outside_;
      if (!slot) slot = d;
    }
  }
  static v1::DeviceContext Device(const std::string& id) {
    v1::DeviceContext d;
    d.set_app_id("wallet");
    d.set_device_id(id);
    d.set_user_id(StrCat("user-of-", id));
    return d;
  }
  // The device's Check; returns its plan's ticket.
  std::string Ticket(const v1::DeviceContext& d) {
    v1::CheckRequest req;
    *req.mutable_device() = d;
    absl::StatusOr<v1::CheckResponse> resp = delivery_->Check(req);
    EXPECT_THAT(resp, IsOk());
    return resp.ok() ? resp->plan().report_ticket() : "";
  }
  // A report of `n` launches (crashed or not) that ran the release.
  v1::ReportRequest Launches(const v1::DeviceContext& d,
                             const std::string& ticket, int n, bool crashed,
                             const std::string& prefix = "launch") {
    v1::ReportRequest req;
    *req.mutable_device() = d;
    req.set_ticket(ticket);
    for (int i = 0; i < n; ++i) {
      *req.add_events() = Event(crashed ? v1::ReportEvent::KIND_LAUNCH_CRASH
                                        : v1::ReportEvent::KIND_LAUNCH_OK,
                                StrCat(prefix, "-", i), id_);
    }
    return req;
  }
  v1::ReportResponse Send(const v1::ReportRequest& req,
                          ReportStats* stats = nullptr) {
    absl::StatusOr<v1::ReportResponse> resp = delivery_->Report(req, stats);
    EXPECT_THAT(resp, IsOk());
    return resp.ok() ? *resp : v1::ReportResponse();
  }
  rollout::ReleaseHealth Health() { return admin_->fleet()->health().Get(id_); }
  size_t StoredEvents() {
    absl::StatusOr<std::vector<v1::StoredReport>> all =
        store_->ListReports("wallet", 100000);
    EXPECT_THAT(all, IsOk());
    size_t n = 0;
    for (const auto& r : *all) n += static_cast<size_t>(r.events_size());
    return n;
  }

  uint64_t id_ = 0;
  std::optional<v1::DeviceContext> treatment_, control_, outside_;
};

TEST_F(TicketedReportTest, TheTicketNamesTheDeviceAndItsCohorts) {
  const std::string bytes = Ticket(*treatment_);
  v1::SignedReportTicket signed_ticket;
  ASSERT_TRUE(signed_ticket.ParseFromString(bytes));
  EXPECT_EQ(signed_ticket.key_id(), ReportTickets::kKeyId);
  EXPECT_EQ(signed_ticket.mac().size(), 32u);
  v1::ReportTicket t;
  ASSERT_TRUE(t.ParseFromString(signed_ticket.body()));
  EXPECT_EQ(t.app_id(), "wallet");
  EXPECT_EQ(t.device_id(), treatment_->device_id());
  EXPECT_EQ(t.issued_at_unix(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(t.expires_at_unix(),
            absl::ToUnixSeconds(clock_.Now() + absl::Hours(24)));
  ASSERT_EQ(t.releases_size(), 1);
  EXPECT_EQ(t.releases(0).release_id(), id_);
  EXPECT_EQ(t.releases(0).cohort(),
            static_cast<int>(rollout::Cohort::kTreatment));

  ASSERT_TRUE(signed_ticket.ParseFromString(Ticket(*control_)));
  ASSERT_TRUE(t.ParseFromString(signed_ticket.body()));
  ASSERT_EQ(t.releases_size(), 1);
  EXPECT_EQ(t.releases(0).cohort(),
            static_cast<int>(rollout::Cohort::kControl));

  ASSERT_TRUE(signed_ticket.ParseFromString(Ticket(*outside_)));
  ASSERT_TRUE(t.ParseFromString(signed_ticket.body()));
  EXPECT_EQ(t.releases_size(), 0) << "outside both cohorts: counts for none";
}

TEST_F(TicketedReportTest, TicketedLaunchesCountAsTreatmentAndControl) {
  ReportStats stats;
  v1::ReportResponse r =
      Send(Launches(*treatment_, Ticket(*treatment_), 1, true), &stats);
  EXPECT_EQ(r.accepted(), 1u);
  EXPECT_EQ(r.not_counted(), 0u);
  EXPECT_TRUE(stats.not_counted_reason.empty());
  // The control device's launch did not run the release.
  v1::ReportRequest c = Launches(*control_, Ticket(*control_), 1, false);
  c.mutable_events(0)->clear_release_ids();
  r = Send(c);
  EXPECT_EQ(r.not_counted(), 0u);
  const rollout::ReleaseHealth h = Health();
  EXPECT_EQ(h.treatment.launch_crashes, 1u);
  EXPECT_EQ(h.control.launches_ok, 1u);
}

TEST_F(TicketedReportTest,
       ReportsWithoutAValidTicketAreKeptButCountForNothing) {
  const std::string good = Ticket(*treatment_);
  v1::SignedReportTicket forged;
  ASSERT_TRUE(forged.ParseFromString(good));
  // A forged MAC, a ticket signed with another key, a body edited to name
  // another device, bytes that are no ticket.
  std::string flipped = forged.mac();
  flipped[0] = static_cast<char>(flipped[0] ^ 1);
  v1::SignedReportTicket bad_mac = forged;
  bad_mac.set_mac(flipped);
  v1::ReportTicket body;
  ASSERT_TRUE(body.ParseFromString(forged.body()));
  const std::string other_key = ReportTickets(std::string(32, 'k')).Sign(body);
  body.set_device_id(outside_->device_id());
  v1::SignedReportTicket edited = forged;
  edited.set_body(body.SerializeAsString());
  v1::SignedReportTicket unknown_key = forged;
  unknown_key.set_key_id(9);

  struct Case {
    std::string name;
    v1::DeviceContext device;
    std::string ticket;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"none", *treatment_, "", "no_ticket"},
      {"bad mac", *treatment_, bad_mac.SerializeAsString(), "bad_ticket"},
      {"other key", *treatment_, other_key, "bad_ticket"},
      {"unknown key id", *treatment_, unknown_key.SerializeAsString(),
       "bad_ticket"},
      {"edited body", *outside_, edited.SerializeAsString(), "bad_ticket"},
      {"garbage", *treatment_, "\x0a\xff\xff garbage", "bad_ticket"},
      {"another device's", *outside_, good, "wrong_device"},
      {"another app's",  // one this server has (see the publish below)
       [&] {
         v1::DeviceContext d = *treatment_;
         d.set_app_id("other");
         return d;
       }(),
       good, "bad_ticket"},
  };
  {
    v1::PublishHeader h = ConfigHeader("flags", "1", "{}");
    h.mutable_statement()->set_app_id("other");
    ASSERT_THAT(admin_->PublishBytes(testing::AdminPrincipal(), h, "{}"),
                IsOk());
  }
  int n = 0;
  for (const Case& c : cases) {
    ReportStats stats;
    v1::ReportResponse r = Send(
        Launches(c.device, c.ticket, 20, true, StrCat("case", n++)), &stats);
    EXPECT_EQ(r.accepted(), 20u) << c.name;
    EXPECT_EQ(r.not_counted(), 20u) << c.name;
    EXPECT_EQ(stats.not_counted_reason, c.reason) << c.name;
  }
  // Expired: the plan's lifetime is over.
  clock_.Advance(absl::Hours(24));
  ReportStats stats;
  v1::ReportResponse r =
      Send(Launches(*treatment_, good, 20, true, "late"), &stats);
  EXPECT_EQ(r.not_counted(), 20u);
  EXPECT_EQ(stats.not_counted_reason, "expired_ticket");
  // All kept, none counted.
  // (one case went to app "other")
  EXPECT_EQ(StoredEvents(), 20u * cases.size());
  EXPECT_EQ(Health().treatment.reports(), 0u);
  EXPECT_EQ(Health().control.reports(), 0u);
}

TEST_F(TicketedReportTest, EventsForReleasesTheTicketDoesNotNameDoNotCount) {
  // A device outside both cohorts claims to run the release and crash.
  ReportStats stats;
  v1::ReportResponse r =
      Send(Launches(*outside_, Ticket(*outside_), 10, true), &stats);
  EXPECT_EQ(r.not_counted(), 10u);
  EXPECT_EQ(stats.not_counted_reason, "not_offered");
  // A control device claims to run it: not treatment, and a launch that
  // ran it is no baseline either.
  r = Send(Launches(*control_, Ticket(*control_), 10, true), &stats);
  EXPECT_EQ(r.not_counted(), 10u);
  // A treatment device's event about another release, or about none.
  v1::ReportRequest other = Launches(*treatment_, Ticket(*treatment_), 0, true);
  *other.add_events() = Event(v1::ReportEvent::KIND_APPLY_FAILED, "x1", 999);
  *other.add_events() = Event(v1::ReportEvent::KIND_ROLLED_BACK, "x2", 0);
  r = Send(other, &stats);
  EXPECT_EQ(r.not_counted(), 2u);
  EXPECT_EQ(stats.not_counted_reason, "not_offered");
  EXPECT_EQ(Health().treatment.reports(), 0u);
  EXPECT_EQ(Health().control.reports(), 0u);
}

TEST_F(TicketedReportTest, AReplayedBatchChangesNothing) {
  const v1::ReportRequest batch =
      Launches(*treatment_, Ticket(*treatment_), 5, true);
  v1::ReportResponse r = Send(batch);
  EXPECT_EQ(r.accepted(), 5u);
  EXPECT_EQ(r.duplicates(), 0u);
  const rollout::ReleaseHealth before = Health();
  for (int i = 0; i < 3; ++i) {
    r = Send(batch);
    EXPECT_EQ(r.accepted(), 0u);
    EXPECT_EQ(r.duplicates(), 5u);
    EXPECT_EQ(r.not_counted(), 0u);
  }
  // A batch mixing old and new ids keeps only the new, and ids repeated
  // inside one batch count once.
  v1::ReportRequest mixed = batch;
  *mixed.add_events() = Event(v1::ReportEvent::KIND_LAUNCH_OK, "new-1", id_);
  *mixed.add_events() = Event(v1::ReportEvent::KIND_LAUNCH_OK, "new-1", id_);
  r = Send(mixed);
  EXPECT_EQ(r.accepted(), 1u);
  EXPECT_EQ(r.duplicates(), 6u);
  EXPECT_EQ(StoredEvents(), 6u);
  EXPECT_EQ(Health().treatment.launch_crashes, before.treatment.launch_crashes);
  // The same ids from another device are that device's own events.
  r = Send(Launches(*control_, Ticket(*control_), 5, true));
  EXPECT_EQ(r.accepted(), 5u);
}

TEST_F(TicketedReportTest, AThousandEventsFromOneDeviceCountAsOneDevice) {
  ReportStats stats;
  v1::ReportResponse r =
      Send(Launches(*treatment_, Ticket(*treatment_), 1000, true), &stats);
  EXPECT_EQ(r.accepted(), 1000u);
  EXPECT_EQ(r.not_counted(), 0u);
  EXPECT_EQ(stats.repeated, 999u);
  r = Send(Launches(*treatment_, Ticket(*treatment_), 1000, false, "ok"),
           &stats);
  EXPECT_EQ(stats.repeated, 1000u) << "it already counts as a crashed device";
  const rollout::ReleaseHealth h = Health();
  EXPECT_EQ(h.treatment.launch_crashes, 1u);
  EXPECT_EQ(h.treatment.launches(), 1u);
}

TEST_F(TicketedReportTest, ConcurrentCopiesOfABatchAreKeptOnce) {
  const v1::ReportRequest batch =
      Launches(*treatment_, Ticket(*treatment_), 50, true);
  constexpr int kThreads = 8;
  std::vector<v1::ReportResponse> responses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<v1::ReportResponse> r = delivery_->Report(batch);
      if (r.ok()) responses[static_cast<size_t>(t)] = *r;
    });
  }
  for (std::thread& t : threads) t.join();
  uint32_t accepted = 0, duplicates = 0;
  for (const v1::ReportResponse& r : responses) {
    accepted += r.accepted();
    duplicates += r.duplicates();
  }
  EXPECT_EQ(accepted, 50u);
  EXPECT_EQ(duplicates, 50u * (kThreads - 1));
  EXPECT_EQ(StoredEvents(), 50u);
}

TEST_F(TicketedReportTest, RetentionPrunesOldReportsAndTheirIds) {
  const v1::ReportRequest old_batch =
      Launches(*treatment_, Ticket(*treatment_), 3, false, "old");
  EXPECT_EQ(Send(old_batch).accepted(), 3u);
  clock_.Advance(absl::Hours(29 * 24));
  const v1::ReportRequest recent =
      Launches(*treatment_, Ticket(*treatment_), 2, false, "recent");
  EXPECT_EQ(Send(recent).accepted(), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto pruned, delivery_->PruneReports());
  EXPECT_EQ(pruned.first, 0u) << "nothing is 30 days old yet";
  clock_.Advance(absl::Hours(2 * 24));
  STRATA_ASSERT_OK_AND_ASSIGN(pruned, delivery_->PruneReports());
  EXPECT_EQ(pruned.first, 1u);
  EXPECT_EQ(pruned.second, 3u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto stored, store_->ListReports("wallet", 10));
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].events(0).event_id(), "recent-0");
  // The pruned ids are gone with their reports: the old batch is new again,
  // but its ticket expired long ago, so it counts for nothing; the recent
  // batch is still a duplicate.
  ReportStats stats;
  v1::ReportResponse r = Send(old_batch, &stats);
  EXPECT_EQ(r.accepted(), 3u);
  EXPECT_EQ(r.not_counted(), 3u);
  EXPECT_EQ(stats.not_counted_reason, "expired_ticket");
  EXPECT_EQ(Send(recent).duplicates(), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(pruned, delivery_->PruneReports());
  EXPECT_EQ(pruned.first, 0u);
}

TEST_F(TicketedReportTest, TicketsStayValidAcrossARestart) {
  const std::string ticket = Ticket(*treatment_);
  delivery_.reset();
  admin_.reset();
  store_.reset();
  STRATA_ASSERT_OK_AND_ASSIGN(store_, Store::Open(JoinPath(dir_.path(), "db")));
  admin_ = std::make_unique<AdminCore>(
      store_.get(), &clock_, AdminLimits{.require_signatures = false});
  FakeRandom other_randomness(99);
  delivery_ = std::make_unique<DeliveryCore>(
      store_.get(), &clock_,
      DeliveryOptions{.max_inline_bytes = 16, .random = &other_randomness},
      nullptr, admin_->fleet());
  // The key is the stored one, not one made from the new randomness.
  ReportStats stats;
  const v1::ReportRequest req = Launches(*treatment_, ticket, 1, true);
  const v1::ReportResponse r = Send(req, &stats);
  EXPECT_EQ(r.not_counted(), 0u) << stats.not_counted_reason;
}

TEST_F(TicketedReportTest, AnAttestationSeamDecidesWhichDevicesMaySpeak) {
  // A deployment with device attestation plugs its check in here; devices
  // it refuses still get their plan, but their reports count for nothing.
  delivery_ = std::make_unique<DeliveryCore>(
      store_.get(), &clock_,
      DeliveryOptions{.max_inline_bytes = 16,
                      .may_count_reports =
                          [](const v1::DeviceContext& d) {
                            return d.attributes().count("attested") > 0;
                          }},
      nullptr, admin_->fleet());
  v1::DeviceContext unattested = *treatment_;
  v1::CheckRequest check;
  *check.mutable_device() = unattested;
  STRATA_ASSERT_OK_AND_ASSIGN(v1::CheckResponse plan, delivery_->Check(check));
  EXPECT_EQ(plan.plan().updates_size(), 1) << "the plan does not change";
  ReportStats stats;
  v1::ReportResponse r =
      Send(Launches(unattested, plan.plan().report_ticket(), 1, true), &stats);
  EXPECT_EQ(r.not_counted(), 1u);
  EXPECT_EQ(stats.not_counted_reason, "not_offered");
  EXPECT_EQ(Health().treatment.launch_crashes, 0u);

  v1::DeviceContext attested = *treatment_;
  (*attested.mutable_attributes())["attested"] = "token";
  r = Send(Launches(attested, Ticket(attested), 1, true, "attested"), &stats);
  EXPECT_EQ(r.not_counted(), 0u) << stats.not_counted_reason;
  EXPECT_EQ(Health().treatment.launch_crashes, 1u);
}

}  // namespace
}  // namespace strata::server
