// The JSON Schema subset config publishes are checked against, and the
// parser's opt-in for numbers with fractions (config documents).
#include "strata/base/json_schema.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

Json Doc(std::string_view text) {
  JsonParseOptions o;
  o.allow_fractions = true;
  absl::StatusOr<Json> j = Json::Parse(text, o);
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *j : Json();
}

std::vector<std::string> Errors(std::string_view schema, std::string_view doc) {
  absl::StatusOr<JsonSchema> s = JsonSchema::Parse(schema);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return {"bad schema"};
  return s->Validate(Doc(doc));
}

TEST(JsonFractionsTest, OffByDefaultForTufMetadata) {
  EXPECT_THAT(Json::Parse("{\"a\":0.5}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("fractions and exponents")));
}

TEST(JsonFractionsTest, ParsesRfc8259Numbers) {
  Json j =
      Doc(R"({"a":0.5,"b":-1.25e2,"c":3,"d":1E-3,"e":123456789012345678901})");
  EXPECT_TRUE(j.Find("a")->is_double());
  EXPECT_EQ(j.Find("a")->as_double(), 0.5);
  EXPECT_EQ(j.Find("b")->as_double(), -125.0);
  EXPECT_TRUE(j.Find("c")->is_int());
  EXPECT_EQ(j.Find("d")->as_double(), 0.001);
  EXPECT_TRUE(j.Find("e")->is_double());  // beyond 64 bits
  EXPECT_EQ(JsonTypeName(j.Find("a")->type()), "number");
  EXPECT_EQ(Json::Number(0.5).Dump(), "0.5");
  // Round trip (-125.0 comes back as the integer -125: equal by value).
  EXPECT_TRUE(JsonEquals(Doc(j.Dump()), j)) << j.Dump();
}

TEST(JsonFractionsTest, RejectsMalformedNumbers) {
  JsonParseOptions o;
  o.allow_fractions = true;
  for (const char* bad :
       {"1.", "1.e3", "1e", "1e+", "-", "01.5", ".5", "1e999"}) {
    EXPECT_THAT(Json::Parse(bad, o),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(JsonSchemaTest, UnsupportedKeywordsAreRefusedByName) {
  EXPECT_THAT(JsonSchema::Parse(R"({"type":"string","pattern":"^a"})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("keyword 'pattern' is not supported")));
  EXPECT_THAT(JsonSchema::Parse(R"({"properties":{"a":{"anyOf":[]}}})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("schema /properties/a: keyword 'anyOf'")));
  EXPECT_THAT(JsonSchema::Parse(R"({"type":"text"})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown type \"text\"")));
  EXPECT_THAT(JsonSchema::Parse(R"({"minimum":"3"})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'minimum' must be a number")));
  EXPECT_THAT(JsonSchema::Parse(R"({"items":[{}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tuple validation")));
  EXPECT_THAT(JsonSchema::Parse("{"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the schema is not JSON")));
  EXPECT_THAT(JsonSchema::Parse("[]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be an object or true/false")));
  // Annotations are accepted and ignored.
  EXPECT_TRUE(JsonSchema::Parse(
                  R"({"$schema":"https://json-schema.org/draft/2020-12/schema",
                      "title":"t","description":"d","default":1})")
                  .ok());
}

constexpr char kLimits[] = R"({
  "type": "object",
  "required": ["daily_limit_cny", "risk_check"],
  "additionalProperties": false,
  "properties": {
    "daily_limit_cny": {"type": "integer", "minimum": 0, "maximum": 50000},
    "single_payment_max_cny": {"type": "integer", "exclusiveMinimum": 0,
                               "multipleOf": 100},
    "rate": {"type": "number", "exclusiveMaximum": 1},
    "risk_check": {"enum": ["standard", "strict"]},
    "channels": {"type": "array", "items": {"type": "string", "minLength": 2,
                 "maxLength": 8}, "minItems": 1, "maxItems": 3,
                 "uniqueItems": true}
  }
})";

TEST(JsonSchemaTest, AConformingDocumentHasNoErrors) {
  EXPECT_THAT(Errors(kLimits, R"({"daily_limit_cny": 5000,
      "single_payment_max_cny": 2000, "rate": 0.25, "risk_check": "strict",
      "channels": ["card", "wallet"]})"),
              IsEmpty());
}

TEST(JsonSchemaTest, EachKeywordNamesThePlaceAndTheRule) {
  EXPECT_THAT(Errors(kLimits, R"({"daily_limit_cny": 70000,
                                  "risk_check": "standard"})"),
              ElementsAre("at /daily_limit_cny: 70000 is above the maximum "
                          "50000"));
  EXPECT_THAT(Errors(kLimits, R"({"daily_limit_cny": -1, "risk_check": "x"})"),
              ElementsAre("at /daily_limit_cny: -1 is below the minimum 0",
                          "at /risk_check: \"x\" is not one of \"standard\", "
                          "\"strict\""));
  EXPECT_THAT(Errors(kLimits, R"({"risk_check": "strict"})"),
              ElementsAre("at the top level: the required property "
                          "\"daily_limit_cny\" is missing"));
  EXPECT_THAT(Errors(kLimits, R"({"daily_limit_cny": 1, "risk_check":
                                  "strict", "extra": 1})"),
              ElementsAre("at /extra: property \"extra\" is not allowed "
                          "(additionalProperties is false)"));
  EXPECT_THAT(Errors(kLimits, R"({"daily_limit_cny": "5000",
                                  "risk_check": "strict"})"),
              ElementsAre("at /daily_limit_cny: \"5000\" is string, not "
                          "integer"));
  EXPECT_THAT(Errors(kLimits, R"({"daily_limit_cny": 1.5,
                                  "risk_check": "strict"})"),
              ElementsAre("at /daily_limit_cny: 1.5 is number, not integer"));
  EXPECT_THAT(Errors(kLimits, R"({"daily_limit_cny": 1, "risk_check": "strict",
                                  "single_payment_max_cny": 150,
                                  "rate": 1})"),
              ElementsAre("at /rate: 1 must be less than 1",
                          "at /single_payment_max_cny: 150 is not a multiple "
                          "of 100"));
  EXPECT_THAT(
      Errors(kLimits, R"({"daily_limit_cny": 1, "risk_check": "strict",
                                  "channels": ["a", "card", "card", "wallet"]})"),
      ElementsAre("at /channels: the array has 4 items; at most 3 are "
                  "allowed",
                  "at /channels: items 1 and 2 are equal (\"card\"); "
                  "items must be unique",
                  "at /channels/0: \"a\" is shorter than 2 characters"));
  EXPECT_THAT(Errors(kLimits, "[]"),
              ElementsAre("at the top level: [] is array, not object"));
}

