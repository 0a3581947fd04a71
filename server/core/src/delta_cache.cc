#include "strata/server/core/delta_cache.h"

#include <algorithm>

#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/delta.h"
#include "strata/diff/tree_delta.h"
#include "strata/diff/ustar_reader.h"
#include "strata/diff/ustar_writer.h"
#include "strata/server/core/blob_writer.h"

namespace strata::server {

DeltaCache::DeltaCache(Store* store, Metrics* metrics, DeltaOptions options)
    : store_(store), metrics_(metrics), options_(options) {
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

DeltaCache::~DeltaCache() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  for (auto& w : workers_) w.join();
}

void DeltaCache::OnPublished(const v1::ArtifactStatement& statement) {
  if (statement.size() < options_.min_size ||
      statement.size() > options_.max_size) {
    return;
  }
  absl::StatusOr<std::vector<v1::StoredArtifact>> all =
      store_->ListArtifacts(statement.app_id());
  if (!all.ok()) {
    STRATA_LOG(Warning) << "deltas for " << statement.module().name() << ": "
                        << all.status();
    return;
  }
  std::vector<const v1::StoredArtifact*> previous;
  std::vector<const v1::StoredArtifact*> embedded;
  for (const auto& a : *all) {
    const auto& st = a.statement();
    if (st.module().layer() == statement.module().layer() &&
        st.module().name() == statement.module().name() &&
        st.content_sha256() != statement.content_sha256()) {
      (a.embedded() ? embedded : previous).push_back(&a);
    }
  }
  std::sort(previous.begin(), previous.end(), [](auto* a, auto* b) {
    return a->published_at_unix() > b->published_at_unix();
  });
  if (previous.size() > static_cast<size_t>(options_.previous_versions)) {
    previous.resize(options_.previous_versions);
  }
  previous.insert(previous.end(), embedded.begin(), embedded.end());
  for (const auto* a : previous) {
    Enqueue(a->statement().content_sha256(), statement.content_sha256(),
            statement.size(), /*bounded=*/false);
  }
}

void DeltaCache::Dropped(const char* reason) {
  metrics_->Increment("strata_delta_requests_dropped_total",
                      StrCat("reason=\"", reason, "\""));
}

void DeltaCache::Request(const std::string& from, const std::string& to,
                         uint64_t to_size) {
  if (from == to || to_size < options_.min_size || to_size > options_.max_size)
    return;
  // Only content this server stores is a delta base: a hash a device made
  // up takes no queue slot and no worker time.
  if (!IsSha256Hex(from)) {
    Dropped("unknown_from");
    return;
  }
  absl::StatusOr<std::optional<BlobManifest>> base =
      store_->GetBlobManifest(from);
  if (!base.ok() || !base->has_value()) {
    Dropped("unknown_from");
    return;
  }
  Enqueue(from, to, to_size, /*bounded=*/true);
}

void DeltaCache::Enqueue(const std::string& from, const std::string& to,
                         uint64_t to_size, bool bounded) {
  if (from == to || to_size < options_.min_size || to_size > options_.max_size)
    return;
  {
    MutexLock lock(&mu_);
    if (stopping_ || pending_.count({from, to})) return;  // single flight
    // Pending but not running: queued, or about to be.
    if (bounded && pending_.size() - static_cast<size_t>(running_) >=
                       options_.max_queued) {
      Dropped("queue_full");
      return;
    }
    pending_.insert({from, to});
  }
  absl::StatusOr<std::optional<v1::StoredDelta>> cached =
      store_->GetDelta(from, to);
  MutexLock lock(&mu_);
  if (cached.ok() && cached->has_value() &&
      (*cached)->tree_patch_considered()) {
    pending_.erase({from, to});
    idle_cv_.SignalAll();
    return;
  }
  queue_.emplace_back(from, to);
  metrics_->SetGauge("strata_delta_queue_length", "",
                     static_cast<int64_t>(queue_.size()));
  cv_.Signal();
}

std::optional<v1::StoredDelta> DeltaCache::Lookup(const std::string& from,
                                                  const std::string& to) {
  absl::StatusOr<std::optional<v1::StoredDelta>> d = store_->GetDelta(from, to);
  if (d.ok() && d->has_value() &&
      ((*d)->worthwhile() || !(*d)->tree_patch_sha256().empty())) {
    metrics_->Increment("strata_delta_cache_hits_total");
    return **d;
  }
  metrics_->Increment("strata_delta_cache_misses_total");
  return std::nullopt;
}

void DeltaCache::WaitIdle() {
  MutexLock lock(&mu_);
  while (!pending_.empty()) idle_cv_.Wait(&mu_);
}

uint64_t DeltaCache::computed() const {
  MutexLock lock(&mu_);
  return computed_;
}

void DeltaCache::SetPausedForTesting(bool paused) {
  {
    MutexLock lock(&mu_);
    paused_ = paused;
  }
  cv_.SignalAll();
}

size_t DeltaCache::queued() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

void DeltaCache::Work() {
  while (true) {
    std::pair<std::string, std::string> job;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && (paused_ || queue_.empty())) cv_.Wait(&mu_);
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      metrics_->SetGauge("strata_delta_queue_length", "",
                         static_cast<int64_t>(queue_.size()));
      ++running_;
    }
    absl::Status s = Compute(job.first, job.second);
    if (!s.ok()) {
      STRATA_LOG(Warning) << "delta " << job.first.substr(0, 12) << " -> "
                          << job.second.substr(0, 12) << " failed: " << s;
    }
    MutexLock lock(&mu_);
    --running_;
    pending_.erase(job);
    if (s.ok()) ++computed_;
    idle_cv_.SignalAll();
  }
}

