// A typed client of the Admin gRPC service (and the health service).
#ifndef STRATA_ADMIN_CLI_ADMIN_CLIENT_H_
#define STRATA_ADMIN_CLI_ADMIN_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/v1/admin.grpc.pb.h"

namespace strata::admin {

// How the client secures its channel to stratad. Every AdminClient is given
// one: TLS checked against the system's CAs (the default value), TLS with
// a CA of one's own and/or a pinned server certificate, or plaintext
// (only to a loopback address: 127.0.0.0/8, ::1, localhost).
struct ChannelSecurity {
  // PEM of the CAs to trust instead of the system's ("": system roots).
  std::string ca_pem;
  // PEM of the server's exact certificate: the handshake fails unless the
  // leaf certificate the server presents is this one. Without `ca_pem`
  // the pin is the whole check (a self-signed certificate works).
  std::string server_cert_pem;
  // Where they came from, for messages: e.g. "--ca-file /x/ca.pem".
  std::string ca_source = "the given CA";
  std::string server_cert_source = "the pinned certificate";
  // No TLS at all; refused unless the address is loopback.
  bool plaintext = false;
  // Set when the settings could not be read (e.g. an unreadable --ca-file):
  // the client then sends nothing and every call fails with this message.
  std::string invalid;

  static ChannelSecurity Plaintext() {
    ChannelSecurity s;
    s.plaintext = true;
    return s;
  }
  static ChannelSecurity SystemRoots() { return ChannelSecurity(); }
  static ChannelSecurity Invalid(std::string why) {
    ChannelSecurity s;
    s.invalid = std::move(why);
    return s;
  }
  static ChannelSecurity WithCa(std::string pem,
                                std::string source = "the given CA") {
    ChannelSecurity s;
    s.ca_pem = std::move(pem);
    s.ca_source = std::move(source);
    return s;
  }
  static ChannelSecurity Pinned(std::string pem,
                                std::string source = "the pinned certificate") {
    ChannelSecurity s;
    s.server_cert_pem = std::move(pem);
    s.server_cert_source = std::move(source);
    return s;
  }
};

// Called with (bytes sent, total bytes) during an upload.
using ProgressFn = std::function<void(uint64_t, uint64_t)>;

class AdminClient {
 public:
  // `token` is sent as `authorization: Bearer <token>` on every call.
  // A `security` that cannot be used (plaintext to a non-loopback address,
  // a CA or pinned certificate that is not PEM) sends nothing: every call
  // fails with kInvalidArgument saying why (see config_status()). A failed
  // TLS handshake fails the call with kUnavailable saying what to do.
  AdminClient(const std::string& address, std::string token,
              const ChannelSecurity& security,
              absl::Duration deadline = absl::Seconds(60));

  // OK, or why `security` was refused.
  const absl::Status& config_status() const { return config_status_; }

