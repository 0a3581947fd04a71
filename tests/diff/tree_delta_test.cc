// File-tree deltas: real directories in temp dirs, plus path validation.
#include "strata/diff/tree_delta.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "strata/base/file_util.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"
#include "test_util.h"

namespace strata::diff {
namespace {

namespace fs = std::filesystem;
using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using testing::ReadFile;
using testing::Rng;
using testing::TempDir;
using testing::WriteFile;

class TreeDeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(1);
    std::string app_js = rng.Text(200000);
    std::string logo = rng.Bytes(30000);
    std::string vendor = rng.Text(100000);
    // old tree
    WriteFile(dir_ / "old/index.html", "<html>v1</html>");
    WriteFile(dir_ / "old/js/app.js", app_js);
    WriteFile(dir_ / "old/img/logo.png", logo);
    WriteFile(dir_ / "old/js/vendor.1234.js", vendor);
    WriteFile(dir_ / "old/obsolete.txt", "bye");
    // new tree: index changed, app.js edited, logo moved, vendor renamed
    // and edited, obsolete deleted, a new file added, a script executable.
    WriteFile(dir_ / "new/index.html", "<html>v2</html>");
    WriteFile(dir_ / "new/js/app.js", rng.Mutate(app_js, 30));
    WriteFile(dir_ / "new/assets/logo.png", logo);
    WriteFile(dir_ / "new/js/vendor.5678.js", rng.Mutate(vendor, 5));
    WriteFile(dir_ / "new/js/new-feature.js", rng.Text(5000));
    WriteFile(dir_ / "new/bin/run.sh", "#!/bin/sh\necho hi\n");
    fs::permissions(dir_ / "new/bin/run.sh", fs::perms(0755));
  }

  std::string MakePatch() {
    auto p = CreateTreePatch(fs_, dir_ / "old", dir_ / "new");
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : std::string();
  }

  void ExpectTreesEqual(const std::string& a, const std::string& b) {
    auto ma = ScanTree(fs_, a);
    auto mb = ScanTree(fs_, b);
    ASSERT_THAT(ma, IsOk());
    ASSERT_THAT(mb, IsOk());
    EXPECT_TRUE(*ma == *mb);
  }

  FileSystem& fs_ = *PosixFileSystem();
  TempDir dir_;
};

TEST_F(TreeDeltaTest, RoundTripIsExact) {
  std::string patch = MakePatch();
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"));
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
  EXPECT_EQ(
      fs::status(dir_ / "stage/bin/run.sh").permissions() & fs::perms::all,
      fs::perms(0755));
}

TEST_F(TreeDeltaTest, ChoosesTheExpectedOperations) {
  STRATA_ASSERT_OK_AND_ASSIGN(TreePatchInfo info, ReadTreePatch(MakePatch()));
  // Old tree in manifest order: img/logo.png, index.html, js/app.js,
  // js/vendor.1234.js, obsolete.txt.
  EXPECT_EQ(info.version, 2u);
  EXPECT_EQ(info.old_entries, 5u);
  EXPECT_EQ(info.new_entries, 6u);
  // Changed in place (same path and mode): named by old index, no path.
  std::vector<uint64_t> changed;
  std::map<std::string, TreePatchEntry> by_path;
  for (const auto& e : info.entries) {
    if (e.op == TreeOp::kChange) {
      changed.push_back(e.old_index);
    } else {
      by_path[e.entry.path] = e;
    }
  }
  EXPECT_EQ(changed, (std::vector<uint64_t>{1, 2}));  // index.html, app.js
  EXPECT_EQ(by_path.size(), 4u);  // nothing is unchanged in place
  EXPECT_EQ(by_path["assets/logo.png"].op, TreeOp::kCopy);
  EXPECT_EQ(by_path["assets/logo.png"].old_index, 0u);
  EXPECT_EQ(by_path["js/vendor.5678.js"].op, TreeOp::kContent);
  EXPECT_EQ(by_path["js/new-feature.js"].op, TreeOp::kContent);
  EXPECT_EQ(by_path["bin/run.sh"].op, TreeOp::kContent);
  EXPECT_EQ(by_path["bin/run.sh"].entry.mode, 0755u);
  EXPECT_FALSE(by_path.count("obsolete.txt"));
}

