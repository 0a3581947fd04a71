// `stratad migrate`: copies the state of one store (an embedded RocksDB
// data directory) into another that can import (PostgreSQL, with blob
// chunks in its object store when it has one), the audit log verbatim, so
// the chain still verifies (docs/operations.md, "Migrating").
#ifndef STRATA_SERVER_STORAGE_MIGRATE_H_
#define STRATA_SERVER_STORAGE_MIGRATE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/server/storage/store.h"

namespace strata::server {

struct MigrateReport {
  uint64_t artifacts = 0;
  uint64_t chunks = 0;       // distinct chunks copied
  uint64_t chunk_bytes = 0;  // their size, uncompressed
  uint64_t schemas = 0;
  uint64_t releases = 0;
  uint64_t segments = 0;
  uint64_t trust_files = 0;
  uint64_t tokens = 0;
  uint64_t reports = 0;
  uint64_t audit_entries = 0;
  std::string Summary() const;
};

// Copies everything of `from` into `to`, which must hold nothing yet (no
// token, no audit entry): artifacts with their blobs, idempotency records
// and module schemas, releases (ids and sequence counters as they were),
// segments, every trust file version, tokens, the report ticket key,
// device reports (the health aggregates are rebuilt from them when the
// first replica starts), then the audit log entry by entry, checked to
// chain. Not copied: the delta cache (recomputed on demand). `from` must
// not change meanwhile (stop its stratad first).
// `random` makes a report ticket key when `from` has none yet.
absl::StatusOr<MigrateReport> MigrateStore(Store& from, Store& to,
                                           Random* random = SystemRandom());

}  // namespace strata::server

#endif  // STRATA_SERVER_STORAGE_MIGRATE_H_
