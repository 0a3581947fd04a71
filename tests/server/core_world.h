// A store, an AdminCore and a DeliveryCore wired as stratad wires them (a
// release change reaches the delivery side), on a fresh directory and a
// simulated clock, for tests of the core without gRPC.
#ifndef STRATA_TESTS_SERVER_CORE_WORLD_H_
#define STRATA_TESTS_SERVER_CORE_WORLD_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/delivery_core.h"
#include "test_util.h"

namespace strata::testing {

// An AdminCore (unsigned publishes allowed) and a DeliveryCore over
// `store`, wired as stratad wires them.
inline void WireCores(server::Store* store, Clock* clock,
                      std::unique_ptr<server::AdminCore>* admin,
                      std::unique_ptr<server::DeliveryCore>* delivery) {
  *admin = std::make_unique<server::AdminCore>(
      store, clock, server::AdminLimits{.require_signatures = false});
  *delivery = std::make_unique<server::DeliveryCore>(
      store, clock, server::DeliveryOptions{}, nullptr, (*admin)->fleet());
  server::DeliveryCore* d = delivery->get();
  (*admin)->OnReleasesChanged(
      [d](const std::string& app) { d->ReleasesChanged(app); });
}

class CoreWorldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = server::Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    WireCores(store_.get(), &clock_, &admin_, &delivery_);
  }

  TempDir dir_;
  SimulatedClock clock_;
  std::unique_ptr<server::Store> store_;
  std::unique_ptr<server::AdminCore> admin_;
  std::unique_ptr<server::DeliveryCore> delivery_;
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_SERVER_CORE_WORLD_H_
