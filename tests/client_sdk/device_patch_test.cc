// The device core's patch applier (client_sdk/device_core/src/patch.cc)
// against patches the delta engine (strata::diff) makes: every format
// stratad can deliver applies to the right output; a wrong base, an
// output over the limit, BSDIFF40 and every truncation are refused; no
// damaged byte crashes it, and versions 1 and 2 never return an output
// their hash does not match.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/device/device_core.h"
#include "strata/diff/delta.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

// A binary-like old file (with a table of 32-bit little-endian pointers
// at 8000) and a new one with changed, inserted, removed and appended
// stretches, and every pointer moved by 0x12f0 (what a relink does; the
// carries of version 1's diff bytes).
std::string Noise(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() % 7 == 0 ? rng() : rng() % 4);
  for (size_t at = 8000; at + 4 <= std::min<size_t>(n, 16000); at += 4) {
    const uint32_t p = rng();
    for (int b = 0; b < 4; ++b) s[at + b] = static_cast<char>(p >> (8 * b));
  }
  return s;
}
std::string Edited(std::string s) {
  for (size_t at = 8000; at + 4 <= std::min<size_t>(s.size(), 16000); at += 4) {
    uint32_t p = 0;
    for (int b = 0; b < 4; ++b) p |= uint32_t{uint8_t(s[at + b])} << (8 * b);
    p += 0x12f0;
    for (int b = 0; b < 4; ++b) s[at + b] = static_cast<char>(p >> (8 * b));
  }
  for (size_t i = 1000; i < 1200; ++i) s[i] = static_cast<char>(s[i] + 3);
  s.insert(s.size() / 2, Noise(3000, 9));
  s.erase(s.size() / 3, 500);
  s += "appended tail";
  return s;
}
std::string Text(size_t n) {
  std::string s;
  for (int i = 0; s.size() < n; ++i) {
    s += "function f" + std::to_string(i) + "(a, b) { return a * " +
         std::to_string(i % 17) + " + b; }\n";
  }
  return s;
}

// The format version a patch was written in (1 to 3).
int VersionOf(const std::string& patch) {
  if (!patch.empty() && static_cast<uint8_t>(patch[0]) == 0xd3) return 3;
  return patch.size() > 8 ? patch[8] : 0;
}

struct Case {
  std::string name, old_data, new_data;
  diff::DiffOptions options;
  int version;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  diff::DiffOptions sa;
  sa.method = diff::PatchMethod::kSuffixArray;
  const std::string bin = Noise(64000, 1);
  cases.push_back({"binary, suffix array", bin, Edited(bin), sa, 1});
  diff::DiffOptions by_caller;  // as stratad's delta cache
  by_caller.output_check = diff::OutputCheck::kByCaller;
  const std::string text = Text(60000);
  std::string text2 = text;
  text2.replace(5000, 10, "return 42;");
  text2.insert(30000, "// a comment added in the middle\n");
  cases.push_back(
      {"text, compact, checked by the caller", text, text2, by_caller, 3});
  cases.push_back({"text, compact, own check", text, text2, {}, 3});
  cases.push_back({"to an empty file", text, "", by_caller, 3});
  cases.push_back({"from an empty file", "", text, by_caller, 3});
  diff::DiffOptions blocks;  // a small prefix budget makes blocks
  blocks.method = diff::PatchMethod::kZstdPrefix;
  blocks.prefix_window_log = 16;
  cases.push_back({"text, prefix blocks", text, text2, blocks, 2});
  return cases;
}

TEST(DevicePatchTest, AppliesEveryFormatTheDeltaEngineMakes) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::string> patch =
        diff::CreatePatch(c.old_data, c.new_data, c.options);
    ASSERT_THAT(patch, testing::IsOk());
    EXPECT_EQ(VersionOf(*patch), c.version);
    std::string out = "stale";
    const device::Error e =
        device::ApplyPatch(c.old_data, *patch, c.new_data.size(), &out);
    ASSERT_TRUE(e.ok()) << e.message;
    EXPECT_TRUE(out == c.new_data);
    if (c.new_data.empty()) continue;
    // One byte less allowed: refused for its size.
    EXPECT_EQ(
        device::ApplyPatch(c.old_data, *patch, c.new_data.size() - 1, &out)
            .code,
        8);
    EXPECT_TRUE(out.empty());
  }
}

TEST(DevicePatchTest, RefusesAWrongBase) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    if (c.old_data.empty()) continue;
    absl::StatusOr<std::string> patch =
        diff::CreatePatch(c.old_data, c.new_data, c.options);
    ASSERT_THAT(patch, testing::IsOk());
    std::string other = c.old_data;
    other[other.size() / 2] ^= 0x40;
    std::string out;
    const device::Error e =
        device::ApplyPatch(other, *patch, c.new_data.size(), &out);
    EXPECT_EQ(e.code, 15);
    EXPECT_THAT(e.message, HasSubstr("does not apply to the installed"));
    EXPECT_TRUE(out.empty());
  }
}

TEST(DevicePatchTest, RefusesWhatItDoesNotRead) {
  std::string out;
  device::Error e = device::ApplyPatch("old", "BSDIFF40........", 100, &out);
  EXPECT_EQ(e.code, 12);
  EXPECT_THAT(e.message, HasSubstr("not BSDIFF40"));
  e = device::ApplyPatch("old", std::string("STRDIFF\x1a\x04", 9), 100, &out);
  EXPECT_EQ(e.code, 12);
  e = device::ApplyPatch("old", "\xd3\x04", 100, &out);
  EXPECT_EQ(e.code, 12);
  EXPECT_NE(device::ApplyPatch("old", "", 100, &out).code, 0);
}

// Every truncation is refused; every single damaged byte is refused or
// (version 3 only, whose check is the caller's) gives some output within
// the limit; versions 1 and 2 never return a wrong output. Run under ASan
// by ./strata.sh test --sanitize.
TEST(DevicePatchTest, DamagedPatchesNeverCrashOrPassAWrongOutput) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::string> made =
        diff::CreatePatch(c.old_data, c.new_data, c.options);
    ASSERT_THAT(made, testing::IsOk());
    const std::string& patch = *made;
    const uint64_t limit = c.new_data.size() + 4096;
    std::string out;
    for (size_t n = 0; n < patch.size(); ++n) {
      EXPECT_FALSE(
          device::ApplyPatch(c.old_data, patch.substr(0, n), limit, &out).ok())
          << "a patch cut to " << n << " of " << patch.size() << " bytes";
    }
    int refused = 0, applied = 0;
    for (size_t i = 0; i < patch.size(); ++i) {
      for (uint8_t flip : {0x01, 0x80}) {
        std::string bad = patch;
        bad[i] = static_cast<char>(bad[i] ^ flip);
        const device::Error e =
            device::ApplyPatch(c.old_data, bad, limit, &out);
        if (!e.ok()) {
          ++refused;
          EXPECT_TRUE(out.empty());
          continue;
        }
        ++applied;
        EXPECT_LE(out.size(), limit);
        if (c.version != 3) {
          EXPECT_TRUE(out == c.new_data) << "byte " << i << " ^ " << +flip;
        }
      }
    }
    EXPECT_GT(refused, 0);
    RecordProperty(c.name, std::to_string(refused) + " refused, " +
                               std::to_string(applied) + " applied");
  }
}

}  // namespace
}  // namespace strata