TEST_F(TreeDeltaTest, UnchangedFilesCostNextToNothing) {
  // 1,200 unchanged files around one changed file: the manifest is a few
  // run records, not a line (or a hash) per file.
  Rng rng(4);
  for (int i = 0; i < 1200; ++i) {
    std::string name = "lib/m" + std::to_string(i) + ".js";
    std::string body = rng.Text(300);
    WriteFile(dir_ / ("old/" + name), body);
    WriteFile(dir_ / ("new/" + name), i == 600 ? rng.Mutate(body, 2) : body);
  }
  std::string patch = MakePatch();
  STRATA_ASSERT_OK_AND_ASSIGN(TreePatchInfo info, ReadTreePatch(patch));
  size_t kept = 0;
  for (const auto& e : info.entries) {
    if (e.op == TreeOp::kKeep) kept += e.count;
  }
  EXPECT_EQ(kept, 1199u);
  EXPECT_LT(info.manifest_bytes, 400u);
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"));
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
}

TEST_F(TreeDeltaTest, ContentMovedBetweenFilesIsMatched) {
  // A file split in two under new names: the body finds both halves in
  // the old file although no old file shares a name with them.
  Rng rng(5);
  std::string big = rng.Bytes(200000);
  WriteFile(dir_ / "old/bundle.bin", big);
  WriteFile(dir_ / "new/part-a.bin", big.substr(0, 120000));
  WriteFile(dir_ / "new/part-b.bin", big.substr(120000) + "tail");
  std::string patch = MakePatch();
  STRATA_ASSERT_OK_AND_ASSIGN(TreePatchInfo info, ReadTreePatch(patch));
  EXPECT_LT(info.body_bytes, 5000u);  // vs 200 KB of incompressible bytes
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"));
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
}

TEST_F(TreeDeltaTest, OtherFormatVersionsAreAClearError) {
  std::string patch = MakePatch();
  for (char v : {'\x01', '\x03'}) {
    std::string other = patch;
    other[8] = v;
    EXPECT_THAT(
        ApplyTreePatch(fs_, dir_ / "old", other, dir_ / "stage"),
        StatusIs(absl::StatusCode::kDataLoss,
                 HasSubstr(v == 1 ? "version 1 is not supported (this build "
                                    "reads version 2); the patch was made by "
                                    "an older strata-diff"
                                  : "made by a newer strata-diff")));
    EXPECT_FALSE(fs::exists(dir_ / "stage"));
  }
}

TEST_F(TreeDeltaTest, AppliesFromAPatchFile) {
  WriteFile(dir_ / "tree.patch", MakePatch());
  STRATA_ASSERT_OK_AND_ASSIGN(auto file,
                              fs_.NewRandomAccessFile(dir_ / "tree.patch"));
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", *file, dir_ / "stage"));
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
}

TEST_F(TreeDeltaTest, PatchIsMuchSmallerThanTheNewTree) {
  std::string patch = MakePatch();
  STRATA_ASSERT_OK_AND_ASSIGN(TreePatchInfo info, ReadTreePatch(patch));
  EXPECT_LT(patch.size() * 10, info.new_tree_bytes);
}

TEST_F(TreeDeltaTest, StagingDirMustBeFresh) {
  std::string patch = MakePatch();
  fs::create_directories(dir_ / "stage");
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(fs::exists(dir_ / "stage"));
}

TEST_F(TreeDeltaTest, WrongOldTreeIsDataLossAndLeavesNothing) {
  std::string patch = MakePatch();
  WriteFile(dir_ / "old/js/app.js", "something else entirely");
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
}

TEST_F(TreeDeltaTest, ChangedKeptFileIsDataLoss) {
  std::string patch = MakePatch();
  std::string logo = ReadFile(dir_ / "old/img/logo.png");
  logo[0] ^= 1;
  WriteFile(dir_ / "old/img/logo.png", logo);
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
}

TEST_F(TreeDeltaTest, EveryTruncationIsDataLossAndLeavesNothing) {
  std::string patch = MakePatch();
  for (size_t n = 0; n < patch.size(); n += 1 + n / 8) {
    EXPECT_THAT(
        ApplyTreePatch(fs_, dir_ / "old", patch.substr(0, n), dir_ / "stage"),
        StatusIs(absl::StatusCode::kDataLoss))
        << n;
    ASSERT_FALSE(fs::exists(dir_ / "stage")) << n;
  }
}

TEST_F(TreeDeltaTest, CorruptBytesNeverYieldAWrongTree) {
  std::string patch = MakePatch();
  Rng rng(3);
  for (int i = 0; i < 200; ++i) {
    std::string bad = patch;
    size_t pos = rng.Uniform(bad.size());
    bad[pos] = static_cast<char>(bad[pos] ^ (1 + rng.Uniform(255)));
    absl::Status s = ApplyTreePatch(fs_, dir_ / "old", bad, dir_ / "stage");
    if (s.ok()) {
      ExpectTreesEqual(dir_ / "new", dir_ / "stage");
      fs::remove_all(dir_ / "stage");
    } else {
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss)) << pos;
      ASSERT_FALSE(fs::exists(dir_ / "stage"));
    }
  }
}

