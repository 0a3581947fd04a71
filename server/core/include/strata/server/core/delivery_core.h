// Answers devices' checks, without gRPC: the Delivery service adapts to this.
#ifndef STRATA_SERVER_CORE_DELIVERY_CORE_H_
#define STRATA_SERVER_CORE_DELIVERY_CORE_H_

#include <condition_variable>
#include <map>
#include <mutex>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/server/core/delta_cache.h"
#include "strata/server/core/release_snapshot.h"
#include "strata/server/storage/store.h"
#include "strata/v1/delivery.pb.h"

namespace strata::server {

struct DeliveryOptions {
  // CONFIG documents up to this size travel inside the check response.
  uint64_t max_inline_bytes = 64 * 1024;
  absl::Duration plan_lifetime = absl::Hours(24);
  uint32_t download_chunk_bytes = 64 * 1024;
  uint32_t max_report_events = 1000;
};

class DeliveryCore {
 public:
  // `deltas` may be null (no deltas offered).
  DeliveryCore(Store* store, Clock* clock, DeliveryOptions options = {},
               DeltaCache* deltas = nullptr)
      : store_(store),
        deltas_(deltas),
        clock_(clock),
        options_(options),
        snapshots_(store, options.max_inline_bytes) {}

  // For every module with a current release whose content differs from what
  // the device has installed: an update entry.
  absl::StatusOr<v1::CheckResponse> Check(const v1::CheckRequest& request);

  // Keeps a device's report (durably) and counts its events. At most
  // `max_report_events` per call.
  absl::StatusOr<v1::ReportResponse> Report(const v1::ReportRequest& request);

  uint32_t download_chunk_bytes() const {
    return options_.download_chunk_bytes;
  }
  Store* store() { return store_; }
  // Called by whoever changes an app's releases.
  void ReleasesChanged(const std::string& app_id);

  // WatchConfig support: the live CONFIG entries whose content differs from
  // `known` (module name -> installed sha256), which is updated to match.
  absl::StatusOr<std::vector<v1::UpdateEntry>> ConfigChanges(
      const std::string& app_id, std::map<std::string, std::string>& known);
  // The app's change counter; WaitForChange returns when it moves past
  // `seen` (true) or at `deadline` (false).
  uint64_t ChangeCounter(const std::string& app_id);
  bool WaitForChange(const std::string& app_id, uint64_t seen,
                     absl::Time deadline);

 private:
  Store* store_;
  DeltaCache* deltas_;
  Clock* clock_;
  DeliveryOptions options_;
  ReleaseSnapshots snapshots_;
  std::mutex change_mu_;
  std::condition_variable change_cv_;
  std::map<std::string, uint64_t> change_counter_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_DELIVERY_CORE_H_
