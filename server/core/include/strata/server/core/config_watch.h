// WatchConfig without a thread per stream: each app's streams subscribe to
// that app's changes (ConfigWatchHub); a change builds the app's config
// candidates once (ConfigPlan, from the immutable AppSnapshot) and wakes only
// that app's streams, each of which then decides only the candidates for its
// device and writes what it lacks, one event in flight at a time
// (ConfigStream). No gRPC here: the Delivery service adapts a ConfigStream
// to a gRPC write reactor (docs/architecture.md, WatchConfig).
#ifndef STRATA_SERVER_CORE_CONFIG_WATCH_H_
#define STRATA_SERVER_CORE_CONFIG_WATCH_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/mutex.h"
#include "strata/rollout/device_attributes.h"
#include "strata/server/core/release_snapshot.h"
#include "strata/v1/delivery.pb.h"

namespace strata::server {

// What WatchConfig may push for one app after one change: the live
// releases with CONFIG entries, newest first, each with those entries.
// Built once per change and shared by every stream of the app.
struct ConfigPlan {
  struct Candidate {
    const LiveRelease* release;
    std::vector<const v1::UpdateEntry*> entries;  // its CONFIG entries
  };
  // The app's change count the plan includes (higher: newer).
  uint64_t generation = 0;
  // Not OK when the app's releases could not be read; streams end with it.
  absl::Status status;
  std::shared_ptr<const AppSnapshot> snapshot;  // owns what candidates point to
  std::vector<Candidate> candidates;
};

std::shared_ptr<const ConfigPlan> MakeConfigPlan(
    uint64_t generation,
    absl::StatusOr<std::shared_ptr<const AppSnapshot>> snapshot);

// The CONFIG entries `device` should run that differ from `known` (module
// name -> what it has), which is updated to match: per module the entry of
// the newest candidate that applies to the device (the Check path's
// choice). Releases that also hold other layers decide their CONFIG
// modules but are left to Check, which delivers them whole.
std::vector<const v1::UpdateEntry*> ConfigChangesFor(
    const ConfigPlan& plan, const rollout::DeviceAttributes& device,
    std::map<std::string, v1::InstalledModule>& known);

// Told when its app's releases change.
class ConfigSubscriber {
 public:
  virtual ~ConfigSubscriber() = default;
  // `plan` is the app's newest plan. Called on the hub's notifier thread;
  // must not block.
  virtual void OnPlan(std::shared_ptr<const ConfigPlan> plan) = 0;
  // The server is stopping: end with `status`. Called once, on the thread
  // that called ConfigWatchHub::Shutdown; must not block.
  virtual void OnShutdown(const absl::Status& status) = 0;
};

// The per-app subscriber registry. Changed(app) wakes that app's
// subscribers only, from one notifier thread (started on first use), with
// one plan built per change; changes that come while a pass runs are
// coalesced into the next pass. An app without subscribers has no entry:
// made-up app ids cost nothing.
class ConfigWatchHub {
 public:
  using SnapshotSource =
      std::function<absl::StatusOr<std::shared_ptr<const AppSnapshot>>(
          const std::string& app_id)>;
  explicit ConfigWatchHub(SnapshotSource source) : source_(std::move(source)) {}
  ~ConfigWatchHub();
  ConfigWatchHub(const ConfigWatchHub&) = delete;
  ConfigWatchHub& operator=(const ConfigWatchHub&) = delete;

  // Holds one subscription until destroyed.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription() { Reset(); }
    void Reset();

   private:
    friend class ConfigWatchHub;
    Subscription(ConfigWatchHub* hub, std::string app_id, uint64_t id)
        : hub_(hub), app_id_(std::move(app_id)), id_(id) {}
    ConfigWatchHub* hub_ = nullptr;
    std::string app_id_;
    uint64_t id_ = 0;
  };

  // `subscriber` is told of every change to `app_id` after this returns,
  // while it lives and the subscription is held.
  Subscription Subscribe(const std::string& app_id,
                         std::weak_ptr<ConfigSubscriber> subscriber);
  // The app's plan as of now (built at most once per change).
  std::shared_ptr<const ConfigPlan> Current(const std::string& app_id);
  // The app's releases changed (after the change is stored and the
  // snapshot invalidated). Returns at once; the notifier wakes its
  // subscribers.
  void Changed(const std::string& app_id);
  // The server is stopping: every subscriber is told to end with `status`
  // (so that stopping does not wait out its grace period for streams that
  // never end by themselves), and later subscribers at once. Idempotent.
  void Shutdown(const absl::Status& status);
  // OK until Shutdown, then its status.
  absl::Status shutdown_status() const;

