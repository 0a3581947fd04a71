#include "strata/server/core/fleet_observer.h"

#include "gtest/gtest.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

absl::Time T(int s) { return absl::FromUnixSeconds(1'700'000'000 + s); }

TEST(FleetObserverTest, AFlatStretchKeepsItsFirstAndLastPointOnly) {
  FleetObserver fleet;
  fleet.SampleAdoption(1, T(0), 100, 0);
  fleet.SampleAdoption(1, T(10), 100, 5);
  for (int i = 2; i < 100; ++i) fleet.SampleAdoption(1, T(10 * i), 100, 5);
  const auto samples = fleet.Adoption(1);
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[1].at_ms(), absl::ToUnixMillis(T(10)));
  EXPECT_EQ(samples[2].at_ms(), absl::ToUnixMillis(T(990)));
  EXPECT_EQ(samples[2].devices(), 5u);
  EXPECT_TRUE(fleet.Adoption(2).empty());
}

TEST(FleetObserverTest, ChangingSeriesAreThinnedEvenlyWithinTheLimit) {
  FleetObserver fleet(/*max_devices_per_app=*/10, /*max_samples=*/16);
  for (int i = 0; i < 100; ++i) fleet.SampleAdoption(1, T(i), 100, i);
  const auto samples = fleet.Adoption(1);
  EXPECT_LE(samples.size(), 16u);
  EXPECT_GE(samples.size(), 8u);
  EXPECT_EQ(samples.front().devices(), 0u);
  EXPECT_EQ(samples.back().devices(), 99u);  // the newest is always kept
  for (size_t i = 1; i < samples.size(); ++i) {
    EXPECT_LT(samples[i - 1].at_ms(), samples[i].at_ms());
  }
}

TEST(FleetObserverTest, RemembersRecentDevicesUpToTheLimit) {
  FleetObserver fleet(/*max_devices_per_app=*/10);
  for (int i = 0; i < 25; ++i) {
    v1::DeviceContext d;
    d.set_app_id("wallet");
    d.set_device_id(StrCat("d", i));
    d.set_os(i % 2 ? "ios" : "android");
    fleet.SeeDevice(d, T(i));
  }
  EXPECT_EQ(fleet.RecentDevices("wallet").size(), 10u);
  EXPECT_FALSE(fleet.LastSeen("wallet", "d0").has_value());  // oldest gone
  auto last = fleet.LastSeen("wallet", "d24");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->first.os(), "android");
  EXPECT_EQ(last->second, T(24));
  EXPECT_TRUE(fleet.RecentDevices("other").empty());
}

TEST(FleetObserverTest, OversizedDeviceContextsAreNotRemembered) {
  FleetObserver fleet(/*max_devices_per_app=*/100, /*max_samples=*/10,
                      /*max_device_bytes=*/256);
  v1::DeviceContext d;
  d.set_app_id("wallet");
  d.set_device_id(std::string(1000, 'x'));
  fleet.SeeDevice(d, absl::FromUnixSeconds(1));
  EXPECT_EQ(fleet.devices(), 0u);
  EXPECT_EQ(fleet.oversized(), 1u);
  d.set_device_id("d1");
  fleet.SeeDevice(d, absl::FromUnixSeconds(2));
  EXPECT_EQ(fleet.devices(), 1u);
}

// The least recently seen device goes first, one per new device: a device
// seen again is kept over older ones, whatever order they arrived in.
TEST(FleetObserverTest, ForgetsTheLeastRecentlySeenDeviceFirst) {
  FleetObserver fleet(/*max_devices_per_app=*/3);
  auto see = [&](const std::string& id, int at) {
    v1::DeviceContext d;
    d.set_app_id("wallet");
    d.set_device_id(id);
    fleet.SeeDevice(d, T(at));
  };
  see("a", 1);
  see("b", 2);
  see("c", 3);
  see("a", 4);  // a is the most recent now
  see("d", 5);  // b goes
  EXPECT_TRUE(fleet.LastSeen("wallet", "a").has_value());
  EXPECT_FALSE(fleet.LastSeen("wallet", "b").has_value());
  see("e", 6);  // c goes
  EXPECT_FALSE(fleet.LastSeen("wallet", "c").has_value());
  std::vector<std::string> recent;
  for (const auto& d : fleet.RecentDevices("wallet")) {
    recent.push_back(d.device_id);
  }
  EXPECT_EQ(recent, (std::vector<std::string>{"e", "d", "a"}));
  EXPECT_EQ(fleet.devices(), 3u);
}

}  // namespace
}  // namespace strata::server
