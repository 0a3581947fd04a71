#include "strata/rollout/version_compare.h"

#include <optional>
#include <string_view>

#include "gtest/gtest.h"

namespace strata::rollout {
namespace {

struct Case {
  std::string_view a;
  std::string_view b;
  int want;
};

class CompareVersionsTest : public ::testing::TestWithParam<Case> {};

TEST_P(CompareVersionsTest, OrdersAndIsAntisymmetric) {
  const Case& c = GetParam();
  EXPECT_EQ(CompareVersions(c.a, c.b), std::optional<int>(c.want))
      << c.a << " vs " << c.b;
  EXPECT_EQ(CompareVersions(c.b, c.a), std::optional<int>(-c.want))
      << c.b << " vs " << c.a;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CompareVersionsTest,
    ::testing::Values(Case{"10.3.0", "10.3.0", 0}, Case{"10.3", "10.3.0", 0},
                      Case{"10", "10.0.0.0", 0}, Case{"010.3", "10.3", 0},
                      Case{"9.9.9", "10.0.0", -1}, Case{"10.2.9", "10.3", -1},
                      Case{"10.10.0", "10.9.0", 1},
                      Case{"1.0.0-alpha", "1.0.0", -1},
                      Case{"1.0.0-alpha", "1.0.0-alpha.1", -1},
                      Case{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
                      Case{"1.0.0-beta.2", "1.0.0-beta.11", -1},
                      Case{"1.0.0-rc.1", "1.0.0", -1},
                      Case{"1.0.0+build.5", "1.0.0", 0},
                      Case{"1.0.0-beta", "0.9.9", 1},
                      Case{"123456789012345678901234567890.1",
                           "123456789012345678901234567889.9", 1}));

TEST(VersionCompareTest, RejectsNonVersions) {
  for (std::string_view bad :
       {"", "v1.0", "1..0", "1.", ".1", "1.0-", "1.0+", "1.x", "1.0-a..b",
        "1.0 ", "1.2.3.4.5.6.7.8.9", "1.0-beta_1"}) {
    EXPECT_FALSE(IsValidVersion(bad)) << "'" << bad << "'";
    EXPECT_EQ(CompareVersions(bad, "1.0"), std::nullopt) << bad;
  }
  EXPECT_TRUE(IsValidVersion("1.2.3.4.5.6.7.8"));
  EXPECT_TRUE(IsValidVersion("10.3.0-rc-1.2+exp.sha.5114f85"));
}

}  // namespace
}  // namespace strata::rollout
