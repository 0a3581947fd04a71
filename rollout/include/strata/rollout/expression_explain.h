// Why a segment expression is false for one device, clause by clause: what
// `strata release explain` shows instead of the whole expression.
#ifndef STRATA_ROLLOUT_EXPRESSION_EXPLAIN_H_
#define STRATA_ROLLOUT_EXPRESSION_EXPLAIN_H_

#include <string>
#include <string_view>
#include <vector>

#include "strata/rollout/device_attributes.h"

namespace strata::rollout {

// The top-level clauses of `text` joined by `op` ("&&" or "||"), outside
// quotes, brackets and parentheses, trimmed; one clause when there is no
// such operator. Parentheses around the whole text are dropped first.
std::vector<std::string> SplitClauses(std::string_view text,
                                      std::string_view op);

// For an expression that is false for `device`: one line per clause that
// is false, e.g.
//   `os == "android"` is false: os is "ios"
//   `region in ["CN-31"]` is false: region is "" (not sent)
// An expression of alternatives (a || b) lists each false alternative. A
// clause that does not compile on its own (it cannot: it came from a
// compiled expression) is shown without the device's value. Empty when the
// expression is true for `device` or does not compile.
std::vector<std::string> ExplainFalseClauses(std::string_view text,
                                             const DeviceAttributes& device);

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_EXPRESSION_EXPLAIN_H_
