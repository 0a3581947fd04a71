// Thin gRPC adapters: proto in, core call, proto out.
#ifndef STRATA_SERVER_RPC_SRC_SERVICES_H_
#define STRATA_SERVER_RPC_SRC_SERVICES_H_

#include "strata/server/core/admin_core.h"
#include "strata/server/core/delivery_core.h"
#include "strata/v1/admin.grpc.pb.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata::server {

class DeliveryService final : public v1::Delivery::Service {
 public:
  explicit DeliveryService(DeliveryCore* core) : core_(core) {}
  grpc::Status Check(grpc::ServerContext* context,
                     const v1::CheckRequest* request,
                     v1::CheckResponse* response) override;
  grpc::Status Download(grpc::ServerContext* context,
                        const v1::DownloadRequest* request,
                        grpc::ServerWriter<v1::DownloadChunk>* writer) override;

 private:
  DeliveryCore* core_;
};

class AdminService final : public v1::Admin::Service {
 public:
  explicit AdminService(AdminCore* core) : core_(core) {}
  grpc::Status Publish(grpc::ServerContext* context,
                       grpc::ServerReader<v1::PublishRequest>* reader,
                       v1::PublishResponse* response) override;
  grpc::Status CreateRelease(grpc::ServerContext* context,
                             const v1::CreateReleaseRequest* request,
                             v1::Release* response) override;
  grpc::Status ListReleases(grpc::ServerContext* context,
                            const v1::ListReleasesRequest* request,
                            v1::ListReleasesResponse* response) override;

 private:
  AdminCore* core_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_RPC_SRC_SERVICES_H_
