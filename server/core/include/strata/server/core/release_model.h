// Mapping between the wire/storage form of releases (v1::Release,
// v1::Segment, v1::DeviceContext) and the rollout library's types.
#ifndef STRATA_SERVER_CORE_RELEASE_MODEL_H_
#define STRATA_SERVER_CORE_RELEASE_MODEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "strata/rollout/device_attributes.h"
#include "strata/rollout/gate_policy.h"
#include "strata/rollout/health.h"
#include "strata/rollout/rollout.h"
#include "strata/rollout/segment.h"
#include "strata/v1/admin.pb.h"
#include "strata/v1/delivery.pb.h"

namespace strata::server {

// Unset fields keep the library's defaults.
rollout::GatePolicy ToGatePolicy(const v1::GatePolicy& p);

v1::ReleaseState ToProtoState(rollout::ReleaseState s);
rollout::ReleaseState FromProtoState(v1::ReleaseState s);

// The stored release as a rollout (spec + state). kDataLoss if the record
// does not make a valid spec.
absl::StatusOr<rollout::Rollout> ToRollout(const v1::Release& release);
// Copies the rollout's state, stage, stage start and reason into `release`.
void StoreStatus(const rollout::Rollout& r, v1::Release* release);

rollout::DeviceAttributes ToAttributes(const v1::DeviceContext& device);

// Compiles a stored segment.
absl::StatusOr<rollout::Segment> ToSegment(const v1::Segment& segment);

v1::CohortHealth ToProto(const rollout::CohortHealth& h);

// A device's report event as health input, received at `at`.
rollout::HealthEvent ToHealthEvent(const v1::ReportEvent& e, absl::Time at);

// "rolling", "halted", ...
std::string StateName(v1::ReleaseState s);

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_RELEASE_MODEL_H_
