// The stratad process in a class: storage, cores and gRPC services wired
// together. Used by the stratad binary and by in-process integration tests.
#ifndef STRATA_SERVER_RPC_STRATA_SERVER_H_
#define STRATA_SERVER_RPC_STRATA_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/base/env.h"

namespace strata::server {

struct ServerOptions {
  std::string data_dir = "strata-data";
  // host:port; port 0 picks a free one (see StrataServer::port()).
  std::string listen_address = "127.0.0.1:7443";
};

class StrataServer {
 public:
  static absl::StatusOr<std::unique_ptr<StrataServer>> Start(
      const ServerOptions& options, Env env = Env::Default());
  ~StrataServer();

  int port() const;
  // Stops accepting calls and waits up to `grace` for running ones.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until Shutdown() has completed.
  void Wait();

 private:
  struct Impl;
  explicit StrataServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_RPC_STRATA_SERVER_H_
