// How the SDK talks to the server. The gRPC implementation is the real one;
// tests may put a fake behind this seam.
#ifndef STRATA_CLIENT_SRC_TRANSPORT_H_
#define STRATA_CLIENT_SRC_TRANSPORT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "strata/base/mutex.h"
#include "strata/client/client.h"
#include "strata/client/http_client.h"
#include "strata/v1/delivery.pb.h"

namespace strata::client {

// Lets one thread end a stream that another thread is reading: the reader
// attaches a function that cancels its call (e.g. ClientContext::TryCancel)
// for as long as the call lives; Cancel() runs it, and makes every later
// Attach() fail until Reset().
class StreamCancel {
 public:
  void Cancel() {
    MutexLock lock(&mu_);
    cancelled_ = true;
    if (cancel_) cancel_();
  }
  void Reset() {
    MutexLock lock(&mu_);
    cancelled_ = false;
  }
  bool cancelled() const {
    MutexLock lock(&mu_);
    return cancelled_;
  }
  // The reader's side. `cancel` must not block, and must not take locks the
  // reader holds while calling Attach() or Detach(). False (nothing
  // attached) when already cancelled.
  bool Attach(std::function<void()> cancel) {
    MutexLock lock(&mu_);
    if (cancelled_) return false;
    cancel_ = std::move(cancel);
    return true;
  }
  // After Detach() returns, the attached function is not running and is
  // never called again.
  void Detach() {
    MutexLock lock(&mu_);
    cancel_ = nullptr;
  }

 private:
  mutable Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> cancel_ ABSL_GUARDED_BY(mu_);
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) = 0;
  // Streams blob `sha256` from `offset`, handing each chunk to `sink`.
  virtual absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink) = 0;
  // Sends queued events; OK means the server stored them (acknowledged).
  virtual absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) = 0;
  // Opens Delivery.WatchConfig and hands every pushed event to `on_event`
  // (on the calling thread) until the stream ends: OK when the server ended
  // it, the stream's error when it broke, `on_event`'s error, or
  // kCancelled after `cancel.Cancel()`.
  virtual absl::Status WatchConfig(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event) {
    (void)request;
    (void)cancel;
    (void)on_event;
    return absl::UnimplementedError("this transport has no WatchConfig");
  }
};

// How the gRPC transport secures its channel (ClientOptions' TLS fields).
struct TransportSecurity {
  std::string ca_pem;           // "": the system's CAs
  std::string server_cert_pem;  // the pinned leaf certificate, if any
  bool plaintext = false;       // loopback addresses only
};

// kInvalidArgument for plaintext to a non-loopback address or a CA or
// pinned certificate that is not PEM. Calls that fail in the TLS handshake
// return kUnavailable saying what went wrong.
// Defined by the add-on strata::client_grpc (grpc_transport.cc), which
// alone links gRPC. Weak: when a program does not link the add-on, this
// function's address is null and Client::Create refuses a gRPC address
// (GrpcTransportLinked()).
[[gnu::weak]] absl::StatusOr<std::unique_ptr<Transport>> NewGrpcTransport(
    const std::string& address, const TransportSecurity& security);
// Whether this program links the gRPC transport add-on.
inline bool GrpcTransportLinked() { return &NewGrpcTransport != nullptr; }

// The Delivery API over HTTP (server/http/delivery_handler.h) through
// `http`: Check and Report as protobuf POSTs under `base_url`, Download as
// ranged GETs of /v1/blobs/<sha256>, WatchConfig as a POST whose body is
// the stream of length-prefixed events (stopped through
// HttpCall::cancelled).
std::unique_ptr<Transport> NewHttpTransport(std::string base_url,
                                            std::shared_ptr<HttpClient> http);

// The HTTP transport ClientOptions ask for (server_url over http_client).
// kInvalidArgument for a URL that is not http(s) or no http_client.
absl::StatusOr<std::unique_ptr<Transport>> HttpTransportFor(
    const ClientOptions& options);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_TRANSPORT_H_
