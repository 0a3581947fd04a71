// libstrata_client: what the app embeds. Checks the server for updates,
// downloads and verifies them, and stores them crash-safely.
//
// Only std and absl types appear here; gRPC and protobuf stay inside.
#ifndef STRATA_CLIENT_CLIENT_H_
#define STRATA_CLIENT_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"
#include "strata/client/http_client.h"

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

// The network the device is on, as the app tells the SDK
// (Client::SetNetwork). Numbers as strata.v1.NetworkType.
enum class Network { kUnknown = 0, kUnmetered = 1, kMetered = 2, kOffline = 3 };
std::string_view NetworkName(Network network);  // "unknown", "unmetered", ...

// Which networks a download may use. Unknown counts as metered.
enum class NetworkRequirement { kAny = 0, kUnmeteredOnly = 1 };

// The app's download rules; an update's own signed policy (docs/
// client_sdk.md) applies too, and the stricter rule wins. Updates that may
// not be downloaded now wait (Client::PendingDownloads) for a later check,
// a prefetch, or an OpenModule().
struct DownloadPolicy {
  // Networks per layer, and per module ("h5/mall", LayerName()/name).
  std::map<Layer, NetworkRequirement> layer_networks;
  std::map<std::string, NetworkRequirement> module_networks;
  // Bytes a day (the Env clock's UTC day) that checks and prefetches may
  // download, on any network; 0: no limit. OpenModule() of a module that is
  // not on the device yet is not held back by it (the user is waiting), but
  // its bytes count.
  uint64_t daily_budget_bytes = 0;
  // After a failed download a check or prefetch tries the module again
  // only after initial_backoff, doubled per failure up to max_backoff.
  // Zero (the default): no back-off, every check tries again.
  absl::Duration initial_backoff = absl::ZeroDuration();
  absl::Duration max_backoff = absl::Hours(6);
};

// Downloads a user is waiting for (OpenModule of an on-demand module).
struct DownloadProgress {
  Layer layer = Layer::kH5;
  std::string module;
  std::string version;
  // Bytes received so far for this module (patches and content), and the
  // size of its content (a patch may make the download smaller).
  uint64_t received_bytes = 0;
  uint64_t content_bytes = 0;
  bool done = false;  // the last call: verified and installed
};

// Cancels an OpenModule() download from another thread. The bytes received
// so far are kept; the next try resumes from them.
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

struct OpenOptions {
  // Called on the calling thread while the content downloads.
  std::function<void(const DownloadProgress&)> on_progress;
  std::shared_ptr<CancelToken> cancel;
  // Download even on a network the policy does not allow (the user said
  // so). The daily budget never holds back an open.
  bool ignore_network_policy = false;
};

// An update the SDK knows of but has not downloaded.
struct PendingDownload {
  Layer layer = Layer::kH5;
  std::string name;
  std::string version;
  uint64_t content_bytes = 0;
  bool on_demand = false;  // waits for OpenModule() or a prefetch
  bool mandatory = false;
  // Why it waits: "on demand", "needs an unmetered network", "daily budget
  // ...", "backing off ...".
  std::string reason;
};

// An update published as mandatory (signed delivery.mandatory) that is
// not active yet.
struct MandatoryUpdate {
  Layer layer = Layer::kH5;
  std::string name;
  std::string version;
  // Downloaded and staged; else still to download (PendingDownloads).
  bool downloaded = false;
  // What it waits for: "download (<why>)", "next open", "next resume",
  // "next launch".
  std::string waits_for;
};

// Bytes downloaded per network.
struct TrafficStats {
  std::map<Network, uint64_t> today;
  std::map<Network, uint64_t> total;
};

// A crash or failure the app saw, abstracted into a signature
// (docs/remedies.md). Reported with Client::ReportFailure; the server
// aggregates by signature id (`strata failures list`), and remedy rules
// may match on it.
enum class FailureKind {
  kCrash = 1,         // the process, a page or a module crashed
  kApplyFailure = 2,  // installing or switching to content failed
  kLoadFailure = 3,   // a module's content would not load or run
  kHang = 4,          // an ANR or a watchdog kill
  kOther = 5
};

