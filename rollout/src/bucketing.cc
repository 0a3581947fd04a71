#include "strata/rollout/bucketing.h"

#include "strata/base/bucketing.h"
#include "strata/base/sha256.h"

namespace strata::rollout {

uint32_t BucketOf(std::string_view salt, std::string_view id) {
  // The platform's one bucketing function, shared with the director role
  // that devices evaluate.
  return RolloutBucket(salt, id);
}

std::string_view CohortName(Cohort c) {
  switch (c) {
    case Cohort::kOutside:
      return "outside";
    case Cohort::kTreatment:
      return "treatment";
    case Cohort::kControl:
      return "control";
  }
  return "unknown";
}

}  // namespace strata::rollout
