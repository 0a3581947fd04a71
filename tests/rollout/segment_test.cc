#include "strata/rollout/segment.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::rollout {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

DeviceAttributes User(std::string id, std::string os = "android") {
  DeviceAttributes d;
  d.user_id = std::move(id);
  d.os = std::move(os);
  return d;
}

TEST(SegmentTest, DefaultIsEveryone) {
  Segment s;
  EXPECT_EQ(s.name(), "everyone");
  EXPECT_EQ(s.Match(User("a")), SegmentMatch::kMatched);
  EXPECT_EQ(s.Match(DeviceAttributes()), SegmentMatch::kMatched);
}

TEST(SegmentTest, ExpressionDecidesWithoutLists) {
  STRATA_ASSERT_OK_AND_ASSIGN(Segment s,
                              Segment::Create("android", R"(os == "android")"));
  EXPECT_EQ(s.Match(User("a")), SegmentMatch::kMatched);
  EXPECT_EQ(s.Match(User("a", "ios")), SegmentMatch::kNotMatched);
  EXPECT_TRUE(s.Includes(User("a")));
  EXPECT_FALSE(s.Includes(User("a", "ios")));
}

TEST(SegmentTest, AllowBypassesExpressionAndDenyWins) {
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet allow,
                              UserIdSet::FromIds({"tester", "both"}));
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet deny,
                              UserIdSet::FromIds({"vip", "both"}));
  STRATA_ASSERT_OK_AND_ASSIGN(
      Segment s, Segment::Create("android", R"(os == "android")", allow, deny));
  EXPECT_EQ(s.Match(User("tester", "ios")), SegmentMatch::kAllowed);
  EXPECT_TRUE(s.Includes(User("tester", "ios")));
  EXPECT_EQ(s.Match(User("vip")), SegmentMatch::kDenied);
  EXPECT_FALSE(s.Includes(User("vip")));
  EXPECT_EQ(s.Match(User("both")), SegmentMatch::kDenied);
  EXPECT_EQ(s.Match(User("other")), SegmentMatch::kMatched);
  // No user id: lists do not apply.
  EXPECT_EQ(s.Match(User("")), SegmentMatch::kMatched);
}

TEST(SegmentTest, CompileErrorsNameTheSegment) {
  EXPECT_THAT(Segment::Create("beta-cn", R"(region in ["CN-31")"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("segment 'beta-cn': expected ',' or ']' at "
                                 "column 19")));
  EXPECT_THAT(Segment::Create("bad name", "true"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("segment name 'bad name'")));
}

TEST(UserIdSetTest, ParsesLinesTrimsAndSkipsComments) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      UserIdSet s,
      UserIdSet::Parse("# testers\n  alice \r\nbob\n\n\tcarol\nbob\n"));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.Contains("alice"));
  EXPECT_TRUE(s.Contains("bob"));
  EXPECT_TRUE(s.Contains("carol"));
  EXPECT_FALSE(s.Contains("# testers"));
  EXPECT_FALSE(s.Contains(""));
  EXPECT_TRUE(UserIdSet().empty());
}

TEST(UserIdSetTest, RejectsBadLinesWithTheirNumber) {
  EXPECT_THAT(UserIdSet::Parse("alice\nbob smith\n", "allow.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "allow.txt line 2: user id contains whitespace or a "
                       "control character; put one id per line"));
  EXPECT_THAT(UserIdSet::Parse(std::string(257, 'x'), "deny.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "deny.txt line 1: user id is 257 bytes long; the limit "
                       "is 256"));
  EXPECT_THAT(UserIdSet::FromIds({"a\nb"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("contains a line break")));
}

TEST(UserIdSetTest, LoadsAFileOf100kIds) {
  strata::testing::MemFileSystem fs;
  STRATA_ASSERT_OK(CreateDirs(fs, "/lists"));
  std::string text;
  for (int i = 0; i < 120'000; ++i) text += StrCat("user-", i * 7, "\n");
  STRATA_ASSERT_OK(WriteFileAtomically(fs, "/lists/allow.txt", text));
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet s,
                              UserIdSet::LoadFile(fs, "/lists/allow.txt"));
  EXPECT_EQ(s.size(), 120'000u);
  EXPECT_TRUE(s.Contains("user-0"));
  EXPECT_TRUE(s.Contains("user-839993"));
  EXPECT_FALSE(s.Contains("user-1"));
  UserIdSet copy = s;  // shares storage
  EXPECT_TRUE(copy.Contains("user-7"));
}

TEST(UserIdSetTest, MissingFileNamesThePath) {
  strata::testing::MemFileSystem fs;
  EXPECT_THAT(UserIdSet::LoadFile(fs, "/nope.txt"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("reading user id list /nope.txt")));
}

}  // namespace
}  // namespace strata::rollout