struct FailureSignature {
  FailureKind kind = FailureKind::kCrash;
  // e.g. "TypeError", "SIGSEGV"; at most 128 bytes.
  std::string exception_type;
  // The top frames, innermost first: at most 8 of 256 bytes each.
  // Addresses (0x...) are masked and white space squeezed before hashing.
  std::vector<std::string> top_frames;
  // A hash the host computed of its own crash report: at most 64 of
  // [0-9A-Za-z]. One of exception_type, top_frames, host_hash is needed.
  std::string host_hash;
  // The module the failure is attributed to (empty: none) and its
  // version ("": the version active on the device now).
  Layer layer = Layer::kH5;
  std::string module;
  std::string version;
};

// The signature id ReportFailure gives `failure` (16 lowercase hex: the
// same failure on every device has the same id), or kInvalidArgument
// naming the field that is out of bounds.
absl::StatusOr<std::string> FailureSignatureId(const FailureSignature& failure);

// What a remedy rule may ask of the host app (docs/remedies.md). Called
// with the SDK's lock held: they must not call the Client. A hook that
// returns an error leaves the remedy unapplied (tried again at the next
// launch or push); an action whose hook is unset is applied and reported
// as "no host hook".
struct RemedyHooks {
  // Drop the host's caches of a module (e.g. a WebView's cache of an H5
  // package). The SDK's own verified content stays.
  std::function<absl::Status(Layer layer, const std::string& module)>
      clear_module_cache;
  // Clear the app's non-private data (caches, downloaded files the app can
  // fetch again); never the user's private data. The SDK never touches
  // UserDataDir() itself.
  std::function<absl::Status()> clear_app_data;
};

struct ClientOptions {
  // stratad's gRPC address, used when server_url is empty. The gRPC
  // transport is an add-on: a program must link strata::client_grpc for
  // it, else Create() fails with kFailedPrecondition saying so. The
  // connection is TLS, checked against the system's CAs unless tls_ca_pem
  // or tls_server_cert_pem says otherwise.
  std::string server_address = "127.0.0.1:7443";
  // PEM of the CAs to trust instead of the system's: the app embeds it
  // (e.g. the ca.pem that `stratad init --tls-self-signed` writes).
  // Create() fails with kInvalidArgument if it holds no PEM certificate.
  std::string tls_ca_pem;
  // PEM of the server's exact certificate (a pin): the handshake fails
  // unless the server presents this leaf certificate. Alone, the pin is the
  // whole check; with tls_ca_pem, the chain must verify against it too.
  std::string tls_server_cert_pem;
  // The Delivery API over HTTP instead of gRPC (http_client.h): stratad's
  // HTTP port as a base URL ("https://updates.example.com"), reached
  // through `http_client`. When set, server_address and the TLS options
  // here are not used: TLS (CAs, pins) is the HTTP stack's.
  std::string server_url;
  // The host's own HTTP stack, or NewCurlHttpClient() (strata::
  // client_curl). Required with server_url.
  std::shared_ptr<HttpClient> http_client;
  // Tests only: plaintext gRPC, no TLS. Create() fails with
  // kInvalidArgument unless server_address is loopback (127.0.0.0/8, ::1,
  // localhost) and no TLS option above is set.
  bool insecure_plaintext_to_loopback_for_tests = false;
  std::string app_id;
  DeviceInfo device;
  // Where installed content and state live; created if missing.
  std::string storage_dir;
  // Files, clock and randomness; the real machine when unset.
  std::optional<Env> env;
  // Versions shipped inside the app, as <embedded_dir>/<layer>/<module>
  // (layer as LayerName(): "config", "h5", ...). Such content counts as
  // version "embedded": it is active while nothing newer is installed, it
  // is the base for deltas, and a crash loop that a rollback did not cure
  // resets every module to it. Optional.
  std::string embedded_dir;
  // Refuse a download (REJECT_DISK_BUDGET_EXCEEDED) when installed blobs,
  // partial downloads and the declared size together would exceed this.
  // 0 means no limit.
  uint64_t disk_budget_bytes = 0;
  // Unhealthy launches in a row (BeginLaunch without MarkLaunchHealthy)
  // after an activation before the SDK rolls back.
  int unhealthy_launch_limit = 3;
  // The app's TUF root of trust (docs/trust.md): the root.json that
  // `strata trust init` writes, shipped inside the app. Required: every
  // update is verified against it (publisher signatures, the director's
  // assignment for this device, hashes, lengths, release counters, expiry)
  // and refused when anything fails (fail closed). Create() fails with
  // kInvalidArgument without it, unless the option below is set.
  std::string pinned_root_json;
  // Tests only: install what the server offers without verifying any
  // signature (the SDK's own checks still apply). Every Check() logs a
  // loud warning. Never set this in an app.
  bool insecure_skip_signature_verification_for_tests = false;
  // Optional: fetch the TUF metadata files over HTTP, one GET per file,
  // from this TUF repository ("http://host:port/v1/tuf/<app>", the layout
  // stratad serves), instead of taking them from the Check response. Each
  // file is capped at the verifier's byte limit for its role; one deadline
  // covers the whole refresh. Plain HTTP is enough: every file is signed.
  std::string metadata_base_url;
  // Download rules (networks, daily budget, back-off).
  DownloadPolicy download_policy;
  // The network at start; Client::SetNetwork() changes it.
  Network network = Network::kUnknown;
  // Host actions remedy rules may ask for (clear caches or app data).
  RemedyHooks remedy_hooks;
};

