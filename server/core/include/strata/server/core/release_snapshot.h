// The live releases of each app, held in memory for the Check path and
// rebuilt from the store when a release changes: a Check reads no disk.
#ifndef STRATA_SERVER_CORE_RELEASE_SNAPSHOT_H_
#define STRATA_SERVER_CORE_RELEASE_SNAPSHOT_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/server/storage/store.h"
#include "strata/v1/delivery.pb.h"

namespace strata::server {

struct AppSnapshot {
  // One ready-made update entry per live release (inline content included
  // for small CONFIG documents).
  std::vector<v1::UpdateEntry> entries;
};

class ReleaseSnapshots {
 public:
  ReleaseSnapshots(Store* store, uint64_t max_inline_bytes)
      : store_(store), max_inline_bytes_(max_inline_bytes) {}

  // The current snapshot of `app_id`, built on first use.
  absl::StatusOr<std::shared_ptr<const AppSnapshot>> Get(
      const std::string& app_id);
  // Drops `app_id`'s snapshot; the next Get rebuilds it. Called after every
  // change to the app's releases.
  void Invalidate(const std::string& app_id);

 private:
  absl::StatusOr<std::shared_ptr<const AppSnapshot>> Build(
      const std::string& app_id);

  Store* store_;
  uint64_t max_inline_bytes_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const AppSnapshot>> apps_;
  uint64_t generation_ = 0;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_RELEASE_SNAPSHOT_H_
