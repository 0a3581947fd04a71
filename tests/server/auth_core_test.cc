#include "strata/server/core/auth_core.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class AuthCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    auth_ = std::make_unique<AuthCore>(
        store_.get(), Env{PosixFileSystem(), &clock_, &random_});
  }
  // The first admin token and its principal.
  Principal InitAdmin() {
    auto token = auth_->CreateFirstAdminToken();
    EXPECT_THAT(token, IsOk());
    auto who = auth_->Authenticate(token.ok() ? *token : "");
    EXPECT_THAT(who, IsOk());
    return who.ok() ? *who : Principal{};
  }
  absl::StatusOr<v1::CreateTokenResponse> Create(
      const Principal& by, const std::string& name, v1::Role role,
      const std::string& app, int64_t expires_in_seconds = 0) {
    v1::CreateTokenRequest req;
    req.set_name(name);
    req.set_role(role);
    req.set_app_id(app);
    req.set_expires_in_seconds(expires_in_seconds);
    return auth_->CreateToken(by, req);
  }
  absl::StatusOr<v1::RevokeTokenResponse> Revoke(const Principal& by,
                                                 const std::string& which) {
    v1::RevokeTokenRequest req;
    req.set_name_or_id(which);
    return auth_->RevokeToken(by, req);
  }
  // Names of the tokens ListTokens shows `by`.
  std::vector<std::string> Names(const Principal& by, bool all) {
    v1::ListTokensRequest req;
    req.set_include_revoked(all);
    auto list = auth_->ListTokens(by, req);
    EXPECT_THAT(list, IsOk());
    std::vector<std::string> names;
    if (list.ok()) {
      for (const auto& t : list->tokens()) names.push_back(t.name());
    }
    return names;
  }
  size_t AuditCount() {
    auto audit = store_->ListAudit(0, 10000);
    EXPECT_THAT(audit, IsOk());
    return audit.ok() ? audit->size() : 0;
  }
  std::string IdOf(const std::string& secret) {
    return Sha256::HexHash(secret).substr(0, 12);
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
  // It never expires: the way in to a new server must not lock itself.
  clock_.Advance(absl::Hours(24 * 365 * 20));
  EXPECT_THAT(auth_->Authenticate(token), IsOk());
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

TEST_F(AuthCoreTest, TokensExpireAfterNinetyDaysByDefault) {
  Principal admin = InitAdmin();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto created, Create(admin, "ci-wallet", v1::ROLE_PUBLISHER, "wallet"));
  EXPECT_EQ(created.expires_at_unix(), 1'700'000'000 + 90 * 86400);
  clock_.Advance(absl::Hours(24 * 90) - absl::Seconds(1));
  EXPECT_THAT(auth_->Authenticate(created.token()), IsOk());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(
      auth_->Authenticate(created.token()),
      StatusIs(absl::StatusCode::kUnauthenticated,
               "token 'ci-wallet' expired at 2024-02-12T22:13:20Z; ask an "
               "admin for a new one (`strata token create`)"));
}

TEST_F(AuthCoreTest, ExplicitLifetimesAndNever) {
  Principal admin = InitAdmin();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto hour, Create(admin, "hour", v1::ROLE_VIEWER, "wallet", 3600));
  EXPECT_EQ(hour.expires_at_unix(), 1'700'003'600);
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto forever, Create(admin, "forever", v1::ROLE_VIEWER, "wallet", -1));
  EXPECT_EQ(forever.expires_at_unix(), 0);
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(auth_->Authenticate(hour.token()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("expired at 2023-11-14T23:13:20Z")));
  clock_.Advance(absl::Hours(24 * 365 * 30));
  EXPECT_THAT(auth_->Authenticate(forever.token()), IsOk());
}

