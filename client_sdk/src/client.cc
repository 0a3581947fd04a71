#include "strata/client/client.h"

#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "client_impl.h"
#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::client {
namespace {

constexpr std::string_view kLayerNames[] = {"",    "config",   "h5",
                                            "hcf", "hotpatch", "native"};

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

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->self = this;
}
Client::~Client() {
  StopConfigWatch();
  StopBackgroundSync();
  StopPrefetch();
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
  if (!options.server_url.empty() || options.http_client != nullptr) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Transport> http,
                            HttpTransportFor(options));
    return CreateWithTransport(std::move(options), std::move(http));
  }
  if (!GrpcTransportLinked()) {
    return absl::FailedPreconditionError(StrCat(
        "ClientOptions.server_url is empty, so the SDK would reach ",
        options.server_address,
        " over gRPC, but this program does not link the gRPC transport "
        "add-on: set server_url and http_client (the host's HTTP stack), "
        "or link strata::client_grpc"));
  }
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
  {
    auto metered = std::make_unique<MeteredTransport>(std::move(transport));
    metered->SetNetwork(impl->options.network);
    impl->metered = metered.get();
    impl->transport = std::move(metered);
  }
  const std::string opening =
      StrCat("opening the SDK's storage at ", impl->options.storage_dir);
  {
    // No other thread sees `impl` yet; the lock is for the analysis.
    MutexLock init(&impl->mu);
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
    impl->pending.emplace(PendingStore::Open(
        impl->env.fs, JoinPath(impl->options.storage_dir, "pending")));
    impl->ledger.emplace(TrafficLedger::Open(
        impl->env, JoinPath(impl->options.storage_dir, "traffic")));
  }
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
  MutexLock lock(&impl_->listeners_mu);
  const int id = impl_->next_listener++;
  impl_->listeners[id] = std::move(listener);
  return id;
}

void Client::RemoveConfigListener(int id) {
  MutexLock lock(&impl_->listeners_mu);
  impl_->listeners.erase(id);
}

absl::StatusOr<CheckResult> Client::Check() {
  const auto before = impl_->ConfigSnapshot();
  absl::StatusOr<CheckResult> r = CheckUnnotified();
  impl_->NotifyChanges(before, impl_->ConfigSnapshot());
  return r;
}

