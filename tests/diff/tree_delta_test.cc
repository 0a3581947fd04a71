// File-tree deltas: real directories in temp dirs, plus path validation.
#include "strata/diff/tree_delta.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/ustar_writer.h"
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

  // The per-file form unless asked (the archive form has its own tests).
  std::string MakePatch(TreePatchForm form = TreePatchForm::kPerFile) {
    TreeDiffOptions o;
    o.form = form;
    auto p = CreateTreePatch(fs_, dir_ / "old", dir_ / "new", o);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : std::string();
  }

  // Applies `patch` with one random byte changed, 200 times: each is
  // refused (kDataLoss; kResourceExhausted too when `limits`, for a size
  // field made larger) leaving nothing, or builds exactly the new tree.
  // Returns how many were refused.
  int ApplyCorrupted(const std::string& patch, bool limits) {
    Rng rng(3);
    int refused = 0;
    for (int i = 0; i < 200; ++i) {
      std::string bad = patch;
      size_t pos = rng.Uniform(bad.size());
      bad[pos] = static_cast<char>(bad[pos] ^ (1 + rng.Uniform(255)));
      absl::Status s = ApplyTreePatch(fs_, dir_ / "old", bad, dir_ / "stage");
      if (s.ok()) {
        ExpectTreesEqual(dir_ / "new", dir_ / "stage");
        fs::remove_all(dir_ / "stage");
        continue;
      }
      ++refused;
      if (limits && s.code() == absl::StatusCode::kResourceExhausted) {
        EXPECT_FALSE(fs::exists(dir_ / "stage"));
        continue;
      }
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss)) << pos;
      EXPECT_FALSE(fs::exists(dir_ / "stage"));
    }
    return refused;
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

TEST_F(TreeDeltaTest, ApplyAndScanReturnsTheStagedTree) {
  for (TreePatchForm form :
       {TreePatchForm::kPerFile, TreePatchForm::kArchive}) {
    const std::string bytes = MakePatch(form);
    MemoryRandomAccessFile patch(bytes);
    fs::remove_all(dir_ / "stage");
    STRATA_ASSERT_OK_AND_ASSIGN(
        TreeManifest staged,
        ApplyTreePatchAndScan(fs_, dir_ / "old", patch, dir_ / "stage"));
    STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest want, ScanTree(fs_, dir_ / "new"));
    EXPECT_TRUE(staged == want);
  }
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
  ApplyCorrupted(MakePatch(), /*limits=*/false);
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

// The scan hands back the bytes it hashed, every file's in manifest order
// in one buffer, so the maker reads each file once; a symlink adds none.
TEST_F(TreeDeltaTest, ScanKeepsTheBytesItHashed) {
  fs::create_symlink("../js/app.js", dir_ / "new/bin/app-link");
  std::string files;
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest with,
                              ScanTree(fs_, dir_ / "new", &files));
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest without,
                              ScanTree(fs_, dir_ / "new"));
  EXPECT_TRUE(with == without);
  size_t at = 0;
  int links = 0;
  for (const TreeEntry& e : with) {
    if (e.type == EntryType::kSymlink) {
      ++links;
      continue;
    }
    ASSERT_LE(at + e.size, files.size()) << e.path;
    const std::string bytes = files.substr(at, e.size);
    EXPECT_EQ(bytes, ReadFile(dir_ / ("new/" + e.path))) << e.path;
    EXPECT_TRUE(Sha256::Hash(bytes) == e.sha256) << e.path;
    at += e.size;
  }
  EXPECT_EQ(at, files.size());
  EXPECT_EQ(links, 1);
}

