#include "strata/rollout/reject_reasons.h"

#include <cctype>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "strata/base/env.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/health.h"

namespace strata::rollout {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s[0]))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// `NAME = NUMBER;` lines of `enum <enum_name> {` ... `}` in a .proto file
// (one declaration per line, as in proto/strata/v1), `//` comments
// stripped. Empty if the enum is not found.
std::map<std::string, int> ParseProtoEnum(std::string_view proto,
                                          std::string_view enum_name) {
  std::map<std::string, int> values;
  const std::string opening = "enum " + std::string(enum_name) + " {";
  bool inside = false;
  size_t pos = 0;
  while (pos < proto.size()) {
    size_t eol = proto.find('\n', pos);
    if (eol == std::string_view::npos) eol = proto.size();
    std::string_view line = proto.substr(pos, eol - pos);
    pos = eol + 1;
    if (size_t c = line.find("//"); c != std::string_view::npos) {
      line = line.substr(0, c);
    }
    line = Trim(line);
    if (!inside) {
      inside = line == opening;
      continue;
    }
    if (line.empty()) continue;
    if (line == "}") break;
    const size_t eq = line.find('=');
    const size_t semi = line.find(';');
    // Anything but `NAME = N;` (an option, a reserved range) fails the
    // parse loudly rather than being skipped.
    EXPECT_TRUE(eq != std::string_view::npos && semi != std::string_view::npos)
        << "cannot read enum line: " << line;
    if (eq == std::string_view::npos || semi == std::string_view::npos) {
      continue;
    }
    const std::string name(Trim(line.substr(0, eq)));
    const std::string number(Trim(line.substr(eq + 1, semi - eq - 1)));
    EXPECT_FALSE(values.count(name)) << name << " twice";
    values[name] = std::stoi(number);
  }
  return values;
}

std::map<std::string, int> ProtoRejectReasons() {
  const std::string path =
      std::string(STRATA_TEST_SOURCE_DIR) + "/proto/strata/v1/common.proto";
  absl::StatusOr<std::string> proto = PosixFileSystem()->ReadFile(path);
  EXPECT_THAT(proto, testing::IsOk()) << path;
  if (!proto.ok()) return {};
  return ParseProtoEnum(*proto, "RejectReason");
}

TEST(RejectReasonsTest, ParserReadsAnEnumAndIgnoresComments) {
  const std::map<std::string, int> v = ParseProtoEnum(
      "enum Other { A = 1; }\n"
      "// enum RejectReason {\n"
      "enum RejectReason {\n"
      "  // a comment = 7;\n"
      "  FIRST = 0;\n"
      "  SECOND = 12;  // trailing\n"
      "}\n"
      "enum Later {\n  THIRD = 3;\n}\n",
      "RejectReason");
  EXPECT_EQ(v, (std::map<std::string, int>{{"FIRST", 0}, {"SECOND", 12}}));
}

// The contract: every reason of the proto has a decision here, under the
// same name and number, and the table has nothing the proto lacks. A new
// reason in common.proto fails this test until reject_reasons.cc decides
// whether it is an integrity failure.
TEST(RejectReasonsTest, TableDecidesEveryReasonOfTheProtoByNameAndNumber) {
  const std::map<std::string, int> proto = ProtoRejectReasons();
  ASSERT_GE(proto.size(), 36u) << "parsed too few values of RejectReason";
  for (const auto& [name, number] : proto) {
    const RejectReasonInfo* by_name = FindRejectReason(name);
    ASSERT_NE(by_name, nullptr)
        << name << " = " << number
        << " is in proto/strata/v1/common.proto but has no decision in "
           "rollout/src/reject_reasons.cc; add it with its RejectClass";
    EXPECT_EQ(by_name->number, number) << name;
    const RejectReasonInfo* by_number = FindRejectReason(number);
    ASSERT_NE(by_number, nullptr) << number;
    EXPECT_EQ(by_number->name, name) << number;
  }
  std::set<int> numbers;
  for (const RejectReasonInfo& r : RejectReasons()) {
    EXPECT_TRUE(proto.count(std::string(r.name)))
        << r.name << " is in the table but not in the proto";
    EXPECT_TRUE(numbers.insert(r.number).second) << r.number << " twice";
  }
  EXPECT_EQ(RejectReasons().size(), proto.size());
}

TEST(RejectReasonsTest, IntegrityFailuresAreTheSignatureHashAndBindingOnes) {
  std::set<std::string_view> integrity;
  for (const RejectReasonInfo& r : RejectReasons()) {
    EXPECT_NE(RejectClassName(r.decision), "unknown") << r.name;
    EXPECT_EQ(IsIntegrityFailure(r.number),
              r.decision == RejectClass::kIntegrity)
        << r.name;
    if (IsIntegrityFailure(r.number)) integrity.insert(r.name);
  }
  EXPECT_EQ(integrity, (std::set<std::string_view>{
                           "REJECT_UNSIGNED",
                           "REJECT_BAD_SIGNATURE",
                           "REJECT_THRESHOLD_NOT_MET",
                           "REJECT_ROOT_ROTATION_OLD_THRESHOLD_NOT_MET",
                           "REJECT_ROOT_ROTATION_NEW_THRESHOLD_NOT_MET",
                           "REJECT_HASH_MISMATCH",
                           "REJECT_LENGTH_MISMATCH",
                           "REJECT_ENDLESS_DATA",
                           "REJECT_DELEGATION_PATH_NOT_ALLOWED",
                           "REJECT_UNSIGNED_DIRECTOR_TARGET",
                           "REJECT_DIRECTOR_TARGET_MISMATCH",
                           "REJECT_CONTENT_HASH_MISMATCH",
                           "REJECT_DELTA_OUTPUT_MISMATCH",
                       }));
}

TEST(RejectReasonsTest, TheNumbersTheOldTableMiscountedAreDecidedByName) {
  // 11 and 12 were counted as integrity under names they no longer have.
  EXPECT_EQ(RejectReasonNumber("REJECT_EXPIRED_METADATA"), 11);
  EXPECT_EQ(RejectReasonNumber("REJECT_VERSION_MISMATCH"), 12);
  EXPECT_FALSE(IsIntegrityFailure(11));
  EXPECT_FALSE(IsIntegrityFailure(12));
  // CONTENT_HASH_MISMATCH (30) was not counted.
  EXPECT_EQ(RejectReasonNumber("REJECT_CONTENT_HASH_MISMATCH"), 30);
  EXPECT_TRUE(IsIntegrityFailure(30));
}

TEST(RejectReasonsTest, UnknownNumbersAndNamesAreNotIntegrityFailures) {
  for (int r : {-1, 37, 99, 1 << 20}) {  // 36 is BLOCKED_BY_REMEDY
    EXPECT_EQ(FindRejectReason(r), nullptr) << r;
    EXPECT_FALSE(IsIntegrityFailure(r)) << r;
  }
  EXPECT_EQ(FindRejectReason("BAD_SIGNATURE"), nullptr);  // full names only
  EXPECT_EQ(RejectReasonNumber("REJECT_NO_SUCH_THING"), std::nullopt);
}

}  // namespace
}  // namespace strata::rollout
