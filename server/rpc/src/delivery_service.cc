#include <algorithm>
#include <limits>
#include <optional>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

#include "services.h"
#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/grpc_status.h"

namespace strata::server {

namespace {

// The rate limiters' and stream slots' key for a device: fixed size however
// long the ids a device sends.
std::string DeviceKey(const v1::DeviceContext& device) {
  Sha256 h;
  h.Update(device.app_id());
  h.Update(std::string_view("\0", 1));
  h.Update(device.device_id());
  const Sha256Digest d = h.Finish();
  return std::string(reinterpret_cast<const char*>(d.data()), 16);
}

// An id as it appears in a message: at most 64 characters of it.
std::string Shown(const std::string& id) {
  return id.size() <= 64 ? id : StrCat(id.substr(0, 64), "...");
}

// "at most 5 a second (bursts of 50)".
std::string Describe(const RateLimit& l) {
  return StrCat("at most ", l.per_second, " a second (bursts of ", l.burst,
                ")");
}

// RESOURCE_EXHAUSTED saying when to retry.
absl::Status LimitedStatus(const std::string& what, absl::Duration wait) {
  const int64_t ms = std::max<int64_t>(
      1, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))));
  return absl::ResourceExhaustedError(StrCat(what, "; retry in ", ms, " ms"));
}

// Refused Report: the in-flight bound (`bound`) is full.
absl::Status ReportsBehind(size_t bound) {
  return LimitedStatus(
      StrCat("stratad has ", bound,
             " Reports waiting for their write (--max-reports-in-flight)"),
      absl::Seconds(1));
}

// The same as a gRPC status, with gRPC's retry pushback.
grpc::Status Limited(grpc::ServerContextBase* context,
                     const absl::Status& limited, absl::Duration wait) {
  const int64_t ms = std::max<int64_t>(
      1, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))));
  context->AddTrailingMetadata("grpc-retry-pushback-ms", std::to_string(ms));
  return ToGrpcStatus(limited);
}

// gRPC runs a reactor's reactions (OnWriteDone, OnCancel, then OnDone) on
// its own threads, after the handler that made the reactor returned it, and
// OnDone after the others. gRPC orders them inside Debian's uninstrumented
// gRPC and Abseil, where ThreadSanitizer cannot see it, so under TSan
// (`./strata.sh test --tsan`, docs/testing.md, issue 23) these tell it:
// the reactor is handed over when the handler has made it, each reaction
// takes it over first and hands it back when it ends. No code otherwise.
void HandOverToGrpc(const void* reactor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(reactor));
#else
  (void)reactor;
#endif
}
void TakeOverFromGrpc(const void* reactor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(reactor));
#else
  (void)reactor;
#endif
}

// A WatchConfig call refused before it started.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::ConfigEvent> {
 public:
  explicit RefusedWatch(grpc::Status status) {
    Finish(std::move(status));
    HandOverToGrpc(this);
  }
  void OnDone() override {
    TakeOverFromGrpc(this);
    delete this;
  }
};

// One WatchConfig stream: adapts the core's ConfigStream (what to send,
// when, one event in flight) to gRPC's write reactor. Holds its stream
// slot until gRPC is done with the call.
class WatchReactor final : public grpc::ServerWriteReactor<v1::ConfigEvent>,
                           public ConfigSink {
 public:
  WatchReactor(Metrics* metrics, std::optional<StreamLimiter::Slot> slot)
      : metrics_(metrics), slot_(std::move(slot)) {}
  void Start(DeliveryCore* core, const v1::WatchConfigRequest& request) {
    stream_ = core->WatchConfig(request, this);
    HandOverToGrpc(this);
  }
  // ConfigSink: called by the stream under its lock.
  void Send(const v1::ConfigEvent* event) override { StartWrite(event); }
  void End(const absl::Status& status) override {
    Finish(ToGrpcStatus(status));
  }
  void OnWriteDone(bool ok) override {
    TakeOverFromGrpc(this);
    if (ok) metrics_->Increment("strata_config_pushes_total");
    stream_->WriteDone(ok);
    HandOverToGrpc(this);
  }
  void OnCancel() override {
    TakeOverFromGrpc(this);
    stream_->Cancel();
    HandOverToGrpc(this);
  }
  void OnDone() override {
    TakeOverFromGrpc(this);
    stream_->Close();  // unsubscribed; the stream never calls us again
    delete this;       // frees the slot
  }

 private:
  Metrics* metrics_;
  std::optional<StreamLimiter::Slot> slot_;
  std::shared_ptr<ConfigStream> stream_;
};

