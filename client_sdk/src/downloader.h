// Fetches a content-addressed blob into the module store: resumable (the
// partial file staging/<sha256>.part survives cut streams and restarts, and
// a retry asks the server for Download(sha256, offset)), verified while
// streaming (offsets, the declared size, SHA-256), synced periodically.
#ifndef STRATA_CLIENT_SRC_DOWNLOADER_H_
#define STRATA_CLIENT_SRC_DOWNLOADER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "module_store.h"
#include "transport.h"

namespace strata::client {

struct DownloadOptions {
  // Attempts per blob within one call (a cut stream is retried from the
  // bytes already received).
  int max_attempts = 4;
  // fsync the partial file after this many new bytes.
  uint64_t sync_every = 1 << 20;
};

struct DownloadStats {
  uint64_t bytes_received = 0;
  uint64_t resumed_from = 0;  // offset of the last resumed request
  int attempts = 0;
};

// On success blobs/<sha256>.blob exists, complete and verified. Errors carry
// a RejectReason (reject.h): ENDLESS_DATA, CONTENT_HASH_MISMATCH,
// LENGTH_MISMATCH; transport errors after the last attempt are returned as
// they are (the partial file is kept for the next try).
absl::Status DownloadBlob(FileSystem& fs, ModuleStore& store,
                          Transport& transport, const std::string& sha256,
                          uint64_t size, const DownloadOptions& options,
                          DownloadStats* stats);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_DOWNLOADER_H_
