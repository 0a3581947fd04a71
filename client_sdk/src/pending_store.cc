#include "pending_store.h"

#include <algorithm>

#include "strata/base/file_util.h"
#include "strata/base/log.h"

namespace strata::client {
namespace {

ModuleKey KeyOf(const v1::UpdateEntry& e) {
  return {e.module().layer(), e.module().name()};
}

}  // namespace

PendingStore PendingStore::Open(FileSystem* fs, std::string path) {
  PendingStore store(fs, std::move(path));
  // A write cut by a crash.
  const std::string tmp = store.path_ + ".tmp";
  if (fs->Exists(tmp)) (void)fs->DeleteFile(tmp);
  if (!fs->Exists(store.path_)) return store;
  absl::StatusOr<std::string> bytes = fs->ReadFile(store.path_);
  v1::UpdatePlan plan;
  if (!bytes.ok() || !plan.ParseFromString(*bytes)) {
    STRATA_LOG(Warning) << store.path_
                        << " is unreadable; pending downloads are forgotten "
                           "until the next check";
    return store;
  }
  for (v1::UpdateEntry& e : *plan.mutable_updates()) {
    store.entries_.push_back(std::move(e));
  }
  return store;
}

const v1::UpdateEntry* PendingStore::Find(const ModuleKey& key) const {
  for (const v1::UpdateEntry& e : entries_) {
    if (KeyOf(e) == key) return &e;
  }
  return nullptr;
}

std::vector<v1::UpdateEntry> PendingStore::Group(const ModuleKey& key) const {
  const v1::UpdateEntry* found = Find(key);
  if (found == nullptr) return {};
  if (found->release_id() == 0) return {*found};
  std::vector<v1::UpdateEntry> out;
  for (const v1::UpdateEntry& e : entries_) {
    if (e.release_id() == found->release_id()) out.push_back(e);
  }
  return out;
}

absl::Status PendingStore::Replace(std::vector<v1::UpdateEntry> entries) {
  bool same = entries.size() == entries_.size();
  for (size_t i = 0; same && i < entries.size(); ++i) {
    same = entries[i].SerializeAsString() == entries_[i].SerializeAsString();
  }
  if (same) return absl::OkStatus();
  entries_ = std::move(entries);
  return Save();
}

absl::Status PendingStore::Remove(const std::vector<ModuleKey>& keys) {
  const size_t before = entries_.size();
  std::erase_if(entries_, [&](const v1::UpdateEntry& e) {
    return std::find(keys.begin(), keys.end(), KeyOf(e)) != keys.end();
  });
  if (entries_.size() == before) return absl::OkStatus();
  return Save();
}

absl::Status PendingStore::Upsert(std::vector<v1::UpdateEntry> entries) {
  std::vector<ModuleKey> keys;
  for (const v1::UpdateEntry& e : entries) keys.push_back(KeyOf(e));
  std::erase_if(entries_, [&](const v1::UpdateEntry& e) {
    return std::find(keys.begin(), keys.end(), KeyOf(e)) != keys.end();
  });
  for (v1::UpdateEntry& e : entries) entries_.push_back(std::move(e));
  return Save();
}

absl::Status PendingStore::Save() {
  if (entries_.empty()) {
    return fs_->Exists(path_) ? fs_->DeleteFile(path_) : absl::OkStatus();
  }
  v1::UpdatePlan plan;
  for (const v1::UpdateEntry& e : entries_) *plan.add_updates() = e;
  std::string bytes;
  plan.SerializeToString(&bytes);
  return WriteFileAtomically(*fs_, path_, bytes);
}

}  // namespace strata::client
