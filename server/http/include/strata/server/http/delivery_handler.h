// The Delivery API over plain HTTP/1.1 and HTTP/2 (docs/architecture.md,
// "Delivery over HTTP"): the same protobuf messages as gRPC, as request and
// response bodies, so a device can reach stratad through its own HTTPS
// stack (client_sdk's transport seam) without gRPC.
//
//   POST /v1/delivery/check    body CheckRequest   -> 200 CheckResponse
//   POST /v1/delivery/report   body ReportRequest  -> 200 ReportResponse
//   POST /v1/delivery/watch-config  body WatchConfigRequest
//                              -> 200, then ConfigEvents as they happen
//   GET  /v1/blobs/<sha256>    (blob_handler.h) is Download: Range from an
//                              offset resumes.
//
// Bodies are `application/x-protobuf`. A failure answers an HTTP status for
// its kind (400, 404, 412, 429 with Retry-After, 500, 503 ...), the
// absl::StatusCode's number in the `Strata-Status` header and the message
// as text/plain, so a client rebuilds the exact Status gRPC would give.
//
// WatchConfig's answer is a stream (`application/x-strata-events`): each
// ConfigEvent as a 4-byte big-endian length and then the serialized
// message, written as the server decides it, for as long as the client
// stays; a length of 0 carries no event: the server sends one at once when
// the device lacks nothing (so the head goes out), and as a heartbeat on a
// stream idle for the port's push heartbeat (--http-push-heartbeat,
// default 30 s; over HTTP/1.1 the same scan finds clients that closed their
// end). The body
// ends when the server stops (reconnect with backoff, as on gRPC's
// UNAVAILABLE). Refusals before the stream starts are answered like Check's
// (429 when the stream slots are full), and so is a stream that ends while
// it opens (503 when the server is stopping). One connection carries many
// streams over HTTP/2, and the server writes the events of all of a
// connection's streams together: the cheap way to push to a fleet
// (docs/benchmarks.md).
#ifndef STRATA_SERVER_HTTP_DELIVERY_HANDLER_H_
#define STRATA_SERVER_HTTP_DELIVERY_HANDLER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/server/core/config_watch.h"
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
  // One WatchConfig stream, seen from the route: the service's stream on
  // the route's sink. Destroying it ends the stream (no call to the sink
  // after) and frees its slot.
  class WatchCall {
   public:
    virtual ~WatchCall() = default;
    // The event last sent through the sink was written.
    virtual void WriteDone() = 0;
    // The client went away.
    virtual void Cancel() = 0;
  };
  // Admits a WatchConfig stream (the same checks, slots and metrics as
  // gRPC's) and opens it on `sink`, which may be sent the first event
  // before this returns. `sink` must outlive the call.
  virtual absl::StatusOr<std::unique_ptr<WatchCall>> HandleWatch(
      const v1::WatchConfigRequest& request, ConfigSink* sink) = 0;
};

inline constexpr char kDeliveryCheckPath[] = "/v1/delivery/check";
inline constexpr char kDeliveryReportPath[] = "/v1/delivery/report";
inline constexpr char kDeliveryWatchConfigPath[] = "/v1/delivery/watch-config";
inline constexpr char kEventStreamContentType[] = "application/x-strata-events";
inline constexpr char kProtobufContentType[] = "application/x-protobuf";

void AddDeliveryRoutes(HttpRouter& router, DeliveryCalls* calls);

// The HTTP status a Status maps to (200 for OK).
int HttpStatusFor(absl::StatusCode code);

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_DELIVERY_HANDLER_H_
