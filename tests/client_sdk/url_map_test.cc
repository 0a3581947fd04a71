// Offline-package URL rules (url_map.h): declared prefixes, prefix
// matching, and the path a URL names in a tree, traversal refused.
#include "url_map.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::client {
namespace {

using ::strata::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

MATCHER_P(Holds, m, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "status " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(m, *arg, result_listener);
}

TEST(UrlPrefixesTest, ParsesTheDeclaredPrefixes) {
  EXPECT_THAT(ParseUrlPrefixes(R"({"url_prefixes": ["https://mall.example.com/",
                                   "http://m.example.com:8080/shop/"]})"),
              Holds(ElementsAre("https://mall.example.com/",
                                "http://m.example.com:8080/shop/")));
  EXPECT_THAT(ParseUrlPrefixes(R"({"name": "mall"})"), Holds(ElementsAre()));
}

TEST(UrlPrefixesTest, RefusesPrefixesThatAreNotHttpDirectories) {
  for (const char* bad :
       {R"({"url_prefixes": ["https://mall.example.com"]})",
        R"({"url_prefixes": ["https://mall.example.com/page"]})",
        R"({"url_prefixes": ["ftp://mall.example.com/"]})",
        R"({"url_prefixes": ["https:///"]})",
        R"({"url_prefixes": ["https://mall.example.com/?q=/"]})",
        R"({"url_prefixes": "https://mall.example.com/"})",
        R"({"url_prefixes": [1]})", "not json"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseUrlPrefixes(bad),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("strata-package.json")));
  }
}

TEST(UrlHasPrefixTest, SchemeAndHostWithoutCasePathExactly) {
  const std::string p = "https://mall.example.com/shop/";
  EXPECT_TRUE(UrlHasPrefix("https://mall.example.com/shop/a.html", p));
  EXPECT_TRUE(UrlHasPrefix("HTTPS://Mall.Example.COM/shop/", p));
  EXPECT_FALSE(UrlHasPrefix("https://mall.example.com/Shop/a.html", p));
  EXPECT_FALSE(UrlHasPrefix("http://mall.example.com/shop/a.html", p));
  EXPECT_FALSE(UrlHasPrefix("https://mall.example.com.evil.io/shop/", p));
  EXPECT_FALSE(UrlHasPrefix("https://mall.example.com:444/shop/", p));
  EXPECT_FALSE(UrlHasPrefix("https://mall.example.com/shop", p));
}

TEST(TreePathOfUrlTest, MapsPagesQueriesFragmentsAndIndexes) {
  EXPECT_THAT(TreePathOfUrl(""), Holds(std::string("index.html")));
  EXPECT_THAT(TreePathOfUrl("?from=push"), Holds(std::string("index.html")));
  EXPECT_THAT(TreePathOfUrl("cart/"), Holds(std::string("cart/index.html")));
  EXPECT_THAT(TreePathOfUrl("cart/list.html?id=3#top"),
              Holds(std::string("cart/list.html")));
  EXPECT_THAT(TreePathOfUrl("img/a%20b.png"),
              Holds(std::string("img/a b.png")));
  EXPECT_THAT(TreePathOfUrl("a..b/c.js"), Holds(std::string("a..b/c.js")));
}

TEST(TreePathOfUrlTest, RefusesTraversal) {
  for (const char* bad :
       {"../secret", "a/../../b", "%2e%2e/secret", "%2E%2E/secret", ".%2e/x",
        "a/./b", "a\\..\\b", "a%5c..%5cb", "a%2f..%2fb", "a//b", "a%00.html",
        "a%0a", "%zz", "a%2", "a%"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(TreePathOfUrl(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("refused")));
  }
}

}  // namespace
}  // namespace strata::client
