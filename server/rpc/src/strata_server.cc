#include "strata/server/rpc/strata_server.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "services.h"
#include "strata/base/file_util.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/server/core/online_keys.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/http/admin_api_handler.h"
#include "strata/server/http/blob_handler.h"
#include "strata/server/http/console_handler.h"
#include "strata/server/http/delivery_handler.h"
#include "strata/server/storage/object_store.h"
#include "strata/server/storage/postgres_store.h"
#include "strata/signing/self_signed_tls.h"

namespace strata::server {

struct StrataServer::Impl {
  std::unique_ptr<Store> store;
  Metrics metrics;
  std::unique_ptr<AuthCore> auth_core;
  std::unique_ptr<OnlineKeys> online_keys;
  std::unique_ptr<TrustRepo> trust;
  std::unique_ptr<AdminCore> admin_core;
  std::unique_ptr<DeltaCache> deltas;
  std::unique_ptr<DeliveryCore> delivery_core;
  std::unique_ptr<AdminService> admin_service;
  std::unique_ptr<DeliveryService> delivery_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<HttpServer> http;
  int port = 0;
  // The health gates' thread and the online roles' re-signing thread.
  std::thread gates;
  std::thread trust_refresh;
  std::thread report_prune;
  Mutex gates_mu;
  CondVar gates_cv;
  bool stopping ABSL_GUARDED_BY(gates_mu) = false;
  // Runs `fn` every `every` until stopped.
  std::thread Every(absl::Duration every, std::function<void()> fn) {
    return std::thread([this, every, fn = std::move(fn)] {
      MutexLock lock(&gates_mu);
      const auto period = absl::ToChronoMilliseconds(every);
      for (;;) {
        // As wait_for with a predicate: `period` from now, unless stopped.
        const auto deadline = std::chrono::steady_clock::now() + period;
        while (!stopping) {
          if (gates_cv.WaitWithDeadline(&gates_mu, deadline)) break;
        }
        if (stopping) return;
        gates_mu.Unlock();
        fn();
        gates_mu.Lock();
      }
    });
  }
  // Sizes of what devices can make the server hold, as gauges.
  void UpdateGauges() {
    const ReleaseSnapshots& snapshots = delivery_core->snapshots();
    FleetObserver* fleet = admin_core->fleet();
    const std::pair<const char*, size_t> sizes[] = {
        {"release_snapshots", snapshots.cached()},
        {"known_apps", snapshots.known()},
        {"fleet_apps", fleet->apps()},
        {"fleet_devices", fleet->devices()},
        {"report_limiter_devices", delivery_service->rate_limiter_keys(true)},
        {"report_limiter_connections",
         delivery_service->rate_limiter_keys(false)},
        {"watched_apps", delivery_core->config_watch().apps()},
    };
    for (const auto& [cache, n] : sizes) {
      metrics.SetGauge("strata_cache_entries", StrCat("cache=\"", cache, "\""),
                       static_cast<int64_t>(n));
    }
    metrics.SetGauge(
        "strata_config_watch_streams_open", "",
        static_cast<int64_t>(delivery_service->watch_streams_open()));
    // Since start: streams told of a change of their app, and their
    // evaluations (a change wakes only the streams of its app).
    ConfigWatchHub& watch = delivery_core->config_watch();
    metrics.SetGauge("strata_config_watch_wakes", "",
                     static_cast<int64_t>(watch.wakes()));
    metrics.SetGauge("strata_config_watch_evaluations", "",
                     static_cast<int64_t>(watch.evaluations()));
    metrics.SetGauge("strata_delta_queue_length", "",
                     static_cast<int64_t>(deltas->queued()));
  }

