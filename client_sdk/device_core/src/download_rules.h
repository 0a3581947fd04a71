// The device core's own download rules (DeviceCoreOptions: a daily byte
// budget and a back-off after failed downloads) as changes of its state
// message, so they survive restarts and commit with the state.
#ifndef STRATA_DEVICE_SRC_DOWNLOAD_RULES_H_
#define STRATA_DEVICE_SRC_DOWNLOAD_RULES_H_

#include <cstdint>

#include "strata/device/v1/device_state.pb.h"

namespace strata::device::internal {

namespace pb = ::strata::device::v1;

// Bytes received on the UTC day of `now_unix` (the ledger starts again on
// a new day).
uint64_t BytesToday(pb::DeviceState& state, int64_t now_unix);
void CountBytes(pb::DeviceState& state, int64_t now_unix, uint64_t bytes);

// When a check may try `module` again (INT64_MIN: no back-off).
int64_t NextTry(const pb::DeviceState& state, const pb::ModuleId& module);
// A download of `module` failed at `now_unix`: the next try waits
// `initial_seconds`, doubled per failure in a row, at most `max_seconds`
// (saturating, whatever the values). False (nothing recorded) when
// `initial_seconds` is 0: no back-off.
bool RecordFailedDownload(pb::DeviceState& state, const pb::ModuleId& module,
                          int64_t now_unix, int64_t initial_seconds,
                          int64_t max_seconds);
// `module` installed: its failures are forgotten. False if it had none.
bool ForgetFailures(pb::DeviceState& state, const pb::ModuleId& module);

}  // namespace strata::device::internal

#endif  // STRATA_DEVICE_SRC_DOWNLOAD_RULES_H_
