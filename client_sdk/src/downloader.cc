#include "downloader.h"

#include "reject.h"
#include "storage_full.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::client {
namespace {

// Hashes the first `size` bytes already in `path`.
absl::Status HashPrefix(FileSystem& fs, const std::string& path, uint64_t size,
                        Sha256& hasher) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> f,
                          fs.NewRandomAccessFile(path));
  const size_t cap = ReadBufferSize(size);
  std::unique_ptr<char[]> buf = std::make_unique_for_overwrite<char[]>(cap);
  for (uint64_t off = 0; off < size;) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(cap, size - off));
    STRATA_ASSIGN_OR_RETURN(size_t n, f->Read(off, want, buf.get()));
    if (n == 0) return absl::DataLossError("partial download shrank");
    hasher.Update(std::string_view(buf.get(), n));
    off += n;
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

absl::Status Download(FileSystem& fs, ModuleStore& store, Transport& transport,
                      const std::string& sha256, uint64_t size,
                      const DownloadOptions& options, DownloadStats* stats,
                      absl::Status& disk) {
  const std::string part = store.PartialPath(sha256);
  absl::Status last;
  bool restarted = false;
  for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
    uint64_t offset = 0;
    absl::StatusOr<FileInfo> info = fs.Stat(part);
    if (info.ok()) offset = info->size;
    if (offset > size) {
      STRATA_RETURN_IF_ERROR(fs.DeleteFile(part));
      offset = 0;
    }
    Sha256 hasher;
    std::unique_ptr<WritableFile> file;
    if (offset > 0) {
      STRATA_RETURN_IF_ERROR(HashPrefix(fs, part, offset, hasher));
      STRATA_ASSIGN_OR_RETURN(file, fs.NewAppendableFile(part));
    } else {
      STRATA_ASSIGN_OR_RETURN(file, fs.NewWritableFile(part));
      STRATA_RETURN_IF_ERROR(fs.SyncDir(store.StagingDir()));
    }
    if (stats != nullptr) {
      ++stats->attempts;
      if (offset > 0) stats->resumed_from = offset;
    }
    uint64_t received = offset;
    uint64_t unsynced = 0;
    absl::Status fatal;  // a verification failure: do not retry
    absl::Status s =
        offset == size
            ? absl::OkStatus()
            : transport.Download(
                  sha256, offset,
                  [&](const v1::DownloadChunk& chunk) -> absl::Status {
                    if (chunk.offset() != received) {
                      fatal = WithReason(
                          absl::DataLossError(StrCat(
                              "server sent offset ", chunk.offset(),
                              " of blob ", sha256, ", expected ", received)),
                          v1::REJECT_LENGTH_MISMATCH);
                      return fatal;
                    }
                    if (chunk.data().size() > size - received) {
                      fatal = WithReason(
                          absl::ResourceExhaustedError(StrCat(
                              "server sent more than the ", size,
                              " bytes the statement declares for ", sha256)),
                          v1::REJECT_ENDLESS_DATA);
                      return fatal;
                    }
                    disk = file->Append(chunk.data());
                    STRATA_RETURN_IF_ERROR(disk);
                    hasher.Update(chunk.data());
                    received += chunk.data().size();
                    unsynced += chunk.data().size();
                    if (stats != nullptr) {
                      stats->bytes_received += chunk.data().size();
                    }
                    if (unsynced >= options.sync_every) {
                      disk = file->Sync();
                      STRATA_RETURN_IF_ERROR(disk);
                      unsynced = 0;
                    }
                    return absl::OkStatus();
                  });
    // Keep what arrived, whatever happened, so the next try resumes.
    absl::Status synced = file->Sync();
    absl::Status closed = file->Close();
    if (!fatal.ok()) {
      (void)fs.DeleteFile(part);
      return fatal;
    }
    STRATA_RETURN_IF_ERROR(synced);
    STRATA_RETURN_IF_ERROR(closed);
    // The storage is full: retrying cannot help.
    if (IsStorageFull(disk)) return disk;
    if (received < size) {
      last = s.ok() ? absl::UnavailableError(StrCat(
                          "download of ", sha256, " ended at byte ", received,
                          " of ", size, "; it will resume from there"))
                    : s;
      continue;
    }
    if (ToHex(hasher.Finish()) != sha256) {
      STRATA_RETURN_IF_ERROR(fs.DeleteFile(part));
      if (offset > 0 && !restarted) {
        // The kept prefix may have been damaged: start over once.
        restarted = true;
        continue;
      }
      return WithReason(
          absl::DataLossError(StrCat("downloaded bytes of ", sha256,
                                     " hash to another value; nothing was "
                                     "installed")),
          v1::REJECT_CONTENT_HASH_MISMATCH);
    }
    return store.AdoptBlob(part, sha256);
  }
  return last;
}

}  // namespace

absl::Status DownloadBlob(FileSystem& fs, ModuleStore& store,
                          Transport& transport, const std::string& sha256,
                          uint64_t size, const DownloadOptions& options,
                          DownloadStats* stats) {
  if (store.HasBlob(sha256)) return absl::OkStatus();
  absl::Status disk;  // the last write into the partial download
  absl::Status s =
      Download(fs, store, transport, sha256, size, options, stats, disk);
  // (A refusal of the server's bytes carries its reason; a file
  // operation's error none.)
  if (!IsStorageFull(s) || s.GetPayload(kRejectReasonUrl).has_value()) {
    return s;
  }
  // What arrived would only keep the storage full: it goes, and the next
  // check downloads again from the start.
  const std::string part = store.PartialPath(sha256);
  if (fs.Exists(part)) (void)fs.DeleteFile(part);
  return StorageFullError(
      s, StrCat("downloading ", size, " bytes of ", sha256),
      "the partial download was deleted; the next check starts it again");
}

}  // namespace strata::client
