// The store contract, on both back ends: a real RocksDB in a temporary
// directory and a real PostgreSQL server in one (one schema per test).
#include "strata/server/storage/store.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/proto/audit_chain.h"
#include "strata/server/core/blob_writer.h"
#include "strata/server/storage/postgres_store.h"
#include "strata/server/storage/testing/temp_postgres.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::strata::testing::TempDir;
using ::strata::testing::TestAudit;

v1::StoredArtifact Artifact(const std::string& version,
                            const std::string& content) {
  v1::StoredArtifact a;
  *a.mutable_statement() =
      testing::ConfigHeader("payment.limits", version, content).statement();
  return a;
}

v1::Release ReleaseOf(const std::string& module, const std::string& version) {
  v1::Release r;
  r.set_app_id("wallet");
  r.mutable_module()->set_layer(v1::LAYER_CONFIG);
  r.mutable_module()->set_name(module);
  r.set_version(version);
  return r;
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// The parameter names the back end: "rocksdb" or "postgresql".
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite() { postgres_.reset(); }
  void SetUp() override {
    if (postgres()) {
      if (std::string why = strata::testing::TempPostgres::SkipReason();
          !why.empty()) {
        GTEST_SKIP() << why;
      }
      if (postgres_ == nullptr) {
        auto pg = strata::testing::TempPostgres::Start();
        ASSERT_THAT(pg, IsOk());
        postgres_ = *std::move(pg);
      }
      schema_ = postgres_->NewSchema();
    }
    Reopen();
  }
  bool postgres() const { return GetParam() == "postgresql"; }
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> store;
    if (postgres()) {
      PostgresStoreOptions options;
      options.schema = schema_;
      options.orphan_grace = absl::ZeroDuration();  // one process
      store = OpenPostgresStore(postgres_->Url(), options);
    } else {
      store = Store::Open(JoinPath(dir_.path(), "db"));
    }
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }
  // One server for the suite (started on first use).
  static std::unique_ptr<strata::testing::TempPostgres> postgres_;
  std::string schema_;
  BlobManifest Put(const std::string& content, size_t chunk = 1 << 20) {
    BlobWriter w(store_.get(), chunk);
    EXPECT_THAT(w.Append(content), IsOk());
    auto m = w.Finish();
    EXPECT_THAT(m, IsOk());
    return *m;
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, ArtifactAndChunkedBlobRoundTrip) {
  const std::string content = Pattern(10000, 1);
  BlobManifest blob = Put(content, /*chunk=*/4096);
  ASSERT_EQ(blob.chunks.size(), 3u);
  EXPECT_EQ(blob.sha256, Sha256::HexHash(content));
  v1::StoredArtifact a = Artifact("1", content);
  ASSERT_THAT(store_->PutArtifact(a, blob, nullptr, TestAudit("publish")),
              IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto got, store_->GetArtifact("wallet", a.statement().module(), "1"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->statement().content_sha256(), blob.sha256);
  EXPECT_EQ(*store_->ReadBlob(blob.sha256, 0, 1 << 20), content);
  // Reads across chunk boundaries.
  EXPECT_EQ(*store_->ReadBlob(blob.sha256, 4090, 30), content.substr(4090, 30));
  EXPECT_EQ(*store_->ReadBlob(blob.sha256, 9000, 4000), content.substr(9000));
  EXPECT_THAT(store_->ReadBlob(blob.sha256, content.size() + 1, 1),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(store_->ReadBlob(std::string(64, '0'), 0, 1),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreTest, CompressibleChunksAreStoredCompressedAndIdenticalOnesOnce) {
  const std::string text(100000, 'a');
  BlobManifest one = Put(text, 50000);
  ASSERT_EQ(one.chunks.size(), 2u);
  EXPECT_EQ(one.chunks[0].sha256, one.chunks[1].sha256);  // deduplicated
  STRATA_ASSERT_OK_AND_ASSIGN(std::string chunk,
                              store_->ReadChunk(one.chunks[0].sha256));
  EXPECT_EQ(chunk, text.substr(0, 50000));
  ASSERT_THAT(
      store_->PutArtifact(Artifact("1", text), one, nullptr, TestAudit("p")),
      IsOk());
  EXPECT_EQ(*store_->ReadBlob(one.sha256, 0, 1 << 20), text);
}

TEST_P(StoreTest, GarbageCollectionRemovesOnlyUnreferencedChunks) {
  const std::string kept = Pattern(12288, 2), orphan = Pattern(12288, 3);
  BlobManifest blob = Put(kept, 4096);
  ASSERT_THAT(
      store_->PutArtifact(Artifact("1", kept), blob, nullptr, TestAudit("p")),
      IsOk());
  Put(orphan, 4096);  // an upload whose publish never committed
  STRATA_ASSERT_OK_AND_ASSIGN(GarbageReport report, store_->CollectGarbage());
  EXPECT_EQ(report.chunks_removed, 3u);
  EXPECT_EQ(*store_->ReadBlob(blob.sha256, 0, 1 << 20), kept);
  STRATA_ASSERT_OK_AND_ASSIGN(report, store_->CollectGarbage());
  EXPECT_EQ(report.chunks_removed, 0u);
}

TEST_P(StoreTest, ReleasesGetGrowingIdsAndPerModuleSequences) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto r1, store_->CreateRelease(ReleaseOf("a", "1"), TestAudit("r")));
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto r2, store_->CreateRelease(ReleaseOf("b", "1"), TestAudit("r")));
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto r3, store_->CreateRelease(ReleaseOf("a", "2"), TestAudit("r")));
  EXPECT_EQ(r1.release_id(), 1u);
  EXPECT_EQ(r2.release_id(), 2u);
  EXPECT_EQ(r3.release_id(), 3u);
  EXPECT_EQ(r1.release_sequence(), 1u);
  EXPECT_EQ(r2.release_sequence(), 1u);
  EXPECT_EQ(r3.release_sequence(), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto all, store_->ListReleases("wallet"));
  EXPECT_EQ(all.size(), 3u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto other_app, store_->ListReleases("other"));
  EXPECT_TRUE(other_app.empty());

  // Several artifacts: each module gets its own next sequence.
  v1::Release multi;
  multi.set_app_id("wallet");
  for (const char* name : {"a", "c"}) {
    v1::ReleaseArtifact* art = multi.add_artifacts();
    art->mutable_module()->set_layer(v1::LAYER_CONFIG);
    art->mutable_module()->set_name(name);
    art->set_version("3");
  }
  STRATA_ASSERT_OK_AND_ASSIGN(auto r4,
                              store_->CreateRelease(multi, TestAudit("r")));
  EXPECT_EQ(r4.artifacts(0).release_sequence(), 3u);  // a: third release
  EXPECT_EQ(r4.artifacts(1).release_sequence(), 1u);  // c: first
  EXPECT_EQ(r4.module().name(), "a");                 // mirrors the first
  EXPECT_GT(r4.created_audit_seq(), 0u);

  // A roll back marks the release it undoes in the same batch.
  v1::Release undone = r3;
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto r5,
      store_->CreateRelease(ReleaseOf("a", "1"), TestAudit("r"), &undone));
  STRATA_ASSERT_OK_AND_ASSIGN(auto stored, store_->GetRelease("wallet", 3));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->rolled_back_by_release_id(), r5.release_id());

  stored->set_state(v1::RELEASE_HALTED);
  ASSERT_THAT(store_->UpdateRelease(*stored, TestAudit("halt")), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(stored, store_->GetRelease("wallet", 3));
  EXPECT_EQ(stored->state(), v1::RELEASE_HALTED);
  v1::Release missing = *stored;
  missing.set_release_id(99);
  EXPECT_THAT(store_->UpdateRelease(missing, TestAudit("halt")),
              StatusIs(absl::StatusCode::kNotFound));
  STRATA_ASSERT_OK_AND_ASSIGN(auto everything, store_->ListAllReleases());
  EXPECT_EQ(everything.size(), 5u);
}

