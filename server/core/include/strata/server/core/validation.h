#ifndef STRATA_SERVER_CORE_VALIDATION_H_
#define STRATA_SERVER_CORE_VALIDATION_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/names.h"
#include "strata/v1/admin.pb.h"
#include "strata/v1/common.pb.h"

namespace strata::server {

class Store;
class TrustRepo;

// Whether `app_id` has a root of trust (`trust` may be null), a published
// version, a segment or a release: what makes an app known to the server.
absl::StatusOr<bool> AppIsKnown(Store& store, const TrustRepo* trust,
                                std::string_view app_id);

// NOT_FOUND (exit 3 in the CLI) unless `app_id` has something on this
// server: a root of trust (`trust` may be null), a published version, a
// segment or a release. Listing calls ask it only when their answer is
// empty, so a mistyped --app is told apart from an app with nothing yet.
absl::Status RequireKnownApp(Store& store, const TrustRepo* trust,
                             std::string_view app_id);

absl::Status ValidateModule(const v1::ModuleId& module);

// An audit entry for `who`'s `action` now.
v1::AuditEntry MakeAudit(Clock* clock, std::string_view actor,
                         std::string_view action, std::string_view app_id,
                         std::string detail);
// Everything a publisher must fill in a statement.
absl::Status ValidateStatement(const v1::ArtifactStatement& statement);

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_VALIDATION_H_
