// The Delivery API over plain HTTP/1.1 and HTTP/2 (docs/architecture.md,
// "Delivery over HTTP"): the same protobuf messages as gRPC, as request and
// response bodies, so a device can reach stratad through its own HTTPS
// stack (client_sdk's transport seam) without gRPC.
//
//   POST /v1/delivery/check    body CheckRequest   -> 200 CheckResponse
//   POST /v1/delivery/report   body ReportRequest  -> 200 ReportResponse
//   GET  /v1/blobs/<sha256>    (blob_handler.h) is Download: Range from an
//                              offset resumes.
//
// Bodies are `application/x-protobuf`. A failure answers an HTTP status for
// its kind (400, 404, 412, 429 with Retry-After, 500, 503 ...), the
// absl::StatusCode's number in the `Strata-Status` header and the message
// as text/plain, so a client rebuilds the exact Status gRPC would give.
// WatchConfig stays gRPC-only (Check delivers config too).
#ifndef STRATA_SERVER_HTTP_DELIVERY_HANDLER_H_
#define STRATA_SERVER_HTTP_DELIVERY_HANDLER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "strata/server/http/http_router.h"
#include "strata/v1/delivery.pb.h"

namespace strata::server {

// What the routes call: stratad's Delivery service (server/rpc), so HTTP
// and gRPC share one implementation of limits, metrics and core calls.
class DeliveryCalls {
 public:
  virtual ~DeliveryCalls() = default;
  virtual absl::Status HandleCheck(const v1::CheckRequest& request,
                                   v1::CheckResponse* response) = 0;
  // `peer`: the connection's address (the per-connection rate limit's
  // key). On kResourceExhausted `retry_after` says when to come back.
  virtual absl::Status HandleReport(const std::string& peer,
                                    const v1::ReportRequest& request,
                                    v1::ReportResponse* response,
                                    absl::Duration* retry_after) = 0;
};

inline constexpr char kDeliveryCheckPath[] = "/v1/delivery/check";
inline constexpr char kDeliveryReportPath[] = "/v1/delivery/report";
inline constexpr char kProtobufContentType[] = "application/x-protobuf";

void AddDeliveryRoutes(HttpRouter& router, DeliveryCalls* calls);

// The HTTP status a Status maps to (200 for OK).
int HttpStatusFor(absl::StatusCode code);

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_DELIVERY_HANDLER_H_