// One WatchConfig stream over HTTP (delivery_handler.h): the core's
// ConfigStream on the route's sink, and its slot.
class HttpWatchCall final : public DeliveryCalls::WatchCall {
 public:
  HttpWatchCall(Metrics* metrics, std::optional<StreamLimiter::Slot> slot)
      : metrics_(metrics), slot_(std::move(slot)) {}
  ~HttpWatchCall() override { stream_->Close(); }
  void Start(DeliveryCore* core, const v1::WatchConfigRequest& request,
             ConfigSink* sink) {
    stream_ = core->WatchConfig(request, sink);
  }
  void WriteDone() override {
    metrics_->Increment("strata_config_pushes_total");
    stream_->WriteDone(true);
  }
  void Cancel() override { stream_->Cancel(); }

 private:
  Metrics* metrics_;
  std::optional<StreamLimiter::Slot> slot_;
  std::shared_ptr<ConfigStream> stream_;
};

}  // namespace

void DeliveryService::SetLimits(Clock* clock, const DeliveryLimits& limits) {
  report_per_device_ =
      limits.report_per_device.enabled()
          ? std::make_unique<RateLimiter>(clock, limits.report_per_device)
          : nullptr;
  report_per_connection_ =
      limits.report_per_connection.enabled()
          ? std::make_unique<RateLimiter>(clock, limits.report_per_connection)
          : nullptr;
  watch_streams_ = std::make_unique<StreamLimiter>(limits.watch_streams);
  max_reports_in_flight_ = limits.max_reports_in_flight;
}

size_t DeliveryService::watch_streams_open() const {
  return watch_streams_ == nullptr ? 0 : watch_streams_->open();
}

size_t DeliveryService::rate_limiter_keys(bool per_device) const {
  const RateLimiter* l =
      per_device ? report_per_device_.get() : report_per_connection_.get();
  return l == nullptr ? 0 : l->size();
}

absl::Status DeliveryService::AdmitReport(const std::string& peer,
                                          const v1::DeviceContext& device,
                                          absl::Duration* wait) {
  if (report_per_connection_ != nullptr) {
    if (std::optional<absl::Duration> w =
            report_per_connection_->Acquire(peer)) {
      metrics_->Increment("strata_rate_limited_total",
                          "rpc=\"Report\",scope=\"connection\"");
      *wait = *w;
      return LimitedStatus(
          StrCat("too many Report calls on this connection (", peer,
                 "): ", Describe(report_per_connection_->limit())),
          *w);
    }
  }
  if (report_per_device_ != nullptr) {
    if (std::optional<absl::Duration> w =
            report_per_device_->Acquire(DeviceKey(device))) {
      metrics_->Increment("strata_rate_limited_total",
                          "rpc=\"Report\",scope=\"device\"");
      *wait = *w;
      return LimitedStatus(
          StrCat("too many Report calls from device ",
                 Shown(device.device_id()), " of app ", Shown(device.app_id()),
                 ": ", Describe(report_per_device_->limit()),
                 "; events stay queued on the device"),
          *w);
    }
  }
  return absl::OkStatus();
}

