// What `publish --dir` packs: the ignore rules (built-in and
// .strataignore), symlinks inside and outside the tree, special files, the
// size limit checked before reading, and a deterministic archive the
// server's ustar reader accepts.
#include "strata/admin_cli/tree_archive.h"

#include <sys/stat.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/ustar_reader.h"
#include "strata/diff/ustar_writer.h"

namespace strata::admin {
namespace {

using ::strata::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(IgnoreRulesTest, BuiltInRulesSkipDotAndVcsFiles) {
  IgnoreRules rules;
  for (const char* path : {".git", ".svn", ".hg", ".DS_Store", ".env",
                           "a/b/.cache", "CVS", "x/_darcs", "img/Thumbs.db"}) {
    EXPECT_TRUE(rules.Ignored(path, false)) << path;
  }
  for (const char* path : {"index.html", "a/b.c", "git", "x.hg"}) {
    EXPECT_FALSE(rules.Ignored(path, false)) << path;
  }
}

TEST(IgnoreRulesTest, GitignoreLikePatterns) {
  absl::StatusOr<IgnoreRules> rules = IgnoreRules::Parse(
      "# comment\n"
      "\n"
      "*.log\n"
      "build/\n"
      "/top.txt\n"
      "docs/*.md\n"
      "**/tmp\n"
      "assets/**\n"
      "!assets/keep.png\n"
      "!.well-known/\n"
      "file[0-9].bin   \r\n"
      "\\#hash\n",
      ".strataignore");
  ASSERT_TRUE(rules.ok()) << rules.status();
  struct Case {
    const char* path;
    bool dir;
    bool ignored;
  } cases[] = {
      {"debug.log", false, true},
      {"a/b/x.log", false, true},
      {"build", true, true},
      {"build", false, false},
      {"src/build", true, true},
      {"top.txt", false, true},
      {"sub/top.txt", false, false},
      {"docs/a.md", false, true},
      {"docs/sub/a.md", false, false},
      {"tmp", true, true},
      {"a/b/tmp", false, true},
      {"assets/x.png", false, true},
      {"assets/keep.png", false, false},
      {"assets", true, false},
      {".well-known", true, false},
      {".well-known", false, true},
      {"file7.bin", false, true},
      {"fileX.bin", false, false},
      {"#hash", false, true},
      {"index.html", false, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(rules->Ignored(c.path, c.dir), c.ignored) << c.path;
  }
  EXPECT_THAT(IgnoreRules::Parse("ok\n!\n", "F"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("F:2: '!': the pattern is empty")));
}

class PackTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata-pack-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    (void)DeleteRecursively(*PosixFileSystem(), root_);
  }
  void Write(const std::string& rel, const std::string& data) {
    const std::string path = JoinPath(root_, rel);
    ASSERT_TRUE(CreateDirs(*PosixFileSystem(), Dirname(path)).ok());
    ASSERT_TRUE(WriteFileAtomically(*PosixFileSystem(), path, data).ok());
  }
  void Link(const std::string& target, const std::string& rel) {
    ASSERT_EQ(::symlink(target.c_str(), JoinPath(root_, rel).c_str()), 0);
  }
  std::vector<std::string> Paths(const PackedTree& t) {
    std::vector<std::string> out;
    for (const PackedEntry& e : t.entries) out.push_back(e.path);
    return out;
  }
  std::string root_;
};

TEST_F(PackTreeTest, SkipsIgnoredPathsAndKeepsInsideLinksAsLinks) {
  Write("index.html", "<html>");
  Write("js/app.js", "app");
  Write(".git/config", "secret");
  Write(".DS_Store", "x");
  Write("build/out.js", "gen");
  Write("notes.log", "log");
  Write(".well-known/a.json", "{}");
  Write(".strataignore", "build/\n*.log\n!.well-known/\n");
  Link("index.html", "latest");
  Link("../index.html", "js/up");  // climbs into the tree's root: inside
  absl::StatusOr<PackedTree> t = PackTree(*PosixFileSystem(), root_);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Paths(*t), ElementsAre(".well-known/a.json", "index.html",
                                     "js/app.js", "js/up", "latest"));
  EXPECT_THAT(t->skipped, ElementsAre(".DS_Store", ".git/", ".strataignore",
                                      "build/", "notes.log"));
  EXPECT_EQ(t->entries[4].link_target, "index.html");
  // The server's reader takes it as it is.
  auto entries = diff::UstarReader::Read(t->archive);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ((*entries)[3].type, diff::UstarEntry::Type::kSymlink);
  EXPECT_EQ((*entries)[3].link_target, "../index.html");
  // Same tree, same bytes.
  EXPECT_EQ(PackTree(*PosixFileSystem(), root_)->archive, t->archive);
  // Canonical (diff/ustar_writer.h): the bytes a device rebuilds from the
  // files it unpacked, also with an owner-only executable.
  EXPECT_TRUE(diff::IsCanonicalUstar(t->archive));
  ASSERT_EQ(::chmod(JoinPath(root_, "js/app.js").c_str(), 0700), 0);
  absl::StatusOr<PackedTree> x = PackTree(*PosixFileSystem(), root_);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_NE(x->archive, t->archive);
  EXPECT_TRUE(diff::IsCanonicalUstar(x->archive));
}

