// A Transport in front of the real one that meters downloads: every byte
// received is counted for the network the device is on (the traffic
// ledger and the DOWNLOADED reports), and a download someone waits for can
// report progress and be cancelled. Calls pass through unchanged otherwise.
#ifndef STRATA_CLIENT_SRC_METERED_TRANSPORT_H_
#define STRATA_CLIENT_SRC_METERED_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "strata/base/mutex.h"
#include "strata/client/client.h"
#include "transport.h"

namespace strata::client {

class MeteredTransport : public Transport {
 public:
  explicit MeteredTransport(std::unique_ptr<Transport> inner)
      : inner_(std::move(inner)) {}

  void SetNetwork(Network n) { network_.store(static_cast<int>(n)); }
  Network network() const { return static_cast<Network>(network_.load()); }

  // Bytes received per network since the last Take().
  std::map<Network, uint64_t> Take();

  // While a Watch is alive, every received chunk calls `on_bytes` with the
  // chunk's size, and a set cancel token ends the download (kCancelled,
  // without opening a stream). One at a time (the SDK's lock).
  class Watch {
   public:
    Watch(MeteredTransport& t, std::function<void(uint64_t)> on_bytes,
          std::shared_ptr<CancelToken> cancel);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    MeteredTransport& t_;
  };

  absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) override {
    return inner_->Check(request);
  }
  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override;
  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) override {
    return inner_->Report(request);
  }
  absl::Status WatchConfig(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event)
      override {
    return inner_->WatchConfig(request, cancel, on_event);
  }

 private:
  std::unique_ptr<Transport> inner_;
  std::atomic<int> network_{0};
  Mutex mu_;
  std::map<Network, uint64_t> counted_ ABSL_GUARDED_BY(mu_);
  std::function<void(uint64_t)> on_bytes_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<CancelToken> cancel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_METERED_TRANSPORT_H_