absl::Status DeliveryService::WatchRefused(const StreamLimiter::Slot& slot,
                                           const v1::DeviceContext& device) {
  switch (slot.refused()) {
    case StreamLimiter::Refused::kNo:
      return absl::OkStatus();
    case StreamLimiter::Refused::kServer:
      metrics_->Increment("strata_config_watch_refused_total",
                          "scope=\"server\"");
      return absl::ResourceExhaustedError(
          StrCat("this server already holds its maximum of ",
                 watch_streams_->limits().max_total,
                 " WatchConfig streams (--max-watch-streams); retry later "
                 "with backoff; Check still delivers config"));
    case StreamLimiter::Refused::kKey:
      metrics_->Increment("strata_config_watch_refused_total",
                          "scope=\"device\"");
      return absl::ResourceExhaustedError(
          StrCat("device ", Shown(device.device_id()), " of app ",
                 Shown(device.app_id()), " already holds ",
                 watch_streams_->limits().max_per_key,
                 " WatchConfig streams, the most one device may "
                 "(--max-watch-streams-per-device); close one, or retry "
                 "after the old stream ended"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StreamLimiter::Slot>> DeliveryService::AdmitWatch(
    const v1::DeviceContext& device) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", device.app_id()));
  // A stream holds no thread: a slot, a subscription to its app's changes
  // and what its device has.
  std::optional<StreamLimiter::Slot> slot;
  if (watch_streams_ != nullptr) {
    slot.emplace(watch_streams_->Acquire(DeviceKey(device)));
    STRATA_RETURN_IF_ERROR(WatchRefused(*slot, device));
  }
  metrics_->Increment("strata_config_watch_streams_total");
  return slot;
}

grpc::Status DeliveryService::DoCheck(const v1::CheckRequest* request,
                                      v1::CheckResponse* response) {
  return ToGrpcStatus(core_->Check(*request, response));
}

grpc::Status DeliveryService::DoDownload(
    grpc::ServerContext* context, const v1::DownloadRequest* request,
    grpc::ServerWriter<v1::DownloadChunk>* writer) {
  if (!IsSha256Hex(request->sha256())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "sha256 must be 64 lowercase hex characters");
  }
  absl::StatusOr<std::optional<BlobManifest>> manifest =
      core_->store()->GetBlobManifest(request->sha256());
  if (!manifest.ok()) return ToGrpcStatus(manifest.status());
  if (!manifest->has_value()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "no blob with that sha256");
  }
  const BlobManifest& m = **manifest;
  const uint64_t offset = request->offset();
  if (offset > m.size) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        "offset is past the end of the blob");
  }
  const uint64_t step = core_->download_chunk_bytes();
  absl::Status s =
      StreamBlob(*core_->store(), m, offset, m.size,
                 [&](uint64_t at, std::string_view piece) {
                   for (uint64_t from = 0; from < piece.size(); from += step) {
                     if (context->IsCancelled()) return false;
                     v1::DownloadChunk chunk;
                     chunk.set_offset(at + from);
                     chunk.set_total_size(m.size);
                     chunk.set_data(std::string(piece.substr(from, step)));
                     if (!writer->Write(chunk))
                       return false;  // client went away
                   }
                   return true;
                 });
  return ToGrpcStatus(s);
}

grpc::ServerUnaryReactor* DeliveryService::Check(
    grpc::CallbackServerContext* context, const v1::CheckRequest* request,
    v1::CheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(
      Timed(metrics_, "Check", [&] { return DoCheck(request, response); }));
  return reactor;
}

grpc::Status DeliveryService::Download(
    grpc::ServerContext* context, const v1::DownloadRequest* request,
    grpc::ServerWriter<v1::DownloadChunk>* writer) {
  return Timed(metrics_, "Download", [&] {
    grpc::Status s = DoDownload(context, request, writer);
    return s;
  });
}

grpc::ServerWriteReactor<v1::ConfigEvent>* DeliveryService::WatchConfig(
    grpc::CallbackServerContext*, const v1::WatchConfigRequest* request) {
  absl::StatusOr<std::optional<StreamLimiter::Slot>> slot =
      AdmitWatch(request->device());
  if (!slot.ok()) return new RefusedWatch(ToGrpcStatus(slot.status()));
  auto* reactor = new WatchReactor(metrics_, *std::move(slot));
  reactor->Start(core_, *request);
  return reactor;
}

absl::StatusOr<std::unique_ptr<DeliveryCalls::WatchCall>>
DeliveryService::HandleWatch(const v1::WatchConfigRequest& request,
                             ConfigSink* sink) {
  absl::StatusOr<std::optional<StreamLimiter::Slot>> slot =
      AdmitWatch(request.device());
  if (!slot.ok()) return slot.status();
  auto call = std::make_unique<HttpWatchCall>(metrics_, *std::move(slot));
  call->Start(core_, request, sink);
  return call;
}

