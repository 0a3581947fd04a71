// GoogleTest matchers for absl::Status (Debian's Abseil ships none).
#ifndef STRATA_BASE_TESTING_STATUS_MATCHERS_H_
#define STRATA_BASE_TESTING_STATUS_MATCHERS_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "strata/base/status_macros.h"

namespace strata::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = ::strata::testing::GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(StatusIs, code,
          "has code " +
              absl::StatusCodeToString(static_cast<absl::StatusCode>(code))) {
  const absl::Status& s = ::strata::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& s = ::strata::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(s.message()), result_listener);
}

}  // namespace strata::testing

#define STRATA_ASSERT_OK(expr) ASSERT_THAT((expr), ::strata::testing::IsOk())
#define STRATA_EXPECT_OK(expr) EXPECT_THAT((expr), ::strata::testing::IsOk())

// `lhs = *expr`, failing the test if expr is not OK.
#define STRATA_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  STRATA_INTERNAL_TEST_ASSIGN(STRATA_INTERNAL_CONCAT(so_, __LINE__), lhs, expr)
#define STRATA_INTERNAL_TEST_ASSIGN(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  ASSERT_TRUE(tmp.ok()) << tmp.status();            \
  lhs = *std::move(tmp)

#endif  // STRATA_BASE_TESTING_STATUS_MATCHERS_H_
