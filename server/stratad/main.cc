// stratad: the Strata publishing and delivery server.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "CLI/CLI.hpp"
#include "strata/base/file_util.h"
#include "strata/base/log.h"
#include "strata/server/rpc/strata_server.h"

int main(int argc, char** argv) {
  strata::server::ServerOptions options;
  std::string port_file;
  CLI::App app{
      "stratad - the Strata server: stores artifacts and releases in an\n"
      "embedded RocksDB and serves the Delivery and Admin gRPC services plus\n"
      "the standard gRPC health service.\n\n"
      "Example:\n"
      "  stratad --data-dir /var/lib/strata --listen 127.0.0.1:7443\n"
      "Stops cleanly on SIGINT or SIGTERM."};
  app.add_option("--data-dir", options.data_dir,
                 "where the database lives (created if missing)")
      ->capture_default_str();
  app.add_option("--listen", options.listen_address,
                 "host:port to serve gRPC on; port 0 picks a free one")
      ->capture_default_str();
  app.add_option("--port-file", port_file,
                 "write the port actually bound to this file (for scripts)");
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = strata::server::StrataServer::Start(options);
  if (!server.ok()) {
    std::cerr << "stratad: " << server.status().message() << "\n";
    return 1;
  }
  if (!port_file.empty()) {
    absl::Status s =
        strata::WriteFileAtomically(*strata::PosixFileSystem(), port_file,
                                    std::to_string((*server)->port()) + "\n");
    if (!s.ok()) {
      std::cerr << "stratad: " << s.message() << "\n";
      return 1;
    }
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  STRATA_LOG(Info) << "signal " << sig << ": shutting down";
  (*server)->Shutdown(absl::Seconds(5));
  return 0;
}
