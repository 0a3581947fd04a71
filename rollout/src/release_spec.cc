#include "strata/rollout/release_spec.h"

#include <set>
#include <utility>

#include "strata/base/names.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/rollout/bucketing.h"

namespace strata::rollout {
namespace {

absl::Status CheckRate(std::string_view field, double v) {
  if (!(v >= 0.0 && v <= 1.0)) {
    return absl::InvalidArgumentError(StrCat(
        "gate policy ", field, " is ", v, "; use a fraction between 0 and 1"));
  }
  return absl::OkStatus();
}
absl::Status CheckRatio(std::string_view field, double v) {
  if (!(v >= 1.0)) {
    return absl::InvalidArgumentError(
        StrCat("gate policy ", field, " is ", v,
               "; a ratio against control must be at least 1"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view LayerName(Layer layer) {
  switch (layer) {
    case Layer::kConfig:
      return "CONFIG";
    case Layer::kH5:
      return "H5";
    case Layer::kHcf:
      return "HCF";
    case Layer::kHotpatch:
      return "HOTPATCH";
    case Layer::kNativeBundle:
      return "NATIVE_BUNDLE";
  }
  return "UNKNOWN";
}

absl::Status GatePolicy::Validate() const {
  STRATA_RETURN_IF_ERROR(
      CheckRate("max_apply_failure_rate", max_apply_failure_rate));
  STRATA_RETURN_IF_ERROR(
      CheckRatio("max_apply_failure_ratio", max_apply_failure_ratio));
  STRATA_RETURN_IF_ERROR(CheckRate("min_apply_failure_rate_for_ratio",
                                   min_apply_failure_rate_for_ratio));
  STRATA_RETURN_IF_ERROR(CheckRatio("max_crash_ratio", max_crash_ratio));
  STRATA_RETURN_IF_ERROR(
      CheckRate("min_crash_rate_delta", min_crash_rate_delta));
  STRATA_RETURN_IF_ERROR(CheckRate("max_crash_rate", max_crash_rate));
  STRATA_RETURN_IF_ERROR(
      CheckRate("max_integrity_failure_rate", max_integrity_failure_rate));
  if (!(min_z_score >= 0.0)) {
    return absl::InvalidArgumentError(
        StrCat("gate policy min_z_score is ", min_z_score, "; use 0 or more"));
  }
  if (!(false_halt_budget > 0.0 && false_halt_budget <= 0.5)) {
    return absl::InvalidArgumentError(
        StrCat("gate policy false_halt_budget is ", false_halt_budget,
               "; use a fraction above 0 and at most 0.5, e.g. 0.01"));
  }
  if (!(baseline_crash_rate >= 0.0 && baseline_crash_rate < 1.0)) {
    return absl::InvalidArgumentError(
        StrCat("gate policy baseline_crash_rate is ", baseline_crash_rate,
               "; use a fraction from 0 (not known) to below 1, e.g. 0.005"));
  }
  if (!(min_detectable_crash_ratio > 1.0)) {
    return absl::InvalidArgumentError(
        StrCat("gate policy min_detectable_crash_ratio is ",
               min_detectable_crash_ratio, "; use a ratio above 1, e.g. 2"));
  }
  if (report_silence_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "gate policy report_silence_timeout must be positive");
  }
  return absl::OkStatus();
}

RolloutPlan RolloutPlan::Default() {
  RolloutPlan p;
  p.stages = {
      {100, absl::Hours(1), 200},     {500, absl::Hours(2), 500},
      {2000, absl::Hours(4), 1000},   {5000, absl::Hours(8), 2000},
      {10000, absl::Hours(24), 2000},
  };
  return p;
}

absl::Status RolloutPlan::Validate() const {
  if (stages.empty()) {
    return absl::InvalidArgumentError(
        "rollout plan has no stages; end it with a 100% stage");
  }
  uint32_t prev = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& s = stages[i];
    if (s.exposure_bp == 0 || s.exposure_bp > kFullExposure) {
      return absl::InvalidArgumentError(
          StrCat("rollout stage ", i + 1, " has exposure ", s.exposure_bp,
                 " basis points; use 1 to 10000 (100 = 1%)"));
    }
    if (s.exposure_bp <= prev) {
      return absl::InvalidArgumentError(
          StrCat("rollout stage ", i + 1, " exposure ", s.exposure_bp,
                 " bp is not above the previous stage's ", prev,
                 " bp; stages must grow"));
    }
    if (s.bake_time < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          StrCat("rollout stage ", i + 1, " has a negative bake time"));
    }
    prev = s.exposure_bp;
  }
  if (prev != kFullExposure) {
    return absl::InvalidArgumentError(
        StrCat("rollout plan ends at ", prev,
               " bp; the last stage must be 10000 bp (100%)"));
  }
  return absl::OkStatus();
}

std::string ReleaseSpec::EffectiveSalt() const {
  return salt.empty() ? StrCat("release-", release_id) : salt;
}

absl::Status ReleaseSpec::Validate() const {
  if (release_id == 0) {
    return absl::InvalidArgumentError("release id is 0; ids start at 1");
  }
  STRATA_RETURN_IF_ERROR(ValidateName("app id", app_id));
  STRATA_RETURN_IF_ERROR(ValidateName("segment name", segment));
  if (!salt.empty()) STRATA_RETURN_IF_ERROR(ValidateName("salt", salt));
  if (artifacts.empty()) {
    return absl::InvalidArgumentError(
        StrCat("release ", release_id, " names no artifact versions"));
  }
  std::set<std::pair<int, std::string>> seen;
  for (const ArtifactRef& a : artifacts) {
    if (static_cast<int>(a.layer) < 1 || static_cast<int>(a.layer) > 5) {
      return absl::InvalidArgumentError(
          StrCat("release ", release_id, " has an artifact with layer ",
                 static_cast<int>(a.layer), "; use 1 to 5"));
    }
    STRATA_RETURN_IF_ERROR(ValidateName("module name", a.module));
    STRATA_RETURN_IF_ERROR(ValidateName("version", a.version));
    if (!seen.insert({static_cast<int>(a.layer), a.module}).second) {
      return absl::InvalidArgumentError(
          StrCat("release ", release_id, " names module ", LayerName(a.layer),
                 "/", a.module,
                 " twice; a release carries one version of "
                 "each module"));
    }
  }
  if (max_exposure_bp > 10000) {
    return absl::InvalidArgumentError(
        StrCat("release ", release_id, " caps its exposure at ",
               max_exposure_bp, " basis points; at most 10000 (100%)"));
  }
  STRATA_RETURN_IF_ERROR(
      Annotate(plan.Validate(), StrCat("release ", release_id)));
  return Annotate(gates.Validate(), StrCat("release ", release_id));
}

}  // namespace strata::rollout