grpc::ServerUnaryReactor* DeliveryService::Report(
    grpc::CallbackServerContext* context, const v1::ReportRequest* request,
    v1::ReportResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Off the callback threads: the write waits for an fsync. The call's
  // objects live until Finish.
  auto timer = std::make_shared<RpcTimer>(metrics_, "Report");
  if (!EnterReport()) {
    const grpc::Status s = Limited(
        context, ReportsBehind(max_reports_in_flight_), absl::Seconds(1));
    timer->set_code(std::to_string(s.error_code()));
    reactor->Finish(s);
    return reactor;
  }
  report_pool_.Run([this, context, request, response, reactor, timer] {
    const grpc::Status s = DoReport(context, request, response);
    timer->set_code(s.ok() ? "OK" : std::to_string(s.error_code()));
    // Counted out before the answer leaves: a device that has its answer
    // finds the slot free.
    reports_in_flight_.fetch_sub(1);
    reactor->Finish(s);
  });
  return reactor;
}

grpc::Status DeliveryService::DoReport(grpc::ServerContextBase* context,
                                       const v1::ReportRequest* request,
                                       v1::ReportResponse* response) {
  absl::Duration wait = absl::ZeroDuration();
  const absl::Status s =
      DoReportCall(context->peer(), *request, response, &wait);
  if (s.code() == absl::StatusCode::kResourceExhausted) {
    return Limited(context, s, wait);
  }
  return ToGrpcStatus(s);
}

bool DeliveryService::EnterReport() {
  const size_t bound = max_reports_in_flight_ == 0
                           ? std::numeric_limits<size_t>::max()
                           : max_reports_in_flight_;
  if (reports_in_flight_.fetch_add(1) < bound) return true;
  reports_in_flight_.fetch_sub(1);
  // The server's writes are behind: nothing is stored, and the SDK keeps
  // the events for its next flush.
  metrics_->Increment("strata_rate_limited_total",
                      "rpc=\"Report\",scope=\"server\"");
  return false;
}

absl::Status DeliveryService::DoReportCall(const std::string& peer,
                                           const v1::ReportRequest& request,
                                           v1::ReportResponse* response,
                                           absl::Duration* wait) {
  STRATA_RETURN_IF_ERROR(AdmitReport(peer, request.device(), wait));
  ReportStats stats;
  absl::StatusOr<v1::ReportResponse> result = core_->Report(request, &stats);
  if (!result.ok()) return result.status();
  for (const auto& e : request.events()) {
    metrics_->Increment(
        "strata_report_events_total",
        StrCat("kind=\"", v1::ReportEvent::Kind_Name(e.kind()), "\""));
  }
  // What did not move release health, and why.
  if (result->duplicates() > 0) {
    metrics_->Increment("strata_report_duplicate_events_total", "",
                        result->duplicates());
  }
  if (result->not_counted() > 0) {
    metrics_->Increment("strata_report_not_counted_events_total",
                        StrCat("reason=\"", stats.not_counted_reason, "\""),
                        result->not_counted());
  }
  if (stats.repeated > 0) {
    metrics_->Increment("strata_report_repeated_device_events_total", "",
                        stats.repeated);
  }
  *response = *std::move(result);
  return absl::OkStatus();
}

absl::Status DeliveryService::HandleCheck(const v1::CheckRequest& request,
                                          v1::CheckResponse* response) {
  RpcTimer timer(metrics_, "http.Check");
  const absl::Status s = core_->Check(request, response);
  timer.set_code(s.ok() ? "OK" : std::to_string(static_cast<int>(s.code())));
  return s;
}

absl::Status DeliveryService::HandleReport(const std::string& peer,
                                           const v1::ReportRequest& request,
                                           v1::ReportResponse* response,
                                           absl::Duration* retry_after) {
  RpcTimer timer(metrics_, "http.Report");
  absl::Status s;
  if (!EnterReport()) {
    *retry_after = absl::Seconds(1);
    s = ReportsBehind(max_reports_in_flight_);
  } else {
    s = DoReportCall(peer, request, response, retry_after);
    reports_in_flight_.fetch_sub(1);
  }
  timer.set_code(s.ok() ? "OK" : std::to_string(static_cast<int>(s.code())));
  return s;
}

}  // namespace strata::server
