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

// Config versions are JSON objects (ArtifactCore::CheckContent).
constexpr char kAbc[] = R"({"a":1})";
constexpr char kXyz[] = R"({"x":1})";

class AdminCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    core_ = std::make_unique<AdminCore>(
        store_.get(), &clock_,
        AdminLimits{.max_artifact_bytes = 1000, .require_signatures = false});
  }
  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AdminCore> core_;
  Principal admin_ = testing::AdminPrincipal();
};

TEST_F(AdminCoreTest, PublishIsIdempotentForTheSameContent) {
  auto h = ConfigHeader("m", "1", kAbc);
  STRATA_ASSERT_OK_AND_ASSIGN(auto first, core_->PublishBytes(admin_, h, kAbc));
  EXPECT_FALSE(first.already_existed());
  STRATA_ASSERT_OK_AND_ASSIGN(auto again, core_->PublishBytes(admin_, h, kAbc));
  EXPECT_TRUE(again.already_existed());
  EXPECT_EQ(again.statement().content_sha256(),
            first.statement().content_sha256());
}

TEST_F(AdminCoreTest, SameVersionWithOtherContentIsRefused) {
  ASSERT_THAT(core_->PublishBytes(admin_, ConfigHeader("m", "1", kAbc), kAbc),
              IsOk());
  EXPECT_THAT(
      core_->PublishBytes(admin_, ConfigHeader("m", "1", kXyz), kXyz),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("immutable")));
}

TEST_F(AdminCoreTest, ContentMustMatchTheStatement) {
  EXPECT_THAT(
      core_->PublishBytes(admin_, ConfigHeader("m", "1", kAbc), "{\"a\":2}"),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("hashes to")));
  EXPECT_THAT(
      core_->PublishBytes(admin_, ConfigHeader("m", "1", kAbc), "{\"a\":"),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("declares 7")));
  // Nothing was stored by the refused attempts.
  EXPECT_THAT(
      core_->CreateRelease(admin_,
                           [] {
                             v1::CreateReleaseRequest r;
                             r.set_app_id("wallet");
                             r.mutable_module()->set_layer(v1::LAYER_CONFIG);
                             r.mutable_module()->set_name("m");
                             r.set_version("1");
                             r.set_all_at_once(true);
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
    auto h = ConfigHeader("m", "1", kAbc);
    c.mutate(h);
    EXPECT_THAT(core_->ValidateHeader(admin_, h),
                StatusIs(c.code, HasSubstr(c.message)))
        << c.name;
  }
}

TEST_F(AdminCoreTest, ReleaseOfPublishedVersion) {
  ASSERT_THAT(core_->PublishBytes(admin_, ConfigHeader("m", "1", kAbc), kAbc),
              IsOk());
  v1::CreateReleaseRequest r;
  r.set_app_id("wallet");
  r.mutable_module()->set_layer(v1::LAYER_CONFIG);
  r.mutable_module()->set_name("m");
  r.set_version("1");
  r.set_all_at_once(true);
  STRATA_ASSERT_OK_AND_ASSIGN(auto release, core_->CreateRelease(admin_, r));
  EXPECT_EQ(release.release_sequence(), 1u);
  EXPECT_EQ(release.created_at_unix(), absl::ToUnixSeconds(clock_.Now()));
  STRATA_ASSERT_OK_AND_ASSIGN(auto list, core_->ListReleases(admin_, "wallet"));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].version(), "1");
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST_F(AdminCoreTest, RetryWithTheSameKeyReturnsTheOriginalResult) {
  auto h = ConfigHeader("m", "1", kAbc);
  h.set_idempotency_key("ci-run-42");
  STRATA_ASSERT_OK_AND_ASSIGN(auto first, core_->PublishBytes(admin_, h, kAbc));
  EXPECT_FALSE(first.already_existed());
  STRATA_ASSERT_OK_AND_ASSIGN(auto retry, core_->PublishBytes(admin_, h, kAbc));
  EXPECT_TRUE(retry.already_existed());
  EXPECT_EQ(retry.statement().SerializeAsString(),
            first.statement().SerializeAsString());
  // One publish in the audit log, not two.
  STRATA_ASSERT_OK_AND_ASSIGN(auto audit, core_->ListAudit(admin_, 0, 0));
  EXPECT_EQ(audit.size(), 1u);
}

TEST_F(AdminCoreTest, SameKeyWithOtherContentIsRefused) {
  auto h = ConfigHeader("m", "1", kAbc);
  h.set_idempotency_key("ci-run-42");
  ASSERT_THAT(core_->PublishBytes(admin_, h, kAbc), IsOk());
  auto other = ConfigHeader("m", "2", kXyz);
  other.set_idempotency_key("ci-run-42");
  EXPECT_THAT(
      core_->PublishBytes(admin_, other, kXyz),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("ci-run-42")));
  v1::CreateReleaseRequest r;
  r.set_app_id("wallet");
  r.mutable_module()->set_layer(v1::LAYER_CONFIG);
  r.mutable_module()->set_name("m");
  r.set_version("2");
  r.set_all_at_once(true);
  EXPECT_THAT(core_->CreateRelease(admin_, r),
              StatusIs(absl::StatusCode::kNotFound));
}

