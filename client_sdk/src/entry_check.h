// Whether one offered update may be installed, before anything is fetched:
// the SDK's own checks (safe names, app, layer, module, host build, version
// ranges, no release sequence below the installed one), then the trust
// policy's verdict, then the SDK's checks again on the facts the policy
// vouches for (the signed ones).
#ifndef STRATA_CLIENT_SRC_ENTRY_CHECK_H_
#define STRATA_CLIENT_SRC_ENTRY_CHECK_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client_state.h"
#include "strata/v1/delivery.pb.h"
#include "trust_policy.h"

namespace strata::client {

// What the checks compare an entry with.
struct EntryCheckContext {
  std::string app_id;
  std::string host_build;
  std::string app_version;  // empty: no app version range check
  std::string_view sdk_version;
  const ClientState* state = nullptr;  // the installed and staged versions
};

// The SDK's own checks. Rejections carry a RejectReason (reject.h).
absl::Status CheckEntry(const v1::UpdateEntry& entry,
                        const EntryCheckContext& context);

// The entry to install: `offered` passes CheckEntry, `refreshed` (the trust
// policy's refresh of this check or push) is OK, `trust` authorizes it, and
// the authorized entry (signed facts) passes CheckEntry too.
absl::StatusOr<v1::UpdateEntry> AdmitEntry(const v1::UpdateEntry& offered,
                                           const absl::Status& refreshed,
                                           TrustPolicy& trust,
                                           const EntryCheckContext& context);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_ENTRY_CHECK_H_
