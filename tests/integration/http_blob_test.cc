// Blobs over plain HTTP, fetched with the real curl: full bodies, Range
// requests, validators and caching headers a CDN relies on.
#include <sys/wait.h>

#include <cstdio>

#include "../server/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/sha256.h"
#include "test_server.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::testing::HasSubstr;

struct Curl {
  int exit_code;
  std::string headers;
  std::string body;
};

class HttpBlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Start(JoinPath(dir_.path(), "server"));
    content_.resize(300 * 1024 + 7);
    for (size_t i = 0; i < content_.size(); ++i)
      content_[i] = static_cast<char>(i * 7 % 253);
    sha_ = Sha256::HexHash(content_);
    v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(v1::LAYER_H5);
    st.mutable_module()->set_name("mall-home");
    st.set_version("1");
    ASSERT_THAT(admin::AdminClient(server_.address(), server_.token(),
                                   admin::ChannelSecurity::Plaintext())
                    .Publish(st, content_, ""),
                IsOk());
  }

  Curl Get(const std::string& path, const std::string& extra = "") {
    const std::string headers = JoinPath(dir_.path(), "h"),
                      body = JoinPath(dir_.path(), "b");
    (void)PosixFileSystem()->DeleteFile(body);
    std::string cmd = StrCat("curl -sS -D ", headers, " -o ", body, " ", extra,
                             " http://127.0.0.1:", server_.http_port(), path);
    int status = std::system(cmd.c_str());
    Curl c{WIFEXITED(status) ? WEXITSTATUS(status) : -1, "", ""};
    c.headers = PosixFileSystem()->ReadFile(headers).value_or("");
    c.body = PosixFileSystem()->ReadFile(body).value_or("");
    return c;
  }

  testing::TempDir dir_;
  testing::TestServer server_;
  std::string content_, sha_;
};

