// The fuzzing switch (diff/src/fuzzing.h) is off in the normal build: the
// integrity checks it skips under STRATA_FUZZING still reject a damaged
// Strata patch header, tree patch header and tree manifest here.
#include <fstream>
#include <iterator>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/delta.h"
#include "strata/diff/tree_delta.h"

namespace strata::diff {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

std::string ReadSeed(const std::string& rel) {
  std::ifstream f(
      std::string(STRATA_TEST_SOURCE_DIR) + "/diff/fuzz/seeds/" + rel,
      std::ios::binary);
  EXPECT_TRUE(f.good()) << rel;
  return std::string((std::istreambuf_iterator<char>(f)),
                     std::istreambuf_iterator<char>());
}

TEST(FuzzingSwitchTest, StrataHeaderChecksumIsChecked) {
  std::string patch = ReadSeed("patch_reader/strata.patch");
  auto info = ReadPatchInfo(patch);
  ASSERT_TRUE(info.ok()) << info.status();
  // The 4 checksum bytes end the header, right before the streams.
  size_t header =
      patch.size() - info->ctrl_bytes - info->diff_bytes - info->extra_bytes;
  patch[header - 1] ^= 1;
  EXPECT_THAT(ReadPatchInfo(patch),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("header checksum mismatch")));
}

// Tree format 2: the header ends with manifest_check[4], checksum[4]; the
// seed's header is 8 + 4 + 6 one- or two-byte varints + 8 + 16 + 8 bytes.
size_t TreeHeaderSize(const std::string& patch) {
  size_t at = 12;
  for (int i = 0; i < 6; ++i) {
    while (static_cast<uint8_t>(patch[at]) & 0x80) ++at;
    ++at;
  }
  return at + 8 + 16 + 4 + 4;
}

TEST(FuzzingSwitchTest, TreeHeaderChecksumIsChecked) {
  std::string patch = ReadSeed("tree_patch_reader/tree-no-link.patch");
  ASSERT_TRUE(ReadTreePatch(patch).ok());
  patch[TreeHeaderSize(patch) - 4] ^= 1;  // the first checksum byte
  EXPECT_THAT(ReadTreePatch(patch),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("header checksum mismatch")));
}

TEST(FuzzingSwitchTest, TreeManifestHashIsChecked) {
  std::string patch = ReadSeed("tree_patch_reader/tree-no-link.patch");
  const size_t end = TreeHeaderSize(patch);
  patch[end - 8] ^= 1;  // the manifest check, then a valid header checksum
  Sha256Digest check = Sha256::Hash(std::string_view(patch).substr(0, end - 4));
  patch.replace(end - 4, 4, reinterpret_cast<const char*>(check.data()), 4);
  EXPECT_THAT(ReadTreePatch(patch),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("manifest SHA-256 mismatch")));
}

}  // namespace
}  // namespace strata::diff