// A FIFO would block the scan's read: it is refused, naming it.
TEST_F(TreeDeltaTest, SpecialFilesAreRefused) {
  ASSERT_EQ(::mkfifo((dir_ / "new/js/pipe").c_str(), 0600), 0);
  EXPECT_THAT(ScanTree(fs_, dir_ / "new"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("js/pipe is not a regular file")));
  TreeDiffOptions o;
  EXPECT_THAT(CreateTreePatch(fs_, dir_ / "old", dir_ / "new", o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a regular file")));
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

// The archive form: a compact patch between the trees' canonical ustar
// archives, rebuilt and unpacked by the applier.
class TreeArchiveFormTest : public TreeDeltaTest {
 protected:
  // The canonical archive of a tree.
  std::string Archive(const std::string& root) {
    auto m = ScanTree(fs_, root);
    EXPECT_THAT(m, IsOk());
    StringSink sink;
    EXPECT_THAT(WriteCanonicalUstar(fs_, root, *m, sink).status(), IsOk());
    return sink.Release();
  }
};

TEST_F(TreeArchiveFormTest, RoundTripIsExactAndReadsAsTheArchiveForm) {
  std::string patch = MakePatch(TreePatchForm::kArchive);
  EXPECT_TRUE(IsTreePatch(patch));
  STRATA_ASSERT_OK_AND_ASSIGN(TreePatchInfo info, ReadTreePatch(patch));
  EXPECT_TRUE(info.archive_form);
  EXPECT_EQ(info.version, 3u);
  const std::string new_archive = Archive(dir_ / "new");
  EXPECT_EQ(info.archive_bytes, new_archive.size());
  EXPECT_THAT(info.NewManifest({}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"));
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
  EXPECT_EQ(
      fs::status(dir_ / "stage/bin/run.sh").permissions() & fs::perms::all,
      fs::perms(0755));
  // It is the compact patch of the two archives with its own version byte:
  // the file applier refuses it, saying what it is.
  std::string as_file = patch;
  as_file[1] = '\x03';
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string rebuilt, ApplyPatchToString(Archive(dir_ / "old"), as_file));
  EXPECT_EQ(rebuilt, new_archive);
  EXPECT_THAT(ApplyPatchToString(Archive(dir_ / "old"), patch),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("this is a tree patch (archive form)")));
}

TEST_F(TreeArchiveFormTest, NeverLargerThanTheArchivesOwnPatch) {
  // A small package (the demo's H5 sample in size): 4 files, one edited.
  // The per-file form loses here on its fixed header and manifest; auto
  // keeps the archive form: the compact patch of the canonical archives
  // (with its 4-byte output check), or smaller.
  TempDir small;
  Rng rng(7);
  std::string js = rng.Text(40000);
  for (std::string v : {"old/", "new/"}) {
    WriteFile(small / (v + "index.html"), "<html><script src=app.js>");
    WriteFile(small / (v + "style.css"), rng.Text(3000));
    WriteFile(small / (v + "strata-package.json"), "{\"name\": \"mall\"}");
  }
  WriteFile(small / "new/style.css", ReadFile(small / "old/style.css"));
  WriteFile(small / "old/app.js", js);
  WriteFile(small / "new/app.js", rng.Mutate(js, 3));
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string autop, CreateTreePatch(fs_, small / "old", small / "new"));
  TreeDiffOptions per_file;
  per_file.form = TreePatchForm::kPerFile;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string pf,
      CreateTreePatch(fs_, small / "old", small / "new", per_file));
  DiffOptions d;
  d.method = PatchMethod::kZstdPrefix;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string tar_patch,
      CreatePatch(Archive(small / "old"), Archive(small / "new"), d));
  EXPECT_LT(autop.size(), pf.size());
  EXPECT_LE(autop.size(), tar_patch.size());
  STRATA_ASSERT_OK_AND_ASSIGN(TreePatchInfo info, ReadTreePatch(autop));
  EXPECT_TRUE(info.archive_form);
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, small / "old", autop, small / "stage"));
  ExpectTreesEqual(small / "new", small / "stage");
  // On the fixture's larger trees auto keeps whichever form is smaller.
  std::string a = MakePatch(TreePatchForm::kAuto);
  EXPECT_EQ(a.size(), std::min(MakePatch(TreePatchForm::kArchive).size(),
                               MakePatch(TreePatchForm::kPerFile).size()));
}

