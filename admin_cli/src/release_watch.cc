#include "strata/admin_cli/release_watch.h"

#include <algorithm>

#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/release_flags.h"
#include "strata/admin_cli/render.h"
#include "strata/base/strings.h"

namespace strata::admin {

WatchResult WatchRelease(
    const std::function<absl::StatusOr<v1::ReleaseStatus>()>& fetch,
    Clock& clock, const WatchOptions& options,
    const std::function<void(const v1::ReleaseStatus&)>& on_change,
    const std::function<void(const absl::Status&)>& on_retry) {
  const absl::Time start = clock.Now();
  const bool limited = options.timeout > absl::ZeroDuration();
  WatchResult result;
  bool have = false;
  while (true) {
    absl::StatusOr<v1::ReleaseStatus> status = fetch();
    if (status.ok()) {
      const v1::Release& r = status->release();
      const bool changed = !have ||
                           r.state() != result.last.release().state() ||
                           r.stage() != result.last.release().stage();
      result.last = *std::move(status);
      have = true;
      if (changed) on_change(result.last);
      switch (result.last.release().state()) {
        case v1::RELEASE_COMPLETED:
          result.exit_code = kExitOk;
          return result;
        case v1::RELEASE_HALTED:
        case v1::RELEASE_ROLLED_BACK:
          result.exit_code = kExitHalted;
          result.error = absl::AbortedError(
              StrCat("release ", r.release_id(), " was ", StateName(r.state()),
                     r.state_reason().empty() ? "" : ": ", r.state_reason()));
          return result;
        default:
          break;
      }
    } else if (absl::IsUnavailable(status.status())) {
      if (on_retry) on_retry(status.status());
    } else {
      result.exit_code = ExitCodeFor(status.status());
      result.error = status.status();
      return result;
    }
    const absl::Duration elapsed = clock.Now() - start;
    if (limited && elapsed >= options.timeout) {
      result.exit_code = kExitTimeout;
      result.error = absl::DeadlineExceededError(StrCat(
          "gave up waiting after ", ShortDuration(options.timeout),
          have ? StrCat("; release ", result.last.release().release_id(),
                        " is still ", StateName(result.last.release().state()),
                        " and keeps rolling out")
               : std::string("; the release status could not be read")));
      return result;
    }
    clock.SleepFor(
        limited ? std::min(options.poll_interval, options.timeout - elapsed)
                : options.poll_interval);
  }
}

}  // namespace strata::admin
