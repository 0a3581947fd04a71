// strata-device: a simulated device built on libstrata_client.
#include <iostream>
#include <tuple>

#include "CLI/CLI.hpp"
#include "strata/base/env.h"
#include "strata/client/client.h"

int main(int argc, char** argv) {
  strata::client::ClientOptions options;
  std::string print_config, root_file, ca_file, server_cert;
  bool no_check = false, verify = false, begin_launch = false,
       mark_healthy = false;
  CLI::App app{
      "strata-device - a simulated app on libstrata_client: checks the "
      "server,\n"
      "downloads, verifies and installs updates crash-safely, and prints what\n"
      "it installed.\n\n"
      "Example:\n"
      "  strata-device --app wallet --device-id d-001 --storage-dir /tmp/d1 "
      "\\\n"
      "      --root wallet-root.json --print-config payment.limits\n\n"
      "Every update is verified against the app's root of trust (--root, the\n"
      "root.json that `strata trust init` writes). The server is reached over\n"
      "TLS: --ca-file (e.g. <data-dir>/tls/ca.pem from `stratad init\n"
      "--tls-self-signed`) or --server-cert, else the system's CAs;\n"
      "--plaintext only to a loopback server.\n\n"
      "Exit codes: 0 ok; 1 bad arguments or storage; 2 server unreachable,\n"
      "or no --root; 3 some update failed to install; 4 installed content is\n"
      "damaged."};
  app.add_option("--server", options.server_address, "server host:port")
      ->envname("STRATA_SERVER")
      ->capture_default_str();
  app.add_option("--ca-file", ca_file,
                 "PEM file of the CAs to trust instead of the system's (the "
                 "app embeds it), e.g. <data-dir>/tls/ca.pem")
      ->envname("STRATA_CA_FILE");
  app.add_option("--server-cert", server_cert,
                 "PEM file of the server's certificate: connect only if the "
                 "server presents exactly this one")
      ->envname("STRATA_SERVER_CERT");
  app.add_flag("--plaintext", options.insecure_plaintext_to_loopback_for_tests,
               "tests only: no TLS; refused unless --server is loopback");
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
  app.add_option("--root", root_file,
                 "the app's pinned TUF root (root.json from `strata trust "
                 "init`); required");
  app.add_flag("--insecure-skip-signature-verification-for-tests",
               options.insecure_skip_signature_verification_for_tests,
               "tests only: run without --root and install updates without "
               "verifying any signature");
  app.add_option("--metadata-url", options.metadata_base_url,
                 "fetch TUF metadata over HTTP from this repository "
                 "(http://host:port/v1/tuf/<app>) instead of the check "
                 "answers");
  app.add_option("--print-config", print_config,
                 "after the check, print this CONFIG module's content");
  app.add_option("--embedded-dir", options.embedded_dir,
                 "versions shipped with the app: <dir>/<layer>/<module>");
  app.add_option("--disk-budget", options.disk_budget_bytes,
                 "bytes the SDK may use for content (0: no limit)");
  app.add_flag("--begin-launch", begin_launch,
               "run the launch guard first (activates staged versions, rolls "
               "back after unhealthy launches)");
  app.add_flag("--mark-healthy", mark_healthy,
               "mark this launch healthy at the end");
  app.add_flag("--no-check", no_check, "do not contact the server");
  app.add_flag("--verify", verify,
               "print every installed module (state, version, sha256) after "
               "re-hashing its content; exit 4 if any is damaged");
  CLI11_PARSE(app, argc, argv);

  if (!root_file.empty()) {
    auto root = strata::PosixFileSystem()->ReadFile(root_file);
    if (!root.ok()) {
      std::cerr << "strata-device: cannot read --root " << root_file << ": "
                << root.status().message() << "\n";
      return 1;
    }
    options.pinned_root_json = *std::move(root);
  } else if (!options.insecure_skip_signature_verification_for_tests) {
    std::cerr << "strata-device: --root FILE is required: the app's root of "
                 "trust (the root.json that `strata trust init` writes), "
                 "against which every update is verified. Tests only: "
                 "--insecure-skip-signature-verification-for-tests.\n";
    return 2;
  }

  for (auto [file, pem, flag] :
       {std::tuple{&ca_file, &options.tls_ca_pem, "--ca-file"},
        std::tuple{&server_cert, &options.tls_server_cert_pem,
                   "--server-cert"}}) {
    if (file->empty()) continue;
    auto content = strata::PosixFileSystem()->ReadFile(*file);
    if (!content.ok()) {
      std::cerr << "strata-device: cannot read " << flag << " " << *file << ": "
                << content.status().message() << "\n";
      return 1;
    }
    *pem = *std::move(content);
  }
  auto client = strata::client::Client::Create(options);
  if (!client.ok()) {
    std::cerr << "strata-device: " << client.status().message() << "\n";
    return 1;
  }
  if (begin_launch) {
    auto launch = (*client)->BeginLaunch();
    if (!launch.ok()) {
      std::cerr << "strata-device: " << launch.status().message() << "\n";
      return 1;
    }
    for (const auto& m : launch->activated) {
      std::cout << "activated " << strata::client::LayerName(m.layer) << "/"
                << m.name << " " << m.version << "\n";
    }
    for (const auto& m : launch->rolled_back) {
      std::cout << "rolled back " << strata::client::LayerName(m.layer) << "/"
                << m.name << " to " << m.version << "\n";
    }
  }
  strata::client::CheckResult check;
  if (!no_check) {
    auto result = (*client)->Check();
    if (!result.ok()) {
      std::cerr << "strata-device: check failed: " << result.status().message()
                << "\n";
      return 2;
    }
    check = *std::move(result);
  }
  for (const auto& m : check.installed) {
    bool staged = false;
    for (const auto& st : check.staged) staged |= st.name == m.name;
    std::cout << "installed " << strata::client::LayerName(m.layer) << "/"
              << m.name << " " << m.version << " (sha256 "
              << m.content_sha256.substr(0, 12) << "…"
              << (staged ? ", active at next open/launch" : "") << ")\n";
  }
  for (const auto& f : check.failures) std::cerr << "failed: " << f << "\n";
  if (verify) {
    absl::Status s = (*client)->VerifyInstalled();
    for (const auto& m : (*client)->AllInstalled()) {
      std::cout << "active " << strata::client::LayerName(m.layer) << "/"
                << m.name << " " << m.version << " " << m.content_sha256
                << "\n";
    }
    if (!s.ok()) {
      std::cerr << "strata-device: " << s.message() << "\n";
      return 4;
    }
    std::cout << "verified\n";
  }
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
  if (mark_healthy) {
    absl::Status s = (*client)->MarkLaunchHealthy();
    if (!s.ok()) {
      std::cerr << "strata-device: " << s.message() << "\n";
      return 1;
    }
  }
  return check.failures.empty() ? 0 : 3;
}
