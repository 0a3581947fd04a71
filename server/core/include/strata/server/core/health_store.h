// Release health kept as stored aggregates (issue 16): the Report path
// counts each accepted report against the device's stored marks and
// writes the changed marks and the figure changes in the report's own
// batch; start-up reads the aggregates (one record per release, cohort,
// stage and hour) instead of replaying every stored report. A data
// directory written before the aggregates existed is rebuilt from its
// reports once (the old replay), then starts fast.
#ifndef STRATA_SERVER_CORE_HEALTH_STORE_H_
#define STRATA_SERVER_CORE_HEALTH_STORE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/rollout/health.h"
#include "strata/server/storage/store.h"
#include "strata/v1/storage.pb.h"

namespace strata::server {

// Conversions between the rollout library's figures and marks and their
// stored form. Stored figures are signed (a change may be negative); the
// in-memory ones are sums modulo 2^64 (rollout/health.h).
v1::StoredHealthFigures ToStored(const rollout::CohortHealth& h);
rollout::CohortHealth FromStored(const v1::StoredHealthFigures& f);
v1::StoredDeviceMarks ToStored(const rollout::DeviceMarks& m);
rollout::DeviceMarks FromStored(const v1::StoredDeviceMarks& m);

// Start of the hour holding `unix_seconds` (the bucket a change goes to).
int64_t HealthHour(int64_t unix_seconds);

// How one stored report (with its attributions) changes release health.
struct ReportHealth {
  HealthUpdate update;    // to store in the report's batch
  uint32_t repeated = 0;  // events from devices that already counted
};

// Counts `report` against the device's stored marks. The caller holds the
// device's report lock until the update is stored.
absl::StatusOr<ReportHealth> CountReportHealth(Store& store,
                                               const v1::StoredReport& report);

// Adds stored changes (or buckets) to the in-memory figures gates read.
void ApplyHealth(rollout::HealthAggregator& health,
                 const std::vector<HealthBucket>& buckets);

struct HealthLoad {
  bool rebuilt = false;  // the aggregates were rebuilt from reports
  uint64_t reports = 0;  // reports read by the rebuild
  uint64_t buckets = 0;  // aggregate records read
};

// Start-up: fills `health` from the stored aggregates, rebuilding them
// from the stored reports first when they are missing (a data directory
// of an earlier version, or a rebuild cut short). Before serving.
absl::StatusOr<HealthLoad> LoadHealthAggregates(
    Store& store, rollout::HealthAggregator& health);

// Replicas (a shared store): replaces the in-memory figures of every
// release that has stored aggregates with the stored ones, which hold the
// reports every replica took. The gate leader runs it before each pass.
// Returns how many buckets were read.
absl::StatusOr<uint64_t> ReloadHealthAggregates(
    Store& store, rollout::HealthAggregator& health);

// The rebuild alone (today's replay of every stored report, persisted),
// for tests and the start-up bench.
absl::StatusOr<uint64_t> RebuildHealthAggregates(Store& store);

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_HEALTH_STORE_H_
