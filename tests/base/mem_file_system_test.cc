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

}  // namespace
}  // namespace strata::testing