absl::Status DeltaCache::Compute(const std::string& from,
                                 const std::string& to) {
  STRATA_ASSIGN_OR_RETURN(std::string old_data,
                          store_->ReadBlob(from, 0, options_.max_size));
  STRATA_ASSIGN_OR_RETURN(std::string new_data,
                          store_->ReadBlob(to, 0, options_.max_size));
  v1::StoredDelta delta;
  std::optional<BlobManifest> blob, tree_blob;
  // A record an older stratad stored (no tree patch considered) keeps its
  // byte patch: only the tree patch is made (and no patch blob is
  // replaced, which would leave the old one unreferenced).
  absl::StatusOr<std::optional<v1::StoredDelta>> existing =
      store_->GetDelta(from, to);
  if (existing.ok() && existing->has_value()) {
    delta = **existing;
  } else {
    diff::DiffOptions diff_options;
    diff_options.level = options_.zstd_level;
    diff_options.threads = 1;
    // Every device applies a delivered patch against the SHA-256 of the
    // signed statement (ContentFetcher), so the patch need not carry a
    // check of its own: 4 bytes less on every compact patch.
    diff_options.output_check = diff::OutputCheck::kByCaller;
    STRATA_ASSIGN_OR_RETURN(
        std::string patch, diff::CreatePatch(old_data, new_data, diff_options));
    delta.set_from_sha256(from);
    delta.set_to_sha256(to);
    delta.set_worthwhile(static_cast<double>(patch.size()) <
                         options_.max_patch_ratio *
                             static_cast<double>(new_data.size()));
    if (delta.worthwhile()) {
      STRATA_ASSIGN_OR_RETURN(blob, BlobWriter::WriteAll(store_, patch));
      delta.set_patch_sha256(blob->sha256);
      delta.set_patch_size(blob->size);
    }
  }
  delta.set_tree_patch_considered(true);
  if (std::optional<std::string> tree = TreePatch(
          old_data, new_data, delta.worthwhile() ? delta.patch_size() : 0);
      tree.has_value()) {
    STRATA_ASSIGN_OR_RETURN(tree_blob, BlobWriter::WriteAll(store_, *tree));
    delta.set_tree_patch_sha256(tree_blob->sha256);
    delta.set_tree_patch_size(tree_blob->size);
  }
  STRATA_RETURN_IF_ERROR(store_->PutDelta(delta, blob ? &*blob : nullptr,
                                          tree_blob ? &*tree_blob : nullptr));
  // Counted once stored: a check that follows sees it (tests wait on the
  // counters before they check).
  if (tree_blob.has_value()) {
    metrics_->Increment("strata_tree_deltas_computed_total");
  }
  metrics_->Increment("strata_deltas_computed_total");
  return absl::OkStatus();
}

std::optional<std::string> DeltaCache::TreePatch(std::string_view old_data,
                                                 std::string_view new_data,
                                                 uint64_t byte_patch_size) {
  if (new_data.size() > options_.max_tree_size ||
      old_data.size() > options_.max_tree_size ||
      !diff::LooksLikeUstar(old_data) || !diff::LooksLikeUstar(new_data)) {
    return std::nullopt;  // not trees (or too large): nothing to count
  }
  auto skipped = [&](std::string_view reason) -> std::optional<std::string> {
    metrics_->Increment("strata_tree_deltas_skipped_total",
                        StrCat("reason=\"", reason, "\""));
    return std::nullopt;
  };
  // A device checks the tree it built by re-packing it canonically: a
  // tree patch to any other archive could never verify.
  if (!diff::IsCanonicalUstar(new_data)) return skipped("not_canonical");
  diff::TreeDiffOptions tree_options;
  tree_options.delta.level = options_.zstd_level;
  tree_options.delta.threads = 1;
  // The archive form is the byte patch of the archives below plus its own
  // 4-byte output check, and SDKs before it cannot apply it: the byte
  // patch serves.
  tree_options.form = diff::TreePatchForm::kPerFile;
  absl::StatusOr<std::string> tree =
      diff::CreateTreePatchFromArchives(old_data, new_data, tree_options);
  if (!tree.ok()) {
    STRATA_LOG(Warning) << "tree delta failed: " << tree.status();
    return skipped("failed");
  }
  const bool worth =
      static_cast<double>(tree->size()) <
      options_.max_patch_ratio * static_cast<double>(new_data.size());
  if (!worth || (byte_patch_size > 0 && tree->size() >= byte_patch_size)) {
    return skipped("larger");
  }
  return *std::move(tree);
}

}  // namespace strata::server
