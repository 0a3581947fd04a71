// The RocksDB store, on a real RocksDB in a temporary directory.
#include "strata/server/storage/store.h"

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::strata::testing::TempDir;

v1::StoredArtifact Artifact(const std::string& version,
                            const std::string& content) {
  v1::StoredArtifact a;
  *a.mutable_statement() =
      testing::ConfigHeader("payment.limits", version, content).statement();
  return a;
}

v1::Release ReleaseOf(const std::string& module, const std::string& version) {
  v1::Release r;
  r.set_app_id("wallet");
  r.mutable_module()->set_layer(v1::LAYER_CONFIG);
  r.mutable_module()->set_name(module);
  r.set_version(version);
  return r;
}

TEST(StoreTest, ArtifactAndBlobRoundTrip) {
  TempDir dir;
  STRATA_ASSERT_OK_AND_ASSIGN(auto store,
                              Store::Open(JoinPath(dir.path(), "db")));
  const std::string content = "{\"limit\": 1}";
  v1::StoredArtifact a = Artifact("1", content);
  ASSERT_THAT(store->PutArtifact(a, content), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto got, store->GetArtifact("wallet", a.statement().module(), "1"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->statement().content_sha256(), a.statement().content_sha256());
  const std::string& sha = a.statement().content_sha256();
  EXPECT_EQ(*store->ReadBlob(sha, 0, 100), content);
  EXPECT_EQ(*store->ReadBlob(sha, 3, 4), content.substr(3, 4));
  EXPECT_EQ(*store->BlobSize(sha), content.size());
  EXPECT_THAT(store->ReadBlob(sha, content.size() + 1, 1),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(store->ReadBlob(std::string(64, '0'), 0, 1),
              StatusIs(absl::StatusCode::kNotFound));
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto missing, store->GetArtifact("wallet", a.statement().module(), "2"));
  EXPECT_FALSE(missing.has_value());
}

TEST(StoreTest, ReleasesGetGrowingIdsAndPerModuleSequences) {
  TempDir dir;
  STRATA_ASSERT_OK_AND_ASSIGN(auto store,
                              Store::Open(JoinPath(dir.path(), "db")));
  STRATA_ASSERT_OK_AND_ASSIGN(auto r1,
                              store->CreateRelease(ReleaseOf("a", "1")));
  STRATA_ASSERT_OK_AND_ASSIGN(auto r2,
                              store->CreateRelease(ReleaseOf("b", "1")));
  STRATA_ASSERT_OK_AND_ASSIGN(auto r3,
                              store->CreateRelease(ReleaseOf("a", "2")));
  EXPECT_EQ(r1.release_id(), 1u);
  EXPECT_EQ(r2.release_id(), 2u);
  EXPECT_EQ(r3.release_id(), 3u);
  EXPECT_EQ(r1.release_sequence(), 1u);
  EXPECT_EQ(r2.release_sequence(), 1u);
  EXPECT_EQ(r3.release_sequence(), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto current, store->CurrentReleases("wallet"));
  ASSERT_EQ(current.size(), 2u);
  std::map<std::string, std::string> versions;
  for (const auto& r : current) versions[r.module().name()] = r.version();
  EXPECT_EQ(versions["a"], "2");
  EXPECT_EQ(versions["b"], "1");
  STRATA_ASSERT_OK_AND_ASSIGN(auto all, store->ListReleases("wallet"));
  EXPECT_EQ(all.size(), 3u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto other_app, store->ListReleases("other"));
  EXPECT_TRUE(other_app.empty());
}

TEST(StoreTest, EverythingSurvivesReopen) {
  TempDir dir;
  const std::string db = JoinPath(dir.path(), "db");
  const std::string content = "persist me";
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto store, Store::Open(db));
    ASSERT_THAT(store->PutArtifact(Artifact("1", content), content), IsOk());
    ASSERT_THAT(store->CreateRelease(ReleaseOf("payment.limits", "1")), IsOk());
  }
  STRATA_ASSERT_OK_AND_ASSIGN(auto store, Store::Open(db));
  EXPECT_EQ(*store->ReadBlob(Sha256::HexHash(content), 0, 100), content);
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto r, store->CreateRelease(ReleaseOf("payment.limits", "1")));
  EXPECT_EQ(r.release_id(), 2u);
  EXPECT_EQ(r.release_sequence(), 2u);
}

TEST(StoreTest, SecondOpenOfTheSameDirectoryIsRefusedClearly) {
  TempDir dir;
  const std::string db = JoinPath(dir.path(), "db");
  STRATA_ASSERT_OK_AND_ASSIGN(auto store, Store::Open(db));
  auto second = Store::Open(db);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another stratad"),
            absl::string_view::npos)
      << second.status();
}

}  // namespace
}  // namespace strata::server
