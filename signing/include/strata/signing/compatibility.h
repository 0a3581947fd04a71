// Does an artifact fit this device? Dotted version comparison and the
// compatibility rules of ArtifactInfo.
#ifndef STRATA_SIGNING_COMPATIBILITY_H_
#define STRATA_SIGNING_COMPATIBILITY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "strata/rollout/device_attributes.h"
#include "strata/signing/metadata.h"

namespace strata::signing {

// What the client knows about itself.
struct DeviceInfo {
  std::string app_id;           // e.g. "wallet"
  std::string device_id;        // matched by director device_ids
  std::string user_id;          // hashed into rollout buckets (else device_id)
  std::string app_version;      // e.g. "10.3.1"
  std::string host_build;       // exact build id, e.g. "10.3.1+4711-android"
  std::string runtime_version;  // HCF runtime, e.g. "3.2"
  std::string sdk_version;      // Strata SDK, e.g. "1.0.0"
  // Everything segments look at (os, region, custom attributes...), for
  // the director's release rules. device_id and user_id repeat the above.
  rollout::DeviceAttributes attributes;
};

// Compares dotted versions segment by segment: numeric segments numerically,
// others as strings; missing segments count as 0 ("1.2" == "1.2.0"). A
// "+build" suffix is ignored. Returns <0, 0, >0.
int CompareVersions(std::string_view a, std::string_view b);

// OK when `version` lies in the inclusive range (open ends allowed).
bool InRange(std::string_view version, const VersionRange& range);

// Checks `artifact` against the device and the module the client asked for.
// Rejections (kPermissionDenied): WRONG_APP, WRONG_LAYER, WRONG_MODULE,
// WRONG_HOST_BUILD, INCOMPATIBLE.
absl::Status CheckCompatibility(const ArtifactInfo& artifact,
                                const DeviceInfo& device, Layer layer,
                                std::string_view module);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_COMPATIBILITY_H_
