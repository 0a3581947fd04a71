#include "strata/signing/compatibility.h"

#include "strata/base/strings.h"
#include "strata/signing/reject_reason.h"

namespace strata::signing {
namespace {

std::string_view NextSegment(std::string_view& v) {
  const size_t dot = v.find('.');
  std::string_view seg = v.substr(0, dot);
  v = dot == std::string_view::npos ? std::string_view() : v.substr(dot + 1);
  return seg;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int CompareSegment(std::string_view a, std::string_view b) {
  if (AllDigits(a) && AllDigits(b)) {
    while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
    while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  }
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

absl::Status Denied(RejectReason reason, std::string_view message) {
  return Reject(reason, absl::StatusCode::kPermissionDenied, message);
}

}  // namespace

int CompareVersions(std::string_view a, std::string_view b) {
  a = a.substr(0, a.find('+'));
  b = b.substr(0, b.find('+'));
  while (!a.empty() || !b.empty()) {
    std::string_view sa = NextSegment(a);
    std::string_view sb = NextSegment(b);
    if (sa.empty()) sa = "0";
    if (sb.empty()) sb = "0";
    const int c = CompareSegment(sa, sb);
    if (c != 0) return c;
  }
  return 0;
}

bool InRange(std::string_view version, const VersionRange& range) {
  if (!range.min.empty() && CompareVersions(version, range.min) < 0) {
    return false;
  }
  if (!range.max.empty() && CompareVersions(version, range.max) > 0) {
    return false;
  }
  return true;
}

absl::Status CheckCompatibility(const ArtifactInfo& artifact,
                                const DeviceInfo& device, Layer layer,
                                std::string_view module) {
  const std::string what =
      strata::StrCat("artifact ", LayerName(artifact.layer), "/",
                     artifact.module, " release ", artifact.release_counter);
  if (artifact.app_id != device.app_id) {
    return Denied(RejectReason::kWrongApp,
                  strata::StrCat(what, " is for app \"", artifact.app_id,
                                 "\", this is \"", device.app_id, "\""));
  }
  if (artifact.layer != layer) {
    return Denied(
        RejectReason::kWrongLayer,
        strata::StrCat(what, " is for layer ", LayerName(artifact.layer),
                       ", expected ", LayerName(layer)));
  }
  if (artifact.module != module) {
    return Denied(RejectReason::kWrongModule,
                  strata::StrCat(what, " is for module \"", artifact.module,
                                 "\", expected \"", module, "\""));
  }
  const Compatibility& c = artifact.compat;
  if (!c.host_build.empty() && c.host_build != device.host_build) {
    return Denied(
        RejectReason::kWrongHostBuild,
        strata::StrCat(what, " is built for host build \"", c.host_build,
                       "\", this device runs \"", device.host_build, "\""));
  }
  if (artifact.layer == Layer::kHotpatch && c.host_build.empty()) {
    return Denied(RejectReason::kWrongHostBuild,
                  strata::StrCat(what, " names no host build"));
  }
  if (!InRange(device.app_version, c.app_version)) {
    return Denied(
        RejectReason::kIncompatible,
        strata::StrCat(what, " needs app version in [", c.app_version.min, ", ",
                       c.app_version.max, "], this is ", device.app_version));
  }
  if (!c.runtime_version.min.empty() || !c.runtime_version.max.empty()) {
    if (device.runtime_version.empty() ||
        !InRange(device.runtime_version, c.runtime_version)) {
      return Denied(
          RejectReason::kIncompatible,
          strata::StrCat(what, " needs runtime version in [",
                         c.runtime_version.min, ", ", c.runtime_version.max,
                         "], this is \"", device.runtime_version, "\""));
    }
  }
  if (!c.min_sdk_version.empty() &&
      CompareVersions(device.sdk_version, c.min_sdk_version) < 0) {
    return Denied(RejectReason::kIncompatible,
                  strata::StrCat(what, " needs SDK ", c.min_sdk_version,
                                 " or newer, this is ", device.sdk_version));
  }
  return absl::OkStatus();
}

}  // namespace strata::signing
