// Trees on the device (tree_store.h), on the real file system: unpacking a
// published tree, sharing unchanged files with the previous version by
// hard link, refusing archives that break the path rules with nothing
// left behind, collecting old versions and leftovers.
#include "tree_store.h"

#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/tree_delta.h"
#include "tree_testing.h"

namespace strata::client {
namespace {

using ::strata::client::tree_testing::Tar;
using ::strata::client::tree_testing::TarItem;
using ::strata::client::tree_testing::TempDir;
using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TreeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    ASSERT_THAT(trees_.Open(), IsOk());
  }
  // Writes `archive` as a file and returns its path and SHA-256.
  std::pair<std::string, std::string> Put(const std::string& archive) {
    const std::string sha = Sha256::HexHash(archive);
    const std::string path = JoinPath(tmp_.path(), sha + ".tar");
    EXPECT_THAT(WriteFileAtomically(*fs_, path, archive), IsOk());
    return {path, sha};
  }
  std::string Read(const std::string& path) {
    return fs_->ReadFile(path).value_or("<missing>");
  }
  ino_t Inode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  }

  TempDir tmp_;
  FileSystem* fs_ = PosixFileSystem();
  TreeStore trees_{fs_, JoinPath(tmp_.path(), "trees")};
};

const std::vector<TarItem> kV1 = {
    {"index.html", "<h1>mall v1</h1>"},
    {"static/", "", '5'},
    {"static/app.js", "console.log('v1')"},
    {"static/logo.png", "PNG logo bytes"},
    {"bin/run.sh", "#!/bin/sh\n", '0', "", 0755},
    {"home.html", "", '2', "index.html"},
};
const std::vector<TarItem> kV2 = {
    {"index.html", "<h1>mall v2</h1>"},
    {"static/app.js", "console.log('v1')"},
    {"static/logo.png", "PNG logo bytes"},
    {"static/new.css", "body{}"},
};

TEST_F(TreeStoreTest, UnpacksFilesDirectoriesModesAndInsideSymlinks) {
  auto [path, sha] = Put(Tar(kV1));
  STRATA_ASSERT_OK_AND_ASSIGN(bool is_tree,
                              TreeStore::IsTreeArchive(*fs_, path));
  EXPECT_TRUE(is_tree);
  UnpackStats stats;
  ASSERT_THAT(trees_.Unpack(sha, path, std::nullopt, &stats), IsOk());
  const std::string dir = trees_.DirOf(sha);
  EXPECT_TRUE(trees_.Has(sha));
  EXPECT_EQ(Read(JoinPath(dir, "index.html")), "<h1>mall v1</h1>");
  EXPECT_EQ(Read(JoinPath(dir, "static/app.js")), "console.log('v1')");
  EXPECT_EQ(Read(JoinPath(dir, "home.html")), "<h1>mall v1</h1>");
  EXPECT_EQ(fs_->Stat(JoinPath(dir, "bin/run.sh"))->mode & 0777, 0755u);
  EXPECT_EQ(fs_->Stat(JoinPath(dir, "static/logo.png"))->mode & 0777, 0644u);
  EXPECT_EQ(stats.files, 4u);
  EXPECT_EQ(stats.linked, 0u);
  // The tree and its completion marker, nothing else.
  EXPECT_THAT(fs_->ListDir(JoinPath(tmp_.path(), "trees")).value(),
              ElementsAre(sha, sha + ".ok"));
}

TEST_F(TreeStoreTest, UnchangedFilesAreHardLinkedFromThePreviousTree) {
  auto [p1, sha1] = Put(Tar(kV1));
  auto [p2, sha2] = Put(Tar(kV2));
  ASSERT_THAT(trees_.Unpack(sha1, p1, std::nullopt), IsOk());
  UnpackStats stats;
  ASSERT_THAT(trees_.Unpack(sha2, p2, trees_.DirOf(sha1), &stats), IsOk());
  const std::string d1 = trees_.DirOf(sha1), d2 = trees_.DirOf(sha2);
  EXPECT_EQ(stats.files, 4u);
  EXPECT_EQ(stats.linked, 2u);  // app.js and logo.png
  EXPECT_EQ(Inode(JoinPath(d1, "static/app.js")),
            Inode(JoinPath(d2, "static/app.js")));
  EXPECT_NE(Inode(JoinPath(d1, "index.html")),
            Inode(JoinPath(d2, "index.html")));
  EXPECT_EQ(Read(JoinPath(d2, "index.html")), "<h1>mall v2</h1>");
  EXPECT_EQ(Read(JoinPath(d1, "index.html")), "<h1>mall v1</h1>");
  EXPECT_FALSE(fs_->Exists(JoinPath(d2, "bin/run.sh")));
}

