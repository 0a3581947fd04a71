#include "strata/server/core/admin_core.h"

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::ConfigHeader;
using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class AdminCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    core_ =
        std::make_unique<AdminCore>(store_.get(), &clock_, AdminLimits{1000});
  }
  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AdminCore> core_;
};

TEST_F(AdminCoreTest, PublishIsIdempotentForTheSameContent) {
  auto h = ConfigHeader("m", "1", "abc");
  STRATA_ASSERT_OK_AND_ASSIGN(auto first, core_->Publish(h, "abc"));
  EXPECT_FALSE(first.already_existed());
  STRATA_ASSERT_OK_AND_ASSIGN(auto again, core_->Publish(h, "abc"));
  EXPECT_TRUE(again.already_existed());
  EXPECT_EQ(again.statement().content_sha256(),
            first.statement().content_sha256());
}

TEST_F(AdminCoreTest, SameVersionWithOtherContentIsRefused) {
  ASSERT_THAT(core_->Publish(ConfigHeader("m", "1", "abc"), "abc"), IsOk());
  EXPECT_THAT(
      core_->Publish(ConfigHeader("m", "1", "xyz"), "xyz"),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("immutable")));
}

TEST_F(AdminCoreTest, ContentMustMatchTheStatement) {
  EXPECT_THAT(core_->Publish(ConfigHeader("m", "1", "abc"), "abd"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("hashes to")));
  EXPECT_THAT(core_->Publish(ConfigHeader("m", "1", "abc"), "ab"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("declares 3")));
  // Nothing was stored by the refused attempts.
  EXPECT_THAT(
      core_->CreateRelease([] {
        v1::CreateReleaseRequest r;
        r.set_app_id("wallet");
        r.mutable_module()->set_layer(v1::LAYER_CONFIG);
        r.mutable_module()->set_name("m");
        r.set_version("1");
        return r;
      }()),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("publish it first")));
}

struct BadHeaderCase {
  std::string name;
  std::function<void(v1::PublishHeader&)> mutate;
  absl::StatusCode code;
  std::string message;
};

TEST_F(AdminCoreTest, BadHeadersAreRefusedWithClearErrors) {
  const std::vector<BadHeaderCase> cases = {
      {"empty app", [](auto& h) { h.mutable_statement()->set_app_id(""); },
       absl::StatusCode::kInvalidArgument, "app id is empty"},
      {"path in module",
       [](auto& h) {
         h.mutable_statement()->mutable_module()->set_name("../x");
       },
       absl::StatusCode::kInvalidArgument, "starts with '.'"},
      {"slash in module",
       [](auto& h) {
         h.mutable_statement()->mutable_module()->set_name("a/b");
       },
       absl::StatusCode::kInvalidArgument, "has character '/'"},
      {"no layer",
       [](auto& h) { h.mutable_statement()->mutable_module()->clear_layer(); },
       absl::StatusCode::kInvalidArgument, "layer is missing"},
      {"bad hash",
       [](auto& h) { h.mutable_statement()->set_content_sha256("ABC"); },
       absl::StatusCode::kInvalidArgument, "not 64 lowercase hex"},
      {"too big", [](auto& h) { h.mutable_statement()->set_size(1001); },
       absl::StatusCode::kResourceExhausted, "at most 1000"},
      {"hotpatch without build",
       [](auto& h) {
         h.mutable_statement()->mutable_module()->set_layer(v1::LAYER_HOTPATCH);
       },
       absl::StatusCode::kInvalidArgument, "host build"},
  };
  for (const auto& c : cases) {
    auto h = ConfigHeader("m", "1", "abc");
    c.mutate(h);
    EXPECT_THAT(core_->ValidateHeader(h),
                StatusIs(c.code, HasSubstr(c.message)))
        << c.name;
  }
}

TEST_F(AdminCoreTest, ReleaseOfPublishedVersion) {
  ASSERT_THAT(core_->Publish(ConfigHeader("m", "1", "abc"), "abc"), IsOk());
  v1::CreateReleaseRequest r;
  r.set_app_id("wallet");
  r.mutable_module()->set_layer(v1::LAYER_CONFIG);
  r.mutable_module()->set_name("m");
  r.set_version("1");
  STRATA_ASSERT_OK_AND_ASSIGN(auto release, core_->CreateRelease(r));
  EXPECT_EQ(release.release_sequence(), 1u);
  EXPECT_EQ(release.created_at_unix(), absl::ToUnixSeconds(clock_.Now()));
  STRATA_ASSERT_OK_AND_ASSIGN(auto list, core_->ListReleases("wallet"));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].version(), "1");
}

}  // namespace
}  // namespace strata::server
