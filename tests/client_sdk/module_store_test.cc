// Crash safety of installs: for every N, the N-th file operation of an
// install fails and everything after it too (the process died there), then
// unsynced data is dropped (power cut). Reopening must find exactly the old
// or the new version active and intact, and no leftovers.
#include "module_store.h"

#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::client {
namespace {

using ::strata::testing::FaultInjectionFileSystem;
using ::strata::testing::IsOk;
using ::strata::testing::MemFileSystem;
using ::strata::testing::StatusIs;

v1::InstalledModule Module(const std::string& version,
                           const std::string& content, uint64_t seq) {
  v1::InstalledModule m;
  m.mutable_module()->set_layer(v1::LAYER_H5);
  m.mutable_module()->set_name("mall-home");
  m.set_version(version);
  m.set_content_sha256(Sha256::HexHash(content));
  m.set_release_sequence(seq);
  return m;
}

const std::string kOld = "old package bytes";
const std::string kNew = "new package bytes, different";

TEST(ModuleStoreTest, CrashAtEveryOperationLeavesOldOrNewIntact) {
  uint64_t n = 1;
  for (; n < 200; ++n) {
    MemFileSystem mem;
    {
      STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store,
                                  ModuleStore::Open(&mem, "/sdk"));
      ASSERT_THAT(store.Install(Module("1", kOld, 1), kOld), IsOk());
    }
    FaultInjectionFileSystem faulty(&mem);
    STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store,
                                ModuleStore::Open(&faulty, "/sdk"));
    faulty.FailNthMutation(n, /*crash=*/true);
    absl::Status s = store.Install(Module("2", kNew, 2), kNew);
    mem.DropUnsyncedData();

    STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore reopened,
                                ModuleStore::Open(&mem, "/sdk"));
    STRATA_ASSERT_OK_AND_ASSIGN(auto active,
                                reopened.Get(Module("", "", 0).module()));
    ASSERT_TRUE(active.has_value()) << "no version active after crash at " << n;
    STRATA_ASSERT_OK_AND_ASSIGN(std::string content,
                                reopened.ReadContent(*active));
    if (s.ok()) {
      EXPECT_EQ(active->version(), "2") << "acknowledged install lost at " << n;
    }
    if (active->version() == "1") {
      EXPECT_EQ(content, kOld);
    } else {
      EXPECT_EQ(active->version(), "2");
      EXPECT_EQ(content, kNew);
    }
    // Leftovers are cleaned: only the state file and the active blob remain.
    std::vector<std::string> files = mem.AllFiles();
    EXPECT_EQ(files.size(), 2u)
        << "crash at " << n << " left " << ::testing::PrintToString(files);
    if (s.ok()) break;
  }
  EXPECT_GT(n, 6u);  // the install really has several steps that were crashed
  EXPECT_LT(n, 200u);
}

TEST(ModuleStoreTest, RefusesContentThatDoesNotMatchItsHash) {
  MemFileSystem mem;
  STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store,
                              ModuleStore::Open(&mem, "/sdk"));
  ASSERT_THAT(store.Install(Module("1", kOld, 1), kOld), IsOk());
  EXPECT_THAT(store.Install(Module("2", kNew, 2), "tampered"),
              StatusIs(absl::StatusCode::kDataLoss));
  STRATA_ASSERT_OK_AND_ASSIGN(auto active,
                              store.Get(Module("", "", 0).module()));
  EXPECT_EQ(active->version(), "1");
}

TEST(ModuleStoreTest, DamagedInstalledContentIsDetected) {
  MemFileSystem mem;
  STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store,
                              ModuleStore::Open(&mem, "/sdk"));
  v1::InstalledModule m = Module("1", kOld, 1);
  ASSERT_THAT(store.Install(m, kOld), IsOk());
  auto f = mem.NewWritableFile("/sdk/modules/h5/mall-home/" +
                               m.content_sha256() + ".blob");
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Append("bit rot"), IsOk());
  EXPECT_THAT(store.ReadContent(m), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace strata::client
