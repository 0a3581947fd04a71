// strata-fleet: many simulated devices in one process, each a real
// libstrata_client Client with its own storage, launching, checking,
// crashing (on a marker) and reporting round after round.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "CLI/CLI.hpp"
#include "strata/base/env.h"
#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/mutex.h"
#include "strata/base/names.h"
#include "strata/base/strings.h"
#include "strata/client/client.h"
#include "tool_support.h"

namespace strata::client {
namespace {

// Exit codes (documented in --help), as strata's (tool_support.h).
constexpr int kExitOk = strata::kExitOk;
constexpr int kExitFailure = strata::kExitFailure;
constexpr int kExitBadArguments = strata::kExitBadInput;
constexpr int kExitUnreachable = strata::kExitUnavailable;
constexpr int kExitTimeout = strata::kExitTimeout;

// Set by SIGINT and SIGTERM: the run stops after the current round.
volatile sig_atomic_t stop_signal = 0;
extern "C" void OnStopSignal(int signal) { stop_signal = signal; }

// A HOTPATCH or NATIVE_BUNDLE whose content holds these bytes crashes the
// simulated app at every launch while it is active (the demo's bad patch).
constexpr std::string_view kCrashMarker = "STRATA_DEMO_CRASH_ON_LAUNCH";
// An H5 tree with this file crashes when opened on the devices whose
// "<os> <os_version>" is the file's first line (the demo's page that fails
// on one OS version): the device reports a failure signature.
constexpr std::string_view kPageCrashFile = "strata-demo-crash";
constexpr const char* kRegions[] = {"CN-31", "CN-11", "CN-44"};
constexpr int kMaxThreads = 4;

constexpr char kHelp[] =
    "strata-fleet - simulates a fleet of devices in one process, each a real\n"
    "libstrata_client Client with its own storage directory under --dir.\n"
    "\n"
    "Every round, for every device: BeginLaunch, Check, then \"run the app\":\n"
    "the launch crashes (MarkLaunchHealthy is not called) if an active\n"
    "HOTPATCH or NATIVE_BUNDLE module's content contains the bytes\n"
    "STRATA_DEMO_CRASH_ON_LAUNCH; otherwise MarkLaunchHealthy and\n"
    "FlushReports. Three crashed launches in a row make a device's launch\n"
    "guard roll back. Every active H5 module is opened too: a tree holding\n"
    "the file strata-demo-crash whose first line is the device's\n"
    "\"<os> <os_version>\" crashes that page, and the device reports a\n"
    "failure signature (Client::ReportFailure; docs/remedies.md); a module a\n"
    "remedy disabled is not opened. Devices run on up to 4 threads; state is\n"
    "kept in\n"
    "--dir, so a second run continues where the first one stopped.\n"
    "\n"
    "Devices (i = 1..N): id device-0001..., user user-0001..., os android\n"
    "(odd i; os_version 13 for i = 1, 5, 9..., 14 for i = 3, 7, ...) / ios\n"
    "(even i, os_version 17), region CN-31, CN-11, CN-44 in turn, channel\n"
    "store; --app-version, --host-build and --embedded-dir are the same for\n"
    "all.\n"
    "\n"
    "Output, one line each (stable):\n"
    "  round K: <n> devices, <c> crashed launches, <r> rollbacks, versions:\n"
    "      <layer>/<module>=<version>x<count> ...\n"
    "    (active versions after the round, \"embedded\" for shipped content,\n"
    "    \"none\" when no module is active; r counts modules rolled back by\n"
    "    launch guards in this round)\n"
    "  config <module> <version> pushed to device <id> <ms>ms after round <K>"
    " start\n"
    "    (--watch-config: a pushed CONFIG version installed; K is the last\n"
    "    round started, 0 before round 1)\n"
    "  config <module> <version> refused by device <id>: <reason>\n"
    "  round K failures: <f> page crashes reported, <d> opens of disabled"
    " modules\n"
    "    (only when either is not 0)\n"
    "  remedy <id> applied on device <id>\n"
    "  await: config <module> <version> active on all <n> devices\n"
    "    (--await-config: the wait before the next round is over)\n"
    "  stopped by signal <s> after round <K>\n"
    "  summary: ... (totals; see --summary-json for the details)\n"
    "\n"
    "--await-config MODULE=VERSION (with --watch-config; repeatable): after\n"
    "the pause that follows a round, the next round also waits until every\n"
    "device has config MODULE at VERSION active, installed by a push (no\n"
    "device checks meanwhile), so a test or demo that releases a config\n"
    "between two rounds sees it pushed, however fast or slow the machine.\n"
    "Once that held, later rounds do not wait again. --await-timeout-ms is\n"
    "a hang guard: past it the run stops with exit code 7.\n"
    "\n"
    "SIGINT or SIGTERM stops the run after the current round; the summary\n"
    "is printed and written as usual (exit code 0).\n"
    "\n"
    "Example:\n"
    "  strata-fleet --server 127.0.0.1:7443 --app wallet --devices 20 \\\n"
    "      --rounds 6 --interval-ms 1000 --host-build 10.3.0+100 \\\n"
    "      --dir /tmp/fleet --watch-config --summary-json /tmp/fleet.json\n"
    "\n"
    "Every device verifies every update against the app's root of trust\n"
    "(--root, the root.json that `strata trust init` writes): publisher\n"
    "signatures, the director's assignment, hashes and release counters.\n"
    "Devices talk to the server over TLS: --ca-file (e.g. <data-dir>/tls/\n"
    "ca.pem from `stratad init --tls-self-signed`) or --server-cert, else\n"
    "the system's CAs; --plaintext only to a loopback server.\n"
    "\n"
    "Exit codes: 0 ok; 1 other failure (storage,\n"
    "summary file); 2 bad arguments (also: no --root, an unreadable file);\n"
    "3 --app is not the app of --root's root of trust; 5 the server could\n"
    "not be reached (no device's check succeeded in a round; the run stops\n"
    "after that round; a failed TLS handshake counts as unreachable);\n"
    "another reason all checks failed gives its own code: 4 refused, 2 bad\n"
    "input); 7 --await-config gave up after --await-timeout-ms. The same\n"
    "table as strata's.";

struct Flags {
  std::string server = "127.0.0.1:7443";
  std::string app;
  int devices = 20;
  std::string dir;
  int rounds = 5;
  int interval_ms = 500;
  std::string app_version;
  std::string host_build;
  std::string embedded_dir;
  bool watch_config = false;
  bool print_traffic = false;
  // --await-config MODULE=VERSION, split.
  std::vector<std::string> await_config_flags;
  std::vector<std::pair<std::string, std::string>> await_config;
  int64_t await_timeout_ms = 120'000;
  std::string summary_json;
  int threads = kMaxThreads;
  std::string root_file;
  std::string pinned_root_json;  // read from root_file
  bool insecure = false;
  std::string metadata_url;
  std::string ca_file;      // --ca-file: read into tls_ca_pem
  std::string server_cert;  // --server-cert: read into tls_server_cert_pem
  std::string tls_ca_pem;
  std::string tls_server_cert_pem;
  bool plaintext = false;
};

struct Counters {
  uint64_t launches_ok = 0;
  uint64_t launch_crashes = 0;
  uint64_t rollbacks = 0;
  uint64_t resets_to_embedded = 0;
  uint64_t updates_installed = 0;
  uint64_t via_delta = 0;
  uint64_t via_tree_delta = 0;  // of via_delta
  uint64_t via_full_download = 0;
  uint64_t via_inline = 0;
  uint64_t via_local = 0;
  uint64_t bytes_downloaded = 0;
  uint64_t update_failures = 0;
  uint64_t check_errors = 0;
  uint64_t page_crashes = 0;    // failures reported (remedies.md)
  uint64_t disabled_opens = 0;  // opens of a module a remedy disabled
  uint64_t remedies = 0;        // remedy rules applied