TEST_P(StoreTest, EverythingSurvivesReopenIncludingTheAuditChain) {
  const std::string content = "persist me";
  BlobManifest blob = Put(content);
  ASSERT_THAT(store_->PutArtifact(Artifact("1", content), blob, nullptr,
                                  TestAudit("p")),
              IsOk());
  ASSERT_THAT(
      store_->CreateRelease(ReleaseOf("payment.limits", "1"), TestAudit("r")),
      IsOk());
  Reopen();
  EXPECT_EQ(*store_->ReadBlob(Sha256::HexHash(content), 0, 100), content);
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto r,
      store_->CreateRelease(ReleaseOf("payment.limits", "1"), TestAudit("r")));
  EXPECT_EQ(r.release_id(), 2u);
  EXPECT_EQ(r.release_sequence(), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto audit, store_->ListAudit(0, 100));
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_THAT(VerifyAuditChain(audit, 1, ""), IsOk());
}

TEST_P(StoreTest, AuditTamperingIsDetected) {
  for (int i = 0; i < 4; ++i)
    ASSERT_THAT(store_->AppendAudit(TestAudit("a")), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(auto audit, store_->ListAudit(0, 100));
  ASSERT_THAT(VerifyAuditChain(audit, 1, ""), IsOk());
  // An attacker with disk access rewrites entry 2's detail.
  v1::AuditEntry forged = audit[1];
  forged.set_detail("nothing happened here");
  ASSERT_THAT(store_->RawPutAuditForTesting(forged), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(audit, store_->ListAudit(0, 100));
  EXPECT_THAT(
      VerifyAuditChain(audit, 1, ""),
      StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("entry 2")));
  // Recomputing the forged entry's hash breaks the link to entry 3 instead.
  forged.set_hash(AuditEntryHash(forged));
  ASSERT_THAT(store_->RawPutAuditForTesting(forged), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(audit, store_->ListAudit(0, 100));
  EXPECT_THAT(
      VerifyAuditChain(audit, 1, ""),
      StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("entry 3")));
}

TEST_P(StoreTest, CheckpointIsAConsistentCopy) {
  if (postgres()) {
    // PostgreSQL is backed up with its own tools; the store says so.
    EXPECT_THAT(store_->Checkpoint(JoinPath(dir_.path(), "backup")),
                StatusIs(absl::StatusCode::kUnimplemented,
                         ::testing::HasSubstr("pg_dump")));
    return;
  }
  const std::string content = "backed up";
  BlobManifest blob = Put(content);
  ASSERT_THAT(store_->PutArtifact(Artifact("1", content), blob, nullptr,
                                  TestAudit("p")),
              IsOk());
  const std::string backup = JoinPath(dir_.path(), "backup");
  STRATA_ASSERT_OK_AND_ASSIGN(uint64_t seq, store_->Checkpoint(backup));
  EXPECT_EQ(seq, 1u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto copy, Store::Open(backup));
  EXPECT_EQ(*copy->ReadBlob(blob.sha256, 0, 100), content);
  EXPECT_THAT(store_->Checkpoint(backup),
              StatusIs(absl::StatusCode::kAlreadyExists));  // never overwritten
}

TEST_P(StoreTest, SecondOpenOfTheSameDirectoryIsRefusedClearly) {
  if (postgres()) GTEST_SKIP() << "replicas share one PostgreSQL on purpose";
  auto second = Store::Open(JoinPath(dir_.path(), "db"));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another stratad"),
            absl::string_view::npos)
      << second.status();
}

