#include "strata/server/rollout/bucketing.h"

#include "strata/base/sha256.h"

namespace strata::server::rollout {

uint32_t BucketOf(std::string_view salt, std::string_view id) {
  Sha256 h;
  h.Update(salt);
  h.Update(":");
  h.Update(id);
  Sha256Digest d = h.Finish();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[i];
  return static_cast<uint32_t>(v % kBucketCount);
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

}  // namespace strata::server::rollout