  void Add(const Counters& o) {
    launches_ok += o.launches_ok;
    launch_crashes += o.launch_crashes;
    rollbacks += o.rollbacks;
    resets_to_embedded += o.resets_to_embedded;
    updates_installed += o.updates_installed;
    via_delta += o.via_delta;
    via_tree_delta += o.via_tree_delta;
    via_full_download += o.via_full_download;
    via_inline += o.via_inline;
    via_local += o.via_local;
    bytes_downloaded += o.bytes_downloaded;
    update_failures += o.update_failures;
    check_errors += o.check_errors;
    page_crashes += o.page_crashes;
    disabled_opens += o.disabled_opens;
    remedies += o.remedies;
  }
  Json ToJson() const {
    Json j = Json::MakeObject();
    j["launches_ok"] = launches_ok;
    j["launch_crashes"] = launch_crashes;
    j["rollbacks"] = rollbacks;
    j["resets_to_embedded"] = resets_to_embedded;
    j["updates_installed"] = updates_installed;
    j["installed_via_delta"] = via_delta;
    j["installed_via_tree_delta"] = via_tree_delta;
    j["installed_via_full_download"] = via_full_download;
    j["installed_inline"] = via_inline;
    j["installed_from_local"] = via_local;
    j["bytes_downloaded"] = bytes_downloaded;
    j["update_failures"] = update_failures;
    j["check_errors"] = check_errors;
    j["page_crashes"] = page_crashes;
    j["disabled_opens"] = disabled_opens;
    j["remedies_applied"] = remedies;
    return j;
  }
};

struct Device {
  std::string id;
  std::string user;
  std::string os;
  std::string os_version;
  std::string region;
  std::unique_ptr<Client> client;
  Counters total;
  Counters round;  // this round only
  bool check_ok = false;
  absl::Status check_status;
  std::string check_error;
  std::atomic<uint64_t> config_pushes{0};
  bool watching = false;
  // For --await-config, under Fleet::await_mu_: the active config versions
  // (module -> version) after the last round, and those installed by pushes
  // since.
  std::map<std::string, std::string> configs_after_round;
  std::map<std::string, std::string> pushed_configs;
};

// Serializes output lines from worker and watch threads.
class Output {
 public:
  void Line(const std::string& line) {
    MutexLock lock(&mu_);
    std::cout << line << "\n" << std::flush;
  }
  void Error(const std::string& line) {
    MutexLock lock(&mu_);
    std::cerr << "strata-fleet: " << line << "\n" << std::flush;
  }

