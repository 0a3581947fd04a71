// What replicas need from the PostgreSQL store beyond the store contract
// (tests/server/store_test.cc runs that on both back ends): two stores on
// one database, as two replicas hold them, against a real PostgreSQL
// server.
#include "strata/server/storage/postgres_store.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/proto/audit_chain.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::strata::testing::TempPostgres;
using ::strata::testing::WaitFor;

v1::AuditEntry Entry(const std::string& action) {
  v1::AuditEntry e;
  e.set_actor("test");
  e.set_action(action);
  e.set_app_id("wallet");
  return e;
}

v1::Segment Segment(const std::string& name) {
  v1::Segment s;
  s.set_app_id("wallet");
  s.set_name(name);
  return s;
}

// The changes a store's feed delivered.
class Feed {
 public:
  std::function<void(const StoreChange&)> Sink() {
    return [this](const StoreChange& c) {
      std::lock_guard<std::mutex> lock(mu_);
      got_.push_back(StrCat(c.kind, ":", c.app_id));
    };
  }
  std::vector<std::string> got() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  size_t size() { return got().size(); }

 private:
  std::mutex mu_;
  std::vector<std::string> got_;
};

class PostgresReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = TempPostgres::SkipReason(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    auto pg = TempPostgres::Start();
    ASSERT_THAT(pg, IsOk());
    pg_ = *std::move(pg);
    a_ = Open();
    b_ = Open();
  }
  std::unique_ptr<Store> Open() {
    PostgresStoreOptions options;
    options.feed_poll = absl::Milliseconds(200);
    auto store = OpenPostgresStore(pg_->Url(), options);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::unique_ptr<TempPostgres> pg_;
  std::unique_ptr<Store> a_, b_;
};

TEST_F(PostgresReplicasTest, FeedDeliversTheOtherStoresChangesInOrder) {
  Feed on_a, on_b;
  ASSERT_THAT(a_->StartChangeFeed(on_a.Sink()), IsOk());
  ASSERT_THAT(b_->StartChangeFeed(on_b.Sink()), IsOk());
  ASSERT_THAT(a_->PutSegment(Segment("beta"), Entry("segment.put")), IsOk());
  v1::Release r;
  r.set_app_id("wallet");
  r.mutable_module()->set_layer(v1::LAYER_CONFIG);
  r.mutable_module()->set_name("flags");
  r.set_version("1");
  ASSERT_THAT(a_->CreateRelease(r, Entry("release.create")), IsOk());
  ASSERT_TRUE(WaitFor([&] { return on_b.size() >= 2; }));
  EXPECT_EQ(on_b.got(),
            (std::vector<std::string>{"segment:wallet", "release:wallet"}));
  // A store is not told of its own changes (its process knows them).
  ASSERT_THAT(b_->DeleteSegment("wallet", "beta", Entry("segment.delete")),
              IsOk());
  ASSERT_TRUE(WaitFor([&] { return on_a.size() >= 1; }));
  EXPECT_EQ(on_a.got(), (std::vector<std::string>{"segment:wallet"}));
  EXPECT_EQ(on_b.size(), 2u);
}

// The database restarts: pooled connections are dead, the feed's too.
// Writes work again at once, and the feed catches up by sequence.
TEST_F(PostgresReplicasTest, FeedAndWritesComeBackAfterARestart) {
  Feed on_b;
  ASSERT_THAT(b_->StartChangeFeed(on_b.Sink()), IsOk());
  ASSERT_THAT(a_->PutSegment(Segment("one"), Entry("segment.put")), IsOk());
  ASSERT_TRUE(WaitFor([&] { return on_b.size() == 1; }));
  ASSERT_THAT(pg_->Stop(), IsOk());
  EXPECT_THAT(a_->PutSegment(Segment("two"), Entry("segment.put")),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::HasSubstr("PostgreSQL")));
  ASSERT_THAT(pg_->Restart(), IsOk());
  ASSERT_THAT(a_->PutSegment(Segment("two"), Entry("segment.put")), IsOk());
  ASSERT_TRUE(WaitFor([&] { return on_b.size() == 2; }));
  auto segments = b_->ListSegments("wallet");
  ASSERT_THAT(segments, IsOk());
  EXPECT_EQ(segments->size(), 2u);
}

