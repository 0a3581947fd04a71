// Updates the latest check offered and the SDK admitted (validated and
// authorized: the signed facts) but did not download: on-demand modules
// not on the device yet, and updates the download policy holds back. Kept
// in <storage>/pending (a serialized UpdatePlan holding the entries,
// written atomically) so that OpenModule() and prefetches can install them
// later, also after a restart, without another check. Every check replaces
// the list with what its plan offers.
#ifndef STRATA_CLIENT_SRC_PENDING_STORE_H_
#define STRATA_CLIENT_SRC_PENDING_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client_state.h"
#include "strata/base/env.h"
#include "strata/v1/delivery.pb.h"

namespace strata::client {

class PendingStore {
 public:
  // A missing or unreadable file is an empty list (the next check offers
  // the updates again).
  static PendingStore Open(FileSystem* fs, std::string path);

  const std::vector<v1::UpdateEntry>& entries() const { return entries_; }
  const v1::UpdateEntry* Find(const ModuleKey& key) const;
  // The pending members of the release of `key`'s entry (release id 0:
  // the entry alone); empty if `key` has nothing pending.
  std::vector<v1::UpdateEntry> Group(const ModuleKey& key) const;

  absl::Status Replace(std::vector<v1::UpdateEntry> entries);
  absl::Status Remove(const std::vector<ModuleKey>& keys);
  // Adds `entries`, replacing pending entries of the same modules.
  absl::Status Upsert(std::vector<v1::UpdateEntry> entries);

 private:
  PendingStore(FileSystem* fs, std::string path)
      : fs_(fs), path_(std::move(path)) {}
  absl::Status Save();

  FileSystem* fs_;
  std::string path_;
  std::vector<v1::UpdateEntry> entries_;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_PENDING_STORE_H_
