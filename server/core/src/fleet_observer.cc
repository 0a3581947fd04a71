#include "strata/server/core/fleet_observer.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "strata/base/mutex.h"
#include "strata/server/core/release_model.h"

namespace strata::server {

void FleetObserver::SeeDevice(const v1::DeviceContext& device, absl::Time at) {
  SeeDevice(device, at, {});
}

void FleetObserver::SeeDevice(
    const v1::DeviceContext& device, absl::Time at,
    const google::protobuf::RepeatedPtrField<v1::InstalledModule>& installed) {
  size_t bytes = device.ByteSizeLong();
  for (const v1::InstalledModule& m : installed) bytes += m.ByteSizeLong();
  MutexLock lock(&mu_);
  if (bytes > max_device_bytes_) {
    ++oversized_;
    return;
  }
  AppDevices& app = devices_[device.app_id()];
  auto it = app.by_id.find(device.device_id());
  if (it != app.by_id.end()) {
    // Most recent first; a plain copy: the strings reuse their buffers,
    // cheaper than comparing field by field through reflection first.
    app.recent.splice(app.recent.begin(), app.recent, it->second);
    Seen& seen = *it->second;
    seen.at = at;
    seen.device = device;
    seen.installed.assign(installed.begin(), installed.end());
    return;
  }
  if (app.by_id.size() >= max_devices_ && !app.recent.empty()) {
    // The least recently seen goes: constant time, so no Check waits for
    // a pass over the whole fleet.
    app.by_id.erase(app.recent.back().device.device_id());
    app.recent.pop_back();
  }
  app.recent.push_front(Seen{device, at, {installed.begin(), installed.end()}});
  app.by_id.emplace(device.device_id(), app.recent.begin());
}

std::vector<FleetObserver::ModuleVersions> FleetObserver::Fleet(
    const std::string& app_id, uint64_t* devices) const {
  // (layer, module) -> (version, sha, sequence) -> devices
  std::map<std::pair<int, std::string>,
           std::map<std::tuple<std::string, std::string, uint64_t>, uint64_t>>
      counts;
  {
    MutexLock lock(&mu_);
    auto it = devices_.find(app_id);
    *devices = it == devices_.end() ? 0 : it->second.by_id.size();
    if (it == devices_.end()) return {};
    for (const Seen& s : it->second.recent) {
      for (const v1::InstalledModule& m : s.installed) {
        ++counts[{m.module().layer(), m.module().name()}]
                [{m.version(), m.content_sha256(), m.release_sequence()}];
      }
    }
  }
  std::vector<ModuleVersions> out;
  for (auto& [key, versions] : counts) {
    ModuleVersions mv;
    mv.module.set_layer(static_cast<v1::Layer>(key.first));
    mv.module.set_name(key.second);
    for (const auto& [v, n] : versions) {
      mv.versions.push_back(
          Version{std::get<0>(v), std::get<1>(v), std::get<2>(v), n});
      mv.devices += n;
    }
    std::stable_sort(mv.versions.begin(), mv.versions.end(),
                     [](const Version& a, const Version& b) {
                       return a.devices > b.devices;
                     });
    out.push_back(std::move(mv));
  }
  return out;
}

std::vector<v1::InstalledModule> FleetObserver::InstalledOf(
    const std::string& app_id, const std::string& device_id) const {
  MutexLock lock(&mu_);
  auto app = devices_.find(app_id);
  if (app == devices_.end()) return {};
  auto it = app->second.by_id.find(device_id);
  if (it == app->second.by_id.end()) return {};
  return it->second->installed;
}

size_t FleetObserver::apps() const {
  MutexLock lock(&mu_);
  return devices_.size();
}

size_t FleetObserver::devices() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [app, devices] : devices_) n += devices.by_id.size();
  return n;
}

uint64_t FleetObserver::oversized() const {
  MutexLock lock(&mu_);
  return oversized_;
}

std::vector<rollout::DeviceAttributes> FleetObserver::RecentDevices(
    const std::string& app_id, absl::Time since, uint64_t* seen_since) const {
  MutexLock lock(&mu_);
  std::vector<rollout::DeviceAttributes> out;
  if (seen_since != nullptr) *seen_since = 0;
  auto it = devices_.find(app_id);
  if (it == devices_.end()) return out;
  out.reserve(it->second.by_id.size());
  for (const Seen& s : it->second.recent) {
    out.push_back(ToAttributes(s.device));
    if (seen_since != nullptr && s.at >= since) ++*seen_since;
  }
  return out;
}

std::optional<std::pair<v1::DeviceContext, absl::Time>> FleetObserver::LastSeen(
    const std::string& app_id, const std::string& device_id) const {
  MutexLock lock(&mu_);
  auto app = devices_.find(app_id);
  if (app == devices_.end()) return std::nullopt;
  auto it = app->second.by_id.find(device_id);
  if (it == app->second.by_id.end()) return std::nullopt;
  return std::make_pair(it->second->device, it->second->at);
}

void FleetObserver::SampleAdoption(uint64_t release_id, absl::Time at,
                                   uint32_t exposure_bp, uint64_t devices) {
  MutexLock lock(&mu_);
  std::vector<v1::AdoptionSample>& samples = adoption_[release_id];
  auto same = [&](const v1::AdoptionSample& s) {
    return s.exposure_bp() == exposure_bp && s.devices() == devices;
  };
  const size_t n = samples.size();
  if (n >= 2 && same(samples[n - 1]) && same(samples[n - 2])) {
    // A flat stretch keeps its first and last point: a release that no
    // longer changes (e.g. long completed) stops growing its series.
    samples[n - 1].set_at_ms(absl::ToUnixMillis(at));
    return;
  }
  if (samples.size() >= max_samples_) {
    // Keep the first and every other one after it: the series stays evenly
    // spread over the whole life of the release.
    std::vector<v1::AdoptionSample> thinned;
    for (size_t i = 0; i < samples.size(); i += 2)
      thinned.push_back(samples[i]);
    samples = std::move(thinned);
  }
  v1::AdoptionSample s;
  s.set_at_ms(absl::ToUnixMillis(at));
  s.set_exposure_bp(exposure_bp);
  s.set_devices(devices);
  samples.push_back(std::move(s));
}

std::vector<v1::AdoptionSample> FleetObserver::Adoption(
    uint64_t release_id) const {
  MutexLock lock(&mu_);
  auto it = adoption_.find(release_id);
  if (it == adoption_.end()) return {};
  return it->second;
}

}  // namespace strata::server
