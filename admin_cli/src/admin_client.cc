#include "strata/admin_cli/admin_client.h"

#include <algorithm>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "secure_channel.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/proto/grpc_status.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata::admin {
namespace {

constexpr size_t kChunkBytes = 256 * 1024;

void SetDeadline(grpc::ClientContext& context, absl::Duration d) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + d));
}

}  // namespace

AdminClient::AdminClient(const std::string& address, std::string token,
                         const ChannelSecurity& security,
                         absl::Duration deadline)
    : token_(std::move(token)), deadline_(deadline) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewSecureChannel(address, security);
  if (channel.ok()) {
    channel_ = *std::move(channel);
  } else {
    // Nothing is sent: every call fails with the reason.
    config_status_ = channel.status();
    channel_ = NewRefusingChannel(config_status_);
  }
  stub_ = v1::Admin::NewStub(channel_);
}

void AdminClient::Prepare(grpc::ClientContext& context) const {
  SetDeadline(context, deadline_);
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
}

absl::StatusOr<v1::PublishResponse> AdminClient::Publish(
    v1::ArtifactStatement statement, std::string_view content,
    const std::string& idempotency_key, const ProgressFn& progress,
    const std::vector<v1::Signature>& signatures, bool embedded,
    const std::string& layer_role, bool allow_empty) {
  statement.set_content_sha256(Sha256::HexHash(content));
  statement.set_size(content.size());
  grpc::ClientContext context;
  Prepare(context);
  v1::PublishResponse response;
  auto writer = stub_->Publish(&context, &response);
  v1::PublishRequest header;
  *header.mutable_header()->mutable_statement() = statement;
  header.mutable_header()->set_idempotency_key(idempotency_key);
  for (const auto& sig : signatures)
    *header.mutable_header()->add_signatures() = sig;
  header.mutable_header()->set_embedded(embedded);
  header.mutable_header()->set_layer_role(layer_role);
  header.mutable_header()->set_allow_empty(allow_empty);
  bool open = writer->Write(header);
  for (size_t off = 0; open && off < content.size(); off += kChunkBytes) {
    v1::PublishRequest chunk;
    chunk.set_chunk(std::string(content.substr(off, kChunkBytes)));
    open = writer->Write(chunk);
    if (progress)
      progress(std::min(off + kChunkBytes, content.size()), content.size());
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::Release> AdminClient::CreateRelease(
    const v1::CreateReleaseRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::Release release;
  grpc::Status s = stub_->CreateRelease(&context, request, &release);
  if (!s.ok()) return FromGrpcStatus(s);
  return release;
}

absl::StatusOr<std::vector<v1::Release>> AdminClient::ListReleases(
    const std::string& app_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ListReleasesRequest request;
  request.set_app_id(app_id);
  v1::ListReleasesResponse response;
  grpc::Status s = stub_->ListReleases(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return std::vector<v1::Release>(response.releases().begin(),
                                  response.releases().end());
}

absl::StatusOr<v1::ReleaseStatus> AdminClient::GetReleaseStatus(
    const std::string& app_id, uint64_t release_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetReleaseStatusRequest request;
  request.set_app_id(app_id);
  request.set_release_id(release_id);
  v1::ReleaseStatus response;
  grpc::Status s = stub_->GetReleaseStatus(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::SteerReleaseResponse> AdminClient::SteerRelease(
    const v1::SteerReleaseRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::SteerReleaseResponse response;
  grpc::Status s = stub_->SteerRelease(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::PreviewReleaseResponse> AdminClient::PreviewRelease(
    const std::string& app_id, uint64_t release_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::PreviewReleaseRequest request;
  request.set_app_id(app_id);
  request.set_release_id(release_id);
  v1::PreviewReleaseResponse response;
  grpc::Status s = stub_->PreviewRelease(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::PreviewReleaseResponse> AdminClient::PreviewCreate(
    const v1::CreateReleaseRequest& create) {
  grpc::ClientContext context;
  Prepare(context);
  v1::PreviewReleaseRequest request;
  request.set_app_id(create.app_id());
  *request.mutable_dry_run_of() = create;
  v1::PreviewReleaseResponse response;
  grpc::Status s = stub_->PreviewRelease(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::ExplainDeviceResponse> AdminClient::ExplainDevice(
    const std::string& app_id, const std::string& device_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ExplainDeviceRequest request;
  request.set_app_id(app_id);
  request.set_device_id(device_id);
  v1::ExplainDeviceResponse response;
  grpc::Status s = stub_->ExplainDevice(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::CreateTokenResponse> AdminClient::CreateToken(
    const v1::CreateTokenRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::CreateTokenResponse response;
  grpc::Status s = stub_->CreateToken(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::ListTokensResponse> AdminClient::ListTokens(
    bool include_revoked) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ListTokensRequest request;
  request.set_include_revoked(include_revoked);
  v1::ListTokensResponse response;
  grpc::Status s = stub_->ListTokens(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::RevokeTokenResponse> AdminClient::RevokeToken(
    const std::string& name_or_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::RevokeTokenRequest request;
  request.set_name_or_id(name_or_id);
  v1::RevokeTokenResponse response;
  grpc::Status s = stub_->RevokeToken(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<std::vector<v1::AuditEntry>> AdminClient::ListAudit(
    uint64_t after_seq) {
  std::vector<v1::AuditEntry> all;
  while (true) {
    grpc::ClientContext context;
    Prepare(context);
    v1::ListAuditRequest request;
    request.set_after_seq(after_seq);
    v1::ListAuditResponse response;
    grpc::Status s = stub_->ListAudit(&context, request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    if (response.entries().empty()) break;
    for (const auto& e : response.entries()) all.push_back(e);
    after_seq = all.back().seq();
  }
  return all;
}

absl::StatusOr<v1::BackupResponse> AdminClient::Backup(
    const std::string& directory) {
  grpc::ClientContext context;
  Prepare(context);
  v1::BackupRequest request;
  request.set_directory(directory);
  v1::BackupResponse response;
  grpc::Status s = stub_->Backup(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::SetTrustResponse> AdminClient::SetTrust(
    const std::string& root, const std::string& targets) {
  grpc::ClientContext context;
  Prepare(context);
  v1::SetTrustRequest request;
  request.set_root(root);
  request.set_targets(targets);
  v1::SetTrustResponse response;
  grpc::Status s = stub_->SetTrust(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::SetTrustResponse> AdminClient::SetTrust(
    const v1::SetTrustRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::SetTrustResponse response;
  grpc::Status s = stub_->SetTrust(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::TrustInfo> AdminClient::GetTrust(const std::string& app_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetTrustRequest request;
  request.set_app_id(app_id);
  v1::TrustInfo response;
  grpc::Status s = stub_->GetTrust(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::TrustInfo> AdminClient::PutLayerRole(
    const std::string& app_id, const std::string& role) {
  grpc::ClientContext context;
  Prepare(context);
  v1::PutLayerRoleRequest request;
  request.set_app_id(app_id);
  request.set_role(role);
  v1::TrustInfo response;
  grpc::Status s = stub_->PutLayerRole(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::GenerateOnlineKeysResponse> AdminClient::GenerateOnlineKeys(
    const std::vector<std::string>& roles) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GenerateOnlineKeysRequest request;
  for (const auto& r : roles) request.add_roles(r);
  v1::GenerateOnlineKeysResponse response;
  grpc::Status s = stub_->GenerateOnlineKeys(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::Segment> AdminClient::PutSegment(
    const v1::Segment& segment) {
  grpc::ClientContext context;
  Prepare(context);
  v1::Segment response;
  grpc::Status s = stub_->PutSegment(&context, segment, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::ListSegmentsResponse> AdminClient::ListSegments(
    const std::string& app_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ListSegmentsRequest request;
  request.set_app_id(app_id);
  v1::ListSegmentsResponse response;
  grpc::Status s = stub_->ListSegments(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::DeleteSegmentResponse> AdminClient::DeleteSegment(
    const std::string& app_id, const std::string& name) {
  grpc::ClientContext context;
  Prepare(context);
  v1::DeleteSegmentRequest request;
  request.set_app_id(app_id);
  request.set_name(name);
  v1::DeleteSegmentResponse response;
  grpc::Status s = stub_->DeleteSegment(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::GetSegmentHistoryResponse> AdminClient::GetSegmentHistory(
    const std::string& app_id, const std::string& name) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetSegmentHistoryRequest request;
  request.set_app_id(app_id);
  request.set_name(name);
  v1::GetSegmentHistoryResponse response;
  grpc::Status s = stub_->GetSegmentHistory(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::Release> AdminClient::EditRelease(
    const v1::EditReleaseRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::Release response;
  grpc::Status s = stub_->EditRelease(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::GetFleetResponse> AdminClient::GetFleet(
    const std::string& app_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetFleetRequest request;
  request.set_app_id(app_id);
  v1::GetFleetResponse response;
  grpc::Status s = stub_->GetFleet(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::ReleaseDistribution> AdminClient::GetReleaseDistribution(
    const std::string& app_id, uint64_t release_id) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetReleaseDistributionRequest request;
  request.set_app_id(app_id);
  request.set_release_id(release_id);
  v1::ReleaseDistribution response;
  grpc::Status s = stub_->GetReleaseDistribution(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::ListFailuresResponse> AdminClient::ListFailures(
    const v1::ListFailuresRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ListFailuresResponse response;
  grpc::Status s = stub_->ListFailures(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::FailureInfo> AdminClient::GetFailure(
    const v1::GetFailureRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::FailureInfo response;
  grpc::Status s = stub_->GetFailure(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::Status AdminClient::WaitUntilServing(absl::Duration timeout) {
  if (!config_status_.ok()) return config_status_;
  auto health = grpc::health::v1::Health::NewStub(channel_);
  const absl::Time end = absl::Now() + timeout;
  grpc::Status last;
  // Why it is not serving, from a call that did not wait (a waiting call
  // that runs out of time only says "Deadline Exceeded").
  grpc::Status reason;
  for (bool first = true;; first = false) {
    grpc::ClientContext context;
    // The first try gets the deadline of any other call: on a loaded
    // machine a TLS handshake alone can take longer than the wait asked
    // for, and its failure is what explains a mismatch.
    SetDeadline(context, first ? deadline_
                               : std::max(absl::Milliseconds(100),
                                          std::min(absl::Seconds(1),
                                                   end - absl::Now())));
    // After a failed connection the channel does not try again by itself
    // (gRPC's pick_first stays in TRANSIENT_FAILURE); a call that waits for
    // the channel to be ready makes it reconnect, so a server started
    // after this began is found.
    context.set_wait_for_ready(!first);
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    last = health->Check(&context, request, &response);
    if (last.ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    // A TLS mismatch does not go away by waiting.
    if (IsTlsMismatch(last.error_message())) return FromGrpcStatus(last);
    if (first || last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      reason = last;
    }
    if (absl::Now() >= end) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string why = reason.ok() ? std::string(" (health: NOT_SERVING)")
                                      : ": " + reason.error_message();
  // The message for an unreachable server already says what to do.
  const bool explained = why.rfind(": cannot reach stratad at ", 0) == 0;
  return absl::UnavailableError(
      "server is not serving" + why +
      (explained ? "" : "; is stratad running at this address?"));
}

absl::StatusOr<v1::ListArtifactsResponse> AdminClient::ListArtifacts(
    const v1::ListArtifactsRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ListArtifactsResponse response;
  grpc::Status s = stub_->ListArtifacts(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::ArtifactInfo> AdminClient::GetArtifact(
    const v1::GetArtifactRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ArtifactInfo response;
  grpc::Status s = stub_->GetArtifact(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::YankArtifactResponse> AdminClient::YankArtifact(
    const v1::YankArtifactRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::YankArtifactResponse response;
  grpc::Status s = stub_->YankArtifact(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::ModuleSchema> AdminClient::SetModuleSchema(
    const v1::SetModuleSchemaRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ModuleSchema response;
  grpc::Status s = stub_->SetModuleSchema(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::ModuleSchema> AdminClient::GetModuleSchema(
    const v1::GetModuleSchemaRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ModuleSchema response;
  grpc::Status s = stub_->GetModuleSchema(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<std::string> AdminClient::Download(const std::string& sha256,
                                                  uint64_t size) {
  auto stub = v1::Delivery::NewStub(channel_);
  grpc::ClientContext context;
  Prepare(context);
  v1::DownloadRequest request;
  request.set_sha256(sha256);
  auto reader = stub->Download(&context, request);
  std::string out;
  v1::DownloadChunk chunk;
  while (reader->Read(&chunk)) {
    if (chunk.offset() != out.size() ||
        out.size() + chunk.data().size() > size) {
      context.TryCancel();
      (void)reader->Finish();
      return absl::DataLossError(StrCat("the server sent blob ", sha256,
                                        " out of order or longer than ", size,
                                        " bytes"));
    }
    out.append(chunk.data());
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpcStatus(s);
  if (out.size() != size || Sha256::HexHash(out) != sha256) {
    return absl::DataLossError(StrCat("blob ", sha256, " arrived as ",
                                      out.size(),
                                      " bytes that do not hash to it"));
  }
  return out;
}

}  // namespace strata::admin