// Audited writes of two stores at once: one chain, every entry once, in
// one order.
TEST_F(PostgresReplicasTest, ConcurrentAuditedWritesMakeOneChain) {
  constexpr int kEach = 40;
  std::vector<std::thread> threads;
  for (Store* s : {a_.get(), b_.get()}) {
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([s] {
        for (int i = 0; i < kEach; ++i) {
          EXPECT_THAT(s->AppendAudit(Entry("test.write")), IsOk());
        }
      });
    }
  }
  for (std::thread& t : threads) t.join();
  auto audit = a_->ListAudit(0, 1000);
  ASSERT_THAT(audit, IsOk());
  ASSERT_EQ(audit->size(), 4u * kEach);
  EXPECT_THAT(VerifyAuditChain(*audit, 1, ""), IsOk());
  EXPECT_EQ(audit->back().seq(), 4u * kEach);
}

// One holder at a time; a holder that let its lease lapse (paused past
// it) has its writes refused once another holds it, and nothing of them
// is stored.
TEST_F(PostgresReplicasTest, ALapsedLeaseHoldersWritesAreRefused) {
  const absl::Duration ttl = absl::Milliseconds(300);
  auto first = a_->AcquireLease("gates", "a", ttl);
  ASSERT_THAT(first, IsOk());
  ASSERT_GT(*first, 0u);
  EXPECT_EQ(*b_->AcquireLease("gates", "b", ttl), 0u);      // held by a
  EXPECT_EQ(*a_->AcquireLease("gates", "a", ttl), *first);  // renewed
  EXPECT_THAT(a_->Fenced("gates", "a", *first,
                         [&] { return a_->AppendAudit(Entry("gate.halt")); }),
              IsOk());
  // a stops renewing: b takes over once the lease lapsed.
  uint64_t second = 0;
  ASSERT_TRUE(WaitFor([&] {
    second = b_->AcquireLease("gates", "b", absl::Seconds(30)).value_or(0);
    return second != 0;
  }));
  EXPECT_GT(second, *first);
  EXPECT_THAT(
      a_->Fenced("gates", "a", *first,
                 [&] { return a_->AppendAudit(Entry("gate.stale")); }),
      StatusIs(absl::StatusCode::kAborted, ::testing::HasSubstr("lease")));
  EXPECT_EQ(*a_->AcquireLease("gates", "a", ttl), 0u);
  EXPECT_THAT(b_->Fenced("gates", "b", second,
                         [&] { return b_->AppendAudit(Entry("gate.halt")); }),
              IsOk());
  auto audit = b_->ListAudit(0, 10);
  ASSERT_THAT(audit, IsOk());
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].action(), "gate.halt");
  EXPECT_EQ((*audit)[1].action(), "gate.halt");
  EXPECT_THAT(VerifyAuditChain(*audit, 1, ""), IsOk());
}

// The URL lists several hosts: libpq tries them in order, and the store
// asks for a read-write session, so a dead host and a standby (here a
// server that refuses writes) are passed over for the primary.
TEST(PostgresHostsTest, TheReadWriteHostOfSeveralIsUsed) {
  if (std::string why = TempPostgres::SkipReason(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  auto standby = TempPostgres::Start({"default_transaction_read_only=on"});
  ASSERT_THAT(standby, IsOk());
  auto primary = TempPostgres::Start();
  ASSERT_THAT(primary, IsOk());
  // Port 1 on loopback: nothing listens there.
  const std::string url =
      StrCat("postgresql://strata@127.0.0.1:1,127.0.0.1:", (*standby)->port(),
             ",127.0.0.1:", (*primary)->port(), "/postgres");
  auto store = OpenPostgresStore(url);
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->AppendAudit(Entry("test.write")), IsOk());
  // The write is on the primary.
  auto direct = OpenPostgresStore((*primary)->Url());
  ASSERT_THAT(direct, IsOk());
  auto audit = (*direct)->ListAudit(0, 10);
  ASSERT_THAT(audit, IsOk());
  EXPECT_EQ(audit->size(), 1u);
  // The standby alone cannot take Strata's writes, and says why.
  EXPECT_THAT(OpenPostgresStore((*standby)->Url()),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::HasSubstr("accepts writes")));
}

}  // namespace
}  // namespace strata::server