// The version "embedded" stands for the content shipped in the app.
inline constexpr std::string_view kEmbeddedVersion = "embedded";

struct InstalledModule {
  Layer layer;
  std::string name;
  std::string version;
  std::string content_sha256;
  uint64_t release_sequence = 0;
  uint64_t release_id = 0;
};

struct UpdateFailure {
  Layer layer;
  std::string name;
  std::string version;
  // A strata.v1.RejectReason number (docs/trust.md and proto/strata/v1/
  // common.proto), e.g. 25 REJECT_WRONG_HOST_BUILD, 33 DISK_BUDGET_EXCEEDED.
  int reason = 0;
  std::string message;
};

struct CheckResult {
  // Modules downloaded, verified and installed by this check: CONFIG is
  // active at once (unless released with modules of other layers); the
  // others are also listed in `staged`.
  std::vector<InstalledModule> installed;
  // The part of `installed` waiting for its activation point: H5/HCF at the
  // next OpenModule() or launch, HOTPATCH/NATIVE_BUNDLE at the next
  // BeginLaunch(). The modules of one release (same non-zero release_id)
  // wait for the latest point any of them needs and become active
  // together, CONFIG included.
  std::vector<InstalledModule> staged;
  // Updates that could not be installed, one message each (nothing of them
  // was changed on disk).
  std::vector<std::string> failures;
  std::vector<UpdateFailure> failure_details;
  // How the content of `installed` arrived: a patch applied to the active
  // (installed or embedded) content, inline in the plan, downloaded in full
  // (also after a failed patch), or already on the device. They add up to
  // installed.size().
  size_t via_delta = 0;
  // Of via_delta: tree patches applied to the active version's unpacked
  // tree (H5/HCF trees; the new tree is built beside it, unchanged files
  // hard-linked, and re-packed to check the signed archive hash).
  size_t via_tree_delta = 0;
  size_t via_inline = 0;
  size_t via_full_download = 0;
  size_t via_local = 0;
  // Bytes received by downloads of this check (patches and full content,
  // retried streams included, also for updates that then failed).
  uint64_t bytes_downloaded = 0;
  // Updates offered but not downloaded: on demand, or held back by the
  // download policy (also listed by PendingDownloads()).
  std::vector<PendingDownload> pending;
  // Modules a roll back reset to the content the app ships with (a
  // publisher-signed revert target): what they run now (the embedded
  // version; absent for a module the app does not embed). Not in
  // `installed`.
  std::vector<InstalledModule> reverted;
  // Remedy rules applied by this check (their ids; docs/remedies.md).
  std::vector<std::string> remedies_applied;
};

