// The activation rules (activation.h) on states built by hand: activation
// points per layer, release groups, the switch keeping the last known good
// version, damaged staged content dropped with its release.
#include "activation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/v1/common.pb.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::Pair;

VersionRef Ref(const std::string& content, uint64_t release_id) {
  return VersionRef{"v-" + content, Sha256::HexHash(content), 1, release_id};
}

TEST(ActivationTest, PointsPerLayer) {
  EXPECT_EQ(PointOf(v1::LAYER_CONFIG), ActivationPoint::kAtOnce);
  EXPECT_EQ(PointOf(v1::LAYER_H5), ActivationPoint::kOpenOrLaunch);
  EXPECT_EQ(PointOf(v1::LAYER_HCF), ActivationPoint::kOpenOrLaunch);
  EXPECT_EQ(PointOf(v1::LAYER_HOTPATCH), ActivationPoint::kLaunch);
  EXPECT_EQ(PointOf(v1::LAYER_NATIVE_BUNDLE), ActivationPoint::kLaunch);
}

TEST(ActivationTest, AReleaseIsItsStagedModulesWithTheSameId) {
  ClientState s;
  s.modules[{v1::LAYER_CONFIG, "c"}].staged = Ref("c", 7);
  s.modules[{v1::LAYER_H5, "h"}].staged = Ref("h", 7);
  s.modules[{v1::LAYER_H5, "other"}].staged = Ref("o", 8);
  s.modules[{v1::LAYER_H5, "alone"}].staged = Ref("a", 0);
  s.modules[{v1::LAYER_HCF, "active"}].active = Ref("x", 7);
  const ModuleKey h{v1::LAYER_H5, "h"};
  const std::vector<ModuleKey> group = StagedGroup(s, h);
  EXPECT_THAT(group, ElementsAre(ModuleKey{v1::LAYER_CONFIG, "c"}, h));
  EXPECT_EQ(GroupPoint(group), ActivationPoint::kOpenOrLaunch);
  EXPECT_THAT(StagedGroup(s, {v1::LAYER_H5, "alone"}),
              ElementsAre(ModuleKey{v1::LAYER_H5, "alone"}));
  EXPECT_TRUE(StagedGroup(s, {v1::LAYER_HCF, "active"}).empty());
  EXPECT_EQ(GroupPoint({{v1::LAYER_H5, "h"}, {v1::LAYER_HOTPATCH, "p"}}),
            ActivationPoint::kLaunch);
}

TEST(ActivationTest, ActivateKeepsTheLastKnownGoodUntilConfirmed) {
  ModuleState m;
  m.active = Ref("1", 1);
  m.staged = Ref("2", 2);
  Activate(m, *m.staged);
  EXPECT_EQ(m.active, Ref("2", 2));
  EXPECT_EQ(m.good, Ref("1", 1));
  EXPECT_TRUE(m.pending);
  EXPECT_FALSE(m.staged.has_value());
  // A second activation before a healthy launch keeps the confirmed one.
  Activate(m, Ref("3", 3));
  EXPECT_EQ(m.good, Ref("1", 1));
}

TEST(ActivationTest, ReleaseIdsOfActiveModules) {
  ClientState s;
  s.modules[{v1::LAYER_H5, "a"}].active = Ref("a", 9);
  s.modules[{v1::LAYER_H5, "b"}].active = Ref("b", 3);
  s.modules[{v1::LAYER_H5, "c"}].active = Ref("c", 9);
  s.modules[{v1::LAYER_H5, "d"}].staged = Ref("d", 4);
  EXPECT_THAT(ActiveReleaseIds(s), ElementsAre(3u, 9u));
}

TEST(ActivationTest, DamagedStagedContentDropsItsWholeRelease) {
  strata::testing::MemFileSystem fs;
  STRATA_ASSERT_OK_AND_ASSIGN(ModuleStore store, ModuleStore::Open(&fs, "/s"));
  ASSERT_THAT(store.PutBlob(Sha256::HexHash("c"), "c"), IsOk());
  ASSERT_THAT(store.PutBlob(Sha256::HexHash("h"), "h"), IsOk());
  // Changed on disk after it was verified.
  ASSERT_THAT(
      WriteFileAtomically(fs, store.BlobPath(Sha256::HexHash("h")), "H"),
      IsOk());
  ClientState s;
  s.modules[{v1::LAYER_CONFIG, "c"}].staged = Ref("c", 7);
  s.modules[{v1::LAYER_H5, "h"}].staged = Ref("h", 7);
  const auto dropped = DropDamagedStaged(store, s, {{v1::LAYER_H5, "h"}});
  EXPECT_THAT(dropped,
              ElementsAre(Pair(ModuleKey{v1::LAYER_CONFIG, "c"}, Ref("c", 7)),
                          Pair(ModuleKey{v1::LAYER_H5, "h"}, Ref("h", 7))));
  const ModuleKey c{v1::LAYER_CONFIG, "c"}, h{v1::LAYER_H5, "h"};
  EXPECT_FALSE(s.modules[c].staged.has_value());
  EXPECT_FALSE(s.modules[h].staged.has_value());
}

}  // namespace
}  // namespace strata::client
