#include "strata/server/core/online_keys.h"

#include <algorithm>

#include "strata/base/file_util.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

// Annotate() for a StatusOr.
template <typename T>
absl::StatusOr<T> Annotate(absl::StatusOr<T> value, std::string_view context) {
  if (value.ok()) return value;
  return ::strata::Annotate(value.status(), context);
}
absl::Status Annotate(const absl::Status& status, std::string_view context) {
  return ::strata::Annotate(status, context);
}

}  // namespace

bool IsOnlineRole(std::string_view role) {
  return std::find(std::begin(kOnlineRoles), std::end(kOnlineRoles), role) !=
         std::end(kOnlineRoles);
}

namespace {

absl::Status MakeKeyDir(FileSystem* fs, const std::string& dir) {
  if (!fs->Exists(dir)) {
    STRATA_RETURN_IF_ERROR(
        Annotate(CreateDirs(*fs, dir), StrCat("creating the online key "
                                              "directory ",
                                              dir)));
  }
  return Annotate(fs->SetPermissions(dir, 0700),
                  StrCat("making ", dir, " private (0700)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<OnlineKeys>> OnlineKeys::Open(FileSystem* fs,
                                                             std::string dir) {
  STRATA_RETURN_IF_ERROR(MakeKeyDir(fs, dir));
  std::unique_ptr<OnlineKeys> keys(new OnlineKeys(fs, dir));
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  std::sort(names.begin(), names.end());
  MutexLock lock(&keys->mu_);
  for (const std::string& name : names) {
    constexpr std::string_view kSuffix = ".key";
    const size_t dash = name.find('-');
    if (name.size() <= kSuffix.size() ||
        name.substr(name.size() - kSuffix.size()) != kSuffix ||
        dash == std::string::npos) {
      continue;  // temp files and anything else
    }
    const std::string role = name.substr(0, dash);
    if (!IsOnlineRole(role)) continue;
    const std::string path = JoinPath(dir, name);
    STRATA_ASSIGN_OR_RETURN(signing::PrivateKey key,
                            Annotate(signing::LoadPrivateKey(*fs, path),
                                     StrCat("loading online key ", path)));
    STRATA_ASSIGN_OR_RETURN(FileInfo info, fs->Stat(path));
    if ((info.mode & 077) != 0) {
      STRATA_LOG(Warning) << "online key " << path << " is readable by others "
                          << "(mode " << std::oct << info.mode << std::dec
                          << "); chmod 600 it";
    }
    OnlineKey k{role, key.KeyId(),
                std::make_shared<const signing::PrivateKey>(std::move(key))};
    keys->keys_.emplace(k.key_id, std::move(k));
  }
  return keys;
}

absl::Status OnlineKeys::Initialize(FileSystem* fs, const std::string& dir) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<OnlineKeys> keys, Open(fs, dir));
  std::vector<std::string> missing;
  for (std::string_view role : kOnlineRoles) {
    bool have = false;
    for (const OnlineKey& k : keys->List()) have |= k.role == role;
    if (!have) missing.emplace_back(role);
  }
  if (missing.empty()) return absl::OkStatus();
  return keys->Generate(missing).status();
}

absl::StatusOr<OnlineKey> OnlineKeys::Add(std::string_view role) {
  STRATA_ASSIGN_OR_RETURN(signing::PrivateKey key,
                          signing::PrivateKey::Generate());
  const std::string id = key.KeyId();
  const std::string path =
      JoinPath(dir_, StrCat(role, "-", id.substr(0, 16), ".key"));
  STRATA_RETURN_IF_ERROR(Annotate(signing::SavePrivateKey(*fs_, path, key),
                                  StrCat("saving online key ", path)));
  OnlineKey k{std::string(role), id,
              std::make_shared<const signing::PrivateKey>(std::move(key))};
  MutexLock lock(&mu_);
  keys_[id] = k;
  return k;
}

absl::StatusOr<std::vector<OnlineKey>> OnlineKeys::Generate(
    const std::vector<std::string>& roles) {
  if (fs_ == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no online key directory (--online-keys-dir)");
  }
  std::vector<std::string> wanted = roles;
  if (wanted.empty())
    wanted.assign(std::begin(kOnlineRoles), std::end(kOnlineRoles));
  for (const std::string& role : wanted) {
    if (!IsOnlineRole(role)) {
      return absl::InvalidArgumentError(
          StrCat("'", role,
                 "' is not an online role; use snapshot, timestamp or "
                 "director"));
    }
  }
  std::vector<OnlineKey> out;
  for (const std::string& role : wanted) {
    STRATA_ASSIGN_OR_RETURN(OnlineKey k, Add(role));
    out.push_back(std::move(k));
  }
  return out;
}

std::vector<OnlineKey> OnlineKeys::List() const {
  MutexLock lock(&mu_);
  std::vector<OnlineKey> out;
  for (const auto& [id, k] : keys_) out.push_back(k);
  std::stable_sort(
      out.begin(), out.end(),
      [](const OnlineKey& a, const OnlineKey& b) { return a.role < b.role; });
  return out;
}

std::vector<std::shared_ptr<const signing::PrivateKey>> OnlineKeys::Find(
    const std::vector<std::string>& key_ids) const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<const signing::PrivateKey>> out;
  for (const std::string& id : key_ids) {
    auto it = keys_.find(id);
    if (it == keys_.end()) continue;
    if (std::find(out.begin(), out.end(), it->second.key) != out.end()) {
      continue;
    }
    out.push_back(it->second.key);
  }
  return out;
}

bool OnlineKeys::Holds(std::string_view key_id) const {
  MutexLock lock(&mu_);
  return keys_.count(std::string(key_id)) > 0;
}

}  // namespace strata::server
