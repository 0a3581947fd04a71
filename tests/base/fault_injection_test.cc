#include "gtest/gtest.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::testing {
namespace {

TEST(FaultInjectionTest, FailsExactlyTheNthMutation) {
  MemFileSystem mem;
  FaultInjectionFileSystem fs(&mem);
  fs.FailNthMutation(2, /*crash=*/false);
  EXPECT_THAT(fs.CreateDir("/a"), IsOk());  // 1
  EXPECT_THAT(fs.CreateDir("/b"),
              StatusIs(absl::StatusCode::kUnavailable));  // 2
  EXPECT_THAT(fs.CreateDir("/c"), IsOk());                // 3
  EXPECT_FALSE(mem.Exists("/b"));
  EXPECT_EQ(fs.mutation_count(), 3u);
}

TEST(FaultInjectionTest, CrashModeFailsEverythingAfter) {
  MemFileSystem mem;
  FaultInjectionFileSystem fs(&mem);
  fs.FailNthMutation(1, /*crash=*/true);
  EXPECT_FALSE(fs.CreateDir("/a").ok());
  EXPECT_TRUE(fs.crashed());
  EXPECT_FALSE(fs.CreateDir("/b").ok());
  EXPECT_FALSE(fs.ReadFile("/x").ok());
  fs.Reset();
  EXPECT_THAT(fs.CreateDir("/b"), IsOk());
}

TEST(FaultInjectionTest, CountsOperationsThroughOpenFiles) {
  MemFileSystem mem;
  FaultInjectionFileSystem fs(&mem);
  fs.FailNthMutation(3, /*crash=*/false);
  auto f = fs.NewWritableFile("/f");  // 1
  ASSERT_THAT(f, IsOk());
  EXPECT_THAT((*f)->Append("a"), IsOk());                               // 2
  EXPECT_THAT((*f)->Sync(), StatusIs(absl::StatusCode::kUnavailable));  // 3
  EXPECT_THAT((*f)->Close(), IsOk());                                   // 4
}

}  // namespace
}  // namespace strata::testing