  // One retention pass: deletes the reports past the horizon and counts
  // them in strata_reports_pruned_total.
  absl::Status PruneReports(uint64_t* reports_out = nullptr) {
    absl::StatusOr<std::pair<uint64_t, uint64_t>> n =
        delivery_core->PruneReports();
    if (!n.ok()) return n.status();
    if (n->first > 0) {
      metrics.Increment("strata_reports_pruned_total", "", n->first);
      metrics.Increment("strata_report_events_pruned_total", "", n->second);
    }
    if (reports_out != nullptr) *reports_out = n->first;
    return absl::OkStatus();
  }
  // This process among replicas (the gates lease's holder name).
  std::string replica_id;
  // One pass of the health gates. With replicas (a shared store) only the
  // holder of the "gates" lease runs it, renewing the lease each pass, and
  // its writes are fenced by the lease's epoch. Returns false on a replica
  // that does not lead.
  absl::StatusOr<bool> GatePass(absl::Duration lease_ttl) {
    STRATA_ASSIGN_OR_RETURN(
        const uint64_t epoch,
        store->AcquireLease("gates", replica_id, lease_ttl));
    metrics.SetGauge("strata_gate_leader", "", epoch != 0 ? 1 : 0);
    if (epoch == 0) return false;
    if (store->shared()) {
      // Judged on the reports every replica took, not only this one's.
      STRATA_RETURN_IF_ERROR(admin_core->releases().RefreshHealth());
    }
    STRATA_RETURN_IF_ERROR(store->Fenced("gates", replica_id, epoch, [&] {
      return admin_core->releases().Tick().status();
    }));
    // Replicas: the leader also collects orphaned blob chunks (uploads
    // never committed, content deleted) now and then; the store's grace
    // period spares uploads still under way.
    if (store->shared() && clock != nullptr &&
        clock->Now() - last_collect >= absl::Minutes(10)) {
      last_collect = clock->Now();
      absl::StatusOr<GarbageReport> g = store->CollectGarbage();
      if (!g.ok()) {
        STRATA_LOG(Error) << "collecting orphaned blob chunks: " << g.status();
      } else if (g->chunks_removed > 0) {
        STRATA_LOG(Info) << "removed " << g->chunks_removed
                         << " orphaned blob chunks";
      }
    }
    return true;
  }
  Clock* clock = nullptr;
  absl::Time last_collect = absl::InfinitePast();
  void StopGates() {
    {
      MutexLock lock(&gates_mu);
      stopping = true;
    }
    gates_cv.SignalAll();
    if (gates.joinable()) gates.join();
    if (trust_refresh.joinable()) trust_refresh.join();
    if (report_prune.joinable()) report_prune.join();
  }
};

StrataServer::StrataServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

StrataServer::~StrataServer() { Shutdown(absl::ZeroDuration()); }

namespace {

std::string DbDir(const std::string& data_dir) {
  return JoinPath(data_dir, "db");
}

// The store `metadata` names: RocksDB in the data directory, or a shared
// PostgreSQL database.
absl::StatusOr<std::unique_ptr<Store>> OpenMetadata(
    const std::string& data_dir, const std::string& metadata,
    const StoreOptions& options = {}, const std::string& blobs = "") {
  if (metadata.empty() && !blobs.empty()) {
    return absl::InvalidArgumentError(
        "--blobs needs --metadata postgresql://...: the embedded RocksDB "
        "keeps its blobs itself");
  }
  if (metadata.empty()) return Store::Open(DbDir(data_dir), options);
  if (!IsPostgresUrl(metadata)) {
    return absl::InvalidArgumentError(
        StrCat("--metadata '", metadata,
               "' is not a PostgreSQL URL (postgresql://user@host1,host2/db); "
               "leave it out for the embedded RocksDB"));
  }
  PostgresStoreOptions pg;
  STRATA_ASSIGN_OR_RETURN(pg.blobs, OpenBlobs(blobs));
  return OpenPostgresStore(metadata, pg);
}

// `pem` (optional) gets the certificate chain and key when TLS is on.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerOptions& options, FileSystem& fs, std::string* serving,
    grpc::SslServerCredentialsOptions::PemKeyCertPair* pem = nullptr) {
  std::string cert_file = options.tls_cert_file;
  std::string key_file = options.tls_key_file;
  if (cert_file.empty() && key_file.empty()) {
    // What `stratad init --tls-self-signed` wrote, if anything.
    const std::string dir = TlsDir(options.data_dir);
    const std::string cert = JoinPath(dir, "server.pem");
    const std::string key = JoinPath(dir, "server.key");
    const bool have_cert = fs.Exists(cert);
    const bool have_key = fs.Exists(key);
    if (have_cert != have_key) {
      return absl::FailedPreconditionError(
          StrCat(dir, " holds ",
                 have_cert ? "server.pem but no server.key"
                           : "server.key but no server.pem",
                 "; restore the missing file, or pass --tls-cert and "
                 "--tls-key"));
    }
    if (!have_cert) {
      *serving = "plaintext";
      return grpc::InsecureServerCredentials();
    }
    cert_file = cert;
    key_file = key;
    STRATA_LOG(Info) << "serving gRPC over TLS with " << cert << " and " << key
                     << " (`stratad init --tls-self-signed`); clients "
                     << "trust " << JoinPath(dir, "ca.pem");
  }
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls-cert and --tls-key");
  }
  *serving = StrCat("TLS, certificate ", cert_file);
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  STRATA_ASSIGN_OR_RETURN(pair.cert_chain, fs.ReadFile(cert_file));
  STRATA_ASSIGN_OR_RETURN(pair.private_key, fs.ReadFile(key_file));
  if (pem != nullptr) *pem = pair;
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(ssl);
}

