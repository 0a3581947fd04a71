// Deltas on publish and on demand, against a real RocksDB store.
#include "strata/server/core/delta_cache.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/delta.h"
#include "strata/diff/tree_delta.h"
#include "strata/diff/ustar_writer.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/blob_writer.h"
#include "strata/server/core/delivery_core.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;

std::string Package(int version) {
  // 64 KiB of structured bytes; each version edits a few places.
  std::string s(64 * 1024, '\0');
  uint32_t x = 7;
  for (size_t i = 0; i < s.size(); ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>((x >> 16) % 64 + 32);
  }
  for (int v = 1; v <= version; ++v) {
    for (int k = 0; k < 20; ++k)
      s[(v * 7919 + k * 3001) % s.size()] = static_cast<char>('A' + v);
  }
  return s;
}

// An H5 package as `strata publish --dir` packs it (canonical, sorted by
// path), or, `canonical` false, the same entries in reverse order (as
// another tar might write them). Version 2 moves half the files to
// another directory (a bundler's new output path), edits two and adds one.
std::string PackageTree(int version, bool canonical = true) {
  std::map<std::string, std::string> files;
  uint32_t x = 11;
  for (int f = 0; f < 60; ++f) {
    std::string data(1500, '\0');
    for (char& c : data) {
      x = x * 1103515245u + 12345u;
      c = static_cast<char>((x >> 16) % 64 + 32);
    }
    files[StrCat(version >= 2 && f % 2 == 0 ? "static/app/" : "static/js/",
                 "chunk-", f, ".js")] = data;
  }
  if (version >= 2) {
    files["static/js/chunk-7.js"].replace(100, 5, "v2v2v");
    files["static/app/chunk-40.js"].replace(900, 3, "new");
    files["static/css/extra.css"] = "body { margin: 0 }\n";
  }
  std::vector<std::string> entries;
  for (const auto& [path, data] : files) {
    std::string e = *diff::CanonicalUstarHeader(path, data.size(), false, "");
    e += data;
    e.append(diff::UstarPadded(data.size()) - data.size(), '\0');
    entries.push_back(std::move(e));
  }
  if (!canonical) std::reverse(entries.begin(), entries.end());
  std::string out;
  for (const std::string& e : entries) out += e;
  return out + std::string(1024, '\0');
}

class DeltaCacheTest : public ::testing::Test {
 protected:
  void Init(DeltaOptions options) {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    deltas_ = std::make_unique<DeltaCache>(store_.get(), &metrics_, options);
    admin_ = std::make_unique<AdminCore>(
        store_.get(), &clock_, AdminLimits{.require_signatures = false});
    delivery_ = std::make_unique<DeliveryCore>(
        store_.get(), &clock_, DeliveryOptions{}, deltas_.get());
    admin_->OnPublished(
        [this](const v1::ArtifactStatement& st) { deltas_->OnPublished(st); });
    admin_->OnReleasesChanged(
        [this](const std::string& app) { delivery_->ReleasesChanged(app); });
  }
  void TearDown() override {
    delivery_.reset();
    deltas_.reset();
  }
  std::string Publish(int version, bool release = true) {
    return PublishContent(version, Package(version), release);
  }
  std::string PublishContent(int version, const std::string& content,
                             bool release = true) {
    v1::PublishHeader h =
        testing::ConfigHeader("mall-home", std::to_string(version), content);
    h.mutable_statement()->mutable_module()->set_layer(v1::LAYER_H5);
    clock_.Advance(absl::Minutes(1));
    EXPECT_THAT(admin_->PublishBytes(testing::AdminPrincipal(), h, content),
                IsOk());
    if (release) {
      v1::CreateReleaseRequest r;
      r.set_app_id("wallet");
      *r.mutable_module() = h.statement().module();
      r.set_version(std::to_string(version));
      r.set_all_at_once(true);
      EXPECT_THAT(admin_->CreateRelease(testing::AdminPrincipal(), r), IsOk());
    }
    return Sha256::HexHash(content);
  }
  v1::CheckResponse CheckWith(const std::string& installed_sha,
                              bool accepts_tree_patches = false) {
    v1::CheckRequest req;
    req.set_accepts_tree_patches(accepts_tree_patches);
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id("d1");
    auto* m = req.add_installed();
    m->mutable_module()->set_layer(v1::LAYER_H5);
    m->mutable_module()->set_name("mall-home");
    m->set_content_sha256(installed_sha);
    auto resp = delivery_->Check(req);
    EXPECT_THAT(resp, IsOk());
    return *resp;
  }

  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DeltaCache> deltas_;
  std::unique_ptr<AdminCore> admin_;
  std::unique_ptr<DeliveryCore> delivery_;
};

