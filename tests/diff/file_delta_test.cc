// The file layer: real files in temp dirs, and fault injection in memory.
#include "strata/diff/file_delta.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "strata/base/file_util.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"
#include "test_util.h"

namespace strata::diff {
namespace {

using ::strata::testing::StatusIs;
using testing::ReadFile;
using testing::Rng;
using testing::TempDir;
using testing::WriteFile;

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class FileDeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(42);
    old_data_ = rng.Text(300000);
    new_data_ = rng.Mutate(old_data_, 50);
    WriteFile(dir_ / "old", old_data_);
    WriteFile(dir_ / "new", new_data_);
    STRATA_ASSERT_OK(
        DiffFiles(fs_, dir_ / "old", dir_ / "new", dir_ / "patch"));
  }
  FileSystem& fs_ = *PosixFileSystem();
  TempDir dir_;
  std::string old_data_, new_data_;
};

TEST_F(FileDeltaTest, AppliesToAFile) {
  STRATA_ASSERT_OK(
      ApplyPatchFile(fs_, dir_ / "old", dir_ / "patch", dir_ / "out"));
  EXPECT_TRUE(ReadFile(dir_ / "out") == new_data_);
  EXPECT_THAT(Listing(dir_.path()),
              ::testing::ElementsAre("new", "old", "out", "patch"));
}

TEST_F(FileDeltaTest, BsdiffFormatThroughFiles) {
  DiffOptions o;
  o.format = PatchFormat::kBsdiff40;
  STRATA_ASSERT_OK(
      DiffFiles(fs_, dir_ / "old", dir_ / "new", dir_ / "bs.patch", o));
  STRATA_ASSERT_OK(
      ApplyPatchFile(fs_, dir_ / "old", dir_ / "bs.patch", dir_ / "out"));
  EXPECT_TRUE(ReadFile(dir_ / "out") == new_data_);
}

TEST_F(FileDeltaTest, CorruptPatchLeavesNoOutput) {
  std::string patch = ReadFile(dir_ / "patch");
  patch[patch.size() / 2] ^= 0x55;
  WriteFile(dir_ / "bad", patch);
  EXPECT_THAT(ApplyPatchFile(fs_, dir_ / "old", dir_ / "bad", dir_ / "out"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Listing(dir_.path()),
              ::testing::ElementsAre("bad", "new", "old", "patch"));
}

TEST_F(FileDeltaTest, TruncatedPatchLeavesNoOutput) {
  std::string patch = ReadFile(dir_ / "patch");
  for (size_t n : {size_t{0}, size_t{10}, size_t{159}, size_t{200},
                   patch.size() / 2, patch.size() - 1}) {
    WriteFile(dir_ / "bad", patch.substr(0, n));
    EXPECT_THAT(ApplyPatchFile(fs_, dir_ / "old", dir_ / "bad", dir_ / "out"),
                StatusIs(absl::StatusCode::kDataLoss))
        << n;
    EXPECT_FALSE(std::filesystem::exists(dir_ / "out"));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "out.strata-tmp"));
  }
}

TEST_F(FileDeltaTest, WrongBaseLeavesNoOutput) {
  std::string other = old_data_;
  other[1000] ^= 1;
  WriteFile(dir_ / "other", other);
  EXPECT_THAT(ApplyPatchFile(fs_, dir_ / "other", dir_ / "patch", dir_ / "out"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.strata-tmp"));
}

TEST_F(FileDeltaTest, ExistingOutputSurvivesAFailedApply) {
  WriteFile(dir_ / "out", "previous");
  WriteFile(dir_ / "bad", "garbage that is not a patch");
  EXPECT_THAT(ApplyPatchFile(fs_, dir_ / "old", dir_ / "bad", dir_ / "out"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(ReadFile(dir_ / "out"), "previous");
}

TEST_F(FileDeltaTest, SizeLimitIsEnforced) {
  ApplyOptions o;
  o.max_output_size = new_data_.size() - 1;
  EXPECT_THAT(
      ApplyPatchFile(fs_, dir_ / "old", dir_ / "patch", dir_ / "out", o),
      StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out"));
}

TEST_F(FileDeltaTest, MissingInputsAreReported) {
  EXPECT_FALSE(DiffFiles(fs_, dir_ / "nope", dir_ / "new", dir_ / "p2").ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "p2"));
  EXPECT_FALSE(
      ApplyPatchFile(fs_, dir_ / "nope", dir_ / "patch", dir_ / "out").ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out"));
}

// Fail every mutating file operation in turn: the output is either absent
// or complete and correct, never partial, and no temp file is left.
TEST(FileDeltaFaultTest, FailingEachOperationNeverLeavesPartialOutput) {
  Rng rng(7);
  std::string old_data = rng.Bytes(100000);
  std::string new_data = rng.Mutate(old_data, 30);
  for (uint64_t n = 1;; ++n) {
    ::strata::testing::MemFileSystem mem;
    STRATA_ASSERT_OK(mem.CreateDir("/d"));
    STRATA_ASSERT_OK(WriteFileAtomically(mem, "/d/old", old_data));
    STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                                CreatePatch(old_data, new_data));
    STRATA_ASSERT_OK(WriteFileAtomically(mem, "/d/patch", patch));
    ::strata::testing::FaultInjectionFileSystem faulty(&mem);
    faulty.FailNthMutation(n, /*crash=*/false);
    absl::Status s = ApplyPatchFile(faulty, "/d/old", "/d/patch", "/d/out");
    bool injected = faulty.mutation_count() >= n;
    auto out = mem.ReadFile("/d/out");
    if (s.ok()) {
      ASSERT_TRUE(out.ok());
      EXPECT_TRUE(*out == new_data);
    } else if (out.ok()) {
      // Only possible when the failure came after the rename.
      EXPECT_TRUE(*out == new_data)
          << "failure " << n << " left partial output";
    }
    EXPECT_FALSE(mem.Exists("/d/out.strata-tmp")) << "failure " << n;
    if (!injected) {
      STRATA_EXPECT_OK(s);
      break;
    }
  }
}

}  // namespace
}  // namespace strata::diff
