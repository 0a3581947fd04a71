#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "strata/proto/grpc_status.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "transport.h"

namespace strata::client {
namespace {

constexpr auto kCheckDeadline = std::chrono::seconds(30);
constexpr auto kDownloadDeadline = std::chrono::minutes(10);

class GrpcTransport : public Transport {
 public:
  explicit GrpcTransport(const std::string& address)
      : stub_(v1::Delivery::NewStub(grpc::CreateChannel(
            address, grpc::InsecureChannelCredentials()))) {}

  absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCheckDeadline);
    v1::CheckResponse response;
    grpc::Status s = stub_->Check(&context, request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }

  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kDownloadDeadline);
    v1::DownloadRequest request;
    request.set_sha256(sha256);
    request.set_offset(offset);
    auto reader = stub_->Download(&context, request);
    v1::DownloadChunk chunk;
    while (reader->Read(&chunk)) {
      absl::Status s = sink(chunk);
      if (!s.ok()) {
        context.TryCancel();
        (void)reader->Finish();
        return s;
      }
    }
    return FromGrpcStatus(reader->Finish());
  }

  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCheckDeadline);
    v1::ReportResponse response;
    grpc::Status s = stub_->Report(&context, request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }

 private:
  std::unique_ptr<v1::Delivery::Stub> stub_;
};

}  // namespace

std::unique_ptr<Transport> NewGrpcTransport(const std::string& address) {
  return std::make_unique<GrpcTransport>(address);
}

}  // namespace strata::client
