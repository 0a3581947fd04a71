// Answers devices' checks, without gRPC: the Delivery service adapts to this.
#ifndef STRATA_SERVER_CORE_DELIVERY_CORE_H_
#define STRATA_SERVER_CORE_DELIVERY_CORE_H_

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/mutex.h"
#include "strata/server/core/config_watch.h"
#include "strata/server/core/delta_cache.h"
#include "strata/server/core/fleet_observer.h"
#include "strata/server/core/release_snapshot.h"
#include "strata/server/core/report_ticket.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/storage/store.h"
#include "strata/v1/delivery.pb.h"

namespace strata::server {

struct DeliveryOptions {
  // CONFIG documents up to this size travel inside the check response.
  uint64_t max_inline_bytes = 64 * 1024;
  absl::Duration plan_lifetime = absl::Hours(24);
  uint32_t download_chunk_bytes = 64 * 1024;
  uint32_t max_report_events = 1000;
  // Stored reports (and their event-id markers) older than this are
  // deleted by PruneReports; must be longer than plan_lifetime, so a
  // replayed event whose marker is gone has an expired ticket.
  absl::Duration report_retention = absl::Hours(30 * 24);
  // Makes the report ticket key once (null: the system's randomness).
  Random* random = nullptr;
  // The seam for device attestation (docs/threat-model.md): when set, a
  // device's ticket names releases only if this says the device may speak
  // for them (e.g. it verified a Play Integrity or App Attest token carried
  // in DeviceContext.attributes). Unset: every device may. The plan itself
  // does not depend on it.
  std::function<bool(const v1::DeviceContext&)> may_count_reports = nullptr;
};

// What Report saw beyond its response (for metrics).
struct ReportStats {
  // Why the response's not_counted events count for nothing: a
  // TicketProblemName ("no_ticket", "bad_ticket", "expired_ticket",
  // "wrong_device"), "not_offered" (valid ticket, none of the releases
  // the event is about counts it). Empty when not_counted is 0.
  std::string_view not_counted_reason;
  // Attributions from a device that already counted for that figure in
  // its window (HealthAggregator's kRepeated).
  uint32_t repeated = 0;
};

class DeliveryCore {
 public:
  // `deltas` may be null (no deltas offered); `fleet` may be null (no
  // health or device tracking); `trust` may be null (no TUF metadata).
  DeliveryCore(Store* store, Clock* clock, DeliveryOptions options = {},
               DeltaCache* deltas = nullptr, FleetObserver* fleet = nullptr,
               TrustRepo* trust = nullptr)
      : store_(store),
        deltas_(deltas),
        fleet_(fleet),
        trust_(trust),
        clock_(clock),
        options_(options),
        snapshots_(store, options.max_inline_bytes, trust),
        watch_([this](const std::string& app_id) {
          return snapshots_.Get(app_id);
        }) {}

  // Per module, the newest release that applies to this device (segment,
  // bucket, rollout state; docs/rollout.md); an update entry for each whose
  // content differs from what the device has installed. Entries of one
  // release share its release_id: the device activates them together.
  // For an app with a root of trust, `metadata` carries the TUF files newer
  // than `request.trusted` (from the app's prebuilt view: no disk, no
  // signature).
  absl::StatusOr<v1::CheckResponse> Check(const v1::CheckRequest& request);
  // The same, built in place in `response` (the Delivery service fills
  // gRPC's own response message: no copy).
  absl::Status Check(const v1::CheckRequest& request,
                     v1::CheckResponse* response);

  // The app's metadata files newer than `sent`, appended to `out`; `sent`
  // then holds what the device will trust (WatchConfig keeps it per
  // stream). Nothing for an app without trust.
  void NewerMetadata(const std::string& app_id, v1::TrustedVersions& sent,
                     google::protobuf::RepeatedPtrField<v1::MetadataFile>* out);
  // The target names the app's live releases use.
  absl::StatusOr<std::set<std::string>> TargetsInUse(const std::string& app_id);

  // Keeps a device's report (durably) together with how its events count
  // for release health (treatment or control), then counts them. At most
  // `max_report_events` per call. Every event needs an event_id (1 to 64
  // of [0-9A-Za-z_-]); events whose id this device already sent are
  // dropped (ReportResponse.duplicates). Events count only as the
  // request's ticket (from this device's latest Check) says; without a
  // valid one they are kept but count for nothing (not_counted).
  absl::StatusOr<v1::ReportResponse> Report(const v1::ReportRequest& request,
                                            ReportStats* stats = nullptr);
  // Deletes stored reports received more than `report_retention` ago, with
  // their event-id markers. Returns how many reports and events went.
  absl::StatusOr<std::pair<uint64_t, uint64_t>> PruneReports();

  // Whether the server has anything of `app_id` (ReleaseSnapshots).
  bool AppExists(const std::string& app_id) {
    return snapshots_.AppExists(app_id);
  }
  const ReleaseSnapshots& snapshots() const { return snapshots_; }

  uint32_t download_chunk_bytes() const {
    return options_.download_chunk_bytes;
  }
  Store* store() { return store_; }
  // Called by whoever changes an app's releases (or its trust). An app with
  // a root of trust is rebuilt at once: its director is signed here.
  void ReleasesChanged(const std::string& app_id);

  // WatchConfig support: the CONFIG entries this device should run whose
  // content differs from `known` (module name -> what it has), which is
  // updated to match. Releases that also hold other layers are left to
  // Check, which delivers them whole. (A stream's own path: WatchConfig.)
  absl::StatusOr<std::vector<v1::UpdateEntry>> ConfigChanges(
      const v1::DeviceContext& device,
      std::map<std::string, v1::InstalledModule>& known);
  // Opens a WatchConfig stream for `request` (its app id already valid):
  // it sends `sink` what the device lacks now, then what each change of
  // the app brings, each event with the metadata files newer than what
  // the device trusts. Close() it when the call is over.
  std::shared_ptr<ConfigStream> WatchConfig(
      const v1::WatchConfigRequest& request, ConfigSink* sink);
  // The per-app registry of WatchConfig streams (counters for /metrics;
  // WaitIdle for tests).
  ConfigWatchHub& config_watch() { return watch_; }

 private:
  // Says how each event of `report` counts for release health, as
  // `ticket` allows. Returns how many events count for nothing.
  static uint32_t Attribute(const AppSnapshot& snapshot,
                            const v1::ReportTicket& ticket,
                            v1::StoredReport& report);
  // The ticket signer, made on first use (its key is read from the store).
  absl::StatusOr<const ReportTickets*> Tickets();
  // One of report_mu_, by app and device.
  Mutex& ReportLock(const std::string& app_id, const std::string& device_id);

  Store* store_;
  DeltaCache* deltas_;
  FleetObserver* fleet_;
  TrustRepo* trust_;
  Clock* clock_;
  DeliveryOptions options_;
  ReleaseSnapshots snapshots_;
  // After snapshots_: its notifier reads them until it stops.
  ConfigWatchHub watch_;
  Mutex tickets_mu_;
  std::unique_ptr<ReportTickets> tickets_ ABSL_GUARDED_BY(tickets_mu_);
  // Serializes dedupe-then-append of one device's reports (striped).
  std::array<Mutex, 64> report_mu_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_DELIVERY_CORE_H_