TEST_F(DeltaCacheTest, PublishComputesDeltasThatApplyToTheNewVersion) {
  Init({});
  const std::string v1 = Publish(1);
  const std::string v2 = Publish(2);
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 1u);
  std::optional<v1::StoredDelta> d = deltas_->Lookup(v1, v2);
  ASSERT_TRUE(d.has_value());
  EXPECT_LT(d->patch_size(), Package(2).size() / 10);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                              store_->ReadBlob(d->patch_sha256(), 0, 1 << 20));
  // The patch carries no check of its own (the device has the signed
  // statement's hash): applying needs the expected SHA-256.
  EXPECT_EQ(diff::ApplyPatchToString(Package(1), patch).status().code(),
            absl::StatusCode::kInvalidArgument);
  diff::ApplyOptions apply;
  apply.expected_new_sha256 = Sha256::Hash(Package(2));
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string out, diff::ApplyPatchToString(Package(1), patch, apply));
  EXPECT_EQ(out, Package(2));
  EXPECT_EQ(metrics_.CounterValue("strata_deltas_computed_total"), 1u);

  // The check offers the delta next to the full download.
  v1::CheckResponse resp = CheckWith(v1);
  ASSERT_EQ(resp.plan().updates_size(), 1);
  const v1::UpdateEntry& e = resp.plan().updates(0);
  EXPECT_EQ(e.full().sha256(), v2);
  ASSERT_EQ(e.deltas_size(), 1);
  EXPECT_EQ(e.deltas(0).from_sha256(), v1);
  EXPECT_EQ(e.deltas(0).patch().sha256(), d->patch_sha256());
  EXPECT_GE(metrics_.CounterValue("strata_delta_cache_hits_total"), 1u);
}

TEST_F(DeltaCacheTest, CanonicalTreeArchivesGetATreePatch) {
  Init({});
  const std::string v1 = PublishContent(1, PackageTree(1));
  const std::string v2 = PublishContent(2, PackageTree(2));
  deltas_->WaitIdle();
  // The precondition, from the engine directly: on this pair the tree
  // patch is the smaller (kept files cost next to nothing).
  diff::DiffOptions byte_options;
  byte_options.output_check = diff::OutputCheck::kByCaller;
  byte_options.threads = 1;  // as stratad makes them
  diff::TreeDiffOptions tree_options;
  tree_options.delta.threads = 1;
  tree_options.form = diff::TreePatchForm::kPerFile;  // as stratad does
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string bytes,
      diff::CreatePatch(PackageTree(1), PackageTree(2), byte_options));
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string tree, diff::CreateTreePatchFromArchives(
                            PackageTree(1), PackageTree(2), tree_options));
  ASSERT_LT(tree.size(), bytes.size());

  std::optional<v1::StoredDelta> d = deltas_->Lookup(v1, v2);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->worthwhile());
  ASSERT_FALSE(d->tree_patch_sha256().empty());
  EXPECT_EQ(d->tree_patch_size(), tree.size());
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string stored, store_->ReadBlob(d->tree_patch_sha256(), 0, 1 << 20));
  EXPECT_TRUE(diff::IsTreePatch(stored));
  EXPECT_EQ(metrics_.CounterValue("strata_tree_deltas_computed_total"), 1u);

  // A device that applies tree patches gets it first, the byte patch as
  // its fallback; others get the byte patch only.
  v1::CheckResponse resp = CheckWith(v1, /*accepts_tree_patches=*/true);
  ASSERT_EQ(resp.plan().updates_size(), 1);
  const v1::UpdateEntry& e = resp.plan().updates(0);
  ASSERT_EQ(e.deltas_size(), 2);
  EXPECT_TRUE(e.deltas(0).tree());
  EXPECT_EQ(e.deltas(0).patch().sha256(), d->tree_patch_sha256());
  EXPECT_EQ(e.deltas(0).patch().size(), d->tree_patch_size());
  EXPECT_FALSE(e.deltas(1).tree());
  EXPECT_EQ(e.deltas(1).patch().sha256(), d->patch_sha256());
  v1::CheckResponse old_sdk = CheckWith(v1);
  ASSERT_EQ(old_sdk.plan().updates(0).deltas_size(), 1);
  EXPECT_FALSE(old_sdk.plan().updates(0).deltas(0).tree());
}

