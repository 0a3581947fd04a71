// What a release is: the artifact versions it installs (all or nothing on a
// device), who it targets, how it is bucketed, its stages and gates.
#ifndef STRATA_ROLLOUT_RELEASE_SPEC_H_
#define STRATA_ROLLOUT_RELEASE_SPEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "strata/rollout/gate_policy.h"

namespace strata::rollout {

// Same numbers as strata.v1.Layer, so the server maps them with a cast.
enum class Layer : int {
  kConfig = 1,
  kH5 = 2,
  kHcf = 3,
  kHotpatch = 4,
  kNativeBundle = 5,
};
std::string_view LayerName(Layer layer);  // "CONFIG", "H5", ...

struct ArtifactRef {
  Layer layer = Layer::kConfig;
  std::string module;
  std::string version;
  friend bool operator==(const ArtifactRef&, const ArtifactRef&) = default;
};

struct Stage {
  uint32_t exposure_bp = 0;  // basis points: 100 = 1%
  absl::Duration bake_time = absl::ZeroDuration();
  // Treatment launch reports received during the stage before promotion.
  uint64_t min_reports = 0;
};

struct RolloutPlan {
  std::vector<Stage> stages;

  // 1%, 5%, 20%, 50%, 100% with bake times 1h, 2h, 4h, 8h, 24h and
  // 200, 500, 1000, 2000, 2000 reports.
  static RolloutPlan Default();
  // At least one stage; exposures strictly increasing, > 0, the last one
  // 100% (10000); bake times >= 0. kInvalidArgument otherwise.
  absl::Status Validate() const;
};

struct ReleaseSpec {
  uint64_t release_id = 0;
  std::string app_id;
  // One or more artifact versions, at most one per (layer, module). The
  // device activates them together or not at all.
  std::vector<ArtifactRef> artifacts;
  std::string segment = "everyone";  // name of the target segment
  // Bucketing salt; empty means "release-<release_id>". Reuse one salt
  // across releases for a standing canary cohort.
  std::string salt;
  RolloutPlan plan = RolloutPlan::Default();
  GatePolicy gates;
  // At most this exposure whatever the state or stage (0: no cap). A roll
  // back keeps the exposure its bad release reached, so with the same
  // segment and salt it reaches the same buckets and no others.
  uint32_t max_exposure_bp = 0;

  std::string EffectiveSalt() const;
  // Names follow strata/base/names.h; kInvalidArgument otherwise.
  absl::Status Validate() const;
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_RELEASE_SPEC_H_
