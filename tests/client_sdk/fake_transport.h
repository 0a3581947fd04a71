// A Transport fake for the SDK's tests: serves a plan and blobs from
// memory, can cut download streams, and records reports.
#ifndef STRATA_TESTS_CLIENT_SDK_FAKE_TRANSPORT_H_
#define STRATA_TESTS_CLIENT_SDK_FAKE_TRANSPORT_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "strata/base/env.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "transport.h"

namespace strata::client {

// The server side of WatchConfig streams, driven by the test. Shared by
// copies of a FakeTransport (the same server across client restarts).
class FakeWatch {
 public:
  explicit FakeWatch(Clock* clock = nullptr) : clock_(clock) {}

  // Sends `entry` on the open stream (or the next one).
  void Push(const v1::UpdateEntry& entry) {
    v1::ConfigEvent e;
    *e.mutable_entry() = entry;
    Push(std::move(e));
  }
  // An event with its metadata files.
  void Push(v1::ConfigEvent event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  // The open stream breaks (UNAVAILABLE) once the pushes so far are sent.
  void Break() {
    std::lock_guard<std::mutex> lock(mu_);
    break_ = true;
    cv_.notify_all();
  }
  // The next `n` attempts to open a stream fail at once.
  void RefuseNext(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_ = n;
  }
  // Waits until `n` streams were opened and everything pushed was handed
  // to the client (and handled). The bound is a hang guard only: false
  // after kHangGuard.
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kHangGuard, [&] {
      return requests_.size() >= n && events_.empty() && in_flight_ == 0;
    });
  }
  // Waits until a stream is open (the client is attached and waiting for
  // events), or until none is; false after kHangGuard.
  bool WaitUntilOpen() { return WaitUntilOpenIs(true); }
  bool WaitUntilClosed() { return WaitUntilOpenIs(false); }
  std::vector<v1::WatchConfigRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // The Env clock's time at each attempt.
  std::vector<absl::Time> opened_at() {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_at_;
  }
  bool open() {
    std::lock_guard<std::mutex> lock(mu_);
    return open_;
  }

  // Turns a hang into a failure; no test waits this long when it passes.
  static constexpr std::chrono::seconds kHangGuard{120};

  absl::Status Serve(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = false;  // a late cancel of an earlier stream
      requests_.push_back(request);
      opened_at_.push_back(clock_ != nullptr ? clock_->Now()
                                             : absl::InfinitePast());
      cv_.notify_all();
      if (refuse_ > 0) {
        --refuse_;
        return absl::UnavailableError("connection refused by the test");
      }
    }
    // Attach and Detach without mu_ held: Cancel() calls in with its own
    // lock held and then takes mu_.
    if (!cancel.Attach([this] {
          std::lock_guard<std::mutex> lock(mu_);
          cancelled_ = true;
          cv_.notify_all();
        })) {
      return absl::CancelledError("cancelled before opening");
    }
    absl::Status end;
    {
      std::unique_lock<std::mutex> lock(mu_);
      open_ = true;
      cv_.notify_all();
      for (;;) {
        cv_.wait(lock,
                 [&] { return cancelled_ || !events_.empty() || break_; });
        if (cancelled_) {
          end = absl::CancelledError("cancelled");
          break;
        }
        if (!events_.empty()) {
          v1::ConfigEvent e = std::move(events_.front());
          events_.pop_front();
          ++in_flight_;
          lock.unlock();
          absl::Status s = on_event(e);
          lock.lock();
          --in_flight_;
          cv_.notify_all();
          if (!s.ok()) {
            end = s;
            break;
          }
          continue;
        }
        break_ = false;
        end = absl::UnavailableError("stream broken by the test");
        break;
      }
      open_ = false;
      cv_.notify_all();
    }
    cancel.Detach();
    return end;
  }

 private:
  bool WaitUntilOpenIs(bool open) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kHangGuard, [&] { return open_ == open; });
  }

  Clock* clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::ConfigEvent> events_;
  std::vector<v1::WatchConfigRequest> requests_;
  std::vector<absl::Time> opened_at_;
  int refuse_ = 0;
  int in_flight_ = 0;
  bool break_ = false;
  bool cancelled_ = false;
  bool open_ = false;
};

