#include "strata/server/rpc/strata_server.h"

#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "services.h"
#include "strata/base/file_util.h"
#include "strata/base/log.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {

struct StrataServer::Impl {
  std::unique_ptr<Store> store;
  std::unique_ptr<AdminCore> admin_core;
  std::unique_ptr<DeliveryCore> delivery_core;
  std::unique_ptr<AdminService> admin_service;
  std::unique_ptr<DeliveryService> delivery_service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

StrataServer::StrataServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

StrataServer::~StrataServer() {
  if (impl_->server) Shutdown(absl::ZeroDuration());
}

absl::StatusOr<std::unique_ptr<StrataServer>> StrataServer::Start(
    const ServerOptions& options, Env env) {
  auto impl = std::make_unique<Impl>();
  STRATA_RETURN_IF_ERROR(Annotate(CreateDirs(*env.fs, options.data_dir),
                                  "creating the data directory"));
  STRATA_ASSIGN_OR_RETURN(impl->store,
                          Store::Open(JoinPath(options.data_dir, "db")));
  impl->admin_core = std::make_unique<AdminCore>(impl->store.get(), env.clock);
  impl->delivery_core =
      std::make_unique<DeliveryCore>(impl->store.get(), env.clock);
  impl->admin_service = std::make_unique<AdminService>(impl->admin_core.get());
  impl->delivery_service =
      std::make_unique<DeliveryService>(impl->delivery_core.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // TLS arrives with the server issue; until then stratad listens on
  // loopback by default.
  builder.AddListeningPort(options.listen_address,
                           grpc::InsecureServerCredentials(), &impl->port);
  builder.SetMaxReceiveMessageSize(8 << 20);
  builder.RegisterService(impl->admin_service.get());
  builder.RegisterService(impl->delivery_service.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(
        StrCat("could not listen on ", options.listen_address,
               "; is the port in use? pass another with --listen"));
  }
  impl->server->GetHealthCheckService()->SetServingStatus(true);
  STRATA_LOG(Info) << "stratad serving on port " << impl->port << ", data in "
                   << options.data_dir;
  return std::unique_ptr<StrataServer>(new StrataServer(std::move(impl)));
}

int StrataServer::port() const { return impl_->port; }

void StrataServer::Shutdown(absl::Duration grace) {
  if (!impl_->server) return;
  impl_->server->GetHealthCheckService()->SetServingStatus(false);
  impl_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  impl_->server->Wait();
  impl_->server.reset();
}

void StrataServer::Wait() {
  if (impl_->server) impl_->server->Wait();
}

}  // namespace strata::server
