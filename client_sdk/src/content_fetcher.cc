#include "content_fetcher.h"

#include <algorithm>

#include "downloader.h"
#include "reject.h"
#include "storage_full.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/file_delta.h"

namespace strata::client {

absl::Status ContentFetcher::Fetch(const v1::UpdateEntry& entry,
                                   const std::optional<DeltaBase>& base,
                                   Source* source, uint64_t* bytes,
                                   const DeltaFailed& on_delta_failed) {
  const v1::ArtifactStatement& st = entry.statement();
  const std::string& sha = st.content_sha256();
  *source = Source::kLocal;
  if (store_->HasBlob(sha)) {
    if (store_->VerifyBlob(sha).ok()) return absl::OkStatus();
    // Damaged on disk: fetch it again.
    (void)env_.fs->DeleteFile(store_->BlobPath(sha));
  }
  *source = Source::kInline;
  if (!entry.inline_content().empty() || st.size() == 0) {
    if (entry.inline_content().size() != st.size()) {
      return WithReason(
          absl::DataLossError(
              StrCat("inline content has ", entry.inline_content().size(),
                     " bytes, the statement declares ", st.size())),
          v1::REJECT_LENGTH_MISMATCH);
    }
    absl::Status put = store_->PutBlob(sha, entry.inline_content());
    if (absl::IsDataLoss(put)) {
      return WithReason(put, v1::REJECT_CONTENT_HASH_MISMATCH);
    }
    return StorageFullError(put, StrCat("writing the ", st.size(),
                                        "-byte inline content of ", sha));
  }
  if (disk_budget_bytes_ > 0) {
    STRATA_ASSIGN_OR_RETURN(uint64_t used, store_->DiskUsage());
    // A partial download of this blob is already part of `size`.
    absl::StatusOr<FileInfo> partial = env_.fs->Stat(store_->PartialPath(sha));
    if (partial.ok()) used -= std::min(used, partial->size);
    if (used + st.size() > disk_budget_bytes_) {
      return WithReason(
          absl::ResourceExhaustedError(
              StrCat("downloading ", st.size(),
                     " bytes would exceed the disk "
                     "budget of ",
                     disk_budget_bytes_, " bytes (", used,
                     " in use); raise ClientOptions.disk_budget_bytes or "
                     "free space")),
          v1::REJECT_DISK_BUDGET_EXCEEDED);
    }
  }
  // Prefer a delta from the installed (or embedded) content.
  if (base.has_value()) {
    for (const v1::DeltaRef& d : entry.deltas()) {
      if (d.from_sha256() != base->sha256) continue;
      if (d.tree() && (trees_ == nullptr || !base->tree_dir.has_value())) {
        continue;  // the base's tree is not unpacked: its byte patch
      }
      *source = d.tree() ? Source::kTreeDelta : Source::kDelta;
      absl::Status s = d.tree()
                           ? ApplyTreeDelta(entry, d, *base->tree_dir, bytes)
                           : ApplyDelta(entry, d, base->path, bytes);
      if (s.ok()) return s;
      if (on_delta_failed) on_delta_failed(d, s);
    }
  }
  *source = Source::kFull;
  DownloadStats stats;
  absl::Status s = DownloadBlob(*env_.fs, *store_, *transport_, sha, st.size(),
                                DownloadOptions{}, &stats);
  *bytes += stats.bytes_received;
  return s;
}

absl::Status ContentFetcher::DownloadPatch(const v1::DeltaRef& d,
                                           uint64_t* bytes) {
  if (!IsSha256Hex(d.patch().sha256())) {
    return absl::InvalidArgumentError("delta names a malformed patch hash");
  }
  DownloadStats stats;
  absl::Status fetched =
      DownloadBlob(*env_.fs, *store_, *transport_, d.patch().sha256(),
                   d.patch().size(), DownloadOptions{}, &stats);
  *bytes += stats.bytes_received;
  return fetched;
}

absl::Status ContentFetcher::ApplyTreeDelta(const v1::UpdateEntry& entry,
                                            const v1::DeltaRef& d,
                                            const std::string& tree_dir,
                                            uint64_t* bytes) {
  const v1::ArtifactStatement& st = entry.statement();
  STRATA_RETURN_IF_ERROR(DownloadPatch(d, bytes));
  const std::string patch = store_->BlobPath(d.patch().sha256());
  const std::string out =
      JoinPath(store_->StagingDir(), StrCat(st.content_sha256(), ".out"));
  (void)env_.fs->DeleteFile(out);
  // Builds the tree and re-packs it: the archive's hash is the signed one.
  absl::Status s =
      trees_->ApplyPatch(st.content_sha256(), st.size(), tree_dir, patch, out);
  (void)env_.fs->DeleteFile(patch);
  // (Not StorageFullError: a patch over the limits is RESOURCE_EXHAUSTED
  // too. The next patch or the full download follows.)
  if (absl::IsDataLoss(s)) {
    return WithReason(s, v1::REJECT_DELTA_OUTPUT_MISMATCH);
  }
  STRATA_RETURN_IF_ERROR(s);
  absl::Status adopted = store_->AdoptBlob(out, st.content_sha256());
  if (!adopted.ok() && env_.fs->Exists(out)) (void)env_.fs->DeleteFile(out);
  STRATA_RETURN_IF_ERROR(StorageFullError(
      adopted, StrCat("installing the archive of ", st.content_sha256())));
  // The archive is the blob now. Without the marker (a crash, or this
  // write failing) the tree is incomplete and UnpackIfTree builds it again
  // from the archive: nothing more to download.
  (void)trees_->MarkComplete(st.content_sha256());
  return absl::OkStatus();
}

absl::Status ContentFetcher::ApplyDelta(const v1::UpdateEntry& entry,
                                        const v1::DeltaRef& d,
                                        const std::string& base_path,
                                        uint64_t* bytes) {
  const v1::ArtifactStatement& st = entry.statement();
  STRATA_RETURN_IF_ERROR(DownloadPatch(d, bytes));
  const std::string out =
      JoinPath(store_->StagingDir(), StrCat(st.content_sha256(), ".out"));
  (void)env_.fs->DeleteFile(out);
  diff::ApplyOptions apply;
  apply.max_output_size = st.size();
  // The statement's signed hash is the applier's output check too: a
  // compact patch made with diff::OutputCheck::kByCaller carries none of
  // its own (docs/formats/patch.md, version 3).
  if (IsSha256Hex(st.content_sha256())) {
    Sha256Digest want{};
    for (size_t i = 0; i < want.size(); ++i) {
      want[i] = static_cast<uint8_t>(
          std::stoi(st.content_sha256().substr(2 * i, 2), nullptr, 16));
    }
    apply.expected_new_sha256 = want;
  }
  absl::Status s = diff::ApplyPatchFile(
      *env_.fs, base_path, store_->BlobPath(d.patch().sha256()), out, apply);
  (void)env_.fs->DeleteFile(store_->BlobPath(d.patch().sha256()));
  if (!s.ok()) {
    // (Not StorageFullError: an output over the limit is
    // RESOURCE_EXHAUSTED too. The full download follows.)
    if (env_.fs->Exists(out)) (void)env_.fs->DeleteFile(out);
    return s;
  }
  // The patch's own hashes are not the statement's: verify the output.
  absl::StatusOr<FileInfo> info = env_.fs->Stat(out);
  absl::StatusOr<std::string> sha = HashFile(*env_.fs, out);
  if (!info.ok() || info->size != st.size() || !sha.ok() ||
      *sha != st.content_sha256()) {
    (void)env_.fs->DeleteFile(out);
    return WithReason(
        absl::DataLossError("patch output differs from the statement"),
        v1::REJECT_DELTA_OUTPUT_MISMATCH);
  }
  absl::Status adopted = store_->AdoptBlob(out, st.content_sha256());
  if (!adopted.ok() && env_.fs->Exists(out)) (void)env_.fs->DeleteFile(out);
  return StorageFullError(
      adopted, StrCat("installing the patch output ", st.content_sha256()));
}

}  // namespace strata::client
