// Thin gRPC adapters: proto in, core call, proto out. Each public method
// counts the call and its latency, then runs its Do* body.
#ifndef STRATA_SERVER_RPC_SRC_SERVICES_H_
#define STRATA_SERVER_RPC_SRC_SERVICES_H_

#include <atomic>

#include "strata/proto/grpc_status.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/auth_core.h"
#include "strata/server/core/delivery_core.h"
#include "strata/server/core/metrics.h"
#include "strata/server/core/rate_limiter.h"
#include "strata/server/core/stream_limiter.h"
#include "strata/server/http/delivery_handler.h"
#include "strata/v1/admin.grpc.pb.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "worker_pool.h"

namespace strata::server {

// Runs `body`, recording the call in `metrics` under `method`.
template <typename Body>
grpc::Status Timed(Metrics* metrics, const char* method, Body&& body) {
  RpcTimer timer(metrics, method);
  grpc::Status status = body();
  timer.set_code(status.ok() ? "OK" : std::to_string(status.error_code()));
  return status;
}

// Limits the Delivery service enforces (docs/architecture.md, Limits).
struct DeliveryLimits {
  RateLimit report_per_device;      // by app + device id
  RateLimit report_per_connection;  // by gRPC peer
  StreamLimits watch_streams;       // server-wide and per app + device id
  // Reports queued for or in a synced write, server-wide; more are
  // refused with RESOURCE_EXHAUSTED and a retry pushback. 0: no bound.
  size_t max_reports_in_flight = 4096;
};

// Check, Report and WatchConfig run on gRPC's callback API: no thread is
// held per call, so a server holds as many WatchConfig streams as memory
// allows. Check runs inline on gRPC's callback threads (memory only);
// Report waits for a synced RocksDB write, so it runs on its own worker
// pool (inline, 32 Reports in flight cut Check throughput to 0.15x:
// docs/benchmarks.md). Download stays on the synchronous API (one pool
// thread per transfer, as the Admin service).
// It also serves the Delivery API over HTTP (DeliveryCalls,
// delivery_handler.h) with the same limits and metrics.
class DeliveryService final
    : public v1::Delivery::WithCallbackMethod_Check<
          v1::Delivery::WithCallbackMethod_WatchConfig<
              v1::Delivery::WithCallbackMethod_Report<v1::Delivery::Service>>>,
      public DeliveryCalls {
 public:
  DeliveryService(DeliveryCore* core, Metrics* metrics)
      : core_(core), metrics_(metrics) {}
  // Turns the limits on (before serving); `clock` times the rate limits.
  void SetLimits(Clock* clock, const DeliveryLimits& limits);
  // Sizes for /metrics: open WatchConfig streams and rate limiter keys.
  size_t watch_streams_open() const;
  size_t rate_limiter_keys(bool per_device) const;
  grpc::ServerWriteReactor<v1::ConfigEvent>* WatchConfig(
      grpc::CallbackServerContext* context,
      const v1::WatchConfigRequest* request) override;
  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* context,
                                   const v1::ReportRequest* request,
                                   v1::ReportResponse* response) override;
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const v1::CheckRequest* request,
                                  v1::CheckResponse* response) override;
  grpc::Status Download(grpc::ServerContext* context,
                        const v1::DownloadRequest* request,
                        grpc::ServerWriter<v1::DownloadChunk>* writer) override;
  // DeliveryCalls: the HTTP routes (counted as method "http.Check" and
  // "http.Report"). An HTTP Report runs on the HTTP loop thread that read
  // it, in the same in-flight bound as gRPC's.
  absl::Status HandleCheck(const v1::CheckRequest& request,
                           v1::CheckResponse* response) override;
  absl::Status HandleReport(const std::string& peer,
                            const v1::ReportRequest& request,
                            v1::ReportResponse* response,
                            absl::Duration* retry_after) override;
  absl::StatusOr<std::unique_ptr<WatchCall>> HandleWatch(
      const v1::WatchConfigRequest& request, ConfigSink* sink) override;

 private:
  // The rate limits of Report, by connection `peer` and by device:
  // kResourceExhausted (counted) with `*wait` set when over one.
  absl::Status AdmitReport(const std::string& peer,
                           const v1::DeviceContext& device,
                           absl::Duration* wait);
  // Limits, then the core's Report and its metrics.
  absl::Status DoReportCall(const std::string& peer,
                            const v1::ReportRequest& request,
                            v1::ReportResponse* response, absl::Duration* wait);
  // Takes a place in the in-flight bound; false (counted) when full.
  bool EnterReport();
  grpc::Status DoCheck(const v1::CheckRequest* request,
                       v1::CheckResponse* response);
  grpc::Status DoReport(grpc::ServerContextBase* context,
                        const v1::ReportRequest* request,
                        v1::ReportResponse* response);
  grpc::Status DoDownload(grpc::ServerContext* context,
                          const v1::DownloadRequest* request,
                          grpc::ServerWriter<v1::DownloadChunk>* writer);
  // A WatchConfig stream's admission (gRPC's and HTTP's): its slot (none
  // without limits), or why not (counted).
  absl::StatusOr<std::optional<StreamLimiter::Slot>> AdmitWatch(
      const v1::DeviceContext& device);
  // OK for a granted slot; RESOURCE_EXHAUSTED (counted) for a refused one.
  absl::Status WatchRefused(const StreamLimiter::Slot& slot,
                            const v1::DeviceContext& device);
  DeliveryCore* core_;
  Metrics* metrics_;
  std::unique_ptr<RateLimiter> report_per_device_;
  std::unique_ptr<RateLimiter> report_per_connection_;
  std::unique_ptr<StreamLimiter> watch_streams_;
  // Report's bodies: many threads, as most of them wait for an fsync.
  WorkerPool report_pool_{16};
  size_t max_reports_in_flight_ = 0;  // 0: no bound (SetLimits sets it)
  // Reports accepted and not answered yet (queued or writing).
  std::atomic<size_t> reports_in_flight_{0};
};

