// The state machine of one release's rollout.
//
//   draft --Start--> rolling(0) --Promote--> rolling(1) ... rolling(last)
//   rolling(last) --Promote--> completed
//   rolling --Pause--> paused --Resume--> rolling (bake restarts)
//   rolling, paused --Halt--> halted --Resume--> rolling (bake restarts)
//   rolling, paused, halted, completed --RollBack--> rolled_back (terminal)
//
// Pause freezes the stage (devices in its buckets still get the release);
// halt stops new adoption (only devices that already installed it keep it);
// roll back means the server publishes a higher release counter pointing at
// the last good content, signed by a publisher; this object only records it.
// Anything else is kFailedPrecondition with what to do instead. Not
// thread-safe; the server serializes mutations of one release.
#ifndef STRATA_ROLLOUT_ROLLOUT_H_
#define STRATA_ROLLOUT_ROLLOUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/rollout/release_spec.h"

namespace strata::rollout {

enum class ReleaseState {
  kDraft,
  kRolling,
  kPaused,
  kHalted,
  kCompleted,
  kRolledBack,
};
std::string_view ReleaseStateName(ReleaseState s);  // "draft", "rolling", ...

// Everything the server persists besides the spec.
struct RolloutStatus {
  ReleaseState state = ReleaseState::kDraft;
  int stage = 0;  // index into plan.stages; kept in paused/halted/completed
  absl::Time stage_started_at = absl::InfinitePast();
  std::string reason;  // why the last transition happened
};

struct Transition {
  ReleaseState from = ReleaseState::kDraft;
  ReleaseState to = ReleaseState::kDraft;
  int from_stage = 0;
  int to_stage = 0;
  absl::Time at;
  std::string reason;
  // "rolling(stage 1, 1%) -> halted: <reason>"
  std::string ToString(const RolloutPlan& plan) const;
};

class Rollout {
 public:
  // A draft rollout; the spec must be valid.
  static absl::StatusOr<Rollout> Create(ReleaseSpec spec);
  // Rebuilds a rollout from stored state (no history).
  static absl::StatusOr<Rollout> Restore(ReleaseSpec spec,
                                         RolloutStatus status);

  absl::Status Start(absl::Time now, std::string_view reason = "started");
  // To the next stage, or completed from the last one.
  absl::Status Promote(absl::Time now, std::string_view reason = "promoted");
  absl::Status Pause(absl::Time now, std::string_view reason = "paused");
  absl::Status Resume(absl::Time now, std::string_view reason = "resumed");
  absl::Status Halt(absl::Time now, std::string_view reason = "halted");
  absl::Status RollBack(absl::Time now,
                        std::string_view reason = "rolled back");

  const ReleaseSpec& spec() const { return spec_; }
  uint64_t release_id() const { return spec_.release_id; }
  const RolloutStatus& status() const { return status_; }
  ReleaseState state() const { return status_.state; }
  int stage() const { return status_.stage; }
  const Stage& current_stage() const {
    return spec_.plan.stages[status_.stage];
  }
  bool at_last_stage() const {
    return status_.stage + 1 == static_cast<int>(spec_.plan.stages.size());
  }

  // Buckets [0, exposure_bp()) are the treatment: 0 in draft and
  // rolled_back, 10000 when completed, the stage's exposure otherwise.
  uint32_t exposure_bp() const;
  // Whether devices that do not have the release yet may get it now:
  // rolling, paused and completed (not draft, halted, rolled_back).
  bool accepts_new_devices() const;
  // Whether devices that installed it keep it: every state but draft and
  // rolled_back.
  bool keeps_installed_devices() const;

  // Transitions since Create/Restore, oldest first.
  const std::vector<Transition>& history() const { return history_; }
  // "release 7 rolling(stage 2 of 5, 5%)".
  std::string Describe() const;

 private:
  Rollout(ReleaseSpec spec, RolloutStatus status)
      : spec_(std::move(spec)), status_(std::move(status)) {}
  absl::Status Refuse(std::string_view action, std::string_view hint) const;
  void Move(ReleaseState to, int stage, absl::Time now, std::string_view reason,
            bool restart_bake);

  ReleaseSpec spec_;
  RolloutStatus status_;
  std::vector<Transition> history_;
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_ROLLOUT_H_