TEST_F(TreeStoreTest, AChangedFileWithTheSameSizeIsNotShared) {
  auto [p1, sha1] = Put(Tar({{"a.js", "AAAA"}}));
  auto [p2, sha2] = Put(Tar({{"a.js", "BBBB"}}));
  ASSERT_THAT(trees_.Unpack(sha1, p1, std::nullopt), IsOk());
  UnpackStats stats;
  ASSERT_THAT(trees_.Unpack(sha2, p2, trees_.DirOf(sha1), &stats), IsOk());
  EXPECT_EQ(stats.linked, 0u);
  EXPECT_EQ(Read(JoinPath(trees_.DirOf(sha2), "a.js")), "BBBB");
}

// Archives `strata publish --dir` never writes: refused, naming the entry,
// with nothing left in trees/.
TEST_F(TreeStoreTest, ArchivesBreakingThePathRulesAreRefused) {
  const std::vector<std::pair<std::vector<TarItem>, std::string>> cases = {
      {{{"/etc/passwd", "x"}}, "/etc/passwd"},
      {{{"../escape.html", "x"}}, "escape.html"},
      {{{"a/../../b", "x"}}, "a/../../b"},
      {{{"out", "", '2', "../../etc/passwd"}}, "out"},
      {{{"abs", "", '2', "/etc/passwd"}}, "abs"},
      {{{"dev", "", '3'}}, "device"},
      {{{"fifo", "", '6'}}, "FIFO"},
      {{{"hard", "", '1', "index.html"}}, "hard link"},
      {{{"a\\b.html", "x"}}, "a\\b.html"},
      {{{"twice.html", "1"}, {"twice.html", "2"}}, "twice"},
      {{{"link", "", '2', "dir"}, {"dir/", "", '5'}, {"link/x", "x"}},
       "link/x"},
  };
  for (const auto& [items, named] : cases) {
    SCOPED_TRACE(named);
    auto [path, sha] = Put(Tar(items));
    absl::Status s = trees_.Unpack(sha, path, std::nullopt);
    EXPECT_THAT(s,
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(named)));
    EXPECT_THAT(s.message(), HasSubstr("strata publish --dir"));
    EXPECT_TRUE(fs_->ListDir(JoinPath(tmp_.path(), "trees"))->empty());
  }
}

TEST_F(TreeStoreTest, CollectKeepsOnlyTheNamedTreesAndRemovesLeftovers) {
  auto [p1, sha1] = Put(Tar(kV1));
  auto [p2, sha2] = Put(Tar(kV2));
  ASSERT_THAT(trees_.Unpack(sha1, p1, std::nullopt), IsOk());
  ASSERT_THAT(trees_.Unpack(sha2, p2, trees_.DirOf(sha1)), IsOk());
  // An interrupted unpack: a directory without its marker, also of a
  // version to keep.
  const std::string partial = std::string(64, 'a');
  const std::string leftover = JoinPath(tmp_.path(), "trees/" + partial);
  ASSERT_THAT(fs_->CreateDir(leftover), IsOk());
  ASSERT_THAT(WriteFileAtomically(*fs_, JoinPath(leftover, "x"), "x"), IsOk());
  ASSERT_THAT(trees_.Collect({sha2, partial}), IsOk());
  EXPECT_THAT(fs_->ListDir(JoinPath(tmp_.path(), "trees")).value(),
              ElementsAre(sha2, sha2 + ".ok"));
  // The shared files of the kept tree are intact.
  EXPECT_EQ(Read(JoinPath(trees_.DirOf(sha2), "static/app.js")),
            "console.log('v1')");
}

// Removing a tree removes its symlinks, never what they point to.
TEST_F(TreeStoreTest, CollectDoesNotFollowSymlinks) {
  auto [path, sha] = Put(Tar({{"data/", "", '5'},
                              {"data/keep.txt", "k"},
                              {"alias", "", '2', "data"}}));
  ASSERT_THAT(trees_.Unpack(sha, path, std::nullopt), IsOk());
  ASSERT_THAT(trees_.Collect({}), IsOk());
  EXPECT_TRUE(fs_->ListDir(JoinPath(tmp_.path(), "trees"))->empty());
}