  // Uploads `content` as the artifact `statement` describes (sha256 and size
  // are filled in from the content). On an app with a root of trust,
  // `layer_role` is the layer's role re-signed with a target for it
  // (PublishHeader.layer_role).
  absl::StatusOr<v1::PublishResponse> Publish(
      v1::ArtifactStatement statement, std::string_view content,
      const std::string& idempotency_key, const ProgressFn& progress = nullptr,
      const std::vector<v1::Signature>& signatures = {}, bool embedded = false,
      const std::string& layer_role = "", bool allow_empty = false);
  absl::StatusOr<v1::Release> CreateRelease(
      const v1::CreateReleaseRequest& request);
  absl::StatusOr<std::vector<v1::Release>> ListReleases(
      const std::string& app_id);
  absl::StatusOr<v1::ReleaseStatus> GetReleaseStatus(const std::string& app_id,
                                                     uint64_t release_id);
  absl::StatusOr<v1::SteerReleaseResponse> SteerRelease(
      const v1::SteerReleaseRequest& request);
  absl::StatusOr<v1::PreviewReleaseResponse> PreviewRelease(
      const std::string& app_id, uint64_t release_id);
  // The preview of a release not created yet (`release create --dry-run`):
  // checked as CreateRelease checks it; nothing is stored.
  absl::StatusOr<v1::PreviewReleaseResponse> PreviewCreate(
      const v1::CreateReleaseRequest& request);
  absl::StatusOr<v1::ExplainDeviceResponse> ExplainDevice(
      const std::string& app_id, const std::string& device_id);
  absl::StatusOr<v1::CreateTokenResponse> CreateToken(
      const v1::CreateTokenRequest& request);
  absl::StatusOr<v1::ListTokensResponse> ListTokens(bool include_revoked);
  absl::StatusOr<v1::RevokeTokenResponse> RevokeToken(
      const std::string& name_or_id);
  // Every audit entry after `after_seq`, fetched page by page.
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(uint64_t after_seq = 0);
  absl::StatusOr<v1::BackupResponse> Backup(const std::string& directory);
  absl::StatusOr<v1::SetTrustResponse> SetTrust(const std::string& root,
                                                const std::string& targets);
  absl::StatusOr<v1::SetTrustResponse> SetTrust(
      const v1::SetTrustRequest& request);
  absl::StatusOr<v1::TrustInfo> GetTrust(const std::string& app_id);
  absl::StatusOr<v1::TrustInfo> PutLayerRole(const std::string& app_id,
                                             const std::string& role);
  absl::StatusOr<v1::GenerateOnlineKeysResponse> GenerateOnlineKeys(
      const std::vector<std::string>& roles);
  absl::StatusOr<v1::Segment> PutSegment(const v1::Segment& segment);
  absl::StatusOr<v1::ListSegmentsResponse> ListSegments(
      const std::string& app_id);
  absl::StatusOr<v1::ListArtifactsResponse> ListArtifacts(
      const v1::ListArtifactsRequest& request);
  absl::StatusOr<v1::ArtifactInfo> GetArtifact(
      const v1::GetArtifactRequest& request);
  absl::StatusOr<v1::YankArtifactResponse> YankArtifact(
      const v1::YankArtifactRequest& request);
  absl::StatusOr<v1::ModuleSchema> SetModuleSchema(
      const v1::SetModuleSchemaRequest& request);
  absl::StatusOr<v1::ModuleSchema> GetModuleSchema(
      const v1::GetModuleSchemaRequest& request);
  // The whole blob `sha256` through the Delivery service's Download (the
  // devices' path); kDataLoss unless it is `size` bytes hashing to
  // `sha256`.
  absl::StatusOr<std::string> Download(const std::string& sha256,
                                       uint64_t size);

  // Segment delete and history, release edits, the fleet view.
  absl::StatusOr<v1::DeleteSegmentResponse> DeleteSegment(
      const std::string& app_id, const std::string& name);
  absl::StatusOr<v1::GetSegmentHistoryResponse> GetSegmentHistory(
      const std::string& app_id, const std::string& name);
  absl::StatusOr<v1::Release> EditRelease(
      const v1::EditReleaseRequest& request);
  absl::StatusOr<v1::GetFleetResponse> GetFleet(const std::string& app_id);
  absl::StatusOr<v1::ReleaseDistribution> GetReleaseDistribution(
      const std::string& app_id, uint64_t release_id);
  absl::StatusOr<v1::ListFailuresResponse> ListFailures(
      const v1::ListFailuresRequest& request);
  absl::StatusOr<v1::FailureInfo> GetFailure(
      const v1::GetFailureRequest& request);

  // Polls the standard gRPC health service until it reports SERVING.
  absl::Status WaitUntilServing(absl::Duration timeout);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> stub_;
  std::string token_;
  absl::Duration deadline_;
  absl::Status config_status_;

  void Prepare(grpc::ClientContext& context) const;
};

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_ADMIN_CLIENT_H_