 private:
  Mutex mu_;
};

// Whether content (by SHA-256) holds the crash marker; read once per blob.
class CrashScanner {
 public:
  bool Crashes(Client& client, const InstalledModule& m) {
    {
      MutexLock lock(&mu_);
      auto it = known_.find(m.content_sha256);
      if (it != known_.end()) return it->second;
    }
    absl::StatusOr<std::string> path = client.OpenModule(m.layer, m.name);
    if (!path.ok()) return false;
    absl::StatusOr<std::string> content = PosixFileSystem()->ReadFile(*path);
    if (!content.ok()) return false;
    const bool crashes = content->find(kCrashMarker) != std::string::npos;
    MutexLock lock(&mu_);
    known_[m.content_sha256] = crashes;
    return crashes;
  }

 private:
  Mutex mu_;
  std::map<std::string, bool> known_;
};

std::string Numbered(std::string_view prefix, int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d", i);
  return StrCat(prefix, buf);
}

// "layer/module" -> version -> devices.
using VersionCounts = std::map<std::string, std::map<std::string, uint64_t>>;

class Fleet {
 public:
  explicit Fleet(Flags flags) : flags_(std::move(flags)) {}
  // Watch threads use this object: stop them before anything goes.
  ~Fleet() {
    for (auto& d : devices_) d->client->StopConfigWatch();
  }

  absl::Status Open() {
    for (int i = 1; i <= flags_.devices; ++i) {
      auto d = std::make_unique<Device>();
      d->id = Numbered("device-", i);
      d->user = Numbered("user-", i);
      d->os = i % 2 == 1 ? "android" : "ios";
      d->os_version = i % 2 == 0 ? "17" : (i % 4 == 1 ? "13" : "14");
      d->region = kRegions[(i - 1) % 3];
      ClientOptions o;
      o.server_address = flags_.server;
      o.app_id = flags_.app;
      o.device.device_id = d->id;
      o.device.user_id = d->user;
      o.device.os = d->os;
      o.device.os_version = d->os_version;
      o.device.region = d->region;
      o.device.channel = "store";
      o.device.app_version = flags_.app_version;
      o.device.host_build = flags_.host_build;
      o.storage_dir = JoinPath(flags_.dir, d->id);
      o.embedded_dir = flags_.embedded_dir;
      o.pinned_root_json = flags_.pinned_root_json;
      o.insecure_skip_signature_verification_for_tests = flags_.insecure;
      o.metadata_base_url = flags_.metadata_url;
      o.tls_ca_pem = flags_.tls_ca_pem;
      o.tls_server_cert_pem = flags_.tls_server_cert_pem;
      o.insecure_plaintext_to_loopback_for_tests = flags_.plaintext;
      absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(o);
      if (!client.ok()) {
        return absl::Status(
            client.status().code(),
            StrCat(d->id, ": ", ToStd(client.status().message())));
      }
      d->client = *std::move(client);
      devices_.push_back(std::move(d));
    }
    return absl::OkStatus();
  }

