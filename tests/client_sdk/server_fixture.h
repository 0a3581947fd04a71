// A real stratad (in this process, on loopback) for the SDK's end-to-end
// tests, with helpers to publish and release content.
#ifndef STRATA_TESTS_CLIENT_SDK_SERVER_FIXTURE_H_
#define STRATA_TESTS_CLIENT_SDK_SERVER_FIXTURE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "../integration/test_server.h"
#include "../server/test_util.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/tree_archive.h"
#include "strata/base/file_util.h"
#include "strata/base/http_get.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::testing {

class SdkServerTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.Start(JoinPath(dir_.path(), "server")); }
  void TearDown() override { server_.Stop(); }

  // Publishes `content` as app "wallet"'s `layer`/`module` `version` (for
  // hotpatches: built for `host_build`) and releases it to every device at
  // once. Returns the release id (0 on failure).
  uint64_t Release(v1::Layer layer, const std::string& module,
                   const std::string& version, const std::string& content,
                   const std::string& host_build = "",
                   const v1::DeliveryPolicy& delivery = {}) {
    Publish(layer, module, version, content, host_build, delivery);
    return CreateRelease(layer, module, version);
  }
  void Publish(v1::Layer layer, const std::string& module,
               const std::string& version, const std::string& content,
               const std::string& host_build = "",
               const v1::DeliveryPolicy& delivery = {}) {
    admin::AdminClient admin(server_.address(), server_.token(),
                             admin::ChannelSecurity::Plaintext());
    v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(layer);
    st.mutable_module()->set_name(module);
    st.set_version(version);
    if (!host_build.empty()) {
      st.mutable_compatibility()->set_host_build(host_build);
    }
    *st.mutable_delivery() = delivery;
    EXPECT_THAT(admin.Publish(st, content, ""), IsOk());
  }
  // All at once (completed at once), or `rolling`: at 100% for an hour, so
  // the release stays live and stratad counts its devices' reports in its
  // health (a completed release is no longer judged).
  uint64_t CreateRelease(v1::Layer layer, const std::string& module,
                         const std::string& version, bool rolling = false) {
    admin::AdminClient admin(server_.address(), server_.token(),
                             admin::ChannelSecurity::Plaintext());
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    r.mutable_module()->set_layer(layer);
    r.mutable_module()->set_name(module);
    r.set_version(version);
    if (rolling) {
      v1::RolloutStage* stage = r.add_stages();
      stage->set_exposure_bp(10000);
      stage->set_bake_seconds(3600);
    } else {
      r.set_all_at_once(true);
    }
    absl::StatusOr<v1::Release> release = admin.CreateRelease(r);
    EXPECT_THAT(release, IsOk());
    return release.ok() ? release->release_id() : 0;
  }

  // A counter of stratad's /metrics (0 when absent).
  uint64_t Metric(const std::string& series) {
    absl::StatusOr<HttpResponse> r =
        HttpGet(StrCat("http://127.0.0.1:", server_.http_port(), "/metrics"));
    if (!r.ok()) return 0;
    const size_t at = r->body.find("\n" + series + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(r->body.substr(at + series.size() + 2));
  }

  // Waits until stratad has computed more than `computed` deltas (the
  // count of strata_deltas_computed_total before a publish): a hang guard
  // of 2 minutes, not a timing assumption.
  void WaitForDeltasPast(uint64_t computed) {
    const auto guard =
        std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (Metric("strata_deltas_computed_total") <= computed) {
      ASSERT_LT(std::chrono::steady_clock::now(), guard)
          << "stratad computed no delta";
      std::this_thread::yield();
    }
  }

  // Writes the files into <test dir>/<name> and packs the directory as
  // `strata publish --dir` does.
  std::string PackTree(const std::string& name,
                       const std::map<std::string, std::string>& files) {
    FileSystem& fs = *PosixFileSystem();
    const std::string root = JoinPath(dir_.path(), name);
    for (const auto& [path, content] : files) {
      const std::string full = JoinPath(root, path);
      EXPECT_THAT(CreateDirs(fs, full.substr(0, full.rfind('/'))), IsOk());
      EXPECT_THAT(WriteFileAtomically(fs, full, content), IsOk());
    }
    absl::StatusOr<std::string> archive = admin::ArchiveTree(fs, root);
    EXPECT_THAT(archive, IsOk());
    return archive.value_or("");
  }

  TempDir dir_;
  TestServer server_;
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_CLIENT_SDK_SERVER_FIXTURE_H_
