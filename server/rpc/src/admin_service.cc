#include "services.h"
#include "strata/base/strings.h"
#include "strata/proto/grpc_status.h"

namespace strata::server {

grpc::Status AdminService::Publish(
    grpc::ServerContext*, grpc::ServerReader<v1::PublishRequest>* reader,
    v1::PublishResponse* response) {
  v1::PublishRequest part;
  if (!reader->Read(&part) || !part.has_header()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "a publish stream must start with a header");
  }
  const v1::PublishHeader header = part.header();
  if (absl::Status s = core_->ValidateHeader(header); !s.ok()) {
    return ToGrpcStatus(s);
  }
  const uint64_t declared = header.statement().size();
  std::string content;
  content.reserve(declared);
  while (reader->Read(&part)) {
    if (!part.has_chunk()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "only content chunks may follow the header");
    }
    if (content.size() + part.chunk().size() > declared) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS,
                          StrCat("upload is longer than the ", declared,
                                 " bytes the statement declares"));
    }
    content.append(part.chunk());
  }
  absl::StatusOr<v1::PublishResponse> result = core_->Publish(header, content);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status AdminService::CreateRelease(
    grpc::ServerContext*, const v1::CreateReleaseRequest* request,
    v1::Release* response) {
  absl::StatusOr<v1::Release> result = core_->CreateRelease(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListReleases(grpc::ServerContext*,
                                        const v1::ListReleasesRequest* request,
                                        v1::ListReleasesResponse* response) {
  absl::StatusOr<std::vector<v1::Release>> result =
      core_->ListReleases(request->app_id());
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (auto& r : *result) *response->add_releases() = std::move(r);
  return grpc::Status::OK;
}

}  // namespace strata::server