  // Runs every round; the exit code.
  int Run() {
    out_.Line(StrCat("fleet: ", flags_.devices, " devices of app ", flags_.app,
                     ", server ", flags_.server, ", ", flags_.rounds,
                     " rounds, ", flags_.interval_ms, " ms apart",
                     flags_.watch_config ? ", watching config" : "",
                     flags_.plaintext                      ? ", plaintext gRPC"
                     : !flags_.tls_server_cert_pem.empty() ? ", TLS (pinned)"
                     : !flags_.tls_ca_pem.empty()          ? ", TLS (--ca-file)"
                                                  : ", TLS (system CAs)",
                     flags_.pinned_root_json.empty()
                         ? ", INSECURE: signatures not verified"
                         : ", verifying against the pinned root"));
    int code = kExitOk;
    bool awaited = flags_.await_config.empty();
    for (int k = 1; k <= flags_.rounds; ++k) {
      if (k > 1) {
        Pause();
        if (!awaited && !Stopping()) {
          absl::Status s = AwaitConfig();
          if (!s.ok() && !Stopping()) {
            out_.Error(std::string(ToStd(s.message())));
            code = kExitTimeout;
            break;
          }
          awaited = s.ok();
        }
        if (Stopping()) {
          out_.Line(StrCat("stopped by signal ", static_cast<int>(stop_signal),
                           " after round ", k - 1));
          break;
        }
      }
      round_start_ = std::chrono::steady_clock::now();
      round_ = k;
      RunRound(k);
      size_t reached = 0;
      std::string first_error;
      absl::Status first_status;
      for (const auto& d : devices_) {
        if (d->check_ok) ++reached;
        if (!d->check_ok && first_error.empty()) {
          first_error = d->check_error;
          first_status = d->check_status;
        }
      }
      if (reached < devices_.size()) {
        out_.Error(StrCat("round ", k, ": ", devices_.size() - reached, " of ",
                          devices_.size(),
                          " checks failed; first: ", first_error));
      }
      if (reached == 0) {
        code = strata::ExitCodeFor(first_status);
        if (code == kExitUnreachable) {
          out_.Error(StrCat("the server at ", flags_.server,
                            " could not be reached; is stratad running "
                            "there? (set --server or STRATA_SERVER)"));
        } else {
          out_.Error(
              StrCat("no device's check succeeded in round ", k, "; stopping"));
          if (code == kExitOk) code = kExitFailure;
        }
        break;
      }
    }
    for (auto& d : devices_) d->client->StopConfigWatch();
    return code;
  }

  // The bytes each device downloaded over its life (its traffic ledger),
  // by network.
  void PrintTraffic() {
    for (const auto& d : devices_) {
      uint64_t sum = 0;
      std::string by;
      for (const auto& [n, b] : d->client->Traffic().total) {
        sum += b;
        by += StrCat(by.empty() ? "" : ", ", NetworkName(n), " ", b);
      }
      out_.Line(StrCat("traffic ", d->id, ": ", sum, " bytes downloaded (",
                       by.empty() ? "none" : by, ")"));
    }
  }

  void PrintSummary() {
    Counters t = Totals();
    uint64_t pushes = 0;
    for (const auto& d : devices_) pushes += d->config_pushes;
    out_.Line(StrCat(
        "summary: ", devices_.size(), " devices, ", rounds_.size(), " rounds, ",
        t.launches_ok, " launches ok, ", t.launch_crashes,
        " crashed launches, ", t.rollbacks, " rollbacks, ",
        t.resets_to_embedded, " resets to embedded, ", t.updates_installed,
        " updates installed (", t.via_delta, " via delta (", t.via_tree_delta,
        " tree patches), ", t.via_full_download, " full downloads, ",
        t.via_inline, " inline, ", t.via_local, " local), ", t.bytes_downloaded,
        " bytes downloaded, ", t.update_failures, " update failures, ",
        t.check_errors, " check errors, ", pushes, " config pushes installed"));
  }

  absl::Status WriteSummary(const std::string& path) {
    Json j = Json::MakeObject();
    j["app"] = flags_.app;
    j["server"] = flags_.server;
    j["device_count"] = devices_.size();
    j["watch_config"] = flags_.watch_config;
    Json totals = Totals().ToJson();
    uint64_t pushes = 0;
    for (const auto& d : devices_) pushes += d->config_pushes;
    totals["config_pushes_installed"] = pushes;
    j["totals"] = std::move(totals);
    Json rounds = Json::MakeArray();
    for (const Json& r : rounds_) rounds.Append(r);
    j["rounds"] = std::move(rounds);
    Json devices = Json::MakeArray();
    for (const auto& d : devices_) {
      Json dj = Json::MakeObject();
      dj["device_id"] = d->id;
      dj["user_id"] = d->user;
      dj["os"] = d->os;
      dj["region"] = d->region;
      Json counters = d->total.ToJson();
      counters["config_pushes_installed"] = d->config_pushes.load();
      dj["counters"] = std::move(counters);
      Json active = Json::MakeArray();
      for (const InstalledModule& m : d->client->AllActive()) {
        Json mj = Json::MakeObject();
        mj["layer"] = LayerName(m.layer);
        mj["module"] = m.name;
        mj["version"] = m.version;
        mj["sha256"] = m.content_sha256;
        mj["release_id"] = m.release_id;
        active.Append(std::move(mj));
      }
      dj["active"] = std::move(active);
      devices.Append(std::move(dj));
    }
    j["devices"] = std::move(devices);
    return WriteFileAtomically(*PosixFileSystem(), path, j.Dump() + "\n");
  }

