// Publishing and releases, without gRPC: the Admin service adapts to this.
#ifndef STRATA_SERVER_CORE_ADMIN_CORE_H_
#define STRATA_SERVER_CORE_ADMIN_CORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/server/storage/store.h"
#include "strata/v1/admin.pb.h"

namespace strata::server {

struct AdminLimits {
  uint64_t max_artifact_bytes = uint64_t{256} << 20;
};

class AdminCore {
 public:
  AdminCore(Store* store, Clock* clock, AdminLimits limits = {})
      : store_(store), clock_(clock), limits_(limits) {}

  uint64_t max_artifact_bytes() const { return limits_.max_artifact_bytes; }

  // Checks the header before any content is accepted.
  absl::Status ValidateHeader(const v1::PublishHeader& header) const;

  // Stores `content` as the artifact the header describes. Publishing the
  // same version with the same content again returns already_existed; with
  // different content it is refused.
  absl::StatusOr<v1::PublishResponse> Publish(const v1::PublishHeader& header,
                                              std::string_view content);

  absl::StatusOr<v1::Release> CreateRelease(
      const v1::CreateReleaseRequest& req);
  absl::StatusOr<std::vector<v1::Release>> ListReleases(
      std::string_view app_id);

 private:
  Store* store_;
  Clock* clock_;
  AdminLimits limits_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_ADMIN_CORE_H_
