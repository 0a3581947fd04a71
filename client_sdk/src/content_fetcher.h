// Puts an update entry's content into the module store's blobs/: already
// there (re-hashed), inline in the plan, by a delta from the active
// content, or downloaded in full (resumable, downloader.h), within the disk
// budget. One step of an install; the coordinator (client.cc) stages and
// activates what it fetched.
#ifndef STRATA_CLIENT_SRC_CONTENT_FETCHER_H_
#define STRATA_CLIENT_SRC_CONTENT_FETCHER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "module_store.h"
#include "strata/base/env.h"
#include "strata/v1/delivery.pb.h"
#include "transport.h"

namespace strata::client {

// Where an installed update's content came from.
enum class Source { kLocal, kInline, kDelta, kFull };

// The content a delta may start from: the module's active (installed or
// embedded) content.
struct DeltaBase {
  std::string sha256;
  std::string path;
};

class ContentFetcher {
 public:
  // Called when a delta failed and the full download follows.
  using DeltaFailed =
      std::function<void(const v1::DeltaRef&, const absl::Status&)>;

  // `disk_budget_bytes` 0: no limit. Not owning.
  ContentFetcher(Env env, ModuleStore* store, Transport* transport,
                 uint64_t disk_budget_bytes)
      : env_(env),
        store_(store),
        transport_(transport),
        disk_budget_bytes_(disk_budget_bytes) {}

  // On success blobs/<content sha256>.blob holds the verified content.
  // `*source` says how it came; downloaded bytes (patches and content,
  // retries included) are added to `*bytes`. Errors carry a RejectReason
  // (reject.h): LENGTH_MISMATCH, CONTENT_HASH_MISMATCH,
  // DISK_BUDGET_EXCEEDED, the downloader's; a full storage is
  // RESOURCE_EXHAUSTED saying so.
  absl::Status Fetch(const v1::UpdateEntry& entry,
                     const std::optional<DeltaBase>& base, Source* source,
                     uint64_t* bytes, const DeltaFailed& on_delta_failed);

 private:
  absl::Status ApplyDelta(const v1::UpdateEntry& entry, const v1::DeltaRef& d,
                          const std::string& base_path, uint64_t* bytes);

  Env env_;
  ModuleStore* store_;
  Transport* transport_;
  uint64_t disk_budget_bytes_;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_CONTENT_FETCHER_H_