struct AuthCase {
  std::string name;
  Principal who;
  absl::StatusCode publish, release, list;
};

TEST_F(AdminCoreTest, RolesAndAppsAreEnforced) {
  ASSERT_THAT(core_->PublishBytes(admin_, ConfigHeader("m", "1", kAbc), kAbc),
              IsOk());
  const auto kOk = absl::StatusCode::kOk,
             kDenied = absl::StatusCode::kPermissionDenied;
  const std::vector<AuthCase> cases = {
      {"viewer", {"v", v1::ROLE_VIEWER, "wallet"}, kDenied, kDenied, kOk},
      {"publisher", {"p", v1::ROLE_PUBLISHER, "wallet"}, kOk, kDenied, kOk},
      {"release manager",
       {"rm", v1::ROLE_RELEASE_MANAGER, "wallet"},
       kOk,
       kOk,
       kOk},
      {"wrong app", {"x", v1::ROLE_ADMIN, "mall"}, kDenied, kDenied, kDenied},
      {"no role", {"n", v1::ROLE_UNSPECIFIED, "*"}, kDenied, kDenied, kDenied},
  };
  int version = 10;
  for (const auto& c : cases) {
    const std::string v = std::to_string(version++);
    auto h = ConfigHeader("m", v, "{\"v\":\"" + v + "\"}");
    EXPECT_EQ(
        core_->PublishBytes(c.who, h, "{\"v\":\"" + v + "\"}").status().code(),
        c.publish)
        << c.name;
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    r.mutable_module()->set_layer(v1::LAYER_CONFIG);
    r.mutable_module()->set_name("m");
    r.set_version("1");
    r.set_all_at_once(true);
    EXPECT_EQ(core_->CreateRelease(c.who, r).status().code(), c.release)
        << c.name;
    EXPECT_EQ(core_->ListReleases(c.who, "wallet").status().code(), c.list)
        << c.name;
  }
  // Denials name the token and what was missing.
  EXPECT_THAT(
      core_->ListReleases(Principal{"x", v1::ROLE_ADMIN, "mall"}, "wallet"),
      StatusIs(kDenied,
               HasSubstr("token 'x' is for app 'mall', not 'wallet'")));
}

TEST_F(AdminCoreTest, EveryMutationIsAuditedWithItsActor) {
  ASSERT_THAT(core_->PublishBytes(admin_, ConfigHeader("m", "1", kAbc), kAbc),
              IsOk());
  v1::CreateReleaseRequest r;
  r.set_app_id("wallet");
  r.mutable_module()->set_layer(v1::LAYER_CONFIG);
  r.mutable_module()->set_name("m");
  r.set_version("1");
  r.set_all_at_once(true);
  ASSERT_THAT(core_->CreateRelease(admin_, r), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(auto audit, core_->ListAudit(admin_, 0, 0));
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].action(), "publish");
  EXPECT_EQ(audit[0].actor(), "test-admin");
  EXPECT_THAT(audit[0].detail(), HasSubstr("version=1"));
  EXPECT_EQ(audit[1].action(), "release.create");
  EXPECT_THAT(audit[1].detail(), HasSubstr("sequence=1"));
  EXPECT_EQ(audit[1].prev_hash(), audit[0].hash());
  // Only tokens for every app may read the whole log.
  EXPECT_THAT(core_->ListAudit(Principal{"v", v1::ROLE_VIEWER, "wallet"}, 0, 0),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST_F(AdminCoreTest, SegmentsAreCheckedStoredAndAudited) {
  v1::Segment seg;
  seg.set_app_id("wallet");
  seg.set_name("sh-android");
  seg.set_expression("app_version >= \"10.3.0\" && os == \"android\"");
  seg.add_allow_user_ids("tester-1");
  seg.add_deny_user_ids("vip-9");
  STRATA_ASSERT_OK_AND_ASSIGN(auto stored, core_->PutSegment(admin_, seg));
  EXPECT_EQ(stored.updated_at_unix(), absl::ToUnixSeconds(clock_.Now()));

  v1::Segment bad = seg;
  bad.set_expression("os == \"android\" && region in [\"CN-31\"");
  EXPECT_THAT(
      core_->PutSegment(admin_, bad),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("column")));
  bad = seg;
  bad.set_name("a/b");
  EXPECT_THAT(core_->PutSegment(admin_, bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      core_->PutSegment(Principal{"p", v1::ROLE_PUBLISHER, "wallet"}, seg),
      StatusIs(absl::StatusCode::kPermissionDenied));

  // Replacing keeps one segment of that name.
  seg.set_expression("os == \"ios\"");
  ASSERT_THAT(core_->PutSegment(admin_, seg), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(auto list, core_->ListSegments(admin_, "wallet"));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].expression(), "os == \"ios\"");
  EXPECT_EQ(list[0].deny_user_ids(0), "vip-9");
  STRATA_ASSERT_OK_AND_ASSIGN(auto audit, core_->ListAudit(admin_, 0, 0));
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].action(), "segment.put");
}

}  // namespace
}  // namespace strata::server
