#include "strata/server/core/auth_core.h"

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class AuthCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    auth_ = std::make_unique<AuthCore>(
        store_.get(), Env{PosixFileSystem(), &clock_, &random_});
  }
  testing::TempDir dir_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuthCore> auth_;
};

TEST_F(AuthCoreTest, FirstAdminTokenOnlyOnce) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string token,
                              auth_->CreateFirstAdminToken());
  EXPECT_EQ(token.substr(0, 4), "stk_");
  EXPECT_EQ(token.size(), 4u + 64u);
  STRATA_ASSERT_OK_AND_ASSIGN(Principal who, auth_->Authenticate(token));
  EXPECT_EQ(who.role, v1::ROLE_ADMIN);
  EXPECT_EQ(who.app_id, "*");
  EXPECT_THAT(auth_->CreateFirstAdminToken(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already initialized")));
}

TEST_F(AuthCoreTest, MissingAndUnknownTokensAreUnauthenticated) {
  EXPECT_THAT(
      auth_->Authenticate(""),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("STRATA_TOKEN")));
  EXPECT_THAT(auth_->Authenticate("stk_nope"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthCoreTest, AdminsCreateScopedTokensOthersCannot) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string admin_token,
                              auth_->CreateFirstAdminToken());
  STRATA_ASSERT_OK_AND_ASSIGN(Principal admin,
                              auth_->Authenticate(admin_token));
  v1::CreateTokenRequest req;
  req.set_name("ci-wallet");
  req.set_role(v1::ROLE_PUBLISHER);
  req.set_app_id("wallet");
  STRATA_ASSERT_OK_AND_ASSIGN(auto created, auth_->CreateToken(admin, req));
  STRATA_ASSERT_OK_AND_ASSIGN(Principal ci,
                              auth_->Authenticate(created.token()));
  EXPECT_EQ(ci.name, "ci-wallet");
  EXPECT_EQ(ci.role, v1::ROLE_PUBLISHER);
  EXPECT_EQ(ci.app_id, "wallet");
  // A publisher cannot mint tokens, not even weaker ones.
  req.set_name("sneaky");
  req.set_role(v1::ROLE_VIEWER);
  EXPECT_THAT(auth_->CreateToken(ci, req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  req.set_role(v1::ROLE_UNSPECIFIED);
  EXPECT_THAT(auth_->CreateToken(admin, req),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Secrets are stored hashed: the secret itself is not a key.
  STRATA_ASSERT_OK_AND_ASSIGN(auto raw, store_->GetToken(created.token()));
  EXPECT_FALSE(raw.has_value());
}

}  // namespace
}  // namespace strata::server
