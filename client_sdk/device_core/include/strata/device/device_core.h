// The device core (docs/client_sdk.md, "Device core"): the part of the SDK
// a phone ships when footprint counts. It checks stratad's Delivery API
// over the host's own HTTP stack (protobuf bodies, server/http/
// delivery_handler.h), verifies every update (publisher Ed25519 signatures
// over the artifact statement, its compatibility with this app version and
// host build, then the content's SHA-256 and size),
// installs content crash-safely, keeps the installed state and queues and
// sends reports. It is built on protobuf-lite (its own generated code, in
// package strata.device.v1: the same wire format as strata.v1), libsodium
// (Ed25519, SHA-256, randomness) and zstd's decoder, and links no gRPC,
// Abseil or OpenSSL (bench/footprint measures it).
//
// Updates come as a patch from the installed content when stratad offers
// one (Strata patch versions 1 to 3, applied in memory, the output checked
// against the statement; any failure falls back to the full content).
//
// An H5 or HCF module published as a file tree (a ustar archive) is also
// unpacked into a directory of its own (InstalledModule::tree_dir), checked
// as untrusted input, synced, before the state naming it is committed.
//
// The launch guard (BeginLaunch, MarkLaunchHealthy) takes back what was
// installed since the last healthy launch when launches keep failing. The
// app's download rules (a daily byte budget, a back-off after failed
// downloads) apply on top of each update's signed network rule.
//
// Not (yet) here, compared with libstrata_client: TUF metadata (the device
// core trusts pinned publisher keys instead), activation points, network
// rules per layer or module set by the app, config watch, runtime and SDK
// version checks.
#ifndef STRATA_DEVICE_DEVICE_CORE_H_
#define STRATA_DEVICE_DEVICE_CORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::device {

// A result without Abseil: `code` is an absl::StatusCode number (0 OK,
// 3 INVALID_ARGUMENT, 5 NOT_FOUND, 14 UNAVAILABLE, 15 DATA_LOSS ...).
struct Error {
  int code = 0;
  std::string message;
  bool ok() const { return code == 0; }
};

struct HttpExchange {
  std::string method;  // "GET" or "POST"
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};
struct HttpResult {
  int status = 0;
  // The Strata-Status and Content-Type header fields ("" if absent).
  std::string strata_status;
  std::string content_type;
  std::string body;
};
// The host's HTTP stack: performs one exchange; an error only when no
// response arrived (no connection, TLS, timeout).
using HttpSend = std::function<Error(const HttpExchange&, HttpResult*)>;

struct PublisherKey {
  std::string key_id;      // as in the statement's signatures
  std::string public_key;  // 32 raw Ed25519 bytes
};

struct DeviceCoreOptions {
  std::string server_url;  // stratad's HTTP port, e.g. https://updates.x.com
  std::string app_id;
  std::string device_id;
  std::string app_version;  // checked against min/max_app_version
  std::string host_build;   // hotpatches install only for their build
  std::string storage_dir;  // private; created if missing
  // An update installs only if one of its signatures verifies with one of
  // these keys. Required unless the test-only option below is set.
  std::vector<PublisherKey> publisher_keys;
  bool insecure_skip_signature_verification_for_tests = false;
  HttpSend http;
  // Content larger than this is refused before it is downloaded.
  uint64_t max_content_bytes = uint64_t{256} << 20;
  // Unhealthy launches in a row (BeginLaunch without MarkLaunchHealthy)
  // before the launch guard rolls back (at least 1).
  int unhealthy_launch_limit = 3;
  // The app's download rules, on top of each update's signed network rule
  // (as the full SDK's DownloadPolicy). Bytes a UTC day that checks may
  // download, on any network (0: no limit); an update that would pass it
  // waits (CheckOutcome.deferred) for the next day; one larger than the
  // budget comes only through Fetch. Fetch (the user is waiting) is not
  // held back by it, but its bytes count.
  uint64_t daily_budget_bytes = 0;
  // After a failed download of a module, checks try it again only after
  // initial_backoff_seconds, doubled per failure in a row up to
  // max_backoff_seconds (0: no back-off). Fetch always tries.
  int64_t initial_backoff_seconds = 0;
  int64_t max_backoff_seconds = 6 * 3600;
  // The clock (Unix seconds) for the budget's day and the back-off; the
  // system's when empty. Tests give their own.
  std::function<int64_t()> clock;
};

