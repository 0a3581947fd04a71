// Whether one device gets one release: the Check path's decision, and the
// same decision with reasons for people.
//
// A device that already installed the release keeps it unless the release
// was rolled back (the client refuses unsigned downgrades anyway). For a
// device without it:
//   deny list          -> no
//   allow list         -> yes while the release accepts new devices
//                         (bypasses expression and bucket; cohort treatment)
//   expression false   -> no
//   expression true    -> bucket(salt, BucketingId) decides the cohort;
//                         treatment gets it while the release accepts new
//                         devices; control is held back for comparison
#ifndef STRATA_ROLLOUT_TARGETING_H_
#define STRATA_ROLLOUT_TARGETING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "strata/rollout/bucketing.h"
#include "strata/rollout/device_attributes.h"
#include "strata/rollout/rollout.h"
#include "strata/rollout/segment.h"

namespace strata::rollout {

struct Offer {
  bool applies = false;              // the device should run this release
  Cohort cohort = Cohort::kOutside;  // attribute its reports to this cohort
  SegmentMatch match = SegmentMatch::kNotMatched;
  bool bucketed = false;  // whether `bucket` was computed
  uint32_t bucket = 0;
};

// What the decision reads of a release. The signed director carries exactly
// this to devices (with the segment and salt), so a device re-runs the
// server's choice and refuses a plan that differs (docs/trust.md).
struct OfferRule {
  uint64_t release_id = 0;
  uint32_t exposure_bp = 0;  // buckets [0, exposure_bp) are the treatment
  bool accepts_new_devices = false;
  bool keeps_installed_devices = false;
};
OfferRule RuleOf(const Rollout& rollout);

// The decision from a rule alone (the device's side).
Offer DecideOffer(const OfferRule& rule, const Segment& segment,
                  std::string_view salt, const DeviceAttributes& device,
                  bool installed);

// The hot-path decision. `installed`: the device reports this release as
// installed. `salt` is rollout.spec().EffectiveSalt(), passed in so the
// caller can cache it.
Offer DecideOffer(const Rollout& rollout, const Segment& segment,
                  std::string_view salt, const DeviceAttributes& device,
                  bool installed);

struct OfferExplanation {
  uint64_t release_id = 0;
  Offer offer;
  // e.g. "segment 'beta-cn' matched: app_version >= \"10.3.0\"",
  // "bucket 312 < 500 (5%): treatment", "denied by the deny list of
  // segment 'beta-cn'", "gets release 7".
  std::vector<std::string> reasons;
};

// The same decision as DecideOffer, with reasons.
OfferExplanation ExplainOffer(const Rollout& rollout, const Segment& segment,
                              const DeviceAttributes& device, bool installed);

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_TARGETING_H_