TEST_F(HttpBlobTest, FullBlobWithImmutableCachingHeaders) {
  Curl c = Get("/v1/blobs/" + sha_);
  ASSERT_EQ(c.exit_code, 0)
      << "is curl installed? ./strata.sh deps installs it";
  EXPECT_THAT(c.headers, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(c.headers, HasSubstr("ETag: \"" + sha_ + "\""));
  EXPECT_THAT(c.headers,
              HasSubstr("Cache-Control: public, max-age=31536000, immutable"));
  EXPECT_THAT(c.headers, HasSubstr("Accept-Ranges: bytes"));
  EXPECT_THAT(c.headers,
              HasSubstr(StrCat("Content-Length: ", content_.size())));
  EXPECT_EQ(c.body, content_);
}

TEST_F(HttpBlobTest, RangesAcrossStoredChunks) {
  struct Case {
    std::string range;
    size_t first, last;
  };
  const size_t n = content_.size();
  for (const Case& r : std::vector<Case>{{"100-199", 100, 199},
                                         {"262100-262200", 262100, 262200},
                                         {"300000-", 300000, n - 1},
                                         {"-50", n - 50, n - 1},
                                         {"0-0", 0, 0},
                                         {StrCat("10-", n + 100), 10, n - 1}}) {
    Curl c = Get("/v1/blobs/" + sha_, "-r " + r.range);
    ASSERT_EQ(c.exit_code, 0);
    EXPECT_THAT(c.headers, HasSubstr("HTTP/1.1 206 Partial Content"))
        << r.range;
    EXPECT_THAT(c.headers, HasSubstr(StrCat("Content-Range: bytes ", r.first,
                                            "-", r.last, "/", n)))
        << r.range;
    EXPECT_EQ(c.body, content_.substr(r.first, r.last - r.first + 1))
        << r.range;
  }
}

TEST_F(HttpBlobTest, UnsatisfiableRangeIs416) {
  Curl c = Get("/v1/blobs/" + sha_, StrCat("-r ", content_.size(), "-"));
  EXPECT_THAT(c.headers, HasSubstr("HTTP/1.1 416"));
  EXPECT_THAT(c.headers,
              HasSubstr(StrCat("Content-Range: bytes */", content_.size())));
}

TEST_F(HttpBlobTest, ConditionalRequestsAndErrors) {
  Curl c = Get("/v1/blobs/" + sha_, "-H 'If-None-Match: \"" + sha_ + "\"'");
  EXPECT_THAT(c.headers, HasSubstr("HTTP/1.1 304 Not Modified"));
  EXPECT_TRUE(c.body.empty());
  // If-Range with a stale validator: the whole blob.
  c = Get("/v1/blobs/" + sha_, "-r 0-9 -H 'If-Range: \"other\"'");
  EXPECT_THAT(c.headers, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_EQ(c.body.size(), content_.size());
  c = Get("/v1/blobs/" + sha_, "-I");
  EXPECT_THAT(c.headers,
              HasSubstr(StrCat("Content-Length: ", content_.size())));
  EXPECT_THAT(Get("/v1/blobs/" + std::string(64, 'a')).headers,
              HasSubstr("404"));
  EXPECT_THAT(Get("/v1/blobs/NOT-A-HASH").headers, HasSubstr("400"));
  EXPECT_THAT(Get("/v1/blobs/" + sha_, "-X DELETE").headers, HasSubstr("405"));
}

TEST_F(HttpBlobTest, ListsAndWeakTagsInIfNoneMatch) {
  Curl c = Get("/v1/blobs/" + sha_,
               "-H 'If-None-Match: \"other\", W/\"" + sha_ + "\"'");
  EXPECT_THAT(c.headers, HasSubstr("HTTP/1.1 304 Not Modified"));
  c = Get("/v1/blobs/" + sha_, "-H 'If-None-Match: \"other\"'");
  EXPECT_THAT(c.headers, HasSubstr("HTTP/1.1 200 OK"));
}

// The second and later GETs (whole or ranged, over one keep-alive
// connection or not) come from the decompressed copy: one miss, then
// hits, and the bytes are the same.
TEST_F(HttpBlobTest, RepeatedGetsAreServedFromTheDecompressedCache) {
  const std::string url =
      StrCat("http://127.0.0.1:", server_.http_port(), "/v1/blobs/", sha_);
  const std::string out = JoinPath(dir_.path(), "many");
  const std::string cmd =
      StrCat("curl -sS -o ", out, " ", url, " --next -o ", out, ".2 ", url,
             " --next -o ", out, ".3 -r 5-9 ", url);
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(PosixFileSystem()->ReadFile(out).value_or(""), content_);
  EXPECT_EQ(PosixFileSystem()->ReadFile(out + ".2").value_or(""), content_);
  EXPECT_EQ(PosixFileSystem()->ReadFile(out + ".3").value_or(""),
            content_.substr(5, 5));
  Curl again = Get("/v1/blobs/" + sha_, "-r 0-99");
  EXPECT_THAT(again.headers, HasSubstr("HTTP/1.1 206"));
  EXPECT_EQ(again.body, content_.substr(0, 100));
  Curl m = Get("/metrics");
  EXPECT_THAT(m.body, HasSubstr("strata_http_blob_cache_misses 1\n"));
  EXPECT_THAT(m.body, HasSubstr("strata_http_blob_cache_hits 3\n"));
  EXPECT_THAT(m.body, HasSubstr(StrCat("strata_http_blob_cache_bytes ",
                                       content_.size(), "\n")));
}

TEST_F(HttpBlobTest, MetricsPageCountsRequests) {
  Get("/v1/blobs/" + sha_);
  Curl c = Get("/metrics");
  EXPECT_THAT(c.headers, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(c.body, HasSubstr("strata_publishes_total 1"));
  EXPECT_THAT(
      c.body,
      HasSubstr("strata_rpc_requests_total{method=\"Publish\",code=\"OK\"} 1"));
  EXPECT_THAT(c.body, HasSubstr("strata_rpc_latency_seconds_bucket{method="
                                "\"Publish\",le=\"+Inf\"} 1"));
  EXPECT_THAT(c.body, HasSubstr("strata_http_requests_total{code=\"200\"} 1"));
}

}  // namespace
}  // namespace strata
