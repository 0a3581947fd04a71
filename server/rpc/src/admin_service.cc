#include "services.h"
#include "strata/base/strings.h"
#include "strata/proto/grpc_status.h"
#include "strata/server/core/blob_writer.h"

namespace strata::server {

absl::StatusOr<Principal> AdminService::Caller(grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  std::string token;
  if (it != metadata.end()) {
    std::string_view value(it->second.data(), it->second.size());
    constexpr std::string_view kBearer = "Bearer ";
    if (value.substr(0, kBearer.size()) != kBearer) {
      return absl::UnauthenticatedError(
          "authorization metadata must be 'Bearer <token>'");
    }
    token = std::string(value.substr(kBearer.size()));
  }
  return auth_->Authenticate(token);
}

grpc::Status AdminService::DoPublish(
    grpc::ServerContext* context,
    grpc::ServerReader<v1::PublishRequest>* reader,
    v1::PublishResponse* response) {
  absl::StatusOr<Principal> who = Caller(context);
  if (!who.ok()) return ToGrpcStatus(who.status());
  v1::PublishRequest part;
  if (!reader->Read(&part) || !part.has_header()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "a publish stream must start with a header");
  }
  const v1::PublishHeader header = part.header();
  if (absl::Status s = core_->ValidateHeader(*who, header); !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Content goes to the store chunk by chunk: server memory stays bounded
  // whatever the artifact's size.
  const uint64_t declared = header.statement().size();
  BlobWriter writer(core_->store());
  while (reader->Read(&part)) {
    if (!part.has_chunk()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "only content chunks may follow the header");
    }
    if (writer.size() + part.chunk().size() > declared) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS,
                          StrCat("upload is longer than the ", declared,
                                 " bytes the statement declares"));
    }
    if (absl::Status s = writer.Append(part.chunk()); !s.ok())
      return ToGrpcStatus(s);
  }
  absl::StatusOr<BlobManifest> blob = writer.Finish();
  if (!blob.ok()) return ToGrpcStatus(blob.status());
  absl::StatusOr<v1::PublishResponse> result =
      core_->Publish(*who, header, *blob);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status AdminService::Publish(
    grpc::ServerContext* context,
    grpc::ServerReader<v1::PublishRequest>* reader,
    v1::PublishResponse* response) {
  return Timed(metrics_, "Publish", [&] {
    grpc::Status s = DoPublish(context, reader, response);
    if (s.ok()) metrics_->Increment("strata_publishes_total");
    return s;
  });
}

namespace {

// Moves a core call's list into a response message's repeated field.
template <typename Response, typename Item, typename Field>
absl::StatusOr<Response> ListResponse(absl::StatusOr<std::vector<Item>> items,
                                      Field field) {
  if (!items.ok()) return items.status();
  Response response;
  for (Item& item : *items) *(response.*field)() = std::move(item);
  return response;
}

}  // namespace

grpc::Status AdminService::CreateRelease(
    grpc::ServerContext* context, const v1::CreateReleaseRequest* request,
    v1::Release* response) {
  return Unary(context, "CreateRelease", response, [&](const Principal& who) {
    return core_->CreateRelease(who, *request);
  });
}

grpc::Status AdminService::ListReleases(grpc::ServerContext* context,
                                        const v1::ListReleasesRequest* request,
                                        v1::ListReleasesResponse* response) {
  return Unary(context, "ListReleases", response, [&](const Principal& who) {
    return ListResponse<v1::ListReleasesResponse>(
        core_->ListReleases(who, request->app_id()),
        &v1::ListReleasesResponse::add_releases);
  });
}

grpc::Status AdminService::CreateToken(grpc::ServerContext* context,
                                       const v1::CreateTokenRequest* request,
                                       v1::CreateTokenResponse* response) {
  return Unary(context, "CreateToken", response, [&](const Principal& who) {
    return auth_->CreateToken(who, *request);
  });
}

grpc::Status AdminService::ListTokens(grpc::ServerContext* context,
                                      const v1::ListTokensRequest* request,
                                      v1::ListTokensResponse* response) {
  return Unary(context, "ListTokens", response, [&](const Principal& who) {
    return auth_->ListTokens(who, *request);
  });
}

