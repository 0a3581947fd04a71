// strata-device: a simulated device built on libstrata_client.
#include <iostream>

#include "CLI/CLI.hpp"
#include "strata/client/client.h"

int main(int argc, char** argv) {
  strata::client::ClientOptions options;
  std::string print_config;
  CLI::App app{
      "strata-device - a simulated app on libstrata_client: checks the "
      "server,\n"
      "downloads, verifies and installs updates crash-safely, and prints what\n"
      "it installed.\n\n"
      "Example:\n"
      "  strata-device --app wallet --device-id d-001 --storage-dir /tmp/d1 "
      "\\\n"
      "      --print-config payment.limits\n\n"
      "Exit codes: 0 ok; 1 bad arguments or storage; 2 server unreachable;\n"
      "3 some update failed to install."};
  app.add_option("--server", options.server_address, "server host:port")
      ->envname("STRATA_SERVER")
      ->capture_default_str();
  app.add_option("--app", options.app_id, "app id")->required();
  app.add_option("--device-id", options.device.device_id, "stable device id")
      ->required();
  app.add_option("--user-id", options.device.user_id, "user id");
  app.add_option("--app-version", options.device.app_version,
                 "host app version");
  app.add_option("--host-build", options.device.host_build,
                 "host app build id");
  app.add_option("--os", options.device.os, "android or ios");
  app.add_option("--region", options.device.region, "region code, e.g. CN-31");
  app.add_option("--storage-dir", options.storage_dir,
                 "the device's private storage directory")
      ->required();
  app.add_option("--print-config", print_config,
                 "after the check, print this CONFIG module's content");
  CLI11_PARSE(app, argc, argv);

  auto client = strata::client::Client::Create(options);
  if (!client.ok()) {
    std::cerr << "strata-device: " << client.status().message() << "\n";
    return 1;
  }
  auto result = (*client)->Check();
  if (!result.ok()) {
    std::cerr << "strata-device: check failed: " << result.status().message()
              << "\n";
    return 2;
  }
  for (const auto& m : result->installed) {
    std::cout << "installed " << strata::client::LayerName(m.layer) << "/"
              << m.name << " " << m.version << " (sha256 "
              << m.content_sha256.substr(0, 12) << "…)\n";
  }
  for (const auto& f : result->failures) std::cerr << "failed: " << f << "\n";
  if (!print_config.empty()) {
    auto value = (*client)->GetConfig(print_config);
    if (!value.ok()) {
      std::cerr << "strata-device: " << value.status().message() << "\n";
      return 1;
    }
    if (!value->has_value()) {
      std::cerr << "strata-device: config " << print_config
                << " is not installed on this device\n";
      return 3;
    }
    std::cout << "config " << print_config << " = " << **value << "\n";
  }
  return result->failures.empty() ? 0 : 3;
}