class FakeTransport : public Transport {
 public:
  v1::CheckResponse response;
  std::map<std::string, std::string> blobs;
  std::string extra_bytes;  // appended to every download (endless data)
  absl::Status check_error;
  // Cut each of the next `cuts` download streams after `cut_after` bytes.
  int cuts = 0;
  uint64_t cut_after = 0;
  std::vector<uint64_t> download_offsets;
  std::vector<std::string> downloaded;  // hashes asked for
  absl::Status report_error;
  std::vector<v1::ReportEvent> reports;            // acknowledged ones
  std::vector<v1::ReportRequest> report_requests;  // every one received
  // The next `lose_acks` reports reach the server but their answer is lost.
  int lose_acks = 0;
  v1::CheckRequest last_request;
  std::shared_ptr<FakeWatch> watch = std::make_shared<FakeWatch>();
  // Called on each Check with a copy of `response` before it is answered
  // (e.g. to send only the metadata newer than request.trusted, as stratad
  // does).
  std::function<void(const v1::CheckRequest&, v1::CheckResponse&)> on_check;

  absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) override {
    last_request = request;
    if (!check_error.ok()) return check_error;
    v1::CheckResponse r = response;
    if (on_check) on_check(request, r);
    return r;
  }
  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    download_offsets.push_back(offset);
    downloaded.push_back(sha256);
    auto it = blobs.find(sha256);
    if (it == blobs.end()) return absl::NotFoundError("no blob");
    std::string data = it->second.substr(offset) + extra_bytes;
    const bool cut = cuts > 0;
    if (cut) --cuts;
    uint64_t sent = 0;
    for (size_t off = 0; off < data.size(); off += 4) {
      if (cut && sent >= cut_after) {
        return absl::UnavailableError("stream cut by the test");
      }
      v1::DownloadChunk chunk;
      chunk.set_offset(offset + off);
      chunk.set_data(data.substr(off, 4));
      sent += chunk.data().size();
      STRATA_RETURN_IF_ERROR(sink(chunk));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) override {
    if (!report_error.ok()) return report_error;
    report_requests.push_back(request);
    if (lose_acks > 0) {
      --lose_acks;
      return absl::DeadlineExceededError("the answer was lost");
    }
    for (const auto& e : request.events()) reports.push_back(e);
    v1::ReportResponse r;
    r.set_accepted(request.events_size());
    return r;
  }
  absl::Status WatchConfig(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event)
      override {
    return watch->Serve(request, cancel, on_event);
  }
  void Serve(const std::vector<v1::UpdateEntry>& entries) {
    response.mutable_plan()->clear_updates();
    for (const auto& e : entries) *response.mutable_plan()->add_updates() = e;
  }
  int CountReports(v1::ReportEvent::Kind kind) const {
    int n = 0;
    for (const auto& e : reports) n += e.kind() == kind;
    return n;
  }
};

// The app restarts: `*client` is made anew with `options` over a
// FakeTransport holding what `*transport` held (the same server), and
// `*transport` then points at it.
inline absl::Status RestartClient(ClientOptions options,
                                  FakeTransport** transport,
                                  std::unique_ptr<Client>* client) {
  std::optional<FakeTransport> saved;
  if (*transport != nullptr) saved = **transport;
  client->reset();
  auto fresh = std::make_unique<FakeTransport>();
  if (saved.has_value()) *fresh = *saved;
  *transport = fresh.get();
  absl::StatusOr<std::unique_ptr<Client>> made =
      Client::CreateWithTransport(std::move(options), std::move(fresh));
  if (!made.ok()) {
    *transport = nullptr;
    return made.status();
  }
  *client = *std::move(made);
  return absl::OkStatus();
}

inline v1::UpdateEntry Entry(v1::Layer layer, const std::string& name,
                             const std::string& version,
                             const std::string& content, uint64_t seq,
                             bool inline_content, uint64_t release_id = 0) {
  v1::UpdateEntry e;
  e.mutable_module()->set_layer(layer);
  e.mutable_module()->set_name(name);
  e.set_release_sequence(seq);
  e.set_release_id(release_id);
  auto* st = e.mutable_statement();
  st->set_app_id("wallet");
  *st->mutable_module() = e.module();
  st->set_version(version);
  st->set_content_sha256(Sha256::HexHash(content));
  st->set_size(content.size());
  e.mutable_full()->set_sha256(st->content_sha256());
  e.mutable_full()->set_size(content.size());
  if (inline_content) e.set_inline_content(content);
  return e;
}

}  // namespace strata::client

#endif  // STRATA_TESTS_CLIENT_SDK_FAKE_TRANSPORT_H_
