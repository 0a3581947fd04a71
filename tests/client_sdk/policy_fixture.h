// A Client over a fake transport and an in-memory file system, with a
// download policy and a network, for the on-demand and install-mode tests.
#ifndef STRATA_TESTS_CLIENT_SDK_POLICY_FIXTURE_H_
#define STRATA_TESTS_CLIENT_SDK_POLICY_FIXTURE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fake_transport.h"
#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"

namespace strata::client {

inline v1::UpdateEntry OnDemand(v1::UpdateEntry e) {
  e.mutable_statement()->mutable_delivery()->set_on_demand(true);
  return e;
}
inline v1::UpdateEntry WifiOnly(v1::UpdateEntry e) {
  e.mutable_statement()->mutable_delivery()->set_network(
      v1::NETWORK_UNMETERED_ONLY);
  return e;
}

class PolicyClientTest : public ::testing::Test {
 protected:
  void SetUp() override { Recreate(); }
  void Recreate() {
    ClientOptions o;
    o.app_id = "wallet";
    o.device.device_id = "d1";
    o.storage_dir = "/sdk";
    o.insecure_skip_signature_verification_for_tests = true;
    o.env = Env{&fs_, &clock_, &random_};
    o.download_policy = policy_;
    o.network = network_;
    ASSERT_THAT(RestartClient(o, &transport_, &client_),
                ::strata::testing::IsOk());
  }
  void Serve(const std::vector<std::pair<v1::UpdateEntry, std::string>>& es) {
    std::vector<v1::UpdateEntry> entries;
    for (const auto& [e, content] : es) {
      transport_->blobs[Sha256::HexHash(content)] = content;
      entries.push_back(e);
    }
    transport_->Serve(entries);
  }
  std::string Read(const std::string& path) {
    return fs_.ReadFile(path).value_or("<missing>");
  }
  std::vector<v1::ReportEvent> Downloaded() {
    std::vector<v1::ReportEvent> out;
    for (const auto& e : transport_->reports) {
      if (e.traffic_size() > 0) out.push_back(e);
    }
    return out;
  }

  testing::MemFileSystem fs_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_;
  DownloadPolicy policy_;
  Network network_ = Network::kUnmetered;
  FakeTransport* transport_ = nullptr;
  std::unique_ptr<Client> client_;
};

}  // namespace strata::client

#endif  // STRATA_TESTS_CLIENT_SDK_POLICY_FIXTURE_H_
