#include "strata/server/core/config_watch.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/rollout/targeting.h"
#include "strata/server/core/release_model.h"

namespace strata::server {

std::shared_ptr<const ConfigPlan> MakeConfigPlan(
    uint64_t generation,
    absl::StatusOr<std::shared_ptr<const AppSnapshot>> snapshot) {
  auto plan = std::make_shared<ConfigPlan>();
  plan->generation = generation;
  if (!snapshot.ok()) {
    plan->status = snapshot.status();
    return plan;
  }
  plan->snapshot = *std::move(snapshot);
  for (const LiveRelease& r : plan->snapshot->releases) {
    ConfigPlan::Candidate c{&r, {}};
    for (const v1::UpdateEntry& e : r.entries) {
      if (e.module().layer() == v1::LAYER_CONFIG) c.entries.push_back(&e);
    }
    // A release without CONFIG modules decides none of them.
    if (!c.entries.empty()) plan->candidates.push_back(std::move(c));
  }
  return plan;
}

std::vector<const v1::UpdateEntry*> ConfigChangesFor(
    const ConfigPlan& plan, const rollout::DeviceAttributes& device,
    std::map<std::string, v1::InstalledModule>& known) {
  std::vector<const v1::UpdateEntry*> changes;
  std::set<std::string_view> chosen;
  for (const ConfigPlan::Candidate& c : plan.candidates) {
    const LiveRelease& r = *c.release;
    const bool open = std::any_of(
        c.entries.begin(), c.entries.end(), [&](const v1::UpdateEntry* e) {
          return chosen.count(e->module().name()) == 0;
        });
    if (!open) continue;  // a newer release decided all its modules
    bool applies = r.everyone;
    if (!applies) {
      // Whether the device runs it (HasRelease over CONFIG modules, the
      // only ones a stream knows).
      bool installed = false;
      for (const v1::UpdateEntry* e : c.entries) {
        auto it = known.find(e->module().name());
        installed |=
            it != known.end() &&
            it->second.release_sequence() == e->release_sequence() &&
            it->second.content_sha256() == e->statement().content_sha256();
      }
      applies =
          rollout::DecideOffer(r.rollout, *r.segment, r.salt, device, installed)
              .applies;
    }
    if (!applies) continue;
    for (const v1::UpdateEntry* e : c.entries) {
      if (!chosen.insert(e->module().name()).second) continue;
      if (!r.config_only) continue;  // Check delivers it whole
      if (e->revert_to_embedded()) {
        // Only a device that runs something else than its embedded version
        // has anything to revert.
        auto it = known.find(e->module().name());
        if (it == known.end() ||
            it->second.version() == kEmbeddedVersionLabel) {
          continue;
        }
      }
      v1::InstalledModule& have = known[e->module().name()];
      if (have.content_sha256() == e->statement().content_sha256()) continue;
      *have.mutable_module() = e->module();
      have.set_version(e->statement().version());
      have.set_content_sha256(e->statement().content_sha256());
      have.set_release_sequence(e->release_sequence());
      changes.push_back(e);
    }
  }
  return changes;
}

// ConfigWatchHub

ConfigWatchHub::Subscription::Subscription(Subscription&& other) noexcept
    : hub_(std::exchange(other.hub_, nullptr)),
      app_id_(std::move(other.app_id_)),
      id_(other.id_) {}

ConfigWatchHub::Subscription& ConfigWatchHub::Subscription::operator=(
    Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    hub_ = std::exchange(other.hub_, nullptr);
    app_id_ = std::move(other.app_id_);
    id_ = other.id_;
  }
  return *this;
}

void ConfigWatchHub::Subscription::Reset() {
  if (hub_ != nullptr) std::exchange(hub_, nullptr)->Unsubscribe(app_id_, id_);
}

ConfigWatchHub::~ConfigWatchHub() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (notifier_.joinable()) notifier_.join();
}

ConfigWatchHub::Subscription ConfigWatchHub::Subscribe(
    const std::string& app_id, std::weak_ptr<ConfigSubscriber> subscriber) {
  MutexLock lock(&mu_);
  const uint64_t id = ++next_id_;
  apps_[app_id].subscribers.emplace(id, std::move(subscriber));
  return Subscription(this, app_id, id);
}

