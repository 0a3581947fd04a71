#include "strata/server/core/release_model.h"

#include <vector>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {

rollout::GatePolicy ToGatePolicy(const v1::GatePolicy& p) {
  rollout::GatePolicy g;
  if (p.has_max_apply_failure_rate())
    g.max_apply_failure_rate = p.max_apply_failure_rate();
  if (p.has_max_apply_failure_ratio())
    g.max_apply_failure_ratio = p.max_apply_failure_ratio();
  if (p.has_min_apply_failure_rate_for_ratio())
    g.min_apply_failure_rate_for_ratio = p.min_apply_failure_rate_for_ratio();
  if (p.has_min_apply_attempts()) g.min_apply_attempts = p.min_apply_attempts();
  if (p.has_max_crash_ratio()) g.max_crash_ratio = p.max_crash_ratio();
  if (p.has_min_crash_rate_delta())
    g.min_crash_rate_delta = p.min_crash_rate_delta();
  if (p.has_max_crash_rate()) g.max_crash_rate = p.max_crash_rate();
  if (p.has_min_launches()) g.min_launches = p.min_launches();
  if (p.has_min_z_score()) g.min_z_score = p.min_z_score();
  if (p.has_max_integrity_failure_rate())
    g.max_integrity_failure_rate = p.max_integrity_failure_rate();
  if (p.has_min_integrity_failures())
    g.min_integrity_failures = p.min_integrity_failures();
  if (p.has_report_silence_seconds())
    g.report_silence_timeout = absl::Seconds(p.report_silence_seconds());
  if (p.statistic() == v1::GATE_STATISTIC_Z_SCORE) {
    g.statistic = rollout::GateStatistic::kZScore;
  }
  if (p.has_false_halt_budget()) g.false_halt_budget = p.false_halt_budget();
  if (p.has_baseline_crash_rate())
    g.baseline_crash_rate = p.baseline_crash_rate();
  if (p.has_min_detectable_crash_ratio())
    g.min_detectable_crash_ratio = p.min_detectable_crash_ratio();
  return g;
}

v1::ReleaseState ToProtoState(rollout::ReleaseState s) {
  switch (s) {
    case rollout::ReleaseState::kDraft:
      return v1::RELEASE_DRAFT;
    case rollout::ReleaseState::kRolling:
      return v1::RELEASE_ROLLING;
    case rollout::ReleaseState::kPaused:
      return v1::RELEASE_PAUSED;
    case rollout::ReleaseState::kHalted:
      return v1::RELEASE_HALTED;
    case rollout::ReleaseState::kCompleted:
      return v1::RELEASE_COMPLETED;
    case rollout::ReleaseState::kRolledBack:
      return v1::RELEASE_ROLLED_BACK;
  }
  return v1::RELEASE_STATE_UNSPECIFIED;
}

rollout::ReleaseState FromProtoState(v1::ReleaseState s) {
  switch (s) {
    case v1::RELEASE_ROLLING:
      return rollout::ReleaseState::kRolling;
    case v1::RELEASE_PAUSED:
      return rollout::ReleaseState::kPaused;
    case v1::RELEASE_HALTED:
      return rollout::ReleaseState::kHalted;
    case v1::RELEASE_COMPLETED:
      return rollout::ReleaseState::kCompleted;
    case v1::RELEASE_ROLLED_BACK:
      return rollout::ReleaseState::kRolledBack;
    default:
      return rollout::ReleaseState::kDraft;
  }
}

