// The device's storage is full (issue 15, item 4): what a file system
// reports as RESOURCE_EXHAUSTED (ENOSPC, EDQUOT) becomes an error that says
// what failed and what to do.
#ifndef STRATA_CLIENT_SRC_STORAGE_FULL_H_
#define STRATA_CLIENT_SRC_STORAGE_FULL_H_

#include <string_view>

#include "absl/status/status.h"
#include "strata/base/strings.h"

namespace strata::client {

// Whether a file operation's error means the storage is full.
inline bool IsStorageFull(const absl::Status& s) {
  return absl::IsResourceExhausted(s);
}

// `s` from a file operation: when the storage is full, RESOURCE_EXHAUSTED
// saying that `what` failed for lack of space and to free some (`then`
// says what happens next); other errors unchanged.
inline absl::Status StorageFullError(const absl::Status& s,
                                     std::string_view what,
                                     std::string_view then = "") {
  if (!IsStorageFull(s)) return s;
  return absl::ResourceExhaustedError(
      StrCat(what, ": the device's storage is full (", ToStd(s.message()),
             "); free storage space on the device and try again",
             then.empty() ? "" : "; ", then));
}

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_STORAGE_FULL_H_
