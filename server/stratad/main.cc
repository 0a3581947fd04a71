// stratad: the Strata publishing and delivery server.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "strata/base/file_util.h"
#include "strata/base/log.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/server/storage/migrate.h"
#include "strata/server/storage/postgres_store.h"
#include "strata/signing/self_signed_tls.h"

namespace {

int Fail(const absl::Status& s) {
  std::cerr << "stratad: " << s.message() << "\n";
  return absl::IsInvalidArgument(s) ? 2 : 1;
}

int Serve(const strata::server::ServerOptions& options,
          const std::string& port_file) {
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Each HTTP connection and gRPC stream holds a descriptor: the soft
  // limit (often 1024) goes up to the hard one.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 &&
      files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  if (options.http.max_connections + 1000 >
      static_cast<int64_t>(files.rlim_cur)) {
    STRATA_LOG(Warning) << "--http-max-connections "
                        << options.http.max_connections
                        << " is near the open-file limit " << files.rlim_cur
                        << "; raise it (ulimit -n) or lower the flag";
  }
  auto server = strata::server::StrataServer::Start(options);
  if (!server.ok()) return Fail(server.status());
  if (!port_file.empty()) {
    std::string ports = std::to_string((*server)->port()) + "\n";
    if ((*server)->http_port() != 0)
      ports += std::to_string((*server)->http_port()) + "\n";
    absl::Status s = strata::WriteFileAtomically(*strata::PosixFileSystem(),
                                                 port_file, ports);
    if (!s.ok()) return Fail(s);
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  STRATA_LOG(Info) << "signal " << sig << ": shutting down";
  (*server)->Shutdown(absl::Seconds(5));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, so by default every absl::Mutex
  // (all of gRPC's locks) keeps a lock-order graph to detect deadlocks, a
  // cost on every call (docs/benchmarks.md, Check). Off, as in release
  // builds of Abseil.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  strata::server::ServerOptions options;
  std::string port_file;
  CLI::App app{
      "stratad - the Strata server: stores artifacts, releases, tokens and "
      "the\n"
      "audit log in an embedded RocksDB (or, shared by several replicas,\n"
      "in PostgreSQL: --metadata postgresql://...); serves the Delivery\n"
      "and Admin gRPC services, the standard gRPC health service, and\n"
      "blobs and /metrics over HTTP.\n\n"
      "Examples:\n"
      "  stratad init --data-dir /var/lib/strata     # first admin token\n"
      "  stratad --data-dir /var/lib/strata --listen 0.0.0.0:7443 \\\n"
      "      --tls-cert server.pem --tls-key server.key\n"
      "  stratad init --data-dir ./strata-data --tls-self-signed   # trying "
      "it\n"
      "  stratad --data-dir ./strata-data    # TLS from ./strata-data/tls\n"
      "  stratad restore --from /backups/b1 --data-dir /var/lib/strata-new\n\n"
      "Serving needs a data directory `stratad init` (or `restore`) made:\n"
      "an uninitialized or mistyped --data-dir is refused, nothing created.\n\n"
      "TLS: gRPC (admin tokens, device checks and downloads) is served over\n"
      "TLS with --tls-cert/--tls-key, else with <data-dir>/tls/server.pem and\n"
      "server.key when `stratad init --tls-self-signed` made them, else in\n"
      "plaintext (clients then need --plaintext, which they allow only to\n"
      "loopback addresses). The HTTP port (blobs, TUF metadata, /metrics)\n"
      "is plain HTTP (what it serves is signed or public) unless --http-tls\n"
      "puts it on TLS with the same certificate and key.\n\n"
      "Stops cleanly on SIGINT or SIGTERM."};
  app.set_version_flag("--version",
#ifdef STRATA_VERSION
                       std::string("stratad ") + STRATA_VERSION,
#else
                       "stratad (unknown version)",
#endif
                       "print the version and exit");
  app.fallthrough();  // --data-dir and friends may follow a subcommand
  app.add_option("--data-dir", options.data_dir, "where the database lives")
      ->capture_default_str();
  app.add_option(
      "--metadata", options.metadata,
      "where the metadata lives: empty for the embedded RocksDB in "
      "<data-dir>/db, or a PostgreSQL URL shared by several stratad "
      "replicas, e.g. postgresql://strata@db1:5432,db2:5432/strata (hosts "
      "tried in order; the read-write one is used, so a promoted standby "
      "is found). `stratad init --metadata URL` once per cluster; every "
      "replica needs the same online keys (--online-keys-dir)");
  app.add_option(
      "--blobs", options.blobs,
      "where blob chunks live with --metadata postgresql://...: empty for "
      "the database itself, or an S3-compatible bucket, e.g. "
      "s3://strata-blobs?endpoint=http://10.0.0.5:9000 (add &region=R; "
      "without endpoint, AWS S3 in the region). Credentials come from "
      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN). "
      "Every replica needs the same --blobs");
  app.add_option("--listen", options.listen_address,
                 "host:port for gRPC; port 0 picks a free one")
      ->capture_default_str();
  app.add_option(
         "--http", options.http_address,
         "host:port for blobs and /metrics over HTTP; empty turns it off")
      ->capture_default_str();
  app.add_flag("--http-tls", options.http_tls,
               "serve the HTTP port over TLS (HTTP/2 and HTTP/1.1 by ALPN) "
               "with the gRPC port's certificate and key");
  bool no_console = false;
  app.add_flag("--http-no-console", no_console,
               "do not serve the release console (/console/) and the Admin "
               "API as JSON (/api/v1/) on the HTTP port, e.g. when that port "
               "faces devices or a CDN; admin stays on the gRPC port");
  app.add_flag("--http-cleartext-h2", options.http.cleartext_http2,
               "also speak HTTP/2 without TLS (prior knowledge and Upgrade: "
               "h2c); off because an upgraded request skips the strict "
               "HTTP/1 head check");
  app.add_option("--http-threads", options.http.threads,
                 "event-loop threads of the HTTP port")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--http-max-connections", options.http.max_connections,
                 "open HTTP connections at most; more are answered 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  uint64_t http_cache_mb = options.http_cache_bytes >> 20;
  app.add_option("--http-cache-mb", http_cache_mb,
                 "MiB of decompressed blobs the HTTP port keeps in memory "
                 "(blobs over a quarter of it are streamed); 0: none")
      ->capture_default_str();
  app.add_option("--http-max-header-bytes", options.http.max_header_bytes,
                 "largest HTTP request head (request line and fields); "
                 "larger: 431")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1024}, size_t{256 * 1024}));
  app.add_option("--http-max-body-bytes", options.http.max_body_bytes,
                 "largest HTTP request body; larger: 413")
      ->capture_default_str();
  double http_request_seconds = 30;
  app.add_option("--http-request-timeout", http_request_seconds,
                 "seconds an HTTP connection may take to send a request "
                 "(head and body) after it opened or after the previous "
                 "response: the keep-alive idle limit")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  double http_write_seconds = 60;
  app.add_option("--http-write-timeout", http_write_seconds,
                 "seconds an HTTP client may acknowledge none of a response "
                 "being sent before the connection is closed (a stalled "
                 "reader)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  double http_push_heartbeat_seconds = 30;
  app.add_option("--http-push-heartbeat", http_push_heartbeat_seconds,
                 "seconds a WatchConfig stream over HTTP may stay silent "
                 "before the server writes an empty frame to it (keeps "
                 "proxies from cutting it; every half period the server "
                 "also looks for HTTP/1.1 clients that left); 0: never "
                 "(then an HTTP/1.1 client that left is found at a push)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--tls-cert", options.tls_cert_file,
                 "PEM certificate chain for gRPC TLS (default: "
                 "<data-dir>/tls/server.pem if it exists)");
  app.add_option("--tls-key", options.tls_key_file,
                 "PEM private key for gRPC TLS (default: "
                 "<data-dir>/tls/server.key if it exists)");
  app.add_option("--max-message-bytes", options.max_message_bytes,
                 "largest gRPC message accepted or sent")
      ->capture_default_str();
  app.add_option("--delta-versions", options.delta_previous_versions,
                 "on publish, compute deltas from this many previous versions")
      ->capture_default_str()
      ->check(CLI::Range(0, 50));
  double gate_seconds = 10;
  app.add_option("--gate-interval", gate_seconds,
                 "seconds between passes of the health gates that promote, "
                 "halt or pause rolling releases; 0 turns them off")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_flag("--allow-unsigned-publishes", options.allow_unsigned_publishes,
               "development only: accept publishes to apps that have no root "
               "of trust (apps with one always need their publishers' "
               "signatures)");
  app.add_option("--online-keys-dir", options.online_keys_dir,
                 "stratad's online signing keys (snapshot, timestamp, "
                 "director), one 0600 PEM each (default: "
                 "<data-dir>/online-keys)");
  std::string timestamp_expiry = "24h";
  app.add_option("--timestamp-expiry", timestamp_expiry,
                 "lifetime of the timestamp and director metadata, re-signed "
                 "when half of it is gone (e.g. 24h, 90m)")
      ->capture_default_str();
  app.add_option("--report-rate-per-device", options.report_rate_per_device,
                 "Report calls a second one device (app + device id) may "
                 "make, sustained; 0 turns the limit off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--report-burst-per-device", options.report_burst_per_device,
                 "Report calls one device may make at once")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e9));
  app.add_option("--report-rate-per-connection",
                 options.report_rate_per_connection,
                 "Report calls a second on one gRPC connection, sustained; 0 "
                 "turns the limit off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--report-burst-per-connection",
                 options.report_burst_per_connection,
                 "Report calls one connection may make at once")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e9));
  app.add_option("--max-watch-streams", options.max_watch_streams,
                 "concurrent WatchConfig streams server-wide (each holds "
                 "about 20 KiB, no thread); 0: no limit")
      ->capture_default_str();
  app.add_option("--max-watch-streams-per-device",
                 options.max_watch_streams_per_device,
                 "concurrent WatchConfig streams per device; 0: no limit")
      ->capture_default_str();
  app.add_option("--max-reports-in-flight", options.max_reports_in_flight,
                 "Reports waiting for their synced write, server-wide; more "
                 "are refused with RESOURCE_EXHAUSTED and a retry pushback "
                 "(devices keep the events and send them later); 0: no "
                 "limit")
      ->capture_default_str();
  app.add_option("--max-delta-queue", options.max_delta_queue,
                 "delta computations devices asked for that may wait; more "
                 "are dropped (the device downloads in full)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--max-tree-delta-mb", options.max_tree_delta_mib,
                 "make tree patches (applied by devices straight into the "
                 "new version's directory) only between tree archives of "
                 "at most this many MiB; making one holds about 6 bytes of "
                 "memory per byte of the old archive; 0: byte patches only")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  std::string report_retention = "30d";
  app.add_option("--report-retention", report_retention,
                 "how long device reports (and their event ids) are kept "
                 "before an hourly pass deletes them; longer than a plan's "
                 "24h lifetime (e.g. 30d, 72h)")
      ->capture_default_str();
  app.add_option(
      "--port-file", port_file,
      "write the bound gRPC port (and HTTP port on a second line) here");

  std::string token_file;
  CLI::App* init = app.add_subcommand(
      "init",
      "Create the data directory, the first admin token (mode 0600) and\n"
      "stratad's online signing keys (--online-keys-dir). Refused when the\n"
      "directory already has tokens.");
  init->add_option(
      "--token-file", token_file,
      "where to write the token (default: <data-dir>/admin.token)");
  bool tls_self_signed = false;
  std::string tls_hosts = "localhost,127.0.0.1,::1";
  init->add_flag(
      "--tls-self-signed", tls_self_signed,
      "for trying stratad over TLS: make a self-signed CA (ECDSA P-256, one\n"
      "year) and a server certificate it signs for --tls-hosts, in\n"
      "<data-dir>/tls (0700): ca.pem (give it to clients: strata --ca-file,\n"
      "strata-device --ca-file, the SDK's tls_ca_pem), server.pem and\n"
      "server.key (0600), which stratad then serves with. The CA's private\n"
      "key is not kept: nothing else can be signed by it; for more hosts\n"
      "or another lifetime, bring your own --tls-cert/--tls-key");
  init->add_option("--tls-hosts", tls_hosts,
                   "comma-separated DNS names and IP addresses the server "
                   "certificate is valid for (with --tls-self-signed)")
      ->capture_default_str();

  std::string restore_from;
  CLI::App* restore = app.add_subcommand(
      "restore",
      "Restore a backup made by `strata backup` into an empty data directory.");
  restore->add_option("--from", restore_from, "the backup directory")
      ->required();

  std::string migrate_from;
  CLI::App* migrate = app.add_subcommand(
      "migrate",
      "Copy a RocksDB data directory (its stratad stopped) into an empty\n"
      "PostgreSQL database (--metadata), blob chunks into --blobs when given:\n"
      "artifacts, releases, segments, trust, tokens, reports and the audit\n"
      "log as it was (the chain still verifies). Then start replicas with\n"
      "that --metadata (and --blobs) and --online-keys-dir "
      "<from>/online-keys.");
  migrate->add_option("--from", migrate_from, "the RocksDB data directory")
      ->required();

  CLI11_PARSE(app, argc, argv);
  options.gate_interval = absl::Milliseconds(gate_seconds * 1000);
  options.http_console = !no_console;
  options.http_cache_bytes = http_cache_mb << 20;
  options.http.request_timeout =
      absl::Milliseconds(http_request_seconds * 1000);
  options.http.write_timeout = absl::Milliseconds(http_write_seconds * 1000);
  options.http.push_heartbeat =
      absl::Milliseconds(http_push_heartbeat_seconds * 1000);
  if (!absl::ParseDuration(timestamp_expiry, &options.timestamp_expiry) ||
      options.timestamp_expiry < absl::Minutes(2)) {
    std::cerr << "stratad: --timestamp-expiry '" << timestamp_expiry
              << "' is not a duration of at least 2m (e.g. 24h)\n";
    return 2;
  }
  {
    // absl durations plus whole days ("30d").
    const std::string& r = report_retention;
    bool ok = false;
    if (r.size() > 1 && r.back() == 'd' &&
        r.find_first_not_of("0123456789") == r.size() - 1 && r.size() < 8) {
      options.report_retention = absl::Hours(24 * std::stoll(r));
      ok = true;
    } else {
      ok = absl::ParseDuration(r, &options.report_retention);
    }
    if (!ok || options.report_retention <= absl::Hours(24)) {
      std::cerr << "stratad: --report-retention '" << r
                << "' is not a duration longer than a plan's 24h lifetime "
                   "(e.g. 30d, 72h)\n";
      return 2;
    }
  }

  if (*init) {
    if (token_file.empty())
      token_file = strata::JoinPath(options.data_dir, "admin.token");
    // Bad hosts are refused before anything is written.
    absl::StatusOr<std::vector<std::string>> hosts =
        strata::signing::ParseTlsHosts(tls_hosts);
    if (tls_self_signed && !hosts.ok()) return Fail(hosts.status());
    absl::Status s = strata::server::InitializeDataDir(
        options.data_dir, token_file, strata::Env::Default(),
        options.online_keys_dir, options.metadata);
    if (!s.ok()) return Fail(s);
    if (tls_self_signed) {
      s = strata::server::InitializeSelfSignedTls(options.data_dir, *hosts);
      if (!s.ok()) return Fail(s);
      const std::string dir = strata::server::TlsDir(options.data_dir);
      std::cout << "self-signed TLS for " << tls_hosts << " in " << dir
                << ": clients trust " << strata::JoinPath(dir, "ca.pem")
                << " (e.g. strata --ca-file " << strata::JoinPath(dir, "ca.pem")
                << "); stratad serves server.pem and server.key from there; "
                   "the CA's private key was not kept\n";
    }
    std::cout << "initialized " << options.data_dir
              << "; admin token written to " << token_file
              << " (mode 0600); online keys in "
              << strata::server::OnlineKeysDir(options.data_dir,
                                               options.online_keys_dir)
              << "\n";
    return 0;
  }
  if (*restore) {
    absl::Status s =
        strata::server::RestoreDataDir(restore_from, options.data_dir);
    if (!s.ok()) return Fail(s);
    std::cout << "restored " << restore_from << " into " << options.data_dir
              << "\n";
    return 0;
  }
  if (*migrate) {
    if (!strata::server::IsPostgresUrl(options.metadata)) {
      std::cerr << "stratad migrate: --metadata postgresql://... names the "
                   "destination\n";
      return 2;
    }
    const std::string db = strata::JoinPath(migrate_from, "db");
    if (!strata::PosixFileSystem()->Exists(strata::JoinPath(db, "CURRENT"))) {
      std::cerr << "stratad migrate: " << migrate_from
                << " is not a stratad data directory (no database in " << db
                << ")\n";
      return 2;
    }
    absl::StatusOr<std::unique_ptr<strata::server::Store>> from =
        strata::server::Store::Open(db);
    if (!from.ok()) return Fail(from.status());
    strata::server::PostgresStoreOptions pg;
    absl::StatusOr<std::shared_ptr<strata::server::ObjectStore>> blobs =
        strata::server::OpenBlobs(options.blobs);
    if (!blobs.ok()) return Fail(blobs.status());
    pg.blobs = *blobs;
    absl::StatusOr<std::unique_ptr<strata::server::Store>> to =
        strata::server::OpenPostgresStore(options.metadata, pg);
    if (!to.ok()) return Fail(to.status());
    absl::StatusOr<strata::server::MigrateReport> done =
        strata::server::MigrateStore(**from, **to);
    if (!done.ok()) return Fail(done.status());
    std::cout << "migrated " << migrate_from << ": " << done->Summary()
              << "; start replicas with this --metadata"
              << (options.blobs.empty() ? "" : " and --blobs")
              << " and --online-keys-dir "
              << strata::server::OnlineKeysDir(migrate_from,
                                               options.online_keys_dir)
              << "\n";
    return 0;
  }
  return Serve(options, port_file);
}
