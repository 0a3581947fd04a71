// config_push_bench: how long after a CONFIG release every connected device
// has it through WatchConfig, next to the release RPC's own round trip
// (the baseline: the fastest the admin side itself can know).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "grpcpp/create_channel.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  const int devices = argc > 1 ? std::atoi(argv[1]) : 50;
  const int releases = argc > 2 ? std::atoi(argv[2]) : 20;
  char tmpl[] = "/tmp/strata_push_bench_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string data = strata::JoinPath(dir, "data");
  const std::string token_file = strata::JoinPath(data, "admin.token");
  if (!strata::server::InitializeDataDir(data, token_file).ok()) return 1;
  std::string token = *strata::PosixFileSystem()->ReadFile(token_file);
  token = token.substr(0, token.find('\n'));
  strata::server::ServerOptions options;
  options.data_dir = data;
  options.listen_address = "127.0.0.1:0";
  options.http_address = "";
  options.allow_unsigned_publishes = true;  // measures push, not signing
  auto server = strata::server::StrataServer::Start(options);
  if (!server.ok()) return 1;
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  strata::admin::AdminClient admin(address, token,
                                   strata::admin::ChannelSecurity::Plaintext());

  using Clock = std::chrono::steady_clock;
  std::mutex mu;
  // received[v][d]: when device d saw version v.
  std::vector<std::vector<Clock::time_point>> received(
      releases + 1, std::vector<Clock::time_point>(devices));
  std::vector<Clock::time_point> released(releases + 1);
  std::atomic<int> connected{0};
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  for (int d = 0; d < devices; ++d)
    contexts.push_back(std::make_unique<grpc::ClientContext>());
  std::vector<std::thread> watchers;
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  for (int d = 0; d < devices; ++d) {
    watchers.emplace_back([&, d] {
      auto stub = strata::v1::Delivery::NewStub(channel);
      strata::v1::WatchConfigRequest req;
      req.mutable_device()->set_app_id("wallet");
      req.mutable_device()->set_device_id("device-" + std::to_string(d));
      auto reader = stub->WatchConfig(contexts[d].get(), req);
      ++connected;
      strata::v1::ConfigEvent event;
      while (reader->Read(&event)) {
        int v = std::atoi(event.entry().statement().version().c_str());
        std::lock_guard<std::mutex> lock(mu);
        if (v >= 1 && v <= releases) received[v][d] = Clock::now();
      }
      (void)reader->Finish();
    });
  }
  while (connected < devices)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  std::vector<double> rpc_ms, push_ms;
  for (int v = 1; v <= releases; ++v) {
    strata::v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(strata::v1::LAYER_CONFIG);
    st.mutable_module()->set_name("payment.limits");
    st.set_version(std::to_string(v));
    if (!admin.Publish(st, "{\"limit\":" + std::to_string(v) + "}", "").ok())
      return 1;
    strata::v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    *r.mutable_module() = st.module();
    r.set_version(std::to_string(v));
    r.set_all_at_once(true);
    auto t0 = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mu);
      released[v] = t0;
    }
    if (!admin.CreateRelease(r).ok()) return 1;
    rpc_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    // Let every device receive it before the next release supersedes it.
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      std::lock_guard<std::mutex> lock(mu);
      if (std::all_of(received[v].begin(), received[v].end(),
                      [](auto t) { return t != Clock::time_point(); })) {
        break;
      }
    }
  }
  int missed = 0;
  for (int v = 1; v <= releases; ++v) {
    for (int d = 0; d < devices; ++d) {
      if (received[v][d] == Clock::time_point()) {
        ++missed;
        continue;
      }
      push_ms.push_back(std::chrono::duration<double, std::milli>(
                            received[v][d] - released[v])
                            .count());
    }
  }
  for (auto& c : contexts) c->TryCancel();
  for (auto& w : watchers) w.join();
  (*server)->Shutdown();
  (void)strata::DeleteRecursively(*strata::PosixFileSystem(), dir);

  std::printf(
      "| what | samples | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n");
  std::printf(
      "| release RPC round trip (baseline) | %zu | %.2f | %.2f | %.2f |\n",
      rpc_ms.size(), Percentile(rpc_ms, 0.5), Percentile(rpc_ms, 0.99),
      Percentile(rpc_ms, 1.0));
  std::printf("| release -> pushed to device | %zu | %.2f | %.2f | %.2f |\n",
              push_ms.size(), Percentile(push_ms, 0.5),
              Percentile(push_ms, 0.99), Percentile(push_ms, 1.0));
  std::printf("devices: %d, releases: %d, pushes missed: %d\n", devices,
              releases, missed);
  return missed == 0 ? 0 : 1;
}
