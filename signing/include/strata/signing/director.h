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
//
// What stratad signs is its release selection itself, once per change (not
// per Check): named segments (expression, allow and deny lists of user ids)
// and, newest release first, one assignment per live release carrying the
// rule the server decides with (rollout::OfferRule plus segment and salt):
//
//   "segments": {"android": {"expression": "os == \"android\"",
//                            "allow_user_ids": ["tester-1"],
//                            "deny_user_ids": []}},
//   "assignments": [
//     {"release": {"id": 7, "segment": "android", "salt": "release-7",
//                  "exposure_bp": 500, "accepts_new": true,
//                  "keeps_installed": true, "everyone": false},
//      "modules": {"h5/mall-home": {...}, "config/payment.limits": {...}}}]
//
// A device evaluates the same rollout::DecideOffer the server runs
// (installed = the device's verifier holds one of the assignment's modules
// at the assignment's release counter), so it checks every plan entry
// against its own attributes and bucket.
#ifndef STRATA_SIGNING_DIRECTOR_H_
#define STRATA_SIGNING_DIRECTOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/json.h"
#include "strata/rollout/device_attributes.h"
#include "strata/rollout/segment.h"
#include "strata/rollout/targeting.h"
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
  bool operator==(const DirectorTarget&) const = default;
};

struct BucketRange {
  std::string salt;
  uint32_t begin = 0;  // inclusive
  uint32_t end = 0;    // exclusive, <= kBucketCount
  bool operator==(const BucketRange&) const = default;
};

// A named segment the director's release rules refer to.
struct DirectorSegment {
  std::string expression;  // rollout expression language; "true" = everyone
  std::vector<std::string> allow_user_ids;
  std::vector<std::string> deny_user_ids;
  bool operator==(const DirectorSegment&) const = default;
};

// One live release's selection rule (what the server's Check decides by).
struct DirectorRelease {
  rollout::OfferRule rule;  // release id, exposure, accepts new / keeps
  std::string segment;      // a key of DirectorMetadata::segments
  std::string salt;         // the bucketing salt
  // Completed for every device: applies without evaluation.
  bool everyone = false;
  bool operator==(const DirectorRelease& o) const;
};

struct DirectorAssignment {
  // Matches when the device id is listed, or its bucket is in `buckets`;
  // with neither, matches every device. With `release` set, the release's
  // rule decides instead (device_ids and buckets must then be empty).
  std::vector<std::string> device_ids;
  std::optional<BucketRange> buckets;
  std::optional<DirectorRelease> release;
  // ModuleKey ("hotpatch/core") -> the release.
  std::map<std::string, DirectorTarget> modules;
  bool operator==(const DirectorAssignment&) const = default;
};

struct DirectorMetadata {
  SignedCommon common;
  std::string app_id;
  std::map<std::string, DirectorSegment> segments;
  // Compiled at parse time (ParseDirector; an expression that does not
  // compile is MALFORMED_METADATA). Not serialized.
  std::map<std::string, std::shared_ptr<const rollout::Segment>> compiled;
  std::vector<DirectorAssignment> assignments;
};

// Equal content (everything ToJson writes; `compiled` is not compared).
bool SameDirectorContent(const DirectorMetadata& a, const DirectorMetadata& b);

// Writes `segments` only when there are any; a release assignment as
// {"release": {...}, "modules": {...}}.
Json ToJson(const DirectorMetadata& director);
// Strict: types, ranges (exposure_bp <= 10000, buckets within [0, 10000)),
// a release assignment carries no device_ids or buckets and names a segment
// listed in `segments`; every segment compiles (CompileDirectorSegments).
// Errors are kInvalidArgument with MALFORMED_METADATA.
absl::StatusOr<DirectorMetadata> ParseDirector(const Json& signed_part);

// Fills `director.compiled` from `director.segments` (for a DirectorMetadata
// built in memory; ParseDirector does it already) and checks what
// ParseDirector checks of segments and release rules. User ids in the lists:
// non-empty, at most rollout::kMaxUserIdBytes, no whitespace or control
// characters, not starting with '#'. An error names the segment (or the
// assignment) and carries MALFORMED_METADATA; `compiled` is then unchanged.
absl::Status CompileDirectorSegments(DirectorMetadata& director);

// The releases for one device: for each module, the first matching
// assignment (in order) that names it wins. `subject_id` is what buckets
// hash (the user id, or the device id when there is none). Release rules
// are evaluated as DirectorChoicesFor does for a device that has only these
// ids and nothing installed.
std::map<std::string, DirectorTarget> DirectorTargetsFor(
    const DirectorMetadata& director, std::string_view device_id,
    std::string_view subject_id);

// The same with release rules evaluated: `device` as the device knows
// itself, `installed` its verifier's release counter per ModuleKey. For a
// release assignment, "installed" means one of its modules is installed at
// that module's target release counter; `everyone` applies without
// evaluation; otherwise rollout::DecideOffer(rule, segment, salt, device,
// installed).applies decides. Assignments without a release rule match as
// in DirectorTargetsFor (subject = BucketingId(device)). A release whose
// segment is neither in `compiled` nor compiles from `segments` matches
// nothing (fail closed).
struct DirectorChoice {
  DirectorTarget target;
  uint64_t release_id = 0;  // 0 for assignments without a release rule
};
std::map<std::string, DirectorChoice> DirectorChoicesFor(
    const DirectorMetadata& director, const rollout::DeviceAttributes& device,
    const std::map<std::string, uint64_t>& installed);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_DIRECTOR_H_
