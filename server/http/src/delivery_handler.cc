#include "strata/server/http/delivery_handler.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>

#include "strata/base/mutex.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

HttpResponse Failure(const absl::Status& s, absl::Duration retry_after) {
  HttpResponse r =
      TextResponse(HttpStatusFor(s.code()), std::string(ToStd(s.message())));
  r.headers["Strata-Status"] = std::to_string(static_cast<int>(s.code()));
  if (s.code() == absl::StatusCode::kResourceExhausted &&
      retry_after > absl::ZeroDuration()) {
    r.headers["Retry-After"] = std::to_string(std::max<int64_t>(
        1, absl::ToInt64Seconds(absl::Ceil(retry_after, absl::Seconds(1)))));
  }
  return r;
}

// A protobuf request body, or the response refusing it.
template <typename Message>
std::optional<HttpResponse> Parse(const HttpRequest& req, Message* message) {
  auto type = req.headers.find("content-type");
  if (type != req.headers.end() &&
      type->second.substr(0, type->second.find(';')) != kProtobufContentType) {
    HttpResponse r =
        Failure(absl::InvalidArgumentError(StrCat(
                    "the body must be a serialized ", message->GetTypeName(),
                    " with Content-Type: ", kProtobufContentType, ", not ",
                    type->second)),
                absl::ZeroDuration());
    r.status = 415;
    return r;
  }
  if (!message->ParseFromString(req.body)) {
    return Failure(
        absl::InvalidArgumentError(
            StrCat("the body is not a serialized ", message->GetTypeName())),
        absl::ZeroDuration());
  }
  return std::nullopt;
}

template <typename Message>
HttpResponse Protobuf(const Message& message) {
  HttpResponse r;
  r.headers["Content-Type"] = kProtobufContentType;
  r.headers["Cache-Control"] = "no-store";
  r.body = message.SerializeAsString();
  return r;
}

// A ConfigEvent as the stream carries it: length (4 bytes, big-endian),
// then the message.
std::string EventFrame(const v1::ConfigEvent& event) {
  const size_t n = event.ByteSizeLong();
  std::string frame(4 + n, '\0');
  for (int i = 0; i < 4; ++i)
    frame[i] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);
  event.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(frame.data() + 4));
  return frame;
}

// One WatchConfig stream over HTTP: the service's stream writes through
// this sink into the response's push stream. Kept alive by the push
// stream's close callback until the response is over.
class HttpWatch final : public ConfigSink {
 public:
  // ConfigSink: called by the stream under its lock, on any thread.
  void Send(const v1::ConfigEvent* event) override {
    sent_any_.store(true);
    push_->Write(EventFrame(*event), [this] {
      if (call_ != nullptr) call_->WriteDone();
    });
  }
  void End(const absl::Status& status) override {
    {
      MutexLock lock(&mu_);
      if (opening_) {
        // Ended while it opened (the server is stopping, the store could
        // not be read): the route answers this status instead of a stream.
        ended_while_opening_ = status;
        return;
      }
    }
    push_->End();
  }
  // The open is over; what the stream ended with meanwhile, if it did.
  std::optional<absl::Status> Opened() {
    MutexLock lock(&mu_);
    opening_ = false;
    return ended_while_opening_;
  }

  void set_push(std::shared_ptr<HttpPushStream> push) {
    push_ = std::move(push);
  }
  void set_call(std::unique_ptr<DeliveryCalls::WatchCall> call) {
    call_ = std::move(call);
  }
  const std::shared_ptr<HttpPushStream>& push() const { return push_; }
  bool sent_any() const { return sent_any_.load(); }
  // The response is over (the loop thread): the stream is cancelled and
  // closed; nothing calls the sink after this.
  void Closed() {
    if (call_ != nullptr) call_->Cancel();
    call_.reset();
  }

 private:
  std::shared_ptr<HttpPushStream> push_;
  std::unique_ptr<DeliveryCalls::WatchCall> call_;
  std::atomic<bool> sent_any_{false};
  Mutex mu_;
  bool opening_ ABSL_GUARDED_BY(mu_) = true;
  std::optional<absl::Status> ended_while_opening_ ABSL_GUARDED_BY(mu_);
};

HttpResponse WatchConfig(DeliveryCalls* calls, const HttpRequest& req) {
  v1::WatchConfigRequest request;
  if (auto refused = Parse(req, &request)) return *refused;
  auto watch = std::make_shared<HttpWatch>();
  // The close callback holds the watch; the watch holds the push stream
  // (the cycle ends when the callback runs, or below when refused).
  // Its heartbeat is an empty frame.
  watch->set_push(HttpPushStream::Create(
      [watch]() mutable {
        watch->Closed();
        watch->set_push(nullptr);
        watch.reset();
      },
      std::string(4, '\0')));
  absl::StatusOr<std::unique_ptr<DeliveryCalls::WatchCall>> call =
      calls->HandleWatch(request, watch.get());
  if (!call.ok()) {
    watch->set_push(nullptr);
    return Failure(call.status(),
                   call.status().code() == absl::StatusCode::kResourceExhausted
                       ? absl::Seconds(1)
                       : absl::ZeroDuration());
  }
  const std::optional<absl::Status> ended = watch->Opened();
  if (ended.has_value() && !ended->ok()) {
    // The status, as a refusal is answered (the call, destroyed on
    // return, frees the slot), not a 200 with an empty body.
    watch->set_push(nullptr);
    return Failure(*ended, absl::ZeroDuration());
  }
  watch->set_call(*std::move(call));
  HttpResponse r;
  r.headers["Content-Type"] = kEventStreamContentType;
  r.headers["Cache-Control"] = "no-store";
  r.push = watch->push();
  // Nothing to say yet: an empty frame, so that the head goes out now.
  if (!watch->sent_any()) r.push->Write(std::string(4, '\0'), nullptr);
  if (ended.has_value()) r.push->End();  // ended cleanly while opening
  return r;
}

}  // namespace

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kFailedPrecondition:
      return 412;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

void AddDeliveryRoutes(HttpRouter& router, DeliveryCalls* calls) {
  router
      .Exact(kDeliveryCheckPath, {"POST"},
             [calls](const HttpRequest& req, std::string_view) {
               v1::CheckRequest request;
               if (auto refused = Parse(req, &request)) return *refused;
               v1::CheckResponse response;
               const absl::Status s = calls->HandleCheck(request, &response);
               if (!s.ok()) return Failure(s, absl::ZeroDuration());
               return Protobuf(response);
             })
      .Exact(kDeliveryReportPath, {"POST"},
             [calls](const HttpRequest& req, std::string_view) {
               v1::ReportRequest request;
               if (auto refused = Parse(req, &request)) return *refused;
               v1::ReportResponse response;
               absl::Duration retry = absl::ZeroDuration();
               const absl::Status s =
                   calls->HandleReport(req.peer, request, &response, &retry);
               if (!s.ok()) return Failure(s, retry);
               return Protobuf(response);
             })
      .Exact(kDeliveryWatchConfigPath, {"POST"},
             [calls](const HttpRequest& req, std::string_view) {
               return WatchConfig(calls, req);
             });
}

}  // namespace strata::server
