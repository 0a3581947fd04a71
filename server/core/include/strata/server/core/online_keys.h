// stratad's online signing keys (snapshot, timestamp, director): one
// Ed25519 PEM per key in their own directory (0700; files 0600, named
// "<role>-<key id first 16 hex>.key"), apart from the database and from
// every offline key. They sign only the roles an installed root lists them
// for; the private keys never leave the directory.
#ifndef STRATA_SERVER_CORE_ONLINE_KEYS_H_
#define STRATA_SERVER_CORE_ONLINE_KEYS_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/mutex.h"
#include "strata/signing/keys.h"

namespace strata::server {

// "snapshot", "timestamp", "director".
inline constexpr std::string_view kOnlineRoles[] = {"snapshot", "timestamp",
                                                    "director"};
bool IsOnlineRole(std::string_view role);

struct OnlineKey {
  std::string role;  // the role it was made for (from its file name)
  std::string key_id;
  std::shared_ptr<const signing::PrivateKey> key;
};

class OnlineKeys {
 public:
  // No keys, no directory: signs nothing (tests of other features).
  OnlineKeys() = default;

  // Loads every key of `dir`, creating it (0700) when missing.
  static absl::StatusOr<std::unique_ptr<OnlineKeys>> Open(FileSystem* fs,
                                                          std::string dir);
  // `stratad init`: the directory with one new key per online role (a role
  // that already has a key keeps it).
  static absl::Status Initialize(FileSystem* fs, const std::string& dir);

  // A new key for each of `roles` (all three when empty), saved before it
  // is returned.
  absl::StatusOr<std::vector<OnlineKey>> Generate(
      const std::vector<std::string>& roles);

  // Every key held, by role then key id.
  std::vector<OnlineKey> List() const;
  // The held keys among `key_ids` (in that order, each once).
  std::vector<std::shared_ptr<const signing::PrivateKey>> Find(
      const std::vector<std::string>& key_ids) const;
  bool Holds(std::string_view key_id) const;
  const std::string& dir() const { return dir_; }

 private:
  OnlineKeys(FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  absl::StatusOr<OnlineKey> Add(std::string_view role);

  FileSystem* fs_ = nullptr;
  std::string dir_;
  mutable Mutex mu_;
  std::map<std::string, OnlineKey> keys_ ABSL_GUARDED_BY(mu_);  // by key id
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_ONLINE_KEYS_H_
