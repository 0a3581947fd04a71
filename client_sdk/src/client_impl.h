// The state and the coordinating steps shared by the Client's parts
// (client.cc: check, apply, launch guard, config watch, reports;
// on_demand.cc: on-demand modules, prefetch, download policy). Internal.
#ifndef STRATA_CLIENT_SRC_CLIENT_IMPL_H_
#define STRATA_CLIENT_SRC_CLIENT_IMPL_H_

#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "activation.h"
#include "client_state.h"
#include "content_fetcher.h"
#include "delivery_policy.h"
#include "entry_check.h"
#include "metered_transport.h"
#include "module_store.h"
#include "pending_store.h"
#include "reject.h"
#include "remedy.h"
#include "report_outbox.h"
#include "report_queue.h"
#include "storage_full.h"
#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/client/client.h"
#include "transport.h"
#include "tree_store.h"
#include "trust_policy.h"
#include "url_map.h"

namespace strata::client {

inline constexpr std::string_view kSdkVersion = "0.3.0";

inline v1::DeviceContext ToProto(const std::string& app_id,
                                 const DeviceInfo& d) {
  v1::DeviceContext c;
  c.set_app_id(app_id);
  c.set_device_id(d.device_id);
  c.set_user_id(d.user_id);
  c.set_app_version(d.app_version);
  c.set_host_build(d.host_build);
  c.set_os(d.os);
  c.set_os_version(d.os_version);
  c.set_device_model(d.device_model);
  c.set_region(d.region);
  c.set_channel(d.channel);
  c.set_network(d.network);
  c.set_locale(d.locale);
  c.set_runtime_version(d.runtime_version);
  c.set_sdk_version(std::string(kSdkVersion));
  for (const auto& [k, v] : d.attributes) (*c.mutable_attributes())[k] = v;
  return c;
}

inline InstalledModule ToModule(const ModuleKey& key, const VersionRef& r) {
  return InstalledModule{static_cast<Layer>(key.first),
                         key.second,
                         r.version,
                         r.sha256,
                         r.sequence,
                         r.release_id};
}

inline VersionRef RefOf(const v1::UpdateEntry& e) {
  return VersionRef{e.statement().version(),
                    e.statement().content_sha256(),
                    e.release_sequence(),
                    e.release_id(),
                    e.statement().delivery().install_mode(),
                    e.statement().delivery().mandatory()};
}

// A stream that lived this long was healthy: the next reconnect waits only
// the initial backoff.
inline constexpr absl::Duration kHealthyStream = absl::Seconds(10);
// Backoff waits are slept in slices this long, so a stop is seen soon.
inline constexpr absl::Duration kSleepSlice = absl::Milliseconds(50);

// Tells the listeners about CONFIG modules whose active content changed
// between `before` and `after`.
template <typename Fn>
void NotifyConfigChanges(Client& client,
                         const std::map<std::string, std::string>& before,
                         const std::map<std::string, std::string>& after,
                         const Fn& for_each_listener) {
  std::set<std::string> names;
  for (const auto& [n, sha] : before) names.insert(n);
  for (const auto& [n, sha] : after) names.insert(n);
  for (const std::string& n : names) {
    auto b = before.find(n);
    auto a = after.find(n);
    const std::string old_sha = b == before.end() ? "" : b->second;
    const std::string new_sha = a == after.end() ? "" : a->second;
    if (old_sha == new_sha) continue;
    absl::StatusOr<std::optional<std::string>> content = client.GetConfig(n);
    for_each_listener(n, content.ok() ? *content : std::nullopt);
  }
}

inline void SetReleaseIds(v1::ReportEvent& e,
                          const std::vector<uint64_t>& ids) {
  for (uint64_t id : ids) e.add_release_ids(id);
}

struct Client::Impl {
  ClientOptions options;
  Env env;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<TrustPolicy> trust;
  std::optional<ModuleStore> store ABSL_GUARDED_BY(mu);
  std::optional<ReportQueue> reports ABSL_GUARDED_BY(mu);
  // Once per client lifetime.
  std::set<std::string> reported_banned ABSL_GUARDED_BY(mu);
  // Reports to the server: the queue above and what it could not take.
  std::optional<ReportOutbox> outbox ABSL_GUARDED_BY(mu);
  Mutex mu;  // one operation at a time; guards what is ABSL_GUARDED_BY(mu)
  std::thread sync_thread;
  std::atomic<bool> sync_stop{false};
  std::atomic<uint64_t> sync_checks{0};
  Mutex listeners_mu;
  std::map<int, ConfigListener> listeners ABSL_GUARDED_BY(listeners_mu);
  int next_listener ABSL_GUARDED_BY(listeners_mu) = 1;
  Client* self = nullptr;  // for GetConfig() when notifying listeners
  // Config watch: Start/Stop under watch_life_mu; stats under watch_mu.
  Mutex watch_life_mu;
  std::thread watch_thread ABSL_GUARDED_BY(watch_life_mu);
  std::atomic<bool> watch_stop{false};
  StreamCancel watch_cancel;
  mutable Mutex watch_mu;
  ConfigWatchStats watch_stats ABSL_GUARDED_BY(watch_mu);
  // URL prefixes declared by each unpacked tree, by archive SHA-256.
  std::map<std::string, std::vector<std::string>> url_prefixes
      ABSL_GUARDED_BY(mu);
  // Download policy (on_demand.cc): the transport's meter (owned by
  // `transport`), updates admitted but not downloaded, bytes per network.
  MeteredTransport* metered = nullptr;
  std::optional<PendingStore> pending ABSL_GUARDED_BY(mu);
  std::optional<TrafficLedger> ledger ABSL_GUARDED_BY(mu);
  // Prefetch: hints and the thread that acts on them (on_demand.cc).
  Mutex prefetch_mu;
  CondVar prefetch_cv;
  std::set<ModuleKey> prefetch_hints ABSL_GUARDED_BY(prefetch_mu);
  uint64_t prefetch_wakeups ABSL_GUARDED_BY(prefetch_mu) = 0;
  bool prefetch_stop ABSL_GUARDED_BY(prefetch_mu) = false;
  // Started under prefetch_mu; joined by StopPrefetch once prefetch_stop
  // is set (after which nothing starts it), so not annotated.
  std::thread prefetch_thread;
  std::atomic<uint64_t> prefetched{0};

