// One install step alone (content_fetcher.h): content already on the
// device, inline, by a delta from the active content, in full; a failed
// delta falls back to the full download and is reported to the caller.
#include "content_fetcher.h"

#include "fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/delta.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;

const std::string kOldContent = "old content of the module, version one";
const std::string kNewContent =
    "new content of the module, version two, longer";

class ContentFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ModuleStore::Open(&fs_, "/s");
    ASSERT_THAT(store, IsOk());
    store_.emplace(*std::move(store));
    server_.blobs[Sha256::HexHash(kNewContent)] = kNewContent;
  }
  absl::Status Fetch(const v1::UpdateEntry& e, std::optional<DeltaBase> base,
                     uint64_t budget = 0) {
    ContentFetcher fetcher(Env{&fs_, &clock_, &random_}, &*store_, &server_,
                           budget);
    return fetcher.Fetch(e, base, &source_, &bytes_,
                         [&](const v1::DeltaRef&, const absl::Status& s) {
                           delta_failures_.push_back(s);
                         });
  }
  std::string Blob(const std::string& content) {
    return store_->ReadBlob(Sha256::HexHash(content)).value_or("<missing>");
  }
  // kNewContent by a patch from kOldContent (`patch` is served, maybe not the
  // right one).
  v1::UpdateEntry DeltaEntry(const std::string& patch) {
    v1::UpdateEntry e = Entry(v1::LAYER_H5, "m", "2", kNewContent, 2, false);
    v1::DeltaRef* d = e.add_deltas();
    d->set_from_sha256(Sha256::HexHash(kOldContent));
    d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
    d->mutable_patch()->set_size(patch.size());
    server_.blobs[Sha256::HexHash(patch)] = patch;
    return e;
  }
  DeltaBase OldBase() {
    EXPECT_THAT(WriteFileAtomically(fs_, "/s/user_data/old", kOldContent),
                IsOk());
    return DeltaBase{Sha256::HexHash(kOldContent), "/s/user_data/old",
                     std::nullopt};
  }

  strata::testing::MemFileSystem fs_;
  strata::testing::SimulatedClock clock_;
  strata::testing::FakeRandom random_;
  FakeTransport server_;
  std::optional<ModuleStore> store_;
  Source source_ = Source::kLocal;
  uint64_t bytes_ = 0;
  std::vector<absl::Status> delta_failures_;
};

TEST_F(ContentFetcherTest, InlineContent) {
  ASSERT_THAT(
      Fetch(Entry(v1::LAYER_H5, "m", "2", kNewContent, 2, true), std::nullopt),
      IsOk());
  EXPECT_EQ(source_, Source::kInline);
  EXPECT_EQ(bytes_, 0u);
  EXPECT_EQ(Blob(kNewContent), kNewContent);
}

TEST_F(ContentFetcherTest, FullDownloadThenLocal) {
  const v1::UpdateEntry e =
      Entry(v1::LAYER_H5, "m", "2", kNewContent, 2, false);
  ASSERT_THAT(Fetch(e, std::nullopt), IsOk());
  EXPECT_EQ(source_, Source::kFull);
  EXPECT_EQ(bytes_, kNewContent.size());
  EXPECT_EQ(Blob(kNewContent), kNewContent);
  ASSERT_THAT(Fetch(e, std::nullopt), IsOk());
  EXPECT_EQ(source_, Source::kLocal);
  EXPECT_EQ(server_.downloaded.size(), 1u);
}

TEST_F(ContentFetcherTest, DeltaFromTheActiveContent) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                              diff::CreatePatch(kOldContent, kNewContent));
  ASSERT_THAT(Fetch(DeltaEntry(patch), OldBase()), IsOk());
  EXPECT_EQ(source_, Source::kDelta);
  EXPECT_EQ(bytes_, patch.size());
  EXPECT_EQ(Blob(kNewContent), kNewContent);
  EXPECT_TRUE(delta_failures_.empty());
}