struct LaunchResult {
  // Staged versions that became active at this launch.
  std::vector<InstalledModule> activated;
  // Modules rolled back to their last known good (or embedded) version.
  std::vector<InstalledModule> rolled_back;
  // The versions the launch guard took back, one per module rolled back
  // (also when there was nothing to go back to, so the module has no
  // content now); their content is never installed again on this device.
  std::vector<InstalledModule> bad_versions;
  // True if a continuing crash loop reset every module to its embedded
  // version (user data is kept).
  bool reset_to_embedded = false;
  // Unhealthy launches in a row so far (the previous one included).
  int unhealthy_launches = 0;
  // Remedy rules applied at this launch (their ids; docs/remedies.md).
  std::vector<std::string> remedies_applied;
};

// What the config watch did with one pushed entry.
struct ConfigPush {
  std::string name;
  std::string version;
  uint64_t release_id = 0;
  uint64_t release_sequence = 0;
  // Installed and active (config listeners have been called); or, should
  // its release have other members staged here, staged with them.
  bool installed = false;
  // Refused or failed, and reported. Neither installed nor failed: the
  // version was already active, or was rolled back on this device before.
  std::optional<UpdateFailure> failure;
  // Remedy rules applied after this push (docs/remedies.md).
  std::vector<std::string> remedies_applied;
};

struct ConfigWatchOptions {
  // Waits before reopening a stream that ended: `initial_backoff`, doubled
  // after every stream that ended without delivering anything (and lived
  // less than 10 s), at most `max_backoff`; each wait is drawn from
  // [backoff/2, backoff] (Env's randomness) so a fleet does not reconnect
  // in step. Timed by the Env's clock.
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(30);
  // Called on the watch thread after each pushed entry was handled (after
  // the config listeners), without SDK locks held. Optional.
  std::function<void(const ConfigPush&)> on_push;
};

struct ConfigWatchStats {
  bool running = false;
  uint64_t streams_opened = 0;  // attempts to open the stream
  uint64_t pushes = 0;          // entries received
  uint64_t installed = 0;
  uint64_t failed = 0;
  // Why the last stream ended ("" while none has).
  std::string last_error;
};

class Transport;    // internal
class TrustPolicy;  // internal