absl::StatusOr<rollout::Rollout> ToRollout(const v1::Release& release) {
  rollout::ReleaseSpec spec;
  spec.release_id = release.release_id();
  spec.app_id = release.app_id();
  for (const v1::ReleaseArtifact& a : release.artifacts()) {
    spec.artifacts.push_back({static_cast<rollout::Layer>(a.module().layer()),
                              a.module().name(), a.version()});
  }
  if (spec.artifacts.empty()) {  // a record from before multi-artifact
    spec.artifacts.push_back(
        {static_cast<rollout::Layer>(release.module().layer()),
         release.module().name(), release.version()});
  }
  spec.segment = release.segment().empty() ? "everyone" : release.segment();
  spec.salt = release.salt();
  if (release.stages_size() > 0) {
    spec.plan.stages.clear();
    for (const v1::RolloutStage& s : release.stages()) {
      spec.plan.stages.push_back(
          {s.exposure_bp(), absl::Seconds(s.bake_seconds()), s.min_reports()});
    }
  } else if (release.state() == v1::RELEASE_COMPLETED) {
    // Records from before staged rollouts went to everyone at once.
    spec.plan.stages = {{10000, absl::ZeroDuration(), 0}};
  }
  spec.gates = ToGatePolicy(release.gates());
  spec.max_exposure_bp = release.max_exposure_bp();
  rollout::RolloutStatus status;
  status.state = FromProtoState(release.state());
  status.stage = release.stage();
  status.stage_started_at = absl::FromUnixMillis(release.stage_started_at_ms());
  status.reason = release.state_reason();
  absl::StatusOr<rollout::Rollout> r =
      rollout::Rollout::Restore(std::move(spec), std::move(status));
  if (!r.ok()) {
    return absl::DataLossError(
        StrCat("stored release ", release.release_id(),
               " is not valid: ", ToStd(r.status().message())));
  }
  return r;
}

void StoreStatus(const rollout::Rollout& r, v1::Release* release) {
  release->set_state(ToProtoState(r.state()));
  release->set_stage(r.stage());
  release->set_stage_started_at_ms(
      absl::ToUnixMillis(r.status().stage_started_at));
  release->set_state_reason(r.status().reason);
}

rollout::DeviceAttributes ToAttributes(const v1::DeviceContext& device) {
  rollout::DeviceAttributes a;
  a.app_version = device.app_version();
  a.os = device.os();
  a.os_version = device.os_version();
  a.device_model = device.device_model();
  a.region = device.region();
  a.channel = device.channel();
  a.network = device.network();
  a.locale = device.locale();
  a.user_id = device.user_id();
  a.device_id = device.device_id();
  for (const auto& [k, v] : device.attributes()) a.custom.emplace(k, v);
  return a;
}

absl::StatusOr<rollout::Segment> ToSegment(const v1::Segment& segment) {
  std::vector<std::string> allow(segment.allow_user_ids().begin(),
                                 segment.allow_user_ids().end());
  std::vector<std::string> deny(segment.deny_user_ids().begin(),
                                segment.deny_user_ids().end());
  absl::StatusOr<rollout::UserIdSet> allow_set =
      rollout::UserIdSet::FromIds(allow);
  STRATA_RETURN_IF_ERROR(Annotate(allow_set.status(), "allow list"));
  absl::StatusOr<rollout::UserIdSet> deny_set =
      rollout::UserIdSet::FromIds(deny);
  STRATA_RETURN_IF_ERROR(Annotate(deny_set.status(), "deny list"));
  return rollout::Segment::Create(segment.name(), segment.expression(),
                                  *std::move(allow_set), *std::move(deny_set));
}

v1::CohortHealth ToProto(const rollout::CohortHealth& h) {
  v1::CohortHealth p;
  p.set_downloaded(h.downloaded);
  p.set_applied(h.applied);
  p.set_activated(h.activated);
  p.set_rejected(h.rejected);
  p.set_apply_failed(h.apply_failed);
  p.set_rolled_back(h.rolled_back);
  p.set_launches_ok(h.launches_ok);
  p.set_launch_crashes(h.launch_crashes);
  p.set_integrity_failures(h.integrity_failures);
  p.set_crash_rate(h.crash_rate());
  p.set_apply_failure_rate(h.apply_failure_rate());
  return p;
}

rollout::HealthEvent ToHealthEvent(const v1::ReportEvent& e, absl::Time at) {
  rollout::HealthEvent h;
  h.kind = static_cast<rollout::HealthEventKind>(e.kind());
  h.reject_reason = e.reason();
  h.at = at;
  return h;
}

std::string StateName(v1::ReleaseState s) {
  return std::string(rollout::ReleaseStateName(FromProtoState(s)));
}

}  // namespace strata::server