DeliveryLimits DeliveryLimitsOf(const ServerOptions& options) {
  DeliveryLimits limits;
  limits.report_per_device.per_second = options.report_rate_per_device;
  limits.report_per_device.burst = options.report_burst_per_device;
  limits.report_per_device.max_keys = options.rate_limit_max_keys;
  limits.report_per_connection.per_second = options.report_rate_per_connection;
  limits.report_per_connection.burst = options.report_burst_per_connection;
  limits.report_per_connection.max_keys = options.rate_limit_max_keys;
  limits.watch_streams.max_total = options.max_watch_streams;
  limits.watch_streams.max_per_key = options.max_watch_streams_per_device;
  limits.max_reports_in_flight = options.max_reports_in_flight;
  return limits;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StrataServer>> StrataServer::Start(
    const ServerOptions& options, Env env) {
  if (options.report_retention <= DeliveryOptions{}.plan_lifetime) {
    return absl::InvalidArgumentError(StrCat(
        "--report-retention ", absl::FormatDuration(options.report_retention),
        " must be longer than a plan's lifetime (",
        absl::FormatDuration(DeliveryOptions{}.plan_lifetime),
        "): a replayed event whose id was pruned must carry an "
        "expired ticket"));
  }
  auto impl = std::make_unique<Impl>();
  impl->clock = env.clock;
  // Never a fresh, empty database from a mistyped --data-dir: `stratad
  // init` (or `restore`) makes the database, serving only opens it.
  if (options.metadata.empty() &&
      !env.fs->Exists(JoinPath(DbDir(options.data_dir), "CURRENT"))) {
    return absl::FailedPreconditionError(StrCat(
        options.data_dir,
        " is not an initialized stratad data directory (no database in ",
        DbDir(options.data_dir), "); run `stratad init --data-dir ",
        options.data_dir,
        "` first (--tls-self-signed for TLS to try it), restore a backup "
        "there (`stratad restore --from DIR --data-dir ",
        options.data_dir, "`), or check --data-dir for a typo"));
  }
  StoreOptions store_options;
  store_options.env = options.storage_env;
  STRATA_ASSIGN_OR_RETURN(impl->store,
                          OpenMetadata(options.data_dir, options.metadata,
                                       store_options, options.blobs));
  if (!options.metadata.empty()) {
    // Never serve an empty database from a mistyped URL either.
    STRATA_ASSIGN_OR_RETURN(const bool initialized, impl->store->HasAnyToken());
    if (!initialized) {
      return absl::FailedPreconditionError(
          "the --metadata database holds no Strata data (no token); run "
          "`stratad init --metadata URL` once for the cluster, or check the "
          "URL for a typo");
    }
  }
  // Chunks of uploads cut by a crash are referenced by nothing: drop them
  // before any new upload starts.
  STRATA_ASSIGN_OR_RETURN(GarbageReport garbage, impl->store->CollectGarbage());
  if (garbage.chunks_removed > 0) {
    STRATA_LOG(Info) << "removed " << garbage.chunks_removed
                     << " orphaned blob chunks of interrupted uploads";
  }
  impl->auth_core = std::make_unique<AuthCore>(impl->store.get(), env);
  const std::string keys_dir =
      OnlineKeysDir(options.data_dir, options.online_keys_dir);
  absl::StatusOr<std::unique_ptr<OnlineKeys>> keys =
      OnlineKeys::Open(env.fs, keys_dir);
  if (!keys.ok()) return Annotate(keys.status(), "loading the online keys");
  impl->online_keys = *std::move(keys);
  if (impl->online_keys->List().empty()) {
    STRATA_LOG(Warning) << "no online keys in " << keys_dir
                        << ": no app can install a root of trust until "
                           "`stratad init` or GenerateOnlineKeys makes them";
  }
  TrustRepoOptions trust_options;
  trust_options.timestamp_expiry = options.timestamp_expiry;
  trust_options.director_expiry = options.timestamp_expiry;
  impl->trust = std::make_unique<TrustRepo>(
      impl->store.get(), env.clock, impl->online_keys.get(), trust_options);
  AdminLimits limits;
  limits.require_signatures = !options.allow_unsigned_publishes;
  impl->admin_core = std::make_unique<AdminCore>(impl->store.get(), env.clock,
                                                 limits, impl->trust.get());
  STRATA_RETURN_IF_ERROR(impl->admin_core->LoadTrust());
  // Yanked content that nothing references any more (e.g. kept by a
  // release rolled back before a restart).
  STRATA_RETURN_IF_ERROR(impl->admin_core->artifacts().CollectYanked(""));
  // Online metadata that expired while the server was down is re-signed
  // before the first Check.
  if (absl::StatusOr<int> n = impl->trust->RefreshExpiring(); !n.ok()) {
    STRATA_LOG(Error) << "re-signing online metadata: " << n.status();
  }
  if (options.allow_unsigned_publishes) {
    STRATA_LOG(Warning)
        << "accepting unsigned publishes (--allow-unsigned-publishes): "
           "for development only";
  }
  DeltaOptions delta_options;
  delta_options.previous_versions = options.delta_previous_versions;
  delta_options.max_queued = options.max_delta_queue;
  delta_options.max_tree_size = options.max_tree_delta_mib << 20;
  impl->deltas = std::make_unique<DeltaCache>(impl->store.get(), &impl->metrics,
                                              delta_options);
  DeliveryOptions delivery_options;
  delivery_options.report_retention = options.report_retention;
  delivery_options.random = env.random;
  impl->delivery_core = std::make_unique<DeliveryCore>(
      impl->store.get(), env.clock, delivery_options, impl->deltas.get(),
      impl->admin_core->fleet(), impl->trust.get());
  impl->trust->SetTargetsInUse([delivery = impl->delivery_core.get()](
                                   const std::string& app) {
    absl::StatusOr<std::set<std::string>> names = delivery->TargetsInUse(app);
    if (!names.ok()) {
      STRATA_LOG(Error) << "live releases of app " << app << ": "
                        << names.status();
      return std::set<std::string>();
    }
    return *std::move(names);
  });
  STRATA_RETURN_IF_ERROR(Annotate(impl->admin_core->releases().LoadHealth(),
                                  "rebuilding release health"));
  // Apps with trust get their snapshot (and a director for what changed
  // while the server was down) before the first Check.
  for (const std::string& app : impl->trust->Apps()) {
    impl->delivery_core->ReleasesChanged(app);
  }
  impl->admin_core->OnPublished(
      [deltas = impl->deltas.get()](const v1::ArtifactStatement& st) {
        deltas->OnPublished(st);
      });
  impl->admin_core->OnReleasesChanged(
      [delivery = impl->delivery_core.get()](const std::string& app) {
        delivery->ReleasesChanged(app);
      });
  if (impl->store->shared()) {
    // Another replica changed the app: reload its trust (the files that
    // replica signed and stored), rebuild its snapshot and wake its
    // WatchConfig streams here too. (Both are rebuilt from the store, so
    // a change missed while the database was away is caught up by
    // sequence.)
    STRATA_RETURN_IF_ERROR(impl->store->StartChangeFeed(
        [delivery = impl->delivery_core.get(),
         trust = impl->trust.get()](const StoreChange& change) {
          if (change.app_id.empty()) return;
          if (absl::Status s = trust->Reload(change.app_id); !s.ok()) {
            STRATA_LOG(Error)
                << "reloading the trust of app " << change.app_id << ": " << s;
          }
          delivery->ReleasesChanged(change.app_id);
        }));
  }
  impl->admin_service = std::make_unique<AdminService>(
      impl->admin_core.get(), impl->auth_core.get(), &impl->metrics);
  impl->delivery_service = std::make_unique<DeliveryService>(
      impl->delivery_core.get(), &impl->metrics);
  impl->delivery_service->SetLimits(env.clock, DeliveryLimitsOf(options));

  std::string serving;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pem;
  STRATA_ASSIGN_OR_RETURN(auto credentials,
                          Credentials(options, *env.fs, &serving, &pem));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, credentials, &impl->port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_idle)));
  // Many streams (docs/benchmarks.md, WatchConfig at fleet scale): gRPC
  // 1.51 advertises no MAX_CONCURRENT_STREAMS per connection (HTTP/2's
  // unlimited default) and gives the server no memory quota, so nothing is
  // raised here: 100,000 WatchConfig streams over 1,000 connections open
  // with these defaults. The bound is --max-watch-streams (memory, about
  // 20 KiB a stream) and --max-watch-streams-per-device. Keepalive pings
  // are per connection, not per stream.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  builder.RegisterService(impl->admin_service.get());
  builder.RegisterService(impl->delivery_service.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(
        StrCat("could not listen on ", options.listen_address,
               "; is the port in use? pass another with --listen"));
  }
  if (!options.http_address.empty()) {
    HttpServerOptions http = options.http;
    if (options.http_tls) {
      if (pem.cert_chain.empty()) {
        return absl::FailedPreconditionError(
            "--http-tls serves the gRPC port's certificate, and gRPC is "
            "plaintext: pass --tls-cert and --tls-key, or run `stratad init "
            "--tls-self-signed`");
      }
      http.tls_cert_pem = pem.cert_chain;
      http.tls_key_pem = pem.private_key;
    }
    HttpRouter router;
    AddBlobRoutes(router, impl->store.get(), &impl->metrics, impl->trust.get(),
                  std::make_shared<BlobCache>(impl->store.get(),
                                              options.http_cache_bytes));
    AddDeliveryRoutes(router, impl->delivery_service.get());
    // The release console and the Admin API as JSON, served by the real
    // gRPC service in-process (docs/console.md), unless turned off.
    if (options.http_console) {
      AddConsoleRoutes(router);
      AddAdminApiRoutes(router, InProcessAdminCalls(impl->server.get(),
                                                    options.max_message_bytes));
    }
    HttpHandler handler = std::move(router).AsHandler();
    STRATA_ASSIGN_OR_RETURN(
        impl->http, HttpServer::Start(
                        options.http_address,
                        [raw = impl.get(),
                         handler = std::move(handler)](const HttpRequest& req) {
                          if (req.path == "/metrics") raw->UpdateGauges();
                          return handler(req);
                        },
                        std::move(http)));
  }
  impl->server->GetHealthCheckService()->SetServingStatus(true);
  Impl* raw = impl.get();
  if (options.gate_interval > absl::ZeroDuration()) {
    char host[256] = {};
    (void)::gethostname(host, sizeof(host) - 1);
    raw->replica_id =
        StrCat(host, "/", ::getpid(), "/", absl::ToUnixNanos(env.clock->Now()));
    // Renewed every pass, so well inside its life.
    const absl::Duration lease_ttl =
        std::max(3 * options.gate_interval, absl::Seconds(1));
    raw->gates = raw->Every(options.gate_interval, [raw, lease_ttl] {
      absl::StatusOr<bool> d = raw->GatePass(lease_ttl);
      if (!d.ok()) {
        STRATA_LOG(Error) << "health gates: " << d.status();
        raw->metrics.Increment("strata_gate_passes_total", "result=\"error\"");
      } else if (!*d) {
        // Another replica leads the gates.
        raw->metrics.Increment("strata_gate_passes_total",
                               "result=\"standby\"");
      } else {
        // Operators (and tests against the binary) see that the gates run.
        raw->metrics.Increment("strata_gate_passes_total", "result=\"ok\"");
      }
    });
  }
  if (options.trust_refresh_interval > absl::ZeroDuration()) {
    raw->trust_refresh = raw->Every(options.trust_refresh_interval, [raw] {
      absl::StatusOr<int> n = raw->trust->RefreshExpiring();
      if (!n.ok()) STRATA_LOG(Error) << "online metadata: " << n.status();
    });
  }
  if (options.report_prune_interval > absl::ZeroDuration()) {
    raw->report_prune = raw->Every(options.report_prune_interval, [raw] {
      if (absl::Status s = raw->PruneReports(); !s.ok()) {
        STRATA_LOG(Error) << "pruning old reports: " << s;
      }
    });
  }
  STRATA_LOG(Info) << "stratad serving gRPC on port " << impl->port << " ("
                   << serving << ")"
                   << (impl->http
                           ? StrCat(", HTTP", impl->http->tls() ? "S" : "",
                                    " on port ", impl->http->port())
                           : "")
                   << ", data in " << options.data_dir;
  if (serving == "plaintext") {
    STRATA_LOG(Warning)
        << "gRPC is plaintext: admin tokens and device traffic travel in the "
           "clear, and clients must pass --plaintext (loopback only); use "
           "--tls-cert/--tls-key or `stratad init --tls-self-signed`";
  }
  return std::unique_ptr<StrataServer>(new StrataServer(std::move(impl)));
}