TEST_F(TreeDeltaTest, TotalSizeLimit) {
  std::string patch = MakePatch();
  TreeApplyOptions o;
  o.max_total_size = 1000;
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage", o),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
}

TEST_F(TreeDeltaTest, SymlinksInsideTheTreeRoundTrip) {
  fs::create_symlink("../js/app.js", dir_ / "new/bin/app-link");
  std::string patch = MakePatch();
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"));
  EXPECT_TRUE(fs::is_symlink(dir_ / "stage/bin/app-link"));
  EXPECT_EQ(fs::read_symlink(dir_ / "stage/bin/app-link"), "../js/app.js");
}

TEST_F(TreeDeltaTest, FailureAfterStagingASymlinkLeavesNothing) {
  // "a-link" sorts (and is staged) before "assets/logo.png" fails.
  fs::create_symlink("js", dir_ / "new/a-link");
  std::string patch = MakePatch();
  std::string logo = ReadFile(dir_ / "old/img/logo.png");
  logo[0] ^= 1;
  WriteFile(dir_ / "old/img/logo.png", logo);
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir_ / "stage")));
}

TEST_F(TreeDeltaTest, SymlinkEscapingTheTreeIsRejected) {
  fs::create_symlink("../../etc/passwd", dir_ / "new/bin/evil");
  EXPECT_THAT(
      CreateTreePatch(fs_, dir_ / "old", dir_ / "new"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("climbs above")));
  fs::remove(dir_ / "new/bin/evil");
  fs::create_symlink("/etc/passwd", dir_ / "new/bin/evil");
  EXPECT_THAT(
      CreateTreePatch(fs_, dir_ / "old", dir_ / "new"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute")));
}

TEST_F(TreeDeltaTest, IdenticalTreesMakeATinyPatch) {
  std::string patch = CreateTreePatch(fs_, dir_ / "old", dir_ / "old").value();
  EXPECT_LT(patch.size(), 600u);
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"));
  ExpectTreesEqual(dir_ / "old", dir_ / "stage");
}

TEST(TreeDeltaMemTest, WorksOnAnInjectedFileSystem) {
  ::strata::testing::MemFileSystem mem;
  Rng rng(2);
  std::string a = rng.Text(50000);
  STRATA_ASSERT_OK(CreateDirs(mem, "/old/x"));
  STRATA_ASSERT_OK(CreateDirs(mem, "/new/y"));
  STRATA_ASSERT_OK(WriteFileAtomically(mem, "/old/x/a.js", a));
  STRATA_ASSERT_OK(WriteFileAtomically(mem, "/new/y/a.js", rng.Mutate(a, 9)));
  STRATA_ASSERT_OK(WriteFileAtomically(mem, "/new/b.txt", "b"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                              CreateTreePatch(mem, "/old", "/new"));
  STRATA_ASSERT_OK(ApplyTreePatch(mem, "/old", patch, "/stage"));
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest want, ScanTree(mem, "/new"));
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest got, ScanTree(mem, "/stage"));
  EXPECT_TRUE(want == got);
}

TEST(TreePathTest, ValidPaths) {
  for (const char* p : {"a", "a/b", "a.b/c-d_e", "...", "a/..b", ".hidden"}) {
    EXPECT_THAT(ValidateTreePath(p), IsOk()) << p;
  }
}

TEST(TreePathTest, InvalidPaths) {
  for (const char* p : {"", "/abs", "a/../b", "..", ".", "a/./b", "a//b", "a/",
                        "a\\b", "a\nb"}) {
    EXPECT_THAT(ValidateTreePath(p),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << p;
  }
}

TEST(TreePathTest, LinkTargets) {
  EXPECT_THAT(ValidateLinkTarget("a/b/link", "../c"), IsOk());
  EXPECT_THAT(ValidateLinkTarget("a/b/link", "../../c"), IsOk());
  EXPECT_THAT(ValidateLinkTarget("a/b/link", "../../../c"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateLinkTarget("link", "x/../../y"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateLinkTarget("link", "/etc"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateLinkTarget("link", "./x"), IsOk());
}

}  // namespace
}  // namespace strata::diff