TEST_F(TreeStoreTest, VerifyFindsAMissingOrChangedFile) {
  auto [path, sha] = Put(Tar(kV2));
  EXPECT_THAT(trees_.Verify(sha, path), IsOk());  // not unpacked: nothing
  ASSERT_THAT(trees_.Unpack(sha, path, std::nullopt), IsOk());
  EXPECT_THAT(trees_.Verify(sha, path), IsOk());
  const std::string css = JoinPath(trees_.DirOf(sha), "static/new.css");
  ASSERT_THAT(WriteFileAtomically(*fs_, css, "body{color:red}"), IsOk());
  EXPECT_THAT(trees_.Verify(sha, path),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("new.css")));
  ASSERT_THAT(fs_->DeleteFile(css), IsOk());
  EXPECT_THAT(trees_.Verify(sha, path),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("new.css")));
}

TEST_F(TreeStoreTest, UnpackingAnExistingTreeIsANoOp) {
  auto [path, sha] = Put(Tar(kV2));
  ASSERT_THAT(trees_.Unpack(sha, path, std::nullopt), IsOk());
  UnpackStats stats;
  ASSERT_THAT(trees_.Unpack(sha, path, std::nullopt, &stats), IsOk());
  EXPECT_EQ(stats.files, 0u);
}

// Two versions of a small tree for the tree-patch tests: one file edited,
// one kept, one added.
const std::map<std::string, std::string> kPatchV1 = {
    {"index.html", "<h1>v1</h1>"}, {"static/app.js", "console.log(1)"}};
const std::map<std::string, std::string> kPatchV2 = {
    {"index.html", "<h1>v2</h1>"},
    {"static/app.js", "console.log(1)"},
    {"static/new.css", "body{}"}};

