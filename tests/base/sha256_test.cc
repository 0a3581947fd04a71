#include "strata/base/sha256.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace strata {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256::HexHash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::HexHash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalMatchesOneShot) {
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(ToHex(h.Finish()), Sha256::HexHash("abc"));
}

TEST(Sha256Test, HexValidation) {
  EXPECT_TRUE(IsSha256Hex(Sha256::HexHash("x")));
  EXPECT_FALSE(IsSha256Hex("abc"));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'G')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
}

TEST(HmacSha256Test, Rfc4231Vectors) {
  // Test case 1: key 0x0b x 20, "Hi There".
  EXPECT_EQ(ToHex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: key "Jefe".
  EXPECT_EQ(ToHex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size.
  EXPECT_EQ(ToHex(HmacSha256(
                std::string(131, '\xaa'),
                "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_NE(HmacSha256("", "x"), HmacSha256("k", "x"));
}

TEST(HmacSha256Test, AKeptKeyGivesTheSameMacsReusedAndFromManyThreads) {
  const HmacSha256Key jefe("Jefe");
  const std::string want =
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  // Its kept contexts are re-initialised with the key, not reset to none.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ToHex(jefe.Mac("what do ya want for nothing?")), want);
    EXPECT_EQ(jefe.Mac("x"), HmacSha256("Jefe", "x"));
  }
  const HmacSha256Key empty("");
  EXPECT_EQ(empty.Mac("x"), HmacSha256("", "x"));
  EXPECT_NE(empty.Mac("x"), jefe.Mac("x"));
  // Four threads at once: each needs a context of its own.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string data = "m" + std::to_string(t * 1000 + i);
        if (jefe.Mac(data) != HmacSha256("Jefe", data)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(HmacSha256Test, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

}  // namespace
}  // namespace strata
