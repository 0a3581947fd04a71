// `strata artifact diff`: trees by path, config by JSON Pointer, anything
// else as a byte summary.
#include "strata/admin_cli/artifact_diff.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/tree_archive.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/mem_file_system.h"

namespace strata::admin {
namespace {

using ::testing::HasSubstr;

std::string Pack(
    const std::vector<std::pair<std::string, std::string>>& files) {
  testing::MemFileSystem fs;
  EXPECT_TRUE(CreateDirs(fs, "/t").ok());
  for (const auto& [path, data] : files) {
    EXPECT_TRUE(CreateDirs(fs, Dirname(JoinPath("/t", path))).ok());
    EXPECT_TRUE(WriteFileAtomically(fs, JoinPath("/t", path), data).ok());
  }
  absl::StatusOr<std::string> a = ArchiveTree(fs, "/t");
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *a : "";
}

TEST(ArtifactDiffTest, TreesByPath) {
  const std::string a = Pack({{"index.html", "<html>1</html>"},
                              {"old.css", "body{}"},
                              {"js/app.js", "same"}});
  const std::string b = Pack({{"index.html", "<html>two</html>"},
                              {"js/app.js", "same"},
                              {"js/new.js", "new()"}});
  absl::StatusOr<ArtifactDiff> d = DiffContent({"h5/home@1", v1::LAYER_H5, a},
                                               {"h5/home@2", v1::LAYER_H5, b});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->text,
            "h5/home@1 -> h5/home@2: 1 added, 1 removed, 1 changed, 1 "
            "unchanged\n"
            "  ~ index.html  14 B -> 16 B\n"
            "  + js/new.js  5 B\n"
            "  - old.css  6 B\n");
  EXPECT_EQ(d->json.Find("kind")->as_string(), "tree");
  EXPECT_EQ(d->json.Find("changed")->as_array()[0].Find("path")->as_string(),
            "index.html");
  EXPECT_EQ(d->json.Find("unchanged")->as_int(), 1);
}

TEST(ArtifactDiffTest, ConfigByKeys) {
  absl::StatusOr<ArtifactDiff> d = DiffContent(
      {"config/l@1", v1::LAYER_CONFIG,
       R"({"daily": 5000, "gone": "x", "nested": {"a": 1, "b": [1, 2]}})"},
      {"config/l@2", v1::LAYER_CONFIG,
       R"({"daily": 5000.0, "new": 0.5, "nested": {"a": 2, "b": [1, 2]}})"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->text,
            "config/l@1 -> config/l@2: 1 added, 1 removed, 1 changed, 2 "
            "unchanged\n"
            "  - /gone: \"x\"\n"
            "  ~ /nested/a: 1 -> 2\n"
            "  + /new: 0.5\n");
  EXPECT_EQ(d->json.Find("kind")->as_string(), "json");
  EXPECT_EQ(d->json.Find("added")->as_array()[0].Find("value")->as_double(),
            0.5);
}

TEST(ArtifactDiffTest, AnythingElseAsBytes) {
  absl::StatusOr<ArtifactDiff> d =
      DiffContent({"hcf/c@1", v1::LAYER_HCF, "abcdef"},
                  {"hcf/c@2", v1::LAYER_HCF, "abcXefgh"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->text, HasSubstr("6 B -> 8 B (+2 bytes); first difference at "
                                 "byte 3"));
  EXPECT_EQ(d->json.Find("first_difference")->as_int(), 3);
  d = DiffContent({"hcf/c@1", v1::LAYER_HCF, "same"},
                  {"hcf/c@2", v1::LAYER_HCF, "same"});
  EXPECT_THAT(d->text, HasSubstr("identical content"));
  // Config that is not JSON (published before checks existed) falls back.
  d = DiffContent({"config/c@1", v1::LAYER_CONFIG, "v1"},
                  {"config/c@2", v1::LAYER_CONFIG, "{}"});
  EXPECT_EQ(d->json.Find("kind")->as_string(), "bytes");
}

}  // namespace
}  // namespace strata::admin
