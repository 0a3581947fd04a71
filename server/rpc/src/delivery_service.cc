#include "services.h"
#include "strata/base/sha256.h"
#include "strata/proto/grpc_status.h"

namespace strata::server {

grpc::Status DeliveryService::Check(grpc::ServerContext*,
                                    const v1::CheckRequest* request,
                                    v1::CheckResponse* response) {
  absl::StatusOr<v1::CheckResponse> result = core_->Check(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status DeliveryService::Download(
    grpc::ServerContext* context, const v1::DownloadRequest* request,
    grpc::ServerWriter<v1::DownloadChunk>* writer) {
  if (!IsSha256Hex(request->sha256())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "sha256 must be 64 lowercase hex characters");
  }
  absl::StatusOr<uint64_t> total = core_->store()->BlobSize(request->sha256());
  if (!total.ok()) return ToGrpcStatus(total.status());
  uint64_t offset = request->offset();
  if (offset > *total) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        "offset is past the end of the blob");
  }
  do {
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    absl::StatusOr<std::string> data = core_->store()->ReadBlob(
        request->sha256(), offset, core_->download_chunk_bytes());
    if (!data.ok()) return ToGrpcStatus(data.status());
    v1::DownloadChunk chunk;
    chunk.set_offset(offset);
    chunk.set_total_size(*total);
    offset += data->size();
    chunk.set_data(*std::move(data));
    if (!writer->Write(chunk)) break;
  } while (offset < *total);
  return grpc::Status::OK;
}

}  // namespace strata::server