int StrataServer::port() const { return impl_->port; }
int StrataServer::http_port() const {
  return impl_->http ? impl_->http->port() : 0;
}

absl::StatusOr<int> StrataServer::RunGatesNow() {
  STRATA_ASSIGN_OR_RETURN(std::vector<rollout::GateDecision> d,
                          impl_->admin_core->releases().Tick());
  return static_cast<int>(d.size());
}

absl::StatusOr<int> StrataServer::RunTrustRefreshNow() {
  return impl_->trust->RefreshExpiring();
}

absl::StatusOr<uint64_t> StrataServer::RunReportPruneNow() {
  uint64_t n = 0;
  STRATA_RETURN_IF_ERROR(impl_->PruneReports(&n));
  return n;
}

void StrataServer::Shutdown(absl::Duration grace) {
  impl_->StopGates();
  // Other replicas' changes stop arriving before the cores go.
  if (impl_->store) impl_->store->StopChangeFeed();
  if (!impl_->server) return;
  impl_->server->GetHealthCheckService()->SetServingStatus(false);
  // WatchConfig streams never end by themselves: ending them now lets the
  // grace period serve only calls that finish, and tells devices to
  // reconnect (to another replica, or to this one once it is back).
  impl_->delivery_core->config_watch().Shutdown(absl::UnavailableError(
      "stratad is stopping; reconnect with backoff (another replica, or "
      "this one once it is back)"));
  impl_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  // The HTTP port's Admin JSON API calls this server in-process: the port
  // stops (its calls now refused by the shut-down server) before it goes.
  if (impl_->http) impl_->http->Shutdown(grace);
  impl_->server->Wait();
  impl_->server.reset();
}

