#include "strata/client/client.h"

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "activation.h"
#include "client_state.h"
#include "content_fetcher.h"
#include "entry_check.h"
#include "module_store.h"
#include "reject.h"
#include "report_outbox.h"
#include "report_queue.h"
#include "storage_full.h"
#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/log.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "transport.h"
#include "tree_store.h"
#include "trust_policy.h"
#include "url_map.h"

namespace strata::client {
namespace {

constexpr std::string_view kLayerNames[] = {"",    "config",   "h5",
                                            "hcf", "hotpatch", "native"};
constexpr std::string_view kSdkVersion = "0.3.0";

v1::DeviceContext ToProto(const std::string& app_id, const DeviceInfo& d) {
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

InstalledModule ToModule(const ModuleKey& key, const VersionRef& r) {
  return InstalledModule{static_cast<Layer>(key.first),
                         key.second,
                         r.version,
                         r.sha256,
                         r.sequence,
                         r.release_id};
}

VersionRef RefOf(const v1::UpdateEntry& e) {
  return VersionRef{e.statement().version(), e.statement().content_sha256(),
                    e.release_sequence(), e.release_id()};
}

// A stream that lived this long was healthy: the next reconnect waits only
// the initial backoff.
constexpr absl::Duration kHealthyStream = absl::Seconds(10);
// Backoff waits are slept in slices this long, so a stop is seen soon.
constexpr absl::Duration kSleepSlice = absl::Milliseconds(50);

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

void SetReleaseIds(v1::ReportEvent& e, const std::vector<uint64_t>& ids) {
  for (uint64_t id : ids) e.add_release_ids(id);
}

}  // namespace

std::string_view LayerName(Layer layer) {
  const int n = static_cast<int>(layer);
  return n >= 1 && n <= 5 ? kLayerNames[n] : std::string_view("unknown");
}

std::optional<Layer> ParseLayer(std::string_view name) {
  for (int i = 1; i <= 5; ++i) {
    if (kLayerNames[i] == name) return static_cast<Layer>(i);
  }
  return std::nullopt;
}

struct Client::Impl {
  ClientOptions options;
  Env env;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<TrustPolicy> trust;
  std::optional<ModuleStore> store;
  std::optional<ReportQueue> reports;
  std::set<std::string> reported_banned;  // once per client lifetime
  // Reports to the server: the queue above and what it could not take.
  std::optional<ReportOutbox> outbox;
  std::mutex mu;  // one operation at a time
  std::thread sync_thread;
  std::atomic<bool> sync_stop{false};
  std::atomic<uint64_t> sync_checks{0};
  std::mutex listeners_mu;
  std::map<int, ConfigListener> listeners;
  int next_listener = 1;
  Client* self = nullptr;  // for GetConfig() when notifying listeners
  // Config watch: Start/Stop under watch_life_mu; stats under watch_mu.
  std::mutex watch_life_mu;
  std::thread watch_thread;
  std::atomic<bool> watch_stop{false};
  StreamCancel watch_cancel;
  mutable std::mutex watch_mu;
  ConfigWatchStats watch_stats;
  // URL prefixes declared by each unpacked tree, by archive SHA-256.
  std::map<std::string, std::vector<std::string>> url_prefixes;

  // Every active module (installed or embedded), as the server sees them.
  void AddActive(bool config_only,
                 google::protobuf::RepeatedPtrField<v1::InstalledModule>& out) {
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

  // One pushed entry, installed exactly as a check would install it.
  // `*refreshed` receives the trust policy's refresh with the event's
  // metadata.
  ConfigPush HandlePush(const v1::ConfigEvent& event, absl::Status* refreshed) {
    const v1::UpdateEntry& entry = event.entry();
    ConfigPush push{entry.module().name(),
                    entry.statement().version(),
                    entry.release_id(),
                    entry.release_sequence(),
                    false,
                    std::nullopt};
    const auto before = ConfigSnapshot();
    CheckResult result;
    {
      std::lock_guard<std::mutex> lock(mu);
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
        (void)ApplyEntries(pushed, *refreshed, result);
      }
    }
    NotifyConfigChanges(
        *self, before, ConfigSnapshot(),
        [&](const std::string& n, const std::optional<std::string>& c) {
          Notify(n, c);
        });
    push.installed = !result.installed.empty();
    if (!result.failure_details.empty()) {
      push.failure = result.failure_details.front();
    }
    {
      std::lock_guard<std::mutex> lock(watch_mu);
      ++watch_stats.pushes;
      if (push.installed) ++watch_stats.installed;
      if (push.failure.has_value()) ++watch_stats.failed;
    }
    return push;
  }

