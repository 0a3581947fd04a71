#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "strata/proto/grpc_status.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "transport.h"

namespace strata::client {
namespace {

constexpr auto kCheckDeadline = std::chrono::seconds(30);
constexpr auto kDownloadDeadline = std::chrono::minutes(10);

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  // A config watch is a long call without a deadline: pings find a peer
  // that vanished without closing the connection. Not more often than
  // gRPC servers accept by default (every 5 minutes while calls are open).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5 * 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  return args;
}

class GrpcTransport : public Transport {
 public:
  explicit GrpcTransport(const std::string& address)
      : stub_(v1::Delivery::NewStub(grpc::CreateCustomChannel(
            address, grpc::InsecureChannelCredentials(), ChannelArgs()))) {}

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

  absl::Status WatchConfig(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event)
      override {
    // No deadline: the stream lives until the server or StopConfigWatch
    // ends it.
    grpc::ClientContext context;
    if (!cancel.Attach([&context] { context.TryCancel(); })) {
      return absl::CancelledError("config watch stopped");
    }
    auto reader = stub_->WatchConfig(&context, request);
    v1::ConfigEvent event;
    absl::Status handled;
    while (reader->Read(&event)) {
      handled = on_event(event);
      if (!handled.ok()) {
        context.TryCancel();
        break;
      }
    }
    const grpc::Status finished = reader->Finish();
    cancel.Detach();
    if (!handled.ok()) return handled;
    if (cancel.cancelled()) {
      return absl::CancelledError("config watch stopped");
    }
    return FromGrpcStatus(finished);
  }

 private:
  std::unique_ptr<v1::Delivery::Stub> stub_;
};

}  // namespace

std::unique_ptr<Transport> NewGrpcTransport(const std::string& address) {
  return std::make_unique<GrpcTransport>(address);
}

}  // namespace strata::client
