// The module store's pieces: the state file format, atomic commits at every
// crash point, blob verification, leftovers.
#include "module_store.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "report_queue.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::client {
namespace {

using ::strata::testing::FaultInjectionFileSystem;
using ::strata::testing::IsOk;
using ::strata::testing::MemFileSystem;
using ::strata::testing::StatusIs;

const std::string kOldPackage = "old package bytes";
const std::string kNewPackage = "new package bytes, different";

ClientState StateWith(const std::string& content, uint64_t seq) {
  ClientState s;
  ModuleState& a = s.modules[{1, "a"}];
  a.active =
      VersionRef{"v" + std::to_string(seq), Sha256::HexHash(content), seq, 9};
  ModuleState& b = s.modules[{2, "b"}];
  b.staged =
      VersionRef{"v" + std::to_string(seq), Sha256::HexHash(content), seq, 9};
  return s;
}

TEST(ClientStateTest, RoundTrips) {
  ClientState s = StateWith(kOldPackage, 3);
  s.launch_in_progress = true;
  s.unhealthy_launches = 2;
  s.modules[{4, "core"}].good =
      VersionRef{"1", Sha256::HexHash(kNewPackage), 1, 0};
  s.modules[{4, "core"}].pending = true;
  s.modules[{4, "core"}].banned.insert(Sha256::HexHash("x"));
  STRATA_ASSERT_OK_AND_ASSIGN(ClientState parsed,
                              ClientState::Parse(s.Serialize()));
  EXPECT_EQ(parsed, s);
}

TEST(ClientStateTest, CorruptStateIsRefusedWithAHint) {
  EXPECT_THAT(ClientState::Parse("strata-client-state 1\nmodule 9 x\n"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ClientState::Parse("strata-client-state 1\nactive 1 a 1 1\n"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ClientState::Parse("something else\n"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ModuleStoreTest, CommitAtEveryCrashPointIsAllOldOrAllNew) {
  uint64_t n = 1;
  for (; n < 100; ++n) {
    MemFileSystem mem;
    {
      STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store,
                                  ModuleStore::Open(&mem, "/sdk"));
      ASSERT_THAT(store.PutBlob(Sha256::HexHash(kOldPackage), kOldPackage),
                  IsOk());
      ASSERT_THAT(store.Commit(StateWith(kOldPackage, 1)), IsOk());
    }
    FaultInjectionFileSystem faulty(&mem);
    STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store,
                                ModuleStore::Open(&faulty, "/sdk"));
    faulty.FailNthMutation(n, /*crash=*/true);
    absl::Status s = store.PutBlob(Sha256::HexHash(kNewPackage), kNewPackage);
    if (s.ok()) s = store.Commit(StateWith(kNewPackage, 2));
    mem.DropUnsyncedData();

    STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore reopened,
                                ModuleStore::Open(&mem, "/sdk"));
    const ClientState& st = reopened.state();
    const bool is_new = st == StateWith(kNewPackage, 2);
    EXPECT_TRUE(is_new || st == StateWith(kOldPackage, 1)) << "mixed at " << n;
    if (s.ok()) {
      EXPECT_TRUE(is_new) << "acknowledged commit lost at " << n;
    }
    const std::string& content = is_new ? kNewPackage : kOldPackage;
    EXPECT_THAT(reopened.ReadBlob(Sha256::HexHash(content)), IsOk());
    // Leftovers are cleaned: the state and the one referenced blob.
    std::vector<std::string> files = mem.AllFiles();
    EXPECT_EQ(files.size(), 2u)
        << "crash at " << n << " left " << ::testing::PrintToString(files);
    if (!faulty.crashed()) break;
  }
  EXPECT_GT(n, 6u);
  EXPECT_LT(n, 100u);
}

TEST(ModuleStoreTest, RefusesContentThatDoesNotMatchItsHash) {
  MemFileSystem mem;
  STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store,
                              ModuleStore::Open(&mem, "/sdk"));
  EXPECT_THAT(store.PutBlob(Sha256::HexHash(kNewPackage), "tampered"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(store.HasBlob(Sha256::HexHash(kNewPackage)));
}

TEST(ModuleStoreTest, DamagedInstalledContentIsDetected) {
  MemFileSystem mem;
  STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store,
                              ModuleStore::Open(&mem, "/sdk"));
  ASSERT_THAT(store.PutBlob(Sha256::HexHash(kOldPackage), kOldPackage), IsOk());
  auto f = mem.NewAppendableFile(store.BlobPath(Sha256::HexHash(kOldPackage)));
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Append("bit rot"), IsOk());
  EXPECT_THAT(store.ReadBlob(Sha256::HexHash(kOldPackage)),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(store.VerifyBlob(Sha256::HexHash(kOldPackage)),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Files bigger than the hashing buffer are read in several pieces, and
// every byte counts: a flipped last byte changes the hash.
TEST(ModuleStoreTest, HashFileReadsEveryPieceOfALargeFile) {
  MemFileSystem mem;
  std::string big(3 * (64 << 10) + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  ASSERT_THAT(WriteFileAtomically(mem, "/big", big), IsOk());
  ASSERT_THAT(WriteFileAtomically(mem, "/empty", ""), IsOk());
  EXPECT_EQ(HashFile(mem, "/big").value_or(""), Sha256::HexHash(big));
  EXPECT_EQ(HashFile(mem, "/empty").value_or(""), Sha256::HexHash(""));
  big.back() ^= 1;
  EXPECT_NE(HashFile(mem, "/big").value_or(""), Sha256::HexHash(big));
  EXPECT_THAT(HashFile(mem, "/missing"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ReportQueueTest, KeepsTheNewestWhenFull) {
  MemFileSystem mem;
  STRATA_ASSERT_OK_AND_ASSIGN(ReportQueue q,
                              ReportQueue::Open(&mem, "/sdk/reports", 3));
  for (int i = 1; i <= 5; ++i) {
    v1::ReportEvent e;
    e.set_detail(std::to_string(i));
    ASSERT_THAT(q.Append(e), IsOk());
  }
  STRATA_ASSERT_OK_AND_ASSIGN(auto pending, q.Pending());
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].detail(), "3");
  EXPECT_EQ(pending[2].detail(), "5");
  ASSERT_THAT(q.RemoveFirst(2), IsOk());
  EXPECT_EQ(q.size(), 1u);
  STRATA_ASSERT_OK_AND_ASSIGN(ReportQueue reopened,
                              ReportQueue::Open(&mem, "/sdk/reports", 3));
  EXPECT_EQ(reopened.size(), 1u);
}

TEST(ReportQueueTest, EveryEventGetsAnIdThatIsKept) {
  MemFileSystem mem;
  testing::FakeRandom random(7);
  std::vector<std::string> ids;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(
        ReportQueue q, ReportQueue::Open(&mem, "/sdk/reports", 10, &random));
    for (int i = 0; i < 3; ++i) {
      v1::ReportEvent e;
      e.set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
      ASSERT_THAT(q.Append(e), IsOk());
    }
    v1::ReportEvent named;
    named.set_event_id("given");
    ASSERT_THAT(q.Append(named), IsOk());
    STRATA_ASSERT_OK_AND_ASSIGN(auto pending, q.Pending());
    for (const auto& e : pending) ids.push_back(e.event_id());
  }
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 4u);
  EXPECT_EQ(ids[0].size(), 32u);
  EXPECT_EQ(ids[3], "given");
  STRATA_ASSERT_OK_AND_ASSIGN(ReportQueue reopened,
                              ReportQueue::Open(&mem, "/sdk/reports", 10));
  STRATA_ASSERT_OK_AND_ASSIGN(auto pending, reopened.Pending());
  ASSERT_EQ(pending.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(pending[i].event_id(), ids[i]);
}

TEST(ReportQueueTest, EventsQueuedWithoutIdsGetThemOnceOnOpen) {
  // A queue written by an SDK that drew no ids: 'R', length, 4 bytes of
  // the payload's SHA-256, payload.
  MemFileSystem mem;
  ASSERT_THAT(CreateDirs(mem, "/sdk/reports"), IsOk());
  std::string file;
  for (int i = 0; i < 2; ++i) {
    v1::ReportEvent e;
    e.set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
    e.set_detail(std::to_string(i));
    const std::string payload = e.SerializeAsString();
    file += 'R';
    for (int b = 0; b < 4; ++b) {
      file += static_cast<char>(payload.size() >> (8 * b));
    }
    const Sha256Digest d = Sha256::Hash(payload);
    file.append(reinterpret_cast<const char*>(d.data()), 4);
    file += payload;
  }
  ASSERT_THAT(WriteFileAtomically(mem, "/sdk/reports/queue", file), IsOk());
  std::vector<std::string> ids;
  for (int open = 0; open < 2; ++open) {
    STRATA_ASSERT_OK_AND_ASSIGN(ReportQueue q,
                                ReportQueue::Open(&mem, "/sdk/reports", 10));
    STRATA_ASSERT_OK_AND_ASSIGN(auto pending, q.Pending());
    ASSERT_EQ(pending.size(), 2u);
    EXPECT_EQ(pending[1].detail(), "1");
    for (const auto& e : pending) {
      EXPECT_FALSE(e.event_id().empty());
      if (open == 0) ids.push_back(e.event_id());
    }
    // The ids were written: the second open sees the same ones.
    EXPECT_EQ(pending[0].event_id(), ids[0]);
    EXPECT_EQ(pending[1].event_id(), ids[1]);
  }
  EXPECT_NE(ids[0], ids[1]);
}

}  // namespace
}  // namespace strata::client
