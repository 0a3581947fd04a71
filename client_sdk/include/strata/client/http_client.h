// The SDK's transport seam: the SDK speaks stratad's Delivery API as
// protobuf bodies over HTTP (docs/client_sdk.md, "Transports"), through an
// HttpClient. The host fills it with its own HTTPS stack (OkHttp,
// NSURLSession, Cronet ...; the C API's strata_http_transport adapts to
// this), or the ready-made one on libcurl (NewCurlHttpClient below). The gRPC
// transport is the other option, an add-on library (strata::client_grpc:
// ClientOptions::server_address without server_url); libstrata_client
// itself links no gRPC.
#ifndef STRATA_CLIENT_HTTP_CLIENT_H_
#define STRATA_CLIENT_HTTP_CLIENT_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace strata::client {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpCall {
  std::string method;  // "GET" or "POST"
  std::string url;     // absolute: ClientOptions::server_url + a path
  HttpHeaders headers;
  std::string body;
  // The whole exchange; the host's stack should give up after it.
  absl::Duration timeout = absl::Seconds(30);
  // Set for a request the SDK may stop while the server sends nothing (a
  // WatchConfig stream, answered for as long as the device listens): the
  // host should poll it and stop the request soon after it turns true
  // (Send then returns OK). A host that does not is stopped at the next
  // body bytes, which the server sends at least every
  // `stratad --http-push-heartbeat` (30 s).
  std::shared_ptr<const std::atomic<bool>> cancelled;
};

// Where the host's stack puts the response, in order: OnHead once, then
// the body in pieces.
class HttpResponseSink {
 public:
  virtual ~HttpResponseSink() = default;
  // The status code and the response's header fields (names in any case).
  virtual void OnHead(int status, const HttpHeaders& headers) = 0;
  // The next bytes of the body. False: the SDK wants no more (it refuses
  // the rest, or was cancelled); the host then stops the request and
  // returns from Send.
  virtual bool OnBody(std::string_view bytes) = 0;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Performs one request. OK when a response arrived and was handed to
  // `sink` whole (whatever its status), or the sink stopped it; an error
  // when it did not (kUnavailable: connection or TLS failure, with what
  // the stack said; kDeadlineExceeded: `call.timeout` ran out). Called
  // from several threads at once (checks, the prefetcher).
  virtual absl::Status Send(const HttpCall& call, HttpResponseSink& sink) = 0;
};

// A ready-made HttpClient on libcurl, in its own library
// (strata::client_curl, libstrata_client_curl.a) so that only hosts that
// want it link libcurl: HTTP/1.1, and HTTP/2 over TLS (ALPN); connections
// are kept and reused.
struct CurlHttpOptions {
  // PEM of the CAs to trust instead of the system's (e.g. the ca.pem of
  // `stratad init --tls-self-signed`).
  std::string ca_pem;
  // HTTP/2 without TLS (h2c, prior knowledge): needs stratad's
  // --http-cleartext-h2.
  bool http2_cleartext = false;
};
absl::StatusOr<std::unique_ptr<HttpClient>> NewCurlHttpClient(
    const CurlHttpOptions& options = {});

}  // namespace strata::client

#endif  // STRATA_CLIENT_HTTP_CLIENT_H_
