// The trust seam: whether an update the server offers may be installed.
//
// Today the server sends no TUF metadata (proto/strata/v1 has no field for
// it), so the default policy accepts what passes the SDK's own checks
// (names, app, layer, module, host build, sequence, SHA-256). With
// ClientOptions::pinned_root_json set, the SDK uses TufTrustPolicy over
// strata::signing::Verifier and fails closed: every update is refused with
// the verifier's reason (METADATA_UNAVAILABLE while the server sends none).
#ifndef STRATA_CLIENT_SRC_TRUST_POLICY_H_
#define STRATA_CLIENT_SRC_TRUST_POLICY_H_

#include <memory>

#include "absl/status/status.h"
#include "strata/base/env.h"
#include "strata/signing/verifier.h"
#include "strata/v1/delivery.pb.h"

namespace strata::client {

class TrustPolicy {
 public:
  virtual ~TrustPolicy() = default;
  // Once per check, with the server's answer (which will carry the
  // metadata bytes). A rejection refuses every update of this check.
  virtual absl::Status Refresh(const v1::CheckResponse& response) = 0;
  // May `entry` be installed? Rejections carry a signing::RejectReason.
  virtual absl::Status Authorize(const v1::UpdateEntry& entry) = 0;
  // `entry` was installed: lower release counters are refused from now on.
  virtual absl::Status MarkInstalled(const v1::UpdateEntry& entry) = 0;
};

// Accepts everything (the SDK's own checks still apply).
std::unique_ptr<TrustPolicy> NewPermissiveTrustPolicy();

struct TufTrustOptions {
  std::string pinned_root_json;
  std::string state_dir;  // the verifier's trusted state
  std::string app_id;
  v1::DeviceContext device;
};
// TUF + director verification (docs/trust.md). `source` provides the
// metadata files; nullptr means "none yet" (every refresh fails closed with
// METADATA_UNAVAILABLE). Fails when the pinned root is invalid.
absl::StatusOr<std::unique_ptr<TrustPolicy>> NewTufTrustPolicy(
    const Env& env, TufTrustOptions options,
    std::unique_ptr<signing::MetadataSource> source);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_TRUST_POLICY_H_
