// Installed content on the device, crash-safe.
//
// Layout under the storage directory:
//   state                   the ClientState (client_state.h): the one switch
//   blobs/<sha256>.blob     content, named by its hash, written atomically
//   staging/<sha256>.part   partial downloads, kept across runs to resume
//   staging/*               anything else: leftovers of an interrupted apply
//   reports/queue           the durable report queue (report_queue.h)
//   user_data/              the app's private data; the SDK never touches it
//   trees/<sha256>/         unpacked H5/HCF trees (tree_store.h)
// Content is written and verified first, then Commit() replaces `state`
// atomically. A crash at any instant leaves the old or the new state;
// Open() removes leftovers (temp files, unreferenced blobs).
#ifndef STRATA_CLIENT_SRC_MODULE_STORE_H_
#define STRATA_CLIENT_SRC_MODULE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client_state.h"
#include "strata/base/env.h"

namespace strata::client {

class ModuleStore {
 public:
  // `embedded_dir` (may be empty) holds the versions shipped with the app
  // as <embedded_dir>/<layer name>/<module name>.
  static absl::StatusOr<ModuleStore> Open(FileSystem* fs, std::string root,
                                          std::string embedded_dir = "");

  const ClientState& state() const { return state_; }
  // Publishes `next` atomically, then removes blobs it no longer refers to
  // and their unpacked trees.
  // With the storage full (RESOURCE_EXHAUSTED) it deletes everything in
  // staging/ (partial downloads start over) and tries once more: the
  // state, a few hundred bytes, goes before them.
  absl::Status Commit(ClientState next);

  std::string BlobPath(std::string_view sha256) const;
  std::string PartialPath(std::string_view sha256) const;
  std::string StagingDir() const;
  std::string UserDataDir() const;
  // Unpacked trees (tree_store.h); collected with the blobs they came from.
  std::string TreesDir() const;
  std::string ReportsDir() const;
  bool HasBlob(std::string_view sha256);

  // Verifies `content` against `sha256`, then writes it as a blob
  // atomically (not yet referenced by the state).
  absl::Status PutBlob(std::string_view sha256, std::string_view content);
  // Moves a complete, synced file (e.g. a finished download) into blobs/.
  absl::Status AdoptBlob(std::string_view from_path, std::string_view sha256);
  // A blob's content, verified against its name.
  absl::StatusOr<std::string> ReadBlob(std::string_view sha256) const;
  // Re-hashes a blob in 1 MiB reads; kDataLoss if it differs from its name.
  absl::Status VerifyBlob(std::string_view sha256) const;

  // The embedded version of a module: its path and SHA-256, if shipped.
  struct Embedded {
    std::string path;
    std::string sha256;
  };
  std::optional<Embedded> FindEmbedded(int layer, std::string_view name);
  // Every module shipped in the embedded directory.
  std::vector<ModuleKey> ListEmbedded();

  // Bytes used by blobs and partial downloads.
  absl::StatusOr<uint64_t> DiskUsage() const;
  // Removes unreferenced blobs and everything in staging/ except the
  // partial downloads named in `keep_partials`.
  absl::Status CollectGarbage(const std::set<std::string>& keep_partials);

 private:
  ModuleStore(FileSystem* fs, std::string root, std::string embedded_dir)
      : fs_(fs), root_(std::move(root)), embedded_dir_(embedded_dir) {}
  absl::Status RemoveUnreferencedBlobs();
  // Deletes everything in staging/; whether anything was there.
  absl::StatusOr<bool> EmptyStaging();

  FileSystem* fs_;
  std::string root_;
  std::string embedded_dir_;
  ClientState state_;
  std::map<ModuleKey, std::optional<Embedded>> embedded_cache_;
};

std::string_view LayerDirName(int layer);
// Lowercase hex SHA-256 of a file, read in pieces of ReadBufferSize.
absl::StatusOr<std::string> HashFile(FileSystem& fs, std::string_view path);
// The buffer for reading `size` bytes of a file in pieces: the size itself
// up to 64 KiB, at least 1. Hashing and unpacking run at every launch and
// check, so the buffer is never bigger than the file (a 1 MiB buffer per
// call was most of a crash test's time, in fresh pages).
inline size_t ReadBufferSize(uint64_t size) {
  constexpr uint64_t kMax = 64 << 10;
  return static_cast<size_t>(size == 0 ? 1 : (size < kMax ? size : kMax));
}

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_MODULE_STORE_H_
