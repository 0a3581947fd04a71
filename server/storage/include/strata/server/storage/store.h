// Durable server state on an embedded RocksDB. Every acknowledged mutation
// is one synced write batch, together with its audit entry: after a crash it
// is either fully there or not at all.
//
// Blobs are stored as content-addressed chunks (zstd-compressed, shared
// between blobs) plus a small manifest per blob. Chunks are written before
// the batch that references them; chunks no manifest references (an upload
// cut by a crash) are collected by CollectGarbage().
#ifndef STRATA_SERVER_STORAGE_STORE_H_
#define STRATA_SERVER_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/v1/admin.pb.h"
#include "strata/v1/storage.pb.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace strata::server {

struct StoreOptions {
  // The RocksDB Env the database runs on; null: RocksDB's default (the
  // local file system). Tests pass a fault-injecting one (power loss, a
  // full disk).
  rocksdb::Env* env = nullptr;
};

struct BlobChunk {
  std::string sha256;
  uint64_t size = 0;
};

// The chunks of one blob, in order.
struct BlobManifest {
  std::string sha256;  // of the whole blob
  uint64_t size = 0;
  std::vector<BlobChunk> chunks;
};

// One signed TUF metadata file of an app's trust repository (raw bytes as
// signed). `role` is "root", "targets", "snapshot", "timestamp",
// "director" or a layer role ("config", "h5", "hcf", "hotpatch", "native").
struct TrustFile {
  std::string role;
  uint64_t version = 0;
  std::string content;
};

// One stored token and the key it is stored under (the SHA-256 of its
// secret, hex).
struct TokenRecord {
  std::string secret_sha256;
  v1::StoredToken token;
};

// Roles whose every version is kept (the rest keep their current file).
bool KeepsTrustHistory(std::string_view role);

// One window of release health: (release, cohort, stage). `cohort` is a
// strata::rollout::Cohort number.
struct HealthWindow {
  uint64_t release_id = 0;
  int32_t cohort = 0;
  int32_t stage = 0;
};

// The marks of one device (rollout::DeviceKey) in one window.
struct HealthMarks {
  HealthWindow window;
  uint64_t device = 0;
  v1::StoredDeviceMarks marks;
};

// What one window's reports changed in the hour from `hour_unix`.
struct HealthBucket {
  HealthWindow window;
  int64_t hour_unix = 0;
  v1::StoredHealthFigures figures;
};

// Health aggregate changes written with a report (or by a rebuild): the
// new marks of the devices that moved, and the changes to add to buckets.
struct HealthUpdate {
  std::vector<HealthMarks> marks;
  std::vector<HealthBucket> buckets;
  bool empty() const { return marks.empty() && buckets.empty(); }
};

// Adds `delta` to `into` (the figures of one bucket or a sum of them).
void AddHealthFigures(v1::StoredHealthFigures& into,
                      const v1::StoredHealthFigures& delta);

// A change another process committed to a shared store (stratad replicas
// on one PostgreSQL): the app it touched ("" when it is no app's, e.g. a
// token) and what kind of state ("release", "artifact", "trust",
// "segment", "schema", "token", "audit").
struct StoreChange {
  uint64_t seq = 0;
  std::string app_id;
  std::string kind;
};

struct GarbageReport {
  uint64_t chunks_removed = 0;
  uint64_t bytes_removed = 0;  // compressed
};

