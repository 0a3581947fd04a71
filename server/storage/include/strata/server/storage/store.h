// Durable server state on an embedded RocksDB. Every acknowledged mutation
// is one synced write batch: after a crash it is either fully there or not
// at all.
#ifndef STRATA_SERVER_STORAGE_STORE_H_
#define STRATA_SERVER_STORAGE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/v1/admin.pb.h"
#include "strata/v1/storage.pb.h"

namespace strata::server {

class Store {
 public:
  // Opens (creating if needed) the database in directory `dir`.
  static absl::StatusOr<std::unique_ptr<Store>> Open(std::string_view dir);
  virtual ~Store() = default;

  // Stores the content blob and the artifact record in one synced batch.
  virtual absl::Status PutArtifact(const v1::StoredArtifact& artifact,
                                   std::string_view content) = 0;
  virtual absl::StatusOr<std::optional<v1::StoredArtifact>> GetArtifact(
      std::string_view app_id, const v1::ModuleId& module,
      std::string_view version) = 0;

  // Up to `max_bytes` of blob `sha256` from `offset`; NotFound if absent.
  virtual absl::StatusOr<std::string> ReadBlob(std::string_view sha256,
                                               uint64_t offset,
                                               uint64_t max_bytes) = 0;
  virtual absl::StatusOr<uint64_t> BlobSize(std::string_view sha256) = 0;

  // Assigns the release id and the module's next sequence number, stores
  // the release and makes it the module's current one, in one synced batch.
  virtual absl::StatusOr<v1::Release> CreateRelease(v1::Release release) = 0;
  virtual absl::StatusOr<std::vector<v1::Release>> ListReleases(
      std::string_view app_id) = 0;
  // The current release of every module of `app_id`.
  virtual absl::StatusOr<std::vector<v1::Release>> CurrentReleases(
      std::string_view app_id) = 0;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_STORAGE_STORE_H_
