// The one bucketing function of the platform. The server (rollout stages,
// control groups) and the device (director bucket ranges) must agree on it
// bit for bit, so it lives here and nowhere else.
#ifndef STRATA_BASE_BUCKETING_H_
#define STRATA_BASE_BUCKETING_H_

#include <cstdint>
#include <string_view>

#include "strata/base/sha256.h"

namespace strata {

inline constexpr uint32_t kRolloutBucketCount = 10000;

// SHA-256(salt || 0x00 || id); its first 8 bytes as a big-endian integer,
// mod 10000. Stable across platforms and versions: changing it re-buckets
// every fleet.
inline uint32_t RolloutBucket(std::string_view salt, std::string_view id) {
  Sha256 h;
  h.Update(salt);
  h.Update(std::string_view("\0", 1));
  h.Update(id);
  const Sha256Digest d = h.Finish();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[i];
  return static_cast<uint32_t>(v % kRolloutBucketCount);
}

}  // namespace strata

#endif  // STRATA_BASE_BUCKETING_H_
