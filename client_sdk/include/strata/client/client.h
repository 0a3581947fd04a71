// libstrata_client: what the app embeds. Checks the server for updates,
// downloads and verifies them, and stores them crash-safely.
//
// Only std and absl types appear here; gRPC and protobuf stay inside.
#ifndef STRATA_CLIENT_CLIENT_H_
#define STRATA_CLIENT_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"

namespace strata::client {

enum class Layer {
  kConfig = 1,
  kH5 = 2,
  kHcf = 3,
  kHotpatch = 4,
  kNativeBundle = 5
};

// "config", "h5", "hcf", "hotpatch", "native".
std::string_view LayerName(Layer layer);
std::optional<Layer> ParseLayer(std::string_view name);

struct DeviceInfo {
  std::string device_id;
  std::string user_id;
  std::string app_version;
  std::string host_build;
  std::string os;
  std::string os_version;
  std::string device_model;
  std::string region;
  std::string channel;
  std::string network;
  std::string locale;
  std::string runtime_version;
  std::map<std::string, std::string> attributes;
};

struct ClientOptions {
  std::string server_address = "127.0.0.1:7443";
  std::string app_id;
  DeviceInfo device;
  // Where installed content and state live; created if missing.
  std::string storage_dir;
  // Files, clock and randomness; the real machine when unset.
  std::optional<Env> env;
};

struct InstalledModule {
  Layer layer;
  std::string name;
  std::string version;
  std::string content_sha256;
  uint64_t release_sequence = 0;
};

struct CheckResult {
  // Modules installed by this check.
  std::vector<InstalledModule> installed;
  // Updates that could not be installed, one message each (nothing of them
  // was changed on disk).
  std::vector<std::string> failures;
};

class Transport;  // internal

class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);
  // For tests: a client over a given transport.
  static absl::StatusOr<std::unique_ptr<Client>> CreateWithTransport(
      ClientOptions options, std::unique_ptr<Transport> transport);
  ~Client();

  // Asks the server what to change, then downloads, verifies and installs
  // each update. Fails only when the server could not be asked; per-module
  // problems are listed in CheckResult::failures.
  absl::StatusOr<CheckResult> Check();

  // The installed content of CONFIG module `name`, if any.
  absl::StatusOr<std::optional<std::string>> GetConfig(std::string_view name);
  std::optional<InstalledModule> Installed(Layer layer, std::string_view name);
  std::vector<InstalledModule> AllInstalled();

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_CLIENT_H_
