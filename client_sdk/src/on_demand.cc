// On-demand modules, prefetch hints and the download policy: the parts of
// the Client that decide whether an offered update is downloaded now, and
// that install the ones that waited (client_impl.h, delivery_policy.h,
// pending_store.h).
#include <algorithm>
#include <chrono>

#include "client_impl.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::client {
namespace {

constexpr std::string_view kNetworkNames[] = {"unknown", "unmetered", "metered",
                                              "offline"};

// Without a wake-up (a hint, a network change, a check) the prefetcher
// looks again this often, for back-offs that ended.
constexpr auto kPrefetchRecheck = std::chrono::seconds(30);

ModuleKey EntryKey(const v1::UpdateEntry& e) {
  return {e.module().layer(), e.module().name()};
}

std::string Which(const v1::UpdateEntry& e) {
  return StrCat(LayerName(static_cast<Layer>(e.module().layer())), "/",
                e.module().name(), " ", e.statement().version());
}

}  // namespace

std::string_view NetworkName(Network network) {
  const int n = static_cast<int>(network);
  return n >= 0 && n <= 3 ? kNetworkNames[n] : std::string_view("unknown");
}

bool Client::Impl::OnDemandAbsent(const v1::UpdateEntry& e) {
  if (!e.statement().delivery().on_demand()) return false;
  const ModuleKey key = EntryKey(e);
  if (Active(key).has_value()) return false;
  const auto it = store->state().modules.find(key);
  return it == store->state().modules.end() || !it->second.staged.has_value();
}

uint64_t Client::Impl::Estimate(const v1::UpdateEntry& e) {
  // Content that came with the plan, or is here already, costs nothing.
  if (!e.inline_content().empty() ||
      store->HasBlob(e.statement().content_sha256())) {
    return 0;
  }
  const ModuleKey key = EntryKey(e);
  uint64_t estimate = e.statement().size();
  if (std::optional<InstalledModule> a = Active(key)) {
    for (const v1::DeltaRef& d : e.deltas()) {
      // A tree patch is tried only when the active tree is unpacked.
      if (d.from_sha256() == a->content_sha256 &&
          (!d.tree() || Trees().Has(a->content_sha256))) {
        estimate = std::min<uint64_t>(estimate, d.patch().size());
      }
    }
  }
  return estimate;
}

std::string Client::Impl::HoldBack(const v1::UpdateEntry& e, bool user_waiting,
                                   uint64_t planned) {
  const uint64_t estimate = Estimate(e);
  if (estimate == 0) return "";
  return WhyNotNow(options.download_policy, EntryKey(e),
                   e.statement().delivery(), planned + estimate,
                   metered->network(), *ledger, env.clock->Now(), user_waiting);
}

void Client::Impl::SplitPending(
    std::map<uint64_t, std::vector<const v1::UpdateEntry*>>& groups,
    std::vector<std::vector<const v1::UpdateEntry*>>& singles,
    std::vector<v1::UpdateEntry>& waiting) {
  // A group is installed now, or waits whole (all old or all new). An
  // on-demand member with no version here leaves its release instead: the
  // device runs no version of it that could mix with the others.
  // Bytes the groups admitted so far will download (the daily budget
  // counts them before they arrive).
  uint64_t planned = 0;
  auto split = [&](std::vector<const v1::UpdateEntry*>& group) {
    mu.AssertHeld();  // called below, under mu
    std::erase_if(group, [&](const v1::UpdateEntry* e) {
      mu.AssertHeld();
      if (!OnDemandAbsent(*e)) return false;
      waiting.push_back(*e);
      return true;
    });
    uint64_t bytes = 0;
    for (const v1::UpdateEntry* e : group) {
      if (HoldBack(*e, /*user_waiting=*/false, planned + bytes).empty()) {
        bytes += Estimate(*e);
        continue;
      }
      for (const v1::UpdateEntry* m : group) waiting.push_back(*m);
      group.clear();
      return true;
    }
    planned += bytes;
    return group.empty();
  };
  for (auto it = groups.begin(); it != groups.end();) {
    it = split(it->second) ? groups.erase(it) : std::next(it);
  }
  std::erase_if(singles, split);
}

