// `release create --wait` / `release status --wait`: follow a release until
// it completes, halts or is rolled back, reporting each change of state or
// stage. The status source and the clock are injected, so the loop is
// tested without a server.
#ifndef STRATA_ADMIN_CLI_RELEASE_WATCH_H_
#define STRATA_ADMIN_CLI_RELEASE_WATCH_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/v1/admin.pb.h"

namespace strata::admin {

struct WatchOptions {
  absl::Duration poll_interval = absl::Seconds(2);
  // Zero: no limit.
  absl::Duration timeout = absl::ZeroDuration();
};

struct WatchResult {
  // kExitOk (completed), kExitHalted (halted or rolled back), kExitTimeout,
  // or the exit code of the error that stopped the watch.
  int exit_code = 0;
  // The last status read (empty if none could be read).
  v1::ReleaseStatus last;
  // Why the watch stopped, for the closing message.
  absl::Status error;
};

// Polls `fetch` every `poll_interval` (sleeping on `clock`); calls
// `on_change` with the first status and again whenever the state or stage
// changes. Stops when the release is completed, halted or rolled back, on
// the timeout, or on an error other than the server being briefly
// unavailable (UNAVAILABLE is retried until the timeout; `on_retry` is
// told each time).
WatchResult WatchRelease(
    const std::function<absl::StatusOr<v1::ReleaseStatus>()>& fetch,
    Clock& clock, const WatchOptions& options,
    const std::function<void(const v1::ReleaseStatus&)>& on_change,
    const std::function<void(const absl::Status&)>& on_retry = nullptr);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_RELEASE_WATCH_H_