  // Remedies (remedy_apply.cc, docs/remedies.md).
  // Why the active rules were not used ("" when they were).
  std::string remedy_error ABSL_GUARDED_BY(mu);
  // Rule documents (by content hash) whose refusal was reported.
  std::set<std::string> reported_bad_remedies ABSL_GUARDED_BY(mu);
  // Applies the active `strata.remedies` rules that match this device and
  // were not applied here before; returns their ids. Each rule's effect
  // and its record are one state commit; its REMEDY_APPLIED report is
  // queued after it.
  // `unhealthy_launches`: in a row, the previous one included (BeginLaunch
  // passes its count before any reset; -1: the stored count).
  std::vector<std::string> ApplyRemedies(int unhealthy_launches = -1)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The remedy that disabled `key` here, if any.
  std::optional<std::string> DisabledBy(const ModuleKey& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = store->state().disabled.find(key);
    if (it == store->state().disabled.end()) return std::nullopt;
    return it->second;
  }
  // What OpenModule gives for a disabled module: the embedded version's
  // path (its unpacked tree for an H5/HCF archive), else kUnavailable.
  absl::StatusOr<std::string> DisabledPath(const ModuleKey& key,
                                           const std::string& remedy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // on_demand.cc:
  // Bytes fetching `e` would download (0: inline or here already).
  uint64_t Estimate(const v1::UpdateEntry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Why `e` waits instead of being downloaded now ("": download);
  // `planned`: bytes already due to be downloaded before it.
  std::string HoldBack(const v1::UpdateEntry& e, bool user_waiting,
                       uint64_t planned = 0) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // An on-demand module with no version on the device.
  bool OnDemandAbsent(const v1::UpdateEntry& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Splits a plan's groups into those to install now and the entries that
  // wait (appended to `waiting`).
  void SplitPending(
      std::map<uint64_t, std::vector<const v1::UpdateEntry*>>& groups,
      std::vector<std::vector<const v1::UpdateEntry*>>& singles,
      std::vector<v1::UpdateEntry>& waiting) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Downloads and installs the pending release of `key` (under `mu`).
  absl::Status InstallPending(const ModuleKey& key, const OpenOptions* open,
                              CheckResult& result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  PendingDownload Describe(const v1::UpdateEntry& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Counts the metered bytes of one fetch in the ledger (and the
  // back-off); returns them by network for the install's report.
  std::vector<v1::NetworkBytes> RecordTraffic(const v1::UpdateEntry& e,
                                              const absl::Status& fetched)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void WakePrefetcher();
  void PrefetchLoop();

  // Every active module (installed or embedded), as the server sees them.
  void AddActive(bool config_only,
                 google::protobuf::RepeatedPtrField<v1::InstalledModule>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::set<ModuleKey> keys;
    for (const auto& [key, m] : store->state().modules) keys.insert(key);
    for (const ModuleKey& key : store->ListEmbedded()) keys.insert(key);
    for (const ModuleKey& key : keys) {
      if (config_only && key.first != v1::LAYER_CONFIG) continue;
      std::optional<InstalledModule> a = Active(key);
      if (!a.has_value()) continue;
      v1::InstalledModule* m = out.Add();
      m->mutable_module()->set_layer(static_cast<v1::Layer>(key.first));
      m->mutable_module()->set_name(key.second);
      m->set_version(a->version);
      m->set_content_sha256(a->content_sha256);
      m->set_release_sequence(a->release_sequence);
    }
  }

  // The config watch (config_watch.cc).
  // One pushed entry, installed exactly as a check would install it.
  // `*refreshed` receives the trust policy's refresh with the event's
  // metadata.
  ConfigPush HandlePush(const v1::ConfigEvent& event, absl::Status* refreshed);
  // Sleeps `d` on the Env's clock, in slices; false if stopped meanwhile.
  bool WatchSleep(absl::Duration d);
  // The watch thread: streams, pushes, backoff, until stopped.
  void WatchLoop(const ConfigWatchOptions& o);

  void Notify(const std::string& name,
              const std::optional<std::string>& content) {
    std::map<int, ConfigListener> copy;
    {
      MutexLock lock(&listeners_mu);
      copy = listeners;
    }
    for (const auto& [id, fn] : copy) fn(name, content);
  }
  // Tells the listeners what changed between two ConfigSnapshot()s.
  void NotifyChanges(const std::map<std::string, std::string>& before,
                     const std::map<std::string, std::string>& after) {
    NotifyConfigChanges(
        *self, before, after,
        [&](const std::string& n, const std::optional<std::string>& c) {
          Notify(n, c);
        });
  }

  // Active CONFIG content hashes by module name (installed or embedded).
  std::map<std::string, std::string> ConfigSnapshot() {
    MutexLock lock(&mu);
    return ConfigSnapshotLocked();
  }
  std::map<std::string, std::string> ConfigSnapshotLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::map<std::string, std::string> out;
    for (const auto& [key, m] : store->state().modules) {
      if (key.first != v1::LAYER_CONFIG) continue;
      std::optional<InstalledModule> a = Active(key);
      out[key.second] = a.has_value() ? a->content_sha256 : "";
    }
    return out;
  }

  v1::ReportEvent Event(v1::ReportEvent::Kind kind, const ModuleKey& key,
                        uint64_t release_id, v1::RejectReason reason,
                        std::string detail) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    v1::ReportEvent e;
    e.set_kind(kind);
    if (key.first != 0) {
      e.mutable_module()->set_layer(static_cast<v1::Layer>(key.first));
      e.mutable_module()->set_name(key.second);
    }
    e.set_release_id(release_id);
    e.set_reason(reason);
    e.set_detail(std::move(detail));
    e.set_at_unix(absl::ToUnixSeconds(env.clock->Now()));
    return e;
  }
  // Reports are best effort with respect to the operation they describe
  // (report_outbox.h).
  void Queue(v1::ReportEvent e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    outbox->Queue(std::move(e));
  }

  // The active version: installed, else embedded.
  std::optional<InstalledModule> Active(const ModuleKey& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = store->state().modules.find(key);
    if (it != store->state().modules.end() && it->second.active) {
      return ToModule(key, *it->second.active);
    }
    std::optional<ModuleStore::Embedded> e =
        store->FindEmbedded(key.first, key.second);
    if (!e.has_value()) return std::nullopt;
    return InstalledModule{static_cast<Layer>(key.first),
                           key.second,
                           std::string(kEmbeddedVersion),
                           e->sha256,
                           0,
                           0};
  }
  bool Staged(const ModuleKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = store->state().modules.find(key);
    return it != store->state().modules.end() && it->second.staged.has_value();
  }
  std::optional<std::string> ActivePath(const ModuleKey& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = store->state().modules.find(key);
    if (it != store->state().modules.end() && it->second.active) {
      return store->BlobPath(it->second.active->sha256);
    }
    std::optional<ModuleStore::Embedded> e =
        store->FindEmbedded(key.first, key.second);
    if (!e.has_value()) return std::nullopt;
    return e->path;
  }

  // Puts the entry's content into blobs/ (content_fetcher.h), preferring a
  // delta from the active content; a failed delta is reported and the full
  // download follows.
  absl::Status FetchContent(const v1::UpdateEntry& entry, Source* source,
                            uint64_t* bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const ModuleKey key{entry.module().layer(), entry.module().name()};
    std::optional<DeltaBase> base;
    std::optional<InstalledModule> active = Active(key);
    std::optional<std::string> active_path = ActivePath(key);
    TreeStore trees = Trees();
    if (active.has_value() && active_path.has_value()) {
      base = DeltaBase{active->content_sha256, *active_path, std::nullopt};
      if (PointOf(key.first) == ActivationPoint::kOpenOrLaunch &&
          trees.Has(active->content_sha256)) {
        base->tree_dir = trees.DirOf(active->content_sha256);
      }
    }
    ContentFetcher fetcher(env, &*store, transport.get(),
                           options.disk_budget_bytes, &trees);
    return fetcher.Fetch(
        entry, base, source, bytes,
        [&](const v1::DeltaRef& d, const absl::Status& s) {
          mu.AssertHeld();  // called by Fetch, under mu
          Queue(Event(
              v1::ReportEvent::KIND_APPLY_FAILED, key, entry.release_id(),
              v1::REJECT_DELTA_OUTPUT_MISMATCH,
              StrCat(d.tree() ? "tree delta" : "delta", " from ",
                     d.from_sha256(), " failed (", ToStd(s.message()),
                     "); fell back to the next patch or the full download")));
        });
  }

  TreeStore Trees() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return TreeStore(env.fs, store->TreesDir());
  }

  // An H5/HCF entry whose (fetched, verified) content is a tree archive is
  // unpacked before it is staged, sharing unchanged files with the active
  // version's tree (tree_store.h).
  absl::Status UnpackIfTree(const v1::UpdateEntry& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const ModuleKey key{e.module().layer(), e.module().name()};
    if (PointOf(key.first) != ActivationPoint::kOpenOrLaunch) {
      return absl::OkStatus();
    }
    const std::string& sha = e.statement().content_sha256();
    const std::string blob = store->BlobPath(sha);
    STRATA_ASSIGN_OR_RETURN(bool is_tree,
                            TreeStore::IsTreeArchive(*env.fs, blob));
    if (!is_tree) return absl::OkStatus();
    TreeStore trees = Trees();
    std::optional<std::string> previous;
    std::optional<InstalledModule> active = Active(key);
    if (active.has_value() && trees.Has(active->content_sha256)) {
      previous = trees.DirOf(active->content_sha256);
    }
    return StorageFullError(
        trees.Unpack(sha, blob, previous),
        StrCat("unpacking the tree of ",
               LayerName(static_cast<Layer>(key.first)), "/", key.second, " ",
               e.statement().version()));
  }

  // The directory of the active content when it is an H5/HCF tree
  // (unpacked again, from the verified archive, when missing); nullopt for
  // other content.
  absl::StatusOr<std::optional<std::string>> ActiveTreeDir(const ModuleKey& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (PointOf(key.first) != ActivationPoint::kOpenOrLaunch) {
      return std::nullopt;
    }
    std::optional<InstalledModule> active = Active(key);
    std::optional<std::string> path = ActivePath(key);
    if (!active.has_value() || !path.has_value()) return std::nullopt;
    TreeStore trees = Trees();
    const std::string& sha = active->content_sha256;
    if (trees.Has(sha)) return trees.DirOf(sha);
    STRATA_ASSIGN_OR_RETURN(bool is_tree,
                            TreeStore::IsTreeArchive(*env.fs, *path));
    if (!is_tree) return std::nullopt;
    if (active->version != kEmbeddedVersion) {
      STRATA_RETURN_IF_ERROR(store->VerifyBlob(sha));
    }
    STRATA_RETURN_IF_ERROR(StorageFullError(
        trees.Unpack(sha, *path, std::nullopt),
        StrCat("unpacking the tree of ",
               LayerName(static_cast<Layer>(key.first)), "/", key.second)));
    return trees.DirOf(sha);
  }

  // The URL prefixes the tree `sha` (unpacked in `dir`) declares; a
  // malformed declaration declares none (logged once).
  const std::vector<std::string>& PrefixesOf(const std::string& sha,
                                             const std::string& dir)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = url_prefixes.find(sha);
    if (it != url_prefixes.end()) return it->second;
    std::vector<std::string> prefixes;
    absl::StatusOr<std::string> text =
        env.fs->ReadFile(JoinPath(dir, kPackageFile));
    if (text.ok()) {
      absl::StatusOr<std::vector<std::string>> parsed = ParseUrlPrefixes(*text);
      if (parsed.ok()) {
        prefixes = *std::move(parsed);
      } else {
        STRATA_LOG(Warning)
            << "tree " << sha.substr(0, 12) << ": "
            << parsed.status().ToString() << "; it serves no URLs";
      }
    }
    return url_prefixes.emplace(sha, std::move(prefixes)).first->second;
  }

  // Reports staged versions dropped at activation (DropDamagedStaged);
  // those in `skip` the caller reports itself.
  void ReportDamaged(
      const std::vector<std::pair<ModuleKey, VersionRef>>& damaged,
      const std::set<ModuleKey>& skip = {}) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (const auto& [k, r] : damaged) {
      if (skip.count(k) > 0) continue;
      Queue(Event(v1::ReportEvent::KIND_APPLY_FAILED, k, r.release_id,
                  v1::REJECT_CONTENT_HASH_MISMATCH,
                  StrCat("staged ", r.version,
                         " not activated: its content, or that of a member "
                         "of its release, changed on disk since it was "
                         "verified; the next check fetches it again")));
    }
  }

  // Activated versions count as installed for the verifier: lower release
  // counters of the module are refused from now on. Best effort: the SDK's
  // own sequence check stands regardless.
  void MarkInstalled(
      const std::vector<std::pair<ModuleKey, VersionRef>>& activated)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (const auto& [k, r] : activated) {
      (void)trust->MarkInstalled(k.first, k.second, r.sequence);
    }
  }