PendingDownload Client::Impl::Describe(const v1::UpdateEntry& e) {
  PendingDownload p;
  p.layer = static_cast<Layer>(e.module().layer());
  p.name = e.module().name();
  p.version = e.statement().version();
  p.content_bytes = e.statement().size();
  p.on_demand = OnDemandAbsent(e);
  p.mandatory = e.statement().delivery().mandatory();
  if (p.on_demand) {
    p.reason = "on demand: the first OpenModule() or a prefetch fetches it";
  } else {
    p.reason = HoldBack(e, /*user_waiting=*/false);
    if (p.reason.empty()) {
      p.reason = "allowed now: the next check or a prefetch installs it";
    }
  }
  return p;
}

std::vector<v1::NetworkBytes> Client::Impl::RecordTraffic(
    const v1::UpdateEntry& e, const absl::Status& fetched) {
  const ModuleKey key = EntryKey(e);
  std::vector<v1::NetworkBytes> out;
  for (const auto& [network, bytes] : metered->Take()) {
    if (bytes == 0) continue;
    ledger->Add(network, bytes);
    v1::NetworkBytes& t = out.emplace_back();
    t.set_network(static_cast<v1::NetworkType>(network));
    t.set_bytes(bytes);
  }
  const DownloadPolicy& p = options.download_policy;
  if (fetched.ok()) {
    ledger->Succeeded(key);
  } else if (!absl::IsCancelled(fetched) &&
             p.initial_backoff > absl::ZeroDuration()) {
    ledger->Failed(key, p.initial_backoff, p.max_backoff);
  }
  return out;
}

absl::Status Client::Impl::InstallPending(const ModuleKey& key,
                                          const OpenOptions* open,
                                          CheckResult& result) {
  const v1::UpdateEntry* found = pending->Find(key);
  if (found == nullptr) {
    return absl::NotFoundError(
        StrCat(LayerDirName(key.first), "/", key.second,
               " has no pending download; check for updates first"));
  }
  const v1::UpdateEntry mine = *found;
  const std::vector<v1::UpdateEntry> group = pending->Group(key);
  std::vector<ModuleKey> keys;
  for (const v1::UpdateEntry& e : group) keys.push_back(EntryKey(e));
  const bool user_waiting = open != nullptr;
  if (!user_waiting || !open->ignore_network_policy) {
    for (const v1::UpdateEntry& e : group) {
      const std::string why = HoldBack(e, user_waiting);
      if (why.empty()) continue;
      return absl::FailedPreconditionError(StrCat(
          Which(mine), " is not on the device and may not be downloaded now (",
          Which(e), ": ", why,
          "); try again on another network, or open it with "
          "ignore_network_policy if the user agrees"));
    }
  }
  // Admitted by an earlier check: checked again against the state now
  // (another version may have arrived since).
  const EntryCheckContext context{options.app_id, options.device.host_build,
                                  options.device.app_version, kSdkVersion,
                                  &store->state()};
  for (const v1::UpdateEntry& e : group) {
    if (absl::Status s = CheckEntry(e, context); !s.ok()) {
      (void)pending->Remove(keys);
      return s;
    }
  }
  uint64_t total = 0;
  for (const v1::UpdateEntry& e : group) total += e.statement().size();
  DownloadProgress progress;
  progress.layer = static_cast<Layer>(key.first);
  progress.module = key.second;
  progress.version = mine.statement().version();
  progress.content_bytes = total;
  const bool report = user_waiting && open->on_progress;
  const size_t failed_before = result.failures.size();
  {
    MeteredTransport::Watch watch(
        *metered,
        [&](uint64_t n) {
          progress.received_bytes += n;
          if (report) open->on_progress(progress);
        },
        user_waiting ? open->cancel : nullptr);
    std::vector<const v1::UpdateEntry*> members;
    for (const v1::UpdateEntry& e : group) members.push_back(&e);
    ApplyGroup(members, result);
  }
  ledger->Save();
  if (result.failures.size() > failed_before) {
    const std::string why = result.failures.back();
    if (user_waiting && open->cancel != nullptr && open->cancel->cancelled()) {
      return absl::CancelledError(
          StrCat("downloading ", Which(mine), " was cancelled (",
                 progress.received_bytes, " of ", total,
                 " bytes kept; the next open resumes)"));
    }
    return absl::UnavailableError(StrCat(
        "downloading ", Which(mine), " failed: ", why, "; try again later"));
  }
  if (absl::Status s = pending->Remove(keys); !s.ok()) {
    STRATA_LOG(Warning) << "pending downloads not updated: " << s.ToString();
  }
  progress.done = true;
  if (report) open->on_progress(progress);
  return absl::OkStatus();
}

