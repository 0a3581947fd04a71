// Which clause of a segment expression is false for a device.
#include "strata/rollout/expression_explain.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strata::rollout {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

DeviceAttributes Device() {
  DeviceAttributes d;
  d.os = "ios";
  d.app_version = "10.2.0";
  d.region = "CN-11";
  d.custom["tier"] = "gold";
  return d;
}

TEST(ExpressionExplainTest, SplitsTopLevelClausesOnly) {
  EXPECT_THAT(SplitClauses("a == \"x && y\" && (b == 1 || c == 2) && "
                           "d in [\"p\", \"q\"]",
                           "&&"),
              ElementsAre("a == \"x && y\"", "(b == 1 || c == 2)",
                          "d in [\"p\", \"q\"]"));
  EXPECT_THAT(SplitClauses("(os == \"ios\" || os == \"android\")", "||"),
              ElementsAre("os == \"ios\"", "os == \"android\""));
  EXPECT_THAT(SplitClauses("true", "&&"), ElementsAre("true"));
}

TEST(ExpressionExplainTest, NamesEachFalseClauseWithTheDevicesValue) {
  EXPECT_THAT(
      ExplainFalseClauses("app_version >= \"10.3.0\" && os == \"ios\" && "
                          "region in [\"CN-31\"]",
                          Device()),
      ElementsAre("`app_version >= \"10.3.0\"` is false: app_version is "
                  "\"10.2.0\"",
                  "`region in [\"CN-31\"]` is false: region is \"CN-11\""));
  DeviceAttributes silent = Device();
  silent.region.clear();
  EXPECT_THAT(ExplainFalseClauses("region == \"CN-31\"", silent),
              ElementsAre("`region == \"CN-31\"` is false: region is \"\" "
                          "(not sent)"));
  EXPECT_THAT(ExplainFalseClauses("attr.tier == \"platinum\"", Device()),
              ElementsAre("`attr.tier == \"platinum\"` is false: attr.tier is "
                          "\"gold\""));
}

TEST(ExpressionExplainTest, AlternativesAndNestingAreExplainedInside) {
  EXPECT_THAT(
      ExplainFalseClauses("os == \"android\" || region == \"CN-31\"", Device()),
      ElementsAre("none of `os == \"android\" || region == \"CN-31\"` holds: "
                  "`os == \"android\"` is false: os is \"ios\"; "
                  "`region == \"CN-31\"` is false: region is \"CN-11\""));
  EXPECT_THAT(
      ExplainFalseClauses("os == \"ios\" && (region == \"CN-11\" && channel == "
                          "\"beta\")",
                          Device()),
      ElementsAre("`channel == \"beta\"` is false: channel is \"\" "
                  "(not sent)"));
  EXPECT_THAT(ExplainFalseClauses("!(os == \"ios\")", Device()),
              ElementsAre("`!(os == \"ios\")` is false"));
}

TEST(ExpressionExplainTest, NothingForATrueOrBrokenExpression) {
  EXPECT_THAT(ExplainFalseClauses("os == \"ios\"", Device()), IsEmpty());
  EXPECT_THAT(ExplainFalseClauses("os ==", Device()), IsEmpty());
}

}  // namespace
}  // namespace strata::rollout
