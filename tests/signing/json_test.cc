// strata::Json: strict parsing of untrusted bytes and TUF canonical form.
#include "strata/base/json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

TEST(JsonTest, ParsesAllTypes) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      Json j, Json::Parse(R"( {"a": [1, -2, true, false, null, "x\u00e9\n"],
                               "b": {"c": 9223372036854775807,
                                     "d": -9223372036854775808}} )"));
  ASSERT_TRUE(j.is_object());
  const Json::Array& a = j.Find("a")->as_array();
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a[0].as_int(), 1);
  EXPECT_EQ(a[1].as_int(), -2);
  EXPECT_TRUE(a[2].as_bool());
  EXPECT_TRUE(a[4].is_null());
  EXPECT_EQ(a[5].as_string(), "x\xc3\xa9\n");
  EXPECT_EQ(j.Find("b")->Find("c")->as_int(), INT64_MAX);
  EXPECT_EQ(j.Find("b")->Find("d")->as_int(), INT64_MIN);
}

TEST(JsonTest, CanonicalFormSortsKeysAndEscapesOnlyQuoteAndBackslash) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      Json j, Json::Parse(R"({"b": 1, "a": {"z": [], "y": "q\"\\\n/"},
                              "A": true})"));
  EXPECT_EQ(j.Canonical(),
            "{\"A\":true,\"a\":{\"y\":\"q\\\"\\\\\n/\",\"z\":[]},"
            "\"b\":1}");
  // Dump() escapes control characters so it re-parses.
  EXPECT_EQ(j.Dump(),
            "{\"A\":true,\"a\":{\"y\":\"q\\\"\\\\\\n/\",\"z\":[]},"
            "\"b\":1}");
  STRATA_ASSERT_OK_AND_ASSIGN(Json back, Json::Parse(j.Dump()));
  EXPECT_EQ(back, j);
}

TEST(JsonTest, KeysSortByBytes) {
  Json j = Json::MakeObject();
  j["\xc3\xa9"] = 1;
  j["z"] = 2;
  j["Z"] = 3;
  EXPECT_EQ(j.Canonical(), "{\"Z\":3,\"z\":2,\"\xc3\xa9\":1}");
}

TEST(JsonTest, SurrogatePairsDecode) {
  STRATA_ASSERT_OK_AND_ASSIGN(Json j, Json::Parse(R"("\ud83d\ude00")"));
  EXPECT_EQ(j.as_string(), "\xf0\x9f\x98\x80");
}

struct BadCase {
  const char* text;
  const char* error;
};

class JsonRejectTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(JsonRejectTest, IsInvalidArgumentWithAClearMessage) {
  absl::StatusOr<Json> j = Json::Parse(GetParam().text);
  EXPECT_THAT(j, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr(GetParam().error)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, JsonRejectTest,
    ::testing::Values(
        BadCase{"", "unexpected end"}, BadCase{"{", "expected a string key"},
        BadCase{"[1,]", "unexpected character"},
        BadCase{"{\"a\":1,\"a\":2}", "duplicate object key \"a\""},
        BadCase{"1.5", "fractions and exponents"},
        BadCase{"1e3", "fractions and exponents"},
        BadCase{"01", "leading zeros"},
        BadCase{"9223372036854775808", "out of the 64-bit range"},
        BadCase{"-9223372036854775809", "out of the 64-bit range"},
        BadCase{"99999999999999999999999", "out of the 64-bit range"},
        BadCase{"\"a\nb\"", "control character"},
        BadCase{"\"\xff\"", "invalid UTF-8"},
        BadCase{"\"\xc0\xaf\"", "overlong"},
        BadCase{"\"\xed\xa0\x80\"", "invalid Unicode"},
        BadCase{"\"\\ud800\"", "unpaired high surrogate"},
        BadCase{"\"\\udc00\"", "unpaired low surrogate"},
        BadCase{"\"\\x\"", "invalid escape"}, BadCase{"\"abc", "unterminated"},
        BadCase{"true false", "unexpected bytes after"},
        BadCase{"nul", "invalid literal"}, BadCase{"-", "digit must follow"}));

TEST(JsonTest, DepthIsLimited) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_THAT(Json::Parse(deep), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("nesting deeper")));
  JsonParseOptions options;
  options.max_depth = 200;
  EXPECT_TRUE(Json::Parse(deep, options).ok());
}

TEST(JsonTest, SizeIsLimited) {
  JsonParseOptions options;
  options.max_bytes = 4;
  EXPECT_THAT(Json::Parse("12345", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
}

// Every prefix of a valid document is rejected or parsed, never crashes.
TEST(JsonTest, TruncationsNeverCrash) {
  const std::string doc =
      R"({"signed":{"_type":"root","keys":{"k":{"keyval":{"public":"ab"}}},)"
      R"("version":3,"x":[true,null,-1,"\u00e9\ud83d\ude00"]},"signatures":[]})";
  ASSERT_TRUE(Json::Parse(doc).ok());
  for (size_t n = 0; n < doc.size(); ++n) {
    EXPECT_FALSE(Json::Parse(doc.substr(0, n)).ok()) << n;
  }
}

}  // namespace
}  // namespace strata
