#include "entry_check.h"

#include <algorithm>

#include "reject.h"
#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/client/client.h"
#include "strata/signing/compatibility.h"

namespace strata::client {

absl::Status CheckEntry(const v1::UpdateEntry& entry,
                        const EntryCheckContext& context) {
  const v1::ArtifactStatement& st = entry.statement();
  // The module name becomes a path component: refuse anything unsafe.
  STRATA_RETURN_IF_ERROR(
      WithReason(ValidateName("module name", entry.module().name()),
                 v1::REJECT_UNSAFE_NAME));
  STRATA_RETURN_IF_ERROR(WithReason(ValidateName("version", st.version()),
                                    v1::REJECT_UNSAFE_NAME));
  if (entry.revert_to_embedded()) {
    // "Run the embedded version": exactly the signed shape of a revert.
    if (st.version() != kEmbeddedVersion || st.size() != 0 ||
        st.content_sha256() != Sha256::HexHash("")) {
      return WithReason(absl::InvalidArgumentError(
                            "a revert to the embedded version must name "
                            "version 'embedded' and zero bytes"),
                        v1::REJECT_MALFORMED_METADATA);
    }
  } else if (st.version() == kEmbeddedVersion) {
    return WithReason(absl::InvalidArgumentError(
                          "version 'embedded' is reserved for the content "
                          "shipped in the app"),
                      v1::REJECT_UNSAFE_NAME);
  }
  if (entry.module().layer() < v1::LAYER_CONFIG ||
      entry.module().layer() > v1::LAYER_NATIVE_BUNDLE) {
    return WithReason(
        absl::InvalidArgumentError("update names an unknown layer"),
        v1::REJECT_WRONG_LAYER);
  }
  if (!IsSha256Hex(st.content_sha256())) {
    return WithReason(absl::InvalidArgumentError(
                          "statement's content_sha256 is not 64 lowercase "
                          "hex characters"),
                      v1::REJECT_MALFORMED_METADATA);
  }
  if (st.app_id() != context.app_id) {
    return WithReason(
        absl::PermissionDeniedError(StrCat("update is for app '", st.app_id(),
                                           "', not '", context.app_id, "'")),
        v1::REJECT_WRONG_APP);
  }
  if (st.module().layer() != entry.module().layer()) {
    return WithReason(absl::PermissionDeniedError(
                          "statement names another layer than the plan"),
                      v1::REJECT_WRONG_LAYER);
  }
  if (st.module().name() != entry.module().name()) {
    return WithReason(absl::PermissionDeniedError(
                          "statement names another module than the plan"),
                      v1::REJECT_WRONG_MODULE);
  }
  if (entry.module().layer() == v1::LAYER_HOTPATCH &&
      st.compatibility().host_build() != context.host_build) {
    return WithReason(
        absl::PermissionDeniedError(StrCat(
            "hotpatch is for host build '", st.compatibility().host_build(),
            "', this app is build '", context.host_build, "'")),
        v1::REJECT_WRONG_HOST_BUILD);
  }
  const v1::Compatibility& compat = st.compatibility();
  const std::string& app = context.app_version;
  if (!app.empty() &&
      ((!compat.min_app_version().empty() &&
        signing::CompareVersions(app, compat.min_app_version()) < 0) ||
       (!compat.max_app_version().empty() &&
        signing::CompareVersions(app, compat.max_app_version()) > 0))) {
    return WithReason(absl::PermissionDeniedError(StrCat(
                          "version ", st.version(), " needs app version [",
                          compat.min_app_version(), ", ",
                          compat.max_app_version(), "], this app is ", app)),
                      v1::REJECT_INCOMPATIBLE);
  }
  if (!compat.min_sdk_version().empty() &&
      signing::CompareVersions(context.sdk_version, compat.min_sdk_version()) <
          0) {
    return WithReason(
        absl::PermissionDeniedError(StrCat(
            "version ", st.version(), " needs SDK ", compat.min_sdk_version(),
            " or later, this is ", context.sdk_version, "; update the app")),
        v1::REJECT_INCOMPATIBLE);
  }
  const ModuleKey key{entry.module().layer(), entry.module().name()};
  const auto it = context.state->modules.find(key);
  if (it != context.state->modules.end()) {
    const ModuleState& m = it->second;
    uint64_t installed = 0;
    if (m.active) installed = m.active->sequence;
    if (m.staged) installed = std::max(installed, m.staged->sequence);
    if (installed > entry.release_sequence()) {
      return WithReason(absl::PermissionDeniedError(StrCat(
                            "release sequence ", entry.release_sequence(),
                            " is lower than the installed ", installed,
                            " (replayed or stale plan)")),
                        v1::REJECT_RELEASE_COUNTER_ROLLBACK);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::UpdateEntry> AdmitEntry(const v1::UpdateEntry& offered,
                                           const absl::Status& refreshed,
                                           TrustPolicy& trust,
                                           const EntryCheckContext& context) {
  STRATA_RETURN_IF_ERROR(CheckEntry(offered, context));
  STRATA_RETURN_IF_ERROR(refreshed);
  STRATA_ASSIGN_OR_RETURN(v1::UpdateEntry admitted, trust.Authorize(offered));
  STRATA_RETURN_IF_ERROR(CheckEntry(admitted, context));
  return admitted;
}

}  // namespace strata::client