void StrataServer::Wait() {
  if (impl_->server) impl_->server->Wait();
}

std::string OnlineKeysDir(const std::string& data_dir,
                          const std::string& online_keys_dir) {
  return online_keys_dir.empty() ? JoinPath(data_dir, "online-keys")
                                 : online_keys_dir;
}

absl::Status InitializeDataDir(const std::string& data_dir,
                               const std::string& token_file, Env env,
                               const std::string& online_keys_dir,
                               const std::string& metadata) {
  STRATA_RETURN_IF_ERROR(
      Annotate(CreateDirs(*env.fs, data_dir), "creating the data directory"));
  if (env.fs->Exists(token_file)) {
    return absl::AlreadyExistsError(
        StrCat(token_file, " already exists; not overwriting a token file"));
  }
  std::unique_ptr<Store> store;
  if (!metadata.empty()) {
    // Checked before any key is made: a second init of a cluster is a
    // mistake for a new replica, which needs none.
    STRATA_ASSIGN_OR_RETURN(store, OpenMetadata(data_dir, metadata));
    STRATA_ASSIGN_OR_RETURN(const bool initialized, store->HasAnyToken());
    if (initialized) {
      return absl::AlreadyExistsError(
          "the --metadata database is initialized already (it holds "
          "tokens); a new replica needs no init: start it with the same "
          "--metadata and a copy of the cluster's online keys "
          "(--online-keys-dir)");
    }
  }
  STRATA_RETURN_IF_ERROR(Annotate(
      OnlineKeys::Initialize(env.fs, OnlineKeysDir(data_dir, online_keys_dir)),
      "making the online keys"));
  if (store == nullptr) {
    STRATA_ASSIGN_OR_RETURN(store, OpenMetadata(data_dir, metadata));
  }
  AuthCore auth(store.get(), env);
  STRATA_ASSIGN_OR_RETURN(std::string token, auth.CreateFirstAdminToken());
  // Written 0600 before it holds the secret, then published atomically.
  const std::string tmp = token_file + ".tmp";
  {
    STRATA_ASSIGN_OR_RETURN(auto f, env.fs->NewWritableFile(tmp));
    STRATA_RETURN_IF_ERROR(env.fs->SetPermissions(tmp, 0600));
    STRATA_RETURN_IF_ERROR(f->Append(token + "\n"));
    STRATA_RETURN_IF_ERROR(f->Sync());
    STRATA_RETURN_IF_ERROR(f->Close());
  }
  STRATA_RETURN_IF_ERROR(env.fs->Rename(tmp, token_file));
  return env.fs->SyncDir(Dirname(token_file));
}