grpc::Status AdminService::RevokeToken(grpc::ServerContext* context,
                                       const v1::RevokeTokenRequest* request,
                                       v1::RevokeTokenResponse* response) {
  return Unary(context, "RevokeToken", response, [&](const Principal& who) {
    return auth_->RevokeToken(who, *request);
  });
}

grpc::Status AdminService::ListAudit(grpc::ServerContext* context,
                                     const v1::ListAuditRequest* request,
                                     v1::ListAuditResponse* response) {
  return Unary(context, "ListAudit", response, [&](const Principal& who) {
    return ListResponse<v1::ListAuditResponse>(
        core_->ListAudit(who, request->after_seq(), request->limit()),
        &v1::ListAuditResponse::add_entries);
  });
}

grpc::Status AdminService::Backup(grpc::ServerContext* context,
                                  const v1::BackupRequest* request,
                                  v1::BackupResponse* response) {
  return Unary(context, "Backup", response, [&](const Principal& who) {
    return core_->Backup(who, *request);
  });
}

grpc::Status AdminService::SetTrust(grpc::ServerContext* context,
                                    const v1::SetTrustRequest* request,
                                    v1::SetTrustResponse* response) {
  return Unary(context, "SetTrust", response, [&](const Principal& who) {
    return core_->SetTrust(who, *request);
  });
}

grpc::Status AdminService::GetTrust(grpc::ServerContext* context,
                                    const v1::GetTrustRequest* request,
                                    v1::TrustInfo* response) {
  return Unary(context, "GetTrust", response, [&](const Principal& who) {
    return core_->GetTrust(who, *request);
  });
}

grpc::Status AdminService::PutLayerRole(grpc::ServerContext* context,
                                        const v1::PutLayerRoleRequest* request,
                                        v1::TrustInfo* response) {
  return Unary(context, "PutLayerRole", response, [&](const Principal& who) {
    return core_->PutLayerRole(who, *request);
  });
}

grpc::Status AdminService::GenerateOnlineKeys(
    grpc::ServerContext* context, const v1::GenerateOnlineKeysRequest* request,
    v1::GenerateOnlineKeysResponse* response) {
  return Unary(context, "GenerateOnlineKeys", response,
               [&](const Principal& who) {
                 return core_->GenerateOnlineKeys(who, *request);
               });
}

grpc::Status AdminService::PutSegment(grpc::ServerContext* context,
                                      const v1::Segment* request,
                                      v1::Segment* response) {
  return Unary(context, "PutSegment", response, [&](const Principal& who) {
    return core_->PutSegment(who, *request);
  });
}

grpc::Status AdminService::ListSegments(grpc::ServerContext* context,
                                        const v1::ListSegmentsRequest* request,
                                        v1::ListSegmentsResponse* response) {
  return Unary(context, "ListSegments", response, [&](const Principal& who) {
    return ListResponse<v1::ListSegmentsResponse>(
        core_->ListSegments(who, request->app_id()),
        &v1::ListSegmentsResponse::add_segments);
  });
}

grpc::Status AdminService::GetReleaseStatus(
    grpc::ServerContext* context, const v1::GetReleaseStatusRequest* request,
    v1::ReleaseStatus* response) {
  return Unary(context, "GetReleaseStatus", response,
               [&](const Principal& who) {
                 return core_->releases().Status(who, *request);
               });
}

grpc::Status AdminService::SteerRelease(grpc::ServerContext* context,
                                        const v1::SteerReleaseRequest* request,
                                        v1::SteerReleaseResponse* response) {
  return Unary(context, "SteerRelease", response, [&](const Principal& who) {
    return core_->releases().Steer(who, *request);
  });
}

grpc::Status AdminService::PreviewRelease(
    grpc::ServerContext* context, const v1::PreviewReleaseRequest* request,
    v1::PreviewReleaseResponse* response) {
  return Unary(context, "PreviewRelease", response, [&](const Principal& who) {
    return core_->releases().Preview(who, *request);
  });
}