std::unique_ptr<strata::testing::TempPostgres> StoreTest::postgres_;

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values("rocksdb", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param;
                         });

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST_P(StoreTest, TrustFilesKeepEveryRootAndTheCurrentOnlineRoles) {
  ASSERT_THAT(store_->ListTrustApps(), IsOk());
  EXPECT_TRUE(store_->ListTrustApps()->empty());
  ASSERT_THAT(store_->PutTrustFiles("wallet",
                                    {{"root", 1, "r1"},
                                     {"targets", 1, "t1"},
                                     {"h5", 1, "h1"},
                                     {"snapshot", 1, "s1"},
                                     {"timestamp", 1, "ts1"}},
                                    TestAudit("trust.set")),
              IsOk());
  ASSERT_THAT(store_->PutTrustFiles("wallet",
                                    {{"root", 2, "r2"},
                                     {"h5", 2, "h2"},
                                     {"snapshot", 2, "s2"},
                                     {"timestamp", 2, "ts2"},
                                     {"director", 7, "d7"}},
                                    std::nullopt),
              IsOk());
  ASSERT_THAT(
      store_->PutTrustFiles("shop", {{"root", 1, "other"}}, std::nullopt),
      IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<TrustFile> files,
                              store_->ListTrustFiles("wallet"));
  std::vector<std::string> got;
  for (const TrustFile& f : files) {
    got.push_back(StrCat(f.role, "/", f.version, "=", f.content));
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "director/7=d7", "h5/2=h2", "root/1=r1", "root/2=r2",
                     "snapshot/2=s2", "targets/1=t1", "timestamp/2=ts2"}));
  // History of roots, targets and snapshots; current only for the rest.
  EXPECT_EQ(**store_->GetTrustFile("wallet", "snapshot", 1), "s1");
  EXPECT_FALSE(store_->GetTrustFile("wallet", "h5", 1)->has_value());
  EXPECT_FALSE(store_->GetTrustFile("wallet", "timestamp", 1)->has_value());
  EXPECT_EQ(*store_->ListTrustApps(),
            (std::vector<std::string>{"shop", "wallet"}));
  // The audited change is in the chain.
  STRATA_ASSERT_OK_AND_ASSIGN(auto audit, store_->ListAudit(0, 10));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action(), "trust.set");
}

TEST_P(StoreTest, ReleaseKeepsASignedCounterAndTheServerCounterFollows) {
  v1::Release signed_release = ReleaseOf("m", "1");
  v1::ReleaseArtifact* a = signed_release.add_artifacts();
  *a->mutable_module() = signed_release.module();
  a->set_version("1");
  a->set_release_sequence(5);
  std::vector<TrustFile> trust = {{"config", 3, "role"}};
  STRATA_ASSERT_OK_AND_ASSIGN(
      v1::Release r,
      store_->CreateRelease(signed_release, TestAudit("release.create"),
                            nullptr, &trust));
  EXPECT_EQ(r.release_sequence(), 5u);
  EXPECT_EQ(**store_->GetTrustFile("wallet", "config", 3), "role");
  STRATA_ASSERT_OK_AND_ASSIGN(
      v1::Release next,
      store_->CreateRelease(ReleaseOf("m", "2"), TestAudit("release.create")));
  EXPECT_EQ(next.release_sequence(), 6u);
}