// A record stored before stratad made tree patches is offered as it is and
// computed again for the first device that applies tree patches.
TEST_F(DeltaCacheTest, RecordsFromBeforeTreePatchesAreComputedAgain) {
  Init({.previous_versions = 0});
  const std::string v1 = PublishContent(1, PackageTree(1));
  const std::string v2 = PublishContent(2, PackageTree(2));
  deltas_->WaitIdle();
  ASSERT_EQ(deltas_->computed(), 0u);
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string bytes, diff::CreatePatch(PackageTree(1), PackageTree(2)));
  STRATA_ASSERT_OK_AND_ASSIGN(BlobManifest blob,
                              BlobWriter::WriteAll(store_.get(), bytes));
  v1::StoredDelta old;  // as an older stratad stored it
  old.set_from_sha256(v1);
  old.set_to_sha256(v2);
  old.set_patch_sha256(blob.sha256);
  old.set_patch_size(blob.size);
  old.set_worthwhile(true);
  ASSERT_THAT(store_->PutDelta(old, &blob, nullptr), IsOk());
  // An older SDK: the record as it is, nothing queued.
  EXPECT_EQ(CheckWith(v1).plan().updates(0).deltas_size(), 1);
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 0u);
  // A device that applies tree patches: the byte patch now, the tree
  // patch once the pair is computed again; then never again.
  v1::CheckResponse first = CheckWith(v1, /*accepts_tree_patches=*/true);
  ASSERT_EQ(first.plan().updates(0).deltas_size(), 1);
  EXPECT_FALSE(first.plan().updates(0).deltas(0).tree());
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 1u);
  v1::CheckResponse next = CheckWith(v1, /*accepts_tree_patches=*/true);
  ASSERT_EQ(next.plan().updates(0).deltas_size(), 2);
  EXPECT_TRUE(next.plan().updates(0).deltas(0).tree());
  // The stored byte patch is kept (not made again and replaced, which
  // would leave its blob unreferenced).
  EXPECT_EQ(next.plan().updates(0).deltas(1).patch().sha256(), blob.sha256);
  EXPECT_EQ(metrics_.CounterValue("strata_tree_deltas_computed_total"), 1u);
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 1u);
}

TEST_F(DeltaCacheTest, OtherArchivesGetByteDeltasOnly) {
  Init({});
  const std::string v1 = PublishContent(1, PackageTree(1, false));
  const std::string v2 = PublishContent(2, PackageTree(2, false));
  deltas_->WaitIdle();
  std::optional<v1::StoredDelta> d = deltas_->Lookup(v1, v2);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->worthwhile());
  EXPECT_TRUE(d->tree_patch_sha256().empty());
  EXPECT_EQ(metrics_.CounterValue("strata_tree_deltas_skipped_total",
                                  "reason=\"not_canonical\""),
            1u);
  v1::CheckResponse resp = CheckWith(v1, /*accepts_tree_patches=*/true);
  ASSERT_EQ(resp.plan().updates(0).deltas_size(), 1);
  EXPECT_FALSE(resp.plan().updates(0).deltas(0).tree());
}

// stratad makes the per-file form of tree patches only: SDKs from before
// the archive form cannot apply it. The pair is one where the archive form
// would be kept if stratad asked for either: an old archive from another
// tar (a time in every header, so the byte patch pays for each), a hundred
// small files, one edited.
TEST_F(DeltaCacheTest, TreePatchesAreThePerFileForm) {
  Init({});
  auto archive = [](int version, bool stamped) {
    std::string out;
    for (int f = 0; f < 100; ++f) {
      std::string data = StrCat("module ", f, " of the mall page; ",
                                std::string(200 + f, 'a' + f % 26), "\n");
      if (version == 2 && f == 50) data.replace(10, 4, "v2v2");
      std::string h = *diff::CanonicalUstarHeader(StrCat("m/", 1000 + f),
                                                  data.size(), false, "");
      if (stamped) {  // an mtime, then the checksum again
        std::snprintf(h.data() + 136, 12, "%011o", 1700000000u + f * 7919u);
        std::fill(h.begin() + 148, h.begin() + 156, ' ');
        unsigned sum = 0;
        for (unsigned char c : h) sum += c;
        std::snprintf(h.data() + 148, 7, "%06o", sum);
      }
      out += h + data;
      out.append(diff::UstarPadded(data.size()) - data.size(), '\0');
    }
    return out + std::string(1024, '\0');
  };
  const std::string a1 = archive(1, /*stamped=*/true);
  const std::string a2 = archive(2, /*stamped=*/false);
  ASSERT_FALSE(diff::IsCanonicalUstar(a1));
  ASSERT_TRUE(diff::IsCanonicalUstar(a2));
  // The precondition: archive form < per-file form < byte patch.
  diff::DiffOptions byte_options;
  byte_options.output_check = diff::OutputCheck::kByCaller;
  byte_options.threads = 1;
  STRATA_ASSERT_OK_AND_ASSIGN(std::string bytes,
                              diff::CreatePatch(a1, a2, byte_options));
  diff::TreeDiffOptions tree_options;
  tree_options.delta.threads = 1;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string either,
      diff::CreateTreePatchFromArchives(a1, a2, tree_options));
  tree_options.form = diff::TreePatchForm::kPerFile;
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string per_file,
      diff::CreateTreePatchFromArchives(a1, a2, tree_options));
  STRATA_ASSERT_OK_AND_ASSIGN(diff::TreePatchInfo info,
                              diff::ReadTreePatch(either));
  ASSERT_TRUE(info.archive_form);
  ASSERT_LT(either.size(), per_file.size());
  ASSERT_LT(per_file.size(), bytes.size());

  const std::string v1 = PublishContent(1, a1);
  const std::string v2 = PublishContent(2, a2);
  deltas_->WaitIdle();
  std::optional<v1::StoredDelta> d = deltas_->Lookup(v1, v2);
  ASSERT_TRUE(d.has_value());
  ASSERT_FALSE(d->tree_patch_sha256().empty());
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string stored, store_->ReadBlob(d->tree_patch_sha256(), 0, 1 << 20));
  EXPECT_EQ(stored, per_file);
}