 private:
  static bool Stopping() { return stop_signal != 0; }

  // The pause between rounds; a stop signal ends it early.
  void Pause() {
    const auto end = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(flags_.interval_ms);
    while (!Stopping() && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
          end - std::chrono::steady_clock::now(),
          std::chrono::milliseconds(50)));
    }
  }

  // How many devices have every --await-config version active: active
  // after the last round, or installed by a push whose line was printed
  // since (so the pushes are all reported before the next round starts).
  // The first device that lacks one, and what it has, in `missing`.
  // Needs await_mu_.
  size_t DevicesWithAwaitedConfig(std::string& missing) {
    size_t n = 0;
    missing.clear();
    for (const auto& d : devices_) {
      bool all = true;
      for (const auto& [module, version] : flags_.await_config) {
        auto has = [&, &module = module](
                       const std::map<std::string, std::string>& versions)
            -> std::string {
          auto it = versions.find(module);
          return it == versions.end() ? "" : it->second;
        };
        const std::string pushed = has(d->pushed_configs);
        const std::string after_round = has(d->configs_after_round);
        if (pushed == version || (pushed.empty() && after_round == version)) {
          continue;
        }
        all = false;
        if (missing.empty()) {
          const std::string now = !pushed.empty() ? pushed : after_round;
          missing = StrCat(d->id, " has config ", module, " ",
                           now.empty() ? "none" : now);
        }
        break;
      }
      if (all) ++n;
    }
    return n;
  }

  // Waits until every device has the --await-config versions active (woken
  // by each push), at most --await-timeout-ms; kDeadlineExceeded then.
  absl::Status AwaitConfig() {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(flags_.await_timeout_ms);
    std::string wanted;
    for (const auto& [module, version] : flags_.await_config) {
      wanted += StrCat(wanted.empty() ? "" : ", ", module, " ", version);
    }
    MutexLock lock(&await_mu_);
    while (true) {
      const uint64_t seen = push_events_;
      std::string missing;
      const size_t have = DevicesWithAwaitedConfig(missing);
      if (have == devices_.size()) {
        out_.Line(StrCat("await: config ", wanted, " active on all ",
                         devices_.size(), " devices"));
        return absl::OkStatus();
      }
      const auto now = std::chrono::steady_clock::now();
      if (Stopping()) return absl::CancelledError("stopped by a signal");
      if (now >= deadline) {
        return absl::DeadlineExceededError(StrCat(
            "gave up waiting after ", flags_.await_timeout_ms,
            " ms (--await-timeout-ms): config ", wanted, " is active on ", have,
            " of ", devices_.size(), " devices (", missing,
            "); was it released, and do the devices watch (--watch-config)?"));
      }
      // Woken by the next push; every 100 ms anyway, to notice a signal.
      const auto until =
          std::min(deadline, now + std::chrono::milliseconds(100));
      while (push_events_ == seen) {
        if (await_cv_.WaitWithDeadline(&await_mu_, until)) break;
      }
    }
  }

  Counters Totals() const {
    Counters t;
    for (const auto& d : devices_) t.Add(d->total);
    return t;
  }