absl::StatusOr<CheckResult> Client::CheckUnnotified() {
  Impl& d = *impl_;
  MutexLock lock(&d.mu);
  (void)d.FlushLocked();  // earlier reports first; kept if this fails
  v1::CheckRequest request;
  *request.mutable_device() = ToProto(d.options.app_id, d.options.device);
  d.AddActive(/*config_only=*/false, *request.mutable_installed());
  *request.mutable_trusted() = d.trust->Trusted();
  request.set_accepts_tree_patches(true);
  STRATA_ASSIGN_OR_RETURN(v1::CheckResponse response,
                          d.transport->Check(request));
  const absl::Status trusted =
      d.trust->Refresh(response.metadata(), &response.plan());
  CheckResult result;
  std::vector<v1::UpdateEntry> waiting;
  const std::set<std::string> wanted =
      d.ApplyEntries(response.plan().updates(), trusted, result, &waiting);
  // Rules that came with this check (or match what it installed).
  result.remedies_applied = d.ApplyRemedies();
  // What waits is what this plan offers and did not install (best effort:
  // without the file the next check offers it again).
  if (absl::Status s = d.pending->Replace(std::move(waiting)); !s.ok()) {
    STRATA_LOG(Warning) << "pending downloads not recorded: " << s.ToString();
  }
  d.ledger->Save();
  d.WakePrefetcher();
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

absl::StatusOr<std::optional<std::string>> Client::GetConfig(
    std::string_view name) {
  MutexLock lock(&impl_->mu);
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
                                               std::string_view name,
                                               const OpenOptions& options) {
  Impl& d = *impl_;
  const ModuleKey key{static_cast<int>(layer), std::string(name)};
  // Config members of the release activated here are announced after the
  // lock is released.
  std::map<std::string, std::string> before, after;
  absl::StatusOr<std::string> path;
  {
    MutexLock lock(&d.mu);
    // A module a remedy disabled opens its embedded version, or nothing.
    if (std::optional<std::string> remedy = d.DisabledBy(key)) {
      return d.DisabledPath(key, *remedy);
    }
    // An on-demand module not on the device yet comes first (on_demand.cc).
    const bool fetch = !d.Active(key).has_value() && !d.Staged(key) &&
                       d.pending->Find(key) != nullptr;
    if (fetch) {
      before = d.ConfigSnapshotLocked();
      CheckResult fetched;
      STRATA_RETURN_IF_ERROR(d.InstallPending(key, &options, fetched));
      after = d.ConfigSnapshotLocked();
    }
    if (PointOf(key.first) == ActivationPoint::kOpenOrLaunch) {
      // The whole release of a staged version, unless one of its members
      // (a hotpatch or native bundle) waits for the next launch.
      const std::vector<ModuleKey> group = StagedGroup(d.store->state(), key);
      if (!group.empty() && GroupPoint(d.store->state(), group) ==
                                ActivationPoint::kOpenOrLaunch) {
        if (!fetch) before = d.ConfigSnapshotLocked();
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
  impl_->NotifyChanges(before, after);
  return path;
}

absl::StatusOr<std::string> Client::ModuleDir(Layer layer,
                                              std::string_view name) {
  MutexLock lock(&impl_->mu);
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
  Impl& d = *impl_;
  MutexLock lock(&d.mu);
  std::set<ModuleKey> keys;
  for (const auto& [key, m] : d.store->state().modules) keys.insert(key);
  for (const ModuleKey& key : d.store->ListEmbedded()) keys.insert(key);
  // The longest declared prefix of `url` wins.
  UrlResolution best;
  std::string best_prefix, best_dir;
  std::vector<std::string> disabled;  // modules a remedy took out
  for (const ModuleKey& key : keys) {
    if (PointOf(key.first) != ActivationPoint::kOpenOrLaunch) continue;
    if (std::optional<std::string> remedy = d.DisabledBy(key)) {
      disabled.push_back(StrCat(LayerName(static_cast<Layer>(key.first)), "/",
                                key.second, " (remedy ", *remedy, ")"));
      continue;
    }
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
    for (const std::string& m : disabled) {
      best.fallback_reason += StrCat("; disabled on this device: ", m);
    }
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
  MutexLock lock(&impl_->mu);
  return impl_->Active({static_cast<int>(layer), std::string(name)});
}

std::optional<InstalledModule> Client::Staged(Layer layer,
                                              std::string_view name) {
  MutexLock lock(&impl_->mu);
  const ModuleKey key{static_cast<int>(layer), std::string(name)};
  auto it = impl_->store->state().modules.find(key);
  if (it == impl_->store->state().modules.end() || !it->second.staged) {
    return std::nullopt;
  }
  return ToModule(key, *it->second.staged);
}

std::vector<InstalledModule> Client::AllActive() {
  MutexLock lock(&impl_->mu);
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
  MutexLock lock(&impl_->mu);
  std::vector<InstalledModule> out;
  for (const auto& [key, m] : impl_->store->state().modules) {
    if (m.active) out.push_back(ToModule(key, *m.active));
  }
  return out;
}

absl::Status Client::VerifyInstalled() {
  MutexLock lock(&impl_->mu);
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

// The path is fixed when Create opens the store, so no lock.
std::string Client::UserDataDir() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return impl_->store->UserDataDir();
}

absl::StatusOr<size_t> Client::FlushReports() {
  MutexLock lock(&impl_->mu);
  return impl_->FlushLocked();
}

size_t Client::PendingReports() {
  MutexLock lock(&impl_->mu);
  return impl_->outbox->Pending();
}

}  // namespace strata::client
