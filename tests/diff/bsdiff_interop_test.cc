// Interop with Debian's bsdiff/bspatch 4.3 (package `bsdiff`): patches made
// by either side apply with the other. The tools must be installed; a
// missing tool fails the test with a clear message rather than skipping.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "strata/base/testing/status_matchers.h"
#include "strata/diff/delta.h"
#include "strata/diff/file_delta.h"
#include "test_util.h"

namespace strata::diff {
namespace {

using testing::ReadFile;
using testing::Rng;
using testing::TempDir;
using testing::WriteFile;

constexpr const char* kBsdiff = "/usr/bin/bsdiff";
constexpr const char* kBspatch = "/usr/bin/bspatch";

int RunTool(const std::vector<std::string>& argv) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class BsdiffInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kBsdiff, X_OK), 0)
        << kBsdiff << " is missing: install Debian's `bsdiff` package "
        << "(apt-get install -y bsdiff; strata.sh does this)";
    ASSERT_EQ(access(kBspatch, X_OK), 0)
        << kBspatch << " is missing: install Debian's `bsdiff` package";
  }
  // Pairs: structured binary, text, and unrelated.
  std::vector<std::pair<std::string, std::string>> Pairs() {
    Rng rng(99);
    std::vector<std::pair<std::string, std::string>> pairs;
    std::string a = rng.Bytes(200000);
    pairs.emplace_back(a, rng.Mutate(a, 40));
    std::string t = rng.Text(300000);
    pairs.emplace_back(t, rng.Mutate(t, 60));
    pairs.emplace_back(rng.Bytes(5000), rng.Bytes(7000));
    pairs.emplace_back(rng.Bytes(100), std::string());
    return pairs;
  }
  TempDir dir_;
};

TEST_F(BsdiffInteropTest, PatchesFromDebianBsdiffApplyHere) {
  for (const auto& [old_data, new_data] : Pairs()) {
    if (new_data.empty())
      continue;  // Debian's bsdiff cannot mmap an empty file
    WriteFile(dir_ / "old", old_data);
    WriteFile(dir_ / "new", new_data);
    ASSERT_EQ(RunTool({kBsdiff, dir_ / "old", dir_ / "new", dir_ / "p"}), 0);
    std::string patch = ReadFile(dir_ / "p");
    STRATA_ASSERT_OK_AND_ASSIGN(PatchInfo info, ReadPatchInfo(patch));
    EXPECT_EQ(info.format, PatchFormat::kBsdiff40);
    STRATA_ASSERT_OK_AND_ASSIGN(std::string out,
                                ApplyPatchToString(old_data, patch));
    EXPECT_TRUE(out == new_data);
  }
}

TEST_F(BsdiffInteropTest, OurBsdiff40PatchesApplyWithDebianBspatch) {
  for (const auto& [old_data, new_data] : Pairs()) {
    DiffOptions o;
    o.format = PatchFormat::kBsdiff40;
    STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                                CreatePatch(old_data, new_data, o));
    WriteFile(dir_ / "old", old_data);
    WriteFile(dir_ / "p", patch);
    std::filesystem::remove(dir_ / "out");
    ASSERT_EQ(RunTool({kBspatch, dir_ / "old", dir_ / "out", dir_ / "p"}), 0);
    EXPECT_TRUE(ReadFile(dir_ / "out") == new_data);
  }
}

TEST_F(BsdiffInteropTest, TruncatedDebianPatchIsDataLoss) {
  Rng rng(5);
  std::string old_data = rng.Bytes(50000);
  WriteFile(dir_ / "old", old_data);
  WriteFile(dir_ / "new", rng.Mutate(old_data, 10));
  ASSERT_EQ(RunTool({kBsdiff, dir_ / "old", dir_ / "new", dir_ / "p"}), 0);
  std::string patch = ReadFile(dir_ / "p");
  for (size_t n :
       {size_t{10}, size_t{40}, patch.size() / 2, patch.size() - 1}) {
    EXPECT_THAT(ApplyPatchToString(old_data, patch.substr(0, n)),
                ::strata::testing::StatusIs(absl::StatusCode::kDataLoss));
  }
}

}  // namespace
}  // namespace strata::diff