  // Sleeps `d` on the Env's clock, in slices; false if stopped meanwhile.
  bool WatchSleep(absl::Duration d) {
    const absl::Time until = env.clock->Now() + d;
    while (!watch_stop) {
      const absl::Duration left = until - env.clock->Now();
      if (left <= absl::ZeroDuration()) return true;
      env.clock->SleepFor(std::min(left, kSleepSlice));
    }
    return false;
  }

  void WatchLoop(const ConfigWatchOptions& o) {
    absl::Duration backoff = o.initial_backoff;
    while (!watch_stop) {
      v1::WatchConfigRequest request;
      {
        std::lock_guard<std::mutex> lock(mu);
        *request.mutable_device() = ToProto(options.app_id, options.device);
        AddActive(/*config_only=*/true, *request.mutable_installed());
        *request.mutable_trusted() = trust->Trusted();
      }
      {
        std::lock_guard<std::mutex> lock(watch_mu);
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
              return absl::FailedPreconditionError(StrCat(
                  "pushed metadata refused (", ToStd(refreshed.message()),
                  "); reopening the stream from the trusted versions"));
            }
            delivered = true;
            return absl::OkStatus();
          });
      if (watch_stop) break;
      {
        std::lock_guard<std::mutex> lock(watch_mu);
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

  void Notify(const std::string& name,
              const std::optional<std::string>& content) {
    std::map<int, ConfigListener> copy;
    {
      std::lock_guard<std::mutex> lock(listeners_mu);
      copy = listeners;
    }
    for (const auto& [id, fn] : copy) fn(name, content);
  }

  // Active CONFIG content hashes by module name (installed or embedded).
  std::map<std::string, std::string> ConfigSnapshot() {
    std::lock_guard<std::mutex> lock(mu);
    return ConfigSnapshotLocked();
  }
  std::map<std::string, std::string> ConfigSnapshotLocked() {
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
                        std::string detail) {
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
  void Queue(v1::ReportEvent e) { outbox->Queue(std::move(e)); }

  // The active version: installed, else embedded.
  std::optional<InstalledModule> Active(const ModuleKey& key) {
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
  std::optional<std::string> ActivePath(const ModuleKey& key) {
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
                            uint64_t* bytes) {
    const ModuleKey key{entry.module().layer(), entry.module().name()};
    std::optional<DeltaBase> base;
    std::optional<InstalledModule> active = Active(key);
    std::optional<std::string> active_path = ActivePath(key);
    if (active.has_value() && active_path.has_value()) {
      base = DeltaBase{active->content_sha256, *active_path};
    }
    ContentFetcher fetcher(env, &*store, transport.get(),
                           options.disk_budget_bytes);
    return fetcher.Fetch(
        entry, base, source, bytes,
        [&](const v1::DeltaRef& d, const absl::Status& s) {
          Queue(Event(
              v1::ReportEvent::KIND_APPLY_FAILED, key, entry.release_id(),
              v1::REJECT_DELTA_OUTPUT_MISMATCH,
              StrCat("delta from ", d.from_sha256(), " failed (",
                     ToStd(s.message()), "); fell back to the full download")));
        });
  }

  TreeStore Trees() { return TreeStore(env.fs, store->TreesDir()); }

  // An H5/HCF entry whose (fetched, verified) content is a tree archive is
  // unpacked before it is staged, sharing unchanged files with the active
  // version's tree (tree_store.h).
  absl::Status UnpackIfTree(const v1::UpdateEntry& e) {
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
  absl::StatusOr<std::optional<std::string>> ActiveTreeDir(
      const ModuleKey& key) {
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
                                             const std::string& dir) {
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
      const std::set<ModuleKey>& skip = {}) {
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
      const std::vector<std::pair<ModuleKey, VersionRef>>& activated) {
    for (const auto& [k, r] : activated) {
      (void)trust->MarkInstalled(k.first, k.second, r.sequence);
    }
  }

  void Fail(const v1::UpdateEntry& entry, const absl::Status& s,
            v1::ReportEvent::Kind kind, v1::RejectReason fallback,
            CheckResult& result) {
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
                  CheckResult& result) {
    std::vector<Source> sources(group.size(), Source::kLocal);
    for (size_t i = 0; i < group.size(); ++i) {
      absl::Status s =
          FetchContent(*group[i], &sources[i], &result.bytes_downloaded);
      if (s.ok()) s = UnpackIfTree(*group[i]);
      if (s.ok()) continue;
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
    const bool now = GroupPoint(members) == ActivationPoint::kAtOnce;
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
    for (const v1::UpdateEntry* e : group) {
      const ModuleKey key{e->module().layer(), e->module().name()};
      Queue(Event(
          now ? v1::ReportEvent::KIND_ACTIVATED : v1::ReportEvent::KIND_APPLIED,
          key, e->release_id(), v1::REJECT_REASON_UNSPECIFIED,
          e->statement().version()));
      result.installed.push_back(ToModule(key, RefOf(*e)));
      if (!now) result.staged.push_back(ToModule(key, RefOf(*e)));
    }
  }

  // A roll back to the version the app ships with: what was installed for
  // the module goes (its banned versions stay banned), the counter is
  // recorded so nothing older comes back. At once, whatever the layer's
  // activation point.
  void RevertToEmbedded(const v1::UpdateEntry& e, CheckResult& result) {
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
                         e.statement().content_sha256(), e.release_sequence(),
                         e.release_id()};
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
  std::set<std::string> ApplyEntries(
      const google::protobuf::RepeatedPtrField<v1::UpdateEntry>& entries,
      const absl::Status& trusted, CheckResult& result) {
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
    for (const auto& [id, group] : groups) ApplyGroup(group, result);
    for (const auto& group : singles) ApplyGroup(group, result);
    return wanted;
  }

  absl::StatusOr<size_t> FlushLocked() {
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
                      std::vector<v1::ReportEvent>& events) {
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

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->self = this;
}
Client::~Client() {
  StopConfigWatch();
  StopBackgroundSync();
}

absl::Status Client::StartConfigWatch(ConfigWatchOptions options) {
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(
        "config watch backoffs: initial_backoff must be positive and "
        "max_backoff at least initial_backoff");
  }
  std::lock_guard<std::mutex> life(impl_->watch_life_mu);
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
    std::lock_guard<std::mutex> lock(impl_->watch_mu);
    impl_->watch_stats.running = true;
  }
  impl_->watch_thread = std::thread(
      [impl = impl_.get(), o = std::move(options)] { impl->WatchLoop(o); });
  return absl::OkStatus();
}

void Client::StopConfigWatch() {
  std::lock_guard<std::mutex> life(impl_->watch_life_mu);
  impl_->watch_stop = true;
  impl_->watch_cancel.Cancel();
  if (impl_->watch_thread.get_id() == std::this_thread::get_id()) {
    return;  // from a listener or on_push: the thread ends after it returns
  }
  if (impl_->watch_thread.joinable()) impl_->watch_thread.join();
  std::lock_guard<std::mutex> lock(impl_->watch_mu);
  impl_->watch_stats.running = false;
}

ConfigWatchStats Client::ConfigWatchStatus() const {
  std::lock_guard<std::mutex> lock(impl_->watch_mu);
  return impl_->watch_stats;
}

absl::Status Client::StartBackgroundSync(absl::Duration interval) {
  if (interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "background sync interval must be positive");
  }
  if (impl_->sync_thread.joinable()) {
    return absl::FailedPreconditionError(
        "background sync is already running; call StopBackgroundSync() "
        "first");
  }
  impl_->sync_stop = false;
  impl_->sync_thread = std::thread([this, interval] {
    while (!impl_->sync_stop) {
      (void)Check();  // failures are reported or retried next time
      ++impl_->sync_checks;
      // Sleep in slices so that a stop is noticed soon.
      const absl::Time until = impl_->env.clock->Now() + interval;
      while (!impl_->sync_stop) {
        const absl::Duration left = until - impl_->env.clock->Now();
        if (left <= absl::ZeroDuration()) break;
        impl_->env.clock->SleepFor(std::min(left, absl::Milliseconds(100)));
      }
    }
  });
  return absl::OkStatus();
}

void Client::StopBackgroundSync() {
  impl_->sync_stop = true;
  if (impl_->sync_thread.joinable()) impl_->sync_thread.join();
}

uint64_t Client::BackgroundChecks() const { return impl_->sync_checks; }

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  TransportSecurity security;
  security.ca_pem = options.tls_ca_pem;
  security.server_cert_pem = options.tls_server_cert_pem;
  security.plaintext = options.insecure_plaintext_to_loopback_for_tests;
  absl::StatusOr<std::unique_ptr<Transport>> transport =
      NewGrpcTransport(options.server_address, security);
  if (!transport.ok()) return transport.status();
  return CreateWithTransport(std::move(options), *std::move(transport));
}

absl::StatusOr<std::unique_ptr<Client>> Client::CreateWithTransport(
    ClientOptions options, std::unique_ptr<Transport> transport) {
  return CreateWithSeams(std::move(options), std::move(transport), nullptr);
}

absl::StatusOr<std::unique_ptr<Client>> Client::CreateWithSeams(
    ClientOptions options, std::unique_ptr<Transport> transport,
    std::unique_ptr<TrustPolicy> trust) {
  if (options.app_id.empty()) {
    return absl::InvalidArgumentError("ClientOptions.app_id is empty");
  }
  if (options.device.device_id.empty()) {
    return absl::InvalidArgumentError(
        "ClientOptions.device.device_id is empty");
  }
  if (options.storage_dir.empty()) {
    return absl::InvalidArgumentError(
        "ClientOptions.storage_dir is empty; give the SDK a private directory");
  }
  if (options.unhealthy_launch_limit < 1) {
    return absl::InvalidArgumentError(
        "ClientOptions.unhealthy_launch_limit must be at least 1");
  }
  if (trust == nullptr && options.pinned_root_json.empty() &&
      !options.insecure_skip_signature_verification_for_tests) {
    return absl::InvalidArgumentError(
        "ClientOptions.pinned_root_json is empty: every update is verified "
        "against the app's root of trust; ship the root.json that `strata "
        "trust init` writes with the app and pass its content (only tests "
        "may set ClientOptions.insecure_skip_signature_verification_for_"
        "tests instead)");
  }
  if (!options.metadata_base_url.empty() &&
      options.metadata_base_url.rfind("http://", 0) != 0) {
    return absl::InvalidArgumentError(
        StrCat("ClientOptions.metadata_base_url '", options.metadata_base_url,
               "' is not an http:// URL (e.g. http://host:8080/v1/tuf/",
               options.app_id, ")"));
  }
  auto impl = std::make_unique<Impl>();
  impl->env = options.env.value_or(Env::Default());
  impl->options = std::move(options);
  impl->transport = std::move(transport);
  const std::string opening =
      StrCat("opening the SDK's storage at ", impl->options.storage_dir);
  absl::StatusOr<ModuleStore> store = ModuleStore::Open(
      impl->env.fs, impl->options.storage_dir, impl->options.embedded_dir);
  if (!store.ok()) return StorageFullError(store.status(), opening);
  impl->store.emplace(*std::move(store));
  absl::StatusOr<ReportQueue> reports =
      ReportQueue::Open(impl->env.fs, impl->store->ReportsDir(),
                        /*max_events=*/1000, impl->env.random);
  if (!reports.ok()) return StorageFullError(reports.status(), opening);
  impl->reports.emplace(*std::move(reports));
  impl->outbox.emplace(&*impl->reports, impl->transport.get());
  if (trust != nullptr) {
    impl->trust = std::move(trust);
  } else if (!impl->options.pinned_root_json.empty()) {
    // A pinned root always verifies, whatever the insecure option says.
    TufTrustOptions t;
    t.pinned_root_json = impl->options.pinned_root_json;
    t.state_dir = JoinPath(impl->options.storage_dir, "trust");
    t.app_id = impl->options.app_id;
    t.device = ToProto(impl->options.app_id, impl->options.device);
    t.metadata_base_url = impl->options.metadata_base_url;
    STRATA_ASSIGN_OR_RETURN(impl->trust,
                            NewTufTrustPolicy(impl->env, std::move(t)));
  } else {
    STRATA_LOG(Warning)
        << "INSECURE: Strata client for app " << impl->options.app_id
        << " created with insecure_skip_signature_verification_for_tests: "
           "updates are installed without verifying any signature";
    impl->trust = NewInsecureTrustPolicy();
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

int Client::AddConfigListener(ConfigListener listener) {
  std::lock_guard<std::mutex> lock(impl_->listeners_mu);
  const int id = impl_->next_listener++;
  impl_->listeners[id] = std::move(listener);
  return id;
}

void Client::RemoveConfigListener(int id) {
  std::lock_guard<std::mutex> lock(impl_->listeners_mu);
  impl_->listeners.erase(id);
}

absl::StatusOr<CheckResult> Client::Check() {
  const auto before = impl_->ConfigSnapshot();
  absl::StatusOr<CheckResult> r = CheckUnnotified();
  NotifyConfigChanges(
      *this, before, impl_->ConfigSnapshot(),
      [&](const std::string& n, const std::optional<std::string>& c) {
        impl_->Notify(n, c);
      });
  return r;
}

absl::StatusOr<LaunchResult> Client::BeginLaunch() {
  const auto before = impl_->ConfigSnapshot();
  absl::StatusOr<LaunchResult> r = BeginLaunchUnnotified();
  NotifyConfigChanges(
      *this, before, impl_->ConfigSnapshot(),
      [&](const std::string& n, const std::optional<std::string>& c) {
        impl_->Notify(n, c);
      });
  return r;
}

absl::StatusOr<CheckResult> Client::CheckUnnotified() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& d = *impl_;
  (void)d.FlushLocked();  // earlier reports first; kept if this fails
  v1::CheckRequest request;
  *request.mutable_device() = ToProto(d.options.app_id, d.options.device);
  d.AddActive(/*config_only=*/false, *request.mutable_installed());
  *request.mutable_trusted() = d.trust->Trusted();
  STRATA_ASSIGN_OR_RETURN(v1::CheckResponse response,
                          d.transport->Check(request));
  const absl::Status trusted =
      d.trust->Refresh(response.metadata(), &response.plan());
  CheckResult result;
  const std::set<std::string> wanted =
      d.ApplyEntries(response.plan().updates(), trusted, result);
  // Fetched but unused blobs and stale staging files go; partial downloads
  // of this plan stay for the next try.
  (void)d.store->CollectGarbage(wanted);
  // The verified plan's report ticket, for this and later reports (best
  // effort: without it reports are kept but not counted).
  const std::string& ticket = response.plan().report_ticket();
  if (trusted.ok() && !ticket.empty() &&
      ticket != d.store->state().report_ticket) {
    ClientState next = d.store->state();
    next.report_ticket = ticket;
    (void)d.store->Commit(std::move(next));
  }
  (void)d.FlushLocked();
  return result;
}

absl::StatusOr<LaunchResult> Client::BeginLaunchUnnotified() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& d = *impl_;
  ClientState next = d.store->state();
  LaunchResult result;
  // Every event describes `next`: queued only once it is committed, so a
  // crash before the commit never reports what did not happen.
  std::vector<v1::ReportEvent> events;
  const int limit = d.options.unhealthy_launch_limit;
  if (next.launch_in_progress) {
    ++next.unhealthy_launches;
    // The previous launch ran what is active now, before any rollback.
    v1::ReportEvent crash =
        d.Event(v1::ReportEvent::KIND_LAUNCH_CRASH, {0, ""}, 0,
                v1::REJECT_REASON_UNSPECIFIED,
                StrCat("previous launch was not marked healthy (",
                       next.unhealthy_launches, " in a row)"));
    SetReleaseIds(crash, ActiveReleaseIds(next));
    events.push_back(std::move(crash));
  }
  result.unhealthy_launches = next.unhealthy_launches;
  if (next.unhealthy_launches >= limit) {
    bool any_pending = false;
    for (auto& [key, m] : next.modules) {
      if (!m.pending) continue;
      any_pending = true;
      const std::optional<VersionRef> bad = m.active;
      if (bad.has_value()) m.banned.insert(bad->sha256);
      m.active = m.good;
      m.good.reset();
      m.pending = false;
      if (m.staged.has_value() && m.banned.count(m.staged->sha256)) {
        m.staged.reset();
      }
      std::optional<InstalledModule> now;
      if (m.active.has_value()) {
        now = ToModule(key, *m.active);
      } else if (auto e = d.store->FindEmbedded(key.first, key.second)) {
        now = InstalledModule{static_cast<Layer>(key.first),
                              key.second,
                              std::string(kEmbeddedVersion),
                              e->sha256,
                              0,
                              0};
      }
      if (now.has_value()) result.rolled_back.push_back(*now);
      if (bad.has_value()) result.bad_versions.push_back(ToModule(key, *bad));
      events.push_back(d.Event(
          v1::ReportEvent::KIND_ROLLED_BACK, key,
          bad.has_value() ? bad->release_id : 0, v1::REJECT_REASON_UNSPECIFIED,
          StrCat(limit, " unhealthy launches after activating ",
                 bad.has_value() ? bad->version : "?", "; back to ",
                 m.active.has_value() ? m.active->version
                                      : std::string(kEmbeddedVersion))));
    }
    if (any_pending) {
      next.rolled_back_since_healthy = true;
      next.unhealthy_launches = 0;
    } else if (next.rolled_back_since_healthy ||
               next.unhealthy_launches >= 2 * limit) {
      // Still failing: every module back to what the app shipped with.
      bool any = false;
      for (auto& [key, m] : next.modules) {
        if (m.active.has_value()) m.banned.insert(m.active->sha256);
        if (m.staged.has_value()) m.banned.insert(m.staged->sha256);
        if (m.active.has_value() || m.staged.has_value()) {
          any = true;
          events.push_back(d.Event(v1::ReportEvent::KIND_ROLLED_BACK, key,
                                   m.active ? m.active->release_id : 0,
                                   v1::REJECT_REASON_UNSPECIFIED,
                                   "launches keep failing; reset to the "
                                   "embedded version"));
        }
        m.active.reset();
        m.staged.reset();
        m.good.reset();
        m.pending = false;
      }
      result.reset_to_embedded = any;
      next.rolled_back_since_healthy = false;
      next.unhealthy_launches = 0;
    }
  }
  std::vector<ModuleKey> staged;
  for (const auto& [key, m] : next.modules) {
    if (m.staged.has_value()) staged.push_back(key);
  }
  const auto damaged = DropDamagedStaged(*d.store, next, staged);
  for (auto& [key, m] : next.modules) {
    if (m.staged.has_value()) d.ActivateStaged(next, key, &result, events);
  }
  next.launch_in_progress = true;
  STRATA_RETURN_IF_ERROR(StorageFullError(
      d.store->Commit(std::move(next)), "recording the launch",
      "the launch runs the active versions, nothing was activated or "
      "rolled back"));
  for (const v1::ReportEvent& e : events) d.Queue(e);
  d.ReportDamaged(damaged);
  std::vector<std::pair<ModuleKey, VersionRef>> activated;
  for (const InstalledModule& m : result.activated) {
    activated.push_back({{static_cast<int>(m.layer), m.name},
                         VersionRef{m.version, m.content_sha256,
                                    m.release_sequence, m.release_id}});
  }
  d.MarkInstalled(activated);
  return result;
}

absl::Status Client::MarkLaunchHealthy() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& d = *impl_;
  ClientState next = d.store->state();
  if (!next.launch_in_progress) {
    return absl::FailedPreconditionError(
        "MarkLaunchHealthy() without BeginLaunch(); call BeginLaunch() early "
        "in every app start");
  }
  next.launch_in_progress = false;
  next.unhealthy_launches = 0;
  next.rolled_back_since_healthy = false;
  for (auto& [key, m] : next.modules) {
    if (!m.pending) continue;
    m.pending = false;
    m.good.reset();  // the new version is now the known good one
  }
  v1::ReportEvent ok = d.Event(v1::ReportEvent::KIND_LAUNCH_OK, {0, ""}, 0,
                               v1::REJECT_REASON_UNSPECIFIED, "");
  SetReleaseIds(ok, ActiveReleaseIds(next));
  // Queued only once the healthy state is on disk: a crash before the
  // commit must not report a healthy launch that was never recorded.
  STRATA_RETURN_IF_ERROR(StorageFullError(d.store->Commit(std::move(next)),
                                          "recording the healthy launch"));
  d.Queue(ok);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Client::GetConfig(
    std::string_view name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const ModuleKey key{v1::LAYER_CONFIG, std::string(name)};
  auto it = impl_->store->state().modules.find(key);
  if (it != impl_->store->state().modules.end() && it->second.active) {
    STRATA_ASSIGN_OR_RETURN(std::string content,
                            impl_->store->ReadBlob(it->second.active->sha256));
    return content;
  }
  std::optional<ModuleStore::Embedded> e =
      impl_->store->FindEmbedded(v1::LAYER_CONFIG, name);
  if (!e.has_value()) return std::nullopt;
  STRATA_ASSIGN_OR_RETURN(std::string content,
                          impl_->env.fs->ReadFile(e->path));
  return content;
}

namespace {

absl::StatusOr<Json> ConfigMember(Client& client, std::string_view name,
                                  std::string_view key) {
  STRATA_ASSIGN_OR_RETURN(std::optional<std::string> doc,
                          client.GetConfig(name));
  if (!doc.has_value()) {
    return absl::NotFoundError(
        StrCat("config module ", name, " is neither installed nor embedded"));
  }
  absl::StatusOr<Json> json = Json::Parse(*doc);
  if (!json.ok() || !json->is_object()) {
    return absl::InvalidArgumentError(
        StrCat("config module ", name,
               " is not a JSON object (integers only); read it with "
               "GetConfig()"));
  }
  const Json* member = json->Find(key);
  if (member == nullptr) {
    return absl::NotFoundError(
        StrCat("config module ", name, " has no member '", key, "'"));
  }
  return *member;
}

absl::Status WrongType(std::string_view name, std::string_view key,
                       const Json& j, std::string_view want) {
  return absl::InvalidArgumentError(StrCat("config ", name, ".", key, " is ",
                                           JsonTypeName(j.type()), ", not ",
                                           want));
}

}  // namespace

absl::StatusOr<std::string> Client::GetConfigString(std::string_view name,
                                                    std::string_view key) {
  STRATA_ASSIGN_OR_RETURN(Json j, ConfigMember(*this, name, key));
  if (!j.is_string()) return WrongType(name, key, j, "string");
  return j.as_string();
}

absl::StatusOr<int64_t> Client::GetConfigInt(std::string_view name,
                                             std::string_view key) {
  STRATA_ASSIGN_OR_RETURN(Json j, ConfigMember(*this, name, key));
  if (!j.is_int()) return WrongType(name, key, j, "integer");
  return j.as_int();
}

absl::StatusOr<bool> Client::GetConfigBool(std::string_view name,
                                           std::string_view key) {
  STRATA_ASSIGN_OR_RETURN(Json j, ConfigMember(*this, name, key));
  if (!j.is_bool()) return WrongType(name, key, j, "boolean");
  return j.as_bool();
}

absl::StatusOr<std::string> Client::OpenModule(Layer layer,
                                               std::string_view name) {
  Impl& d = *impl_;
  const ModuleKey key{static_cast<int>(layer), std::string(name)};
  // Config members of the release activated here are announced after the
  // lock is released.
  std::map<std::string, std::string> before, after;
  absl::StatusOr<std::string> path;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    if (PointOf(key.first) == ActivationPoint::kOpenOrLaunch) {
      // The whole release of a staged version, unless one of its members
      // (a hotpatch or native bundle) waits for the next launch.
      const std::vector<ModuleKey> group = StagedGroup(d.store->state(), key);
      if (!group.empty() &&
          GroupPoint(group) == ActivationPoint::kOpenOrLaunch) {
        before = d.ConfigSnapshotLocked();
        ClientState next = d.store->state();
        const auto damaged = DropDamagedStaged(*d.store, next, group);
        // Reports are queued only once the switch is on disk.
        std::vector<std::pair<ModuleKey, VersionRef>> activated;
        if (damaged.empty()) {
          for (const ModuleKey& k : group) {
            const VersionRef staged = *next.modules[k].staged;
            Activate(next.modules[k], staged);
            activated.emplace_back(k, staged);
          }
          next.unhealthy_launches = 0;  // counting starts after activation
        }
        absl::Status committed = d.store->Commit(std::move(next));
        if (IsStorageFull(committed)) {
          // The active version opens; the staged one activates at the
          // next open or launch with space to record it.
          STRATA_LOG(Warning)
              << StorageFullError(
                     committed,
                     StrCat("activating ", LayerName(layer), "/", name))
                     .ToString()
              << "; opening the active version";
          activated.clear();
        } else {
          STRATA_RETURN_IF_ERROR(committed);
          d.ReportDamaged(damaged);
        }
        for (const auto& [k, r] : activated) {
          d.Queue(d.Event(v1::ReportEvent::KIND_ACTIVATED, k, r.release_id,
                          v1::REJECT_REASON_UNSPECIFIED, r.version));
        }
        d.MarkInstalled(activated);
        after = d.ConfigSnapshotLocked();
      }
    }
    absl::StatusOr<std::optional<std::string>> tree = d.ActiveTreeDir(key);
    if (!tree.ok()) return tree.status();
    std::optional<std::string> active =
        tree->has_value() ? *tree : d.ActivePath(key);
    if (active.has_value()) {
      path = *std::move(active);
    } else {
      path = absl::NotFoundError(StrCat("module ", LayerName(layer), "/", name,
                                        " is neither installed nor embedded"));
    }
  }
  NotifyConfigChanges(
      *this, before, after,
      [&](const std::string& n, const std::optional<std::string>& c) {
        d.Notify(n, c);
      });
  return path;
}

absl::StatusOr<std::string> Client::ModuleDir(Layer layer,
                                              std::string_view name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const ModuleKey key{static_cast<int>(layer), std::string(name)};
  const std::string which = StrCat(LayerName(layer), "/", name);
  if (PointOf(key.first) != ActivationPoint::kOpenOrLaunch) {
    return absl::FailedPreconditionError(
        StrCat("module ", which,
               ": only H5 and HCF content is unpacked as a tree; use "
               "OpenModule() for the content file"));
  }
  STRATA_ASSIGN_OR_RETURN(std::optional<std::string> dir,
                          impl_->ActiveTreeDir(key));
  if (dir.has_value()) return *std::move(dir);
  if (!impl_->Active(key).has_value()) {
    return absl::NotFoundError(
        StrCat("module ", which, " is neither installed nor embedded"));
  }
  return absl::FailedPreconditionError(
      StrCat("module ", which,
             " is not a tree (its content is not a ustar archive); publish "
             "it with `strata publish --dir`, or use OpenModule() for the "
             "file"));
}

absl::StatusOr<Client::UrlResolution> Client::ResolveUrl(std::string_view url) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& d = *impl_;
  std::set<ModuleKey> keys;
  for (const auto& [key, m] : d.store->state().modules) keys.insert(key);
  for (const ModuleKey& key : d.store->ListEmbedded()) keys.insert(key);
  // The longest declared prefix of `url` wins.
  UrlResolution best;
  std::string best_prefix, best_dir;
  for (const ModuleKey& key : keys) {
    if (PointOf(key.first) != ActivationPoint::kOpenOrLaunch) continue;
    absl::StatusOr<std::optional<std::string>> dir = d.ActiveTreeDir(key);
    if (!dir.ok()) {
      STRATA_LOG(Warning) << "ResolveUrl: " << LayerDirName(key.first) << "/"
                          << key.second << ": " << dir.status().ToString();
      continue;
    }
    if (!dir->has_value()) continue;
    const std::optional<InstalledModule> active = d.Active(key);
    for (const std::string& prefix :
         d.PrefixesOf(active->content_sha256, **dir)) {
      if (!UrlHasPrefix(url, prefix) || prefix.size() <= best_prefix.size()) {
        continue;
      }
      best_prefix = prefix;
      best_dir = **dir;
      best.layer = static_cast<Layer>(key.first);
      best.module = key.second;
      best.version = active->version;
    }
  }
  if (best_prefix.empty()) {
    best.fallback_reason =
        StrCat("no active H5/HCF tree declares a URL prefix of ", url,
               " in its ", kPackageFile, "; load it from the network");
    return best;
  }
  STRATA_ASSIGN_OR_RETURN(std::string rel,
                          TreePathOfUrl(url.substr(best_prefix.size())));
  std::string file = JoinPath(best_dir, rel);
  absl::StatusOr<FileInfo> info = d.env.fs->Stat(file);
  if (info.ok() && info->is_directory) {
    file = JoinPath(file, "index.html");
    info = d.env.fs->Stat(file);
  }
  if (!info.ok() || info->is_directory) {
    best.fallback_reason = StrCat(
        LayerName(best.layer), "/", best.module, " ", best.version, " serves ",
        best_prefix, " but has no file ", rel, "; load it from the network");
    return best;
  }
  best.offline = true;
  best.path = std::move(file);
  return best;
}

std::optional<InstalledModule> Client::Installed(Layer layer,
                                                 std::string_view name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->Active({static_cast<int>(layer), std::string(name)});
}

std::optional<InstalledModule> Client::Staged(Layer layer,
                                              std::string_view name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const ModuleKey key{static_cast<int>(layer), std::string(name)};
  auto it = impl_->store->state().modules.find(key);
  if (it == impl_->store->state().modules.end() || !it->second.staged) {
    return std::nullopt;
  }
  return ToModule(key, *it->second.staged);
}

std::vector<InstalledModule> Client::AllActive() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::set<ModuleKey> keys;
  for (const auto& [key, m] : impl_->store->state().modules) keys.insert(key);
  for (const ModuleKey& key : impl_->store->ListEmbedded()) keys.insert(key);
  std::vector<InstalledModule> out;
  for (const ModuleKey& key : keys) {
    if (std::optional<InstalledModule> a = impl_->Active(key)) {
      out.push_back(*std::move(a));
    }
  }
  return out;
}

std::vector<InstalledModule> Client::AllInstalled() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<InstalledModule> out;
  for (const auto& [key, m] : impl_->store->state().modules) {
    if (m.active) out.push_back(ToModule(key, *m.active));
  }
  return out;
}

absl::Status Client::VerifyInstalled() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const auto& [key, m] : impl_->store->state().modules) {
    for (const auto* r : {&m.active, &m.staged, &m.good}) {
      if (!r->has_value()) continue;
      absl::Status s = impl_->store->VerifyBlob((*r)->sha256);
      if (s.ok()) {
        // An unpacked tree, file by file against its archive.
        s = impl_->Trees().Verify((*r)->sha256,
                                  impl_->store->BlobPath((*r)->sha256));
      }
      if (!s.ok()) {
        return absl::DataLossError(StrCat("module ", LayerDirName(key.first),
                                          "/", key.second, " ", (*r)->version,
                                          ": ", ToStd(s.message())));
      }
    }
  }
  return absl::OkStatus();
}

std::string Client::UserDataDir() const { return impl_->store->UserDataDir(); }

absl::StatusOr<size_t> Client::FlushReports() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->FlushLocked();
}

size_t Client::PendingReports() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->outbox->Pending();
}

}  // namespace strata::client
