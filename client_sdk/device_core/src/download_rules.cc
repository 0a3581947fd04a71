#include "download_rules.h"

#include <algorithm>
#include <limits>

#include "module_id.h"

namespace strata::device::internal {
namespace {

constexpr int64_t kDay = 86400;

int64_t DayOf(int64_t now_unix) {
  return now_unix >= 0 ? now_unix / kDay : (now_unix - kDay + 1) / kDay;
}

}  // namespace

uint64_t BytesToday(pb::DeviceState& state, int64_t now_unix) {
  if (state.budget_day() != DayOf(now_unix)) {
    state.set_budget_day(DayOf(now_unix));
    state.set_budget_bytes(0);
  }
  return state.budget_bytes();
}

void CountBytes(pb::DeviceState& state, int64_t now_unix, uint64_t bytes) {
  state.set_budget_bytes(BytesToday(state, now_unix) + bytes);
}

int64_t NextTry(const pb::DeviceState& state, const pb::ModuleId& module) {
  for (const pb::BackOff& b : state.backoffs()) {
    if (SameModule(b.module(), module)) return b.next_try_unix();
  }
  return std::numeric_limits<int64_t>::min();
}

bool RecordFailedDownload(pb::DeviceState& state, const pb::ModuleId& module,
                          int64_t now_unix, int64_t initial_seconds,
                          int64_t max_seconds) {
  if (initial_seconds <= 0) return false;  // no back-off asked for
  pb::BackOff* b = nullptr;
  for (pb::BackOff& x : *state.mutable_backoffs()) {
    if (SameModule(x.module(), module)) b = &x;
  }
  if (b == nullptr) {
    b = state.add_backoffs();
    *b->mutable_module() = module;
  }
  b->set_failures(b->failures() + 1);
  int64_t wait = std::min(initial_seconds, max_seconds);
  for (uint32_t i = 1; i < b->failures() && wait < max_seconds; ++i) {
    wait = wait > max_seconds / 2 ? max_seconds : wait * 2;
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  b->set_next_try_unix(now_unix > kMax - wait ? kMax : now_unix + wait);
  return true;
}

bool ForgetFailures(pb::DeviceState& state, const pb::ModuleId& module) {
  auto* list = state.mutable_backoffs();
  for (auto it = list->begin(); it != list->end(); ++it) {
    if (SameModule(it->module(), module)) {
      list->erase(it);
      return true;
    }
  }
  return false;
}

}  // namespace strata::device::internal