struct InstalledModule {
  int layer = 0;  // strata.v1.Layer
  std::string name;
  std::string version;
  std::string content_sha256;
  uint64_t release_id = 0;  // the release that installed it (0: unknown)
  uint64_t release_sequence = 0;
  // H5/HCF content that is a file tree: the directory it is unpacked in
  // ("" for other content). A new version gets a new directory; the old
  // one stays until the next Open (the app may still be reading it).
  std::string tree_dir;
};

// How one install of a check got its content.
struct InstallTraffic {
  std::string name;         // the module
  uint64_t bytes = 0;       // received over the network (patch and full)
  bool by_patch = false;    // the content is a patch's output
  std::string patch_error;  // why an offered patch was not used ("" if none)
  uint64_t tree_files_linked = 0;  // a tree's files shared with the last one
  int network = 0;                 // strata.v1.NetworkType it came over
};

// Which installed file serves a page's URL (DeviceCore::ResolveUrl).
struct UrlResolution {
  bool offline = false;
  std::string path;  // the file to serve, when offline
  int layer = 0;     // the module serving the URL's prefix
  std::string module;
  std::string version;
  std::string fallback_reason;  // why the network, when not offline
};

struct CheckOutcome {
  std::vector<InstalledModule> installed;  // by this check
  std::vector<std::string> failures;       // one per refused update
  std::vector<InstallTraffic> traffic;     // one per entry of `installed`
  // Updates left for later by their signed delivery policy ("name
  // version: why"): an on-demand module not installed yet (see Fetch), one
  // that may use unmetered networks only while the network is metered,
  // unknown or offline, or any download while offline.
  // Neither installed nor reported; a later check offers them again.
  std::vector<std::string> deferred;
  uint32_t reports_acknowledged = 0;  // events the server took
};

// What BeginLaunch did.
struct LaunchOutcome {
  // Launches in a row that never became healthy, the previous one
  // included (before a rollback restarts the count).
  int unhealthy_launches = 0;
  // Per module rolled back: what it runs now (an empty version: nothing
  // installed, the app's own content) and the version it left.
  std::vector<InstalledModule> rolled_back;
  std::vector<InstalledModule> bad_versions;
  // Launches kept failing after a rollback: every module was uninstalled.
  bool uninstalled_all = false;
};

class DeviceCore {
 public:
  // Also collects what no installed module names (content files, trees,
  // leftovers of a crash) and unpacks an installed tree again if its
  // directory is missing.
  static Error Open(DeviceCoreOptions options,
                    std::unique_ptr<DeviceCore>* out);
  ~DeviceCore();

