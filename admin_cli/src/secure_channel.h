// The AdminClient's gRPC channel as its ChannelSecurity says: TLS (system
// roots, a CA, a pinned certificate) or plaintext to loopback only. Calls
// that fail in the TLS handshake come back saying what to do.
#ifndef STRATA_ADMIN_CLI_SRC_SECURE_CHANNEL_H_
#define STRATA_ADMIN_CLI_SRC_SECURE_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "strata/admin_cli/admin_client.h"

namespace strata::admin {

// kInvalidArgument for plaintext to a non-loopback address, or a CA or
// pinned certificate that is not PEM.
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewSecureChannel(
    const std::string& address, const ChannelSecurity& security);

// A channel that fails every call with `status` and sends nothing.
std::shared_ptr<grpc::Channel> NewRefusingChannel(const absl::Status& status);

// The message for a call to `address` that failed with `message`: the
// same, or for a TLS failure what went wrong and what to do.
std::string ExplainConnectionFailure(const std::string& address,
                                     const ChannelSecurity& security,
                                     const std::string& message);

// True for messages ExplainConnectionFailure rewrote (a TLS mismatch that
// waiting will not cure).
bool IsTlsMismatch(const std::string& message);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_SRC_SECURE_CHANNEL_H_