void ConfigWatchHub::Unsubscribe(const std::string& app_id, uint64_t id) {
  MutexLock lock(&mu_);
  auto it = apps_.find(app_id);
  if (it == apps_.end()) return;
  it->second.subscribers.erase(id);
  if (it->second.subscribers.empty()) apps_.erase(it);
}

std::shared_ptr<const ConfigPlan> ConfigWatchHub::Current(
    const std::string& app_id) {
  {
    MutexLock lock(&mu_);
    auto it = apps_.find(app_id);
    if (it != apps_.end() && it->second.plan != nullptr &&
        it->second.plan->generation == it->second.changes) {
      return it->second.plan;
    }
  }
  return Build(app_id);
}

std::shared_ptr<const ConfigPlan> ConfigWatchHub::Build(
    const std::string& app_id) {
  uint64_t generation = 0;
  {
    MutexLock lock(&mu_);
    auto it = apps_.find(app_id);
    if (it != apps_.end()) generation = it->second.changes;
  }
  // The snapshot is read after the change count: it holds at least the
  // changes counted.
  std::shared_ptr<const ConfigPlan> plan =
      MakeConfigPlan(generation, source_(app_id));
  if (plan->status.ok()) {
    MutexLock lock(&mu_);
    auto it = apps_.find(app_id);
    if (it != apps_.end() && (it->second.plan == nullptr ||
                              it->second.plan->generation < generation)) {
      it->second.plan = plan;
    }
  }
  return plan;
}

void ConfigWatchHub::Changed(const std::string& app_id) {
  {
    MutexLock lock(&mu_);
    auto it = apps_.find(app_id);
    if (it == apps_.end()) return;  // nobody watches it
    ++it->second.changes;
    pending_.insert(app_id);
    if (!notifier_.joinable()) notifier_ = std::thread([this] { Notify(); });
  }
  cv_.SignalAll();
}

void ConfigWatchHub::Shutdown(const absl::Status& status) {
  std::vector<std::weak_ptr<ConfigSubscriber>> subscribers;
  absl::Status end;
  {
    MutexLock lock(&mu_);
    if (!shutdown_.ok()) return;
    shutdown_ =
        status.ok() ? absl::UnavailableError("the server is stopping") : status;
    end = shutdown_;
    for (const auto& [app, a] : apps_) {
      for (const auto& [id, s] : a.subscribers) subscribers.push_back(s);
    }
  }
  // Outside the lock: a subscriber that ends unsubscribes.
  for (const std::weak_ptr<ConfigSubscriber>& weak : subscribers) {
    if (std::shared_ptr<ConfigSubscriber> s = weak.lock()) {
      s->OnShutdown(end);
    }
  }
}

absl::Status ConfigWatchHub::shutdown_status() const {
  MutexLock lock(&mu_);
  return shutdown_;
}

void ConfigWatchHub::Notify() {
  MutexLock lock(&mu_);
  while (true) {
    while (!stopping_ && pending_.empty()) cv_.Wait(&mu_);
    if (stopping_) return;
    const std::string app_id = *pending_.begin();
    pending_.erase(pending_.begin());
    notifying_ = true;
    mu_.Unlock();
    std::shared_ptr<const ConfigPlan> plan = Build(app_id);
    if (!plan->status.ok()) {
      STRATA_LOG(Error) << "WatchConfig streams of app " << app_id
                        << " end: " << plan->status;
    }
    std::vector<std::weak_ptr<ConfigSubscriber>> subscribers;
    {
      MutexLock l(&mu_);
      auto it = apps_.find(app_id);
      if (it != apps_.end()) {
        subscribers.reserve(it->second.subscribers.size());
        for (const auto& [id, s] : it->second.subscribers) {
          subscribers.push_back(s);
        }
      }
    }
    uint64_t woken = 0;
    for (const std::weak_ptr<ConfigSubscriber>& weak : subscribers) {
      if (std::shared_ptr<ConfigSubscriber> s = weak.lock()) {
        s->OnPlan(plan);
        ++woken;
      }
    }
    wakes_.fetch_add(woken);
    subscribers.clear();  // the last reference to a stream may go here
    mu_.Lock();
    notifying_ = false;
    cv_.SignalAll();
  }
}

