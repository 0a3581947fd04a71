// Key rotation end to end (issue 12): a real stratad, the real `strata` CLI
// rotating every kind of key, and real SDK clients that keep updating
// without a new app build: one device checks after every rotation, one
// stays several root versions behind, and one is new but ships the very
// first root.
#include <string>

#include "cli_fixture.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/client/client.h"

namespace strata {
namespace {

class TrustRotationTest : public CliFixture {
 protected:
  void SetUp() override {
    allow_unsigned_ = false;
    CliFixture::SetUp();
    if (HasFatalFailure()) return;
    keys_ = JoinPath(dir_.path(), "keys");
    first_root_ = InitTrust();
    ASSERT_FALSE(first_root_.empty());
  }

  void Ship(const std::string& version) {
    const std::string file = WriteFile(
        "cart-" + version,
        StrCat("cart version ", version, "\n", std::string(3000, 'x')));
    CmdResult pub = Strata(
        StrCat("publish --app wallet --layer hcf --module cart --version ",
               version, " --file ", file, " --key ",
               JoinPath(keys_, "publisher-a.key"), " --key ",
               JoinPath(keys_, "publisher-b.key")),
        true);
    ASSERT_EQ(pub.exit_code, 0) << pub.out;
    CmdResult rel =
        Strata(StrCat("release create --app wallet --layer hcf --module cart ",
                      "--version ", version, " --all-at-once"),
               true);
    ASSERT_EQ(rel.exit_code, 0) << rel.out;
  }
  void Rotate(const std::string& what) {
    CmdResult r = Strata(
        StrCat("trust rotate ", what, " --keys ", keys_, " --app wallet"),
        true);
    ASSERT_EQ(r.exit_code, 0) << what << ": " << r.out;
  }

  std::unique_ptr<client::Client> Device(const std::string& id) {
    client::ClientOptions o;
    o.server_address = server_;
    o.insecure_plaintext_to_loopback_for_tests = true;
    o.app_id = "wallet";
    o.device.device_id = id;
    o.device.app_version = "10.3.0";
    o.storage_dir = JoinPath(dir_.path(), "devices/" + id);
    o.pinned_root_json = first_root_;  // the app never ships a newer one
    auto c = client::Client::Create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  // Checks and activates; expects `version` of cart to be running after.
  void Update(client::Client& c, const std::string& version) {
    auto r = c.Check();
    ASSERT_TRUE(r.ok()) << r.status();
    for (const client::UpdateFailure& f : r->failure_details) {
      ADD_FAILURE() << "refused (" << f.reason << "): " << f.message;
    }
    ASSERT_TRUE(c.BeginLaunch().ok());
    ASSERT_TRUE(c.MarkLaunchHealthy().ok());
    auto m = c.Installed(client::Layer::kHcf, "cart");
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->version, version);
  }

  std::string keys_;
  std::string first_root_;
};

TEST_F(TrustRotationTest, DevicesKeepUpdatingThroughEveryKindOfRotation) {
  Ship("1");
  auto current = Device("current");
  auto behind = Device("behind");
  ASSERT_NE(current, nullptr);
  ASSERT_NE(behind, nullptr);
  Update(*current, "1");
  Update(*behind, "1");

  Rotate("root");
  Ship("2");
  Update(*current, "2");

  Rotate("targets");
  Ship("3");
  Update(*current, "3");

  Rotate("publisher --publisher publisher-a");
  Ship("4");  // signed with the new publisher-a key
  Update(*current, "4");

  Rotate("online");
  Ship("5");
  Update(*current, "5");

  Rotate("root");
  Ship("6");
  Update(*current, "6");

  // Still on root v1 and version 1: walks the whole chain in one check.
  Update(*behind, "6");
  // A device of the original app build, first start after all of it.
  auto fresh = Device("fresh");
  ASSERT_NE(fresh, nullptr);
  Update(*fresh, "6");

  // The retired publisher key no longer signs anything devices accept.
  auto retired = PosixFileSystem()->ListDir(JoinPath(keys_, "retired"));
  ASSERT_TRUE(retired.ok()) << retired.status();
  std::string old_key;
  for (const std::string& n : *retired) {
    if (n.rfind("publisher-a.", 0) == 0 && n.size() > 4 &&
        n.substr(n.size() - 4) == ".key") {
      old_key = JoinPath(keys_, "retired/" + n);
    }
  }
  ASSERT_FALSE(old_key.empty());
  const std::string file = WriteFile("cart-evil", "evil");
  CmdResult pub = Strata(
      StrCat("publish --app wallet --layer hcf --module cart --version 7 ",
             "--file ", file, " --key ", old_key),
      true);
  EXPECT_EQ(pub.exit_code, 4) << pub.out;
}

}  // namespace
}  // namespace strata
