// The director role (Uptane's split): metadata signed by the server's online
// key that says which release each device or bucket range gets, with an
// expiry. The director can only choose among entries the offline publisher
// keys signed; the verifier checks that its entries match them exactly.
//
//   {"_type": "director", "spec_version": "1.0.31", "version": 12,
//    "expires": "...", "app": "wallet",
//    "assignments": [
//      {"device_ids": ["dev-1"],
//       "modules": {"hotpatch/core": {"target": "hotpatch/core@7",
//                                     "length": 1234,
//                                     "hashes": {"sha256": "..."},
//                                     "release_counter": 7}}},
//      {"buckets": {"salt": "rel-42", "begin": 0, "end": 500},
//       "modules": {...}},
//      {"modules": {...}}]}                       // everyone else
#ifndef STRATA_SIGNING_DIRECTOR_H_
#define STRATA_SIGNING_DIRECTOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/json.h"
#include "strata/signing/metadata.h"

namespace strata::signing {

// Rollout buckets: [0, kBucketCount).
inline constexpr uint32_t kBucketCount = 10000;

// The deterministic bucket of `subject_id` (a user id, else a device id) for
// a release salt: big-endian uint64 of the first 8 bytes of
// SHA-256(salt || 0x00 || subject_id), mod 10000. The server must bucket
// with this same function.
uint32_t RolloutBucket(std::string_view subject_id, std::string_view salt);

struct DirectorTarget {
  std::string target;  // target name, e.g. "hotpatch/core@7"
  uint64_t length = 0;
  std::map<std::string, std::string> hashes;
  uint64_t release_counter = 0;
};

struct BucketRange {
  std::string salt;
  uint32_t begin = 0;  // inclusive
  uint32_t end = 0;    // exclusive, <= kBucketCount
};

struct DirectorAssignment {
  // Matches when the device id is listed, or its bucket is in `buckets`;
  // with neither, matches every device.
  std::vector<std::string> device_ids;
  std::optional<BucketRange> buckets;
  // ModuleKey ("hotpatch/core") -> the release.
  std::map<std::string, DirectorTarget> modules;
};

struct DirectorMetadata {
  SignedCommon common;
  std::string app_id;
  std::vector<DirectorAssignment> assignments;
};

Json ToJson(const DirectorMetadata& director);
absl::StatusOr<DirectorMetadata> ParseDirector(const Json& signed_part);

// The releases for one device: for each module, the first matching
// assignment (in order) that names it wins. `subject_id` is what buckets
// hash (the user id, or the device id when there is none).
std::map<std::string, DirectorTarget> DirectorTargetsFor(
    const DirectorMetadata& director, std::string_view device_id,
    std::string_view subject_id);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_DIRECTOR_H_
