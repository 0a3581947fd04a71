// Tokens end to end with the real binaries: `strata token create` with a
// lifetime, `token list` (never a secret), `token revoke`, and what a
// revoked or expired token's next call gets from a real stratad.
#include <string>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/server/storage/store.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliTokenTest : public CliFixture {
 protected:
  // `strata` with another token (the fixture's flags otherwise).
  CmdResult As(const std::string& token, const std::string& args,
               bool with_stderr = false) {
    const std::string saved = token_;
    token_ = token;
    CmdResult r = Strata(args, with_stderr);
    token_ = saved;
    return r;
  }
  // Creates a token; returns its secret (stdout holds only that line).
  std::string CreateToken(const std::string& args) {
    CmdResult r = Strata("token create " + args);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
    return r.out.substr(0, r.out.find('\n'));
  }
  static std::string IdOf(const std::string& secret) {
    return Sha256::HexHash(secret).substr(0, 12);
  }
  // The token named `name` in `token list --all --output json`.
  Json Listed(const std::string& name) {
    CmdResult r = Strata("--output json token list --all");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    auto json = Json::Parse(r.out.substr(0, r.out.find('\n')));
    EXPECT_TRUE(json.ok()) << r.out;
    if (!json.ok() || json->Find("tokens") == nullptr) return Json();
    for (const Json& t : json->Find("tokens")->as_array()) {
      if (t.Find("name")->as_string() == name) return t;
    }
    return Json();
  }
};

TEST_F(CliTokenTest, CreateListRevokeAndTheRevokedTokenIsRefused) {
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  CmdResult r = Strata(
      "token create ci-wallet --role publisher --app wallet --expires 30d",
      true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("token 'ci-wallet' (publisher for app wallet) "
                               "expires at "));
  const std::string ci = CreateToken("ci-2 --role viewer --app wallet");
  ASSERT_EQ(ci.substr(0, 4), "stk_");
  // Its secret is alone on stdout when stderr is elsewhere.
  const std::string wallet_ci =
      CreateToken("--name ci-3 --role publisher --app wallet --expires never");
  Publish("config", "flags", "1", "{}");  // wallet is known from here on
  EXPECT_EQ(As(wallet_ci, "release list --app wallet").exit_code, 0);

  // A second active token of a name: refused (4), saying what to do.
  r = Strata("token create ci-wallet --role viewer --app wallet", true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("an active token is already named 'ci-wallet'"));
  EXPECT_THAT(r.out, HasSubstr("strata token revoke ci-wallet"));
  // Lifetimes: a unit is required (2).
  r = Strata("token create x --role viewer --expires 30", true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("30d, 12h, 45m"));

  // The list: name, id, role, app, dates and state; no secret.
  r = Strata("token list");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("NAME"));
  EXPECT_THAT(r.out, HasSubstr(IdOf(ci)));
  EXPECT_THAT(r.out, HasSubstr("ci-wallet"));
  EXPECT_THAT(r.out, Not(HasSubstr(ci.substr(4))));
  EXPECT_THAT(r.out, Not(HasSubstr(token_.substr(4))));
  Json listed = Listed("ci-wallet");
  ASSERT_TRUE(listed.is_object());
  EXPECT_EQ(listed.Find("role")->as_string(), "publisher");
  EXPECT_EQ(listed.Find("app_id")->as_string(), "wallet");
  EXPECT_EQ(listed.Find("state")->as_string(), "active");
  const int64_t expires = listed.Find("expires_at_unix")->as_int();
  EXPECT_GE(expires, before + 30 * 86400);
  EXPECT_LE(expires, absl::ToUnixSeconds(absl::Now()) + 30 * 86400);
  // The default is 90 days; the first admin token never expires.
  EXPECT_GE(Listed("ci-2").Find("expires_at_unix")->as_int(),
            before + 90 * 86400);
  EXPECT_EQ(Listed("admin").Find("expires_at_unix")->as_int(), 0);
  EXPECT_EQ(Listed("ci-3").Find("expires_at_unix")->as_int(), 0);

  // Revoke by name; its next call is refused with who and when (4).
  r = Strata("token revoke ci-2");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("revoked token 'ci-2' (id " + IdOf(ci)));
  r = As(ci, "release list --app wallet", true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("token 'ci-2' was revoked at "));
  EXPECT_THAT(r.out, HasSubstr("by 'admin'; ask an admin for a new one "
                               "(`strata token create`)"));
  r = As(ci, "--output json release list --app wallet");
  EXPECT_THAT(r.out, HasSubstr("\"code\":\"UNAUTHENTICATED\""));
  // Gone from the list, shown with --all.
  EXPECT_THAT(Strata("token list").out, Not(HasSubstr("ci-2")));
  r = Strata("token list --all");
  EXPECT_THAT(r.out, HasSubstr("revoked by admin"));
  EXPECT_EQ(Listed("ci-2").Find("state")->as_string(), "revoked");
  EXPECT_EQ(Listed("ci-2").Find("revoked_by")->as_string(), "admin");
  // Audited.
  r = Strata("--output json audit list");
  EXPECT_THAT(r.out, HasSubstr("\"action\":\"token.revoke\""));
  EXPECT_THAT(r.out, HasSubstr("id=" + IdOf(ci)));

  // Again: refused (4); unknown: not found (3); both say why.
  r = Strata("token revoke ci-2", true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("no active token is named 'ci-2'"));
  r = Strata("token revoke " + IdOf(ci), true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("already revoked"));
  r = Strata("token revoke nobody", true);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.out, HasSubstr("strata token list --all"));
  // The name is free again.
  CreateToken("ci-2 --role viewer --app wallet");
}

