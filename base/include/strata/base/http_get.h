// A minimal HTTP/1.1 GET client over plain sockets that fails closed on
// untrusted servers: the body is capped at a byte limit and the whole
// exchange (connect, send, headers, body) has one total deadline, so a server
// that sends endless data or trickles bytes cannot hold the caller.
// No TLS, redirects or chunked encoding: for tests, loopback and trusted
// proxies; the SDK's real transport is gRPC.
#ifndef STRATA_BASE_HTTP_GET_H_
#define STRATA_BASE_HTTP_GET_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"

namespace strata {

struct HttpGetOptions {
  // Bodies longer than this are cut off: kResourceExhausted.
  uint64_t max_body_bytes = 1u << 20;
  // Response headers longer than this: kResourceExhausted.
  size_t max_header_bytes = 16 * 1024;
  // Total time for the request: kDeadlineExceeded when it runs out.
  absl::Duration timeout = absl::Seconds(30);
  // Source of time for the deadline (waits on sockets are real waits).
  // nullptr means SystemClock().
  Clock* clock = nullptr;
};

struct HttpResponse {
  int status_code = 0;
  std::string body;
};

// GETs `url` ("http://host[:port]/path", host a name or IPv4 literal).
// Errors: kInvalidArgument bad URL, kUnavailable connection failures,
// kDataLoss malformed response or a body shorter than its Content-Length,
// kResourceExhausted over a cap, kDeadlineExceeded over the deadline.
// Non-2xx answers are returned as responses, not errors.
absl::StatusOr<HttpResponse> HttpGet(std::string_view url,
                                     const HttpGetOptions& options = {});

}  // namespace strata

#endif  // STRATA_BASE_HTTP_GET_H_