TEST(JsonSchemaTest, IntegersAndNumbersCompareByValue) {
  EXPECT_THAT(Errors(R"({"type":"integer"})", "2.0"), IsEmpty());
  EXPECT_THAT(Errors(R"({"enum":[1, "a"]})", "1.0"), IsEmpty());
  EXPECT_THAT(Errors(R"({"const":{"a":[1]}})", R"({"a":[1.0]})"), IsEmpty());
  EXPECT_THAT(Errors(R"({"maximum":0.5})", "1"),
              ElementsAre("at the top level: 1 is above the maximum 0.5"));
  EXPECT_THAT(Errors("false", "1"),
              ElementsAre("at the top level: no value is allowed here"));
  EXPECT_THAT(
      Errors(R"({"properties":{"a/b~":{"type":"null"}}})", R"({"a/b~":1})"),
      ElementsAre("at /a~1b~0: 1 is integer, not null"));
}

TEST(JsonSchemaTest, CheckListsTheFirstViolations) {
  absl::StatusOr<JsonSchema> s = JsonSchema::Parse(R"({"type":"object",
      "additionalProperties":{"type":"string"}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->Check(Doc(R"({"a":"x"})"), "config m@1").ok());
  absl::Status bad = s->Check(
      Doc(R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7})"), "config m@1");
  EXPECT_THAT(bad,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config m@1 does not match the module's "
                                 "schema: at /a: 1 is integer, not string; "
                                 "at /b:")));
  EXPECT_THAT(bad.message(), HasSubstr("; and more"));
  EXPECT_THAT(bad.message(), Not(HasSubstr("/f")));
}

}  // namespace
}  // namespace strata