  void Fail(const v1::UpdateEntry& entry, const absl::Status& s,
            v1::ReportEvent::Kind kind, v1::RejectReason fallback,
            CheckResult& result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const v1::RejectReason reason = ReasonOf(s, fallback);
    const ModuleKey key{entry.module().layer(), entry.module().name()};
    Queue(Event(kind, key, entry.release_id(), reason,
                std::string(ToStd(s.message()))));
    result.failures.push_back(StrCat(entry.module().name(), " ",
                                     entry.statement().version(), ": ",
                                     ToStd(s.message())));
    result.failure_details.push_back(UpdateFailure{
        static_cast<Layer>(entry.module().layer()), entry.module().name(),
        entry.statement().version(), static_cast<int>(reason),
        std::string(ToStd(s.message()))});
  }

  // Fetches every entry of one release, then switches them all with one
  // state write: all old or all new.
  void ApplyGroup(const std::vector<const v1::UpdateEntry*>& group,
                  CheckResult& result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<Source> sources(group.size(), Source::kLocal);
    std::vector<std::vector<v1::NetworkBytes>> traffic(group.size());
    for (size_t i = 0; i < group.size(); ++i) {
      (void)metered->Take();
      absl::Status s =
          FetchContent(*group[i], &sources[i], &result.bytes_downloaded);
      traffic[i] = RecordTraffic(*group[i], s);
      if (s.ok()) s = UnpackIfTree(*group[i]);
      if (s.ok()) continue;
      if (absl::IsCancelled(s)) {
        // The user's cancel (OpenModule): nothing to report.
        result.failures.push_back(StrCat(group[i]->module().name(), " ",
                                         group[i]->statement().version(), ": ",
                                         ToStd(s.message())));
        return;
      }
      for (size_t j = 0; j < group.size(); ++j) {
        absl::Status why =
            j == i ? s
                   : absl::AbortedError(
                         StrCat("not installed: ", group[i]->module().name(),
                                " of the same release failed (",
                                ToStd(s.message()), ")"));
        Fail(*group[j], why, v1::ReportEvent::KIND_APPLY_FAILED,
             v1::REJECT_APPLY_FAILED, result);
      }
      return;
    }
    // Staged together first; activated at once only if no member (nor an
    // already staged member of the same release) must wait.
    ClientState next = store->state();
    for (const v1::UpdateEntry* e : group) {
      next.modules[{e->module().layer(), e->module().name()}].staged =
          RefOf(*e);
    }
    const ModuleKey first{group[0]->module().layer(),
                          group[0]->module().name()};
    const std::vector<ModuleKey> members = StagedGroup(next, first);
    const bool now = GroupPoint(next, members) == ActivationPoint::kAtOnce;
    std::set<ModuleKey> in_plan;
    for (const v1::UpdateEntry* e : group) {
      in_plan.insert({e->module().layer(), e->module().name()});
    }
    // Members staged by an earlier check: ACTIVATED is queued for them
    // only once the switch is on disk.
    std::vector<std::pair<ModuleKey, VersionRef>> earlier, activated;
    if (now) {
      const auto damaged = DropDamagedStaged(*store, next, members);
      if (!damaged.empty()) {
        // Staged by an earlier check and changed on disk since: the
        // release is dropped here (also from the state) and offered again
        // by the next check.
        ClientState kept = store->state();
        for (const auto& [k, r] : damaged) {
          const auto it = kept.modules.find(k);
          if (it != kept.modules.end()) it->second.staged.reset();
        }
        (void)store->Commit(std::move(kept));
        ReportDamaged(damaged, in_plan);
        for (const v1::UpdateEntry* e : group) {
          Fail(*e,
               WithReason(absl::DataLossError(
                              "content of the same release changed on disk "
                              "since it was verified; not activated"),
                          v1::REJECT_CONTENT_HASH_MISMATCH),
               v1::ReportEvent::KIND_APPLY_FAILED, v1::REJECT_APPLY_FAILED,
               result);
        }
        return;
      }
      for (const ModuleKey& k : members) {
        ModuleState& m = next.modules[k];
        const VersionRef staged = *m.staged;
        if (in_plan.count(k) == 0) earlier.emplace_back(k, staged);
        activated.emplace_back(k, staged);
        Activate(m, staged);
      }
    }
    absl::Status s = store->Commit(std::move(next));
    if (!s.ok()) {
      s = StorageFullError(s, "recording the install",
                           "nothing of the release was installed");
      for (const v1::UpdateEntry* e : group) {
        Fail(*e, s, v1::ReportEvent::KIND_APPLY_FAILED, v1::REJECT_APPLY_FAILED,
             result);
      }
      return;
    }
    for (Source source : sources) {
      switch (source) {
        case Source::kLocal:
          ++result.via_local;
          break;
        case Source::kInline:
          ++result.via_inline;
          break;
        case Source::kDelta:
          ++result.via_delta;
          break;
        case Source::kTreeDelta:
          ++result.via_delta;
          ++result.via_tree_delta;
          break;
        case Source::kFull:
          ++result.via_full_download;
          break;
      }
    }
    for (const auto& [k, r] : earlier) {
      Queue(Event(v1::ReportEvent::KIND_ACTIVATED, k, r.release_id,
                  v1::REJECT_REASON_UNSPECIFIED, r.version));
    }
    MarkInstalled(activated);
    for (size_t i = 0; i < group.size(); ++i) {
      const v1::UpdateEntry* e = group[i];
      const ModuleKey key{e->module().layer(), e->module().name()};
      v1::ReportEvent installed = Event(
          now ? v1::ReportEvent::KIND_ACTIVATED : v1::ReportEvent::KIND_APPLIED,
          key, e->release_id(), v1::REJECT_REASON_UNSPECIFIED,
          e->statement().version());
      // The traffic index: what this install downloaded, by network.
      for (v1::NetworkBytes& t : traffic[i]) *installed.add_traffic() = t;
      Queue(std::move(installed));
      result.installed.push_back(ToModule(key, RefOf(*e)));
      if (!now) result.staged.push_back(ToModule(key, RefOf(*e)));
    }
  }