void ConfigWatchHub::WaitIdle() {
  MutexLock lock(&mu_);
  while (!pending_.empty() || notifying_) cv_.Wait(&mu_);
}

size_t ConfigWatchHub::apps() const {
  MutexLock lock(&mu_);
  return apps_.size();
}

size_t ConfigWatchHub::subscribers() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [app, a] : apps_) n += a.subscribers.size();
  return n;
}

// ConfigStream

ConfigStream::ConfigStream(ConfigWatchHub* hub,
                           const v1::WatchConfigRequest& request,
                           ConfigSink* sink, MetadataFn metadata)
    : hub_(hub),
      app_id_(request.device().app_id()),
      device_(ToAttributes(request.device())),
      metadata_(std::move(metadata)),
      sink_(sink),
      sent_(request.trusted()) {
  for (const v1::InstalledModule& m : request.installed()) {
    if (m.module().layer() == v1::LAYER_CONFIG) known_[m.module().name()] = m;
  }
}

std::shared_ptr<ConfigStream> ConfigStream::Open(
    ConfigWatchHub* hub, const v1::WatchConfigRequest& request,
    ConfigSink* sink, MetadataFn metadata) {
  auto stream =
      std::make_shared<ConfigStream>(hub, request, sink, std::move(metadata));
  {
    // Subscribed before the current plan is read: a change after this is
    // a newer plan, told to the stream.
    ConfigWatchHub::Subscription s =
        hub->Subscribe(stream->app_id_, stream->weak_from_this());
    MutexLock lock(&stream->mu_);
    stream->subscription_ = std::move(s);
  }
  // A stream opened while the server stops ends at once (Shutdown may have
  // listed the subscribers before this one subscribed).
  if (absl::Status stopping = hub->shutdown_status(); !stopping.ok()) {
    stream->OnShutdown(stopping);
    return stream;
  }
  stream->OnPlan(hub->Current(stream->app_id_));
  return stream;
}

void ConfigStream::OnPlan(std::shared_ptr<const ConfigPlan> plan) {
  MutexLock lock(&mu_);
  if (latest_ != nullptr && latest_->generation >= plan->generation) return;
  latest_ = std::move(plan);
  PumpLocked();
}

void ConfigStream::OnShutdown(const absl::Status& status) {
  MutexLock lock(&mu_);
  FinishLocked(status);
}

void ConfigStream::PumpLocked() {
  if (sink_ == nullptr || writing_) return;
  if (latest_ != nullptr &&
      static_cast<int64_t>(latest_->generation) > evaluated_) {
    evaluated_ = static_cast<int64_t>(latest_->generation);
    if (!latest_->status.ok()) {
      FinishLocked(latest_->status);
      return;
    }
    ++evaluations_;
    hub_->CountEvaluation();
    for (const v1::UpdateEntry* e :
         ConfigChangesFor(*latest_, device_, known_)) {
      // A queued older version of the module is superseded.
      queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                  [&](const v1::UpdateEntry& q) {
                                    return q.module().name() ==
                                           e->module().name();
                                  }),
                   queue_.end());
      queue_.push_back(*e);
    }
  }
  if (queue_.empty()) return;
  in_flight_.Clear();
  *in_flight_.mutable_entry() = std::move(queue_.front());
  queue_.pop_front();
  if (metadata_) metadata_(sent_, in_flight_.mutable_metadata());
  writing_ = true;
  sink_->Send(&in_flight_);
}

void ConfigStream::FinishLocked(const absl::Status& status) {
  ConfigSink* sink = std::exchange(sink_, nullptr);
  if (sink != nullptr) sink->End(status);
}

void ConfigStream::WriteDone(bool ok) {
  MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) {
    FinishLocked(absl::OkStatus());  // the device went away
    return;
  }
  PumpLocked();
}

void ConfigStream::Cancel() {
  MutexLock lock(&mu_);
  FinishLocked(absl::CancelledError("the device cancelled WatchConfig"));
}

void ConfigStream::Close() {
  ConfigWatchHub::Subscription s;
  {
    MutexLock lock(&mu_);
    sink_ = nullptr;
    s = std::move(subscription_);
  }
  // Unsubscribed here, outside the stream's lock.
}

uint64_t ConfigStream::evaluations() const {
  MutexLock lock(&mu_);
  return evaluations_;
}

}  // namespace strata::server
