// The root of trust that publishes are checked against. Release engineers
// install TUF root metadata (signed by a threshold of the offline root
// keys) and top-level targets metadata (signed by the targets keys) that
// delegates each layer to publisher keys with a threshold. A publish is
// accepted only with at least the layer's threshold of valid publisher
// signatures over its statement, checked before any content is taken.
// The server never holds a private key that could make a publish valid.
#ifndef STRATA_SERVER_CORE_PUBLISH_TRUST_H_
#define STRATA_SERVER_CORE_PUBLISH_TRUST_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "strata/base/env.h"
#include "strata/v1/admin.pb.h"

namespace strata::server {

class PublishTrust {
 public:
  explicit PublishTrust(Clock* clock);
  ~PublishTrust();

  // Checks root and targets (signatures, thresholds, expiry, and that a
  // new root is also signed by the current root's keys) and, on success,
  // returns what they say; installs nothing.
  absl::StatusOr<v1::SetTrustResponse> Check(std::string_view root,
                                             std::string_view targets) const;
  // Installs checked metadata (call after it is stored).
  absl::Status Install(std::string_view root, std::string_view targets);

  bool configured() const;
  // kFailedPrecondition when nothing is installed; kPermissionDenied when
  // the valid signatures fall short of the layer's threshold.
  absl::Status VerifyStatement(
      const v1::ArtifactStatement& statement,
      const google::protobuf::RepeatedPtrField<v1::Signature>& signatures)
      const;

 private:
  struct State;
  absl::StatusOr<std::shared_ptr<const State>> Parse(
      std::string_view root, std::string_view targets,
      const State* previous) const;
  Clock* clock_;
  mutable std::mutex mu_;
  std::shared_ptr<const State> state_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_PUBLISH_TRUST_H_