std::string TlsDir(const std::string& data_dir) {
  return JoinPath(data_dir, "tls");
}

absl::Status InitializeSelfSignedTls(const std::string& data_dir,
                                     const std::vector<std::string>& hosts,
                                     Env env) {
  const std::string dir = TlsDir(data_dir);
  for (const char* name : {"server.pem", "server.key"}) {
    if (env.fs->Exists(JoinPath(dir, name))) {
      return absl::AlreadyExistsError(
          StrCat(JoinPath(dir, name),
                 " already exists; not replacing the server's TLS files"));
    }
  }
  signing::SelfSignedTlsOptions options;
  options.hosts = hosts;
  options.now = env.clock->Now();
  STRATA_ASSIGN_OR_RETURN(signing::SelfSignedTls tls,
                          signing::GenerateSelfSignedTls(options));
  STRATA_RETURN_IF_ERROR(
      Annotate(CreateDirs(*env.fs, dir), "creating the TLS directory"));
  STRATA_RETURN_IF_ERROR(env.fs->SetPermissions(dir, 0700));
  // The key: 0600 before it holds the secret, then published atomically.
  const std::string key = JoinPath(dir, "server.key");
  const std::string tmp = key + ".tmp";
  {
    STRATA_ASSIGN_OR_RETURN(auto f, env.fs->NewWritableFile(tmp));
    STRATA_RETURN_IF_ERROR(env.fs->SetPermissions(tmp, 0600));
    STRATA_RETURN_IF_ERROR(f->Append(tls.server_key_pem));
    STRATA_RETURN_IF_ERROR(f->Sync());
    STRATA_RETURN_IF_ERROR(f->Close());
  }
  STRATA_RETURN_IF_ERROR(env.fs->Rename(tmp, key));
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(
      *env.fs, JoinPath(dir, "server.pem"), tls.server_cert_pem));
  STRATA_RETURN_IF_ERROR(
      WriteFileAtomically(*env.fs, JoinPath(dir, "ca.pem"), tls.ca_cert_pem));
  return env.fs->SyncDir(dir);
}