TEST_F(AuthCoreTest, BadRequestsChangeNothing) {
  Principal admin = InitAdmin();
  const size_t audit_before = AuditCount();
  EXPECT_THAT(
      Create(admin, "a", v1::ROLE_VIEWER, "wallet", -2),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-1 for never")));
  EXPECT_THAT(Create(admin, "a", v1::ROLE_VIEWER, "wallet",
                     kMaxTokenLifetimeSeconds + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(admin, "a b", v1::ROLE_VIEWER, "wallet"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(admin, "", v1::ROLE_VIEWER, "wallet"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(admin, "a", v1::ROLE_UNSPECIFIED, "wallet"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(admin, "a", v1::ROLE_VIEWER, "../x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Revoke(admin, ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Revoke(admin, "nobody"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("strata token list --all")));
  EXPECT_THAT(Revoke(admin, "0123456789ab"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(AuditCount(), audit_before);
  EXPECT_THAT(Names(admin, true), ElementsAre("admin"));
}

TEST_F(AuthCoreTest, NamesAreUniqueAmongActiveTokens) {
  Principal admin = InitAdmin();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto first, Create(admin, "ci", v1::ROLE_PUBLISHER, "wallet", 3600));
  EXPECT_THAT(Create(admin, "ci", v1::ROLE_VIEWER, "mall"),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       AllOf(HasSubstr("an active token is already named 'ci'"),
                             HasSubstr(IdOf(first.token())),
                             HasSubstr("strata token revoke ci"))));
  // Once it expired the name is free again; a revoked one frees it too.
  clock_.Advance(absl::Hours(1));
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto second, Create(admin, "ci", v1::ROLE_PUBLISHER, "wallet"));
  EXPECT_THAT(Revoke(admin, "ci"), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto third, Create(admin, "ci", v1::ROLE_PUBLISHER, "wallet"));
  EXPECT_THAT(Names(admin, false), ElementsAre("admin", "ci"));
  EXPECT_THAT(Names(admin, true), ElementsAre("admin", "ci", "ci", "ci"));
  EXPECT_THAT(auth_->Authenticate(third.token()), IsOk());
}

TEST_F(AuthCoreTest, ConcurrentCreatesOfOneNameLetOneThrough) {
  Principal admin = InitAdmin();
  std::vector<absl::Status> results(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = Create(admin, "race", v1::ROLE_VIEWER, "wallet").status();
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0;
  for (const absl::Status& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
    }
  }
  EXPECT_EQ(ok, 1);
}

TEST_F(AuthCoreTest, RevokedTokensAreRefusedSayingWhenAndByWhom) {
  Principal admin = InitAdmin();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto ci, Create(admin, "ci", v1::ROLE_PUBLISHER, "wallet"));
  clock_.Advance(absl::Seconds(40));
  STRATA_ASSERT_OK_AND_ASSIGN(auto revoked, Revoke(admin, "ci"));
  EXPECT_EQ(revoked.token().name(), "ci");
  EXPECT_EQ(revoked.token().id(), IdOf(ci.token()));
  EXPECT_EQ(revoked.token().revoked_at_unix(), 1'700'000'040);
  EXPECT_EQ(revoked.token().revoked_by(), "admin");
  EXPECT_THAT(auth_->Authenticate(ci.token()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "token 'ci' was revoked at 2023-11-14T22:14:00Z by "
                       "'admin'; ask an admin for a new one (`strata token "
                       "create`)"));
  // Audited, with the id that tells it apart.
  STRATA_ASSERT_OK_AND_ASSIGN(auto audit, store_->ListAudit(0, 100));
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit.back().action(), "token.revoke");
  EXPECT_EQ(audit.back().actor(), "admin");
  EXPECT_EQ(audit.back().app_id(), "wallet");
  EXPECT_THAT(audit.back().detail(), HasSubstr("id=" + IdOf(ci.token())));
  // A second revoke changes nothing and says why.
  const size_t audit_before = AuditCount();
  EXPECT_THAT(Revoke(admin, "ci"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no active token is named 'ci'")));
  EXPECT_THAT(Revoke(admin, IdOf(ci.token())),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already revoked")));
  EXPECT_EQ(AuditCount(), audit_before);
}

TEST_F(AuthCoreTest, RevokeByIdAndRefuseAmbiguity) {
  Principal admin = InitAdmin();
  STRATA_ASSERT_OK_AND_ASSIGN(auto a,
                              Create(admin, "a", v1::ROLE_VIEWER, "wallet"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto b,
                              Create(admin, "b", v1::ROLE_VIEWER, "wallet"));
  // Two active tokens of one name, as a store written before names were
  // unique may hold.
  v1::StoredToken dup;
  dup.set_name("b");
  dup.set_role(v1::ROLE_VIEWER);
  dup.set_app_id("wallet");
  const std::string dup_hash = Sha256::HexHash("stk_legacy");
  ASSERT_THAT(store_->PutToken(dup_hash, dup, testing::TestAudit("t")), IsOk());
  const size_t audit_before = AuditCount();
  EXPECT_THAT(
      Revoke(admin, "b"),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("matches 2 tokens"), HasSubstr(IdOf(b.token())),
                     HasSubstr(dup_hash.substr(0, 12)),
                     HasSubstr("revoke one by its id"))));
  EXPECT_EQ(AuditCount(), audit_before);
  // By id (upper case and the full 12 digits, or a 6-digit prefix).
  std::string upper = IdOf(a.token());
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_THAT(Revoke(admin, upper), IsOk());
  EXPECT_THAT(Revoke(admin, dup_hash.substr(0, 6)), IsOk());
  EXPECT_THAT(
      auth_->Authenticate("stk_legacy"),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("was revoked")));
  EXPECT_THAT(auth_->Authenticate(b.token()), IsOk());
  EXPECT_THAT(Names(admin, false), ElementsAre("admin", "b"));
}

TEST_F(AuthCoreTest, ListShowsEverythingButTheSecret) {
  Principal admin = InitAdmin();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto ci, Create(admin, "ci", v1::ROLE_PUBLISHER, "wallet", 3600));
  clock_.Advance(absl::Seconds(1));
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto ops, Create(admin, "ops", v1::ROLE_RELEASE_MANAGER, "*", -1));
  v1::ListTokensRequest req;
  STRATA_ASSERT_OK_AND_ASSIGN(auto list, auth_->ListTokens(admin, req));
  ASSERT_EQ(list.tokens_size(), 3);
  const v1::TokenInfo& t = list.tokens(1);
  EXPECT_EQ(t.name(), "ci");
  EXPECT_EQ(t.id(), IdOf(ci.token()));
  EXPECT_EQ(t.role(), v1::ROLE_PUBLISHER);
  EXPECT_EQ(t.app_id(), "wallet");
  EXPECT_EQ(t.created_at_unix(), 1'700'000'000);
  EXPECT_EQ(t.expires_at_unix(), 1'700'003'600);
  EXPECT_EQ(t.revoked_at_unix(), 0);
  EXPECT_EQ(list.tokens(2).expires_at_unix(), 0);
  // Neither a secret nor the full hash it is stored under.
  const std::string bytes = list.SerializeAsString();
  for (const std::string& secret : {ci.token(), ops.token()}) {
    EXPECT_THAT(bytes, Not(HasSubstr(secret.substr(4))));
    EXPECT_THAT(bytes, Not(HasSubstr(Sha256::HexHash(secret))));
  }
  // Expired tokens only with include_revoked.
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(Names(admin, false), ElementsAre("admin", "ops"));
  EXPECT_THAT(Names(admin, true), ElementsAre("admin", "ci", "ops"));
}

TEST_F(AuthCoreTest, TheLastActiveAdminTokenCannotBeRevoked) {
  Principal admin = InitAdmin();
  // An admin of one app, or one that expired, does not count.
  ASSERT_THAT(Create(admin, "wallet-admin", v1::ROLE_ADMIN, "wallet"), IsOk());
  ASSERT_THAT(Create(admin, "brief", v1::ROLE_ADMIN, "*", 60), IsOk());
  clock_.Advance(absl::Minutes(1));
  const size_t audit_before = AuditCount();
  EXPECT_THAT(Revoke(admin, "admin"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("last active admin token"),
                             HasSubstr("strata token create"))));
  EXPECT_EQ(AuditCount(), audit_before);
  // Rotation: another admin for every app, then the first goes.
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto next, Create(admin, "admin-2", v1::ROLE_ADMIN, "*", -1));
  STRATA_ASSERT_OK_AND_ASSIGN(Principal admin2,
                              auth_->Authenticate(next.token()));
  EXPECT_THAT(Revoke(admin2, "admin"), IsOk());
  EXPECT_THAT(Revoke(admin2, "admin-2"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("last active admin token")));
}

TEST_F(AuthCoreTest, AnAppsAdminSeesAndRevokesOnlyItsApp) {
  Principal admin = InitAdmin();
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto wa, Create(admin, "wallet-admin", v1::ROLE_ADMIN, "wallet"));
  ASSERT_THAT(Create(admin, "ci-wallet", v1::ROLE_PUBLISHER, "wallet"), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto mall, Create(admin, "ci-mall", v1::ROLE_PUBLISHER, "mall"));
  STRATA_ASSERT_OK_AND_ASSIGN(Principal wallet_admin,
                              auth_->Authenticate(wa.token()));
  EXPECT_THAT(Names(wallet_admin, true),
              ElementsAre("ci-wallet", "wallet-admin"));
  EXPECT_THAT(Revoke(wallet_admin, "ci-mall"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Revoke(wallet_admin, "admin"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Revoke(wallet_admin, "ci-wallet"), IsOk());
  EXPECT_THAT(auth_->Authenticate(mall.token()), IsOk());
  // Below admin: neither list nor revoke.
  STRATA_ASSERT_OK_AND_ASSIGN(Principal ci_mall,
                              auth_->Authenticate(mall.token()));
  EXPECT_THAT(auth_->ListTokens(ci_mall, v1::ListTokensRequest()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Revoke(ci_mall, "ci-mall"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace strata::server