TEST_F(DeltaCacheTest, OnlyTheLastNVersionsOnPublishThenOnDemand) {
  Init({.previous_versions = 1});
  const std::string v1 = Publish(1, /*release=*/false);
  const std::string v2 = Publish(2, /*release=*/false);
  const std::string v3 = Publish(3);
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 2u);  // v1->v2 and v2->v3, not v1->v3
  EXPECT_FALSE(deltas_->Lookup(v1, v3).has_value());
  // A device still on v1: full download now, the pair is queued...
  EXPECT_EQ(CheckWith(v1).plan().updates(0).deltas_size(), 0);
  deltas_->WaitIdle();
  // ...and offered on its next check.
  EXPECT_EQ(CheckWith(v1).plan().updates(0).deltas_size(), 1);
  EXPECT_EQ(deltas_->computed(), 3u);
}

TEST_F(DeltaCacheTest, EmbeddedVersionsAreAlwaysDeltaBases) {
  Init({.previous_versions = 1});
  // The version apps ship with, registered as embedded (never released).
  const std::string embedded_content = Package(1);
  v1::PublishHeader h =
      testing::ConfigHeader("mall-home", "embedded-b77", embedded_content);
  h.mutable_statement()->mutable_module()->set_layer(v1::LAYER_H5);
  h.set_embedded(true);
  ASSERT_THAT(
      admin_->PublishBytes(testing::AdminPrincipal(), h, embedded_content),
      IsOk());
  const std::string e = Sha256::HexHash(embedded_content);
  v1::CreateReleaseRequest r;
  r.set_app_id("wallet");
  *r.mutable_module() = h.statement().module();
  r.set_version("embedded-b77");
  r.set_all_at_once(true);
  EXPECT_THAT(admin_->CreateRelease(testing::AdminPrincipal(), r),
              testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                ::testing::HasSubstr("embedded baseline")));
  const std::string v2 = Publish(2);
  const std::string v3 = Publish(3);
  deltas_->WaitIdle();
  // Last-1 rule gives v2->v3; the embedded base gets a delta to each new
  // version whatever its age.
  EXPECT_TRUE(deltas_->Lookup(e, v2).has_value());
  EXPECT_TRUE(deltas_->Lookup(e, v3).has_value());
  EXPECT_TRUE(deltas_->Lookup(v2, v3).has_value());
  // A device still on the embedded content is offered the delta at once.
  v1::CheckResponse resp = CheckWith(e);
  ASSERT_EQ(resp.plan().updates_size(), 1);
  ASSERT_EQ(resp.plan().updates(0).deltas_size(), 1);
  EXPECT_EQ(resp.plan().updates(0).deltas(0).from_sha256(), e);
}

TEST_F(DeltaCacheTest, ConcurrentRequestsForOnePairComputeItOnce) {
  Init({.previous_versions = 0});
  const std::string v1 = Publish(1, false);
  const std::string v2 = Publish(2, false);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { deltas_->Request(v1, v2, Package(2).size()); });
  }
  for (auto& t : threads) t.join();
  deltas_->WaitIdle();
  deltas_->Request(v1, v2, Package(2).size());  // cached: not queued again
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 1u);
}

