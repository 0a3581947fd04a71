// A throwaway PostgreSQL server for tests: initdb in a new temporary
// directory, then postgres on 127.0.0.1 at a free port (and a Unix socket
// in that directory), trust authentication for user "strata". Stopped and
// deleted with the object. As root (initdb refuses root) the server runs
// as the "postgres" user the Debian package makes.
//
// Tests skip with SkipReason() when PostgreSQL's binaries are missing:
//   if (std::string why = TempPostgres::SkipReason(); !why.empty())
//     GTEST_SKIP() << why;
#ifndef STRATA_SERVER_STORAGE_TESTING_TEMP_POSTGRES_H_
#define STRATA_SERVER_STORAGE_TESTING_TEMP_POSTGRES_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::testing {

class TempPostgres {
 public:
  // The directory holding initdb, pg_ctl and postgres ("" if none is
  // installed): /usr/lib/postgresql/<newest>/bin, else the PATH's.
  static std::string BinDir();
  // "" when a server can be started, else why not (for GTEST_SKIP).
  static std::string SkipReason();

  // `settings` are extra server settings ("default_transaction_read_only=on"
  // plays a standby that refuses writes).
  static absl::StatusOr<std::unique_ptr<TempPostgres>> Start(
      const std::vector<std::string>& settings = {});
  ~TempPostgres();
  TempPostgres(const TempPostgres&) = delete;
  TempPostgres& operator=(const TempPostgres&) = delete;

  int port() const { return port_; }
  // postgresql://strata@127.0.0.1:<port>/<database>
  std::string Url(std::string_view database = "postgres") const;
  // A schema name no other test of this process used ("t1", "t2", ...):
  // stores opened with it start empty.
  std::string NewSchema();
  // pg_ctl stop (fast: connections are cut, as in a failover) and start
  // again on the same port and data.
  absl::Status Stop();
  absl::Status Restart();

 private:
  TempPostgres(std::string dir, std::string bin) : dir_(dir), bin_(bin) {}
  absl::Status StartServer();
  // Runs `argv` (as "postgres" when root); output to <dir>/commands.log.
  absl::Status Run(const std::vector<std::string>& argv);

  std::string dir_;
  std::string bin_;
  int port_ = 0;
  bool running_ = false;
  int schemas_ = 0;
  std::vector<std::string> settings_;
};

}  // namespace strata::testing

#endif  // STRATA_SERVER_STORAGE_TESTING_TEMP_POSTGRES_H_
