// "Who would get this": reach of a release over recently seen devices, and
// for one device, which releases it gets and why.
#ifndef STRATA_ROLLOUT_PREVIEW_H_
#define STRATA_ROLLOUT_PREVIEW_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "strata/rollout/device_attributes.h"
#include "strata/rollout/gate_policy.h"
#include "strata/rollout/rollout.h"
#include "strata/rollout/segment.h"
#include "strata/rollout/targeting.h"

namespace strata::rollout {

struct StageReach {
  uint32_t exposure_bp = 0;
  uint64_t treatment = 0;  // devices that would get the release
  uint64_t control = 0;    // devices held back as control
};

struct ReachPreview {
  uint64_t release_id = 0;
  std::string segment;
  uint64_t devices = 0;      // devices looked at
  uint64_t denied = 0;       // on the deny list
  uint64_t allowed = 0;      // on the allow list (always treatment)
  uint64_t matched = 0;      // expression true
  uint64_t not_matched = 0;  // expression false
  // Reach at the rollout's current exposure (0 for a draft).
  StageReach current;
  // Reach at each stage of the plan.
  std::vector<StageReach> stages;
};

// Counts over `devices` for `rollout` targeting `segment`, ignoring what
// devices have installed and the rollout's state (a preview of the plan).
ReachPreview PreviewReach(const Rollout& rollout, const Segment& segment,
                          std::span<const DeviceAttributes> devices);

// How many devices the first stage needs before the gates can give a
// verdict, and how long that takes (docs/rollout.md, "Gate statistics").
struct VerdictPlan {
  // Launched treatment devices for 95% power against a crash rate
  // min_detectable_crash_ratio times baseline_crash_rate; 0 when nothing
  // sizes the stage (no baseline, or the z-score gates).
  uint64_t devices_for_verdict = 0;
  // First-stage devices an hour, estimated from the devices seen in the
  // last hour and the first stage's share of those seen recently; 0 if
  // none was seen.
  double first_stage_devices_per_hour = 0;
  std::string summary;  // one sentence for people
};
VerdictPlan PlanVerdict(const GatePolicy& gates, const ReachPreview& reach,
                        uint64_t seen_last_hour);

struct TargetedRelease {
  const Rollout* rollout = nullptr;  // not owned
  const Segment* segment = nullptr;  // not owned
};

// For one device: an explanation per release, in the order given.
// `installed_release_ids` are the releases the device reports installed.
std::vector<OfferExplanation> ExplainDevice(
    std::span<const TargetedRelease> releases, const DeviceAttributes& device,
    std::span<const uint64_t> installed_release_ids = {});

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_PREVIEW_H_