TEST_F(TreeArchiveFormTest, TreesItCannotHoldKeepThePerFileForm) {
  WriteFile(dir_ / "new/secret.txt", "private");
  fs::permissions(dir_ / "new/secret.txt", fs::perms(0600));
  TreeDiffOptions o;
  o.form = TreePatchForm::kArchive;
  EXPECT_THAT(CreateTreePatch(fs_, dir_ / "old", dir_ / "new", o),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("secret.txt has mode 0600")));
  std::string patch = MakePatch(TreePatchForm::kAuto);
  STRATA_ASSERT_OK_AND_ASSIGN(TreePatchInfo info, ReadTreePatch(patch));
  EXPECT_FALSE(info.archive_form);
  fs::remove(dir_ / "new/secret.txt");
  // A path no ustar header can hold (a 120-byte name).
  WriteFile(dir_ / ("new/" + std::string(120, 'n')), "long");
  EXPECT_THAT(
      CreateTreePatch(fs_, dir_ / "old", dir_ / "new", o),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("new tree")));
  fs::remove(dir_ / ("new/" + std::string(120, 'n')));
  // Archives over the prefix window together.
  o.delta.prefix_window_log = 16;
  EXPECT_THAT(CreateTreePatch(fs_, dir_ / "old", dir_ / "new", o),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--prefix-window-log")));
}

TEST_F(TreeArchiveFormTest, UnchangedFilesAreLinkedWhenAsked) {
  std::string patch = MakePatch(TreePatchForm::kArchive);
  TreeApplyOptions o;
  o.link_unchanged = true;
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage", o));
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
  struct stat a, b;
  // logo.png moved unchanged: shared; index.html changed: its own.
  ASSERT_EQ(::stat((dir_ / "old/img/logo.png").c_str(), &a), 0);
  ASSERT_EQ(::stat((dir_ / "stage/assets/logo.png").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  ASSERT_EQ(::stat((dir_ / "old/index.html").c_str(), &a), 0);
  ASSERT_EQ(::stat((dir_ / "stage/index.html").c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);
}

TEST_F(TreeArchiveFormTest, WrongOrChangedOldTreeIsDataLossAndLeavesNothing) {
  std::string patch = MakePatch(TreePatchForm::kArchive);
  std::string app = ReadFile(dir_ / "old/js/app.js");
  WriteFile(dir_ / "old/js/app.js", "something else entirely");
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("does not apply to this old tree")));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
  WriteFile(dir_ / "old/js/app.js", app);
  // A mode the archive does not record is still part of the old tree's
  // identity only through its execute bit: 0600 archives as 0644.
  fs::permissions(dir_ / "old/index.html", fs::perms(0600));
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"));
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
  fs::remove_all(dir_ / "stage");
  fs::permissions(dir_ / "old/index.html", fs::perms(0755));
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
}

TEST_F(TreeArchiveFormTest, EveryTruncationIsDataLossAndLeavesNothing) {
  std::string patch = MakePatch(TreePatchForm::kArchive);
  for (size_t n = 0; n < patch.size(); n += 1 + n / 8) {
    absl::Status s =
        ApplyTreePatch(fs_, dir_ / "old", patch.substr(0, n), dir_ / "stage");
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss)) << n;
    ASSERT_FALSE(fs::exists(dir_ / "stage")) << n;
  }
}

TEST_F(TreeArchiveFormTest, CorruptBytesNeverYieldAWrongTree) {
  EXPECT_GT(ApplyCorrupted(MakePatch(TreePatchForm::kArchive),
                           /*limits=*/true),
            150);
}