TEST_F(CliTokenTest, RotatingTheFirstAdminToken) {
  const std::string first = token_;
  CmdResult r = Strata("token revoke admin", true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("last active admin token"));
  EXPECT_EQ(Strata("token list").exit_code, 0);

  const std::string second =
      CreateToken("admin-2 --role admin --app '*' --expires never");
  r = As(second, "token revoke admin", true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  r = As(first, "token list", true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("token 'admin' was revoked at "));
  EXPECT_THAT(r.out, HasSubstr("by 'admin-2'"));

  // Revoking the token a command runs with: done, with a warning.
  const std::string third =
      As(second, "token create admin-3 --role admin").out.substr(0, 68);
  r = As(second, "token revoke admin-2", true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("that was the token this command used"));
  EXPECT_EQ(As(second, "token list").exit_code, 4);
  EXPECT_EQ(As(third, "token list").exit_code, 0);
}

TEST_F(CliTokenTest, AnExpiredTokenIsRefusedWithItsDate) {
  // A token whose lifetime ended, written into the data directory while
  // the server is down (stratad reads its clock from the machine, so
  // waiting for an expiry is not an option for a test).
  StopServer();
  {
    auto store = server::Store::Open(JoinPath(dir_.path(), "data/db"));
    ASSERT_TRUE(store.ok()) << store.status();
    v1::StoredToken old;
    old.set_name("ci-old");
    old.set_role(v1::ROLE_VIEWER);
    old.set_app_id("wallet");
    old.set_created_at_unix(1'690'000'000);
    old.set_expires_at_unix(1'700'000'000);
    v1::AuditEntry audit;
    audit.set_actor("test");
    audit.set_action("token.create");
    ASSERT_TRUE(
        (*store)->PutToken(Sha256::HexHash("stk_old"), old, audit).ok());
  }
  StartServer();
  CmdResult r = As("stk_old", "release list --app wallet", true);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.out, HasSubstr("token 'ci-old' expired at "
                               "2023-11-14T22:13:20Z; ask an admin for a new "
                               "one (`strata token create`)"));
  EXPECT_THAT(Strata("token list").out, Not(HasSubstr("ci-old")));
  EXPECT_EQ(Listed("ci-old").Find("state")->as_string(), "expired");
  // Its name is free for a new token.
  CreateToken("ci-old --role viewer --app wallet");
}

}  // namespace
}  // namespace strata
