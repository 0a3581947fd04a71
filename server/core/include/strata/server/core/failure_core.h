// Client failures by signature and the remedies devices applied
// (docs/remedies.md), aggregated from the stored device reports at each
// call, without gRPC: the Admin service adapts to this.
//
// Why at each call and not kept as a running aggregate: the reports are
// already stored durably on both store backends (RocksDB and PostgreSQL)
// with the device attributes the aggregates need, so an answer computed
// from them is exactly what was acknowledged (no second write to keep in
// step, nothing to rebuild after a crash, replicas agree). The cost is a
// scan of every stored report per call, other apps' included (ForEachReport
// does not promise them grouped by app): fine for the retention window of
// a test or pilot fleet, not for tens of millions of reports, where a
// merge aggregate like the release health buckets is the next step.
#ifndef STRATA_SERVER_CORE_FAILURE_CORE_H_
#define STRATA_SERVER_CORE_FAILURE_CORE_H_

#include "absl/status/statusor.h"
#include "strata/server/core/auth_core.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/storage/store.h"
#include "strata/v1/admin.pb.h"

namespace strata::server {

class FailureCore {
 public:
  // `trust` may be null (an app is then known by its artifacts, segments
  // and releases only).
  FailureCore(Store* store, const TrustRepo* trust)
      : store_(store), trust_(trust) {}

  // Viewer of the app. Signatures most reported first (at most `limit`),
  // and every remedy devices reported applying.
  absl::StatusOr<v1::ListFailuresResponse> List(
      const Principal& who, const v1::ListFailuresRequest& req);
  // Viewer of the app; NOT_FOUND when no stored report has the signature.
  absl::StatusOr<v1::FailureInfo> Get(const Principal& who,
                                      const v1::GetFailureRequest& req);

  // Distinct devices remembered per signature (then devices_capped).
  static constexpr size_t kMaxDevicesPerSignature = 100000;

 private:
  Store* store_;
  const TrustRepo* trust_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_FAILURE_CORE_H_