class Store {
 public:
  // Opens (creating if needed) the database in directory `dir`.
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      std::string_view dir, const StoreOptions& options = {});
  virtual ~Store() = default;

  // --- blobs
  // Stores one chunk (compressed) under its SHA-256; not synced by itself:
  // the batch that references it syncs it. Returns the chunk's hash.
  virtual absl::StatusOr<BlobChunk> PutChunk(std::string_view data) = 0;
  virtual absl::StatusOr<std::string> ReadChunk(
      std::string_view chunk_sha256) = 0;
  virtual absl::StatusOr<std::optional<BlobManifest>> GetBlobManifest(
      std::string_view sha256) = 0;
  // Up to `max_bytes` of blob `sha256` from `offset`; NotFound if absent.
  virtual absl::StatusOr<std::string> ReadBlob(std::string_view sha256,
                                               uint64_t offset,
                                               uint64_t max_bytes) = 0;
  // Removes chunks no blob manifest references. Run before serving.
  virtual absl::StatusOr<GarbageReport> CollectGarbage() = 0;

  // --- artifacts
  // In one synced batch: the blob manifest, the artifact record, the
  // idempotency record (if `idempotency_key` is not empty), `trust` (the
  // app's re-signed layer role, snapshot and timestamp, if given) and
  // `audit`.
  virtual absl::Status PutArtifact(
      const v1::StoredArtifact& artifact, const BlobManifest& blob,
      const v1::IdempotencyRecord* idempotency, v1::AuditEntry audit,
      const std::vector<TrustFile>* trust = nullptr) = 0;
  virtual absl::StatusOr<std::optional<v1::StoredArtifact>> GetArtifact(
      std::string_view app_id, const v1::ModuleId& module,
      std::string_view version) = 0;
  // Every artifact of `app_id` (of every app when it is ""), in key order.
  virtual absl::StatusOr<std::vector<v1::StoredArtifact>> ListArtifacts(
      std::string_view app_id) = 0;
  virtual absl::StatusOr<std::optional<v1::IdempotencyRecord>> GetIdempotency(
      std::string_view app_id, std::string_view key) = 0;
  // In one synced batch: `artifact` (an existing record, now marked
  // yanked), the releases the yank halted and `audit`.
  virtual absl::Status YankArtifact(const v1::StoredArtifact& artifact,
                                    const std::vector<v1::Release>& halted,
                                    v1::AuditEntry audit) = 0;
  // Calls `still_needed` under the store's write lock (no publish or
  // release can add a reference meanwhile; it may only read the store).
  // When it names no reason (""), deletes in one synced batch: the manifest
  // of blob `sha256` (its chunks go with the next CollectGarbage, which
  // runs before stratad serves), the cached deltas to it with their
  // patches, the artifact records `still_needed` put in `mark` (marked
  // content_deleted by it) and `audit`. Returns the reason the content was
  // kept, or "".
  virtual absl::StatusOr<std::string> DeleteArtifactContent(
      std::string_view sha256,
      const std::function<absl::StatusOr<std::string>(
          std::vector<v1::StoredArtifact>* mark)>& still_needed,
      v1::AuditEntry audit) = 0;
  // The JSON Schema of a CONFIG module (by app and module); a schema with
  // empty `schema` text removes it. With `audit`, in one synced batch.
  virtual absl::Status PutModuleSchema(const v1::ModuleSchema& schema,
                                       v1::AuditEntry audit) = 0;
  virtual absl::StatusOr<std::optional<v1::ModuleSchema>> GetModuleSchema(
      std::string_view app_id, const v1::ModuleId& module) = 0;

  // --- delta cache
  // In one synced batch: the patch blobs' manifests (the byte patch when
  // worthwhile, the tree patch when there is one) and the delta record.
  // Deleting content drops the patches to it (DeleteContentIfUnused).
  virtual absl::Status PutDelta(const v1::StoredDelta& delta,
                                const BlobManifest* patch,
                                const BlobManifest* tree_patch) = 0;
  virtual absl::StatusOr<std::optional<v1::StoredDelta>> GetDelta(
      std::string_view from_sha256, std::string_view to_sha256) = 0;

  // --- per-app trust repositories (raw signed TUF bytes)
  // Stores `files` of `app_id` in one synced batch, with `audit` when
  // given. Roots, targets and snapshots keep every version; for the other
  // roles the new file replaces the stored one.
  virtual absl::Status PutTrustFiles(std::string_view app_id,
                                     const std::vector<TrustFile>& files,
                                     std::optional<v1::AuditEntry> audit) = 0;
  // Every root of `app_id` (by version) and the newest file of every other
  // role (by role name).
  virtual absl::StatusOr<std::vector<TrustFile>> ListTrustFiles(
      std::string_view app_id) = 0;
  // One stored version of a role, or nullopt.
  virtual absl::StatusOr<std::optional<std::string>> GetTrustFile(
      std::string_view app_id, std::string_view role, uint64_t version) = 0;
  // The apps that have a trust repository.
  virtual absl::StatusOr<std::vector<std::string>> ListTrustApps() = 0;

  // --- segments (by app and name; a put replaces)
  virtual absl::Status PutSegment(const v1::Segment& segment,
                                  v1::AuditEntry audit) = 0;
  virtual absl::StatusOr<std::vector<v1::Segment>> ListSegments(
      std::string_view app_id) = 0;
  // Removes segment `name` of `app_id`, with `audit`, in one synced batch
  // (no-op on the data when there is none; the audit entry is kept).
  virtual absl::Status DeleteSegment(std::string_view app_id,
                                     std::string_view name,
                                     v1::AuditEntry audit) = 0;

  // --- device reports
  // Appends one device's report, synced: acknowledged means kept. In the
  // same batch, one marker per event with an event_id, keyed by (app,
  // device, event id), so HaveReportEvents finds it. The caller serializes
  // check-then-append per device (DeliveryCore does).
  // `health`, if given, goes in the same batch: its marks replace the
  // stored ones and its buckets are added to the stored ones (concurrent
  // additions all count). The caller serializes the marks of one device
  // (DeliveryCore's per-device lock does).
  virtual absl::Status AppendReport(std::string_view app_id,
                                    const v1::StoredReport& report,
                                    const HealthUpdate* health = nullptr) = 0;
  // Bulk load (benches): appends `reports` of `app_id` in one synced batch
  // as an earlier version would have (no health aggregates, no stored
  // sequence high-water mark: the next Open scans the report keys once).
  virtual absl::Status ImportReports(
      std::string_view app_id,
      const std::vector<v1::StoredReport>& reports) = 0;
  // For each of `event_ids`, whether a report of `device_id` in `app_id`
  // already holds an event with that id.
  virtual absl::StatusOr<std::vector<bool>> HaveReportEvents(
      std::string_view app_id, std::string_view device_id,
      const std::vector<std::string>& event_ids) = 0;
  // Deletes every report received before `before_unix` (seconds) with its
  // event markers, in synced batches. Returns how many reports and events
  // went.
  virtual absl::StatusOr<std::pair<uint64_t, uint64_t>> PruneReports(
      int64_t before_unix) = 0;
  // The report ticket MAC key `key_id`: the stored one, or else `candidate`
  // (32 random bytes), stored synced first. Every caller gets the same key.
  virtual absl::StatusOr<std::string> GetOrCreateReportTicketKey(
      uint32_t key_id, std::string_view candidate) = 0;
  // Reports of `app_id` in arrival order (at most `limit`).
  virtual absl::StatusOr<std::vector<v1::StoredReport>> ListReports(
      std::string_view app_id, uint32_t limit) = 0;
  // Every app's reports in arrival order per app (health aggregates are
  // rebuilt from them once, for a data directory written before they
  // existed); `fn` returns false to stop.
  virtual absl::Status ForEachReport(
      const std::function<bool(std::string_view app_id,
                               const v1::StoredReport&)>& fn) = 0;

  // --- release health aggregates (pruning reports leaves them alone)
  // The stored marks of each of `keys` (window and device; `marks`
  // ignored), nullopt where the device counts for nothing yet.
  virtual absl::StatusOr<std::vector<std::optional<v1::StoredDeviceMarks>>>
  GetHealthMarks(const std::vector<HealthMarks>& keys) = 0;
  // Every stored bucket, by release, cohort, stage and hour (start-up
  // reads these); `fn` returns false to stop.
  virtual absl::Status ForEachHealthBucket(
      const std::function<bool(const HealthBucket&)>& fn) = 0;
  // Whether the aggregates are complete: false for a data directory
  // written before they existed (or whose rebuild was cut), which must be
  // rebuilt from the stored reports once. Open marks a database without
  // reports complete.
  virtual absl::StatusOr<bool> HealthAggregatesBuilt() = 0;
  // The rebuild: Begin drops every stored mark and bucket (of a cut
  // rebuild), Put adds one part (not synced), Finish syncs and marks the
  // aggregates built. Run before serving: no report may arrive meanwhile.
  virtual absl::Status BeginHealthRebuild() = 0;
  virtual absl::Status PutHealthRebuild(const HealthUpdate& part) = 0;
  virtual absl::Status FinishHealthRebuild() = 0;

  // --- releases
  // Assigns the release id and, per artifact without a release_sequence,
  // the module's next sequence number (an artifact that carries one, the
  // counter of its publisher-signed target, keeps it); the top-level
  // module/version/release_sequence mirror the first artifact (a release
  // given only those gets them as its one artifact); stores the release
  // with `audit`.
  // `also_update`, if given, is an existing release rewritten in the same
  // batch (a roll back marks the release it undoes); its
  // rolled_back_by_release_id is set to the new id. `trust`, if given, are
  // trust files of the release's app stored in the same batch.
  virtual absl::StatusOr<v1::Release> CreateRelease(
      v1::Release release, v1::AuditEntry audit,
      v1::Release* also_update = nullptr,
      const std::vector<TrustFile>* trust = nullptr) = 0;
  // Rewrites an existing release (state changes), with `audit`.
  virtual absl::Status UpdateRelease(const v1::Release& release,
                                     v1::AuditEntry audit) = 0;
  virtual absl::StatusOr<std::optional<v1::Release>> GetRelease(
      std::string_view app_id, uint64_t release_id) = 0;
  virtual absl::StatusOr<std::vector<v1::Release>> ListReleases(
      std::string_view app_id) = 0;
  // Every app's releases (the gate loop's input), by app then id.
  virtual absl::StatusOr<std::vector<v1::Release>> ListAllReleases() = 0;

  // --- tokens (keyed by the SHA-256 of the secret)
  virtual absl::Status PutToken(std::string_view secret_sha256,
                                const v1::StoredToken& token,
                                v1::AuditEntry audit) = 0;
  virtual absl::StatusOr<std::optional<v1::StoredToken>> GetToken(
      std::string_view secret_sha256) = 0;
  virtual absl::StatusOr<bool> HasAnyToken() = 0;
  // Every token (revoked and expired ones too), in key order.
  virtual absl::StatusOr<std::vector<TokenRecord>> ListTokens() = 0;

  // --- audit log
  // An audit entry for an action that changes nothing else in the store.
  virtual absl::Status AppendAudit(v1::AuditEntry audit) = 0;
  virtual absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(
      uint64_t after_seq, uint32_t limit) = 0;

  // --- operations
  // A consistent copy of the database in `dir` (must not exist), usable as
  // a data directory's `db` by `stratad restore`. Returns the last
  // audit entry the copy holds.
  virtual absl::StatusOr<uint64_t> Checkpoint(std::string_view dir) = 0;

  // --- replicas
  // Whether other processes write this store too (PostgreSQL); false for
  // the embedded RocksDB, which one process owns.
  virtual bool shared() const { return false; }
  // For a shared store: calls `fn`, on a thread of the store, for every
  // change other processes commit from now on, in commit order, until the
  // store is destroyed; a lost connection is re-made and what was missed
  // is replayed by sequence. UNIMPLEMENTED for an unshared store.
  virtual absl::Status StartChangeFeed(
      std::function<void(const StoreChange&)> fn) {
    (void)fn;
    return absl::UnimplementedError(
        "this store is not shared: no other process changes it");
  }
  // Stops the change feed (waits for a running `fn` to return); no-op
  // when none runs. Call before what `fn` uses goes away.
  virtual void StopChangeFeed() {}
  // A leader among replicas (the gate loop's): takes or renews lease
  // `name` for `holder` until `ttl` from now, when it is free, expired or
  // `holder`'s already. Returns the lease's epoch when `holder` holds it
  // now (the epoch grows whenever the lease changes hands or lapses), 0
  // when another holder does. An unshared store has one process: 1.
  virtual absl::StatusOr<uint64_t> AcquireLease(std::string_view name,
                                                std::string_view holder,
                                                absl::Duration ttl) {
    (void)name, (void)holder, (void)ttl;
    return 1;
  }
  // Runs `fn`; each write with an audit entry it makes on this thread
  // commits only while `holder` still holds lease `name` at `epoch`, else
  // fails ABORTED with nothing written: a leader paused past its lease
  // cannot act on a stale view.
  virtual absl::Status Fenced(std::string_view name, std::string_view holder,
                              uint64_t epoch,
                              const std::function<absl::Status()>& fn) {
    (void)name, (void)holder, (void)epoch;
    return fn();
  }

  // --- migration (stratad migrate: a RocksDB data directory into a
  // shared store; server/storage/migrate.h)
  // Runs `fn`; the audited writes it makes on this thread store their data
  // but neither an audit entry nor a change row of their own (the source's
  // audit log is copied verbatim with ImportAudit). UNIMPLEMENTED where the
  // store cannot import.
  virtual absl::Status Importing(const std::function<absl::Status()>& fn) {
    (void)fn;
    return absl::UnimplementedError(
        "this store cannot be a migration's destination; migrate into "
        "PostgreSQL (--metadata postgresql://...)");
  }
  // Stores `releases` as they are (ids, sequences, audit sequence numbers)
  // and moves the release id and per-module sequence counters past them.
  virtual absl::Status ImportReleases(
      const std::vector<v1::Release>& releases) {
    (void)releases;
    return absl::UnimplementedError("this store cannot import releases");
  }
  // Appends `entries` exactly as they are; the first must continue the
  // stored chain (next sequence number, previous hash).
  virtual absl::Status ImportAudit(const std::vector<v1::AuditEntry>& entries) {
    (void)entries;
    return absl::UnimplementedError("this store cannot import an audit log");
  }

  // Test and repair access: overwrite one audit entry as stored (used by the
  // tamper test to play an attacker with disk access).
  virtual absl::Status RawPutAuditForTesting(const v1::AuditEntry& entry) = 0;
};

// Streams bytes [offset, offset + length) of `blob` (clamped to its end),
// reading one stored chunk at a time, so memory stays at one chunk whatever
// the blob's size. `sink(stream_offset, piece)` returns false to stop early
// (the reader went away), which is not an error. The one walk over a blob's
// chunks: ReadBlob, gRPC Download and HTTP all use it.
absl::Status StreamBlob(
    Store& store, const BlobManifest& blob, uint64_t offset, uint64_t length,
    const std::function<bool(uint64_t, std::string_view)>& sink);

}  // namespace strata::server

#endif  // STRATA_SERVER_STORAGE_STORE_H_