TEST_F(PackTreeTest, LinksLeavingTheTreeAreRefusedByName) {
  Write("index.html", "<html>");
  Link("/etc/hostname", "host");
  EXPECT_THAT(PackTree(*PosixFileSystem(), root_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("symlink 'host' -> '/etc/hostname' leaves "
                                 "the tree")));
  ASSERT_EQ(::unlink(JoinPath(root_, "host").c_str()), 0);
  Write("a/b.txt", "b");
  Link("../../x", "a/up");
  EXPECT_THAT(PackTree(*PosixFileSystem(), root_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("symlink 'a/up' -> '../../x' leaves the "
                                 "tree")));
  // A link to a directory outside is refused too (never followed). The
  // directory is this test's own: a test never links to system paths.
  ASSERT_EQ(::unlink(JoinPath(root_, "a/up").c_str()), 0);
  char tmpl[] = "/tmp/strata-pack-outside-XXXXXX";
  const std::string outside = ::mkdtemp(tmpl);
  ASSERT_TRUE(
      WriteFileAtomically(*PosixFileSystem(), JoinPath(outside, "f"), "f")
          .ok());
  Link(outside, "a/ext");
  EXPECT_THAT(PackTree(*PosixFileSystem(), root_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("symlink 'a/ext' -> '" + outside + "'")));
  ASSERT_EQ(::unlink(JoinPath(root_, "a/ext").c_str()), 0);
  EXPECT_TRUE(PosixFileSystem()->Exists(JoinPath(outside, "f")));
  (void)DeleteRecursively(*PosixFileSystem(), outside);
}

TEST_F(PackTreeTest, SpecialFilesAndEmptyTreesAreRefused) {
  Write("index.html", "<html>");
  ASSERT_EQ(::mkfifo(JoinPath(root_, "pipe").c_str(), 0644), 0);
  EXPECT_THAT(PackTree(*PosixFileSystem(), root_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cannot pack 'pipe': it is not a regular "
                                 "file")));
  ASSERT_EQ(::unlink(JoinPath(root_, "pipe").c_str()), 0);
  ASSERT_EQ(::unlink(JoinPath(root_, "index.html").c_str()), 0);
  Write(".env", "x");
  EXPECT_THAT(PackTree(*PosixFileSystem(), root_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds no files to publish (1 skipped")));
}

TEST_F(PackTreeTest, TheLimitIsCheckedFromSizesBeforeReading) {
  Write("a.bin", std::string(3000, 'a'));
  Write("b.bin", std::string(3000, 'b'));
  PackOptions small;
  small.max_bytes = 8000;
  EXPECT_THAT(PackTree(*PosixFileSystem(), root_, small),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("packs to 8192 bytes (2 entries); a publish "
                                 "is at most 8000 bytes")));
  small.max_bytes = 8192;
  EXPECT_TRUE(PackTree(*PosixFileSystem(), root_, small).ok());
}

TEST(PackTreeMemTest, WorksOnAnyFileSystem) {
  testing::MemFileSystem fs;
  ASSERT_TRUE(CreateDirs(fs, "/t/js").ok());
  ASSERT_TRUE(WriteFileAtomically(fs, "/t/js/a.js", "a").ok());
  ASSERT_TRUE(WriteFileAtomically(fs, "/t/.hidden", "h").ok());
  absl::StatusOr<PackedTree> t = PackTree(fs, "/t");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->entries.size(), 1u);
  EXPECT_EQ(t->entries[0].path, "js/a.js");
  EXPECT_THAT(t->skipped, ElementsAre(".hidden"));
}

}  // namespace
}  // namespace strata::admin
