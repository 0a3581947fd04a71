// A named segment: an expression over the device context plus allow and
// deny lists of user ids. Deny wins over allow; allow bypasses the
// expression (internal testers get a release whatever their device).
#ifndef STRATA_ROLLOUT_SEGMENT_H_
#define STRATA_ROLLOUT_SEGMENT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "strata/rollout/device_attributes.h"
#include "strata/rollout/expression.h"
#include "strata/rollout/user_id_set.h"

namespace strata::rollout {

enum class SegmentMatch {
  kDenied,      // user id on the deny list
  kAllowed,     // user id on the allow list (expression not evaluated)
  kMatched,     // expression true
  kNotMatched,  // expression false
};

std::string_view SegmentMatchName(SegmentMatch m);

class Segment {
 public:
  // The segment every device is in: "everyone", expression `true`.
  Segment();

  // `name` follows the naming rule (strata/base/names.h). Expression errors
  // are returned as "segment '<name>': <error with column>".
  static absl::StatusOr<Segment> Create(std::string_view name,
                                        std::string_view expression,
                                        UserIdSet allow = UserIdSet(),
                                        UserIdSet deny = UserIdSet());

  // Lists are looked up by the device's user_id (an empty user id is on no
  // list). Never allocates.
  SegmentMatch Match(const DeviceAttributes& device) const;
  bool Includes(const DeviceAttributes& device) const {
    SegmentMatch m = Match(device);
    return m == SegmentMatch::kAllowed || m == SegmentMatch::kMatched;
  }

  const std::string& name() const { return name_; }
  const Expression& expression() const { return expression_; }
  const UserIdSet& allow() const { return allow_; }
  const UserIdSet& deny() const { return deny_; }

 private:
  std::string name_ = "everyone";
  Expression expression_;
  UserIdSet allow_;
  UserIdSet deny_;
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_SEGMENT_H_
