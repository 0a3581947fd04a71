// Health reports aggregated per release and cohort (treatment vs control).
#ifndef STRATA_ROLLOUT_HEALTH_H_
#define STRATA_ROLLOUT_HEALTH_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "absl/time/time.h"
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

struct HealthEvent {
  HealthEventKind kind = HealthEventKind::kLaunchOk;
  // strata.v1.RejectReason number, for kRejected and kApplyFailed.
  int reject_reason = 0;
  CrashKind crash = CrashKind::kUnspecified;  // for kLaunchCrash
  absl::Time at = absl::InfinitePast();       // when the server received it
};

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

// Thread-safe accumulator the Report path feeds.
class HealthAggregator {
 public:
  // Adds `event` for `release_id`, whose rollout is at `stage` (index into
  // its plan), from a device in `cohort`. kOutside events are ignored
  // (returns false). A later stage restarts the stage window; a report for
  // an earlier stage only counts in the totals.
  bool Record(uint64_t release_id, int stage, Cohort cohort,
              const HealthEvent& event);
  // A copy of what was recorded (empty figures if nothing).
  ReleaseHealth Get(uint64_t release_id) const;
  void Forget(uint64_t release_id);

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, ReleaseHealth> releases_;
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_HEALTH_H_
