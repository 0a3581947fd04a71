// The strata-diff binary: subcommands, exit codes, messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "strata/base/sha256.h"
#include "test_util.h"

namespace strata::diff {
namespace {

using ::testing::HasSubstr;
using testing::ReadFile;
using testing::Rng;
using testing::TempDir;
using testing::WriteFile;

struct Result {
  int code;
  std::string output;  // stdout + stderr
};

class ToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("STRATA_BIN_DIR");
    ASSERT_NE(bin, nullptr) << "STRATA_BIN_DIR is not set (run via ctest)";
    tool_ = std::string(bin) + "/strata-diff";
    ASSERT_TRUE(std::filesystem::exists(tool_)) << tool_ << " is not built";
    Rng rng(3);
    old_ = rng.Text(100000);
    new_ = rng.Mutate(old_, 20);
    WriteFile(dir_ / "old", old_);
    WriteFile(dir_ / "new", new_);
  }
  Result Run(const std::string& args) {
    std::string cmd = tool_ + " " + args + " > " + (dir_ / "log") + " 2>&1";
    int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            ReadFile(dir_ / "log")};
  }
  std::string P(const std::string& name) { return dir_ / name; }

  TempDir dir_;
  std::string tool_, old_, new_;
};

TEST_F(ToolTest, HelpListsSubcommands) {
  Result r = Run("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.output, HasSubstr("diff"));
  EXPECT_THAT(r.output, HasSubstr("apply"));
  EXPECT_THAT(r.output, HasSubstr("info"));
  EXPECT_THAT(r.output, HasSubstr("Exit codes"));
}

TEST_F(ToolTest, DiffApplyInfoRoundTrip) {
  ASSERT_EQ(Run("diff " + P("old") + " " + P("new") + " " + P("p")).code, 0);
  Result a = Run("apply " + P("old") + " " + P("p") + " " + P("out"));
  ASSERT_EQ(a.code, 0) << a.output;
  EXPECT_TRUE(ReadFile(P("out")) == new_);
  Result i = Run("info " + P("p"));
  EXPECT_EQ(i.code, 0);
  // Small text: the compact zstd-prefix form (format version 3).
  EXPECT_THAT(i.output, HasSubstr("format: strata v3 (compact)"));
  EXPECT_THAT(i.output, HasSubstr("output check: in the patch"));
  EXPECT_THAT(i.output, HasSubstr("new size: " + std::to_string(new_.size())));
  ASSERT_EQ(Run("diff --method suffix-array " + P("old") + " " + P("new") +
                " " + P("p1"))
                .code,
            0);
  EXPECT_THAT(Run("info " + P("p1")).output,
              HasSubstr("format: strata v1, suffix-array"));
}

// --output-check caller: 4 bytes smaller, and applying needs the expected
// SHA-256 (exit 2 without it, 3 with a wrong one, nothing written).
TEST_F(ToolTest, CallerCheckedPatchNeedsTheExpectedHash) {
  ASSERT_EQ(Run("diff " + P("old") + " " + P("new") + " " + P("p")).code, 0);
  ASSERT_EQ(Run("diff --output-check caller " + P("old") + " " + P("new") +
                " " + P("pc"))
                .code,
            0);
  EXPECT_EQ(ReadFile(P("pc")).size() + 4, ReadFile(P("p")).size());
  EXPECT_THAT(Run("info " + P("pc")).output,
              HasSubstr("output check: by the caller"));
  Result r = Run("apply " + P("old") + " " + P("pc") + " " + P("out"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.output, HasSubstr("--expect-sha256"));
  EXPECT_FALSE(std::filesystem::exists(P("out")));
  const std::string wrong(64, 'a');
  r = Run("apply --expect-sha256 " + wrong + " " + P("old") + " " + P("pc") +
          " " + P("out"));
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("differs from the expected"));
  EXPECT_FALSE(std::filesystem::exists(P("out")));
  r = Run("apply --expect-sha256 " + Sha256::HexHash(new_) + " " + P("old") +
          " " + P("pc") + " " + P("out"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(ReadFile(P("out")) == new_);
  // A malformed hash is a usage error.
  EXPECT_EQ(Run("apply --expect-sha256 12 " + P("old") + " " + P("pc") + " " +
                P("out2"))
                .code,
            2);
}

TEST_F(ToolTest, Bsdiff40Format) {
  ASSERT_EQ(
      Run("diff --format bsdiff40 " + P("old") + " " + P("new") + " " + P("p"))
          .code,
      0);
  EXPECT_EQ(ReadFile(P("p")).substr(0, 8), "BSDIFF40");
  ASSERT_EQ(Run("apply " + P("old") + " " + P("p") + " " + P("out")).code, 0);
  EXPECT_TRUE(ReadFile(P("out")) == new_);
}

TEST_F(ToolTest, TruncatedPatchExitsWithThreeAndNoOutput) {
  ASSERT_EQ(Run("diff " + P("old") + " " + P("new") + " " + P("p")).code, 0);
  std::string p = ReadFile(P("p"));
  WriteFile(P("bad"), p.substr(0, p.size() - 3));
  Result r = Run("apply " + P("old") + " " + P("bad") + " " + P("out"));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.output, HasSubstr("damaged or truncated"));
  EXPECT_FALSE(std::filesystem::exists(P("out")));
  EXPECT_EQ(Run("info " + P("nothing-here")).code, 1);
}

TEST_F(ToolTest, WrongBaseExitsWithThree) {
  ASSERT_EQ(Run("diff " + P("old") + " " + P("new") + " " + P("p")).code, 0);
  Result r = Run("apply " + P("new") + " " + P("p") + " " + P("out"));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.output, HasSubstr("does not apply to this old file"));
}

TEST_F(ToolTest, SizeLimitExitsWithFour) {
  ASSERT_EQ(Run("diff " + P("old") + " " + P("new") + " " + P("p")).code, 0);
  Result r =
      Run("apply --max-size 10 " + P("old") + " " + P("p") + " " + P("out"));
  EXPECT_EQ(r.code, 4);
}

TEST_F(ToolTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(Run("").code, 2);
  EXPECT_EQ(Run("diff onlyone").code, 2);
  EXPECT_EQ(Run("diff --level 99 a b c").code, 2);
}

TEST_F(ToolTest, TreeDiffAndApply) {
  WriteFile(P("t1/a.txt"), old_);
  WriteFile(P("t1/b.txt"), "b");
  WriteFile(P("t2/a.txt"), new_);
  WriteFile(P("t2/c/d.txt"), "d");
  ASSERT_EQ(Run("diff " + P("t1") + " " + P("t2") + " " + P("tp")).code, 0);
  Result r = Run("apply " + P("t1") + " " + P("tp") + " " + P("t3"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(ReadFile(P("t3/a.txt")) == new_);
  EXPECT_EQ(ReadFile(P("t3/c/d.txt")), "d");
  EXPECT_FALSE(std::filesystem::exists(P("t3/b.txt")));
  Result i = Run("info --list " + P("tp"));
  EXPECT_EQ(i.code, 0);
  EXPECT_THAT(i.output, HasSubstr("strata tree patch v2"));
  EXPECT_THAT(i.output, HasSubstr("content c/d.txt"));
  EXPECT_THAT(i.output, HasSubstr("1 changed, 1 new"));
  EXPECT_EQ(Run("apply " + P("t1") + " " + P("tp") + " " + P("t3")).code, 5);
}

TEST_F(ToolTest, TreeFormIsChosenByFlag) {
  WriteFile(P("t1/a.txt"), old_);
  WriteFile(P("t1/b.txt"), "b");
  WriteFile(P("t2/a.txt"), new_);
  WriteFile(P("t2/c/d.txt"), "d");
  Result d = Run("diff --tree-form archive " + P("t1") + " " + P("t2") + " " +
                 P("ta"));
  ASSERT_EQ(d.code, 0) << d.output;
  Result i = Run("info " + P("ta"));
  EXPECT_EQ(i.code, 0);
  EXPECT_THAT(i.output, HasSubstr("strata tree patch v3 (archive form"));
  Result r = Run("apply " + P("t1") + " " + P("ta") + " " + P("t3"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(ReadFile(P("t3/a.txt")) == new_);
  EXPECT_EQ(ReadFile(P("t3/c/d.txt")), "d");
  EXPECT_FALSE(std::filesystem::exists(P("t3/b.txt")));
  ASSERT_EQ(Run("diff --tree-form per-file " + P("t1") + " " + P("t2") + " " +
                P("tp"))
                .code,
            0);
  EXPECT_THAT(Run("info " + P("tp")).output, HasSubstr("strata tree patch v2"));
  // --expect-sha256 names the new canonical archive for the archive form,
  // and is refused for the per-file form (which checks its own digest).
  const std::string other(64, 'a');
  Result e = Run("apply --expect-sha256 " + other + " " + P("t1") + " " +
                 P("ta") + " " + P("t4"));
  EXPECT_EQ(e.code, 3) << e.output;
  EXPECT_FALSE(std::filesystem::exists(P("t4")));
  Result e2 = Run("apply --expect-sha256 " + other + " " + P("t1") + " " +
                  P("tp") + " " + P("t4"));
  EXPECT_EQ(e2.code, 2);
  EXPECT_THAT(e2.output, HasSubstr("this per-file tree patch checks"));
  // Auto keeps the smaller of the two.
  ASSERT_EQ(Run("diff " + P("t1") + " " + P("t2") + " " + P("tx")).code, 0);
  EXPECT_EQ(ReadFile(P("tx")).size(),
            std::min(ReadFile(P("ta")).size(), ReadFile(P("tp")).size()));
  Result f = Run("diff --tree-form archive " + P("old") + " " + P("new") + " " +
                 P("fp"));
  EXPECT_EQ(f.code, 2);
  EXPECT_THAT(f.output, HasSubstr("--tree-form is for directories"));
  // Mode 0600 cannot be archived: a clear refusal, nothing written.
  WriteFile(P("t2/key"), "k");
  std::filesystem::permissions(P("t2/key"), std::filesystem::perms(0600));
  Result m = Run("diff --tree-form archive " + P("t1") + " " + P("t2") + " " +
                 P("tm"));
  EXPECT_NE(m.code, 0);
  EXPECT_THAT(m.output, HasSubstr("key has mode 0600"));
  EXPECT_FALSE(std::filesystem::exists(P("tm")));
}

}  // namespace
}  // namespace strata::diff
