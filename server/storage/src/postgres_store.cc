#include "strata/server/storage/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "store_internal.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/audit_chain.h"

namespace strata::server {
namespace {

constexpr int kSchemaVersion = 1;
constexpr char kPgHealthBuiltKey[] = "health_built";

// The tables (docs/architecture.md, "Replicas on PostgreSQL"). Records are
// the same serialized protos RocksDB holds; keys are columns. Text keys
// that are listed in order sort bytewise (COLLATE "C"), as in RocksDB.
constexpr char kSchemaSql[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head (
  id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL,
  hash text NOT NULL);
INSERT INTO audit_head VALUES (1, 0, '') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS audit (seq bigint PRIMARY KEY, entry bytea NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
  seq bigserial PRIMARY KEY, app_id text NOT NULL, kind text NOT NULL,
  origin text NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS counters (k text PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k text PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
  sha256 text PRIMARY KEY, data bytea NOT NULL,
  touched_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS blobs (sha256 text PRIMARY KEY, manifest bytea NOT NULL);
CREATE TABLE IF NOT EXISTS blob_chunks (
  blob_sha256 text NOT NULL, idx integer NOT NULL, chunk_sha256 text NOT NULL,
  PRIMARY KEY (blob_sha256, idx));
CREATE INDEX IF NOT EXISTS blob_chunks_by_chunk ON blob_chunks (chunk_sha256);
CREATE TABLE IF NOT EXISTS artifacts (
  k text COLLATE "C" PRIMARY KEY, app_id text COLLATE "C" NOT NULL,
  record bytea NOT NULL);
CREATE INDEX IF NOT EXISTS artifacts_by_app ON artifacts (app_id, k);
CREATE TABLE IF NOT EXISTS idempotency (
  app_id text NOT NULL, key_sha256 text NOT NULL, record bytea NOT NULL,
  PRIMARY KEY (app_id, key_sha256));
CREATE TABLE IF NOT EXISTS module_schemas (k text PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS deltas (
  from_sha256 text NOT NULL, to_sha256 text NOT NULL, record bytea NOT NULL,
  PRIMARY KEY (from_sha256, to_sha256));
CREATE INDEX IF NOT EXISTS deltas_by_to ON deltas (to_sha256);
CREATE TABLE IF NOT EXISTS trust (
  app_id text COLLATE "C" NOT NULL, role text COLLATE "C" NOT NULL,
  version bigint NOT NULL, content bytea NOT NULL,
  PRIMARY KEY (app_id, role, version));
CREATE TABLE IF NOT EXISTS trust_apps (app_id text COLLATE "C" PRIMARY KEY);
CREATE TABLE IF NOT EXISTS segments (
  app_id text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL,
  record bytea NOT NULL, PRIMARY KEY (app_id, name));
CREATE TABLE IF NOT EXISTS reports (
  seq bigserial PRIMARY KEY, app_id text COLLATE "C" NOT NULL,
  received_at bigint NOT NULL, record bytea NOT NULL);
CREATE INDEX IF NOT EXISTS reports_by_app ON reports (app_id, seq);
CREATE INDEX IF NOT EXISTS reports_by_time ON reports (received_at);
CREATE TABLE IF NOT EXISTS report_events (
  app_id text NOT NULL, device_sha256 text NOT NULL, event_id text NOT NULL,
  report_seq bigint NOT NULL, PRIMARY KEY (app_id, device_sha256, event_id));
CREATE INDEX IF NOT EXISTS report_events_by_report ON report_events (report_seq);
CREATE TABLE IF NOT EXISTS health_marks (
  release_id bigint NOT NULL, cohort integer NOT NULL, stage integer NOT NULL,
  device bigint NOT NULL, marks bytea NOT NULL,
  PRIMARY KEY (release_id, cohort, stage, device));
CREATE TABLE IF NOT EXISTS health_buckets (
  release_id bigint NOT NULL, cohort integer NOT NULL, stage integer NOT NULL,
  hour bigint NOT NULL, figures bytea NOT NULL,
  PRIMARY KEY (release_id, cohort, stage, hour));
CREATE TABLE IF NOT EXISTS releases (
  app_id text COLLATE "C" NOT NULL, release_id bigint NOT NULL,
  record bytea NOT NULL, PRIMARY KEY (app_id, release_id));
CREATE TABLE IF NOT EXISTS tokens (
  secret_sha256 text COLLATE "C" PRIMARY KEY, record bytea NOT NULL);
ALTER TABLE chunks ADD COLUMN IF NOT EXISTS stored_bytes bigint NOT NULL
  DEFAULT 0;
CREATE TABLE IF NOT EXISTS leases (
  name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL,
  expires_at timestamptz NOT NULL);
)sql";

// The lease this thread's audited writes are fenced by (Store::Fenced).
struct Fence {
  std::string name;
  std::string holder;
  uint64_t epoch = 0;
};
thread_local const Fence* current_fence = nullptr;
// Store::Importing on this thread: audited writes keep no entry of their own.
thread_local bool importing = false;

// ------------------------------------------------------ libpq plumbing

// Query parameters: integers and text in text format, bytea in binary.
class Params {
 public:
  Params& Text(std::string_view v) { return Add(std::string(v), 0); }
  Params& Bytes(std::string_view v) { return Add(std::string(v), 1); }
  Params& Int(int64_t v) { return Add(std::to_string(v), 0); }
  Params& U64(uint64_t v) { return Int(static_cast<int64_t>(v)); }

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> values() const {
    std::vector<const char*> out;
    for (const std::string& v : values_) out.push_back(v.c_str());
    return out;
  }
  std::vector<int> lengths() const {
    std::vector<int> out;
    for (const std::string& v : values_)
      out.push_back(static_cast<int>(v.size()));
    return out;
  }
  const std::vector<int>& formats() const { return formats_; }

 private:
  Params& Add(std::string v, int format) {
    values_.push_back(std::move(v));
    formats_.push_back(format);
    return *this;
  }
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

// A result in binary format: bytea and text come back as their bytes,
// integers big-endian.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r, &PQclear) {}
  const PGresult* get() const { return r_.get(); }
  bool ok() const {
    const ExecStatusType s = PQresultStatus(r_.get());
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  int rows() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const {
    return PQgetisnull(r_.get(), row, col) != 0;
  }
  std::string_view bytes(int row, int col) const {
    return std::string_view(
        PQgetvalue(r_.get(), row, col),
        static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }
  std::string str(int row, int col) const {
    return std::string(bytes(row, col));
  }
  int64_t i64(int row, int col) const {
    std::string_view b = bytes(row, col);
    uint64_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    // Sign-extend 2- and 4-byte integers.
    if (b.size() == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    if (b.size() == 2) return static_cast<int16_t>(static_cast<uint16_t>(v));
    return static_cast<int64_t>(v);
  }
  uint64_t u64(int row, int col) const {
    return static_cast<uint64_t>(i64(row, col));
  }
  int64_t affected() const {
    const char* n = PQcmdTuples(const_cast<PGresult*>(r_.get()));
    return n[0] == '\0' ? 0 : std::atoll(n);
  }

 private:
  std::shared_ptr<PGresult> r_;
};

// `name` as a quoted SQL identifier.
absl::StatusOr<std::string> Quote(PGconn* pg, const std::string& name) {
  char* ident = PQescapeIdentifier(pg, name.c_str(), name.size());
  if (ident == nullptr) {
    return absl::InvalidArgumentError(
        StrCat("'", name, "' cannot be quoted as an SQL name"));
  }
  std::string out = ident;
  PQfreemem(ident);
  return out;
}

std::string TrimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The most specific status for a failed statement.
absl::Status PgError(PGconn* pg, const PGresult* r, std::string_view what) {
  const char* state =
      r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view code = state != nullptr ? state : "";
  const std::string msg =
      TrimNewline(r != nullptr && PQresultErrorMessage(r)[0] != '\0'
                      ? PQresultErrorMessage(r)
                      : PQerrorMessage(pg));
  if (PQstatus(pg) != CONNECTION_OK || code.starts_with("08") ||
      code == "57P01" || code == "57P02" || code == "57P03") {
    return absl::UnavailableError(
        StrCat(what, ": PostgreSQL is unreachable (", msg,
               "); retry once the database is back (a standby promoted in "
               "its place is found through the hosts of --metadata)"));
  }
  if (code == "40001" || code == "40P01") {
    return absl::AbortedError(StrCat(
        what, ": conflicted with a concurrent change (", msg, "); retry"));
  }
  if (code == "25006") {
    return absl::UnavailableError(StrCat(
        what, ": the database is read-only (", msg,
        "): connected to a standby; list the primary's host in --metadata"));
  }
  if (code.starts_with("53")) {
    return absl::ResourceExhaustedError(
        StrCat(what, ": PostgreSQL is out of resources (", msg, ")"));
  }
  if (code == "23505") return absl::AlreadyExistsError(StrCat(what, ": ", msg));
  if (code.starts_with("42") || code.starts_with("22")) {
    return absl::InternalError(StrCat(what, ": ", msg));
  }
  return absl::UnavailableError(StrCat(what, ": ", msg));
}

// One libpq connection (one thread at a time).
class Conn {
 public:
  explicit Conn(PGconn* pg) : pg_(pg) {}
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { PQfinish(pg_); }
  PGconn* pg() { return pg_; }
  bool broken() const { return PQstatus(pg_) != CONNECTION_OK; }

  absl::StatusOr<Result> Exec(const char* sql, const Params& p,
                              std::string_view what) {
    const std::vector<const char*> values = p.values();
    const std::vector<int> lengths = p.lengths();
    Result r(PQexecParams(pg_, sql, p.size(), nullptr, values.data(),
                          lengths.data(), p.formats().data(),
                          /*resultFormat=*/1));
    if (!r.ok()) return PgError(pg_, r.get(), what);
    return r;
  }
  absl::StatusOr<Result> Exec(const char* sql, std::string_view what) {
    return Exec(sql, Params(), what);
  }
  // Several statements, no parameters (the simple query protocol).
  absl::Status Script(const std::string& sql, std::string_view what) {
    Result r(PQexec(pg_, sql.c_str()));
    if (!r.ok()) return PgError(pg_, r.get(), what);
    return absl::OkStatus();
  }

 private:
  PGconn* pg_;
};

// Connections to the database, reused. Get never waits: without an idle
// connection it opens one (a write holding one may read through another).
class Pool {
 public:
  Pool(std::string url, std::string schema, int max_idle)
      : url_(std::move(url)), schema_(std::move(schema)), max_idle_(max_idle) {}

  absl::StatusOr<std::unique_ptr<Conn>> Connect() const {
    // target_session_attrs before dbname: the URL's own setting wins.
    const char* keys[] = {"target_session_attrs", "connect_timeout",
                          "application_name", "dbname", nullptr};
    const char* values[] = {"read-write", "10", "stratad", url_.c_str(),
                            nullptr};
    auto conn =
        std::make_unique<Conn>(PQconnectdbParams(keys, values, /*expand=*/1));
    if (conn->pg() == nullptr || conn->broken()) {
      const std::string why =
          TrimNewline(conn->pg() ? PQerrorMessage(conn->pg()) : "no memory");
      if (why.find("read-only") != std::string::npos) {
        return absl::UnavailableError(StrCat(
            "connecting to PostgreSQL: no host of --metadata accepts writes (",
            why,
            "): the primary is down or not listed; list every host that can "
            "become primary"));
      }
      return absl::UnavailableError(StrCat(
          "connecting to PostgreSQL: ",
          TrimNewline(conn->pg() ? PQerrorMessage(conn->pg()) : "no memory"),
          "; check --metadata (hosts, database, user) and that the "
          "database is up"));
    }
    STRATA_ASSIGN_OR_RETURN(const std::string ident,
                            Quote(conn->pg(), schema_));
    // Notices ("already exists, skipping") are not for stderr.
    STRATA_RETURN_IF_ERROR(
        conn->Script(StrCat("SET search_path TO ", ident,
                            "; SET client_min_messages TO warning"),
                     "selecting Strata's schema"));
    return conn;
  }

  absl::StatusOr<std::unique_ptr<Conn>> Get() {
    {
      MutexLock lock(&mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Conn> c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return Connect();
  }

  void Put(std::unique_ptr<Conn> c) {
    if (c == nullptr || c->broken() ||
        PQtransactionStatus(c->pg()) != PQTRANS_IDLE) {
      return;
    }
    MutexLock lock(&mu_);
    if (static_cast<int>(idle_.size()) < max_idle_) {
      idle_.push_back(std::move(c));
    }
  }

  // Every idle connection is dropped (after the server restarted, all of
  // them are dead).
  void DropIdle() {
    MutexLock lock(&mu_);
    idle_.clear();
  }

  const std::string& schema() const { return schema_; }

 private:
  const std::string url_;
  const std::string schema_;
  const int max_idle_;
  Mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(mu_);
};

// A connection from the pool, returned to it when done.
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<Conn> c) : pool_(pool), c_(std::move(c)) {}
  Lease(Lease&&) = default;
  ~Lease() {
    if (c_ != nullptr) pool_->Put(std::move(c_));
  }
  Conn& operator*() { return *c_; }
  Conn* operator->() { return c_.get(); }

 private:
  Pool* pool_;
  std::unique_ptr<Conn> c_;
};

// A text[] or bigint[] literal for `= ANY($1)`.
std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

template <typename Proto>
absl::StatusOr<Proto> Parse(std::string_view bytes, std::string_view what) {
  Proto p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(StrCat(
        what, " is corrupt in PostgreSQL; restore the database from a backup"));
  }
  return p;
}

std::string ArtifactKey(std::string_view app, const v1::ModuleId& m,
                        std::string_view version) {
  return StrCat(internal::ModuleKey(app, m), "/", version);
}

// A change row for the other replicas.
struct Change {
  std::string app_id;
  std::string kind;
};

// What a write transaction's body learns: the audit entry's sequence
// number once appended, and the entry itself (it may amend the detail).
struct WriteContext {
  uint64_t next_audit_seq = 0;
  v1::AuditEntry* audit = nullptr;
};

class PostgresStore : public Store {
 public:
  PostgresStore(std::string url, PostgresStoreOptions options)
      : options_(std::move(options)),
        pool_(std::move(url), options_.schema, options_.max_idle_connections),
        channel_(StrCat(options_.schema, "_changes")) {}

  ~PostgresStore() override {
    StopChangeFeed();
    for (int fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
  }

  void StopChangeFeed() override {
    {
      MutexLock lock(&feed_mu_);
      stopping_ = true;
    }
    if (wake_[1] >= 0) {
      const char b = 1;
      (void)!::write(wake_[1], &b, 1);
    }
    if (feed_.joinable()) feed_.join();
  }

  // Creates the schema's tables if missing (one replica at a time), and
  // learns this process's origin id and where the change log stands.
  absl::Status Init() {
    STRATA_RETURN_IF_ERROR(InTx("creating Strata's tables", [&](Conn& c) {
      STRATA_RETURN_IF_ERROR(
          c.Exec("SELECT pg_advisory_xact_lock(hashtext($1))",
                 Params().Text(StrCat("strata schema ", options_.schema)),
                 "locking the schema")
              .status());
      STRATA_ASSIGN_OR_RETURN(const std::string quoted,
                              Quote(c.pg(), options_.schema));
      STRATA_RETURN_IF_ERROR(
          c.Script(StrCat("CREATE SCHEMA IF NOT EXISTS ", quoted,
                          "; SET LOCAL search_path TO ", quoted, ";"),
                   "creating the schema"));
      STRATA_RETURN_IF_ERROR(c.Script(kSchemaSql, "creating Strata's tables"));
      STRATA_ASSIGN_OR_RETURN(
          Result v, c.Exec("SELECT version FROM schema_version", "schema"));
      if (v.rows() == 0) {
        return c
            .Exec("INSERT INTO schema_version VALUES ($1)",
                  Params().Int(kSchemaVersion), "schema")
            .status();
      }
      if (v.i64(0, 0) > kSchemaVersion) {
        return absl::FailedPreconditionError(
            StrCat("the database's Strata schema is version ", v.i64(0, 0),
                   ", newer than this stratad's ", kSchemaVersion,
                   "; run a stratad at least as new as the one that wrote it"));
      }
      return absl::OkStatus();
    }));
    STRATA_ASSIGN_OR_RETURN(Result r,
                            Query("SELECT gen_random_uuid()::text, "
                                  "(SELECT coalesce(max(seq), 0) FROM changes)",
                                  Params(), "reading the change log"));
    origin_ = r.str(0, 0);
    feed_from_ = r.u64(0, 1);
    // The change log only wakes replicas; a week of it is plenty (a
    // replica cut off longer restarts, rebuilding everything).
    STRATA_RETURN_IF_ERROR(
        Query("DELETE FROM changes WHERE at < now() - interval '7 days'",
              Params(), "pruning the change log")
            .status());
    // A data set without reports has nothing to rebuild health from.
    STRATA_ASSIGN_OR_RETURN(const bool built, HealthAggregatesBuilt());
    if (!built) {
      STRATA_ASSIGN_OR_RETURN(
          Result any, Query("SELECT EXISTS (SELECT 1 FROM reports)", Params(),
                            "scanning reports"));
      if (any.bytes(0, 0) == std::string_view("\0", 1)) {
        STRATA_RETURN_IF_ERROR(FinishHealthRebuild());
      }
    }
    return absl::OkStatus();
  }

  // ---------------------------------------------------------------- blobs

  absl::StatusOr<BlobChunk> PutChunk(std::string_view data) override {
    BlobChunk chunk{Sha256::HexHash(data), data.size()};
    const std::string encoded = internal::EncodeChunk(data);
    // A chunk that is there already is touched: the orphan collector of
    // another replica leaves it alone while this upload commits. With an
    // object store the row comes first (it waits for a collector holding
    // it), then the object.
    STRATA_RETURN_IF_ERROR(
        Query("INSERT INTO chunks (sha256, data, stored_bytes) "
              "VALUES ($1, $2, $3) "
              "ON CONFLICT (sha256) DO UPDATE SET touched_at = "
              "clock_timestamp()",
              Params()
                  .Text(chunk.sha256)
                  .Bytes(options_.blobs ? std::string_view() : encoded)
                  .U64(encoded.size()),
              "storing a blob chunk")
            .status());
    if (options_.blobs) {
      STRATA_RETURN_IF_ERROR(
          options_.blobs->Put(ChunkKey(chunk.sha256), encoded));
    }
    return chunk;
  }

  absl::StatusOr<std::string> ReadChunk(
      std::string_view chunk_sha256) override {
    if (options_.blobs) {
      STRATA_ASSIGN_OR_RETURN(std::optional<std::string> object,
                              options_.blobs->Get(ChunkKey(chunk_sha256)));
      if (object.has_value()) {
        return internal::DecodeChunk(*object, chunk_sha256);
      }
      // Else a chunk stored in the database before --blobs was set.
    }
    STRATA_ASSIGN_OR_RETURN(
        Result r, Query("SELECT data FROM chunks WHERE sha256 = $1",
                        Params().Text(chunk_sha256), "reading a blob chunk"));
    if (r.rows() == 0 || r.bytes(0, 0).empty()) {
      return absl::DataLossError(StrCat(
          "blob chunk ", chunk_sha256, " is missing",
          options_.blobs ? StrCat(" from ", options_.blobs->Describe()) : ""));
    }
    return internal::DecodeChunk(r.bytes(0, 0), chunk_sha256);
  }

  absl::StatusOr<std::optional<BlobManifest>> GetBlobManifest(
      std::string_view sha256) override {
    STRATA_ASSIGN_OR_RETURN(
        Result r, Query("SELECT manifest FROM blobs WHERE sha256 = $1",
                        Params().Text(sha256), "reading a blob manifest"));
    if (r.rows() == 0) return std::nullopt;
    STRATA_ASSIGN_OR_RETURN(
        v1::StoredBlob stored,
        Parse<v1::StoredBlob>(r.bytes(0, 0), "a blob manifest"));
    return internal::FromStoredBlob(sha256, stored);
  }

  absl::StatusOr<std::string> ReadBlob(std::string_view sha256, uint64_t offset,
                                       uint64_t max_bytes) override {
    return internal::ReadBlobOf(*this, sha256, offset, max_bytes);
  }

  absl::StatusOr<GarbageReport> CollectGarbage() override {
    if (options_.blobs) return CollectObjects();
    STRATA_ASSIGN_OR_RETURN(
        Result r,
        Query("WITH gone AS (DELETE FROM chunks c WHERE c.touched_at <= "
              "clock_timestamp() - make_interval(secs => $1) AND NOT EXISTS "
              "(SELECT 1 FROM blob_chunks b WHERE b.chunk_sha256 = c.sha256) "
              "RETURNING length(c.data)::bigint AS n) "
              "SELECT count(*)::bigint, coalesce(sum(n), 0)::bigint FROM gone",
              Params().Int(absl::ToInt64Seconds(options_.orphan_grace)),
              "removing orphaned blob chunks"));
    GarbageReport report;
    report.chunks_removed = r.u64(0, 0);
    report.bytes_removed = r.u64(0, 1);
    return report;
  }

  // Orphans in the object store, a batch per transaction: their rows are
  // locked (an upload of the same chunk waits on its INSERT), the objects
  // deleted, then the rows; an upload that touched a row since is no
  // orphan (SKIP LOCKED leaves rows that uploads hold).
  absl::StatusOr<GarbageReport> CollectObjects() {
    GarbageReport report;
    for (;;) {
      uint64_t batch = 0;
      STRATA_RETURN_IF_ERROR(
          InTx("removing orphaned blob chunks", [&](Conn& c) -> absl::Status {
            STRATA_ASSIGN_OR_RETURN(
                Result r,
                c.Exec(
                    "SELECT sha256, stored_bytes FROM chunks c WHERE "
                    "c.touched_at <= clock_timestamp() - "
                    "make_interval(secs => $1) AND NOT EXISTS (SELECT 1 "
                    "FROM blob_chunks b WHERE b.chunk_sha256 = c.sha256) "
                    "ORDER BY sha256 LIMIT 500 FOR UPDATE SKIP LOCKED",
                    Params().Int(absl::ToInt64Seconds(options_.orphan_grace)),
                    "finding orphaned blob chunks"));
            std::vector<std::string> gone;
            for (int i = 0; i < r.rows(); ++i) {
              STRATA_RETURN_IF_ERROR(
                  options_.blobs->Delete(ChunkKey(r.str(i, 0))));
              gone.push_back(r.str(i, 0));
              report.bytes_removed += r.u64(i, 1);
            }
            batch = gone.size();
            if (gone.empty()) return absl::OkStatus();
            return c
                .Exec("DELETE FROM chunks WHERE sha256 = ANY($1::text[])",
                      Params().Text(ArrayLiteral(gone)),
                      "removing orphaned blob chunks")
                .status();
          }));
      report.chunks_removed += batch;
      if (batch < 500) return report;
    }
  }

  static std::string ChunkKey(std::string_view sha256) {
    return StrCat("chunks/", sha256);
  }

  // ------------------------------------------------------------ artifacts

  absl::Status PutArtifact(const v1::StoredArtifact& artifact,
                           const BlobManifest& blob,
                           const v1::IdempotencyRecord* idempotency,
                           v1::AuditEntry audit,
                           const std::vector<TrustFile>* trust) override {
    const auto& st = artifact.statement();
    return Write(
        "storing artifact", &audit, Change{st.app_id(), "artifact"},
        [&](Conn& c, WriteContext&) -> absl::Status {
          // No manifest: an imported artifact whose content was deleted.
          if (!blob.sha256.empty()) {
            STRATA_RETURN_IF_ERROR(PutManifest(c, blob));
          }
          // Two replicas publishing one version at once: one wins, the
          // other's retry finds it.
          STRATA_ASSIGN_OR_RETURN(
              Result a,
              c.Exec(
                  "INSERT INTO artifacts (k, app_id, record) VALUES ($1, "
                  "$2, $3) ON CONFLICT DO NOTHING",
                  Params()
                      .Text(ArtifactKey(st.app_id(), st.module(), st.version()))
                      .Text(st.app_id())
                      .Bytes(artifact.SerializeAsString()),
                  "storing the artifact record"));
          if (a.affected() == 0) {
            return absl::AbortedError(StrCat(
                "version ", st.version(), " of ", st.module().name(),
                " was stored by a concurrent publish (another request or "
                "replica); retry: the retry reports the stored version"));
          }
          if (idempotency != nullptr && !artifact.idempotency_key().empty()) {
            STRATA_ASSIGN_OR_RETURN(
                Result i,
                c.Exec("INSERT INTO idempotency (app_id, key_sha256, record) "
                       "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                       Params()
                           .Text(st.app_id())
                           .Text(Sha256::HexHash(artifact.idempotency_key()))
                           .Bytes(idempotency->SerializeAsString()),
                       "storing the idempotency record"));
            if (i.affected() == 0) {
              return absl::AbortedError(
                  StrCat("idempotency key '", artifact.idempotency_key(),
                         "' was used by a concurrent publish; retry: the "
                         "retry returns that publish"));
            }
          }
          if (trust != nullptr) {
            STRATA_RETURN_IF_ERROR(AddTrustFiles(c, st.app_id(), *trust));
          }
          return absl::OkStatus();
        });
  }

  absl::StatusOr<std::optional<v1::StoredArtifact>> GetArtifact(
      std::string_view app_id, const v1::ModuleId& module,
      std::string_view version) override {
    return GetRecord<v1::StoredArtifact>(
        "SELECT record FROM artifacts WHERE k = $1",
        Params().Text(ArtifactKey(app_id, module, version)),
        StrCat("artifact record of version ", version));
  }

  absl::StatusOr<std::vector<v1::StoredArtifact>> ListArtifacts(
      std::string_view app_id) override {
    if (app_id.empty()) {
      return ListRecords<v1::StoredArtifact>(
          "SELECT record FROM artifacts ORDER BY k", Params(),
          "artifact record");
    }
    return ListRecords<v1::StoredArtifact>(
        "SELECT record FROM artifacts WHERE app_id = $1 ORDER BY k",
        Params().Text(app_id), "artifact record");
  }

  absl::StatusOr<std::optional<v1::IdempotencyRecord>> GetIdempotency(
      std::string_view app_id, std::string_view key) override {
    return GetRecord<v1::IdempotencyRecord>(
        "SELECT record FROM idempotency WHERE app_id = $1 AND key_sha256 = $2",
        Params().Text(app_id).Text(Sha256::HexHash(key)), "idempotency record");
  }

  absl::Status YankArtifact(const v1::StoredArtifact& artifact,
                            const std::vector<v1::Release>& halted,
                            v1::AuditEntry audit) override {
    const auto& st = artifact.statement();
    return Write("storing a yank", &audit, Change{st.app_id(), "release"},
                 [&](Conn& c, WriteContext&) -> absl::Status {
                   STRATA_RETURN_IF_ERROR(PutArtifactRecord(c, artifact));
                   for (const v1::Release& r : halted) {
                     STRATA_RETURN_IF_ERROR(PutRelease(c, r));
                   }
                   return absl::OkStatus();
                 });
  }

  absl::StatusOr<std::string> DeleteArtifactContent(
      std::string_view sha256,
      const std::function<absl::StatusOr<std::string>(
          std::vector<v1::StoredArtifact>*)>& still_needed,
      v1::AuditEntry audit) override {
    const std::string sha(sha256);
    std::string keep;
    const std::string app = audit.app_id();
    STRATA_RETURN_IF_ERROR(Write(
        "deleting yanked content", &audit, Change{app, "artifact"},
        [&](Conn& c, WriteContext&) -> absl::Status {
          // Under the audit head's lock no publish or release commits: the
          // check reads (through other connections) a store that stays.
          std::vector<v1::StoredArtifact> mark;
          STRATA_ASSIGN_OR_RETURN(keep, still_needed(&mark));
          if (!keep.empty()) return absl::CancelledError("kept");
          STRATA_RETURN_IF_ERROR(DeleteManifest(c, sha));
          // Deltas to the content would rebuild it from an older version:
          // they go too (deltas from it stay).
          std::set<std::string> drop_patches, keep_patches;
          STRATA_ASSIGN_OR_RETURN(
              Result d, c.Exec("SELECT record FROM deltas", "scanning deltas"));
          for (int i = 0; i < d.rows(); ++i) {
            STRATA_ASSIGN_OR_RETURN(
                v1::StoredDelta delta,
                Parse<v1::StoredDelta>(d.bytes(i, 0), "a delta record"));
            for (std::string& patch : internal::PatchesOf(delta)) {
              (delta.to_sha256() == sha ? drop_patches : keep_patches)
                  .insert(std::move(patch));
            }
          }
          STRATA_RETURN_IF_ERROR(
              c.Exec("DELETE FROM deltas WHERE to_sha256 = $1",
                     Params().Text(sha), "deleting deltas")
                  .status());
          for (const std::string& patch : drop_patches) {
            if (!keep_patches.count(patch) && patch != sha) {
              STRATA_RETURN_IF_ERROR(DeleteManifest(c, patch));
            }
          }
          for (const v1::StoredArtifact& a : mark) {
            STRATA_RETURN_IF_ERROR(PutArtifactRecord(c, a));
          }
          return absl::OkStatus();
        }));
    return keep;
  }

  absl::Status PutModuleSchema(const v1::ModuleSchema& schema,
                               v1::AuditEntry audit) override {
    const std::string key =
        internal::ModuleKey(schema.app_id(), schema.module());
    return Write(
        "storing a module schema", &audit, Change{schema.app_id(), "schema"},
        [&](Conn& c, WriteContext&) {
          if (schema.schema().empty()) {
            return c
                .Exec("DELETE FROM module_schemas WHERE k = $1",
                      Params().Text(key), "deleting a module schema")
                .status();
          }
          return c
              .Exec(
                  "INSERT INTO module_schemas (k, record) VALUES ($1, $2) "
                  "ON CONFLICT (k) DO UPDATE SET record = EXCLUDED.record",
                  Params().Text(key).Bytes(schema.SerializeAsString()),
                  "storing a module schema")
              .status();
        });
  }

  absl::StatusOr<std::optional<v1::ModuleSchema>> GetModuleSchema(
      std::string_view app_id, const v1::ModuleId& module) override {
    return GetRecord<v1::ModuleSchema>(
        "SELECT record FROM module_schemas WHERE k = $1",
        Params().Text(internal::ModuleKey(app_id, module)), "module schema");
  }

  // ---------------------------------------------------------- delta cache

  absl::Status PutDelta(const v1::StoredDelta& delta, const BlobManifest* patch,
                        const BlobManifest* tree_patch) override {
    return InTx("storing a delta", [&](Conn& c) -> absl::Status {
      for (const BlobManifest* blob : {patch, tree_patch}) {
        if (blob != nullptr) STRATA_RETURN_IF_ERROR(PutManifest(c, *blob));
      }
      return c
          .Exec(
              "INSERT INTO deltas (from_sha256, to_sha256, record) VALUES "
              "($1, $2, $3) ON CONFLICT (from_sha256, to_sha256) DO UPDATE "
              "SET record = EXCLUDED.record",
              Params()
                  .Text(delta.from_sha256())
                  .Text(delta.to_sha256())
                  .Bytes(delta.SerializeAsString()),
              "storing a delta")
          .status();
    });
  }

  absl::StatusOr<std::optional<v1::StoredDelta>> GetDelta(
      std::string_view from_sha256, std::string_view to_sha256) override {
    return GetRecord<v1::StoredDelta>(
        "SELECT record FROM deltas WHERE from_sha256 = $1 AND to_sha256 = $2",
        Params().Text(from_sha256).Text(to_sha256), "delta record");
  }

  // ---------------------------------------------------------------- trust

  absl::Status PutTrustFiles(std::string_view app_id,
                             const std::vector<TrustFile>& files,
                             std::optional<v1::AuditEntry> audit) override {
    return Write(
        "storing trust metadata", audit.has_value() ? &*audit : nullptr,
        Change{std::string(app_id), "trust"}, [&](Conn& c, WriteContext&) {
          return AddTrustFiles(c, app_id, files);
        });
  }

  absl::StatusOr<std::vector<TrustFile>> ListTrustFiles(
      std::string_view app_id) override {
    STRATA_ASSIGN_OR_RETURN(
        Result r, Query("SELECT role, version, content FROM trust WHERE "
                        "app_id = $1 ORDER BY role, version",
                        Params().Text(app_id), "listing trust metadata"));
    std::vector<TrustFile> out;
    for (int i = 0; i < r.rows(); ++i) {
      TrustFile f{r.str(i, 0), r.u64(i, 1), r.str(i, 2)};
      // Every root, and of the other roles only the newest version.
      if (f.role != "root" && !out.empty() && out.back().role == f.role) {
        out.back() = std::move(f);
      } else {
        out.push_back(std::move(f));
      }
    }
    return out;
  }

  absl::StatusOr<std::optional<std::string>> GetTrustFile(
      std::string_view app_id, std::string_view role,
      uint64_t version) override {
    STRATA_ASSIGN_OR_RETURN(
        Result r, Query("SELECT content FROM trust WHERE app_id = $1 AND "
                        "role = $2 AND version = $3",
                        Params().Text(app_id).Text(role).U64(version),
                        "reading trust metadata"));
    if (r.rows() == 0) return std::nullopt;
    return r.str(0, 0);
  }

  absl::StatusOr<std::vector<std::string>> ListTrustApps() override {
    STRATA_ASSIGN_OR_RETURN(
        Result r, Query("SELECT app_id FROM trust_apps ORDER BY app_id",
                        Params(), "listing trust apps"));
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.str(i, 0));
    return out;
  }

  // ------------------------------------------------------------ segments

  absl::Status PutSegment(const v1::Segment& segment,
                          v1::AuditEntry audit) override {
    return Write(
        "storing a segment", &audit, Change{segment.app_id(), "segment"},
        [&](Conn& c, WriteContext&) {
          return c
              .Exec(
                  "INSERT INTO segments (app_id, name, record) VALUES ($1, "
                  "$2, $3) ON CONFLICT (app_id, name) DO UPDATE SET record "
                  "= EXCLUDED.record",
                  Params()
                      .Text(segment.app_id())
                      .Text(segment.name())
                      .Bytes(segment.SerializeAsString()),
                  "storing a segment")
              .status();
        });
  }

  absl::Status DeleteSegment(std::string_view app_id, std::string_view name,
                             v1::AuditEntry audit) override {
    return Write(
        "deleting a segment", &audit, Change{std::string(app_id), "segment"},
        [&](Conn& c, WriteContext&) {
          return c
              .Exec(
                  "DELETE FROM segments WHERE app_id = $1 AND "
                  "name = $2",
                  Params().Text(app_id).Text(name), "deleting a segment")
              .status();
        });
  }

  absl::StatusOr<std::vector<v1::Segment>> ListSegments(
      std::string_view app_id) override {
    return ListRecords<v1::Segment>(
        "SELECT record FROM segments WHERE app_id = $1 ORDER BY name",
        Params().Text(app_id), "segment record");
  }

  // ------------------------------------------------------------- reports

  absl::Status AppendReport(std::string_view app_id,
                            const v1::StoredReport& report,
                            const HealthUpdate* health) override {
    return InTx("storing a device report", [&](Conn& c) -> absl::Status {
      STRATA_RETURN_IF_ERROR(AddReport(c, app_id, report));
      if (health != nullptr) STRATA_RETURN_IF_ERROR(AddHealth(c, *health));
      return absl::OkStatus();
    });
  }

  absl::Status ImportReports(
      std::string_view app_id,
      const std::vector<v1::StoredReport>& reports) override {
    return InTx("importing device reports", [&](Conn& c) -> absl::Status {
      for (const v1::StoredReport& r : reports) {
        STRATA_RETURN_IF_ERROR(AddReport(c, app_id, r));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<bool>> HaveReportEvents(
      std::string_view app_id, std::string_view device_id,
      const std::vector<std::string>& event_ids) override {
    std::vector<bool> out(event_ids.size(), false);
    if (event_ids.empty()) return out;
    STRATA_ASSIGN_OR_RETURN(
        Result r,
        Query("SELECT event_id FROM report_events WHERE app_id = $1 AND "
              "device_sha256 = $2 AND event_id = ANY($3::text[])",
              Params()
                  .Text(app_id)
                  .Text(Sha256::HexHash(device_id))
                  .Text(ArrayLiteral(event_ids)),
              "reading report event ids"));
    std::set<std::string> found;
    for (int i = 0; i < r.rows(); ++i) found.insert(r.str(i, 0));
    for (size_t i = 0; i < event_ids.size(); ++i) {
      out[i] = found.count(event_ids[i]) > 0;
    }
    return out;
  }

  absl::StatusOr<std::pair<uint64_t, uint64_t>> PruneReports(
      int64_t before_unix) override {
    uint64_t reports = 0, events = 0;
    while (true) {
      uint64_t batch = 0;
      STRATA_RETURN_IF_ERROR(
          InTx("pruning old reports", [&](Conn& c) -> absl::Status {
            STRATA_ASSIGN_OR_RETURN(
                Result r,
                c.Exec("DELETE FROM reports WHERE seq IN (SELECT seq FROM "
                       "reports WHERE received_at < $1 ORDER BY seq LIMIT "
                       "1000) RETURNING seq, record",
                       Params().Int(before_unix), "pruning old reports"));
            std::vector<std::string> seqs;
            for (int i = 0; i < r.rows(); ++i) {
              seqs.push_back(std::to_string(r.i64(i, 0)));
              STRATA_ASSIGN_OR_RETURN(
                  v1::StoredReport report,
                  Parse<v1::StoredReport>(r.bytes(i, 1), "a device report"));
              events += static_cast<uint64_t>(report.events_size());
            }
            batch = seqs.size();
            if (seqs.empty()) return absl::OkStatus();
            return c
                .Exec(
                    "DELETE FROM report_events WHERE report_seq = "
                    "ANY($1::bigint[])",
                    Params().Text(ArrayLiteral(seqs)),
                    "pruning old report event ids")
                .status();
          }));
      reports += batch;
      if (batch < 1000) break;
    }
    return std::make_pair(reports, events);
  }

  absl::StatusOr<std::string> GetOrCreateReportTicketKey(
      uint32_t key_id, std::string_view candidate) override {
    const std::string key = StrCat("report_ticket_key/", key_id);
    // The first writer of any replica wins; every caller reads its key.
    STRATA_RETURN_IF_ERROR(
        Query("INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT DO NOTHING",
              Params().Text(key).Bytes(candidate),
              "storing the report ticket key")
            .status());
    STRATA_ASSIGN_OR_RETURN(
        Result r, Query("SELECT v FROM meta WHERE k = $1", Params().Text(key),
                        "reading the report ticket key"));
    if (r.rows() == 0) {
      return absl::DataLossError("the report ticket key vanished");
    }
    return r.str(0, 0);
  }

  absl::StatusOr<std::vector<v1::StoredReport>> ListReports(
      std::string_view app_id, uint32_t limit) override {
    return ListRecords<v1::StoredReport>(
        "SELECT record FROM reports WHERE app_id = $1 ORDER BY seq LIMIT $2",
        Params().Text(app_id).Int(limit), "device report");
  }

  absl::Status ForEachReport(
      const std::function<bool(std::string_view, const v1::StoredReport&)>& fn)
      override {
    // Pages in (app, seq) order: memory stays at one page.
    std::string app;
    int64_t seq = -1;
    while (true) {
      STRATA_ASSIGN_OR_RETURN(
          Result r, Query("SELECT app_id, seq, record FROM reports WHERE "
                          "(app_id, seq) > ($1, $2) ORDER BY app_id, seq "
                          "LIMIT 1000",
                          Params().Text(app).Int(seq), "reading reports"));
      for (int i = 0; i < r.rows(); ++i) {
        app = r.str(i, 0);
        seq = r.i64(i, 1);
        STRATA_ASSIGN_OR_RETURN(
            v1::StoredReport report,
            Parse<v1::StoredReport>(r.bytes(i, 2), "a device report"));
        if (!fn(app, report)) return absl::OkStatus();
      }
      if (r.rows() < 1000) return absl::OkStatus();
    }
  }

  // ------------------------------------------------------ health aggregates

  absl::StatusOr<std::vector<std::optional<v1::StoredDeviceMarks>>>
  GetHealthMarks(const std::vector<HealthMarks>& keys) override {
    std::vector<std::optional<v1::StoredDeviceMarks>> out(keys.size());
    if (keys.empty()) return out;
    std::vector<std::string> rel, cohort, stage, device;
    for (const HealthMarks& k : keys) {
      rel.push_back(std::to_string(k.window.release_id));
      cohort.push_back(std::to_string(k.window.cohort));
      stage.push_back(std::to_string(k.window.stage));
      device.push_back(std::to_string(static_cast<int64_t>(k.device)));
    }
    STRATA_ASSIGN_OR_RETURN(
        Result r,
        Query("SELECT k.i::bigint, m.marks FROM unnest($1::bigint[], "
              "$2::integer[], $3::integer[], $4::bigint[]) WITH ORDINALITY "
              "AS k(r, c, s, d, i) JOIN health_marks m ON m.release_id = k.r "
              "AND m.cohort = k.c AND m.stage = k.s AND m.device = k.d",
              Params()
                  .Text(ArrayLiteral(rel))
                  .Text(ArrayLiteral(cohort))
                  .Text(ArrayLiteral(stage))
                  .Text(ArrayLiteral(device)),
              "reading device marks"));
    for (int i = 0; i < r.rows(); ++i) {
      const int64_t at = r.i64(i, 0) - 1;
      if (at < 0 || at >= static_cast<int64_t>(out.size())) continue;
      STRATA_ASSIGN_OR_RETURN(
          out[static_cast<size_t>(at)],
          Parse<v1::StoredDeviceMarks>(r.bytes(i, 1), "device marks"));
    }
    return out;
  }

  absl::Status ForEachHealthBucket(
      const std::function<bool(const HealthBucket&)>& fn) override {
    STRATA_ASSIGN_OR_RETURN(
        Result r, Query("SELECT release_id, cohort, stage, hour, figures FROM "
                        "health_buckets ORDER BY release_id, cohort, stage, "
                        "hour",
                        Params(), "reading release health"));
    for (int i = 0; i < r.rows(); ++i) {
      HealthBucket b;
      b.window.release_id = r.u64(i, 0);
      b.window.cohort = static_cast<int32_t>(r.i64(i, 1));
      b.window.stage = static_cast<int32_t>(r.i64(i, 2));
      b.hour_unix = r.i64(i, 3);
      STRATA_ASSIGN_OR_RETURN(
          b.figures, Parse<v1::StoredHealthFigures>(r.bytes(i, 4),
                                                    "a release health record"));
      if (!fn(b)) break;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> HealthAggregatesBuilt() override {
    STRATA_ASSIGN_OR_RETURN(Result r, Query("SELECT 1 FROM meta WHERE k = $1",
                                            Params().Text(kPgHealthBuiltKey),
                                            "reading the health mark"));
    return r.rows() > 0;
  }

  absl::Status BeginHealthRebuild() override {
    return InTx("clearing release health for a rebuild", [&](Conn& c) {
      return c.Script(
          StrCat("DELETE FROM meta WHERE k = '", kPgHealthBuiltKey,
                 "'; DELETE FROM health_buckets; DELETE FROM health_marks;"),
          "clearing release health");
    });
  }

  absl::Status PutHealthRebuild(const HealthUpdate& part) override {
    return InTx("storing rebuilt release health",
                [&](Conn& c) { return AddHealth(c, part); });
  }

  absl::Status FinishHealthRebuild() override {
    return Query(
               "INSERT INTO meta (k, v) VALUES ($1, '\\x31') ON CONFLICT "
               "DO NOTHING",
               Params().Text(kPgHealthBuiltKey),
               "marking release health rebuilt")
        .status();
  }

  // ------------------------------------------------------------- releases

  absl::StatusOr<v1::Release> CreateRelease(
      v1::Release release, v1::AuditEntry audit, v1::Release* also_update,
      const std::vector<TrustFile>* trust) override {
    if (release.artifacts().empty()) {
      v1::ReleaseArtifact* a = release.add_artifacts();
      *a->mutable_module() = release.module();
      a->set_version(release.version());
    }
    v1::Release stored;
    v1::Release updated;
    STRATA_RETURN_IF_ERROR(Write(
        "storing release", &audit, Change{release.app_id(), "release"},
        [&](Conn& c, WriteContext& w) -> absl::Status {
          stored = release;  // a retried transaction starts over
          STRATA_ASSIGN_OR_RETURN(
              Result id,
              c.Exec("INSERT INTO counters (k, v) VALUES ('next_release_id', "
                     "1) ON CONFLICT (k) DO UPDATE SET v = counters.v + 1 "
                     "RETURNING v",
                     "assigning a release id"));
          stored.set_release_id(id.u64(0, 0));
          std::string sequences;
          for (v1::ReleaseArtifact& a : *stored.mutable_artifacts()) {
            const std::string key = StrCat(
                "seq/", internal::ModuleKey(stored.app_id(), a.module()));
            STRATA_ASSIGN_OR_RETURN(
                Result cur, c.Exec("SELECT v FROM counters WHERE k = $1",
                                   Params().Text(key), "reading a sequence"));
            const uint64_t seq = cur.rows() > 0 ? cur.u64(0, 0) : 0;
            // A signed counter is kept; the server's own counter never
            // falls behind it.
            if (a.release_sequence() == 0) a.set_release_sequence(seq + 1);
            STRATA_RETURN_IF_ERROR(
                c.Exec("INSERT INTO counters (k, v) VALUES ($1, $2) ON "
                       "CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                       Params().Text(key).U64(
                           std::max(seq, a.release_sequence())),
                       "storing a sequence")
                    .status());
            if (!sequences.empty()) sequences += ",";
            sequences += std::to_string(a.release_sequence());
          }
          if (trust != nullptr) {
            STRATA_RETURN_IF_ERROR(AddTrustFiles(c, stored.app_id(), *trust));
          }
          stored.set_created_audit_seq(w.next_audit_seq);
          *stored.mutable_module() = stored.artifacts(0).module();
          stored.set_version(stored.artifacts(0).version());
          stored.set_release_sequence(stored.artifacts(0).release_sequence());
          STRATA_RETURN_IF_ERROR(PutRelease(c, stored));
          if (also_update != nullptr) {
            updated = *also_update;
            updated.set_rolled_back_by_release_id(stored.release_id());
            STRATA_RETURN_IF_ERROR(PutRelease(c, updated));
          }
          w.audit->set_detail(StrCat(audit.detail(),
                                     " release_id=", stored.release_id(),
                                     " sequence=", sequences));
          return absl::OkStatus();
        }));
    if (also_update != nullptr) *also_update = updated;
    return stored;
  }

  absl::Status UpdateRelease(const v1::Release& release,
                             v1::AuditEntry audit) override {
    return Write(
        "updating release", &audit, Change{release.app_id(), "release"},
        [&](Conn& c, WriteContext&) -> absl::Status {
          STRATA_ASSIGN_OR_RETURN(
              Result r,
              c.Exec("SELECT 1 FROM releases WHERE app_id = $1 AND "
                     "release_id = $2",
                     Params().Text(release.app_id()).U64(release.release_id()),
                     "reading a release"));
          if (r.rows() == 0) {
            return absl::NotFoundError(StrCat("release ", release.release_id(),
                                              " of app ", release.app_id(),
                                              " does not exist"));
          }
          return PutRelease(c, release);
        });
  }

  absl::StatusOr<std::optional<v1::Release>> GetRelease(
      std::string_view app_id, uint64_t release_id) override {
    return GetRecord<v1::Release>(
        "SELECT record FROM releases WHERE app_id = $1 AND release_id = $2",
        Params().Text(app_id).U64(release_id), "release record");
  }

  absl::StatusOr<std::vector<v1::Release>> ListAllReleases() override {
    return ListReleases("");
  }

  absl::StatusOr<std::vector<v1::Release>> ListReleases(
      std::string_view app_id) override {
    if (app_id.empty()) {
      return ListRecords<v1::Release>(
          "SELECT record FROM releases ORDER BY app_id, release_id", Params(),
          "release record");
    }
    return ListRecords<v1::Release>(
        "SELECT record FROM releases WHERE app_id = $1 ORDER BY release_id",
        Params().Text(app_id), "release record");
  }

  // --------------------------------------------------------------- tokens

  absl::Status PutToken(std::string_view secret_sha256,
                        const v1::StoredToken& token,
                        v1::AuditEntry audit) override {
    return Write(
        "storing token", &audit, Change{"", "token"},
        [&](Conn& c, WriteContext&) {
          return c
              .Exec(
                  "INSERT INTO tokens (secret_sha256, record) "
                  "VALUES ($1, $2) ON CONFLICT (secret_sha256) DO "
                  "UPDATE SET record = EXCLUDED.record",
                  Params().Text(secret_sha256).Bytes(token.SerializeAsString()),
                  "storing token")
              .status();
        });
  }

  absl::StatusOr<std::optional<v1::StoredToken>> GetToken(
      std::string_view secret_sha256) override {
    return GetRecord<v1::StoredToken>(
        "SELECT record FROM tokens WHERE secret_sha256 = $1",
        Params().Text(secret_sha256), "token record");
  }

  absl::StatusOr<bool> HasAnyToken() override {
    STRATA_ASSIGN_OR_RETURN(Result r, Query("SELECT 1 FROM tokens LIMIT 1",
                                            Params(), "scanning tokens"));
    return r.rows() > 0;
  }

  absl::StatusOr<std::vector<TokenRecord>> ListTokens() override {
    STRATA_ASSIGN_OR_RETURN(
        Result r,
        Query("SELECT secret_sha256, record FROM tokens ORDER BY secret_sha256",
              Params(), "listing tokens"));
    std::vector<TokenRecord> out;
    for (int i = 0; i < r.rows(); ++i) {
      STRATA_ASSIGN_OR_RETURN(
          v1::StoredToken token,
          Parse<v1::StoredToken>(r.bytes(i, 1), "a token record"));
      out.push_back(TokenRecord{r.str(i, 0), std::move(token)});
    }
    return out;
  }

  // ---------------------------------------------------------------- audit

  absl::Status AppendAudit(v1::AuditEntry audit) override {
    return Write("appending to the audit log", &audit, std::nullopt,
                 [](Conn&, WriteContext&) { return absl::OkStatus(); });
  }

  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(
      uint64_t after_seq, uint32_t limit) override {
    return ListRecords<v1::AuditEntry>(
        "SELECT entry FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
        Params().U64(after_seq).Int(limit), "audit entry");
  }

  absl::StatusOr<uint64_t> Checkpoint(std::string_view /*dir*/) override {
    return absl::UnimplementedError(
        "the metadata is in PostgreSQL: back it up with PostgreSQL's own "
        "tools (pg_dump, or pg_basebackup with WAL archiving); `strata "
        "backup` copies the embedded RocksDB only");
  }

  absl::Status Importing(const std::function<absl::Status()>& fn) override {
    importing = true;
    absl::Status s = fn();
    importing = false;
    return s;
  }

  absl::Status ImportReleases(
      const std::vector<v1::Release>& releases) override {
    return InTx("importing releases", [&](Conn& c) -> absl::Status {
      uint64_t max_id = 0;
      std::map<std::string, uint64_t> sequences;
      for (const v1::Release& r : releases) {
        STRATA_RETURN_IF_ERROR(PutRelease(c, r));
        max_id = std::max(max_id, r.release_id());
        for (const v1::ReleaseArtifact& a : r.artifacts()) {
          uint64_t& seq = sequences[StrCat(
              "seq/", internal::ModuleKey(r.app_id(), a.module()))];
          seq = std::max(seq, a.release_sequence());
        }
      }
      sequences["next_release_id"] = max_id;
      for (const auto& [k, v] : sequences) {
        STRATA_RETURN_IF_ERROR(
            c.Exec("INSERT INTO counters (k, v) VALUES ($1, $2) ON CONFLICT "
                   "(k) DO UPDATE SET v = greatest(counters.v, EXCLUDED.v)",
                   Params().Text(k).U64(v), "importing a counter")
                .status());
      }
      return absl::OkStatus();
    });
  }

  absl::Status ImportAudit(
      const std::vector<v1::AuditEntry>& entries) override {
    if (entries.empty()) return absl::OkStatus();
    return InTx("importing the audit log", [&](Conn& c) -> absl::Status {
      STRATA_ASSIGN_OR_RETURN(
          Result head,
          c.Exec("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
                 "locking the audit chain"));
      if (head.rows() != 1) {
        return absl::DataLossError("the audit chain's head row is missing");
      }
      STRATA_RETURN_IF_ERROR(
          VerifyAuditChain(entries, head.u64(0, 0) + 1, head.str(0, 1)));
      for (const v1::AuditEntry& e : entries) {
        STRATA_RETURN_IF_ERROR(
            c.Exec("INSERT INTO audit (seq, entry) VALUES ($1, $2)",
                   Params().U64(e.seq()).Bytes(e.SerializeAsString()),
                   "importing an audit entry")
                .status());
      }
      return c
          .Exec("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                Params().U64(entries.back().seq()).Text(entries.back().hash()),
                "moving the audit chain's head")
          .status();
    });
  }

  absl::Status RawPutAuditForTesting(const v1::AuditEntry& entry) override {
    return Query(
               "INSERT INTO audit (seq, entry) VALUES ($1, $2) ON CONFLICT "
               "(seq) DO UPDATE SET entry = EXCLUDED.entry",
               Params().U64(entry.seq()).Bytes(entry.SerializeAsString()),
               "overwriting an audit entry")
        .status();
  }

  // ------------------------------------------------------------- replicas

  bool shared() const override { return true; }

  absl::StatusOr<uint64_t> AcquireLease(std::string_view name,
                                        std::string_view holder,
                                        absl::Duration ttl) override {
    // The epoch stays while the holder renews in time, and grows when the
    // lease changes hands or lapsed (the lapsed holder's fence is gone).
    STRATA_ASSIGN_OR_RETURN(
        Result r,
        Query("INSERT INTO leases (name, holder, epoch, expires_at) VALUES "
              "($1, $2, 1, clock_timestamp() + make_interval(secs => $3)) "
              "ON CONFLICT (name) DO UPDATE SET epoch = CASE WHEN "
              "leases.holder = EXCLUDED.holder AND leases.expires_at > "
              "clock_timestamp() THEN leases.epoch ELSE leases.epoch + 1 END, "
              "holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at "
              "WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= "
              "clock_timestamp() RETURNING epoch",
              Params().Text(name).Text(holder).Text(
                  std::to_string(absl::ToDoubleSeconds(ttl))),
              StrCat("taking the ", name, " lease")));
    return r.rows() == 0 ? 0 : r.u64(0, 0);
  }

  absl::Status Fenced(std::string_view name, std::string_view holder,
                      uint64_t epoch,
                      const std::function<absl::Status()>& fn) override {
    const Fence fence{std::string(name), std::string(holder), epoch};
    const Fence* outer = current_fence;
    current_fence = &fence;
    absl::Status s = fn();
    current_fence = outer;
    return s;
  }

  absl::Status StartChangeFeed(
      std::function<void(const StoreChange&)> fn) override {
    MutexLock lock(&feed_mu_);
    if (feed_.joinable()) {
      return absl::FailedPreconditionError("the change feed runs already");
    }
    if (::pipe(wake_) != 0) {
      return absl::InternalError("making the change feed's wake-up pipe");
    }
    feed_ = std::thread([this, fn = std::move(fn)] { FeedLoop(fn); });
    return absl::OkStatus();
  }

 private:
  // ------------------------------------------------------ transactions

  // One statement outside a transaction. A dead pooled connection (the
  // server restarted since) is replaced once.
  absl::StatusOr<Result> Query(const char* sql, const Params& p,
                               std::string_view what) {
    for (int attempt = 0;; ++attempt) {
      STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Conn> raw, pool_.Get());
      Lease c(&pool_, std::move(raw));
      absl::StatusOr<Result> r = c->Exec(sql, p, what);
      if (r.ok() || !c->broken() || attempt > 0) return r;
      pool_.DropIdle();
    }
  }

  // `body` in one transaction (BEGIN ... COMMIT). A connection found dead
  // at BEGIN (nothing sent yet) is replaced once.
  absl::Status InTx(std::string_view what,
                    const std::function<absl::Status(Conn&)>& body) {
    for (int attempt = 0;; ++attempt) {
      STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Conn> raw, pool_.Get());
      Lease c(&pool_, std::move(raw));
      absl::Status begun = c->Exec("BEGIN", what).status();
      if (!begun.ok()) {
        if (c->broken() && attempt == 0) {
          pool_.DropIdle();
          continue;
        }
        return begun;
      }
      absl::Status s = body(*c);
      if (s.ok()) {
        s = c->Exec("COMMIT", what).status();
        if (!s.ok() && c->broken()) {
          return absl::UnavailableError(StrCat(
              what,
              ": the connection to PostgreSQL was lost while committing; "
              "the change may or may not be stored: look before retrying "
              "(a publish retried with its idempotency key is safe)"));
        }
        return s;
      }
      if (!c->broken()) (void)c->Exec("ROLLBACK", what);
      return s;
    }
  }

  // A mutation: with an audit entry or a change row, first locks the audit
  // chain's head (one total order across replicas; change rows commit in
  // sequence order), then runs `body`, appends the audit entry and the
  // change row, and NOTIFYs the other replicas, all in one transaction.
  absl::Status Write(
      std::string_view what, v1::AuditEntry* audit,
      std::optional<Change> change,
      const std::function<absl::Status(Conn&, WriteContext&)>& body) {
    const v1::AuditEntry original =
        audit != nullptr ? *audit : v1::AuditEntry();
    absl::Status s = InTx(what, [&](Conn& c) -> absl::Status {
      WriteContext w;
      v1::AuditEntry entry = original;
      w.audit = &entry;
      uint64_t head_seq = 0;
      std::string head_hash;
      if (audit != nullptr || change.has_value()) {
        STRATA_ASSIGN_OR_RETURN(
            Result head, c.Exec("SELECT seq, hash FROM audit_head WHERE id = "
                                "1 FOR UPDATE",
                                "locking the audit chain"));
        if (head.rows() != 1) {
          return absl::DataLossError(
              "the audit chain's head row is missing in PostgreSQL; restore "
              "the database from a backup");
        }
        head_seq = head.u64(0, 0);
        head_hash = head.str(0, 1);
      }
      if (current_fence != nullptr && audit != nullptr) {
        // Held in share mode to the commit: the lease cannot change hands
        // before this write is in.
        STRATA_ASSIGN_OR_RETURN(
            Result held,
            c.Exec("SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND "
                   "epoch = $3 AND expires_at > clock_timestamp() FOR SHARE",
                   Params()
                       .Text(current_fence->name)
                       .Text(current_fence->holder)
                       .U64(current_fence->epoch),
                   "checking the lease"));
        if (held.rows() == 0) {
          return absl::AbortedError(StrCat(
              what, ": refused, this replica no longer holds the ",
              current_fence->name, " lease (epoch ", current_fence->epoch,
              "); another replica leads now and decides afresh"));
        }
      }
      w.next_audit_seq = head_seq + 1;
      STRATA_RETURN_IF_ERROR(body(c, w));
      if (audit != nullptr && !importing) {
        entry.set_seq(head_seq + 1);
        entry.set_prev_hash(head_hash);
        entry.set_hash(AuditEntryHash(entry));
        STRATA_RETURN_IF_ERROR(
            c.Exec("INSERT INTO audit (seq, entry) VALUES ($1, $2)",
                   Params().U64(entry.seq()).Bytes(entry.SerializeAsString()),
                   "appending the audit entry")
                .status());
        STRATA_RETURN_IF_ERROR(
            c.Exec("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                   Params().U64(entry.seq()).Text(entry.hash()),
                   "moving the audit chain's head")
                .status());
      }
      if (change.has_value() && !importing) {
        STRATA_RETURN_IF_ERROR(
            c.Exec(
                 "INSERT INTO changes (app_id, kind, origin) VALUES ($1, "
                 "$2, $3)",
                 Params().Text(change->app_id).Text(change->kind).Text(origin_),
                 "recording the change")
                .status());
        STRATA_RETURN_IF_ERROR(c.Exec("SELECT pg_notify($1, '')",
                                      Params().Text(channel_),
                                      "notifying the other replicas")
                                   .status());
      }
      if (audit != nullptr) *audit = entry;
      return absl::OkStatus();
    });
    // DeleteArtifactContent's "kept" ends the transaction without a change.
    if (absl::IsCancelled(s) && s.message() == "kept") return absl::OkStatus();
    return s;
  }

  template <typename Proto>
  absl::StatusOr<std::optional<Proto>> GetRecord(const char* sql,
                                                 const Params& p,
                                                 std::string_view what) {
    STRATA_ASSIGN_OR_RETURN(Result r, Query(sql, p, StrCat("reading ", what)));
    if (r.rows() == 0) return std::nullopt;
    STRATA_ASSIGN_OR_RETURN(Proto proto, Parse<Proto>(r.bytes(0, 0), what));
    return proto;
  }

  template <typename Proto>
  absl::StatusOr<std::vector<Proto>> ListRecords(const char* sql,
                                                 const Params& p,
                                                 std::string_view what) {
    STRATA_ASSIGN_OR_RETURN(Result r, Query(sql, p, StrCat("listing ", what)));
    std::vector<Proto> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      STRATA_ASSIGN_OR_RETURN(Proto proto, Parse<Proto>(r.bytes(i, 0), what));
      out.push_back(std::move(proto));
    }
    return out;
  }

  // ------------------------------------------------- pieces of a write

  absl::Status PutManifest(Conn& c, const BlobManifest& blob) {
    STRATA_RETURN_IF_ERROR(
        c.Exec("INSERT INTO blobs (sha256, manifest) VALUES ($1, $2) ON "
               "CONFLICT (sha256) DO UPDATE SET manifest = EXCLUDED.manifest",
               Params()
                   .Text(blob.sha256)
                   .Bytes(internal::ToStoredBlob(blob).SerializeAsString()),
               "storing a blob manifest")
            .status());
    STRATA_RETURN_IF_ERROR(
        c.Exec("DELETE FROM blob_chunks WHERE blob_sha256 = $1",
               Params().Text(blob.sha256), "storing a blob manifest")
            .status());
    std::vector<std::string> idx, sha;
    for (size_t i = 0; i < blob.chunks.size(); ++i) {
      idx.push_back(std::to_string(i));
      sha.push_back(blob.chunks[i].sha256);
    }
    if (idx.empty()) return absl::OkStatus();
    return c
        .Exec(
            "INSERT INTO blob_chunks (blob_sha256, idx, chunk_sha256) "
            "SELECT $1, i, s FROM unnest($2::integer[], $3::text[]) AS "
            "t(i, s)",
            Params()
                .Text(blob.sha256)
                .Text(ArrayLiteral(idx))
                .Text(ArrayLiteral(sha)),
            "storing a blob manifest")
        .status();
  }

  absl::Status DeleteManifest(Conn& c, const std::string& sha) {
    STRATA_RETURN_IF_ERROR(c.Exec("DELETE FROM blobs WHERE sha256 = $1",
                                  Params().Text(sha), "deleting a manifest")
                               .status());
    return c
        .Exec("DELETE FROM blob_chunks WHERE blob_sha256 = $1",
              Params().Text(sha), "deleting a manifest")
        .status();
  }

  absl::Status PutArtifactRecord(Conn& c, const v1::StoredArtifact& a) {
    const auto& st = a.statement();
    return c
        .Exec(
            "INSERT INTO artifacts (k, app_id, record) VALUES ($1, $2, $3) "
            "ON CONFLICT (k) DO UPDATE SET record = EXCLUDED.record",
            Params()
                .Text(ArtifactKey(st.app_id(), st.module(), st.version()))
                .Text(st.app_id())
                .Bytes(a.SerializeAsString()),
            "storing an artifact record")
        .status();
  }

  absl::Status PutRelease(Conn& c, const v1::Release& r) {
    return c
        .Exec(
            "INSERT INTO releases (app_id, release_id, record) VALUES ($1, "
            "$2, $3) ON CONFLICT (app_id, release_id) DO UPDATE SET record "
            "= EXCLUDED.record",
            Params()
                .Text(r.app_id())
                .U64(r.release_id())
                .Bytes(r.SerializeAsString()),
            "storing a release")
        .status();
  }

  // Roots, targets and snapshots keep every version; other roles keep the
  // newest only.
  absl::Status AddTrustFiles(Conn& c, std::string_view app,
                             const std::vector<TrustFile>& files) {
    STRATA_RETURN_IF_ERROR(
        c.Exec("INSERT INTO trust_apps (app_id) VALUES ($1) ON CONFLICT DO "
               "NOTHING",
               Params().Text(app), "storing trust metadata")
            .status());
    // Replicas sign from their own view of the app: a version another
    // replica stored first with other bytes is never overwritten (trust
    // writes hold the audit head's lock, so this check cannot race), the
    // writer fails ABORTED and retries once its view is reloaded.
    auto conflict = [&](const TrustFile& f) {
      return absl::AbortedError(
          StrCat("the ", f.role, " metadata of app ", app, " reached version ",
                 f.version,
                 " through another replica first; retry (this "
                 "replica reloads the app's trust as the change arrives)"));
    };
    for (const TrustFile& f : files) {
      if (!KeepsTrustHistory(f.role)) {
        STRATA_ASSIGN_OR_RETURN(
            Result newer,
            c.Exec(
                "SELECT 1 FROM trust WHERE app_id = $1 AND role = $2 AND "
                "(version > $3 OR (version = $3 AND content <> $4))",
                Params().Text(app).Text(f.role).U64(f.version).Bytes(f.content),
                "storing trust metadata"));
        if (newer.rows() > 0) return conflict(f);
        STRATA_RETURN_IF_ERROR(
            c.Exec("DELETE FROM trust WHERE app_id = $1 AND role = $2",
                   Params().Text(app).Text(f.role), "storing trust metadata")
                .status());
      }
      STRATA_ASSIGN_OR_RETURN(
          Result put,
          c.Exec(
              "INSERT INTO trust (app_id, role, version, content) VALUES "
              "($1, $2, $3, $4) ON CONFLICT (app_id, role, version) DO "
              "UPDATE SET content = EXCLUDED.content WHERE trust.content = "
              "EXCLUDED.content",
              Params().Text(app).Text(f.role).U64(f.version).Bytes(f.content),
              "storing trust metadata"));
      if (put.affected() == 0) return conflict(f);
    }
    return absl::OkStatus();
  }

  absl::Status AddReport(Conn& c, std::string_view app_id,
                         const v1::StoredReport& report) {
    STRATA_ASSIGN_OR_RETURN(
        Result r,
        c.Exec("INSERT INTO reports (app_id, received_at, record) VALUES ($1, "
               "$2, $3) RETURNING seq",
               Params()
                   .Text(app_id)
                   .Int(report.received_at_unix())
                   .Bytes(report.SerializeAsString()),
               "storing a device report"));
    const int64_t seq = r.i64(0, 0);
    std::vector<std::string> ids;
    for (const v1::ReportEvent& e : report.events()) {
      if (!e.event_id().empty()) ids.push_back(e.event_id());
    }
    if (ids.empty()) return absl::OkStatus();
    return c
        .Exec(
            "INSERT INTO report_events (app_id, device_sha256, event_id, "
            "report_seq) SELECT $1, $2, e, $3 FROM unnest($4::text[]) AS e "
            "ON CONFLICT (app_id, device_sha256, event_id) DO UPDATE SET "
            "report_seq = EXCLUDED.report_seq",
            Params()
                .Text(app_id)
                .Text(Sha256::HexHash(report.device_id()))
                .Int(seq)
                .Text(ArrayLiteral(ids)),
            "storing report event ids")
        .status();
  }

  // Marks replace the stored ones; bucket figures are added to the stored
  // ones under the bucket's row lock (buckets in key order: no deadlock
  // between two reports).
  absl::Status AddHealth(Conn& c, const HealthUpdate& health) {
    std::vector<const HealthMarks*> marks;
    for (const HealthMarks& m : health.marks) marks.push_back(&m);
    std::sort(marks.begin(), marks.end(), [](const auto* a, const auto* b) {
      return std::tie(a->window.release_id, a->window.cohort, a->window.stage,
                      a->device) < std::tie(b->window.release_id,
                                            b->window.cohort, b->window.stage,
                                            b->device);
    });
    for (const HealthMarks* m : marks) {
      STRATA_RETURN_IF_ERROR(
          c.Exec("INSERT INTO health_marks (release_id, cohort, stage, "
                 "device, marks) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
                 "(release_id, cohort, stage, device) DO UPDATE SET marks = "
                 "EXCLUDED.marks",
                 Params()
                     .U64(m->window.release_id)
                     .Int(m->window.cohort)
                     .Int(m->window.stage)
                     .U64(m->device)
                     .Bytes(m->marks.SerializeAsString()),
                 "storing device marks")
              .status());
    }
    std::map<std::tuple<uint64_t, int32_t, int32_t, int64_t>,
             v1::StoredHealthFigures>
        buckets;
    for (const HealthBucket& b : health.buckets) {
      AddHealthFigures(buckets[{b.window.release_id, b.window.cohort,
                                b.window.stage, b.hour_unix}],
                       b.figures);
    }
    for (const auto& [key, delta] : buckets) {
      const auto& [release, cohort, stage, hour] = key;
      Params where;
      where.U64(release).Int(cohort).Int(stage).Int(hour);
      STRATA_ASSIGN_OR_RETURN(
          Result inserted,
          c.Exec("INSERT INTO health_buckets (release_id, cohort, stage, "
                 "hour, figures) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO "
                 "NOTHING",
                 Params(where).Bytes(delta.SerializeAsString()),
                 "adding to release health"));
      if (inserted.affected() == 1) continue;
      STRATA_ASSIGN_OR_RETURN(
          Result cur,
          c.Exec("SELECT figures FROM health_buckets WHERE release_id = $1 "
                 "AND cohort = $2 AND stage = $3 AND hour = $4 FOR UPDATE",
                 where, "adding to release health"));
      if (cur.rows() != 1) {
        return absl::AbortedError(
            "a release health bucket vanished during an update (a rebuild "
            "ran); retry");
      }
      STRATA_ASSIGN_OR_RETURN(v1::StoredHealthFigures sum,
                              Parse<v1::StoredHealthFigures>(
                                  cur.bytes(0, 0), "a release health record"));
      AddHealthFigures(sum, delta);
      STRATA_RETURN_IF_ERROR(
          c.Exec("UPDATE health_buckets SET figures = $5 WHERE release_id = "
                 "$1 AND cohort = $2 AND stage = $3 AND hour = $4",
                 Params(where).Bytes(sum.SerializeAsString()),
                 "adding to release health")
              .status());
    }
    return absl::OkStatus();
  }

  // ------------------------------------------------------ the change feed

  // LISTEN first, then read the change log past what was seen: a NOTIFY
  // that comes meanwhile is not lost, and one that never comes (a dropped
  // connection) is made up for by the poll.
  void FeedLoop(const std::function<void(const StoreChange&)>& fn) {
    uint64_t last = feed_from_;
    std::unique_ptr<Conn> listen;
    absl::Duration backoff = absl::Milliseconds(100);
    while (!Stopping()) {
      if (listen == nullptr || listen->broken()) {
        listen.reset();
        absl::StatusOr<std::unique_ptr<Conn>> c = pool_.Connect();
        absl::StatusOr<std::string> name =
            c.ok() ? Quote((*c)->pg(), channel_) : c.status();
        if (name.ok()) {
          if ((*c)->Script(StrCat("LISTEN ", *name), "listening for changes")
                  .ok()) {
            listen = *std::move(c);
            backoff = absl::Milliseconds(100);
          }
        }
        if (listen == nullptr) {
          WaitForWake(backoff);
          backoff = std::min(backoff * 2, absl::Seconds(5));
          continue;
        }
      }
      absl::StatusOr<Result> r = listen->Exec(
          "SELECT seq, app_id, kind, origin FROM changes WHERE seq > $1 "
          "ORDER BY seq LIMIT 1000",
          Params().U64(last), "reading the change log");
      if (!r.ok()) {
        STRATA_LOG(Warning) << "change feed: " << r.status();
        listen.reset();
        continue;
      }
      for (int i = 0; i < r->rows(); ++i) {
        last = r->u64(i, 0);
        if (r->bytes(i, 3) == origin_) continue;
        fn(StoreChange{last, r->str(i, 1), r->str(i, 2)});
      }
      if (r->rows() == 1000) continue;
      WaitForNotify(*listen);
    }
  }

  bool Stopping() {
    MutexLock lock(&feed_mu_);
    return stopping_;
  }

  // Until a NOTIFY arrives, the poll interval passes or the store stops.
  void WaitForNotify(Conn& listen) {
    pollfd fds[2] = {{PQsocket(listen.pg()), POLLIN, 0}, {wake_[0], POLLIN, 0}};
    ::poll(fds, 2,
           static_cast<int>(absl::ToInt64Milliseconds(options_.feed_poll)));
    PQconsumeInput(listen.pg());
    while (PGnotify* n = PQnotifies(listen.pg())) PQfreemem(n);
  }

  void WaitForWake(absl::Duration d) {
    pollfd fd = {wake_[0], POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(d)));
  }

  const PostgresStoreOptions options_;
  Pool pool_;
  const std::string channel_;
  std::string origin_;
  uint64_t feed_from_ = 0;
  Mutex feed_mu_;
  bool stopping_ ABSL_GUARDED_BY(feed_mu_) = false;
  int wake_[2] = {-1, -1};
  std::thread feed_;
};

}  // namespace

bool IsPostgresUrl(std::string_view metadata) {
  return metadata.starts_with("postgresql://") ||
         metadata.starts_with("postgres://");
}

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(
    std::string_view url, const PostgresStoreOptions& options) {
  auto store = std::make_unique<PostgresStore>(std::string(url), options);
  STRATA_RETURN_IF_ERROR(
      Annotate(store->Init(), "opening the PostgreSQL metadata store"));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace strata::server
