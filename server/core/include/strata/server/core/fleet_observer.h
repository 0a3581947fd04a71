// What the server learns from devices, in memory: release health from
// reports (read from the stored health aggregates at start-up), the devices
// seen recently (for previews) and each release's adoption over time.
#ifndef STRATA_SERVER_CORE_FLEET_OBSERVER_H_
#define STRATA_SERVER_CORE_FLEET_OBSERVER_H_

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "strata/base/mutex.h"
#include "strata/rollout/device_attributes.h"
#include "strata/rollout/health.h"
#include "strata/v1/admin.pb.h"
#include "strata/v1/common.pb.h"
#include "strata/v1/delivery.pb.h"

namespace strata::server {

class FleetObserver {
 public:
  // At most this many devices are remembered per app (the least recently
  // seen is forgotten first, one per new device: no pass over all of them
  // that would hold every Check); at most this many adoption samples are kept
  // per release (older ones are thinned out). A device whose context is
  // larger than `max_device_bytes` serialized is not remembered (so a
  // remembered device costs a bounded amount of memory).
  explicit FleetObserver(size_t max_devices_per_app = 200000,
                         size_t max_samples = 240,
                         size_t max_device_bytes = 4096)
      : max_devices_(max_devices_per_app),
        max_samples_(max_samples),
        max_device_bytes_(max_device_bytes) {}

  rollout::HealthAggregator& health() { return health_; }

  // Called for every Check of an app that exists (callers keep made-up
  // app ids out: each app seen gets its own map), with what the device
  // says it runs (kept for the fleet view; counted in max_device_bytes).
  void SeeDevice(const v1::DeviceContext& device, absl::Time at);
  void SeeDevice(
      const v1::DeviceContext& device, absl::Time at,
      const google::protobuf::RepeatedPtrField<v1::InstalledModule>& installed);
  // What the devices of `app_id` remembered now run: per module, per
  // version (content and release counter), how many devices. Launch
  // figures are not filled (ReleaseCore adds those of the release).
  struct Version {
    std::string version;
    std::string content_sha256;
    uint64_t release_sequence = 0;
    uint64_t devices = 0;
  };
  struct ModuleVersions {
    v1::ModuleId module;
    std::vector<Version> versions;  // most devices first
    uint64_t devices = 0;
  };
  std::vector<ModuleVersions> Fleet(const std::string& app_id,
                                    uint64_t* devices) const;
  // What `device_id` of `app_id` said it runs at its last check.
  std::vector<v1::InstalledModule> InstalledOf(
      const std::string& app_id, const std::string& device_id) const;
  // Apps and devices remembered now; devices not remembered because their
  // context was too large (tests, metrics).
  size_t apps() const;
  size_t devices() const;
  uint64_t oversized() const;
  // The devices of `app_id` seen recently, most recent first; with
  // `seen_since`, also how many of them were seen at or after `since`.
  std::vector<rollout::DeviceAttributes> RecentDevices(
      const std::string& app_id, absl::Time since = absl::InfiniteFuture(),
      uint64_t* seen_since = nullptr) const;
  std::optional<std::pair<v1::DeviceContext, absl::Time>> LastSeen(
      const std::string& app_id, const std::string& device_id) const;

  void SampleAdoption(uint64_t release_id, absl::Time at, uint32_t exposure_bp,
                      uint64_t devices);
  std::vector<v1::AdoptionSample> Adoption(uint64_t release_id) const;

 private:
  struct Seen {
    v1::DeviceContext device;
    absl::Time at;
    std::vector<v1::InstalledModule> installed;
  };
  // An app's remembered devices, most recently seen first, and by id.
  struct AppDevices {
    std::list<Seen> recent;
    std::unordered_map<std::string, std::list<Seen>::iterator> by_id;
  };
  rollout::HealthAggregator health_;
  const size_t max_devices_;
  const size_t max_samples_;
  const size_t max_device_bytes_;
  mutable Mutex mu_;
  std::map<std::string, AppDevices> devices_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<uint64_t, std::vector<v1::AdoptionSample>> adoption_
      ABSL_GUARDED_BY(mu_);
  uint64_t oversized_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_FLEET_OBSERVER_H_
