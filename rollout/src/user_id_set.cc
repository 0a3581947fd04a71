#include "strata/rollout/user_id_set.h"

#include <unordered_set>
#include <utility>

#include "absl/status/status.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::rollout {

struct UserIdSet::Impl {
  std::string arena;  // the ids' bytes; `ids` points into it
  std::unordered_set<std::string_view> ids;
};

UserIdSet::UserIdSet() : impl_(std::make_shared<const Impl>()) {}
UserIdSet::UserIdSet(std::shared_ptr<const Impl> impl)
    : impl_(std::move(impl)) {}

absl::StatusOr<UserIdSet> UserIdSet::Parse(std::string_view text,
                                           std::string_view source) {
  auto impl = std::make_shared<Impl>();
  impl->arena = std::string(text);
  const std::string_view all = impl->arena;
  size_t line_no = 0;
  size_t start = 0;
  // Reserve roughly: one id per line.
  size_t lines = 1;
  for (char c : all) lines += c == '\n';
  impl->ids.reserve(lines);
  while (start <= all.size()) {
    ++line_no;
    size_t end = all.find('\n', start);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(start, end - start);
    start = end + 1;
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() > kMaxUserIdBytes) {
      return absl::InvalidArgumentError(
          StrCat(source, " line ", line_no, ": user id is ", line.size(),
                 " bytes long; the limit is ", kMaxUserIdBytes));
    }
    for (char c : line) {
      if (is_space(c) || static_cast<unsigned char>(c) < 0x20) {
        return absl::InvalidArgumentError(
            StrCat(source, " line ", line_no,
                   ": user id contains whitespace or a control character; "
                   "put one id per line"));
      }
    }
    impl->ids.insert(line);
  }
  return UserIdSet(std::move(impl));
}

absl::StatusOr<UserIdSet> UserIdSet::LoadFile(FileSystem& fs,
                                              std::string_view path) {
  absl::StatusOr<std::string> text = fs.ReadFile(path);
  if (!text.ok()) {
    return Annotate(text.status(), StrCat("reading user id list ", path));
  }
  return Parse(*text, path);
}

absl::StatusOr<UserIdSet> UserIdSet::FromIds(
    const std::vector<std::string>& ids) {
  std::string text;
  for (const std::string& id : ids) {
    if (id.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          StrCat("user id '", id.substr(0, 32), "' contains a line break"));
    }
    text.append(id);
    text.push_back('\n');
  }
  return Parse(text, "id list");
}

bool UserIdSet::Contains(std::string_view id) const {
  return impl_->ids.find(id) != impl_->ids.end();
}

size_t UserIdSet::size() const { return impl_->ids.size(); }

}  // namespace strata::rollout