TEST_F(DeltaCacheTest, PatchesNotWorthItAreRememberedButNotOffered) {
  Init({.previous_versions = 0});
  auto put = [&](const std::string& content, const std::string& version) {
    v1::PublishHeader h = testing::ConfigHeader("blob", version, content);
    h.mutable_statement()->mutable_module()->set_layer(v1::LAYER_H5);
    EXPECT_THAT(admin_->PublishBytes(testing::AdminPrincipal(), h, content),
                IsOk());
    return Sha256::HexHash(content);
  };
  std::string a(20000, '\0'), b(20000, '\0');
  testing::FakeRandom r(1);
  r.Fill(a.data(), a.size());
  r.Fill(b.data(), b.size());
  const std::string sa = put(a, "1"), sb = put(b, "2");
  deltas_->Request(sa, sb, b.size());
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 1u);
  EXPECT_FALSE(deltas_->Lookup(sa, sb).has_value());
  STRATA_ASSERT_OK_AND_ASSIGN(auto record, store_->GetDelta(sa, sb));
  ASSERT_TRUE(record.has_value());
  EXPECT_FALSE(record->worthwhile());
  deltas_->Request(sa, sb, b.size());
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 1u);
}

TEST_F(DeltaCacheTest, MadeUpBaseHashesCostNoQueueSlotAndNoComputation) {
  Init({.previous_versions = 0});
  Publish(1);
  const std::string v2 = Publish(2);
  deltas_->SetPausedForTesting(true);
  for (int i = 0; i < 300; ++i) {
    // What a device claiming to have content nobody published sends.
    CheckWith(Sha256::HexHash(StrCat("made up ", i)));
    deltas_->Request(StrCat("not-even-a-hash-", i), v2, Package(2).size());
  }
  EXPECT_EQ(deltas_->queued(), 0u);
  EXPECT_EQ(metrics_.CounterValue("strata_delta_requests_dropped_total",
                                  "reason=\"unknown_from\""),
            600u);
  deltas_->SetPausedForTesting(false);
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 0u);
}

TEST_F(DeltaCacheTest, DeviceRequestsBeyondTheBoundAreDroppedAndCounted) {
  Init({.previous_versions = 0, .max_queued = 3});
  std::vector<std::string> versions;
  for (int v = 1; v <= 8; ++v) versions.push_back(Publish(v, false));
  deltas_->SetPausedForTesting(true);
  const std::string& to = versions.back();
  for (size_t i = 0; i + 1 < versions.size(); ++i) {
    deltas_->Request(versions[i], to, Package(8).size());
  }
  EXPECT_EQ(deltas_->queued(), 3u);
  EXPECT_EQ(metrics_.CounterValue("strata_delta_requests_dropped_total",
                                  "reason=\"queue_full\""),
            4u);
  EXPECT_EQ(metrics_.GaugeValue("strata_delta_queue_length"), 3);
  // A pair already queued is not a second request.
  deltas_->Request(versions[0], to, Package(8).size());
  EXPECT_EQ(metrics_.CounterValue("strata_delta_requests_dropped_total",
                                  "reason=\"queue_full\""),
            4u);
  deltas_->SetPausedForTesting(false);
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 3u);
  EXPECT_EQ(metrics_.GaugeValue("strata_delta_queue_length"), 0);
  // The slots are free again: a dropped pair asked for again is computed.
  deltas_->Request(versions[5], to, Package(8).size());
  deltas_->WaitIdle();
  EXPECT_EQ(deltas_->computed(), 4u);
  EXPECT_TRUE(deltas_->Lookup(versions[5], to).has_value());
}

TEST_F(DeltaCacheTest, PublishesAreNotHeldBackByAFullDeviceQueue) {
  Init({.previous_versions = 3, .max_queued = 1});
  const std::string v1 = Publish(1, false);
  const std::string v2 = Publish(2, false);
  deltas_->WaitIdle();
  deltas_->SetPausedForTesting(true);
  const std::string v3 = Publish(3, false);  // queues v1->v3 and v2->v3
  EXPECT_EQ(deltas_->queued(), 2u);
  deltas_->SetPausedForTesting(false);
  deltas_->WaitIdle();
  EXPECT_TRUE(deltas_->Lookup(v1, v3).has_value());
  EXPECT_TRUE(deltas_->Lookup(v2, v3).has_value());
}

}  // namespace
}  // namespace strata::server
