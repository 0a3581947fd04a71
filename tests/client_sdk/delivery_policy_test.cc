// The download policy's rules and the traffic ledger, alone.
#include "delivery_policy.h"

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;

TEST(DeliveryPolicyTest, ParsesTheSignedCustomObject) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      Json j, Json::Parse(R"({"on_demand": true, "network": "unmetered",
                             "install": "next_resume", "mandatory": true,
                             "future": 1})"));
  STRATA_ASSERT_OK_AND_ASSIGN(v1::DeliveryPolicy p, DeliveryFromCustom(j));
  EXPECT_TRUE(p.on_demand());
  EXPECT_TRUE(p.mandatory());
  EXPECT_EQ(p.network(), v1::NETWORK_UNMETERED_ONLY);
  EXPECT_EQ(p.install_mode(), v1::INSTALL_NEXT_RESUME);
  for (const char* bad : {R"({"on_demand": "yes"})", R"({"network": "wifi"})",
                          R"({"install": "later"})", R"([1])"}) {
    STRATA_ASSERT_OK_AND_ASSIGN(Json b, Json::Parse(bad));
    EXPECT_THAT(DeliveryFromCustom(b),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(DeliveryPolicyTest, StricterRuleWins) {
  DownloadPolicy app;
  v1::DeliveryPolicy any;
  v1::DeliveryPolicy wifi;
  wifi.set_network(v1::NETWORK_UNMETERED_ONLY);
  const ModuleKey mall{v1::LAYER_H5, "mall"};
  EXPECT_EQ(EffectiveRequirement(app, mall, any), NetworkRequirement::kAny);
  EXPECT_EQ(EffectiveRequirement(app, mall, wifi),
            NetworkRequirement::kUnmeteredOnly);
  app.module_networks["h5/mall"] = NetworkRequirement::kUnmeteredOnly;
  EXPECT_EQ(EffectiveRequirement(app, mall, any),
            NetworkRequirement::kUnmeteredOnly);
  EXPECT_EQ(EffectiveRequirement(app, {v1::LAYER_H5, "other"}, any),
            NetworkRequirement::kAny);
  EXPECT_TRUE(NetworkAllows(NetworkRequirement::kAny, Network::kMetered));
  EXPECT_FALSE(NetworkAllows(NetworkRequirement::kAny, Network::kOffline));
  EXPECT_FALSE(
      NetworkAllows(NetworkRequirement::kUnmeteredOnly, Network::kUnknown));
  EXPECT_TRUE(
      NetworkAllows(NetworkRequirement::kUnmeteredOnly, Network::kUnmetered));
}

TEST(TrafficLedgerTest, CountsPerDayAndKeepsBackoffsAcrossRestarts) {
  testing::MemFileSystem fs;
  testing::SimulatedClock clock;
  testing::FakeRandom random;
  const Env env{&fs, &clock, &random};
  const ModuleKey key{v1::LAYER_H5, "p"};
  {
    TrafficLedger l = TrafficLedger::Open(env, "/traffic");
    l.Add(Network::kMetered, 10);
    l.Add(Network::kUnmetered, 5);
    l.Failed(key, absl::Minutes(1), absl::Minutes(3));
    l.Failed(key, absl::Minutes(1), absl::Minutes(3));
    l.Failed(key, absl::Minutes(1), absl::Minutes(3));  // capped at 3 min
    l.Save();
  }
  TrafficLedger l = TrafficLedger::Open(env, "/traffic");
  EXPECT_EQ(l.BytesToday(), 15u);
  ASSERT_TRUE(l.BackoffUntil(key).has_value());
  EXPECT_EQ(*l.BackoffUntil(key) - clock.Now(), absl::Minutes(3));
  clock.Advance(absl::Minutes(3));
  EXPECT_FALSE(l.BackoffUntil(key).has_value());
  clock.Advance(absl::Hours(24));
  EXPECT_EQ(l.BytesToday(), 0u);
  EXPECT_EQ(l.Total().at(Network::kMetered), 10u);
  // A damaged file starts a new ledger.
  ASSERT_THAT(WriteFileAtomically(fs, "/traffic", "garbage"), IsOk());
  EXPECT_EQ(TrafficLedger::Open(env, "/traffic").Total().size(), 0u);
}

}  // namespace
}  // namespace strata::client
