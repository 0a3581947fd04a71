#include "strata/device/device_core.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "device_mutex.h"
#include "download_rules.h"
#include "launch_guard.h"
#include "module_id.h"
#include "posix_files.h"
#include "strata/device/v1/delivery.pb.h"
#include "strata/device/v1/device_state.pb.h"
#include "strata/proto/statement_signing_bytes.h"
#include "url_rules.h"

namespace strata::device {
namespace {

namespace pb = ::strata::device::v1;
using internal::Cat;
using internal::MakeDir;
using internal::ReadFile;
using internal::RemoveAll;
using internal::WriteAtomically;

// Layers whose content may be a file tree (an archive unpacked).
bool TreeLayer(int layer) {
  return layer == pb::LAYER_H5 || layer == pb::LAYER_HCF;
}

constexpr char kProtobuf[] = "application/x-protobuf";
// The server takes at most this many events a Report; older ones go first.
constexpr int kMaxQueuedEvents = 1000;

// The bytes a publisher signs for a statement: the full protos' encoding
// (proto/include/strata/proto/statement_signing_bytes.h) on the lite
// messages.
std::string SigningBytes(const pb::ArtifactStatement& st) {
  return proto_internal::SigningBytesOf(st);
}

// The Error an HTTP answer other than 200 stands for.
Error HttpError(const HttpResult& r, const std::string& url) {
  std::string text = r.body.substr(0, 4096);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  const int code = std::atoi(r.strata_status.c_str());
  if (code > 0 && code <= 16) return {code, text};
  int mapped = 2;  // UNKNOWN
  if (r.status == 400 || r.status == 415) mapped = 3;
  if (r.status == 404) mapped = 5;
  if (r.status == 429) mapped = 8;
  if (r.status == 503 || r.status == 502) mapped = 14;
  if (r.status == 504) mapped = 4;
  return {mapped, Cat({"HTTP ", std::to_string(r.status), " from ", url,
                       text.empty() ? "" : ": ", text})};
}

struct Failure {
  pb::RejectReason reason;
  std::string message;
};

InstalledModule FromState(const pb::InstalledModule& i) {
  InstalledModule m;
  m.layer = i.module().layer();
  m.name = i.module().name();
  m.version = i.version();
  m.content_sha256 = i.content_sha256();
  m.release_sequence = i.release_sequence();
  return m;
}

}  // namespace

int CompareVersions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& v) {
    const size_t dot = v.find('.');
    const std::string_view seg = v.substr(0, dot);
    v = dot == std::string_view::npos ? std::string_view() : v.substr(dot + 1);
    return seg.empty() ? std::string_view("0") : seg;
  };
  auto digits = [](std::string_view s) {
    return s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  a = a.substr(0, a.find('+'));
  b = b.substr(0, b.find('+'));
  while (!a.empty() || !b.empty()) {
    std::string_view x = next(a), y = next(b);
    if (digits(x) && digits(y)) {  // numerically, at any length
      while (x.size() > 1 && x.front() == '0') x.remove_prefix(1);
      while (y.size() > 1 && y.front() == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    }
    if (const int c = x.compare(y); c != 0) return c < 0 ? -1 : 1;
  }
  return 0;
}

struct DeviceCore::Impl {
  // Set by Open, read-only after: options, blobs_dir, trees_dir.
  DeviceCoreOptions options;
  std::string blobs_dir;
  // <storage>/trees: <sha256>/ one tree, <sha256>.ok once it is complete
  // (written before the state naming it is committed).
  std::string trees_dir;
  // Serializes Check, FlushReports and the readers: the host may call them
  // from any thread.
  mutable Mutex mu;
  // The installed modules and the launch guard's records (state.pb).
  pb::DeviceState state STRATA_DEVICE_GUARDED_BY(mu);
  // Banned content offered again and reported so (once per DeviceCore).
  std::set<std::string> reported_banned STRATA_DEVICE_GUARDED_BY(mu);
  // Events not acknowledged yet (reports.pb).
  pb::ReportRequest queue STRATA_DEVICE_GUARDED_BY(mu);
  // SetNetwork's (strata.v1.NetworkType).
  int network STRATA_DEVICE_GUARDED_BY(mu) = pb::NETWORK_UNKNOWN;
  // The URL prefixes of each tree read so far, by content SHA-256.
  mutable std::map<std::string, std::vector<std::string>> prefixes
      STRATA_DEVICE_GUARDED_BY(mu);

  std::string StatePath() const { return options.storage_dir + "/state.pb"; }
  int64_t Now() const {
    return options.clock ? options.clock()
                         : static_cast<int64_t>(std::time(nullptr));
  }
  // What installing `entry` would download: the smallest patch from the
  // installed content that saves bytes, else the content.
  uint64_t Estimate(const pb::UpdateEntry& entry) const
      STRATA_DEVICE_REQUIRES(mu) {
    uint64_t bytes = entry.statement().size();
    if (const pb::InstalledModule* have = Find(entry.module())) {
      for (const pb::DeltaRef& d : entry.deltas()) {
        if (d.from_sha256() == have->content_sha256()) {
          bytes = std::min<uint64_t>(bytes, d.patch().size());
        }
      }
    }
    return bytes;
  }
  std::string TreeDir(const std::string& sha) const {
    return trees_dir + "/" + sha;
  }
  // Complete: its marker and its directory are there.
  bool HasTree(const std::string& sha) const {
    return ::access((TreeDir(sha) + ".ok").c_str(), F_OK) == 0 &&
           ::access(TreeDir(sha).c_str(), F_OK) == 0;
  }
  // The unpacked directory of installed content ("" when not a tree).
  std::string TreeDirOf(const pb::InstalledModule& m) const {
    return TreeLayer(m.module().layer()) && HasTree(m.content_sha256())
               ? TreeDir(m.content_sha256())
               : "";
  }

  // The prefixes the tree `dir` (content `sha`) declares: none when its
  // strata-package.json is missing or malformed.
  const std::vector<std::string>& PrefixesOf(const std::string& sha,
                                             const std::string& dir) const
      STRATA_DEVICE_REQUIRES(mu) {
    auto it = prefixes.find(sha);
    if (it != prefixes.end()) return it->second;
    std::vector<std::string> found;
    std::string json;
    Error e;
    if (ReadFile(Cat({dir, "/", url_rules::kPackageFile}), &json, &e)) {
      (void)ParseUrlPrefixes(json, &found);
    }
    return prefixes.emplace(sha, std::move(found)).first->second;
  }

  // Unpacks the tree `content` (content_sha256 `sha`) unless it is there,
  // sharing files with `previous`, then marks it complete.
  Error Unpack(const std::string& sha, std::string_view content,
               const std::string& previous, uint64_t* linked) {
    if (HasTree(sha)) return {};
    Error e = UnpackTree(content, TreeDir(sha), previous, linked);
    if (e.ok()) e = WriteAtomically(trees_dir, TreeDir(sha) + ".ok", "");
    if (!e.ok()) (void)RemoveAll(TreeDir(sha));
    return e;
  }

  // Removes what the state does not name: content files, trees, markers
  // and the leftovers of a crash (temp files, trees without their marker);
  // then unpacks again an installed tree whose directory is missing.
  void Collect() STRATA_DEVICE_REQUIRES(mu) {
    std::set<std::string> named;
    for (const pb::InstalledModule& m : state.installed()) {
      named.insert(m.content_sha256());
    }
    // The known good versions of pending installs (a rollback's target).
    for (const pb::GuardRecord& g : state.guards()) {
      if (g.has_good()) named.insert(g.good().content_sha256());
    }
    for (const std::string& f : internal::ListDir(blobs_dir)) {
      if (named.count(f) == 0) (void)RemoveAll(blobs_dir + "/" + f);
    }
    for (const std::string& f : internal::ListDir(trees_dir)) {
      const bool marker =
          f.size() > 3 && f.compare(f.size() - 3, 3, ".ok") == 0;
      const std::string sha = marker ? f.substr(0, f.size() - 3) : f;
      if (named.count(sha) == 0 || !HasTree(sha)) {
        (void)RemoveAll(trees_dir + "/" + f);
      }
    }
    for (const char* tmp : {"/state.pb.tmp", "/reports.pb.tmp"}) {
      (void)RemoveAll(options.storage_dir + tmp);
    }
    for (const pb::InstalledModule& m : state.installed()) {
      if (!TreeLayer(m.module().layer()) || HasTree(m.content_sha256())) {
        continue;
      }
      // Only a tree archive is read whole: other H5/HCF content (a single
      // file) is told by its first block, not read at every Open.
      const std::string blob = blobs_dir + "/" + m.content_sha256();
      std::string content(512, '\0');
      const int fd = ::open(blob.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      const ssize_t n = ::pread(fd, content.data(), content.size(), 0);
      ::close(fd);
      content.resize(n > 0 ? static_cast<size_t>(n) : 0);
      Error e;
      if (LooksLikeTreeArchive(content) && ReadFile(blob, &content, &e)) {
        // Not fatal: the tree stays missing (tree_dir "") until the next
        // Open tries again.
        (void)Unpack(m.content_sha256(), content, "", nullptr);
      }
    }
  }
  std::string QueuePath() const { return options.storage_dir + "/reports.pb"; }

  Error Post(const char* path, const google::protobuf::MessageLite& request,
             google::protobuf::MessageLite* response) {
    HttpExchange x;
    x.method = "POST";
    x.url = options.server_url + path;
    x.headers = {{"Content-Type", kProtobuf}, {"Accept", kProtobuf}};
    x.body = request.SerializeAsString();
    HttpResult r;
    Error e = options.http(x, &r);
    if (!e.ok()) return e;
    if (r.status != 200) return HttpError(r, x.url);
    if (!response->ParseFromString(r.body)) {
      return {15, Cat({x.url, " answered 200 with a body that is not a ",
                       response->GetTypeName()})};
    }
    return {};
  }

  void Queue(pb::ReportEvent::Kind kind, const pb::UpdateEntry& entry,
             pb::RejectReason reason, const std::string& detail)
      STRATA_DEVICE_REQUIRES(mu) {
    pb::ReportEvent* e = queue.add_events();
    e->set_kind(kind);
    *e->mutable_module() = entry.module();
    e->set_release_id(entry.release_id());
    e->set_reason(reason);
    e->set_detail(detail.substr(0, 512));
    e->set_at_unix(static_cast<int64_t>(std::time(nullptr)));
    unsigned char id[16];
    randombytes_buf(id, sizeof(id));
    char hex[33];
    sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
    e->set_event_id(hex);
    if (queue.events_size() > kMaxQueuedEvents) {
      queue.mutable_events()->DeleteSubrange(
          0, queue.events_size() - kMaxQueuedEvents);
    }
  }

  Error SaveQueue() STRATA_DEVICE_REQUIRES(mu) {
    return WriteAtomically(options.storage_dir, QueuePath(),
                           queue.SerializeAsString());
  }

  Error Flush(uint32_t* acknowledged) STRATA_DEVICE_REQUIRES(mu) {
    *acknowledged = 0;
    if (queue.events_size() == 0) return {};
    pb::ReportRequest request = queue;
    request.mutable_device()->set_app_id(options.app_id);
    request.mutable_device()->set_device_id(options.device_id);
    request.mutable_device()->set_app_version(options.app_version);
    request.set_ticket(state.report_ticket());
    pb::ReportResponse response;
    Error e = Post("/v1/delivery/report", request, &response);
    if (!e.ok()) return e;  // kept for the next flush
    *acknowledged = response.accepted() + response.duplicates();
    queue.clear_events();
    return SaveQueue();
  }

  const pb::InstalledModule* Find(const pb::ModuleId& m) const
      STRATA_DEVICE_REQUIRES(mu) {
    for (const pb::InstalledModule& i : state.installed()) {
      if (internal::SameModule(i.module(), m)) return &i;
    }
    return nullptr;
  }

  // Verifies and installs one update; nullopt-like: reason 0 on success.
  // A blob's bytes from /v1/blobs/<sha256>.
  Error Get(const std::string& sha256, std::string* body) {
    HttpExchange x;
    x.method = "GET";
    x.url = Cat({options.server_url, "/v1/blobs/", sha256});
    HttpResult r;
    Error e = options.http(x, &r);
    if (e.ok() && r.status != 200) e = HttpError(r, x.url);
    if (e.ok()) *body = std::move(r.body);
    return e;
  }

  // The statement's content made by the patch `d` from the installed
  // content: downloaded, checked against its reference, applied, and the
  // output checked against the statement.
  Error Patched(const pb::DeltaRef& d, const pb::ArtifactStatement& st,
                std::string* content, InstallTraffic* traffic) {
    std::string old, patch;
    Error e;
    const std::string old_path = blobs_dir + "/" + d.from_sha256();
    if (!ReadFile(old_path, &old, &e)) {
      return e.ok() ? Error{5, Cat({old_path, " is missing"})} : e;
    }
    e = Get(d.patch().sha256(), &patch);
    if (!e.ok()) return e;
    traffic->bytes += patch.size();
    if (patch.size() != d.patch().size() ||
        Sha256Hex(patch) != d.patch().sha256()) {
      return {15, "the patch downloaded is not the one offered"};
    }
    e = ApplyPatch(old, patch, st.size(), content);
    if (!e.ok()) return e;
    if (content->size() != st.size() ||
        Sha256Hex(*content) != st.content_sha256()) {
      return {15, "the patch's output is not the statement's content"};
    }
    return {};
  }

  // Check (only == nullptr) or Fetch (only: the one module to install,
  // on demand or not).
  Error CheckAndInstall(const pb::ModuleId* only, CheckOutcome* outcome);

  Failure Install(const pb::UpdateEntry& entry, InstallTraffic* traffic)
      STRATA_DEVICE_REQUIRES(mu) {
    const pb::ArtifactStatement& st = entry.statement();
    if (st.app_id() != options.app_id) {
      return {pb::REJECT_WRONG_APP,
              Cat({"the statement is for app ", st.app_id()})};
    }
    if (st.module().layer() != entry.module().layer() ||
        st.module().name() != entry.module().name()) {
      return {pb::REJECT_WRONG_MODULE,
              "the statement names another module than the update"};
    }
    const std::string& name = st.module().name();
    if (name.empty() || name.find('/') != std::string::npos || name == "." ||
        name == "..") {
      return {pb::REJECT_UNSAFE_NAME, Cat({"module name '", name, "'"})};
    }
    const pb::Compatibility& c = st.compatibility();
    if (!c.host_build().empty() && c.host_build() != options.host_build) {
      return {pb::REJECT_WRONG_HOST_BUILD,
              Cat({"built for host build ", c.host_build(), ", this app is ",
                   options.host_build.empty() ? "(none given)"
                                              : options.host_build})};
    }
    if ((!c.min_app_version().empty() &&
         CompareVersions(options.app_version, c.min_app_version()) < 0) ||
        (!c.max_app_version().empty() &&
         CompareVersions(options.app_version, c.max_app_version()) > 0)) {
      return {
          pb::REJECT_INCOMPATIBLE,
          Cat({"for app versions ", c.min_app_version(), " to ",
               c.max_app_version(), ", this app is ", options.app_version})};
    }
    if (!options.insecure_skip_signature_verification_for_tests) {
      const std::string signed_bytes = SigningBytes(st);
      bool verified = false;
      for (const pb::Signature& s : entry.signatures()) {
        for (const PublisherKey& k : options.publisher_keys) {
          if (k.key_id == s.key_id() &&
              VerifyEd25519(k.public_key, signed_bytes, s.signature())) {
            verified = true;
          }
        }
      }
      if (!verified) {
        return {entry.signatures_size() == 0 ? pb::REJECT_UNSIGNED
                                             : pb::REJECT_BAD_SIGNATURE,
                Cat({"no signature of ", name, " ", st.version(),
                     " verifies with a pinned publisher key"})};
      }
    }
    const pb::InstalledModule* have = Find(entry.module());
    if (have != nullptr &&
        have->release_sequence() > entry.release_sequence()) {
      return {pb::REJECT_RELEASE_COUNTER_ROLLBACK,
              "an older release than the installed one (a replay)"};
    }
    if (st.size() > options.max_content_bytes) {
      return {pb::REJECT_DISK_BUDGET_EXCEEDED,
              Cat({name, " is ", std::to_string(st.size()),
                   " bytes, over max_content_bytes"})};
    }
    std::string content;
    if (!entry.inline_content().empty() || st.size() == 0) {
      content = entry.inline_content();
    } else {
      if (have != nullptr) {
        for (const pb::DeltaRef& d : entry.deltas()) {
          if (d.from_sha256() != have->content_sha256() ||
              d.patch().size() >= st.size()) {
            continue;  // not from what is installed, or no saving
          }
          Error e = Patched(d, st, &content, traffic);
          if (e.ok()) {
            traffic->by_patch = true;
            break;
          }
          traffic->patch_error = e.message;
          Queue(pb::ReportEvent::KIND_APPLY_FAILED, entry,
                pb::REJECT_DELTA_OUTPUT_MISMATCH,
                Cat({"delta from ", d.from_sha256(), " failed (", e.message,
                     "); fell back to the full download"}));
          break;
        }
      }
      if (!traffic->by_patch) {
        if (entry.full().sha256() != st.content_sha256()) {
          return {pb::REJECT_CONTENT_HASH_MISMATCH,
                  "the blob offered is not the statement's content"};
        }
        Error e = Get(st.content_sha256(), &content);
        if (!e.ok()) return {pb::REJECT_APPLY_FAILED, e.message};
        traffic->bytes += content.size();
      }
    }
    if (content.size() != st.size()) {
      return {pb::REJECT_LENGTH_MISMATCH,
              Cat({"got ", std::to_string(content.size()),
                   " bytes, the "
                   "statement says ",
                   std::to_string(st.size())})};
    }
    if (Sha256Hex(content) != st.content_sha256()) {
      return {pb::REJECT_CONTENT_HASH_MISMATCH,
              Cat({"the content of ", name, " ", st.version(),
                   " does not hash to its statement's sha256"})};
    }
    Error e = WriteAtomically(blobs_dir, blobs_dir + "/" + st.content_sha256(),
                              content);
    if (!e.ok()) return {pb::REJECT_APPLY_FAILED, e.message};
    if (TreeLayer(st.module().layer()) && LooksLikeTreeArchive(content)) {
      const std::string previous =
          have != nullptr && HasTree(have->content_sha256())
              ? TreeDir(have->content_sha256())
              : "";
      e = Unpack(st.content_sha256(), content, previous,
                 &traffic->tree_files_linked);
      if (!e.ok()) {
        return {pb::REJECT_APPLY_FAILED,
                Cat({"unpacking the tree of ", name, " ", st.version(), ": ",
                     e.message})};
      }
    }
    pb::InstalledModule previous;
    if (have != nullptr) previous = *have;
    pb::InstalledModule* slot = const_cast<pb::InstalledModule*>(have);
    if (slot == nullptr) slot = state.add_installed();
    *slot->mutable_module() = entry.module();
    slot->set_version(st.version());
    slot->set_content_sha256(st.content_sha256());
    slot->set_release_sequence(entry.release_sequence());
    // Pending until a healthy launch, with `previous` to go back to.
    internal::RecordInstall(state, have != nullptr ? &previous : nullptr, *slot,
                            entry.release_id());
    return {pb::REJECT_REASON_UNSPECIFIED, ""};
  }
};

DeviceCore::DeviceCore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeviceCore::~DeviceCore() = default;

Error DeviceCore::Open(DeviceCoreOptions options,
                       std::unique_ptr<DeviceCore>* out) {
  if (options.app_id.empty() || options.device_id.empty() ||
      options.storage_dir.empty() || options.server_url.empty()) {
    return {3,
            "DeviceCoreOptions need app_id, device_id, storage_dir and "
            "server_url"};
  }
  if (!options.http) {
    return {3, "DeviceCoreOptions.http is empty: give the host's HTTP stack"};
  }
  if (options.publisher_keys.empty() &&
      !options.insecure_skip_signature_verification_for_tests) {
    return {3,
            "DeviceCoreOptions.publisher_keys is empty: every update is "
            "verified against the app's publisher keys"};
  }
  if (options.unhealthy_launch_limit < 1) {
    return {3, "DeviceCoreOptions.unhealthy_launch_limit must be at least 1"};
  }
  if (options.initial_backoff_seconds < 0 ||
      (options.initial_backoff_seconds > 0 &&
       options.max_backoff_seconds < options.initial_backoff_seconds)) {
    return {3,
            "DeviceCoreOptions: initial_backoff_seconds must be 0 (none) or "
            "positive, and max_backoff_seconds at least it"};
  }
  for (const PublisherKey& k : options.publisher_keys) {
    if (k.public_key.size() != crypto_sign_PUBLICKEYBYTES) {
      return {3, Cat({"publisher key ", k.key_id, " is not 32 bytes"})};
    }
  }
  if (sodium_init() < 0) return {13, "libsodium could not initialize"};
  while (options.server_url.size() > 1 && options.server_url.back() == '/')
    options.server_url.pop_back();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->blobs_dir = impl->options.storage_dir + "/blobs";
  impl->trees_dir = impl->options.storage_dir + "/trees";
  Error e = MakeDir(impl->options.storage_dir);
  if (e.ok()) e = MakeDir(impl->blobs_dir);
  if (e.ok()) e = MakeDir(impl->trees_dir);
  if (!e.ok()) return e;
  // No other thread sees `impl` yet; the lock is for the analysis (held
  // until the return: the Impl moves into the DeviceCore by pointer).
  MutexLock lock(&impl->mu);
  std::string bytes;
  if (ReadFile(impl->StatePath(), &bytes, &e) &&
      !impl->state.ParseFromString(bytes)) {
    return {15, Cat({impl->StatePath(), " is damaged"})};
  }
  if (!e.ok()) return e;
  if (ReadFile(impl->QueuePath(), &bytes, &e) &&
      !impl->queue.ParseFromString(bytes)) {
    impl->queue.Clear();  // reports are not worth failing for
  }
  if (!e.ok()) return e;
  impl->Collect();
  out->reset(new DeviceCore(std::move(impl)));
  return {};
}

void DeviceCore::SetNetwork(int network) {
  MutexLock lock(&impl_->mu);
  impl_->network =
      pb::NetworkType_IsValid(network) ? network : pb::NETWORK_UNKNOWN;
}

Error DeviceCore::Check(CheckOutcome* outcome) {
  return impl_->CheckAndInstall(nullptr, outcome);
}

Error DeviceCore::Fetch(int layer, const std::string& name,
                        CheckOutcome* outcome) {
  pb::ModuleId only;
  only.set_layer(static_cast<pb::Layer>(layer));
  only.set_name(name);
  Error e = impl_->CheckAndInstall(&only, outcome);
  if (e.ok() && outcome->installed.empty() && outcome->failures.empty() &&
      outcome->deferred.empty()) {
    return {5,
            Cat({"the server offers no update of ", name, " for this device"})};
  }
  return e;
}

Error DeviceCore::Impl::CheckAndInstall(const pb::ModuleId* only,
                                        CheckOutcome* outcome) {
  Impl& d = *this;
  MutexLock lock(&d.mu);
  *outcome = CheckOutcome();
  uint32_t acknowledged = 0;
  (void)d.Flush(&acknowledged);  // again after the check
  outcome->reports_acknowledged += acknowledged;
  pb::CheckRequest request;
  *request.mutable_installed() = d.state.installed();
  request.mutable_device()->set_app_id(d.options.app_id);
  request.mutable_device()->set_device_id(d.options.device_id);
  request.mutable_device()->set_app_version(d.options.app_version);
  request.mutable_device()->set_host_build(d.options.host_build);
  pb::CheckResponse response;
  Error e = d.Post("/v1/delivery/check", request, &response);
  if (!e.ok()) return e;
  // The plan's report ticket, for this and later reports (kept in the
  // state: reports queued at a launch are sent by the next start's check).
  bool rules_changed = false;  // the budget ledger or a back-off
  bool changed = !response.plan().report_ticket().empty() &&
                 response.plan().report_ticket() != d.state.report_ticket();
  if (changed) d.state.set_report_ticket(response.plan().report_ticket());
  for (const pb::UpdateEntry& entry : response.plan().updates()) {
    const pb::ArtifactStatement& st = entry.statement();
    if (only != nullptr && (entry.module().layer() != only->layer() ||
                            entry.module().name() != only->name())) {
      continue;  // Fetch: this module only
    }
    // On demand: not downloaded by a check while the device has no
    // version of it; Fetch gets it when the app first opens it.
    if (only == nullptr && st.delivery().on_demand() &&
        d.Find(entry.module()) == nullptr) {
      outcome->deferred.push_back(
          Cat({entry.module().name(), " ", st.version(),
               ": on demand, fetched when the app first opens it "
               "(DeviceCore::Fetch)"}));
      continue;
    }
    // Content that needs a download waits for a network its signed policy
    // allows (inline content came with the answer).
    const bool download = entry.inline_content().empty() && st.size() > 0;
    const bool unmetered_only =
        st.delivery().network() == pb::NETWORK_UNMETERED_ONLY;
    if (download && (d.network == pb::NETWORK_OFFLINE ||
                     (unmetered_only && d.network != pb::NETWORK_UNMETERED))) {
      outcome->deferred.push_back(
          Cat({entry.module().name(), " ", st.version(), ": ",
               d.network == pb::NETWORK_OFFLINE
                   ? "the device is offline"
                   : "it may be downloaded on an unmetered network only"}));
      continue;
    }
    // Rolled back here after unhealthy launches: never installed again.
    if (internal::Banned(d.state, entry.module(), st.content_sha256())) {
      const std::string why =
          Cat({"version ", st.version(),
               " was rolled back on this device after unhealthy launches; "
               "not installed again"});
      outcome->failures.push_back(
          Cat({entry.module().name(), " ", st.version(), ": ", why}));
      if (d.reported_banned.insert(st.content_sha256()).second) {
        d.Queue(pb::ReportEvent::KIND_ROLLED_BACK, entry,
                pb::REJECT_REASON_UNSPECIFIED, why);
      }
      continue;
    }
    // The app's rules for checks (Fetch: the user is waiting): back-off
    // after failed downloads, then the daily budget.
    const int64_t now = d.Now();
    if (download && only == nullptr) {
      // (A wait longer than the cap: recorded under a clock that was
      // ahead; not trusted.)
      if (const int64_t next = internal::NextTry(d.state, entry.module());
          next > now && next - now <= d.options.max_backoff_seconds) {
        outcome->deferred.push_back(
            Cat({entry.module().name(), " ", st.version(),
                 ": its download failed; tried again in ",
                 std::to_string(next - now), " s"}));
        continue;
      }
      const uint64_t today = internal::BytesToday(d.state, now);
      const uint64_t cost = d.Estimate(entry);
      if (d.options.daily_budget_bytes > 0 &&
          today + cost > d.options.daily_budget_bytes) {
        outcome->deferred.push_back(
            Cat({entry.module().name(), " ", st.version(), ": ",
                 std::to_string(cost), " bytes would pass the daily budget (",
                 std::to_string(today), " of ",
                 std::to_string(d.options.daily_budget_bytes),
                 " bytes used today)"}));
        continue;
      }
    }
    InstallTraffic traffic;
    traffic.name = entry.module().name();
    traffic.network = d.network;
    const Failure f = d.Install(entry, &traffic);
    // The bytes count against the budget whatever came of them.
    if (traffic.bytes > 0) {
      internal::CountBytes(d.state, now, traffic.bytes);
      rules_changed = true;
    }
    if (f.reason == pb::REJECT_REASON_UNSPECIFIED) {
      changed = true;
      (void)internal::ForgetFailures(d.state, entry.module());
      InstalledModule m;
      m.layer = entry.module().layer();
      m.name = entry.module().name();
      m.version = entry.statement().version();
      m.content_sha256 = entry.statement().content_sha256();
      m.release_id = entry.release_id();
      m.release_sequence = entry.release_sequence();
      if (const pb::InstalledModule* slot = d.Find(entry.module())) {
        m.tree_dir = d.TreeDirOf(*slot);
      }
      outcome->installed.push_back(std::move(m));
      d.Queue(pb::ReportEvent::KIND_ACTIVATED, entry,
              pb::REJECT_REASON_UNSPECIFIED, "");
      // The bytes it cost, by the network they came over.
      pb::NetworkBytes* nb =
          d.queue.mutable_events(d.queue.events_size() - 1)->add_traffic();
      nb->set_network(static_cast<pb::NetworkType>(d.network));
      nb->set_bytes(traffic.bytes);
      outcome->traffic.push_back(std::move(traffic));
    } else {
      outcome->failures.push_back(
          Cat({entry.module().name(), " ", entry.statement().version(), ": ",
               f.message}));
      d.Queue(pb::ReportEvent::KIND_REJECTED, entry, f.reason, f.message);
      // A download that failed (not a policy refusal) backs off.
      if (download && (f.reason == pb::REJECT_APPLY_FAILED ||
                       f.reason == pb::REJECT_CONTENT_HASH_MISMATCH ||
                       f.reason == pb::REJECT_LENGTH_MISMATCH)) {
        rules_changed |= internal::RecordFailedDownload(
            d.state, entry.module(), now, d.options.initial_backoff_seconds,
            d.options.max_backoff_seconds);
      }
    }
  }
  if (changed) {
    e = WriteAtomically(d.options.storage_dir, d.StatePath(),
                        d.state.SerializeAsString());
    if (!e.ok()) return e;
  } else if (rules_changed) {
    // Only the download rules' ledger and back-offs: best effort (a full
    // disk must not turn a failed download into a failed check).
    (void)WriteAtomically(d.options.storage_dir, d.StatePath(),
                          d.state.SerializeAsString());
  }
  (void)d.SaveQueue();
  if (d.Flush(&acknowledged).ok())
    outcome->reports_acknowledged += acknowledged;
  return {};
}

std::vector<InstalledModule> DeviceCore::Installed() const {
  MutexLock lock(&impl_->mu);
  std::vector<InstalledModule> out;
  for (const pb::InstalledModule& i : impl_->state.installed()) {
    InstalledModule m = FromState(i);
    m.tree_dir = impl_->TreeDirOf(i);
    for (const pb::GuardRecord& g : impl_->state.guards()) {
      if (internal::SameModule(g.module(), i.module())) {
        m.release_id = g.release_id();
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::string DeviceCore::ContentPath(const InstalledModule& module) const {
  return impl_->blobs_dir + "/" + module.content_sha256;
}

Error DeviceCore::ResolveUrl(std::string_view url, UrlResolution* out) const {
  const Impl& d = *impl_;
  MutexLock lock(&d.mu);
  *out = UrlResolution();
  std::string best_prefix, best_dir;
  for (const pb::InstalledModule& m : d.state.installed()) {
    const std::string dir = d.TreeDirOf(m);
    if (dir.empty()) continue;
    for (const std::string& prefix : d.PrefixesOf(m.content_sha256(), dir)) {
      if (!url_rules::UrlHasPrefix(url, prefix) ||
          prefix.size() <= best_prefix.size()) {
        continue;
      }
      best_prefix = prefix;
      best_dir = dir;
      out->layer = m.module().layer();
      out->module = m.module().name();
      out->version = m.version();
    }
  }
  if (best_prefix.empty()) {
    out->fallback_reason = Cat(
        {"no installed H5/HCF tree declares a URL prefix of ", url, " in its ",
         url_rules::kPackageFile, "; load it from the network"});
    return {};
  }
  std::string rel;
  if (std::string problem =
          url_rules::TreePathOfUrl(url.substr(best_prefix.size()), &rel);
      !problem.empty()) {
    return {3, problem};
  }
  std::string file = Cat({best_dir, "/", rel});
  struct stat st {};
  bool found = ::stat(file.c_str(), &st) == 0;
  if (found && S_ISDIR(st.st_mode)) {
    file += "/index.html";
    found = ::stat(file.c_str(), &st) == 0;
  }
  if (!found || !S_ISREG(st.st_mode)) {
    out->fallback_reason =
        Cat({out->module, " ", out->version, " serves ", best_prefix,
             " but has no file ", rel, "; load it from the network"});
    return {};
  }
  out->offline = true;
  out->path = std::move(file);
  return {};
}

Error DeviceCore::BeginLaunch(LaunchOutcome* outcome) {
  Impl& d = *impl_;
  MutexLock lock(&d.mu);
  *outcome = LaunchOutcome();
  pb::DeviceState next = d.state;
  const internal::GuardOutcome guard =
      internal::GuardLaunch(next, d.options.unhealthy_launch_limit);
  // Every event describes `next`: queued only once it is committed, so a
  // crash before the commit never reports what did not happen.
  Error e = WriteAtomically(d.options.storage_dir, d.StatePath(),
                            next.SerializeAsString());
  if (!e.ok()) {
    return {e.code, Cat({"recording the launch (nothing was rolled back): ",
                         e.message})};
  }
  d.state = std::move(next);
  outcome->unhealthy_launches = guard.unhealthy_launches;
  outcome->uninstalled_all = guard.uninstalled_all;
  for (const pb::InstalledModule& m : guard.bad) {
    outcome->bad_versions.push_back(FromState(m));
  }
  for (const pb::InstalledModule& m : guard.now) {
    InstalledModule now = FromState(m);
    if (const pb::InstalledModule* i = d.Find(m.module())) {
      now.tree_dir = d.TreeDirOf(*i);
    }
    outcome->rolled_back.push_back(std::move(now));
  }
  for (const internal::GuardEvent& g : guard.events) {
    pb::UpdateEntry about;
    *about.mutable_module() = g.module;
    about.set_release_id(g.release_id);
    d.Queue(g.kind, about, pb::REJECT_REASON_UNSPECIFIED, g.detail);
    for (uint64_t id : g.release_ids) {
      d.queue.mutable_events(d.queue.events_size() - 1)->add_release_ids(id);
    }
  }
  (void)d.SaveQueue();  // sent with the next check
  return {};
}

Error DeviceCore::MarkLaunchHealthy() {
  Impl& d = *impl_;
  MutexLock lock(&d.mu);
  pb::DeviceState next = d.state;
  if (!internal::ConfirmLaunch(next)) {
    return {9,
            "MarkLaunchHealthy without BeginLaunch: call BeginLaunch early "
            "in every app start"};
  }
  Error e = WriteAtomically(d.options.storage_dir, d.StatePath(),
                            next.SerializeAsString());
  if (!e.ok()) {
    return {e.code, Cat({"recording the healthy launch: ", e.message})};
  }
  d.state = std::move(next);
  pb::UpdateEntry none;
  d.Queue(pb::ReportEvent::KIND_LAUNCH_OK, none, pb::REJECT_REASON_UNSPECIFIED,
          "");
  for (uint64_t id : internal::RanReleaseIds(d.state)) {
    d.queue.mutable_events(d.queue.events_size() - 1)->add_release_ids(id);
  }
  (void)d.SaveQueue();
  return {};
}

size_t DeviceCore::PendingReports() const {
  MutexLock lock(&impl_->mu);
  return static_cast<size_t>(impl_->queue.events_size());
}

Error DeviceCore::FlushReports(uint32_t* acknowledged) {
  MutexLock lock(&impl_->mu);
  return impl_->Flush(acknowledged);
}

}  // namespace strata::device
