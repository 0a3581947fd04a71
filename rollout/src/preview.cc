#include "strata/rollout/preview.h"

#include <algorithm>

#include "strata/rollout/bucketing.h"

namespace strata::rollout {
namespace {

void Count(StageReach& reach, uint32_t bucket) {
  switch (CohortOf(bucket, reach.exposure_bp)) {
    case Cohort::kTreatment:
      ++reach.treatment;
      break;
    case Cohort::kControl:
      ++reach.control;
      break;
    case Cohort::kOutside:
      break;
  }
}

}  // namespace

ReachPreview PreviewReach(const Rollout& rollout, const Segment& segment,
                          std::span<const DeviceAttributes> devices) {
  ReachPreview p;
  p.release_id = rollout.release_id();
  p.segment = segment.name();
  p.current.exposure_bp = rollout.exposure_bp();
  for (const Stage& s : rollout.spec().plan.stages) {
    StageReach r;
    r.exposure_bp = s.exposure_bp;
    p.stages.push_back(r);
  }
  const std::string salt = rollout.spec().EffectiveSalt();
  for (const DeviceAttributes& d : devices) {
    ++p.devices;
    switch (segment.Match(d)) {
      case SegmentMatch::kDenied:
        ++p.denied;
        break;
      case SegmentMatch::kAllowed:
        ++p.allowed;
        if (p.current.exposure_bp > 0) ++p.current.treatment;
        for (StageReach& r : p.stages) ++r.treatment;
        break;
      case SegmentMatch::kNotMatched:
        ++p.not_matched;
        break;
      case SegmentMatch::kMatched: {
        ++p.matched;
        const uint32_t bucket = BucketOf(salt, BucketingId(d));
        Count(p.current, bucket);
        for (StageReach& r : p.stages) Count(r, bucket);
        break;
      }
    }
  }
  return p;
}

std::vector<OfferExplanation> ExplainDevice(
    std::span<const TargetedRelease> releases, const DeviceAttributes& device,
    std::span<const uint64_t> installed_release_ids) {
  std::vector<OfferExplanation> out;
  for (const TargetedRelease& t : releases) {
    if (t.rollout == nullptr) continue;
    static const Segment kEveryone;
    const Segment& seg = t.segment != nullptr ? *t.segment : kEveryone;
    const bool installed =
        std::find(installed_release_ids.begin(), installed_release_ids.end(),
                  t.rollout->release_id()) != installed_release_ids.end();
    out.push_back(ExplainOffer(*t.rollout, seg, device, installed));
  }
  return out;
}

}  // namespace strata::rollout
