// The config watch: Client::StartConfigWatch and the thread that holds a
// WatchConfig stream, installs each pushed CONFIG entry through the check
// path and reopens a broken stream with a capped, jittered backoff.
#include <algorithm>
#include <thread>

#include "client_impl.h"
#include "strata/base/strings.h"

namespace strata::client {

absl::Status Client::StartConfigWatch(ConfigWatchOptions options) {
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(
        "config watch backoffs: initial_backoff must be positive and "
        "max_backoff at least initial_backoff");
  }
  MutexLock life(&impl_->watch_life_mu);
  if (impl_->watch_thread.joinable()) {
    if (!impl_->watch_stop) {
      return absl::FailedPreconditionError(
          "the config watch is already running; call StopConfigWatch() "
          "first");
    }
    impl_->watch_thread.join();  // stopped from its own thread; ending
  }
  impl_->watch_stop = false;
  impl_->watch_cancel.Reset();
  {
    MutexLock lock(&impl_->watch_mu);
    impl_->watch_stats.running = true;
  }
  impl_->watch_thread = std::thread(
      [impl = impl_.get(), o = std::move(options)] { impl->WatchLoop(o); });
  return absl::OkStatus();
}

void Client::StopConfigWatch() {
  MutexLock life(&impl_->watch_life_mu);
  impl_->watch_stop = true;
  impl_->watch_cancel.Cancel();
  if (impl_->watch_thread.get_id() == std::this_thread::get_id()) {
    return;  // from a listener or on_push: the thread ends after it returns
  }
  if (impl_->watch_thread.joinable()) impl_->watch_thread.join();
  MutexLock lock(&impl_->watch_mu);
  impl_->watch_stats.running = false;
}

ConfigWatchStats Client::ConfigWatchStatus() const {
  MutexLock lock(&impl_->watch_mu);
  return impl_->watch_stats;
}

ConfigPush Client::Impl::HandlePush(const v1::ConfigEvent& event,
                                    absl::Status* refreshed) {
  const v1::UpdateEntry& entry = event.entry();
  ConfigPush push{entry.module().name(),
                  entry.statement().version(),
                  entry.release_id(),
                  entry.release_sequence(),
                  false,
                  std::nullopt,
                  {}};
  const auto before = ConfigSnapshot();
  CheckResult result;
  {
    MutexLock lock(&mu);
    if (entry.module().layer() != v1::LAYER_CONFIG) {
      Fail(entry,
           WithReason(absl::PermissionDeniedError(
                          StrCat("WatchConfig pushed a module of layer ",
                                 static_cast<int>(entry.module().layer()),
                                 "; the stream carries CONFIG modules only")),
                      v1::REJECT_WRONG_LAYER),
           v1::ReportEvent::KIND_REJECTED, v1::REJECT_REASON_UNSPECIFIED,
           result);
    } else {
      google::protobuf::RepeatedPtrField<v1::UpdateEntry> pushed;
      *pushed.Add() = entry;
      *refreshed = trust->Refresh(event.metadata(), nullptr);
      // No garbage collection here: partial downloads of the last check
      // stay for its next try; the next check collects.
      std::vector<v1::UpdateEntry> waiting;
      (void)ApplyEntries(pushed, *refreshed, result, &waiting);
      if (!waiting.empty()) (void)pending->Upsert(std::move(waiting));
      // A pushed strata.remedies applies at once.
      push.remedies_applied = ApplyRemedies();
    }
  }
  NotifyChanges(before, ConfigSnapshot());
  push.installed = !result.installed.empty();
  if (!result.failure_details.empty()) {
    push.failure = result.failure_details.front();
  }
  {
    MutexLock lock(&watch_mu);
    ++watch_stats.pushes;
    if (push.installed) ++watch_stats.installed;
    if (push.failure.has_value()) ++watch_stats.failed;
  }
  return push;
}

bool Client::Impl::WatchSleep(absl::Duration d) {
  const absl::Time until = env.clock->Now() + d;
  while (!watch_stop) {
    const absl::Duration left = until - env.clock->Now();
    if (left <= absl::ZeroDuration()) return true;
    env.clock->SleepFor(std::min(left, kSleepSlice));
  }
  return false;
}

void Client::Impl::WatchLoop(const ConfigWatchOptions& o) {
  absl::Duration backoff = o.initial_backoff;
  while (!watch_stop) {
    v1::WatchConfigRequest request;
    {
      MutexLock lock(&mu);
      *request.mutable_device() = ToProto(options.app_id, options.device);
      AddActive(/*config_only=*/true, *request.mutable_installed());
      *request.mutable_trusted() = trust->Trusted();
    }
    {
      MutexLock lock(&watch_mu);
      ++watch_stats.streams_opened;
    }
    const absl::Time opened = env.clock->Now();
    bool delivered = false;
    const absl::Status ended = transport->WatchConfig(
        request, watch_cancel, [&](const v1::ConfigEvent& event) {
          absl::Status refreshed;
          ConfigPush push = HandlePush(event, &refreshed);
          if (o.on_push) o.on_push(push);
          if (!refreshed.ok()) {
            // The server sends each metadata file once per stream: after
            // a refused refresh the stream starts again from what this
            // device trusts (with the backoff of a failed stream).
            return absl::FailedPreconditionError(
                StrCat("pushed metadata refused (", ToStd(refreshed.message()),
                       "); reopening the stream from the trusted versions"));
          }
          delivered = true;
          return absl::OkStatus();
        });
    if (watch_stop) break;
    {
      MutexLock lock(&watch_mu);
      watch_stats.last_error =
          ended.ok() ? "the server ended the stream" : ended.ToString();
    }
    if (delivered || env.clock->Now() - opened >= kHealthyStream) {
      backoff = o.initial_backoff;
    }
    // Drawn from [backoff/2, backoff].
    const int64_t half = absl::ToInt64Microseconds(backoff) / 2;
    const absl::Duration wait =
        absl::Microseconds(half + static_cast<int64_t>(env.random->Uniform(
                                      static_cast<uint64_t>(half) + 1)));
    backoff = std::min(backoff * 2, o.max_backoff);
    if (!WatchSleep(wait)) break;
  }
}

}  // namespace strata::client
