#include "strata/rollout/preview.h"

#include <algorithm>
#include <cstdio>

#include "strata/base/strings.h"
#include "strata/rollout/bucketing.h"
#include "strata/rollout/sequential.h"

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

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}
std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g%%", fraction * 100);
  return buf;
}

}  // namespace

VerdictPlan PlanVerdict(const GatePolicy& gates, const ReachPreview& reach,
                        uint64_t seen_last_hour) {
  VerdictPlan v;
  if (gates.statistic != GateStatistic::kSequential) {
    v.summary = "z-score gates (statistic=z_score): nothing sizes the stages";
    return v;
  }
  if (gates.baseline_crash_rate <= 0) {
    v.summary =
        "no baseline_crash_rate: the crash gates compare with control, and "
        "nothing sizes the first stage; give the fleet's launch-crash rate "
        "with --gate baseline_crash_rate=0.5% (for example) to have it sized";
    return v;
  }
  v.devices_for_verdict = DevicesToDetect(
      gates.baseline_crash_rate, gates.min_detectable_crash_ratio,
      gates.false_halt_budget / 4, 0.95, /*against_control=*/false);
  v.summary = StrCat("a verdict on a crash rate ",
                     Fixed(gates.min_detectable_crash_ratio, 2), "x the ",
                     Percent(gates.baseline_crash_rate),
                     " baseline (95% power, false-halt budget ",
                     Percent(gates.false_halt_budget), ") needs ",
                     v.devices_for_verdict, " launched treatment devices");
  if (reach.stages.empty() || reach.devices == 0) {
    v.summary += "; no device was seen recently, so no time can be estimated";
    return v;
  }
  const StageReach& first = reach.stages.front();
  v.first_stage_devices_per_hour = static_cast<double>(seen_last_hour) *
                                   static_cast<double>(first.treatment) /
                                   static_cast<double>(reach.devices);
  v.summary += StrCat("; stage 1 holds ", first.treatment, " of the ",
                      reach.devices, " devices seen recently");
  if (v.first_stage_devices_per_hour <= 0) {
    v.summary +=
        ", and none of it was seen in the last hour: no time can be "
        "estimated";
    return v;
  }
  const double hours = static_cast<double>(v.devices_for_verdict) /
                       v.first_stage_devices_per_hour;
  v.summary += StrCat(" and gets about ",
                      Fixed(v.first_stage_devices_per_hour, 1), " an hour (",
                      seen_last_hour, " devices seen in the last hour): about ",
                      hours < 48 ? StrCat(Fixed(hours, 1), " h")
                                 : StrCat(Fixed(hours / 24, 1), " days"),
                      " at that rate");
  return v;
}

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
