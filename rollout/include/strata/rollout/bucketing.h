// Deterministic bucketing of users into 10,000 buckets.
//
//   bucket(salt, id) = BE64(SHA-256(salt || ":" || id)[0..8]) mod 10000
//
// i.e. the first 8 bytes of the SHA-256 of the UTF-8 bytes of the salt, one
// ':' and the id, read as a big-endian unsigned 64-bit integer, modulo
// 10000. It depends on nothing but SHA-256, so it is the same on every
// platform and version and can be recomputed anywhere (e.g. in an analytics
// query). Salts follow the naming rule, so they contain no ':'.
//
// Cohorts at an exposure of E basis points (1% = 100 buckets):
//   treatment = buckets [0, E)                       (gets the release)
//   control   = buckets [10000 - C, 10000), C = min(E, 10000 - E)
//               (same size as treatment while E <= 50%, never overlapping;
//               does NOT get the release; its reports are the baseline)
// Both ranges only grow as E grows (until 50% for control), so a user in
// treatment at 5% is still in at 20%, and a salt reused across releases
// (a standing canary cohort) selects the same users every time.
#ifndef STRATA_ROLLOUT_BUCKETING_H_
#define STRATA_ROLLOUT_BUCKETING_H_

#include <cstdint>
#include <string_view>

namespace strata::rollout {

inline constexpr uint32_t kBucketCount = 10000;
// Exposures are in basis points of the population: 100 = 1%.
inline constexpr uint32_t kFullExposure = kBucketCount;

uint32_t BucketOf(std::string_view salt, std::string_view id);

enum class Cohort {
  kOutside,    // in neither range: does not get the release, not a baseline
  kTreatment,  // gets the release
  kControl,    // held back for comparison
};

std::string_view CohortName(Cohort c);

// Size of the control range at exposure `exposure_bp`.
inline uint32_t ControlSize(uint32_t exposure_bp) {
  if (exposure_bp >= kFullExposure) return 0;
  uint32_t rest = kFullExposure - exposure_bp;
  return exposure_bp < rest ? exposure_bp : rest;
}

inline Cohort CohortOf(uint32_t bucket, uint32_t exposure_bp) {
  if (bucket < exposure_bp) return Cohort::kTreatment;
  if (bucket >= kBucketCount - ControlSize(exposure_bp)) {
    return Cohort::kControl;
  }
  return Cohort::kOutside;
}

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_BUCKETING_H_