  // The network the device is on now (strata.v1.NetworkType: 0 unknown,
  // 1 unmetered, 2 metered, 3 offline), as the host's connectivity
  // callbacks say. Unknown (the default) counts as metered. Each update's
  // signed policy (ArtifactStatement.delivery.network) decides whether it
  // may be downloaded on it; the bytes of each install are reported by
  // this network.
  void SetNetwork(int network);
  // Sends queued reports, asks the server what to change, then verifies,
  // downloads and installs each update and queues its report (sent at
  // once). Fails only when the server could not be asked.
  Error Check(CheckOutcome* outcome);
  // On-demand modules (ArtifactStatement.delivery.on_demand): a check does
  // not download one the device has no version of (it is listed in
  // `deferred`); the app calls Fetch when it first opens it. Fetch asks the
  // server as Check does and installs that module's update only (the
  // network rule still applies), then sends its report. 5 when the server
  // offers no update of it; a refused update is in `failures`.
  Error Fetch(int layer, const std::string& name, CheckOutcome* outcome);
  std::vector<InstalledModule> Installed() const;
  // The file holding an installed module's content.
  std::string ContentPath(const InstalledModule& module) const;
  // Offline packages (mPaaS's virtual domains): the file of an installed
  // H5/HCF tree that serves `url`. A tree declares the URL prefixes it
  // serves in its root file strata-package.json ({"url_prefixes":
  // ["https://mall.example.com/"]}, signed with the archive); the longest
  // declared prefix of `url` wins, and the rest of the URL names the file
  // (query and fragment dropped, percent-decoded, a directory or "" ->
  // index.html). Not offline, with the reason, when no tree declares a
  // prefix of `url` or the tree has no such file; error 3 for a path that
  // could leave the tree ("." or ".." components, also %-encoded, an
  // encoded '/', a backslash, control characters, "//").
  Error ResolveUrl(std::string_view url, UrlResolution* out) const;
  // The launch guard. Call BeginLaunch early in every app start, before
  // loading anything the device core installed, and MarkLaunchHealthy once
  // the app is up. A launch that never reached MarkLaunchHealthy counts as
  // unhealthy (KIND_LAUNCH_CRASH, with the releases it ran, so stratad's
  // health gates see it). After `unhealthy_launch_limit` of them in a row,
  // every module installed since the last healthy launch goes back to the
  // version before it (or is uninstalled if it had none), and the content
  // it left is banned: a check never installs it again (KIND_ROLLED_BACK).
  // If launches keep failing after that, or 2 x the limit in a row with
  // nothing newly installed, every module is uninstalled and its content
  // banned. State is committed before the reports are queued (they are
  // sent with the next check); no network is used.
  Error BeginLaunch(LaunchOutcome* outcome);
  // Confirms the installs since the last healthy launch (KIND_LAUNCH_OK);
  // 9 without a BeginLaunch since the last one.
  Error MarkLaunchHealthy();
  size_t PendingReports() const;
  Error FlushReports(uint32_t* acknowledged);

 private:
  struct Impl;
  explicit DeviceCore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The building blocks (libsodium and zstd), also for tests.
std::string Sha256Hex(std::string_view data);
bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature);
// Dotted versions as the full SDK compares them (signing/compatibility.h):
// numeric segments numerically, others as strings, missing ones 0, a
// "+build" suffix ignored. <0, 0, >0.
int CompareVersions(std::string_view a, std::string_view b);
// One zstd frame, decoded against `prefix` (empty: none; zstd
// --patch-from style, as Strata's format-2 patches), at most `max_size`
// bytes out.
Error ZstdDecompress(std::string_view frame, std::string_view prefix,
                     uint64_t max_size, std::string* out);
// Applies a Strata patch (docs/formats/patch.md, versions 1 to 3; not
// BSDIFF40) to `old` in memory: the old file, the output and the decoded
// streams are held whole. At most `max_size` bytes out (8, over it). The
// base is checked first (15, "does not apply"); a damaged patch is 15, a
// format this build does not read 12. Versions 1 and 2 check their output
// against the hash they carry; a version 3 output is checked by the caller
// (the device core compares every output with the statement's SHA-256).
Error ApplyPatch(std::string_view old, std::string_view patch,
                 uint64_t max_size, std::string* out);
// The prefixes a strata-package.json declares (none without
// "url_prefixes"); 3 when it is not a JSON object, url_prefixes is not an
// array of strings, or a prefix is not an http(s) URL with a host and a
// path ending in '/' (without query or fragment).
Error ParseUrlPrefixes(std::string_view json, std::vector<std::string>* out);
// Whether `content` is a ustar archive (a published file tree).
bool LooksLikeTreeArchive(std::string_view content);
// Unpacks the ustar `archive` into `dir` (replaced if it exists; its
// parent must exist), after checking every entry (3, naming the entry:
// unsafe or duplicate paths, symlinks leaving the tree, hard links,
// devices, a damaged or truncated archive). Files equal to the same path
// under `previous` ("" for none) are hard-linked, counted in `linked`.
// Everything is synced; on an error nothing is left at `dir`.
Error UnpackTree(std::string_view archive, const std::string& dir,
                 const std::string& previous, uint64_t* linked);

}  // namespace strata::device

#endif  // STRATA_DEVICE_DEVICE_CORE_H_
