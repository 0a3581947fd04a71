#include "services.h"
#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/proto/grpc_status.h"

namespace strata::server {

grpc::Status DeliveryService::DoCheck(grpc::ServerContext*,
                                      const v1::CheckRequest* request,
                                      v1::CheckResponse* response) {
  absl::StatusOr<v1::CheckResponse> result = core_->Check(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status DeliveryService::DoDownload(
    grpc::ServerContext* context, const v1::DownloadRequest* request,
    grpc::ServerWriter<v1::DownloadChunk>* writer) {
  if (!IsSha256Hex(request->sha256())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "sha256 must be 64 lowercase hex characters");
  }
  absl::StatusOr<std::optional<BlobManifest>> manifest =
      core_->store()->GetBlobManifest(request->sha256());
  if (!manifest.ok()) return ToGrpcStatus(manifest.status());
  if (!manifest->has_value()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "no blob with that sha256");
  }
  const BlobManifest& m = **manifest;
  const uint64_t offset = request->offset();
  if (offset > m.size) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        "offset is past the end of the blob");
  }
  const uint64_t step = core_->download_chunk_bytes();
  absl::Status s =
      StreamBlob(*core_->store(), m, offset, m.size,
                 [&](uint64_t at, std::string_view piece) {
                   for (uint64_t from = 0; from < piece.size(); from += step) {
                     if (context->IsCancelled()) return false;
                     v1::DownloadChunk chunk;
                     chunk.set_offset(at + from);
                     chunk.set_total_size(m.size);
                     chunk.set_data(std::string(piece.substr(from, step)));
                     if (!writer->Write(chunk))
                       return false;  // client went away
                   }
                   return true;
                 });
  return ToGrpcStatus(s);
}

grpc::Status DeliveryService::Check(grpc::ServerContext* context,
                                    const v1::CheckRequest* request,
                                    v1::CheckResponse* response) {
  return Timed(metrics_, "Check", [&] {
    grpc::Status s = DoCheck(context, request, response);
    return s;
  });
}

grpc::Status DeliveryService::Download(
    grpc::ServerContext* context, const v1::DownloadRequest* request,
    grpc::ServerWriter<v1::DownloadChunk>* writer) {
  return Timed(metrics_, "Download", [&] {
    grpc::Status s = DoDownload(context, request, writer);
    return s;
  });
}

grpc::Status DeliveryService::WatchConfig(
    grpc::ServerContext* context, const v1::WatchConfigRequest* request,
    grpc::ServerWriter<v1::ConfigEvent>* writer) {
  const v1::DeviceContext& device = request->device();
  if (absl::Status s = ValidateName("app id", device.app_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  metrics_->Increment("strata_config_watch_streams_total");
  std::map<std::string, v1::InstalledModule> known;
  for (const auto& m : request->installed()) {
    if (m.module().layer() == v1::LAYER_CONFIG) known[m.module().name()] = m;
  }
  // What the device trusts, as far as this stream knows: each event
  // carries only the metadata files newer than that.
  v1::TrustedVersions sent = request->trusted();
  while (!context->IsCancelled()) {
    // Read the counter first: a change after it wakes the wait below.
    const uint64_t seen = core_->ChangeCounter(device.app_id());
    absl::StatusOr<std::vector<v1::UpdateEntry>> changes =
        core_->ConfigChanges(device, known);
    if (!changes.ok()) return ToGrpcStatus(changes.status());
    for (auto& entry : *changes) {
      v1::ConfigEvent event;
      *event.mutable_entry() = std::move(entry);
      core_->NewerMetadata(device.app_id(), sent, event.mutable_metadata());
      if (!writer->Write(event)) return grpc::Status::OK;  // device went away
      metrics_->Increment("strata_config_pushes_total");
    }
    // Wake at least every half second to notice a cancelled stream.
    core_->WaitForChange(device.app_id(), seen,
                         absl::Now() + absl::Milliseconds(500));
  }
  return grpc::Status::OK;
}

grpc::Status DeliveryService::Report(grpc::ServerContext*,
                                     const v1::ReportRequest* request,
                                     v1::ReportResponse* response) {
  return Timed(metrics_, "Report", [&] {
    ReportStats stats;
    absl::StatusOr<v1::ReportResponse> result = core_->Report(*request, &stats);
    if (!result.ok()) return ToGrpcStatus(result.status());
    for (const auto& e : request->events()) {
      metrics_->Increment(
          "strata_report_events_total",
          StrCat("kind=\"", v1::ReportEvent::Kind_Name(e.kind()), "\""));
    }
    // What did not move release health, and why.
    if (result->duplicates() > 0) {
      metrics_->Increment("strata_report_duplicate_events_total", "",
                          result->duplicates());
    }
    if (result->not_counted() > 0) {
      metrics_->Increment("strata_report_not_counted_events_total",
                          StrCat("reason=\"", stats.not_counted_reason, "\""),
                          result->not_counted());
    }
    if (stats.repeated > 0) {
      metrics_->Increment("strata_report_repeated_device_events_total", "",
                          stats.repeated);
    }
    *response = *std::move(result);
    return grpc::Status::OK;
  });
}

}  // namespace strata::server