  // A roll back to the version the app ships with: what was installed for
  // the module goes (its banned versions stay banned), the counter is
  // recorded so nothing older comes back. At once, whatever the layer's
  // activation point.
  void RevertToEmbedded(const v1::UpdateEntry& e, CheckResult& result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const ModuleKey key{e.module().layer(), e.module().name()};
    ClientState next = store->state();
    auto it = next.modules.find(key);
    const bool had =
        it != next.modules.end() &&
        (it->second.active.has_value() || it->second.staged.has_value());
    std::string from;
    if (had) {
      ModuleState& m = it->second;
      from = m.active ? m.active->version : m.staged->version;
      m.active.reset();
      m.staged.reset();
      m.good.reset();
      m.pending = false;
      absl::Status s = store->Commit(std::move(next));
      if (!s.ok()) {
        Fail(e,
             StorageFullError(s,
                              "recording the roll back to the embedded "
                              "version"),
             v1::ReportEvent::KIND_APPLY_FAILED, v1::REJECT_APPLY_FAILED,
             result);
        return;
      }
    }
    const VersionRef ref{std::string(kEmbeddedVersion),
                         e.statement().content_sha256(),
                         e.release_sequence(),
                         e.release_id(),
                         0,
                         false};
    MarkInstalled({{key, ref}});
    if (!had) return;  // it ran the embedded version already
    Queue(Event(v1::ReportEvent::KIND_ACTIVATED, key, e.release_id(),
                v1::REJECT_REASON_UNSPECIFIED,
                StrCat("embedded (rolled back from ", from, ")")));
    if (std::optional<InstalledModule> now = Active(key)) {
      result.reverted.push_back(*now);
    }
  }

