// Store on PostgreSQL (libpq): the metadata of stratad replicas that share
// one database (docs/architecture.md, "Replicas on PostgreSQL").
//
// Every acknowledged mutation is one transaction. An audited one first
// locks the audit chain's head row (SELECT ... FOR UPDATE), so audited
// changes of every replica form one total order, and appends its audit
// entry and a change-log row in the same transaction; NOTIFY wakes the
// other replicas' change feeds at commit (polling is the safety net).
// Blob chunks live in the database too (a chunk table, zstd as in RocksDB)
// unless an object store takes them (PostgresStoreOptions::blobs): then
// the chunk table keeps one row per chunk (its name, size and when it was
// last uploaded) and the bytes are objects "chunks/<sha256>".
#ifndef STRATA_SERVER_STORAGE_POSTGRES_STORE_H_
#define STRATA_SERVER_STORAGE_POSTGRES_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/server/storage/object_store.h"
#include "strata/server/storage/store.h"

namespace strata::server {

struct PostgresStoreOptions {
  // The schema holding Strata's tables (created on first open); tests use
  // one schema per test in one database.
  std::string schema = "strata";
  // Chunks no manifest references are collected only when untouched this
  // long: another replica may be uploading them for a publish it has not
  // committed yet. Zero: at once (a single process, tests).
  absl::Duration orphan_grace = absl::Hours(1);
  // Idle connections kept open for reuse (more are opened when needed).
  int max_idle_connections = 8;
  // The change feed's safety-net poll when no NOTIFY arrives.
  absl::Duration feed_poll = absl::Seconds(2);
  // Where chunk bytes go (stratad --blobs s3://...); null: in the
  // database. Each chunk's row is written before its object is uploaded,
  // and orphans are deleted from the object store under that row's lock,
  // so an upload racing the collector always leaves its object behind.
  std::shared_ptr<ObjectStore> blobs;
};

// Whether `metadata` names a PostgreSQL database ("postgresql://..." or
// "postgres://...").
bool IsPostgresUrl(std::string_view metadata);

// Connects to `url` (a libpq connection URI or key=value string; several
// hosts are tried in order, "postgresql://a:5432,b:5432/strata"; unless the
// URL says otherwise target_session_attrs=read-write, so a promoted
// standby is found) and creates the schema's tables if they are missing.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(
    std::string_view url, const PostgresStoreOptions& options = {});

}  // namespace strata::server

#endif  // STRATA_SERVER_STORAGE_POSTGRES_STORE_H_
