// The durability model the crash tests rely on.
#include "strata/base/testing/mem_file_system.h"

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::testing {
namespace {

std::unique_ptr<WritableFile> Write(MemFileSystem& fs, const std::string& path,
                                    std::string_view data, bool sync) {
  auto f = fs.NewWritableFile(path);
  EXPECT_THAT(f, IsOk());
  EXPECT_THAT((*f)->Append(data), IsOk());
  if (sync) {
    EXPECT_THAT((*f)->Sync(), IsOk());
  }
  return std::move(*f);
}

TEST(MemFileSystemTest, UnsyncedBytesAreLost) {
  MemFileSystem fs;
  auto f = Write(fs, "/a", "synced", /*sync=*/true);
  ASSERT_THAT(fs.SyncDir("/"), IsOk());
  ASSERT_THAT(f->Append(" and not"), IsOk());
  fs.DropUnsyncedData();
  EXPECT_EQ(*fs.ReadFile("/a"), "synced");
}

TEST(MemFileSystemTest, NewNameWithoutDirSyncIsLost) {
  MemFileSystem fs;
  Write(fs, "/a", "data", /*sync=*/true);
  fs.DropUnsyncedData();
  EXPECT_FALSE(fs.Exists("/a"));
}

TEST(MemFileSystemTest, DirSyncWithoutDataSyncLeavesEmptyFile) {
  MemFileSystem fs;
  Write(fs, "/a", "data", /*sync=*/false);
  ASSERT_THAT(fs.SyncDir("/"), IsOk());
  fs.DropUnsyncedData();
  EXPECT_EQ(*fs.ReadFile("/a"), "");
}

TEST(MemFileSystemTest, DeletionWithoutDirSyncComesBack) {
  MemFileSystem fs;
  Write(fs, "/a", "data", /*sync=*/true);
  ASSERT_THAT(fs.SyncDir("/"), IsOk());
  ASSERT_THAT(fs.DeleteFile("/a"), IsOk());
  fs.DropUnsyncedData();
  EXPECT_EQ(*fs.ReadFile("/a"), "data");
}

TEST(MemFileSystemTest, DirectoryNotSyncedInParentIsLostWithItsFiles) {
  MemFileSystem fs;
  ASSERT_THAT(fs.CreateDir("/d"), IsOk());
  Write(fs, "/d/a", "data", /*sync=*/true);
  ASSERT_THAT(fs.SyncDir("/d"), IsOk());
  fs.DropUnsyncedData();
  EXPECT_FALSE(fs.Exists("/d"));
  EXPECT_FALSE(fs.Exists("/d/a"));
}

TEST(MemFileSystemTest, HandlesStopWorkingAfterCrash) {
  MemFileSystem fs;
  auto f = Write(fs, "/a", "x", /*sync=*/true);
  fs.DropUnsyncedData();
  EXPECT_THAT(f->Append("y"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(MemFileSystemTest, TornAndZeroedTailsKeepPartOfTheUnsyncedAppend) {
  for (TailModel model : {TailModel::kTorn, TailModel::kZero}) {
    MemFileSystem fs;
    auto f = Write(fs, "/a", "synced", /*sync=*/true);
    ASSERT_THAT(fs.SyncDir("/"), IsOk());
    ASSERT_THAT(f->Append("abcd"), IsOk());
    Write(fs, "/b", "never durable", /*sync=*/true);  // no dir sync
    EXPECT_EQ(fs.DropUnsyncedData(model), 1u);
    EXPECT_EQ(*fs.ReadFile("/a"), model == TailModel::kTorn
                                      ? std::string("syncedab")
                                      : std::string("synced\0\0\0\0", 10));
    EXPECT_FALSE(fs.Exists("/b"));
    // The tail is durable: another power cut keeps it.
    EXPECT_EQ(fs.DropUnsyncedData(model), 0u);
    EXPECT_EQ(fs.ReadFile("/a")->size(), model == TailModel::kTorn ? 8u : 10u);
  }
}

TEST(MemFileSystemTest, TruncatedAndRewrittenFileGetsATornNewContent) {
  MemFileSystem fs;
  Write(fs, "/a", "old content", /*sync=*/true);
  ASSERT_THAT(fs.SyncDir("/"), IsOk());
  auto f = Write(fs, "/a", "new!", /*sync=*/false);
  EXPECT_EQ(fs.DropUnsyncedData(TailModel::kTorn), 1u);
  EXPECT_EQ(*fs.ReadFile("/a"), "ne");
}

TEST(MemFileSystemTest, FullDiskRefusesWhatDoesNotFitWithEnospc) {
  MemFileSystem fs;
  ASSERT_THAT(fs.CreateDir("/d"), IsOk());
  Write(fs, "/d/a", "0123456789", /*sync=*/true);
  fs.SetCapacity(14);
  auto f = fs.NewAppendableFile("/d/a");
  ASSERT_THAT(f, IsOk());
  absl::Status s = (*f)->Append("abcdef");  // 4 of 6 fit: a short write
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(s.message(), "write /d/a: No space left on device");
  EXPECT_EQ(*fs.ReadFile("/d/a"), "0123456789abcd");
  EXPECT_EQ(fs.UsedBytes(), 14u);
  // Full: no new file or directory either; renames and syncs still work.
  EXPECT_THAT(fs.NewWritableFile("/d/b").status(),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(fs.CreateDir("/e"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT((*f)->Sync(), IsOk());
  EXPECT_THAT(fs.Rename("/d/a", "/d/c"), IsOk());
  // Deleting frees space.
  ASSERT_THAT(fs.DeleteFile("/d/c"), IsOk());
  EXPECT_THAT(fs.NewWritableFile("/d/b").status(), IsOk());
  fs.FreeSpace();
  Write(fs, "/d/big", std::string(100, 'x'), /*sync=*/true);
}

TEST(MemFileSystemTest, DiskFillsAtTheArmedOperationAndStaysFull) {
  MemFileSystem fs;
  fs.FillDiskAt(3);  // create, append, then the append that fills it
  auto f = fs.NewWritableFile("/a");
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Append("1234"), IsOk());
  EXPECT_FALSE(fs.disk_filled());
  EXPECT_THAT((*f)->Append("abcd"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(fs.disk_filled());
  EXPECT_EQ(*fs.ReadFile("/a"), "1234ab");  // half of it reached the file
  EXPECT_THAT((*f)->Append("x"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(fs.space_operations(), 4u);
  fs.FreeSpace();
  EXPECT_THAT((*f)->Append("x"), IsOk());
}

}  // namespace
}  // namespace strata::testing