// Health aggregates written with reports from many threads at once: every
// change counts (merged, not read-modified-written), the marks come back
// by point read, and both survive a reopen and the pruning of reports.
TEST_P(StoreTest, HealthAggregatesAddUpUnderConcurrentReports) {
  const HealthWindow window{7, 1, 2};
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        v1::StoredReport r;
        r.set_device_id(StrCat("d", t, "-", i));
        r.set_received_at_unix(7200 + i);
        HealthUpdate u;
        v1::StoredDeviceMarks marks;
        marks.set_launch(1);
        u.marks.push_back(
            HealthMarks{window, static_cast<uint64_t>(t * 1000 + i), marks});
        HealthBucket b{window, 7200, {}};
        b.figures.set_launches_ok(1);
        b.figures.set_last_report_at_unix(7200 + i);
        b.figures.set_first_report_at_unix(7200 + i);
        u.buckets.push_back(b);
        EXPECT_THAT(store_->AppendReport("wallet", r, &u), IsOk());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // A change that takes one back, in a later hour.
  HealthUpdate back;
  HealthBucket later{window, 10800, {}};
  later.figures.set_launches_ok(-1);
  later.figures.set_launch_crashes(1);
  back.buckets.push_back(later);
  ASSERT_THAT(store_->AppendReport("wallet", v1::StoredReport(), &back),
              IsOk());
  auto check = [&] {
    std::vector<HealthBucket> buckets;
    ASSERT_THAT(store_->ForEachHealthBucket([&](const HealthBucket& b) {
      buckets.push_back(b);
      return true;
    }),
                IsOk());
    ASSERT_EQ(buckets.size(), 2u);
    EXPECT_EQ(buckets[0].window.release_id, 7u);
    EXPECT_EQ(buckets[0].window.cohort, 1);
    EXPECT_EQ(buckets[0].window.stage, 2);
    EXPECT_EQ(buckets[0].hour_unix, 7200);
    EXPECT_EQ(buckets[0].figures.launches_ok(), kThreads * kPerThread);
    EXPECT_EQ(buckets[0].figures.first_report_at_unix(), 7200);
    EXPECT_EQ(buckets[0].figures.last_report_at_unix(), 7200 + kPerThread - 1);
    EXPECT_EQ(buckets[1].hour_unix, 10800);
    EXPECT_EQ(buckets[1].figures.launches_ok(), -1);
    EXPECT_EQ(buckets[1].figures.launch_crashes(), 1);
    auto marks = store_->GetHealthMarks(
        {HealthMarks{window, 1003, {}}, HealthMarks{window, 999, {}},
         HealthMarks{HealthWindow{7, 1, 3}, 1003, {}}});
    ASSERT_THAT(marks, IsOk());
    ASSERT_EQ(marks->size(), 3u);
    ASSERT_TRUE((*marks)[0].has_value());
    EXPECT_EQ((*marks)[0]->launch(), 1u);
    EXPECT_FALSE((*marks)[1].has_value());
    EXPECT_FALSE((*marks)[2].has_value());
  };
  check();
  Reopen();
  check();
  auto pruned = store_->PruneReports(1'000'000);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->first, kThreads * kPerThread + 1u);
  Reopen();
  check();
}

// The report sequence number is a stored high-water mark (read at open
// instead of scanning every report key): after a reopen new reports get new
// keys, and pruning every report leaves it.
TEST_P(StoreTest, ReportKeysAreNeverReusedAfterAReopen) {
  v1::StoredReport r;
  r.set_device_id("d");
  r.set_received_at_unix(10);
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(store_->AppendReport("wallet", r), IsOk());
  }
  Reopen();
  r.set_received_at_unix(20);
  ASSERT_THAT(store_->AppendReport("wallet", r), IsOk());
  auto all = store_->ListReports("wallet", 10);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 4u);
  auto pruned = store_->PruneReports(100);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->first, 4u);
  Reopen();
  ASSERT_THAT(store_->AppendReport("wallet", r), IsOk());
  all = store_->ListReports("wallet", 10);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 1u);
  // A new database has nothing to rebuild from: its aggregates count as
  // complete from the first open.
  absl::StatusOr<bool> built = store_->HealthAggregatesBuilt();
  ASSERT_THAT(built, IsOk());
  EXPECT_TRUE(*built);
}

}  // namespace
}  // namespace strata::server
