// Health reports aggregated per release and cohort (treatment vs control),
// counting devices, not events: in each window (release, cohort, stage) a
// device counts at most once per figure, so one device cannot outvote the
// fleet however many events it sends.
#ifndef STRATA_ROLLOUT_HEALTH_H_
#define STRATA_ROLLOUT_HEALTH_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "strata/base/mutex.h"
#include "strata/rollout/bucketing.h"
#include "strata/rollout/reject_reasons.h"

namespace strata::rollout {

// Same numbers as strata.v1.ReportEvent.Kind.
enum class HealthEventKind : int {
  kDownloaded = 1,
  kApplied = 2,
  kActivated = 3,
  kRejected = 4,  // the SDK refused it; reject_reason says why
  kApplyFailed = 5,
  kRolledBack = 6,  // the launch guard undid it on the device
  kLaunchOk = 7,
  kLaunchCrash = 8,
};
std::string_view HealthEventKindName(HealthEventKind k);

// Typed crash reasons (the SDK classifies what killed the launch).
enum class CrashKind : int {
  kUnspecified = 0,
  kNative = 1,   // signal in native code
  kManaged = 2,  // uncaught Java/Kotlin/ObjC/Swift exception
  kScript = 3,   // uncaught JS error in H5/HCF
  kAppNotResponding = 4,
  kOutOfMemory = 5,
  kStartupTimeout = 6,  // never reached MarkLaunchHealthy
};
inline constexpr int kCrashKindCount = 7;
std::string_view CrashKindName(CrashKind k);

// The key a device is counted under: the first 8 bytes of
// SHA-256("strata-device:" || device_id), big-endian. Stable across
// processes, so health rebuilt from stored reports counts the same devices.
uint64_t DeviceKey(std::string_view device_id);

struct HealthEvent {
  HealthEventKind kind = HealthEventKind::kLaunchOk;
  // strata.v1.RejectReason number, for kRejected and kApplyFailed.
  int reject_reason = 0;
  CrashKind crash = CrashKind::kUnspecified;  // for kLaunchCrash
  absl::Time at = absl::InfinitePast();       // when the server received it
  uint64_t device = 0;                        // DeviceKey of the sender
};

// What one device has shown in one window (release, cohort, stage): the
// figures it already counts in. 16 bytes.
struct DeviceMarks {
  uint16_t kinds = 0;       // bit per HealthEventKind seen
  uint8_t launch = 0;       // 0 none, 1 only healthy launches, 2 crashed
  uint8_t apply = 0;        // 0 none, 1 applied, 2 apply failed, 3 rejected
  uint8_t crash_kinds = 0;  // bit per CrashKind
  bool integrity = false;   // an integrity failure counted
  uint64_t reasons = 0;     // bit per reject reason (63: 63 and above)
};

// Figures of one cohort, in devices. Each device counts once per window:
//   launches_ok      devices whose launches in the window all went well
//   launch_crashes   devices with at least one crashed launch (a device
//                    that crashes after healthy launches moves here)
//   applied          devices whose applies all succeeded
//   apply_failed     devices with an apply failure (and no rejection)
//   rejected         devices with a rejection
//   downloaded, activated, rolled_back: devices with at least one
//   integrity_failures: devices with a rejection or apply failure whose
//                    reason is decided kIntegrity
//   crashes_by_kind, failures_by_reason: devices per crash kind / reason
// so crash_rate() is the share of launched devices that crashed, and
// apply_failure_rate() the share of devices that tried to apply and failed.
// Totals over several windows add the windows' figures (a device counts
// once per stage).
struct CohortHealth {
  uint64_t downloaded = 0;
  uint64_t applied = 0;
  uint64_t activated = 0;
  uint64_t rejected = 0;
  uint64_t apply_failed = 0;
  uint64_t rolled_back = 0;
  uint64_t launches_ok = 0;
  uint64_t launch_crashes = 0;
  // Rejections and apply failures whose reason reject_reasons.h decides
  // kIntegrity.
  uint64_t integrity_failures = 0;
  std::array<uint64_t, kCrashKindCount> crashes_by_kind{};
  std::map<int, uint64_t> failures_by_reason;  // reject/apply-failed reasons
  std::optional<absl::Time> first_report_at;
  std::optional<absl::Time> last_report_at;

