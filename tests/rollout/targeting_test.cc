#include "strata/rollout/targeting.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::rollout {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

Rollout Started(uint64_t id = 5, std::string salt = "") {
  ReleaseSpec s;
  s.release_id = id;
  s.app_id = "wallet";
  s.segment = "android";
  s.salt = std::move(salt);
  s.artifacts = {{Layer::kHotpatch, "core", "10.3.0-p1"}};
  absl::StatusOr<Rollout> r = Rollout::Create(s);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->Start(kT0).ok());
  return *std::move(r);
}

Segment Android(UserIdSet allow = UserIdSet(), UserIdSet deny = UserIdSet()) {
  absl::StatusOr<Segment> s =
      Segment::Create("android", R"(os == "android")", allow, deny);
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

DeviceAttributes Device(std::string user, std::string os = "android") {
  DeviceAttributes d;
  d.user_id = std::move(user);
  d.device_id = "dev";
  d.os = std::move(os);
  return d;
}

// A user id whose bucket under `salt` falls in [lo, hi).
std::string UserInBuckets(std::string_view salt, uint32_t lo, uint32_t hi) {
  for (int i = 0;; ++i) {
    std::string id = StrCat("u", i);
    uint32_t b = BucketOf(salt, id);
    if (b >= lo && b < hi) return id;
  }
}

TEST(TargetingTest, TreatmentGetsItControlAndOutsideDoNot) {
  Rollout r = Started();  // 1%
  Segment seg = Android();
  const std::string salt = r.spec().EffectiveSalt();
  Offer in =
      DecideOffer(r, seg, salt, Device(UserInBuckets(salt, 0, 100)), false);
  EXPECT_TRUE(in.applies);
  EXPECT_EQ(in.cohort, Cohort::kTreatment);
  EXPECT_TRUE(in.bucketed);
  EXPECT_LT(in.bucket, 100u);
  Offer control = DecideOffer(r, seg, salt,
                              Device(UserInBuckets(salt, 9900, 10000)), false);
  EXPECT_FALSE(control.applies);
  EXPECT_EQ(control.cohort, Cohort::kControl);
  Offer outside =
      DecideOffer(r, seg, salt, Device(UserInBuckets(salt, 100, 9900)), false);
  EXPECT_FALSE(outside.applies);
  EXPECT_EQ(outside.cohort, Cohort::kOutside);
  Offer ios = DecideOffer(r, seg, salt,
                          Device(UserInBuckets(salt, 0, 100), "ios"), false);
  EXPECT_FALSE(ios.applies);
  EXPECT_EQ(ios.match, SegmentMatch::kNotMatched);
  EXPECT_FALSE(ios.bucketed);
}

TEST(TargetingTest, SignedOutDevicesBucketByDeviceId) {
  Rollout r = Started();
  DeviceAttributes d = Device("");
  d.device_id = "device-77";
  Offer o = DecideOffer(r, Android(), r.spec().EffectiveSalt(), d, false);
  EXPECT_EQ(o.bucket, BucketOf("release-5", "device-77"));
}

TEST(TargetingTest, ListsOverrideExpressionAndBucket) {
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet allow, UserIdSet::FromIds({"qa-1"}));
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet deny, UserIdSet::FromIds({"vip"}));
  Segment seg = Android(allow, deny);
  Rollout r = Started();
  const std::string salt = r.spec().EffectiveSalt();
  // An allow-listed iPhone far outside 1% still gets it.
  Offer qa = DecideOffer(r, seg, salt, Device("qa-1", "ios"), false);
  EXPECT_TRUE(qa.applies);
  EXPECT_EQ(qa.match, SegmentMatch::kAllowed);
  EXPECT_EQ(qa.cohort, Cohort::kTreatment);
  Offer vip = DecideOffer(r, seg, salt, Device("vip"), false);
  EXPECT_FALSE(vip.applies);
  EXPECT_EQ(vip.match, SegmentMatch::kDenied);
}

TEST(TargetingTest, HaltKeepsInstallsAndStopsNewAdoption) {
  Rollout r = Started();
  Segment seg = Android();
  const std::string salt = r.spec().EffectiveSalt();
  DeviceAttributes lucky = Device(UserInBuckets(salt, 0, 100));
  STRATA_ASSERT_OK(r.Halt(kT0));
  EXPECT_FALSE(DecideOffer(r, seg, salt, lucky, false).applies);
  EXPECT_TRUE(DecideOffer(r, seg, salt, lucky, true).applies);
  STRATA_ASSERT_OK(r.RollBack(kT0));
  EXPECT_FALSE(DecideOffer(r, seg, salt, lucky, true).applies);
}