  // Validates, authorizes, fetches and installs `entries` (one plan, or
  // one pushed entry); `trusted` is the trust policy's refresh of it.
  // Returns the blobs the entries want (content and patches).
  // Entries that may not be downloaded now go to `*waiting` (on_demand.cc)
  // and into result.pending.
  std::set<std::string> ApplyEntries(
      const google::protobuf::RepeatedPtrField<v1::UpdateEntry>& entries,
      const absl::Status& trusted, CheckResult& result,
      std::vector<v1::UpdateEntry>* waiting) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    // Valid entries, grouped by release (release id 0: each on its own).
    std::map<uint64_t, std::vector<const v1::UpdateEntry*>> groups;
    std::vector<std::vector<const v1::UpdateEntry*>> singles;
    // Releases with a member refused (its status) or rolled back here
    // (OK status): none of their other members is installed either.
    std::map<uint64_t, std::pair<const v1::UpdateEntry*, absl::Status>> blocked;
    auto block = [&](const v1::UpdateEntry& entry, const absl::Status& why) {
      if (entry.release_id() != 0) {
        blocked.try_emplace(entry.release_id(), &entry, why);
      }
    };
    // The entries as authorized: the signed facts in place of the
    // server's (a deque keeps the addresses the groups hold).
    std::deque<v1::UpdateEntry> authorized;
    const EntryCheckContext context{options.app_id, options.device.host_build,
                                    options.device.app_version, kSdkVersion,
                                    &store->state()};
    for (const v1::UpdateEntry& offered : entries) {
      absl::StatusOr<v1::UpdateEntry> admitted =
          AdmitEntry(offered, trusted, *trust, context);
      if (!admitted.ok()) {
        Fail(offered, admitted.status(), v1::ReportEvent::KIND_REJECTED,
             v1::REJECT_REASON_UNSPECIFIED, result);
        block(offered, admitted.status());
        continue;
      }
      authorized.push_back(*std::move(admitted));
      const v1::UpdateEntry& entry = authorized.back();
      const ModuleKey key{entry.module().layer(), entry.module().name()};
      if (auto b =
              store->state().blocked.find({key, entry.statement().version()});
          b != store->state().blocked.end() && !entry.revert_to_embedded()) {
        const absl::Status why =
            WithReason(absl::FailedPreconditionError(StrCat(
                           LayerName(static_cast<Layer>(key.first)), "/",
                           key.second, " ", entry.statement().version(),
                           " is blocked on this device by remedy ", b->second,
                           " (docs/remedies.md); not installed")),
                       v1::REJECT_BLOCKED_BY_REMEDY);
        Fail(entry, why, v1::ReportEvent::KIND_REJECTED,
             v1::REJECT_BLOCKED_BY_REMEDY, result);
        block(entry, why);
        continue;
      }
      if (entry.revert_to_embedded()) {
        RevertToEmbedded(entry, result);
        continue;
      }
      const std::string& sha = entry.statement().content_sha256();
      const auto it = store->state().modules.find(key);
      if (it != store->state().modules.end()) {
        const ModuleState& m = it->second;
        if (m.banned.count(sha) > 0) {
          // Rolled back on this device: never again, but say so.
          if (reported_banned.insert(sha).second) {
            Queue(Event(v1::ReportEvent::KIND_ROLLED_BACK, key,
                        entry.release_id(), v1::REJECT_REASON_UNSPECIFIED,
                        StrCat("version ", entry.statement().version(),
                               " was rolled back on this device after "
                               "unhealthy launches; not installed again")));
          }
          block(entry, absl::OkStatus());
          continue;
        }
        if ((m.active && m.active->sha256 == sha &&
             m.active->sequence == entry.release_sequence()) ||
            (m.staged && m.staged->sha256 == sha)) {
          continue;  // already there
        }
      }
      if (entry.release_id() == 0) {
        singles.push_back({&entry});
      } else {
        groups[entry.release_id()].push_back(&entry);
      }
    }
    for (auto it = groups.begin(); it != groups.end();) {
      const auto b = blocked.find(it->first);
      if (b == blocked.end()) {
        ++it;
        continue;
      }
      const auto& [member, why] = b->second;
      const std::string which =
          StrCat(LayerName(static_cast<Layer>(member->module().layer())), "/",
                 member->module().name(), " ", member->statement().version());
      for (const v1::UpdateEntry* e : it->second) {
        if (!why.ok()) {
          // Refused with the member's reason, as often as it is offered.
          Fail(*e,
               WithReason(absl::AbortedError(
                              StrCat("not installed: ", which,
                                     " of the same release was refused (",
                                     ToStd(why.message()), ")")),
                          ReasonOf(why, v1::REJECT_REASON_UNSPECIFIED)),
               v1::ReportEvent::KIND_REJECTED, v1::REJECT_REASON_UNSPECIFIED,
               result);
        } else if (reported_banned.insert(e->statement().content_sha256())
                       .second) {
          // Like the rolled-back member: skipped, reported once.
          Queue(Event(v1::ReportEvent::KIND_REJECTED,
                      {e->module().layer(), e->module().name()},
                      e->release_id(), v1::REJECT_REASON_UNSPECIFIED,
                      StrCat("version ", e->statement().version(),
                             " not installed: ", which,
                             " of the same release was rolled back on this "
                             "device")));
        }
      }
      it = groups.erase(it);
    }
    std::vector<v1::UpdateEntry> held;
    SplitPending(groups, singles, held);
    for (const v1::UpdateEntry& e : held) waiting->push_back(e);
    std::set<std::string> wanted;
    auto want = [&](const std::vector<const v1::UpdateEntry*>& group) {
      for (const v1::UpdateEntry* e : group) {
        wanted.insert(e->statement().content_sha256());
        for (const v1::DeltaRef& delta : e->deltas()) {
          wanted.insert(delta.patch().sha256());
        }
      }
    };
    for (const auto& [id, group] : groups) want(group);
    for (const auto& group : singles) want(group);
    // Partial downloads of waiting updates stay for their next try.
    for (const v1::UpdateEntry& e : *waiting) want({&e});
    for (const auto& [id, group] : groups) ApplyGroup(group, result);
    for (const auto& group : singles) ApplyGroup(group, result);
    // Described after the downloads, which the budget counts.
    for (const v1::UpdateEntry& e : held) result.pending.push_back(Describe(e));
    return wanted;
  }

  absl::StatusOr<size_t> FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    v1::ReportRequest header;
    *header.mutable_device() = ToProto(options.app_id, options.device);
    // The latest plan's ticket: the server counts the events only for
    // the releases it names.
    header.set_ticket(store->state().report_ticket);
    return outbox->Flush(header);
  }

  // Staged versions of `key` become active (H5/HCF open, or any launch).
  // The ACTIVATED event goes to `events`, queued by the caller once `next`
  // is committed.
  bool ActivateStaged(ClientState& next, const ModuleKey& key,
                      LaunchResult* launch,
                      std::vector<v1::ReportEvent>& events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    ModuleState& m = next.modules[key];
    if (!m.staged.has_value()) return false;
    const VersionRef staged = *m.staged;
    Activate(m, staged);
    next.unhealthy_launches = 0;  // counting starts after an activation
    events.push_back(Event(v1::ReportEvent::KIND_ACTIVATED, key,
                           staged.release_id, v1::REJECT_REASON_UNSPECIFIED,
                           staged.version));
    if (launch != nullptr) launch->activated.push_back(ToModule(key, staged));
    return true;
  }
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_CLIENT_IMPL_H_