  // Tests: returns when every change so far has been passed to the
  // subscribers.
  void WaitIdle();
  // Subscribers told of a change, and stream evaluations (ConfigStream
  // counts them here), since start.
  uint64_t wakes() const { return wakes_.load(); }
  uint64_t evaluations() const { return evaluations_.load(); }
  void CountEvaluation() { evaluations_.fetch_add(1); }
  // Apps with a subscriber, and subscribers (tests, metrics).
  size_t apps() const;
  size_t subscribers() const;

 private:
  struct App {
    uint64_t changes = 0;
    std::shared_ptr<const ConfigPlan> plan;  // newest built
    std::unordered_map<uint64_t, std::weak_ptr<ConfigSubscriber>> subscribers;
  };
  void Unsubscribe(const std::string& app_id, uint64_t id);
  // Builds the plan for the app's current change count and keeps it if it
  // is the newest.
  std::shared_ptr<const ConfigPlan> Build(const std::string& app_id);
  void Notify();

  SnapshotSource source_;
  mutable Mutex mu_;
  CondVar cv_;
  std::map<std::string, App> apps_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> pending_ ABSL_GUARDED_BY(mu_);
  bool notifying_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status shutdown_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread notifier_;  // started by the first Changed with subscribers
  std::atomic<uint64_t> wakes_{0};
  std::atomic<uint64_t> evaluations_{0};
};

// Where a ConfigStream's events go: the Delivery service's write reactor.
class ConfigSink {
 public:
  virtual ~ConfigSink() = default;
  // Starts sending `event`, which stays valid until ConfigStream::WriteDone.
  // Never called while a send is in flight or after End.
  virtual void Send(const v1::ConfigEvent* event) = 0;
  // Ends the call (no call to the sink after it).
  virtual void End(const absl::Status& status) = 0;
};

// One WatchConfig stream: what the device has (CONFIG module -> installed,
// trusted metadata versions), the newest plan of its app it was told of,
// and at most one event in flight. A newer plan that comes while a write
// is in flight is evaluated when that write is done, so a slow reader gets
// the latest version of each module, not every version in between.
class ConfigStream final : public ConfigSubscriber,
                           public std::enable_shared_from_this<ConfigStream> {
 public:
  // Appends the metadata files newer than `sent` to the event and raises
  // `sent` (DeliveryCore::NewerMetadata).
  using MetadataFn = std::function<void(
      v1::TrustedVersions& sent,
      google::protobuf::RepeatedPtrField<v1::MetadataFile>* out)>;

  // Subscribes to `hub` for the request's app and sends what the device
  // lacks now. `sink` must outlive the stream or Close() it first.
  static std::shared_ptr<ConfigStream> Open(
      ConfigWatchHub* hub, const v1::WatchConfigRequest& request,
      ConfigSink* sink, MetadataFn metadata);

  void OnPlan(std::shared_ptr<const ConfigPlan> plan) override;
  void OnShutdown(const absl::Status& status) override;
  // The write in flight was sent (true) or the device went away (false:
  // the stream finishes with OK, as the device is gone).
  void WriteDone(bool ok);
  // The call was cancelled: finishes the stream with CANCELLED.
  void Cancel();
  // The call is over: unsubscribes and never touches the sink again.
  void Close();

  // Evaluations of this stream's plans (tests).
  uint64_t evaluations() const;

  // Use Open.
  ConfigStream(ConfigWatchHub* hub, const v1::WatchConfigRequest& request,
               ConfigSink* sink, MetadataFn metadata);

 private:
  // Starts the next write if none is in flight: a queued event, else what
  // a newer plan brings.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ConfigWatchHub* const hub_;
  const std::string app_id_;
  const rollout::DeviceAttributes device_;
  MetadataFn metadata_;
  mutable Mutex mu_;
  ConfigSink* sink_ ABSL_GUARDED_BY(mu_);  // null once finished or closed
  ConfigWatchHub::Subscription subscription_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::InstalledModule> known_ ABSL_GUARDED_BY(mu_);
  v1::TrustedVersions sent_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const ConfigPlan> latest_ ABSL_GUARDED_BY(mu_);
  // The generation of the plan evaluated last; -1: none yet.
  int64_t evaluated_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t evaluations_ ABSL_GUARDED_BY(mu_) = 0;
  // Entries decided but not written yet (one per module).
  std::deque<v1::UpdateEntry> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  v1::ConfigEvent in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_CONFIG_WATCH_H_
