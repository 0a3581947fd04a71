// The stratad process in a class: storage, cores, gRPC services and the
// HTTP endpoint wired together. Used by the stratad binary and by
// in-process integration tests.
#ifndef STRATA_SERVER_RPC_STRATA_SERVER_H_
#define STRATA_SERVER_RPC_STRATA_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/server/http/http_server.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace strata::server {

struct ServerOptions {
  std::string data_dir = "strata-data";
  // host:port; port 0 picks a free one (see StrataServer::port()).
  std::string listen_address = "127.0.0.1:7443";
  // Blobs over plain HTTP (for a CDN) and /metrics; empty: no HTTP.
  std::string http_address = "127.0.0.1:7480";
  // The HTTP port's limits and threads (its tls_* are filled in when
  // http_tls is set).
  HttpServerOptions http;
  // Serve the HTTP port over TLS with the gRPC port's certificate and key.
  bool http_tls = false;
  // The release console (/console/) and the Admin API as JSON
  // (/api/v1/<Method>) on the HTTP port (docs/console.md). Off where the
  // HTTP port faces devices or a CDN and admin must stay on the gRPC port.
  bool http_console = true;
  // Decompressed blobs the HTTP port keeps in memory.
  uint64_t http_cache_bytes = uint64_t{256} << 20;
  // TLS for gRPC when both are set (PEM files). When neither is set and
  // <data_dir>/tls holds server.pem and server.key (`stratad init
  // --tls-self-signed`), those are used.
  std::string tls_cert_file;
  std::string tls_key_file;
  int max_message_bytes = 8 << 20;
  // Deltas computed on publish: from this many previous versions of the
  // module (plus its embedded versions).
  int delta_previous_versions = 3;
  // Development only: accept publishes to apps without a root of trust.
  bool allow_unsigned_publishes = false;
  // stratad's online keys (snapshot, timestamp, director); empty means
  // <data_dir>/online-keys.
  std::string online_keys_dir;
  // Lifetime of timestamp and director metadata; they are re-signed when
  // half of it is gone.
  absl::Duration timestamp_expiry = absl::Hours(24);
  // How often the online roles are checked for re-signing; zero: never
  // (tests drive RunTrustRefreshNow).
  absl::Duration trust_refresh_interval = absl::Minutes(1);
  // Connections idle this long are closed; keepalive pings detect dead peers.
  absl::Duration max_connection_idle = absl::Minutes(5);
  // How often the health gates judge every rolling release (promote, halt,
  // pause); zero turns the automatic gates off.
  absl::Duration gate_interval = absl::Seconds(10);
  // Limits against abuse (docs/architecture.md, Limits); 0 turns one off.
  // Report calls per device (app + device id): sustained rate and burst.
  double report_rate_per_device = 2;
  double report_burst_per_device = 60;
  // Report calls per gRPC connection (simulators send many devices'
  // reports through one).
  double report_rate_per_connection = 500;
  double report_burst_per_connection = 2000;
  // Keys each Report rate limiter remembers at most (idle ones go first).
  size_t rate_limit_max_keys = 100000;
  // Concurrent WatchConfig streams, server-wide and per device; each holds
  // memory (docs/benchmarks.md: a few KiB), no thread.
  size_t max_watch_streams = 100000;  // ~20 KiB each (benchmarks.md)
  size_t max_watch_streams_per_device = 2;
  // Reports waiting for (or in) their synced write, server-wide; more are
  // refused with RESOURCE_EXHAUSTED and a retry pushback; 0: no bound.
  size_t max_reports_in_flight = 4096;
  // Delta computations devices asked for that may wait for a worker.
  size_t max_delta_queue = 256;
  // Tree patches only between tree archives of at most this many MiB (the
  // tree differ holds both trees and a suffix array of the old one:
  // about 6 bytes per old byte); 0: no tree patches.
  uint64_t max_tree_delta_mib = 64;
  // Device reports older than this are deleted (with their event ids);
  // must be longer than a plan's lifetime (24 h).
  absl::Duration report_retention = absl::Hours(30 * 24);
  // How often that pass runs; zero: never (tests drive RunReportPruneNow).
  absl::Duration report_prune_interval = absl::Hours(1);
  // Tests: the RocksDB Env the database runs on (a fault-injecting one for
  // power loss and a full disk); null: the local file system.
  rocksdb::Env* storage_env = nullptr;
  // Where the metadata lives: "" for the embedded RocksDB in
  // <data_dir>/db, or a PostgreSQL URL ("postgresql://h1,h2/strata") that
  // several stratad replicas share (docs/architecture.md, "Replicas on
  // PostgreSQL"); the data directory then keeps TLS files and online keys.
  std::string metadata;
  // Where blob chunks go with a PostgreSQL --metadata: "" for the database
  // itself, or an S3 URL ("s3://bucket?endpoint=http://host:port";
  // credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
  std::string blobs;
};

class StrataServer {
 public:
  // kFailedPrecondition, creating nothing, unless options.data_dir holds a
  // database that InitializeDataDir (`stratad init`) or RestoreDataDir made.
  static absl::StatusOr<std::unique_ptr<StrataServer>> Start(
      const ServerOptions& options, Env env = Env::Default());
  ~StrataServer();

  int port() const;
  int http_port() const;  // 0 when HTTP is off
  // Stops accepting calls and waits up to `grace` for running ones.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until Shutdown() has completed.
  void Wait();
  // Runs one pass of the health gates now (tests; the server also runs
  // them every `gate_interval`). Returns how many releases changed.
  absl::StatusOr<int> RunGatesNow();
  // Re-signs the online roles whose life is half gone now (tests; the
  // server also does it every `trust_refresh_interval`). Returns how many
  // apps changed.
  absl::StatusOr<int> RunTrustRefreshNow();
  // Deletes the reports older than `report_retention` now (tests; the
  // server also does it every `report_prune_interval`). Returns how many
  // reports went.
  absl::StatusOr<uint64_t> RunReportPruneNow();

 private:
  struct Impl;
  explicit StrataServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `stratad init`: creates the data directory, the first admin token
// (written to `token_file` with mode 0600; refused if already initialized)
// and one online key per online role in `online_keys_dir` (default
// <data_dir>/online-keys; 0700, keys 0600).
// With `metadata` (a PostgreSQL URL) the token goes there, and the
// database must hold no token yet.
absl::Status InitializeDataDir(const std::string& data_dir,
                               const std::string& token_file,
                               Env env = Env::Default(),
                               const std::string& online_keys_dir = "",
                               const std::string& metadata = "");
// `stratad init --tls-self-signed`: a fresh self-signed CA (its private key
// is discarded) and a server certificate it signs for `hosts`, written to
// TlsDir(data_dir) (mode 0700): ca.pem (for clients), server.pem and
// server.key (0600). kAlreadyExists when server.pem or server.key is there.
absl::Status InitializeSelfSignedTls(const std::string& data_dir,
                                     const std::vector<std::string>& hosts,
                                     Env env = Env::Default());
// <data_dir>/tls.
std::string TlsDir(const std::string& data_dir);

// <data_dir>/online-keys unless `online_keys_dir` is set.
std::string OnlineKeysDir(const std::string& data_dir,
                          const std::string& online_keys_dir);

// `stratad restore`: makes the checkpoint in `backup_dir` the database of
// `data_dir`, which must not hold one yet.
absl::Status RestoreDataDir(const std::string& backup_dir,
                            const std::string& data_dir,
                            Env env = Env::Default());

}  // namespace strata::server

#endif  // STRATA_SERVER_RPC_STRATA_SERVER_H_