// A compact patch without its own output check (diff::OutputCheck::
// kByCaller) applies: the statement's SHA-256 is given to the applier.
TEST_F(ContentFetcherTest, ACallerCheckedDeltaIsCheckedAgainstTheStatement) {
  diff::DiffOptions o;
  o.method = diff::PatchMethod::kZstdPrefix;
  o.output_check = diff::OutputCheck::kByCaller;
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                              diff::CreatePatch(kOldContent, kNewContent, o));
  ASSERT_THAT(Fetch(DeltaEntry(patch), OldBase()), IsOk());
  EXPECT_EQ(source_, Source::kDelta);
  EXPECT_EQ(Blob(kNewContent), kNewContent);
  EXPECT_TRUE(delta_failures_.empty());
}

TEST_F(ContentFetcherTest, AWrongDeltaFallsBackToTheFullDownload) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string patch, diff::CreatePatch(kOldContent, kNewContent + "!"));
  ASSERT_THAT(Fetch(DeltaEntry(patch), OldBase()), IsOk());
  EXPECT_EQ(source_, Source::kFull);
  EXPECT_EQ(delta_failures_.size(), 1u);
  EXPECT_EQ(Blob(kNewContent), kNewContent);
}

TEST_F(ContentFetcherTest, AWrongCallerCheckedDeltaFallsBackToo) {
  diff::DiffOptions o;
  o.output_check = diff::OutputCheck::kByCaller;
  std::string wrong = kNewContent;  // the statement's size, other bytes
  wrong.back() = '!';
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                              diff::CreatePatch(kOldContent, wrong, o));
  ASSERT_THAT(Fetch(DeltaEntry(patch), OldBase()), IsOk());
  EXPECT_EQ(source_, Source::kFull);
  ASSERT_EQ(delta_failures_.size(), 1u);
  EXPECT_THAT(delta_failures_[0], StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(Blob(kNewContent), kNewContent);
}

// The plan's patches are tried in order: a tree patch is skipped when the
// active content has no unpacked tree (nothing downloaded for it); after
// a failed patch the next one is tried before the full download.
TEST_F(ContentFetcherTest, PatchesAreTriedInOrderAndTreePatchesNeedATree) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string good,
                              diff::CreatePatch(kOldContent, kNewContent));
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string wrong, diff::CreatePatch(kOldContent, kNewContent + "!"));
  v1::UpdateEntry e = DeltaEntry(wrong);  // first: a byte patch that fails
  v1::DeltaRef* tree = e.add_deltas();    // then a tree patch
  *tree = e.deltas(0);
  tree->set_tree(true);
  tree->mutable_patch()->set_sha256(Sha256::HexHash("a tree patch"));
  tree->mutable_patch()->set_size(12);
  server_.blobs[Sha256::HexHash("a tree patch")] = "a tree patch";
  *e.add_deltas() = DeltaEntry(good).deltas(0);  // then the right one
  TreeStore trees(&fs_, "/s/trees");
  ASSERT_THAT(trees.Open(), IsOk());
  ContentFetcher fetcher(Env{&fs_, &clock_, &random_}, &*store_, &server_, 0,
                         &trees);
  ASSERT_THAT(fetcher.Fetch(e, OldBase(), &source_, &bytes_,
                            [&](const v1::DeltaRef&, const absl::Status& s) {
                              delta_failures_.push_back(s);
                            }),
              IsOk());
  EXPECT_EQ(source_, Source::kDelta);
  EXPECT_EQ(bytes_, wrong.size() + good.size());
  EXPECT_EQ(delta_failures_.size(), 1u);
  EXPECT_EQ(Blob(kNewContent), kNewContent);
}

TEST_F(ContentFetcherTest, TheDiskBudgetIsKept) {
  EXPECT_THAT(
      Fetch(Entry(v1::LAYER_H5, "m", "2", kNewContent, 2, false), std::nullopt,
            /*budget=*/10),
      StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(server_.downloaded.empty());
}

}  // namespace
}  // namespace strata::client