  // Counts `e` as coming from a device not seen before.
  void Add(const HealthEvent& e);

  uint64_t reports() const;
  uint64_t launches() const { return launches_ok + launch_crashes; }
  uint64_t apply_attempts() const { return applied + apply_failed + rejected; }
  uint64_t apply_failures() const { return apply_failed + rejected; }
  // Fractions; 0 when there is nothing to divide by.
  double crash_rate() const;
  double apply_failure_rate() const;
  double integrity_failure_rate() const;
};

struct ReleaseHealth {
  uint64_t release_id = 0;
  CohortHealth treatment;  // since the release started
  CohortHealth control;    // since the release started
  // Treatment reports recorded while the rollout was at `stage` (the
  // latest stage a report was recorded for); -1 before any.
  int stage = -1;
  CohortHealth treatment_stage;
};

// What an event changed: kCounted moved a figure; kRepeated came from a
// device that already counts for it in its window (only the report times
// move); kIgnored was outside both cohorts.
enum class RecordResult { kIgnored, kCounted, kRepeated };

// Counts `e` for the device whose marks in this window are `marks`: the
// figures of `a` (and `b`, if given) move as the device's contribution
// changes. Returns false if they did not (a repeat). Figures are sums
// modulo 2^64, so `a` may be a change that starts at zero (a device moving
// from launches_ok to launch_crashes leaves launches_ok at 2^64 - 1 there),
// // added to the figures it changes with AddCohortHealth.
bool CountDeviceEvent(DeviceMarks& marks, const HealthEvent& e, CohortHealth* a,
                      CohortHealth* b = nullptr);

// Adds the figures of `change` to `into`; report times take the earlier
// first and the later last.
void AddCohortHealth(CohortHealth& into, const CohortHealth& change);

// Thread-safe accumulator of release health. The server feeds it with Add
// (it keeps device marks on disk); Record keeps marks here. Memory with
// Record: one DeviceMarks
// (16 bytes, about 60 with the hash table's node and bucket) per device
// per release, cohort and stage it reported in; Forget frees a release's.
class HealthAggregator {
 public:
  // Adds `event` (from device `event.device`) for `release_id`, whose
  // rollout is at `stage` (index into its plan), from a device in `cohort`.
  // kOutside events are ignored. A later stage restarts the stage window; a
  // report for an earlier stage only counts in the totals.
  RecordResult Record(uint64_t release_id, int stage, Cohort cohort,
                      const HealthEvent& event);
  // Adds figures (a change computed with CountDeviceEvent against marks
  // kept elsewhere, or stored aggregates read at start-up) to the window
  // (release, cohort, stage) and the totals, as Record would have. Tracks
  // no devices: whoever computed the change keeps their marks.
  void Add(uint64_t release_id, int stage, Cohort cohort,
           const CohortHealth& change);
  // A copy of what was recorded (empty figures if nothing).
  ReleaseHealth Get(uint64_t release_id) const;
  void Forget(uint64_t release_id);
  // Devices tracked over every window (for tests and memory estimates).
  size_t tracked_devices() const;

 private:
  struct Window {
    CohortHealth figures;
    std::unordered_map<uint64_t, DeviceMarks> devices;
  };
  struct Entry {
    ReleaseHealth totals;  // treatment_stage unused: it is a window
    std::map<std::pair<int, int>, Window> windows;  // (cohort, stage)
  };
  mutable Mutex mu_;
  std::unordered_map<uint64_t, Entry> releases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_HEALTH_H_
