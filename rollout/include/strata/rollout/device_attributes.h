// The device context that segments, bucketing and previews look at. Plain
// std types so the server can fill it from a DeviceContext message and the
// preview can keep a list of recently seen devices.
#ifndef STRATA_ROLLOUT_DEVICE_ATTRIBUTES_H_
#define STRATA_ROLLOUT_DEVICE_ATTRIBUTES_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace strata::rollout {

struct DeviceAttributes {
  std::string app_version;  // semver-ish, e.g. "10.3.0"
  std::string os;           // e.g. "android", "ios"
  std::string os_version;   // e.g. "14", "17.2.1"
  std::string device_model;
  std::string region;   // e.g. "CN-31"
  std::string channel;  // e.g. "beta", "store"
  std::string network;  // e.g. "wifi", "5g"
  std::string locale;   // e.g. "zh-CN"
  std::string user_id;
  std::string device_id;
  // Custom attributes, `attr.<name>` in expressions. std::less<> lets the
  // evaluator look names up by std::string_view without allocating.
  std::map<std::string, std::string, std::less<>> custom;
};

// The id a device is bucketed by: its user id, or its device id when no user
// is signed in (so a signed-out device still lands in a stable bucket).
inline std::string_view BucketingId(const DeviceAttributes& device) {
  return device.user_id.empty() ? std::string_view(device.device_id)
                                : std::string_view(device.user_id);
}

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_DEVICE_ATTRIBUTES_H_