TEST(TargetingTest, StandingCanaryCohortIsSharedAcrossReleases) {
  Rollout a = Started(5, "canary");
  Rollout b = Started(6, "canary");
  Segment seg = Android();
  for (int i = 0; i < 2000; ++i) {
    DeviceAttributes d = Device(StrCat("user-", i));
    EXPECT_EQ(DecideOffer(a, seg, "canary", d, false).applies,
              DecideOffer(b, seg, "canary", d, false).applies);
  }
}

TEST(TargetingTest, ExplainsEveryBranch) {
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet allow, UserIdSet::FromIds({"qa-1"}));
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet deny, UserIdSet::FromIds({"vip"}));
  Segment seg = Android(allow, deny);
  Rollout r = Started();
  const std::string salt = r.spec().EffectiveSalt();
  const std::string lucky = UserInBuckets(salt, 0, 100);
  const uint32_t lucky_bucket = BucketOf(salt, lucky);

  OfferExplanation e = ExplainOffer(r, seg, Device(lucky), false);
  EXPECT_EQ(e.release_id, 5u);
  EXPECT_TRUE(e.offer.applies);
  EXPECT_THAT(e.reasons,
              ElementsAre("release 5 rolling(stage 1 of 5, 1%)",
                          "segment 'android' matched: os == \"android\"",
                          StrCat("bucket ", lucky_bucket,
                                 " < 100 (1%): "
                                 "treatment"),
                          "gets release 5"));

  const std::string far = UserInBuckets(salt, 100, 9900);
  e = ExplainOffer(r, seg, Device(far), false);
  EXPECT_THAT(e.reasons[2], StrCat("bucket ", BucketOf(salt, far),
                                   " >= 100 (1%): not reached yet"));
  EXPECT_EQ(e.reasons.back(), "does not get release 5");

  e = ExplainOffer(r, seg, Device(UserInBuckets(salt, 9900, 10000)), false);
  EXPECT_THAT(e.reasons[2],
              HasSubstr(">= 9900: control group, held back for comparison"));

  e = ExplainOffer(r, seg, Device("vip"), false);
  EXPECT_THAT(e.reasons,
              ElementsAre("release 5 rolling(stage 1 of 5, 1%)",
                          "denied by the deny list of segment 'android' (user "
                          "vip)",
                          "does not get release 5"));

  e = ExplainOffer(r, seg, Device("qa-1", "ios"), false);
  EXPECT_EQ(e.reasons[1],
            "allowed by the allow list of segment 'android' (user qa-1): "
            "expression and bucket bypassed");

  e = ExplainOffer(r, seg, Device("x", "ios"), false);
  EXPECT_EQ(e.reasons[1], "segment 'android' did not match: os == \"android\"");

  STRATA_ASSERT_OK(r.Halt(kT0, "crashes"));
  e = ExplainOffer(r, seg, Device(lucky), false);
  EXPECT_THAT(e.reasons, ::testing::Contains(
                             "the release takes no new devices while halted"));
  e = ExplainOffer(r, seg, Device(lucky), true);
  EXPECT_THAT(e.reasons,
              ElementsAre("release 5 halted(stage 1 of 5, 1%)",
                          "already installed: devices that have it keep it",
                          "gets release 5"));
}

TEST(TargetingTest, DecideAndExplainAgree) {
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet allow, UserIdSet::FromIds({"u3"}));
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet deny, UserIdSet::FromIds({"u4"}));
  Segment seg = Android(allow, deny);
  Rollout r = Started();
  STRATA_ASSERT_OK(r.Promote(kT0));
  STRATA_ASSERT_OK(r.Promote(kT0));  // 20%
  const std::string salt = r.spec().EffectiveSalt();
  for (int i = 0; i < 500; ++i) {
    DeviceAttributes d = Device(StrCat("u", i), i % 3 ? "android" : "ios");
    for (bool installed : {false, true}) {
      Offer o = DecideOffer(r, seg, salt, d, installed);
      OfferExplanation e = ExplainOffer(r, seg, d, installed);
      EXPECT_EQ(o.applies, e.offer.applies) << i;
      EXPECT_EQ(o.cohort, e.offer.cohort) << i;
      EXPECT_EQ(o.bucket, e.offer.bucket) << i;
    }
  }
}

}  // namespace
}  // namespace strata::rollout
