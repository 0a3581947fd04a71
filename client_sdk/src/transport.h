// How the SDK talks to the server. The gRPC implementation is the real one;
// tests may put a fake behind this seam.
#ifndef STRATA_CLIENT_SRC_TRANSPORT_H_
#define STRATA_CLIENT_SRC_TRANSPORT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "strata/v1/delivery.pb.h"

namespace strata::client {

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
};

std::unique_ptr<Transport> NewGrpcTransport(const std::string& address);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_TRANSPORT_H_
