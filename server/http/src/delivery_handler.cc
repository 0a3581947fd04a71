#include "strata/server/http/delivery_handler.h"

#include <algorithm>
#include <cstdint>
#include <optional>

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
             });
}

}  // namespace strata::server
