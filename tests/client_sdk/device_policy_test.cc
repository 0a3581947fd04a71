// The device core's own download rules (DeviceCoreOptions: a daily byte
// budget and a back-off after failed downloads) against a real stratad,
// with a clock the test moves and a host HTTP stack that can fail blob
// downloads.
#include <memory>
#include <string>

#include "device_core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/device/device_core.h"

namespace strata {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class DevicePolicyTest : public testing::DeviceCoreTest {
 protected:
  device::DeviceCoreOptions Policy() {
    device::DeviceCoreOptions o = Options();
    o.insecure_skip_signature_verification_for_tests = true;
    o.clock = [this] { return now_; };
    device::HttpSend real = o.http;
    o.http = [this, real](const device::HttpExchange& x,
                          device::HttpResult* r) -> device::Error {
      if (fail_blobs_ && x.url.find("/v1/blobs/") != std::string::npos) {
        ++failed_blobs_;
        return {14, "connection reset by peer"};
      }
      return real(x, r);
    };
    return o;
  }
  int BlobRequests() const {
    int n = 0;
    for (const std::string& url : urls_) {
      if (url.find("/v1/blobs/") != std::string::npos) ++n;
    }
    return n + failed_blobs_;
  }
  int64_t now_ = 1'800'000'000;  // 2027-01-15 08:00 UTC
  bool fail_blobs_ = false;
  int failed_blobs_ = 0;
};

TEST_F(DevicePolicyTest, TheDailyBudgetHoldsChecksBackUntilTheNextDay) {
  ASSERT_NE(Release(v1::LAYER_H5, "mall", "1", std::string(60000, 'm')), 0u);
  ASSERT_NE(Release(v1::LAYER_H5, "game", "1", std::string(60000, 'g')), 0u);
  ASSERT_NE(Release(v1::LAYER_CONFIG, "flags", "1", "{\"a\":1}"), 0u);
  device::DeviceCoreOptions o = Policy();
  o.daily_budget_bytes = 100000;
  std::unique_ptr<device::DeviceCore> core;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  device::CheckOutcome outcome;
  ASSERT_TRUE(core->Check(&outcome).ok());
  // Config came inline; one 60 KB module fits, the second would pass
  // 100 KB.
  ASSERT_EQ(outcome.installed.size(), 2u);
  ASSERT_EQ(outcome.deferred.size(), 1u);
  EXPECT_THAT(outcome.deferred[0],
              HasSubstr("60000 bytes would pass the daily budget (60000 of "
                        "100000 bytes used today)"));
  EXPECT_EQ(BlobRequests(), 1);

  // Later that day, after a restart: the ledger was kept.
  now_ += 3600;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_THAT(outcome.installed, IsEmpty());
  EXPECT_EQ(outcome.deferred.size(), 1u);
  EXPECT_EQ(BlobRequests(), 1);
  // The user opens it: Fetch is not held back, and its bytes count.
  const std::string waiting =
      outcome.deferred[0].substr(0, outcome.deferred[0].find(' '));
  ASSERT_TRUE(core->Fetch(v1::LAYER_H5, waiting, &outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);

  // Version 2 of mall, the same day: over the budget (120 KB used).
  ASSERT_NE(Release(v1::LAYER_H5, "mall", "2", std::string(60000, 'M')), 0u);
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_THAT(outcome.installed, IsEmpty());
  ASSERT_EQ(outcome.deferred.size(), 1u);
  EXPECT_THAT(outcome.deferred[0], HasSubstr("120000 of 100000"));
  // The next UTC day: a new budget.
  now_ += 86400;
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].version, "2");
  EXPECT_THAT(outcome.deferred, IsEmpty());
}

TEST_F(DevicePolicyTest, AFailedDownloadBacksOffDoublingAndSurvivesRestarts) {
  ASSERT_NE(Release(v1::LAYER_HCF, "cart", "1", std::string(30000, 'c')), 0u);
  device::DeviceCoreOptions o = Policy();
  o.initial_backoff_seconds = 60;
  o.max_backoff_seconds = 100;
  std::unique_ptr<device::DeviceCore> core;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  fail_blobs_ = true;
  device::CheckOutcome outcome;
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_THAT(outcome.failures,
              ElementsAre(HasSubstr("connection reset by peer")));
  EXPECT_EQ(BlobRequests(), 1);
  // At once, and after a restart: not tried.
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_THAT(outcome.failures, IsEmpty());
  EXPECT_THAT(
      outcome.deferred,
      ElementsAre(HasSubstr("its download failed; tried again in 60 s")));
  EXPECT_EQ(BlobRequests(), 1);
  // After 60 s: tried, fails again; the wait doubles, up to 100 s.
  now_ += 60;
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_EQ(BlobRequests(), 2);
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_THAT(outcome.deferred, ElementsAre(HasSubstr("in 100 s")));
  // Fetch (the user is waiting) tries at once.
  EXPECT_EQ(core->Fetch(v1::LAYER_HCF, "cart", &outcome).code, 0);
  EXPECT_EQ(BlobRequests(), 3);
  // The network is back: the next try installs and forgets the failures.
  fail_blobs_ = false;
  now_ += 100;
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_THAT(outcome.deferred, IsEmpty());
}

// Only downloads that failed back off, and a wait recorded under a clock
// that was far ahead is not trusted once the clock is right again.
TEST_F(DevicePolicyTest, RefusalsDoNotBackOffAndAClockAheadIsNotTrusted) {
  ASSERT_NE(
      Release(v1::LAYER_HOTPATCH, "fix", "1", std::string(3000, 'f'), "b-2"),
      0u);
  ASSERT_NE(Release(v1::LAYER_HCF, "cart", "1", std::string(30000, 'c')), 0u);
  device::DeviceCoreOptions o = Policy();
  o.host_build = "b-1";
  o.initial_backoff_seconds = 60;
  o.max_backoff_seconds = 3600;
  std::unique_ptr<device::DeviceCore> core;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  // The clock is a year ahead when cart's download fails.
  const int64_t right = now_;
  now_ += 365 * 86400;
  fail_blobs_ = true;
  device::CheckOutcome outcome;
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_EQ(outcome.failures.size(), 2u);  // fix: another build; cart
  // A refusal is not a failed download: fix is refused again, not held.
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_THAT(outcome.failures,
              ElementsAre(HasSubstr("fix 1: built for host build b-2")));
  EXPECT_THAT(outcome.deferred, ElementsAre(HasSubstr("cart 1")));
  // The clock set right: a wait of a year is past the cap, so cart is
  // tried (and installs).
  now_ = right;
  fail_blobs_ = false;
  ASSERT_TRUE(core->Check(&outcome).ok());
  ASSERT_EQ(outcome.installed.size(), 1u);
  EXPECT_EQ(outcome.installed[0].name, "cart");
}

}  // namespace
}  // namespace strata