grpc::Status AdminService::ExplainDevice(
    grpc::ServerContext* context, const v1::ExplainDeviceRequest* request,
    v1::ExplainDeviceResponse* response) {
  return Unary(context, "ExplainDevice", response, [&](const Principal& who) {
    return core_->releases().Explain(who, *request);
  });
}

grpc::Status AdminService::DeleteSegment(
    grpc::ServerContext* context, const v1::DeleteSegmentRequest* request,
    v1::DeleteSegmentResponse* response) {
  return Unary(context, "DeleteSegment", response, [&](const Principal& who) {
    return core_->DeleteSegment(who, *request);
  });
}

grpc::Status AdminService::GetSegmentHistory(
    grpc::ServerContext* context, const v1::GetSegmentHistoryRequest* request,
    v1::GetSegmentHistoryResponse* response) {
  return Unary(context, "GetSegmentHistory", response,
               [&](const Principal& who) {
                 return core_->SegmentHistory(who, *request);
               });
}

grpc::Status AdminService::EditRelease(grpc::ServerContext* context,
                                       const v1::EditReleaseRequest* request,
                                       v1::Release* response) {
  return Unary(context, "EditRelease", response, [&](const Principal& who) {
    return core_->releases().Edit(who, *request);
  });
}

grpc::Status AdminService::GetFleet(grpc::ServerContext* context,
                                    const v1::GetFleetRequest* request,
                                    v1::GetFleetResponse* response) {
  return Unary(context, "GetFleet", response, [&](const Principal& who) {
    return core_->releases().Fleet(who, *request);
  });
}

grpc::Status AdminService::ListFailures(grpc::ServerContext* context,
                                        const v1::ListFailuresRequest* request,
                                        v1::ListFailuresResponse* response) {
  return Unary(context, "ListFailures", response, [&](const Principal& who) {
    return core_->failures().List(who, *request);
  });
}

grpc::Status AdminService::GetFailure(grpc::ServerContext* context,
                                      const v1::GetFailureRequest* request,
                                      v1::FailureInfo* response) {
  return Unary(context, "GetFailure", response, [&](const Principal& who) {
    return core_->failures().Get(who, *request);
  });
}

grpc::Status AdminService::GetReleaseDistribution(
    grpc::ServerContext* context,
    const v1::GetReleaseDistributionRequest* request,
    v1::ReleaseDistribution* response) {
  return Unary(context, "GetReleaseDistribution", response,
               [&](const Principal& who) {
                 return core_->releases().Distribution(who, *request);
               });
}

grpc::Status AdminService::ListArtifacts(
    grpc::ServerContext* context, const v1::ListArtifactsRequest* request,
    v1::ListArtifactsResponse* response) {
  return Unary(context, "ListArtifacts", response, [&](const Principal& who) {
    return core_->artifacts().List(who, *request);
  });
}

grpc::Status AdminService::GetArtifact(grpc::ServerContext* context,
                                       const v1::GetArtifactRequest* request,
                                       v1::ArtifactInfo* response) {
  return Unary(context, "GetArtifact", response, [&](const Principal& who) {
    return core_->artifacts().Get(who, *request);
  });
}

grpc::Status AdminService::YankArtifact(grpc::ServerContext* context,
                                        const v1::YankArtifactRequest* request,
                                        v1::YankArtifactResponse* response) {
  return Unary(context, "YankArtifact", response, [&](const Principal& who) {
    return core_->artifacts().Yank(who, *request);
  });
}

grpc::Status AdminService::SetModuleSchema(
    grpc::ServerContext* context, const v1::SetModuleSchemaRequest* request,
    v1::ModuleSchema* response) {
  return Unary(context, "SetModuleSchema", response, [&](const Principal& who) {
    return core_->artifacts().SetSchema(who, *request);
  });
}

grpc::Status AdminService::GetModuleSchema(
    grpc::ServerContext* context, const v1::GetModuleSchemaRequest* request,
    v1::ModuleSchema* response) {
  return Unary(context, "GetModuleSchema", response, [&](const Principal& who) {
    return core_->artifacts().GetSchema(who, *request);
  });
}

}  // namespace strata::server