void Client::Impl::WakePrefetcher() {
  {
    MutexLock lock(&prefetch_mu);
    ++prefetch_wakeups;
  }
  prefetch_cv.SignalAll();
}

void Client::Impl::PrefetchLoop() {
  uint64_t seen = 0;
  while (true) {
    std::set<ModuleKey> hints;
    {
      MutexLock lock(&prefetch_mu);
      // As wait_for with a predicate: at most kPrefetchRecheck in all.
      const auto deadline = std::chrono::steady_clock::now() + kPrefetchRecheck;
      while (!prefetch_stop && prefetch_wakeups == seen) {
        if (prefetch_cv.WaitWithDeadline(&prefetch_mu, deadline)) break;
      }
      if (prefetch_stop) return;
      seen = prefetch_wakeups;
      hints = prefetch_hints;
    }
    for (const ModuleKey& key : hints) {
      std::map<std::string, std::string> before, after;
      {
        MutexLock lock(&mu);
        const v1::UpdateEntry* e = pending->Find(key);
        if (e == nullptr || !HoldBack(*e, /*user_waiting=*/false).empty()) {
          continue;
        }
        before = ConfigSnapshotLocked();
        CheckResult result;
        absl::Status s = InstallPending(key, nullptr, result);
        after = ConfigSnapshotLocked();
        if (s.ok()) {
          ++prefetched;
        } else if (!absl::IsFailedPrecondition(s)) {
          STRATA_LOG(Warning) << "prefetch: " << s.ToString();
        }
      }
      NotifyChanges(before, after);
      MutexLock lock(&prefetch_mu);
      if (prefetch_stop) return;
    }
  }
}

void Client::Prefetch(
    const std::vector<std::pair<Layer, std::string>>& modules) {
  Impl& d = *impl_;
  {
    MutexLock lock(&d.prefetch_mu);
    if (d.prefetch_stop) return;
    for (const auto& [layer, name] : modules) {
      d.prefetch_hints.insert({static_cast<int>(layer), name});
    }
    if (!d.prefetch_thread.joinable()) {
      d.prefetch_thread = std::thread([&d] { d.PrefetchLoop(); });
    }
  }
  d.WakePrefetcher();
}

void Client::StopPrefetch() {
  {
    MutexLock lock(&impl_->prefetch_mu);
    impl_->prefetch_stop = true;
  }
  impl_->prefetch_cv.SignalAll();
  if (impl_->prefetch_thread.joinable()) impl_->prefetch_thread.join();
}

uint64_t Client::Prefetched() const { return impl_->prefetched; }

void Client::SetNetwork(Network network) {
  impl_->metered->SetNetwork(network);
  impl_->WakePrefetcher();
}

Network Client::CurrentNetwork() const { return impl_->metered->network(); }

std::vector<PendingDownload> Client::PendingDownloads() {
  MutexLock lock(&impl_->mu);
  std::vector<PendingDownload> out;
  for (const v1::UpdateEntry& e : impl_->pending->entries()) {
    out.push_back(impl_->Describe(e));
  }
  return out;
}

TrafficStats Client::Traffic() {
  MutexLock lock(&impl_->mu);
  return TrafficStats{impl_->ledger->Today(), impl_->ledger->Total()};
}

absl::StatusOr<std::string> Client::OpenModule(Layer layer,
                                               std::string_view name) {
  return OpenModule(layer, name, OpenOptions{});
}

}  // namespace strata::client