absl::Status RestoreDataDir(const std::string& backup_dir,
                            const std::string& data_dir, Env env) {
  if (env.fs->Exists(DbDir(data_dir))) {
    return absl::FailedPreconditionError(StrCat(
        data_dir,
        " already holds a database; restore into an empty data directory"));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> files,
                          env.fs->ListDir(backup_dir));
  if (std::find(files.begin(), files.end(), "CURRENT") == files.end()) {
    return absl::InvalidArgumentError(StrCat(
        backup_dir, " is not a stratad backup (no RocksDB CURRENT file)"));
  }
  // Copy into a temp directory, check it opens, then rename into place.
  const std::string staging = JoinPath(data_dir, "db.restoring");
  STRATA_RETURN_IF_ERROR(DeleteRecursively(*env.fs, staging));
  STRATA_RETURN_IF_ERROR(CreateDirs(*env.fs, staging));
  for (const std::string& name : files) {
    STRATA_ASSIGN_OR_RETURN(std::string data,
                            env.fs->ReadFile(JoinPath(backup_dir, name)));
    STRATA_ASSIGN_OR_RETURN(auto f,
                            env.fs->NewWritableFile(JoinPath(staging, name)));
    STRATA_RETURN_IF_ERROR(f->Append(data));
    STRATA_RETURN_IF_ERROR(f->Sync());
    STRATA_RETURN_IF_ERROR(f->Close());
  }
  STRATA_RETURN_IF_ERROR(env.fs->SyncDir(staging));
  {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Store> check, Store::Open(staging));
  }
  STRATA_RETURN_IF_ERROR(env.fs->Rename(staging, DbDir(data_dir)));
  return env.fs->SyncDir(data_dir);
}

}  // namespace strata::server
