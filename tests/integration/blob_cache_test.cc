// The HTTP front's decompressed-blob cache over a real RocksDB store in a
// temporary directory: hits, the byte budget with least-recently-served
// eviction, blobs too large to keep, and bytes that do not match the name.
#include "strata/server/http/blob_cache.h"

#include "../server/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/core/blob_writer.h"
#include "strata/server/core/metrics.h"
#include "strata/server/http/blob_handler.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31);
  return s;
}

class BlobCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }
  BlobManifest Put(const std::string& content) {
    BlobWriter w(store_.get(), /*chunk=*/1000);
    EXPECT_THAT(w.Append(content), IsOk());
    auto m = w.Finish();
    EXPECT_THAT(m, IsOk());
    return *m;
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(BlobCacheTest, SecondReadIsAHitOfTheSameBytes) {
  BlobCache cache(store_.get(), 100000);
  const std::string content = Bytes(5000, 'a');
  const BlobManifest m = Put(content);
  auto first = cache.Get(m);
  ASSERT_THAT(first, IsOk());
  ASSERT_NE(*first, nullptr);
  EXPECT_EQ(**first, content);
  auto second = cache.Get(m);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->get(), first->get());  // the same copy
  const BlobCache::Stats s = cache.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.bytes, content.size());
}

TEST_F(BlobCacheTest, TheLeastRecentlyServedGoFirstWithinTheBudget) {
  BlobCache cache(store_.get(), 16000);  // keeps blobs up to 4000 bytes
  std::vector<BlobManifest> blobs;
  for (char c = 'a'; c < 'a' + 6; ++c) blobs.push_back(Put(Bytes(3000, c)));
  for (int i = 0; i < 5; ++i) ASSERT_THAT(cache.Get(blobs[i]), IsOk());
  ASSERT_THAT(cache.Get(blobs[0]), IsOk());  // 0 is now the most recent
  ASSERT_THAT(cache.Get(blobs[5]), IsOk());  // evicts 1, the oldest
  BlobCache::Stats s = cache.stats();
  EXPECT_EQ(s.entries, 5u);
  EXPECT_LE(s.bytes, 16000u);
  const uint64_t misses = s.misses;
  ASSERT_THAT(cache.Get(blobs[0]), IsOk());
  EXPECT_EQ(cache.stats().misses, misses);  // still there
  ASSERT_THAT(cache.Get(blobs[1]), IsOk());
  EXPECT_EQ(cache.stats().misses, misses + 1);  // was evicted
}

TEST_F(BlobCacheTest, BlobsOverAQuarterOfTheBudgetAreNotKept) {
  BlobCache cache(store_.get(), 16000);
  const BlobManifest big = Put(Bytes(4001, 'z'));
  EXPECT_FALSE(cache.Keeps(big.size));
  auto got = cache.Get(big);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, nullptr);
  EXPECT_EQ(cache.stats().bytes, 0u);
  BlobCache none(store_.get(), 0);
  EXPECT_FALSE(none.Keeps(1));
}

TEST_F(BlobCacheTest, BytesThatDoNotHashToTheNameAreDataLoss) {
  BlobCache cache(store_.get(), 100000);
  BlobManifest m = Put(Bytes(2000, 'q'));
  m.sha256 = std::string(64, 'e');
  EXPECT_THAT(cache.Get(m), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(cache.stats().entries, 0u);
}

// Over HTTP (real loopback sockets, curl): a blob too large for the cache
// is streamed from its chunks, whole and in ranges, and nothing is kept.
TEST_F(BlobCacheTest, BlobsTooLargeToKeepAreStreamedOverHttp) {
  const std::string content = Bytes(300 * 1024 + 5, 'k');
  BlobWriter w(store_.get(), /*chunk=*/64 * 1024);
  ASSERT_THAT(w.Append(content), IsOk());
  auto m = w.Finish();
  ASSERT_THAT(m, IsOk());
  v1::StoredArtifact a;
  *a.mutable_statement() =
      testing::ConfigHeader("big", "1", content).statement();
  ASSERT_THAT(
      store_->PutArtifact(a, *m, nullptr, testing::TestAudit("publish")),
      IsOk());
  Metrics metrics;
  auto server = HttpServer::Start(
      "127.0.0.1:0",
      MakeBlobHandler(store_.get(), &metrics, nullptr, /*cache_bytes=*/4096));
  ASSERT_THAT(server, IsOk());
  const std::string url =
      StrCat("http://127.0.0.1:", (*server)->port(), "/v1/blobs/", m->sha256);
  const std::string out = JoinPath(dir_.path(), "out");
  for (const auto& [range, first, length] :
       std::vector<std::tuple<std::string, size_t, size_t>>{
           {"", 0, content.size()},
           {"-r 65530-200000", 65530, 200000 - 65530 + 1},
           {"-r -7", content.size() - 7, 7}}) {
    ASSERT_EQ(
        std::system(StrCat("curl -sS -o ", out, " ", range, " ", url).c_str()),
        0);
    EXPECT_EQ(PosixFileSystem()->ReadFile(out).value_or(""),
              content.substr(first, length))
        << range;
  }
  EXPECT_THAT(
      metrics.Render(),
      ::testing::HasSubstr("strata_http_requests_total{code=\"206\"} 2"));
}

}  // namespace
}  // namespace strata::server