class AdminService final : public v1::Admin::Service {
 public:
  AdminService(AdminCore* core, AuthCore* auth, Metrics* metrics)
      : core_(core), auth_(auth), metrics_(metrics) {}
  grpc::Status Publish(grpc::ServerContext* context,
                       grpc::ServerReader<v1::PublishRequest>* reader,
                       v1::PublishResponse* response) override;
  grpc::Status CreateRelease(grpc::ServerContext* context,
                             const v1::CreateReleaseRequest* request,
                             v1::Release* response) override;
  grpc::Status ListReleases(grpc::ServerContext* context,
                            const v1::ListReleasesRequest* request,
                            v1::ListReleasesResponse* response) override;
  grpc::Status CreateToken(grpc::ServerContext* context,
                           const v1::CreateTokenRequest* request,
                           v1::CreateTokenResponse* response) override;
  grpc::Status ListTokens(grpc::ServerContext* context,
                          const v1::ListTokensRequest* request,
                          v1::ListTokensResponse* response) override;
  grpc::Status RevokeToken(grpc::ServerContext* context,
                           const v1::RevokeTokenRequest* request,
                           v1::RevokeTokenResponse* response) override;
  grpc::Status ListAudit(grpc::ServerContext* context,
                         const v1::ListAuditRequest* request,
                         v1::ListAuditResponse* response) override;
  grpc::Status Backup(grpc::ServerContext* context,
                      const v1::BackupRequest* request,
                      v1::BackupResponse* response) override;
  grpc::Status SetTrust(grpc::ServerContext* context,
                        const v1::SetTrustRequest* request,
                        v1::SetTrustResponse* response) override;
  grpc::Status GetTrust(grpc::ServerContext* context,
                        const v1::GetTrustRequest* request,
                        v1::TrustInfo* response) override;
  grpc::Status PutLayerRole(grpc::ServerContext* context,
                            const v1::PutLayerRoleRequest* request,
                            v1::TrustInfo* response) override;
  grpc::Status GenerateOnlineKeys(
      grpc::ServerContext* context,
      const v1::GenerateOnlineKeysRequest* request,
      v1::GenerateOnlineKeysResponse* response) override;
  grpc::Status PutSegment(grpc::ServerContext* context,
                          const v1::Segment* request,
                          v1::Segment* response) override;
  grpc::Status ListSegments(grpc::ServerContext* context,
                            const v1::ListSegmentsRequest* request,
                            v1::ListSegmentsResponse* response) override;
  grpc::Status GetReleaseStatus(grpc::ServerContext* context,
                                const v1::GetReleaseStatusRequest* request,
                                v1::ReleaseStatus* response) override;
  grpc::Status SteerRelease(grpc::ServerContext* context,
                            const v1::SteerReleaseRequest* request,
                            v1::SteerReleaseResponse* response) override;
  grpc::Status PreviewRelease(grpc::ServerContext* context,
                              const v1::PreviewReleaseRequest* request,
                              v1::PreviewReleaseResponse* response) override;
  grpc::Status ExplainDevice(grpc::ServerContext* context,
                             const v1::ExplainDeviceRequest* request,
                             v1::ExplainDeviceResponse* response) override;
  grpc::Status DeleteSegment(grpc::ServerContext* context,
                             const v1::DeleteSegmentRequest* request,
                             v1::DeleteSegmentResponse* response) override;
  grpc::Status GetSegmentHistory(
      grpc::ServerContext* context, const v1::GetSegmentHistoryRequest* request,
      v1::GetSegmentHistoryResponse* response) override;
  grpc::Status EditRelease(grpc::ServerContext* context,
                           const v1::EditReleaseRequest* request,
                           v1::Release* response) override;
  grpc::Status GetFleet(grpc::ServerContext* context,
                        const v1::GetFleetRequest* request,
                        v1::GetFleetResponse* response) override;
  grpc::Status ListFailures(grpc::ServerContext* context,
                            const v1::ListFailuresRequest* request,
                            v1::ListFailuresResponse* response) override;
  grpc::Status GetFailure(grpc::ServerContext* context,
                          const v1::GetFailureRequest* request,
                          v1::FailureInfo* response) override;
  grpc::Status GetReleaseDistribution(
      grpc::ServerContext* context,
      const v1::GetReleaseDistributionRequest* request,
      v1::ReleaseDistribution* response) override;
  grpc::Status ListArtifacts(grpc::ServerContext* context,
                             const v1::ListArtifactsRequest* request,
                             v1::ListArtifactsResponse* response) override;
  grpc::Status GetArtifact(grpc::ServerContext* context,
                           const v1::GetArtifactRequest* request,
                           v1::ArtifactInfo* response) override;
  grpc::Status YankArtifact(grpc::ServerContext* context,
                            const v1::YankArtifactRequest* request,
                            v1::YankArtifactResponse* response) override;
  grpc::Status SetModuleSchema(grpc::ServerContext* context,
                               const v1::SetModuleSchemaRequest* request,
                               v1::ModuleSchema* response) override;
  grpc::Status GetModuleSchema(grpc::ServerContext* context,
                               const v1::GetModuleSchemaRequest* request,
                               v1::ModuleSchema* response) override;

 private:
  grpc::Status DoPublish(grpc::ServerContext* context,
                         grpc::ServerReader<v1::PublishRequest>* reader,
                         v1::PublishResponse* response);
  // The principal behind the call's `authorization: Bearer` metadata.
  absl::StatusOr<Principal> Caller(grpc::ServerContext* context);
  // A timed unary call: authenticates, runs `call(principal)` and moves
  // its result into `response`.
  template <typename Response, typename Call>
  grpc::Status Unary(grpc::ServerContext* context, const char* method,
                     Response* response, Call&& call) {
    return Timed(metrics_, method, [&] {
      absl::StatusOr<Principal> who = Caller(context);
      if (!who.ok()) return ToGrpcStatus(who.status());
      absl::StatusOr<Response> result = call(*who);
      if (!result.ok()) return ToGrpcStatus(result.status());
      *response = *std::move(result);
      return grpc::Status::OK;
    });
  }

  AdminCore* core_;
  AuthCore* auth_;
  Metrics* metrics_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_RPC_SRC_SERVICES_H_
