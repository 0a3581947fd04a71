#include "strata/rollout/rollout.h"

#include <algorithm>
#include <utility>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/rollout/bucketing.h"

namespace strata::rollout {
namespace {

std::string Percent(uint32_t bp) {
  if (bp % 100 == 0) return StrCat(bp / 100, "%");
  return StrCat(static_cast<double>(bp) / 100.0, "%");
}

std::string StateWithStage(ReleaseState s, int stage, const RolloutPlan& plan) {
  if (s == ReleaseState::kRolling || s == ReleaseState::kPaused ||
      s == ReleaseState::kHalted) {
    return StrCat(ReleaseStateName(s), "(stage ", stage + 1, " of ",
                  plan.stages.size(), ", ",
                  Percent(plan.stages[stage].exposure_bp), ")");
  }
  return std::string(ReleaseStateName(s));
}

}  // namespace

std::string_view ReleaseStateName(ReleaseState s) {
  switch (s) {
    case ReleaseState::kDraft:
      return "draft";
    case ReleaseState::kRolling:
      return "rolling";
    case ReleaseState::kPaused:
      return "paused";
    case ReleaseState::kHalted:
      return "halted";
    case ReleaseState::kCompleted:
      return "completed";
    case ReleaseState::kRolledBack:
      return "rolled_back";
  }
  return "unknown";
}

std::string Transition::ToString(const RolloutPlan& plan) const {
  return StrCat(StateWithStage(from, from_stage, plan), " -> ",
                StateWithStage(to, to_stage, plan), ": ", reason);
}

absl::StatusOr<Rollout> Rollout::Create(ReleaseSpec spec) {
  STRATA_RETURN_IF_ERROR(spec.Validate());
  return Rollout(std::move(spec), RolloutStatus());
}

absl::StatusOr<Rollout> Rollout::Restore(ReleaseSpec spec,
                                         RolloutStatus status) {
  STRATA_RETURN_IF_ERROR(spec.Validate());
  if (status.stage < 0 ||
      status.stage >= static_cast<int>(spec.plan.stages.size())) {
    return absl::InvalidArgumentError(
        StrCat("stored rollout of release ", spec.release_id, " is at stage ",
               status.stage + 1, " but its plan has ", spec.plan.stages.size(),
               " stages"));
  }
  if (status.state == ReleaseState::kCompleted) {
    status.stage = static_cast<int>(spec.plan.stages.size()) - 1;
  }
  return Rollout(std::move(spec), std::move(status));
}

std::string Rollout::Describe() const {
  return StrCat("release ", spec_.release_id, " ",
                StateWithStage(status_.state, status_.stage, spec_.plan));
}

absl::Status Rollout::Refuse(std::string_view action,
                             std::string_view hint) const {
  return absl::FailedPreconditionError(StrCat(
      "cannot ", action, " release ", spec_.release_id, ": it is ",
      StateWithStage(status_.state, status_.stage, spec_.plan), "; ", hint));
}

void Rollout::Move(ReleaseState to, int stage, absl::Time now,
                   std::string_view reason, bool restart_bake) {
  Transition t;
  t.from = status_.state;
  t.from_stage = status_.stage;
  t.to = to;
  t.to_stage = stage;
  t.at = now;
  t.reason = std::string(reason);
  history_.push_back(std::move(t));
  status_.state = to;
  status_.stage = stage;
  status_.reason = std::string(reason);
  if (restart_bake) status_.stage_started_at = now;
}

absl::Status Rollout::Start(absl::Time now, std::string_view reason) {
  if (status_.state != ReleaseState::kDraft) {
    return Refuse("start", "only a draft can be started");
  }
  Move(ReleaseState::kRolling, 0, now, reason, true);
  return absl::OkStatus();
}

absl::Status Rollout::Promote(absl::Time now, std::string_view reason) {
  switch (status_.state) {
    case ReleaseState::kRolling:
      break;
    case ReleaseState::kDraft:
      return Refuse("promote", "start it first");
    case ReleaseState::kPaused:
    case ReleaseState::kHalted:
      return Refuse("promote", "resume it first");
    case ReleaseState::kCompleted:
      return Refuse("promote", "it already reached 100%");
    case ReleaseState::kRolledBack:
      return Refuse("promote",
                    "a rolled-back release is final; create a new release");
  }
  if (at_last_stage()) {
    Move(ReleaseState::kCompleted, status_.stage, now, reason, false);
  } else {
    Move(ReleaseState::kRolling, status_.stage + 1, now, reason, true);
  }
  return absl::OkStatus();
}

absl::Status Rollout::Pause(absl::Time now, std::string_view reason) {
  if (status_.state != ReleaseState::kRolling) {
    return Refuse("pause", status_.state == ReleaseState::kPaused
                               ? "it is already paused"
                               : "only a rolling release can be paused");
  }
  Move(ReleaseState::kPaused, status_.stage, now, reason, false);
  return absl::OkStatus();
}

absl::Status Rollout::Resume(absl::Time now, std::string_view reason) {
  if (status_.state != ReleaseState::kPaused &&
      status_.state != ReleaseState::kHalted) {
    return Refuse("resume", "only a paused or halted release can be resumed");
  }
  Move(ReleaseState::kRolling, status_.stage, now, reason, true);
  return absl::OkStatus();
}

absl::Status Rollout::Halt(absl::Time now, std::string_view reason) {
  if (status_.state != ReleaseState::kRolling &&
      status_.state != ReleaseState::kPaused) {
    return Refuse("halt",
                  status_.state == ReleaseState::kHalted
                      ? "it is already halted"
                      : "only a rolling or paused release can be halted; "
                        "roll back a completed release instead");
  }
  Move(ReleaseState::kHalted, status_.stage, now, reason, false);
  return absl::OkStatus();
}

absl::Status Rollout::RollBack(absl::Time now, std::string_view reason) {
  if (status_.state == ReleaseState::kDraft) {
    return Refuse("roll back", "a draft reached no device; delete it instead");
  }
  if (status_.state == ReleaseState::kRolledBack) {
    return Refuse("roll back", "it is already rolled back");
  }
  Move(ReleaseState::kRolledBack, status_.stage, now, reason, false);
  return absl::OkStatus();
}

uint32_t Rollout::exposure_bp() const {
  uint32_t bp = 0;
  switch (status_.state) {
    case ReleaseState::kDraft:
    case ReleaseState::kRolledBack:
      return 0;
    case ReleaseState::kCompleted:
      bp = kFullExposure;
      break;
    default:
      bp = current_stage().exposure_bp;
  }
  if (spec_.max_exposure_bp != 0) bp = std::min(bp, spec_.max_exposure_bp);
  return bp;
}

bool Rollout::accepts_new_devices() const {
  return status_.state == ReleaseState::kRolling ||
         status_.state == ReleaseState::kPaused ||
         status_.state == ReleaseState::kCompleted;
}

bool Rollout::keeps_installed_devices() const {
  return status_.state != ReleaseState::kDraft &&
         status_.state != ReleaseState::kRolledBack;
}

}  // namespace strata::rollout
