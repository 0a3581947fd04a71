// strata-device: a simulated device built on libstrata_client.
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "CLI/CLI.hpp"
#include "strata/base/env.h"
#include "strata/client/client.h"
#include "tool_support.h"

namespace {

using strata::ExitCodeFor;

// Prints "strata-device: error: <message>" and returns the exit code.
int Fail(const absl::Status& status, const std::string& message) {
  std::cerr << "strata-device: error: " << message << "\n";
  return ExitCodeFor(status);
}
int Fail(const absl::Status& status) {
  return Fail(status, std::string(strata::ToStd(status.message())));
}

}  // namespace

int main(int argc, char** argv) {
  strata::client::ClientOptions options;
  std::string print_config, root_file, ca_file, server_cert;
  bool no_check = false, verify = false, begin_launch = false,
       mark_healthy = false, traffic = false;
  std::string network = "unknown", open_module;
  std::vector<std::string> resolve_urls;
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
      "Exit codes (the same as strata's): 0 ok; 1 other failure (storage); 2 "
      "bad\n"
      "input (flags, unreadable files, no --root); 3 not found (--app is not\n"
      "the app of --root's root of trust; the --print-config module is not\n"
      "installed); 4 refused (an update was refused or failed to install;\n"
      "--verify found damaged content); 5 the server could not be reached."};
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
  app.add_option("--network", network,
                 "the network the device is on: unknown, unmetered, metered "
                 "or offline (the download policy's input)");
  app.add_option("--open", open_module,
                 "LAYER/NAME: OpenModule() after the check (an on-demand "
                 "module is downloaded now, with progress) and print its "
                 "path");
  app.add_option("--resolve-url", resolve_urls,
                 "print the installed file serving this page URL (offline "
                 "package) and its first bytes, or why it loads from the "
                 "network; repeatable");
  app.add_flag("--traffic", traffic,
               "print the bytes this device downloaded, by network, and "
               "what waits for download");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return Fail(absl::InvalidArgumentError(
        std::string(e.what()) +
        "; run `strata-device --help` for more information"));
  }
  // "localhost" is localhost:7443 (gRPC alone would dial 443); a URL's
  // scheme is stripped with a note, or refused (http://).
  absl::StatusOr<strata::ServerAddress> server =
      strata::ParseServerAddress(options.server_address, "--server");
  if (!server.ok()) return Fail(server.status());
  if (!server->note.empty()) {
    std::cerr << "strata-device: note: " << server->note << "\n";
  }
  options.server_address = server->target;

  if (!root_file.empty()) {
    auto root = strata::PosixFileSystem()->ReadFile(root_file);
    if (!root.ok()) {
      return Fail(absl::InvalidArgumentError(
          strata::StrCat("cannot read --root ", root_file, ": ",
                         strata::ToStd(root.status().message()))));
    }
    options.pinned_root_json = *std::move(root);
    absl::Status app_matches = strata::tools::CheckRootApp(
        options.pinned_root_json, root_file, options.app_id);
    if (!app_matches.ok()) return Fail(app_matches);
  } else if (!options.insecure_skip_signature_verification_for_tests) {
    return Fail(absl::InvalidArgumentError(
        "--root FILE is required: the app's root of trust (the root.json "
        "that `strata trust init` writes), against which every update is "
        "verified. Tests only: "
        "--insecure-skip-signature-verification-for-tests."));
  }

  for (auto [file, pem, flag] :
       {std::tuple{&ca_file, &options.tls_ca_pem, "--ca-file"},
        std::tuple{&server_cert, &options.tls_server_cert_pem,
                   "--server-cert"}}) {
    if (file->empty()) continue;
    auto content = strata::PosixFileSystem()->ReadFile(*file);
    if (!content.ok()) {
      return Fail(absl::InvalidArgumentError(
          strata::StrCat("cannot read ", flag, " ", *file, ": ",
                         strata::ToStd(content.status().message()))));
    }
    *pem = *std::move(content);
  }
  {
    bool known = false;
    for (int n = 0; n <= 3; ++n) {
      const auto net = static_cast<strata::client::Network>(n);
      if (strata::client::NetworkName(net) == network) {
        options.network = net;
        known = true;
      }
    }
    if (!known) {
      return Fail(absl::InvalidArgumentError(
          "--network must be unknown, unmetered, metered or offline"));
    }
  }
  auto client = strata::client::Client::Create(options);
  if (!client.ok()) return Fail(client.status());
  if (begin_launch) {
    auto launch = (*client)->BeginLaunch();
    if (!launch.ok()) return Fail(launch.status());
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
      return Fail(
          result.status(),
          "check failed: " +
              strata::tools::Explain(result.status(), options.server_address));
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
      std::cerr << "strata-device: error: " << s.message() << "\n";
      return strata::kExitRefused;
    }
    std::cout << "verified\n";
  }
  if (!print_config.empty()) {
    auto value = (*client)->GetConfig(print_config);
    if (!value.ok()) return Fail(value.status());
    if (!value->has_value()) {
      return Fail(absl::NotFoundError(strata::StrCat(
          "config ", print_config, " is not installed on this device")));
    }
    std::cout << "config " << print_config << " = " << **value << "\n";
  }
  if (!open_module.empty()) {
    const size_t slash = open_module.find('/');
    auto layer = strata::client::ParseLayer(open_module.substr(0, slash));
    if (slash == std::string::npos || !layer.has_value()) {
      return Fail(absl::InvalidArgumentError(
          "--open takes LAYER/NAME, e.g. h5/mall-home"));
    }
    strata::client::OpenOptions o;
    uint64_t shown = 0;
    o.on_progress = [&](const strata::client::DownloadProgress& p) {
      if (p.done || p.received_bytes >= shown + p.content_bytes / 4) {
        shown = p.received_bytes;
        std::cout << "downloading " << open_module << " " << p.version << ": "
                  << p.received_bytes << " of " << p.content_bytes << " bytes"
                  << (p.done ? " (installed)" : "") << "\n";
      }
    };
    auto path = (*client)->OpenModule(*layer, open_module.substr(slash + 1), o);
    if (!path.ok()) return Fail(path.status());
    std::cout << "opened " << open_module << ": " << *path << "\n";
  }
  for (const std::string& url : resolve_urls) {
    auto r = (*client)->ResolveUrl(url);
    if (!r.ok()) return Fail(r.status());
    if (!r->offline) {
      std::cout << "url " << url << " -> network (" << r->fallback_reason
                << ")\n";
      continue;
    }
    auto content = strata::PosixFileSystem()->ReadFile(r->path);
    std::string head = content.ok() ? content->substr(0, 80) : "?";
    for (char& c : head) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    std::cout << "url " << url << " -> " << r->path << " ("
              << strata::client::LayerName(r->layer) << "/" << r->module << " "
              << r->version << ", " << (content.ok() ? content->size() : 0)
              << " bytes): " << head << "\n";
  }
  if (traffic) {
    const strata::client::TrafficStats t = (*client)->Traffic();
    uint64_t sum = 0;
    std::string by;
    for (const auto& [n, b] : t.total) {
      sum += b;
      by += strata::StrCat(by.empty() ? "" : ", ",
                           strata::client::NetworkName(n), " ", b);
    }
    std::cout << "traffic " << options.device.device_id << ": " << sum
              << " bytes downloaded (" << (by.empty() ? "none" : by) << ")\n";
    for (const auto& p : (*client)->PendingDownloads()) {
      std::cout << "waiting " << strata::client::LayerName(p.layer) << "/"
                << p.name << " " << p.version << " (" << p.content_bytes
                << " bytes): " << p.reason << "\n";
    }
  }
  if (mark_healthy) {
    absl::Status s = (*client)->MarkLaunchHealthy();
    if (!s.ok()) return Fail(s);
  }
  // An update that could not be installed was refused (signature, hash,
  // compatibility) or failed to apply: nothing of it changed on disk.
  return check.failures.empty() ? strata::kExitOk : strata::kExitRefused;
}