TEST_F(TreeArchiveFormTest, LimitsAreCheckedBeforeAnythingIsWritten) {
  std::string patch = MakePatch(TreePatchForm::kArchive);
  TreeApplyOptions o;
  o.max_total_size = 1000;
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage", o),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
  o = {};
  o.max_entries = 3;
  EXPECT_THAT(
      ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage", o),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("6 entries")));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
  o = {};
  o.max_window_log = 16;  // the archives need 2^20 together
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage", o),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
}

// An archive-form patch whose archive a hostile maker chose: the applier
// reads the archive as untrusted (ustar_reader.h) and stages nothing.
TEST_F(TreeArchiveFormTest, AHostileArchiveIsRefusedAndStagesNothing) {
  const std::string old_archive = Archive(dir_ / "old");
  // One entry named `path` (a header made for a same-length safe name,
  // renamed, its checksum recomputed), then the end blocks.
  auto tar_with = [](const std::string& path, const std::string& data,
                     const std::string& link) {
    std::string safe(path.size(), 'x');
    auto h =
        CanonicalUstarHeader(safe, link.empty() ? data.size() : 0, false, link);
    EXPECT_THAT(h.status(), IsOk());
    std::string header = *h;
    header.replace(0, path.size(), path);
    std::fill(header.begin() + 148, header.begin() + 156, ' ');
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    char field[8];
    std::snprintf(field, sizeof field, "%06o", sum);
    header.replace(148, 7, std::string(field, 6) + '\0');
    std::string tar = header + data;
    tar.resize(UstarPadded(tar.size()) + 2 * kUstarBlock, '\0');
    return tar;
  };
  const struct {
    std::string path, data, link;
  } cases[] = {{"../evil", "owned", ""},
               {"a/../../evil", "owned", ""},
               {"link", "", "../../../etc"}};
  for (const auto& c : cases) {
    DiffOptions d;
    d.method = PatchMethod::kZstdPrefix;
    STRATA_ASSERT_OK_AND_ASSIGN(
        std::string patch,
        CreatePatch(old_archive, tar_with(c.path, c.data, c.link), d));
    ASSERT_EQ(patch[1], '\x03');
    patch[1] = '\x04';
    EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("its archive is not a valid tree")))
        << c.path;
    EXPECT_FALSE(fs::exists(dir_ / "stage"));
    EXPECT_FALSE(fs::exists(dir_ / "evil"));
    EXPECT_FALSE(fs::exists(dir_.path() + "/../evil"));
  }
}

TEST_F(TreeArchiveFormTest, TheCallerCanCheckTheNewArchive) {
  std::string patch = MakePatch(TreePatchForm::kArchive);
  const std::string new_archive = Archive(dir_ / "new");
  TreeApplyOptions o;
  o.expected_archive_sha256 = Sha256::Hash("another archive");
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage", o),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
  o = {};
  o.expected_archive_size = new_archive.size() + 1;
  EXPECT_THAT(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage", o),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("expected")));
  EXPECT_FALSE(fs::exists(dir_ / "stage"));
  o.expected_archive_size = new_archive.size();
  o.expected_archive_sha256 = Sha256::Hash(new_archive);
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage", o));
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
}

TEST_F(TreeArchiveFormTest, SymlinksRoundTrip) {
  fs::create_symlink("../js/app.js", dir_ / "new/bin/app-link");
  std::string patch = MakePatch(TreePatchForm::kArchive);
  STRATA_ASSERT_OK(ApplyTreePatch(fs_, dir_ / "old", patch, dir_ / "stage"));
  EXPECT_TRUE(fs::is_symlink(dir_ / "stage/bin/app-link"));
  EXPECT_EQ(fs::read_symlink(dir_ / "stage/bin/app-link"), "../js/app.js");
  ExpectTreesEqual(dir_ / "new", dir_ / "stage");
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
  // The scan's bytes on a file system other than the POSIX one, which is
  // read on one thread.
  std::string files;
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest with, ScanTree(mem, "/new", &files));
  ASSERT_EQ(with.size(), 2u);
  EXPECT_EQ(with[0].path, "b.txt");
  STRATA_ASSERT_OK_AND_ASSIGN(std::string a_new, mem.ReadFile("/new/y/a.js"));
  EXPECT_EQ(files, "b" + a_new);
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