  void RunRound(int k) {
    std::atomic<size_t> next{0};
    const int threads =
        std::min<int>(flags_.threads, static_cast<int>(devices_.size()));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i = next++; i < devices_.size(); i = next++) {
          RunDevice(*devices_[i]);
        }
      });
    }
    for (std::thread& t : pool) t.join();

    uint64_t crashed = 0, rollbacks = 0, page_crashes = 0, disabled = 0;
    VersionCounts versions;
    for (auto& d : devices_) {
      crashed += d->round.launch_crashes;
      rollbacks += d->round.rollbacks;
      page_crashes += d->round.page_crashes;
      disabled += d->round.disabled_opens;
      d->total.Add(d->round);
      std::map<std::string, std::string> configs;
      for (const InstalledModule& m : d->client->AllActive()) {
        ++versions[StrCat(LayerName(m.layer), "/", m.name)][m.version];
        if (m.layer == Layer::kConfig) configs[m.name] = m.version;
      }
      MutexLock lock(&await_mu_);
      d->configs_after_round = std::move(configs);
      d->pushed_configs.clear();
    }
    std::string line =
        StrCat("round ", k, ": ", devices_.size(), " devices, ", crashed,
               " crashed launches, ", rollbacks, " rollbacks, versions:");
    Json vj = Json::MakeObject();
    for (const auto& [module, counts] : versions) {
      for (const auto& [version, n] : counts) {
        line += StrCat(" ", module, "=", version, "x", n);
        vj[module][version] = n;
      }
    }
    if (versions.empty()) line += " none";
    out_.Line(line);
    if (page_crashes + disabled > 0) {
      out_.Line(StrCat("round ", k, " failures: ", page_crashes,
                       " page crashes reported, ", disabled,
                       " opens of disabled modules"));
    }
    Json r = Json::MakeObject();
    r["round"] = k;
    r["crashed_launches"] = crashed;
    r["rollbacks"] = rollbacks;
    r["versions"] = std::move(vj);
    rounds_.push_back(std::move(r));
  }

  void RunDevice(Device& d) {
    d.round = Counters{};
    Client& c = *d.client;
    absl::StatusOr<LaunchResult> launch = c.BeginLaunch();
    if (!launch.ok()) {
      out_.Error(StrCat(
          d.id, ": launch guard failed: ", ToStd(launch.status().message())));
    } else {
      d.round.rollbacks += launch->bad_versions.size();
      d.round.resets_to_embedded += launch->reset_to_embedded ? 1 : 0;
      ReportRemedies(d, launch->remedies_applied);
    }
    absl::StatusOr<CheckResult> check = c.Check();
    d.check_ok = check.ok();
    if (!check.ok()) {
      ++d.round.check_errors;
      d.check_status = check.status();
      d.check_error = tools::Explain(check.status(), flags_.server);
    } else {
      d.round.updates_installed += check->installed.size();
      d.round.via_delta += check->via_delta;
      d.round.via_tree_delta += check->via_tree_delta;
      d.round.via_full_download += check->via_full_download;
      d.round.via_inline += check->via_inline;
      d.round.via_local += check->via_local;
      d.round.bytes_downloaded += check->bytes_downloaded;
      d.round.update_failures += check->failure_details.size();
      ReportRemedies(d, check->remedies_applied);
    }
    if (flags_.watch_config && !d.watching) StartWatch(d);
    // "Run the app" with what is active now.
    bool crashes = false;
    for (const InstalledModule& m : c.AllActive()) {
      if (m.layer != Layer::kHotpatch && m.layer != Layer::kNativeBundle) {
        continue;
      }
      if (scanner_.Crashes(c, m)) crashes = true;
    }
    if (crashes) {
      ++d.round.launch_crashes;  // the process dies: no healthy mark
      return;
    }
    OpenPages(d);
    absl::Status healthy = c.MarkLaunchHealthy();
    if (healthy.ok()) {
      ++d.round.launches_ok;
    } else {
      out_.Error(StrCat(d.id, ": ", ToStd(healthy.message())));
    }
    (void)c.FlushReports();  // failures stay queued for the next round
  }

  void ReportRemedies(Device& d, const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      ++d.round.remedies;
      out_.Line(StrCat("remedy ", id, " applied on device ", d.id));
    }
  }

  // Runs every active H5 module, as the app's pages would; a page that
  // crashes on this device's OS version is reported as a failure.
  void OpenPages(Device& d) {
    Client& c = *d.client;
    const std::string here = StrCat(d.os, " ", d.os_version);
    for (const InstalledModule& m : c.AllActive()) {
      if (m.layer != Layer::kH5) continue;
      if (c.DisabledBy(m.layer, m.name).has_value()) {
        ++d.round.disabled_opens;  // the page comes from the network
        continue;
      }
      // The active tree as it is (ModuleDir activates nothing staged, so
      // activation stays at the launch, as before pages were opened).
      absl::StatusOr<std::string> dir = c.ModuleDir(m.layer, m.name);
      if (!dir.ok()) continue;
      absl::StatusOr<std::string> marker = PosixFileSystem()->ReadFile(
          JoinPath(*dir, std::string(kPageCrashFile)));
      if (!marker.ok() || marker->substr(0, marker->find('\n')) != here) {
        continue;
      }
      FailureSignature f;
      f.kind = FailureKind::kCrash;
      f.exception_type = "TypeError";
      f.top_frames = {"checkout is not a function at index.html:12:7"};
      f.layer = m.layer;
      f.module = m.name;
      absl::StatusOr<std::string> id = c.ReportFailure(f);
      if (!id.ok()) {
        out_.Error(StrCat(
            d.id, ": reporting a failure: ", ToStd(id.status().message())));
        continue;
      }
      ++d.round.page_crashes;
    }
  }

  void StartWatch(Device& d) {
    ConfigWatchOptions o;
    o.on_push = [this, &d](const ConfigPush& p) {
      // After the line below is printed: AwaitConfig counts the push then.
      auto count = [&] {
        {
          MutexLock lock(&await_mu_);
          if (p.installed) d.pushed_configs[p.name] = p.version;
          ++push_events_;
        }
        await_cv_.SignalAll();
      };
      if (p.installed) {
        ++d.config_pushes;
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - round_start_.load())
                .count();
        out_.Line(StrCat("config ", p.name, " ", p.version,
                         " pushed to device ", d.id, " ",
                         static_cast<int64_t>(ms), "ms after round ",
                         round_.load(), " start"));
      } else if (p.failure.has_value()) {
        out_.Line(StrCat("config ", p.name, " ", p.version,
                         " refused by device ", d.id, ": ",
                         p.failure->message));
      }
      count();
    };
    absl::Status s = d.client->StartConfigWatch(std::move(o));
    if (!s.ok()) {
      out_.Error(StrCat(d.id, ": config watch: ", ToStd(s.message())));
      return;
    }
    d.watching = true;
  }

  Flags flags_;
  Output out_;
  CrashScanner scanner_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<Json> rounds_;
  std::atomic<std::chrono::steady_clock::time_point> round_start_{
      std::chrono::steady_clock::now()};
  std::atomic<int> round_{0};
  // Counts pushes (installed or not) for AwaitConfig; guards the devices'
  // configs_after_round and pushed_configs.
  Mutex await_mu_;
  CondVar await_cv_;
  uint64_t push_events_ = 0;
};

