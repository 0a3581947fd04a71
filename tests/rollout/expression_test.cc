#include "strata/rollout/expression.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::rollout {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

DeviceAttributes Android1030() {
  DeviceAttributes d;
  d.app_version = "10.3.0";
  d.os = "android";
  d.os_version = "14";
  d.device_model = "Pixel 8";
  d.region = "CN-31";
  d.channel = "beta";
  d.network = "wifi";
  d.locale = "zh-CN";
  d.user_id = "u-1";
  d.device_id = "d-1";
  d.custom["tier"] = "gold";
  d.custom["level"] = "12";
  return d;
}

bool Eval(std::string_view text, const DeviceAttributes& d) {
  absl::StatusOr<Expression> e = Expression::Compile(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status();
  return e.ok() && e->Evaluate(d);
}

// The message of a compile error; fails the test if it compiled.
std::string ErrorOf(
    std::string_view text,
    absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
  absl::StatusOr<Expression> e = Expression::Compile(text);
  EXPECT_FALSE(e.ok()) << "compiled: " << text;
  if (e.ok()) return "";
  EXPECT_EQ(e.status().code(), code) << e.status();
  return std::string(e.status().message());
}

TEST(ExpressionTest, DesignDocExample) {
  constexpr std::string_view kRule =
      R"(app_version >= "10.3.0" && os == "android" && region in ["CN-31","CN-11"])";
  DeviceAttributes d = Android1030();
  EXPECT_TRUE(Eval(kRule, d));
  d.app_version = "10.2.9";
  EXPECT_FALSE(Eval(kRule, d));
  d = Android1030();
  d.region = "US-CA";
  EXPECT_FALSE(Eval(kRule, d));
  d = Android1030();
  d.os = "ios";
  EXPECT_FALSE(Eval(kRule, d));
}

TEST(ExpressionTest, DefaultMatchesEverything) {
  Expression e;
  EXPECT_TRUE(e.Evaluate(DeviceAttributes()));
  EXPECT_EQ(e.text(), "true");
  EXPECT_TRUE(Eval("true", DeviceAttributes()));
  EXPECT_FALSE(Eval("false", DeviceAttributes()));
}

TEST(ExpressionTest, EveryBuiltInFieldIsReadable) {
  DeviceAttributes d = Android1030();
  EXPECT_TRUE(Eval(R"(app_version == "10.3.0")", d));
  EXPECT_TRUE(Eval(R"(os == "android")", d));
  EXPECT_TRUE(Eval(R"(os_version == "14")", d));
  EXPECT_TRUE(Eval(R"(device_model == "Pixel 8")", d));
  EXPECT_TRUE(Eval(R"(region == "CN-31")", d));
  EXPECT_TRUE(Eval(R"(channel == "beta")", d));
  EXPECT_TRUE(Eval(R"(network == "wifi")", d));
  EXPECT_TRUE(Eval(R"(locale == "zh-CN")", d));
  EXPECT_TRUE(Eval(R"(user_id == "u-1")", d));
  EXPECT_TRUE(Eval(R"(device_id == "d-1")", d));
  EXPECT_TRUE(Eval(R"(attr.tier == "gold")", d));
  EXPECT_TRUE(Eval(R"(os != "ios")", d));
}

TEST(ExpressionTest, VersionFieldsCompareAsVersions) {
  DeviceAttributes d = Android1030();
  EXPECT_TRUE(Eval(R"(app_version == "10.3")", d));
  EXPECT_TRUE(Eval(R"(app_version >= "10.3.0")", d));
  EXPECT_TRUE(Eval(R"(app_version > "9.12.7")", d));  // not byte order
  EXPECT_TRUE(Eval(R"(app_version < "10.10")", d));
  EXPECT_TRUE(Eval(R"(app_version <= "10.3.0")", d));
  EXPECT_FALSE(Eval(R"(app_version < "10.3.0")", d));
  EXPECT_TRUE(Eval(R"(app_version > "10.3.0-rc.1")", d));
  EXPECT_TRUE(Eval(R"(app_version in ["9.0", "10.3"])", d));
  EXPECT_TRUE(Eval(R"(os_version >= "13.1")", d));
  EXPECT_TRUE(Eval("app_version >= 10.3.0 && os_version < 15", d));
  d.app_version = "10.3.0-beta.2";
  EXPECT_TRUE(Eval(R"(app_version < "10.3.0")", d));
  EXPECT_TRUE(Eval(R"(app_version > "10.3.0-beta.1")", d));
}

TEST(ExpressionTest, DeviceValueThatIsNotAVersionNeverOrders) {
  DeviceAttributes d = Android1030();
  d.app_version = "dev-build";
  EXPECT_FALSE(Eval(R"(app_version >= "1.0")", d));
  EXPECT_FALSE(Eval(R"(app_version < "1.0")", d));
  EXPECT_TRUE(Eval(R"(app_version == "dev-build")", d));  // byte equality
  EXPECT_TRUE(Eval(R"(app_version != "1.0")", d));
  d.app_version = "";
  EXPECT_FALSE(Eval(R"(app_version >= "0")", d));
}

TEST(ExpressionTest, CustomAttributes) {
  DeviceAttributes d = Android1030();
  EXPECT_TRUE(Eval(R"(attr.level >= "9")", d));  // numeric, not "12" < "9"
  EXPECT_TRUE(Eval("attr.level > 11 && attr.level < 13", d));
  EXPECT_TRUE(Eval(R"(attr.tier in ["gold", "platinum"])", d));
  // A missing attribute reads as "".
  EXPECT_FALSE(Eval(R"(attr.missing == "x")", d));
  EXPECT_TRUE(Eval(R"(attr.missing != "x")", d));
  EXPECT_TRUE(Eval(R"(attr.missing == "")", d));
  EXPECT_FALSE(Eval(R"(attr.missing >= "0")", d));
  d.custom["feature.flags-v2"] = "on";
  EXPECT_TRUE(Eval(R"(attr.feature.flags-v2 == "on")", d));
}

TEST(ExpressionTest, PrecedenceAndParentheses) {
  DeviceAttributes d = Android1030();
  // && binds tighter than ||.
  EXPECT_TRUE(Eval(R"(os == "ios" && region == "X" || channel == "beta")", d));
  EXPECT_TRUE(Eval(R"(channel == "beta" || os == "ios" && region == "X")", d));
  EXPECT_FALSE(
      Eval(R"((channel == "beta" || os == "ios") && region == "X")", d));
  EXPECT_TRUE(Eval(R"(!(os == "ios"))", d));
  EXPECT_FALSE(Eval(R"(!os == "android" || false)", d));
  EXPECT_TRUE(Eval(R"(!!(os == "android"))", d));
  EXPECT_FALSE(Eval(R"(!(os == "android" && channel == "beta"))", d));
  EXPECT_TRUE(Eval("true && true && true || false", d));
  EXPECT_FALSE(Eval("false || false || !true", d));
}

TEST(ExpressionTest, LongListsAreSortedAndSearched) {
  DeviceAttributes d = Android1030();
  std::string list;
  for (int i = 0; i < 200; ++i) {
    list += StrCat(i == 0 ? "" : ", ", "\"CN-", 200 - i, "\"");
  }
  list += R"(, "CN-31", "CN-31")";  // duplicates are fine
  EXPECT_TRUE(Eval(StrCat("region in [", list, "]"), d));
  d.region = "CN-0";
  EXPECT_FALSE(Eval(StrCat("region in [", list, "]"), d));
  d.region = "CN-1";
  EXPECT_TRUE(Eval(StrCat("region in [", list, "]"), d));
  d.region = "CN-200";
  EXPECT_TRUE(Eval(StrCat("region in [", list, "]"), d));
}

TEST(ExpressionTest, StringEscapesAndWhitespace) {
  DeviceAttributes d;
  d.device_model = R"(a "quoted" \ model)";
  EXPECT_TRUE(Eval(R"(device_model == "a \"quoted\" \\ model")", d));
  EXPECT_TRUE(Eval("\t device_model\n!=\r\n\"x\"  ", d));
}

// Random boolean trees over attributes with known values, checked against a
// direct evaluation: exercises the jump layout of &&, || and !.
struct Generated {
  std::string text;
  bool value;
};
Generated Generate(strata::testing::FakeRandom& rng, int depth,
                   const DeviceAttributes& d) {
  const uint64_t pick = rng.Uniform(depth <= 0 ? 2 : 6);
  if (pick < 2) {
    const int var = static_cast<int>(rng.Uniform(6));
    const std::string name = StrCat("b", var);
    const bool want_one = rng.Uniform(2) == 0;
    const bool value = d.custom.at(name) == (want_one ? "1" : "0");
    return {StrCat("attr.", name, " == \"", want_one ? "1" : "0", "\""), value};
  }
  if (pick == 2) {
    Generated g = Generate(rng, depth - 1, d);
    return {StrCat("!(", g.text, ")"), !g.value};
  }
  Generated a = Generate(rng, depth - 1, d);
  Generated b = Generate(rng, depth - 1, d);
  if (pick == 3) {
    return {StrCat("(", a.text, " && ", b.text, ")"), a.value && b.value};
  }
  if (pick == 4) {
    return {StrCat("(", a.text, " || ", b.text, ")"), a.value || b.value};
  }
  // Unparenthesized chain: a || b && c == a || (b && c).
  Generated c = Generate(rng, depth - 1, d);
  return {StrCat("(", a.text, " || ", b.text, " && ", c.text, ")"),
          a.value || (b.value && c.value)};
}

TEST(ExpressionTest, RandomTreesMatchReferenceEvaluation) {
  strata::testing::FakeRandom rng(7);
  for (int round = 0; round < 400; ++round) {
    DeviceAttributes d;
    for (int v = 0; v < 6; ++v) {
      d.custom[StrCat("b", v)] = rng.Uniform(2) == 0 ? "1" : "0";
    }
    Generated g = Generate(rng, 5, d);
    ASSERT_EQ(Eval(g.text, d), g.value) << g.text;
  }
}

// ---- Every error form, with its column. ----

TEST(ExpressionErrorTest, Empty) {
  EXPECT_EQ(ErrorOf(""),
            "expression is empty at column 1; write `true` to match every "
            "device");
  EXPECT_EQ(ErrorOf("  \t"), ErrorOf(""));
}

TEST(ExpressionErrorTest, UnexpectedCharacter) {
  EXPECT_EQ(ErrorOf(R"(os == "a" # x)"),
            "unexpected character '#' at column 11");
  EXPECT_EQ(ErrorOf("os == 'a'"),
            "unexpected character ''' at column 7; string literals use double "
            "quotes");
  EXPECT_EQ(ErrorOf("os == \x01"),
            "unexpected control character (byte 1) at column 7");
}

TEST(ExpressionErrorTest, SingleAmpersandPipeOrEquals) {
  EXPECT_EQ(ErrorOf(R"(os == "a" & os == "b")"),
            "unexpected character '&' at column 11; did you mean '&&'?");
  EXPECT_EQ(ErrorOf(R"(os == "a" | os == "b")"),
            "unexpected character '|' at column 11; did you mean '||'?");
  EXPECT_EQ(ErrorOf(R"(os = "a")"),
            "unexpected character '=' at column 4; did you mean '=='?");
}

TEST(ExpressionErrorTest, StringLiterals) {
  EXPECT_EQ(ErrorOf(R"(os == "android)"),
            "unterminated string literal starting at column 7; close it with "
            "'\"'");
  EXPECT_EQ(ErrorOf(R"(os == "a\)"),
            "unterminated string literal starting at column 7; close it with "
            "'\"'");
  EXPECT_EQ(ErrorOf(R"(os == "a\qb")"),
            R"(unknown escape '\q' at column 9; only \" and \\ are allowed)");
  EXPECT_EQ(ErrorOf("os == \"a\nb\""),
            "line break inside the string literal starting at column 7; close "
            "it with '\"' on the same line");
}

TEST(ExpressionErrorTest, Fields) {
  EXPECT_EQ(ErrorOf(R"(regoin == "CN")"),
            "unknown field 'regoin' at column 1; known fields: app_version, "
            "os, os_version, device_model, region, channel, network, locale, "
            "user_id, device_id, attr.<name>");
  EXPECT_EQ(ErrorOf(R"(attr. == "x")"),
            "expected an attribute name after 'attr.' at column 6, e.g. "
            "attr.tier");
  EXPECT_EQ(ErrorOf(R"(os == "a" || attr == "x")"),
            "expected an attribute name after 'attr.' at column 18, e.g. "
            "attr.tier");
  EXPECT_EQ(ErrorOf(R"(in ["a"])"),
            "expected a field before 'in' at column 1; write e.g. region in "
            "[\"CN-31\"]");
}

TEST(ExpressionErrorTest, Operators) {
  EXPECT_EQ(ErrorOf(R"(os "android")"),
            "expected a comparison operator (==, !=, <, <=, >, >=) or 'in' "
            "after 'os' at column 4, found '\"android\"'");
  EXPECT_EQ(ErrorOf("os"),
            "expected a comparison operator (==, !=, <, <=, >, >=) or 'in' "
            "after 'os' at column 3, found end of expression");
  EXPECT_EQ(ErrorOf(R"(os < "b")"),
            "operator '<' at column 4 is not defined for field 'os'; only "
            "app_version, os_version and attr.<name> can be ordered (use == "
            "or 'in')");
  EXPECT_EQ(ErrorOf(R"(region >= "CN")"),
            "operator '>=' at column 8 is not defined for field 'region'; "
            "only app_version, os_version and attr.<name> can be ordered (use "
            "== or 'in')");
}

TEST(ExpressionErrorTest, Values) {
  EXPECT_EQ(ErrorOf("os == "),
            "expected a value (a string literal such as \"android\" or a "
            "version such as 10.3.0) at column 7, found end of expression");
  EXPECT_EQ(ErrorOf("os == android"),
            "expected a value (a string literal such as \"android\" or a "
            "version such as 10.3.0) at column 7, found 'android'");
  EXPECT_EQ(ErrorOf(R"(app_version >= "10.x")"),
            "\"10.x\" at column 16 is not a version; '>=' needs dot-separated "
            "numbers such as \"10.3.0\"");
  EXPECT_EQ(ErrorOf("attr.level < 1.2.x"),
            "\"1.2.x\" at column 14 is not a version; '<' needs dot-separated "
            "numbers such as \"10.3.0\"");
}

TEST(ExpressionErrorTest, Lists) {
  EXPECT_EQ(ErrorOf(R"(region in "CN")"),
            "expected '[' after 'in' at column 11, found '\"CN\"'");
  EXPECT_EQ(ErrorOf("region in []"),
            "empty list at column 11; 'in' needs at least one value");
  EXPECT_EQ(ErrorOf(R"(region in ["CN-31" "CN-11"])"),
            "expected ',' or ']' at column 20 to continue or close the list "
            "opened at column 11, found '\"CN-11\"'");
  EXPECT_EQ(ErrorOf(R"(region in ["CN-31")"),
            "expected ',' or ']' at column 19 to continue or close the list "
            "opened at column 11, found end of expression");
  EXPECT_EQ(ErrorOf(R"(region in ["a", ])"),
            "expected a value (a string literal such as \"android\" or a "
            "version such as 10.3.0) at column 17, found ']'");
}

TEST(ExpressionErrorTest, Parentheses) {
  EXPECT_EQ(ErrorOf(R"((os == "a")"),
            "expected ')' at column 11 to close '(' at column 1, found end of "
            "expression");
  EXPECT_EQ(ErrorOf(R"(os == "a" && (os == "b" || os == "c" ])"),
            "expected ')' at column 38 to close '(' at column 14, found ']'");
}

TEST(ExpressionErrorTest, MissingCondition) {
  EXPECT_EQ(ErrorOf(R"(os == "a" &&)"),
            "expected a condition (a field, '!', '(', true or false) at "
            "column 13, found end of expression");
  EXPECT_EQ(ErrorOf(R"(&& os == "a")"),
            "expected a condition (a field, '!', '(', true or false) at "
            "column 1, found '&&'");
  EXPECT_EQ(ErrorOf("()"),
            "expected a condition (a field, '!', '(', true or false) at "
            "column 2, found ')'");
}

TEST(ExpressionErrorTest, TrailingTokens) {
  EXPECT_EQ(ErrorOf(R"(os == "a" os == "b")"),
            "unexpected 'os' at column 11; expected '&&', '||' or the end of "
            "the expression");
  EXPECT_EQ(ErrorOf("true == \"x\""),
            "unexpected '==' at column 6; expected '&&', '||' or the end of "
            "the expression");
  EXPECT_EQ(ErrorOf(R"(os == "a")))"),
            "unexpected ')' at column 10; expected '&&', '||' or the end of "
            "the expression");
}

TEST(ExpressionErrorTest, Limits) {
  EXPECT_EQ(ErrorOf(std::string(65, '(') + "true" + std::string(65, ')'),
                    absl::StatusCode::kResourceExhausted),
            "expression nests deeper than 64 levels at column 65; split it or "
            "remove redundant '(' and '!'");
  EXPECT_EQ(ErrorOf(std::string(70, '!') + "true",
                    absl::StatusCode::kResourceExhausted),
            "expression nests deeper than 64 levels at column 65; split it or "
            "remove redundant '(' and '!'");
  // 64 levels are fine.
  EXPECT_TRUE(Eval(std::string(64, '(') + "true" + std::string(64, ')'), {}));
  std::string huge = "os in [";
  while (huge.size() <= kMaxExpressionBytes) huge += "\"aaaaaaaaaa\", ";
  huge += "\"b\"]";
  EXPECT_THAT(ErrorOf(huge, absl::StatusCode::kResourceExhausted),
              HasSubstr("bytes long; the limit is 65536"));
}

TEST(ExpressionErrorTest, LongTokensAreTruncatedInMessages) {
  EXPECT_EQ(ErrorOf(R"(os == "a" abcdefghijklmnopqrstuvwxyz0123456789)"),
            "unexpected 'abcdefghijklmnopqrstuvwx...' at column 11; expected "
            "'&&', '||' or the end of the expression");
}

}  // namespace
}  // namespace strata::rollout
