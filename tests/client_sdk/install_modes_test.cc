// Install modes (immediate, next launch, next resume) and mandatory
// updates, signed with the update (delivery), over a fake transport.
#include "policy_fixture.h"
#include "strata/base/status_macros.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;

v1::UpdateEntry Mode(v1::UpdateEntry e, v1::InstallMode mode,
                     bool mandatory = false) {
  e.mutable_statement()->mutable_delivery()->set_install_mode(mode);
  e.mutable_statement()->mutable_delivery()->set_mandatory(mandatory);
  return e;
}

class InstallModesTest : public PolicyClientTest {
 protected:
  std::string Active(Layer layer, const std::string& name) {
    std::optional<InstalledModule> m = client_->Installed(layer, name);
    return m.has_value() ? m->version : "<none>";
  }
};

TEST_F(InstallModesTest, ImmediateActivatesAnH5PageAtInstall) {
  Serve({{Mode(Entry(v1::LAYER_H5, "page", "1", "p1", 1, false),
               v1::INSTALL_IMMEDIATE),
          "p1"}});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_TRUE(r.staged.empty());
  EXPECT_EQ(Active(Layer::kH5, "page"), "1");
}

TEST_F(InstallModesTest, ImmediateHotpatchStillWaitsForALaunch) {
  Serve({{Mode(Entry(v1::LAYER_HOTPATCH, "core", "1", "c1", 1, false),
               v1::INSTALL_IMMEDIATE),
          "c1"}});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.staged.size(), 1u);
  EXPECT_EQ(Active(Layer::kHotpatch, "core"), "<none>");
}

TEST_F(InstallModesTest, NextLaunchIsNotActivatedByAnOpenOrAResume) {
  Serve({{Mode(Entry(v1::LAYER_H5, "page", "1", "p1", 1, false),
               v1::INSTALL_NEXT_LAUNCH),
          "p1"}});
  ASSERT_THAT(client_->Check(), IsOk());
  EXPECT_FALSE(client_->OpenModule(Layer::kH5, "page").ok());  // nothing yet
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<InstalledModule> resumed,
                              client_->OnResume());
  EXPECT_TRUE(resumed.empty());
  EXPECT_EQ(Active(Layer::kH5, "page"), "<none>");
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  ASSERT_EQ(launch.activated.size(), 1u);
  EXPECT_EQ(Active(Layer::kH5, "page"), "1");
}

TEST_F(InstallModesTest, NextResumeActivatesTheWholeReleaseAtResume) {
  int calls = 0;
  client_->AddConfigListener(
      [&](const std::string&, const std::optional<std::string>&) { ++calls; });
  Serve({{Mode(Entry(v1::LAYER_HCF, "cart", "1", "c1", 1, false, 9),
               v1::INSTALL_NEXT_RESUME),
          "c1"},
         {Entry(v1::LAYER_CONFIG, "cart.flags", "1", "{}", 1, true, 9), "{}"}});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  EXPECT_EQ(r.staged.size(), 2u);
  // An open does not activate it; the mode survives a restart.
  EXPECT_FALSE(client_->OpenModule(Layer::kHcf, "cart").ok());
  Recreate();
  client_->AddConfigListener(
      [&](const std::string&, const std::optional<std::string>&) { ++calls; });
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<InstalledModule> resumed,
                              client_->OnResume());
  EXPECT_EQ(resumed.size(), 2u);
  EXPECT_EQ(Active(Layer::kHcf, "cart"), "1");
  EXPECT_EQ(Active(Layer::kConfig, "cart.flags"), "1");
  EXPECT_EQ(calls, 1);
  ASSERT_THAT(client_->FlushReports(), IsOk());
  EXPECT_EQ(transport_->CountReports(v1::ReportEvent::KIND_ACTIVATED), 2);
}

TEST_F(InstallModesTest, MandatoryUpdatesAreListedUntilActive) {
  network_ = Network::kMetered;
  Recreate();
  v1::UpdateEntry wifi = Mode(Entry(v1::LAYER_H5, "terms", "2", "t2", 1, false),
                              v1::INSTALL_NEXT_LAUNCH, /*mandatory=*/true);
  wifi.mutable_statement()->mutable_delivery()->set_network(
      v1::NETWORK_UNMETERED_ONLY);
  Serve({{wifi, "t2"}});
  ASSERT_THAT(client_->Check(), IsOk());
  std::vector<MandatoryUpdate> m = client_->MandatoryUpdates();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_FALSE(m[0].downloaded);
  EXPECT_NE(m[0].waits_for.find("unmetered"), std::string::npos);
  client_->SetNetwork(Network::kUnmetered);
  ASSERT_THAT(client_->Check(), IsOk());
  m = client_->MandatoryUpdates();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].downloaded);
  EXPECT_EQ(m[0].waits_for, "next launch");
  ASSERT_THAT(client_->BeginLaunch(), IsOk());
  EXPECT_TRUE(client_->MandatoryUpdates().empty());
}

}  // namespace
}  // namespace strata::client
