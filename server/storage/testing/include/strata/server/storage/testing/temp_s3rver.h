// A throwaway S3-compatible object store for tests: s3rver (npm) on
// 127.0.0.1 at a port it picks, serving a new temporary directory with one
// bucket; it checks SigV4 signatures (credentials S3RVER / S3RVER).
// Stopped and its directory deleted with the object.
//
// s3rver is installed with `npm ci` from `package_dir` (package.json and
// package-lock.json) into `install_dir` on first use (under a file lock, so
// test processes running at once install it once). Tests skip with
// SkipReason() when node or npm is missing.
#ifndef STRATA_SERVER_STORAGE_TESTING_TEMP_S3RVER_H_
#define STRATA_SERVER_STORAGE_TESTING_TEMP_S3RVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace strata::testing {

class TempS3rver {
 public:
  static constexpr char kAccessKey[] = "S3RVER";
  static constexpr char kSecretKey[] = "S3RVER";

  // "" when node and npm are there, else why not (for GTEST_SKIP).
  static std::string SkipReason();

  static absl::StatusOr<std::unique_ptr<TempS3rver>> Start(
      const std::string& package_dir, const std::string& install_dir,
      std::string_view bucket = "strata");
  ~TempS3rver();
  TempS3rver(const TempS3rver&) = delete;
  TempS3rver& operator=(const TempS3rver&) = delete;

  int port() const { return port_; }
  // http://127.0.0.1:<port>
  std::string Endpoint() const;
  // s3://<bucket>/<prefix>?endpoint=http://127.0.0.1:<port>
  std::string BlobsUrl(std::string_view prefix = "") const;
  // Sets AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY to s3rver's (child
  // processes inherit them).
  static void SetCredentialsInEnvironment();
  // Stops the server (SIGKILL: the store goes away at once) and starts it
  // again on the same port and data.
  absl::Status Stop();
  absl::Status Restart();

 private:
  TempS3rver() = default;
  absl::Status Launch(int port);

  std::string dir_;
  std::string install_dir_;
  std::string bucket_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace strata::testing

#endif  // STRATA_SERVER_STORAGE_TESTING_TEMP_S3RVER_H_
