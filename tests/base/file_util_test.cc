// WriteFileAtomically under crashes: for every N, fail the N-th file system
// mutation (and everything after it, as a dying process would), drop all
// unsynced data as a power cut would, and check that the file holds exactly
// the old or the new content and no temp file is visible as the real one.
#include "strata/base/file_util.h"

#include <unistd.h>

#include "gtest/gtest.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::FaultInjectionFileSystem;
using ::strata::testing::IsOk;
using ::strata::testing::MemFileSystem;

constexpr char kOld[] = "old content v1";
constexpr char kNew[] = "new content v2, a little longer";

struct CrashOutcome {
  bool write_ok;
  std::string content;  // after the simulated power cut
};

CrashOutcome CrashAt(uint64_t n, bool had_old) {
  MemFileSystem mem;
  EXPECT_THAT(CreateDirs(mem, "/data"), IsOk());
  if (had_old) {
    EXPECT_THAT(WriteFileAtomically(mem, "/data/state", kOld), IsOk());
  }
  FaultInjectionFileSystem faulty(&mem);
  faulty.FailNthMutation(n, /*crash=*/true);
  absl::Status s = WriteFileAtomically(faulty, "/data/state", kNew);
  mem.DropUnsyncedData();
  auto content = mem.ReadFile("/data/state");
  return CrashOutcome{s.ok(),
                      content.ok() ? *content : std::string("<missing>")};
}

TEST(WriteFileAtomicallyTest, CrashAtEveryOperationLeavesOldOrNew) {
  uint64_t n = 1;
  for (; n < 100; ++n) {
    CrashOutcome out = CrashAt(n, /*had_old=*/true);
    if (out.write_ok) {
      EXPECT_EQ(out.content, kNew) << "acknowledged write lost at N=" << n;
      break;
    }
    EXPECT_TRUE(out.content == kOld || out.content == kNew)
        << "crash at operation " << n << " left: " << out.content;
  }
  // create, append, sync, close, rename, sync dir: at least six steps, each
  // of which was crashed once above.
  EXPECT_GE(n, 7u);
  EXPECT_LT(n, 100u) << "the write never succeeded";
}

TEST(WriteFileAtomicallyTest, CrashOnFirstWriteLeavesNothingOrNew) {
  for (uint64_t n = 1;; ++n) {
    ASSERT_LT(n, 100u);
    CrashOutcome out = CrashAt(n, /*had_old=*/false);
    if (out.write_ok) {
      EXPECT_EQ(out.content, kNew);
      break;
    }
    EXPECT_TRUE(out.content == "<missing>" || out.content == kNew)
        << "crash at operation " << n << " left: " << out.content;
  }
}

TEST(WriteFileAtomicallyTest, SkippingDirectorySyncWouldBeCaught) {
  // The model itself must be strict enough to catch a missing step: a rename
  // without a directory sync is lost in a power cut.
  MemFileSystem mem;
  ASSERT_THAT(CreateDirs(mem, "/d"), IsOk());
  ASSERT_THAT(WriteFileAtomically(mem, "/d/f", kOld), IsOk());
  auto f = mem.NewWritableFile("/d/f.tmp");
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Append(kNew), IsOk());
  ASSERT_THAT((*f)->Sync(), IsOk());
  ASSERT_THAT((*f)->Close(), IsOk());
  ASSERT_THAT(mem.Rename("/d/f.tmp", "/d/f"), IsOk());
  mem.DropUnsyncedData();
  EXPECT_EQ(*mem.ReadFile("/d/f"), kOld);
}

TEST(WriteFileAtomicallyTest, FailedWriteRemovesTempAndKeepsOld) {
  MemFileSystem mem;
  ASSERT_THAT(CreateDirs(mem, "/d"), IsOk());
  ASSERT_THAT(WriteFileAtomically(mem, "/d/f", kOld), IsOk());
  FaultInjectionFileSystem faulty(&mem);
  faulty.FailNthMutation(3, /*crash=*/false);  // the sync
  absl::Status s = WriteFileAtomically(faulty, "/d/f", kNew);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/d/f"), std::string_view::npos) << s;
  EXPECT_EQ(*mem.ReadFile("/d/f"), kOld);
  EXPECT_FALSE(mem.Exists("/d/f.tmp"));
}

TEST(WriteFileAtomicallyTest, WorksOnTheRealFileSystem) {
  char tmpl[] = "/tmp/strata_atomic_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = JoinPath(tmpl, "state");
  FileSystem& fs = *PosixFileSystem();
  ASSERT_THAT(WriteFileAtomically(fs, path, kOld), IsOk());
  ASSERT_THAT(WriteFileAtomically(fs, path, kNew), IsOk());
  EXPECT_EQ(*fs.ReadFile(path), kNew);
  EXPECT_FALSE(fs.Exists(path + ".tmp"));
  ASSERT_THAT(DeleteRecursively(fs, tmpl), IsOk());
}

TEST(DeleteRecursivelyTest, RemovesLinksWithoutFollowingThem) {
  char tmpl[] = "/tmp/strata_delete_XXXXXX";
  const std::string root = ::mkdtemp(tmpl);
  FileSystem& fs = *PosixFileSystem();
  const std::string victim = JoinPath(root, "victim");
  ASSERT_THAT(CreateDirs(fs, victim), IsOk());
  ASSERT_THAT(WriteFileAtomically(fs, JoinPath(victim, "keep"), "x"), IsOk());
  const std::string tree = JoinPath(root, "tree");
  ASSERT_THAT(CreateDirs(fs, tree), IsOk());
  ASSERT_EQ(::symlink(victim.c_str(), JoinPath(tree, "dir-link").c_str()), 0);
  ASSERT_EQ(::symlink(JoinPath(victim, "keep").c_str(),
                      JoinPath(tree, "file-link").c_str()),
            0);
  ASSERT_EQ(::symlink("/nonexistent", JoinPath(tree, "dangling").c_str()), 0);
  ASSERT_THAT(DeleteRecursively(fs, tree), IsOk());
  EXPECT_FALSE(fs.Exists(tree));
  EXPECT_TRUE(fs.Exists(JoinPath(victim, "keep")))
      << "a link to a directory was followed";
  ASSERT_THAT(DeleteRecursively(fs, root), IsOk());
}

}  // namespace
}  // namespace strata
