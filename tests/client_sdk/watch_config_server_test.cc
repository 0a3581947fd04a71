// The SDK's config watch against a real stratad on loopback: a released
// config reaches a watching device's listener without any Check().
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <vector>

#include "gtest/gtest.h"
#include "server_fixture.h"
#include "strata/base/status_macros.h"
#include "strata/client/c_api.h"
#include "strata/client/client.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using SteadyClock = std::chrono::steady_clock;

// What listeners heard, with when, for waiting threads.
class Heard {
 public:
  void Add(const std::string& name, const std::string& content) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back({name + "=" + content, SteadyClock::now()});
    cv_.notify_all();
  }
  // When `line` was heard; nullopt after 120 s (a hang guard only: the
  // wait ends as soon as the line is heard).
  std::optional<SteadyClock::time_point> WaitFor(const std::string& line) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<SteadyClock::time_point> at;
    cv_.wait_for(lock, std::chrono::seconds(120), [&] {
      for (const auto& [l, t] : log_) {
        if (l == line) at = t;
      }
      return at.has_value();
    });
    return at;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, SteadyClock::time_point>> log_;
};

class WatchConfigServerTest : public testing::SdkServerTest {
 protected:
  client::ClientOptions Options(const std::string& device) {
    client::ClientOptions o;
    o.server_address = server_.address();
    o.insecure_plaintext_to_loopback_for_tests = true;
    o.app_id = "wallet";
    o.device.device_id = device;
    o.storage_dir = JoinPath(dir_.path(), device);
    o.insecure_skip_signature_verification_for_tests = true;  // unsigned app
    return o;
  }
};

TEST_F(WatchConfigServerTest, ReleasedConfigReachesTheWatchingDevice) {
  Release(v1::LAYER_CONFIG, "flags", "1", "{\"new_ui\":false}");
  STRATA_ASSERT_OK_AND_ASSIGN(std::unique_ptr<client::Client> device,
                              client::Client::Create(Options("d1")));
  Heard heard;
  device->AddConfigListener(
      [&](const std::string& name, const std::optional<std::string>& c) {
        heard.Add(name, c.value_or("<none>"));
      });
  ASSERT_THAT(device->StartConfigWatch(), IsOk());
  // The device has nothing: the current version comes on connect.
  ASSERT_TRUE(heard.WaitFor("flags={\"new_ui\":false}").has_value());

  Publish(v1::LAYER_CONFIG, "flags", "2", "{\"new_ui\":true}");
  const SteadyClock::time_point released = SteadyClock::now();
  const uint64_t release_id = CreateRelease(v1::LAYER_CONFIG, "flags", "2");
  const std::optional<SteadyClock::time_point> at =
      heard.WaitFor("flags={\"new_ui\":true}");
  ASSERT_TRUE(at.has_value()) << "the release never reached the device";
  // Printed, not asserted: the push latency is measured in
  // bench/config_push.
  const auto latency =
      std::chrono::duration_cast<std::chrono::microseconds>(*at - released);
  std::cout << "[ latency  ] CreateRelease -> config listener: "
            << latency.count() / 1000.0 << " ms\n";

  // Installed exactly as a check would have: active, with its release.
  std::optional<client::InstalledModule> flags =
      device->Installed(client::Layer::kConfig, "flags");
  ASSERT_TRUE(flags.has_value());
  EXPECT_EQ(flags->version, "2");
  EXPECT_EQ(flags->release_sequence, 2u);
  EXPECT_EQ(flags->release_id, release_id);
  EXPECT_EQ(*device->GetConfigBool("flags", "new_ui"), true);
  // A check has nothing left to do; the queued ACTIVATED reports are
  // acknowledged by the server.
  EXPECT_EQ(device->PendingReports(), 2u);
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, device->Check());
  EXPECT_TRUE(r.installed.empty());
  EXPECT_EQ(device->PendingReports(), 0u);

  device->StopConfigWatch();
  const client::ConfigWatchStats stats = device->ConfigWatchStatus();
  EXPECT_EQ(stats.streams_opened, 1u);
  EXPECT_EQ(stats.installed, 2u);
  EXPECT_EQ(stats.failed, 0u);
}

void OnConfig(void* user_data, const char* name, const char* content,
              size_t size) {
  static_cast<Heard*>(user_data)->Add(
      name, content == nullptr ? "<none>" : std::string(content, size));
}

TEST_F(WatchConfigServerTest, TheCApiWatchesConfigToo) {
  Release(v1::LAYER_CONFIG, "limits", "1", "{\"daily\":500}");
  const std::string storage = JoinPath(dir_.path(), "c-device");
  const std::string address = server_.address();
  strata_client_options o = {};
  o.server_address = address.c_str();
  o.insecure_plaintext_to_loopback_for_tests = 1;
  o.app_id = "wallet";
  o.device_id = "c-device";
  o.storage_dir = storage.c_str();
  o.insecure_skip_signature_verification_for_tests = 1;  // unsigned app
  strata_client* c = strata_client_create(&o);
  ASSERT_NE(c, nullptr) << strata_last_error();
  Heard heard;
  int id = 0;
  ASSERT_EQ(strata_client_add_config_listener(c, OnConfig, &heard, &id), 0);
  ASSERT_EQ(strata_client_start_config_watch(c), 0) << strata_last_error();
  EXPECT_NE(strata_client_start_config_watch(c), 0);  // already running
  EXPECT_TRUE(heard.WaitFor("limits={\"daily\":500}").has_value());
  EXPECT_EQ(strata_client_stop_config_watch(c), 0);
  EXPECT_EQ(strata_client_remove_config_listener(c, id), 0);
  char* value = nullptr;
  ASSERT_EQ(strata_client_get_config(c, "limits", &value, nullptr), 0);
  EXPECT_STREQ(value, "{\"daily\":500}");
  strata_free(value);
  strata_client_destroy(c);
}

}  // namespace
}  // namespace strata
