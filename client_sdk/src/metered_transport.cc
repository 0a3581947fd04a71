#include "metered_transport.h"

namespace strata::client {

std::map<Network, uint64_t> MeteredTransport::Take() {
  MutexLock lock(&mu_);
  return std::exchange(counted_, {});
}

MeteredTransport::Watch::Watch(MeteredTransport& t,
                               std::function<void(uint64_t)> on_bytes,
                               std::shared_ptr<CancelToken> cancel)
    : t_(t) {
  MutexLock lock(&t_.mu_);
  t_.on_bytes_ = std::move(on_bytes);
  t_.cancel_ = std::move(cancel);
}

MeteredTransport::Watch::~Watch() {
  MutexLock lock(&t_.mu_);
  t_.on_bytes_ = nullptr;
  t_.cancel_ = nullptr;
}

absl::Status MeteredTransport::Download(
    const std::string& sha256, uint64_t offset,
    const std::function<absl::Status(const v1::DownloadChunk&)>& sink) {
  std::function<void(uint64_t)> on_bytes;
  std::shared_ptr<CancelToken> cancel;
  {
    MutexLock lock(&mu_);
    on_bytes = on_bytes_;
    cancel = cancel_;
  }
  const absl::Status cancelled = absl::CancelledError(
      "the download was cancelled; what arrived is kept and the next try "
      "resumes from it");
  if (cancel != nullptr && cancel->cancelled()) return cancelled;
  return inner_->Download(
      sha256, offset, [&](const v1::DownloadChunk& chunk) -> absl::Status {
        const uint64_t n = chunk.data().size();
        {
          MutexLock lock(&mu_);
          counted_[network()] += n;
        }
        absl::Status s = sink(chunk);
        if (on_bytes) on_bytes(n);
        if (s.ok() && cancel != nullptr && cancel->cancelled()) {
          return cancelled;
        }
        return s;
      });
}

}  // namespace strata::client
