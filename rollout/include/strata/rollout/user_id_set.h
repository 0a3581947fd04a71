// A set of user ids for segment allow/deny lists, loaded from a text file of
// one id per line (100k+ ids). Lookups by std::string_view do not allocate.
// Copies share the same immutable storage.
#ifndef STRATA_ROLLOUT_USER_ID_SET_H_
#define STRATA_ROLLOUT_USER_ID_SET_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/env.h"

namespace strata::rollout {

inline constexpr size_t kMaxUserIdBytes = 256;

class UserIdSet {
 public:
  UserIdSet();  // empty

  // One id per line. Leading/trailing spaces, tabs and '\r' are trimmed;
  // blank lines and lines starting with '#' are skipped; duplicates are
  // fine. An id with inner whitespace or longer than kMaxUserIdBytes is
  // kInvalidArgument naming `source` and the line.
  static absl::StatusOr<UserIdSet> Parse(std::string_view text,
                                         std::string_view source = "id list");
  static absl::StatusOr<UserIdSet> LoadFile(FileSystem& fs,
                                            std::string_view path);
  static absl::StatusOr<UserIdSet> FromIds(const std::vector<std::string>& ids);

  bool Contains(std::string_view id) const;
  size_t size() const;
  bool empty() const { return size() == 0; }

 private:
  struct Impl;
  explicit UserIdSet(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_USER_ID_SET_H_
