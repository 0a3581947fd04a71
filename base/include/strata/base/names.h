// The naming rule shared by server, SDK and CLI for app ids, module names
// and versions. Names become path components on devices and servers, so
// the rule also keeps them safe as file names.
#ifndef STRATA_BASE_NAMES_H_
#define STRATA_BASE_NAMES_H_

#include <string_view>

#include "absl/status/status.h"
#include "strata/base/strings.h"

namespace strata {

inline constexpr size_t kMaxNameLength = 128;

// 1-128 characters of [A-Za-z0-9._-], not starting with '.'. `what` names
// the field in the error message.
inline absl::Status ValidateName(std::string_view what,
                                 std::string_view value) {
  if (value.empty())
    return absl::InvalidArgumentError(StrCat(what, " is empty"));
  if (value.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(StrCat(what, " is ", value.size(),
                                             " characters long; the limit is ",
                                             kMaxNameLength));
  }
  if (value[0] == '.') {
    return absl::InvalidArgumentError(
        StrCat(what, " '", value, "' starts with '.'"));
  }
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          StrCat(what, " '", value, "' has character '", c,
                 "'; use letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace strata

#endif  // STRATA_BASE_NAMES_H_