int Main(int argc, char** argv) {
  Flags f;
  CLI::App app{kHelp};
  app.add_option("--server", f.server, "Strata server host:port")
      ->envname("STRATA_SERVER")
      ->capture_default_str();
  app.add_option("--app", f.app, "app id")->required();
  app.add_option("--devices", f.devices, "how many devices")
      ->check(CLI::Range(1, 9999))
      ->capture_default_str();
  app.add_option("--dir", f.dir,
                 "directory for the devices' storage (<dir>/device-0001, "
                 "...); created if missing")
      ->required();
  app.add_option("--rounds", f.rounds, "launches per device")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--interval-ms", f.interval_ms,
                 "pause between rounds in milliseconds")
      ->check(CLI::Range(0, 86'400'000))
      ->capture_default_str();
  app.add_option("--app-version", f.app_version,
                 "host app version, e.g. 10.3.0");
  app.add_option("--host-build", f.host_build,
                 "host app build id (hotpatches must name it)");
  app.add_option("--embedded-dir", f.embedded_dir,
                 "versions shipped with the app: <dir>/<layer>/<module>");
  app.add_flag("--watch-config", f.watch_config,
               "every device also holds a WatchConfig stream (started after "
               "its first check) and installs pushed configs at once; one "
               "line per push");
  app.add_option("--await-config", f.await_config_flags,
                 "MODULE=VERSION: before the next round, wait until every "
                 "device has this config version active (pushed; needs "
                 "--watch-config); repeatable")
      ->type_name("MODULE=VERSION");
  app.add_option("--await-timeout-ms", f.await_timeout_ms,
                 "hang guard of --await-config: exit 7 after this long")
      ->check(CLI::Range(int64_t{1}, int64_t{86'400'000}))
      ->capture_default_str();
  app.add_option("--summary-json", f.summary_json,
                 "write totals, rounds and every device's active versions "
                 "as JSON to this file");
  app.add_flag("--print-traffic", f.print_traffic,
               "at the end, print the bytes each device downloaded over its "
               "life, by network (the traffic index)");
  app.add_option("--threads", f.threads, "worker threads for the devices")
      ->check(CLI::Range(1, kMaxThreads))
      ->capture_default_str();
  app.add_option("--root", f.root_file,
                 "the app's pinned TUF root (root.json from `strata trust "
                 "init`); required");
  app.add_flag("--insecure-skip-signature-verification-for-tests", f.insecure,
               "tests only: run without --root; devices install updates "
               "without verifying any signature");
  app.add_option("--metadata-url", f.metadata_url,
                 "devices fetch TUF metadata over HTTP from this repository "
                 "(http://host:port/v1/tuf/<app>) instead of the check "
                 "answers");
  app.add_option("--ca-file", f.ca_file,
                 "PEM file of the CAs devices trust instead of the system's "
                 "(the app embeds it), e.g. <data-dir>/tls/ca.pem")
      ->envname("STRATA_CA_FILE");
  app.add_option("--server-cert", f.server_cert,
                 "PEM file of the server's certificate: devices connect only "
                 "if the server presents exactly this one")
      ->envname("STRATA_SERVER_CERT");
  app.add_flag("--plaintext", f.plaintext,
               "tests only: no TLS; refused unless --server is loopback");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadArguments;
  }
  if (absl::Status s = ValidateName("app id", f.app); !s.ok()) {
    std::cerr << "strata-fleet: " << ToStd(s.message()) << "\n";
    return kExitBadArguments;
  }
  for (const std::string& a : f.await_config_flags) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == a.size()) {
      std::cerr << "strata-fleet: --await-config " << a
                << ": expected MODULE=VERSION, e.g. flags=2\n";
      return kExitBadArguments;
    }
    f.await_config.emplace_back(a.substr(0, eq), a.substr(eq + 1));
  }
  if (!f.await_config.empty() && !f.watch_config) {
    std::cerr << "strata-fleet: --await-config waits for pushed configs: "
                 "add --watch-config (no device checks between rounds)\n";
    return kExitBadArguments;
  }
  // "localhost" is localhost:7443 (gRPC alone would dial 443); a URL's
  // scheme is stripped with a note, or refused (http://).
  absl::StatusOr<ServerAddress> server =
      ParseServerAddress(f.server, "--server");
  if (!server.ok()) {
    std::cerr << "strata-fleet: " << ToStd(server.status().message()) << "\n";
    return kExitBadArguments;
  }
  if (!server->note.empty()) {
    std::cerr << "strata-fleet: note: " << server->note << "\n";
  }
  f.server = server->target;
  if (!f.root_file.empty()) {
    absl::StatusOr<std::string> root = PosixFileSystem()->ReadFile(f.root_file);
    if (!root.ok()) {
      std::cerr << "strata-fleet: cannot read --root " << f.root_file << ": "
                << ToStd(root.status().message()) << "\n";
      return kExitBadArguments;
    }
    f.pinned_root_json = *std::move(root);
    if (absl::Status s =
            tools::CheckRootApp(f.pinned_root_json, f.root_file, f.app);
        !s.ok()) {
      std::cerr << "strata-fleet: " << ToStd(s.message()) << "\n";
      return strata::ExitCodeFor(s);
    }
  } else if (!f.insecure) {
    std::cerr << "strata-fleet: --root FILE is required: the app's root of "
                 "trust (the root.json that `strata trust init` writes), "
                 "against which every device verifies every update. Tests "
                 "only: --insecure-skip-signature-verification-for-tests.\n";
    return kExitBadArguments;
  }
  for (auto [file, pem, flag] :
       {std::tuple{&f.ca_file, &f.tls_ca_pem, "--ca-file"},
        std::tuple{&f.server_cert, &f.tls_server_cert_pem, "--server-cert"}}) {
    if (file->empty()) continue;
    absl::StatusOr<std::string> content = PosixFileSystem()->ReadFile(*file);
    if (!content.ok()) {
      std::cerr << "strata-fleet: cannot read " << flag << " " << *file << ": "
                << ToStd(content.status().message()) << "\n";
      return kExitBadArguments;
    }
    *pem = *std::move(content);
  }
  if (absl::Status s = CreateDirs(*PosixFileSystem(), f.dir); !s.ok()) {
    std::cerr << "strata-fleet: cannot use --dir " << f.dir << ": "
              << ToStd(s.message()) << "\n";
    return kExitFailure;
  }
  // A stop signal ends the run after the current round, with its summary.
  struct sigaction stop = {};
  stop.sa_handler = OnStopSignal;
  stop.sa_flags = SA_RESTART;
  sigemptyset(&stop.sa_mask);
  ::sigaction(SIGINT, &stop, nullptr);
  ::sigaction(SIGTERM, &stop, nullptr);
  Fleet fleet(f);
  if (absl::Status s = fleet.Open(); !s.ok()) {
    std::cerr << "strata-fleet: " << ToStd(s.message()) << "\n";
    return absl::IsInvalidArgument(s) ? kExitBadArguments : kExitFailure;
  }
  int code = fleet.Run();
  fleet.PrintSummary();
  if (f.print_traffic) fleet.PrintTraffic();
  if (!f.summary_json.empty()) {
    if (absl::Status s = fleet.WriteSummary(f.summary_json); !s.ok()) {
      std::cerr << "strata-fleet: cannot write --summary-json "
                << f.summary_json << ": " << ToStd(s.message()) << "\n";
      if (code == kExitOk) code = kExitFailure;
    }
  }
  return code;
}

}  // namespace
}  // namespace strata::client

int main(int argc, char** argv) { return strata::client::Main(argc, argv); }
