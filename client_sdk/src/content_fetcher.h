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
#include "tree_store.h"

namespace strata::client {

// Where an installed update's content came from.
enum class Source { kLocal, kInline, kDelta, kTreeDelta, kFull };

// The content a delta may start from: the module's active (installed or
// embedded) content.
struct DeltaBase {
  std::string sha256;
  std::string path;
  // The active content's unpacked tree (tree_store.h), when it is one:
  // tree patches (DeltaRef.tree) apply to it.
  std::optional<std::string> tree_dir;
};

class ContentFetcher {
 public:
  // Called when a delta failed and the full download follows.
  using DeltaFailed =
      std::function<void(const v1::DeltaRef&, const absl::Status&)>;

  // `disk_budget_bytes` 0: no limit. `trees`: where tree patches build
  // their trees (null: byte patches only). Not owning.
  ContentFetcher(Env env, ModuleStore* store, Transport* transport,
                 uint64_t disk_budget_bytes, TreeStore* trees = nullptr)
      : env_(env),
        store_(store),
        transport_(transport),
        disk_budget_bytes_(disk_budget_bytes),
        trees_(trees) {}

  // On success blobs/<content sha256>.blob holds the verified content (and,
  // after a tree patch, the tree is unpacked and complete). The deltas
  // from the base are tried in the plan's order (a tree patch first when
  // the base's tree is unpacked), each failure reported; the full download
  // comes last.
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
  absl::Status ApplyTreeDelta(const v1::UpdateEntry& entry,
                              const v1::DeltaRef& d,
                              const std::string& tree_dir, uint64_t* bytes);
  // Downloads a patch blob (resumable), adding its bytes to `*bytes`.
  absl::Status DownloadPatch(const v1::DeltaRef& d, uint64_t* bytes);

  Env env_;
  ModuleStore* store_;
  Transport* transport_;
  uint64_t disk_budget_bytes_;
  TreeStore* trees_;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_CONTENT_FETCHER_H_