class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);
  // For tests: a client over a given transport.
  static absl::StatusOr<std::unique_ptr<Client>> CreateWithTransport(
      ClientOptions options, std::unique_ptr<Transport> transport);
  // For tests: a client over a given transport and trust policy.
  static absl::StatusOr<std::unique_ptr<Client>> CreateWithSeams(
      ClientOptions options, std::unique_ptr<Transport> transport,
      std::unique_ptr<TrustPolicy> trust);
  ~Client();

  // Asks the server what to change, then downloads, verifies and installs
  // each update. Fails only when the server could not be asked; per-module
  // problems are listed in CheckResult::failures.
  absl::StatusOr<CheckResult> Check();

  // Background sync: a thread that runs Check() (which also sends queued
  // reports) now and then every `interval` (timed by the Env's clock) until
  // StopBackgroundSync() or destruction. kFailedPrecondition if already
  // running; kInvalidArgument for a non-positive interval.
  absl::Status StartBackgroundSync(absl::Duration interval);
  void StopBackgroundSync();
  // Checks run by the background thread so far.
  uint64_t BackgroundChecks() const;

  // Config watch: a thread that holds Delivery.WatchConfig open (device
  // context and active CONFIG versions) and installs each pushed CONFIG
  // entry exactly as Check() would (same validation, trust policy and
  // content verification; inline content checked against the statement,
  // else downloaded), so it is active at once and config listeners are
  // called. ACTIVATED / REJECTED events are queued; the next Check() or
  // FlushReports() sends them. A stream that ends is reopened after a
  // capped backoff (ConfigWatchOptions). kFailedPrecondition if already
  // running; kInvalidArgument for bad backoffs.
  absl::Status StartConfigWatch(ConfigWatchOptions options = {});
  // Cancels the open stream and joins the thread; returns at once when the
  // watch is idle, else after the entry being installed is done. Also done
  // by the destructor. Called from a config listener or on_push (the watch
  // thread itself), it only asks the thread to end.
  void StopConfigWatch();
  ConfigWatchStats ConfigWatchStatus() const;

  // Launch guard. Call BeginLaunch() early in every app start: it counts
  // the previous launch as unhealthy if it never reached
  // MarkLaunchHealthy(), rolls back after `unhealthy_launch_limit` of them
  // following an activation (and resets to the embedded versions if that
  // did not help), then activates every staged version (HOTPATCH,
  // NATIVE_BUNDLE, H5/HCF, and configs waiting for their release). Call
  // MarkLaunchHealthy() once the app is up: it confirms the activated versions
  // and drops their predecessors.
  absl::StatusOr<LaunchResult> BeginLaunch();
  absl::Status MarkLaunchHealthy();

  // The active content of CONFIG module `name` (installed or embedded), if
  // any. A staged config (waiting for the rest of its release) is not
  // active yet.
  absl::StatusOr<std::optional<std::string>> GetConfig(std::string_view name);
  // Typed reads of one top-level member of a CONFIG document (a JSON
  // object; integers only, as in our strict parser). kNotFound when the
  // module or the key is missing, kInvalidArgument when the document is not
  // a JSON object or the member has another type.
  absl::StatusOr<std::string> GetConfigString(std::string_view name,
                                              std::string_view key);
  absl::StatusOr<int64_t> GetConfigInt(std::string_view name,
                                       std::string_view key);
  absl::StatusOr<bool> GetConfigBool(std::string_view name,
                                     std::string_view key);
  // Called after a CONFIG module's active content changed (a check, a
  // rollback or a reset), with the module name and the new content
  // (nullopt: no content any more). Runs on the thread of the call that
  // changed it, without SDK locks held (it may call the Client). Returns an
  // id for RemoveConfigListener.
  using ConfigListener = std::function<void(
      const std::string& name, const std::optional<std::string>& content)>;
  int AddConfigListener(ConfigListener listener);
  void RemoveConfigListener(int id);

  // The "open"/"load" accessor of H5 and HCF: activates a staged version
  // together with the rest of its release (configs included: listeners are
  // called before this returns), unless a member of that release is a
  // HOTPATCH or NATIVE_BUNDLE (then all wait for the next BeginLaunch()).
  // Returns the path of the active content (installed or embedded): for
  // H5/HCF content that is a tree (a ustar archive, `strata publish
  // --dir`) the directory it is unpacked in (see ModuleDir), else the
  // content file. For other layers it returns the active content's path.
  // kNotFound if the module has no content at all.
  absl::StatusOr<std::string> OpenModule(Layer layer, std::string_view name);
  // The same; an on-demand module that is not on the device yet (see
  // PendingDownloads) is downloaded, verified, installed and activated
  // first, reporting progress and honouring the cancel token
  // (kCancelled). kFailedPrecondition when the network policy forbids the
  // download now (unless ignore_network_policy). The download holds the
  // SDK's lock: other calls wait for it.
  absl::StatusOr<std::string> OpenModule(Layer layer, std::string_view name,
                                         const OpenOptions& options);
  // Prefetch hints: fetch these pending modules in the background (one
  // thread, started on first use) as soon as the download policy allows
  // (network, daily budget, back-off): at once, or after a SetNetwork()
  // or a check that allows it. Fetched modules are installed like a
  // check's (staged until their activation point). Hints last for the
  // client's lifetime; a hint for a module with nothing pending waits for
  // a check that offers it.
  void Prefetch(const std::vector<std::pair<Layer, std::string>>& modules);
  // Modules fetched by prefetch so far.
  uint64_t Prefetched() const;
  // The host tells the SDK the current network (e.g. from Android's
  // ConnectivityManager); wakes the prefetcher.
  void SetNetwork(Network network);
  Network CurrentNetwork() const;
  // What the latest check offered and the SDK did not download yet.
  std::vector<PendingDownload> PendingDownloads();
  // Bytes downloaded, per network (also reported to the server with each
  // download: ReportEvent.traffic).
  TrafficStats Traffic();

  // Install modes (signed with the update, delivery.install_mode):
  // "immediate" activates an installed CONFIG/H5/HCF version at once,
  // "next_launch" only at BeginLaunch(), "next_resume" at the next
  // OnResume() (or launch); HOTPATCH and NATIVE_BUNDLE always wait for a
  // launch. The app calls OnResume() when it comes back to the foreground;
  // it activates staged "next_resume" releases (configs: listeners are
  // called) and returns what it activated.
  absl::StatusOr<std::vector<InstalledModule>> OnResume();
  // Mandatory updates not active yet (pending downloads and staged
  // versions), so the app can hold the user until they are in.
  std::vector<MandatoryUpdate> MandatoryUpdates();
  // The directory an H5/HCF module's active tree is unpacked in
  // (<storage_dir>/trees/<archive sha256>; a new version gets a new
  // directory, so a path stays valid until a later switch collects it).
  // Activates nothing (OpenModule does). Unpacks the tree again when its
  // directory is missing. kNotFound without content, kFailedPrecondition
  // for content that is not a tree or a layer other than H5/HCF.
  absl::StatusOr<std::string> ModuleDir(Layer layer, std::string_view name);
  // Offline packages: the installed file serving `url`, from the active
  // H5/HCF trees whose root file `strata-package.json` declares
  // {"url_prefixes": ["https://mall.example.com/", ...]} (signed with the
  // tree, as part of its archive). The longest matching prefix wins; the
  // rest of the URL, without query and fragment and percent-decoded, is
  // the path in the tree; an empty path or one ending in '/' (or naming a
  // directory) means its index.html. `offline` false says to load the URL
  // from the network, with the reason. kInvalidArgument for a URL that
  // tries to leave the tree ("..", "%2e%2e", a backslash, NUL, an encoded
  // '/'); such a URL must not be loaded from the network either.
  struct UrlResolution {
    bool offline = false;
    std::string path;  // the file to serve, when offline
    Layer layer = Layer::kH5;
    std::string module;           // the module serving the prefix ("" if none)
    std::string version;          // its active version
    std::string fallback_reason;  // why the network, when not offline
  };
  absl::StatusOr<UrlResolution> ResolveUrl(std::string_view url);
  // The active version (installed, or "embedded").
  std::optional<InstalledModule> Installed(Layer layer, std::string_view name);
  std::optional<InstalledModule> Staged(Layer layer, std::string_view name);
  std::vector<InstalledModule> AllInstalled();
  // Every module with active content: installed, or embedded (version
  // "embedded"), ordered by layer and name.
  std::vector<InstalledModule> AllActive();
  // Re-hashes the content of every active and staged module (and the
  // files of unpacked trees against their archives); kDataLoss naming the
  // first damaged one.
  absl::Status VerifyInstalled();

  // The app's private data directory: never touched by the SDK, also not by
  // rollbacks and resets.
  std::string UserDataDir() const;

  // Failures and remedies (docs/remedies.md).
  // Queues a FAILURE report of `failure` (durably, like every report; sent
  // by the next Check() or FlushReports()) with the release of the
  // module's active version, and remembers the signature (the last 64) so
  // remedy rules can match on it at the next launch or config push.
  // Returns the signature id; kInvalidArgument for a signature out of
  // bounds (nothing is queued).
  absl::StatusOr<std::string> ReportFailure(const FailureSignature& failure);
  // The remedy rules applied on this device (ids), in id order.
  std::vector<std::string> AppliedRemedies();
  // The id of the remedy that disabled module `name`, if one did. A
  // disabled module is not opened: OpenModule() returns the embedded
  // version if the app ships one, else kUnavailable (load it from the
  // network), and ResolveUrl() sends its URLs to the network.
  std::optional<std::string> DisabledBy(Layer layer, std::string_view name);
  // Why the active remedy rules were not used ("" when they were, or
  // there are none): e.g. a document that does not parse.
  std::string RemedyRulesError();

  // Sends queued reports (rejections, failures, rollbacks, launches) once;
  // Check() does it too. Returns how many the server acknowledged.
  absl::StatusOr<size_t> FlushReports();
  size_t PendingReports();

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  absl::StatusOr<CheckResult> CheckUnnotified();
  absl::StatusOr<LaunchResult> BeginLaunchUnnotified();
  void StopPrefetch();
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_CLIENT_H_