// A tree patch builds the new tree beside the active one; the re-packed
// archive must be the signed one, or nothing is left.
TEST_F(TreeStoreTest, ApplyPatchBuildsTheTreeAndChecksTheRepackedArchive) {
  const std::string a1 = tree_testing::CanonicalTar(kPatchV1);
  const std::string a2 = tree_testing::CanonicalTar(kPatchV2);
  auto [path1, sha1] = Put(a1);
  ASSERT_THAT(trees_.Unpack(sha1, path1, std::nullopt), IsOk());
  diff::TreeDiffOptions per_file;  // the form stratad makes
  per_file.form = diff::TreePatchForm::kPerFile;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string patch, diff::CreateTreePatchFromArchives(a1, a2, per_file));
  const std::string patch_path = JoinPath(tmp_.path(), "patch");
  ASSERT_THAT(WriteFileAtomically(*fs_, patch_path, patch), IsOk());
  const std::string out = JoinPath(tmp_.path(), "out.tar");
  const std::string sha2 = Sha256::HexHash(a2);

  // The wrong signed hash (or size): refused, nothing left.
  const std::string wrong = Sha256::HexHash("something else");
  EXPECT_THAT(
      trees_.ApplyPatch(wrong, a2.size(), trees_.DirOf(sha1), patch_path, out),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("re-packs")));
  EXPECT_FALSE(fs_->Exists(trees_.DirOf(wrong)));
  EXPECT_FALSE(fs_->Exists(out));
  EXPECT_THAT(trees_.ApplyPatch(sha2, a2.size() + 1, trees_.DirOf(sha1),
                                patch_path, out),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(fs_->Exists(trees_.DirOf(sha2)));

  ASSERT_THAT(
      trees_.ApplyPatch(sha2, a2.size(), trees_.DirOf(sha1), patch_path, out),
      IsOk());
  EXPECT_EQ(Read(out), a2);
  EXPECT_FALSE(trees_.Has(sha2));  // complete only once marked
  ASSERT_THAT(trees_.MarkComplete(sha2), IsOk());
  EXPECT_TRUE(trees_.Has(sha2));
  EXPECT_EQ(Read(JoinPath(trees_.DirOf(sha2), "static/new.css")), "body{}");
  EXPECT_EQ(Inode(JoinPath(trees_.DirOf(sha1), "static/app.js")),
            Inode(JoinPath(trees_.DirOf(sha2), "static/app.js")));

  // A patch giving a file a mode no unpacked archive has (the re-packed
  // archive would not show it: only the execute bit is kept).
  const std::string odd = JoinPath(tmp_.path(), "odd");
  for (const auto& [path, data] : kPatchV2) {
    ASSERT_THAT(CreateDirs(*fs_, Dirname(JoinPath(odd, path))), IsOk());
    ASSERT_THAT(WriteFileAtomically(*fs_, JoinPath(odd, path), data), IsOk());
    ASSERT_THAT(fs_->SetPermissions(JoinPath(odd, path), 0644), IsOk());
  }
  ASSERT_THAT(fs_->SetPermissions(JoinPath(odd, "index.html"), 0666), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string odd_patch,
      diff::CreateTreePatch(*fs_, trees_.DirOf(sha1), odd));
  ASSERT_THAT(WriteFileAtomically(*fs_, patch_path, odd_patch), IsOk());
  EXPECT_THAT(trees_.ApplyPatch(sha2, a2.size(), trees_.DirOf(sha1), patch_path,
                                JoinPath(tmp_.path(), "o3")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("mode 0666")));
  EXPECT_FALSE(fs_->Exists(JoinPath(tmp_.path(), "o3")));
  ASSERT_THAT(WriteFileAtomically(*fs_, patch_path, patch), IsOk());

  // A base that changed behind the store's back: the patch does not apply.
  ASSERT_THAT(WriteFileAtomically(
                  *fs_, JoinPath(trees_.DirOf(sha1), "index.html"), "changed"),
              IsOk());
  EXPECT_THAT(
      trees_.ApplyPatch(sha2, a2.size(), trees_.DirOf(sha1), patch_path, out),
      StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(fs_->Exists(trees_.DirOf(sha2)));
  EXPECT_FALSE(trees_.Has(sha2));
}

// The archive form (a compact patch between the canonical archives) goes
// through the same checks and shares the unchanged files too.
TEST_F(TreeStoreTest, ApplyPatchTakesTheArchiveForm) {
  const std::string a1 = tree_testing::CanonicalTar(kPatchV1);
  const std::string a2 = tree_testing::CanonicalTar(kPatchV2);
  auto [path1, sha1] = Put(a1);
  ASSERT_THAT(trees_.Unpack(sha1, path1, std::nullopt), IsOk());
  diff::TreeDiffOptions archive;
  archive.form = diff::TreePatchForm::kArchive;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string patch, diff::CreateTreePatchFromArchives(a1, a2, archive));
  STRATA_ASSERT_OK_AND_ASSIGN(diff::TreePatchInfo info,
                              diff::ReadTreePatch(patch));
  ASSERT_TRUE(info.archive_form);
  const std::string patch_path = JoinPath(tmp_.path(), "patch");
  ASSERT_THAT(WriteFileAtomically(*fs_, patch_path, patch), IsOk());
  const std::string out = JoinPath(tmp_.path(), "out.tar");
  const std::string sha2 = Sha256::HexHash(a2);
  EXPECT_THAT(trees_.ApplyPatch(Sha256::HexHash("other"), a2.size(),
                                trees_.DirOf(sha1), patch_path, out),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("re-packs")));
  EXPECT_FALSE(fs_->Exists(out));
  // Another size than the signed one: refused before the archive is built.
  EXPECT_THAT(trees_.ApplyPatch(sha2, a2.size() + 512, trees_.DirOf(sha1),
                                patch_path, out),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("not the " + std::to_string(a2.size() + 512) +
                                 " bytes expected")));
  EXPECT_FALSE(fs_->Exists(trees_.DirOf(sha2)));
  ASSERT_THAT(
      trees_.ApplyPatch(sha2, a2.size(), trees_.DirOf(sha1), patch_path, out),
      IsOk());
  EXPECT_EQ(Read(out), a2);
  ASSERT_THAT(trees_.MarkComplete(sha2), IsOk());
  EXPECT_EQ(Read(JoinPath(trees_.DirOf(sha2), "static/new.css")), "body{}");
  EXPECT_EQ(Inode(JoinPath(trees_.DirOf(sha1), "static/app.js")),
            Inode(JoinPath(trees_.DirOf(sha2), "static/app.js")));
}

// Elsewhere than on POSIX (the crash tests' in-memory file system) files
// are copied, and a symlink cannot be made.
TEST(TreeStoreMemTest, CopiesFilesAndRefusesSymlinksOffPosix) {
  strata::testing::MemFileSystem mem;
  TreeStore trees(&mem, "/s/trees");
  ASSERT_THAT(trees.Open(), IsOk());
  const std::string a1 = Tar(kV2);
  ASSERT_THAT(WriteFileAtomically(mem, "/s/a1", a1), IsOk());
  const std::string sha1 = Sha256::HexHash(a1);
  ASSERT_THAT(trees.Unpack(sha1, "/s/a1", std::nullopt), IsOk());
  EXPECT_EQ(mem.ReadFile("/s/trees/" + sha1 + "/static/new.css").value(),
            "body{}");
  const std::string a2 = Tar(kV1);
  ASSERT_THAT(WriteFileAtomically(mem, "/s/a2", a2), IsOk());
  EXPECT_THAT(
      trees.Unpack(Sha256::HexHash(a2), "/s/a2", std::nullopt),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("home.html")));
}

}  // namespace
}  // namespace strata::client
