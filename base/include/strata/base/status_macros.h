// Status helpers missing from Debian's Abseil (20220623).
#ifndef STRATA_BASE_STATUS_MACROS_H_
#define STRATA_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/strings.h"

#define STRATA_INTERNAL_CONCAT_IMPL(a, b) a##b
#define STRATA_INTERNAL_CONCAT(a, b) STRATA_INTERNAL_CONCAT_IMPL(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define STRATA_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status strata_status_ = (expr);          \
    if (!strata_status_.ok()) return strata_status_; \
  } while (0)

// `lhs = value of expr` when expr (an absl::StatusOr) is OK; otherwise returns
// its status from the enclosing function. `lhs` may declare a variable.
#define STRATA_ASSIGN_OR_RETURN(lhs, expr) \
  STRATA_INTERNAL_ASSIGN_OR_RETURN(        \
      STRATA_INTERNAL_CONCAT(strata_statusor_, __LINE__), lhs, expr)
#define STRATA_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, expr) \
  auto tmp = (expr);                                     \
  if (!tmp.ok()) return std::move(tmp).status();         \
  lhs = *std::move(tmp)

namespace strata {

// Returns `status` with `context: ` put in front of its message, keeping the
// code. OK stays OK.
inline absl::Status Annotate(const absl::Status& status,
                             std::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      strata::StrCat(context, ": ", ToStd(status.message())));
}

}  // namespace strata

#endif  // STRATA_BASE_STATUS_MACROS_H_
