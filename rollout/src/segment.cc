#include "strata/rollout/segment.h"

#include <utility>

#include "strata/base/names.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::rollout {

std::string_view SegmentMatchName(SegmentMatch m) {
  switch (m) {
    case SegmentMatch::kDenied:
      return "denied";
    case SegmentMatch::kAllowed:
      return "allowed";
    case SegmentMatch::kMatched:
      return "matched";
    case SegmentMatch::kNotMatched:
      return "not_matched";
  }
  return "unknown";
}

Segment::Segment() = default;

absl::StatusOr<Segment> Segment::Create(std::string_view name,
                                        std::string_view expression,
                                        UserIdSet allow, UserIdSet deny) {
  STRATA_RETURN_IF_ERROR(ValidateName("segment name", name));
  absl::StatusOr<Expression> compiled = Expression::Compile(expression);
  if (!compiled.ok()) {
    return Annotate(compiled.status(), StrCat("segment '", name, "'"));
  }
  Segment s;
  s.name_ = std::string(name);
  s.expression_ = *std::move(compiled);
  s.allow_ = std::move(allow);
  s.deny_ = std::move(deny);
  return s;
}

SegmentMatch Segment::Match(const DeviceAttributes& device) const {
  if (!device.user_id.empty()) {
    if (deny_.Contains(device.user_id)) return SegmentMatch::kDenied;
    if (allow_.Contains(device.user_id)) return SegmentMatch::kAllowed;
  }
  return expression_.Evaluate(device) ? SegmentMatch::kMatched
                                      : SegmentMatch::kNotMatched;
}

}  // namespace strata::rollout
