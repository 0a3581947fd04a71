// How every Strata tool (strata, strata-device, strata-fleet) reads a
// --server value and words a server it could not reach, so that they say
// the same thing: what was tried and how to fix it.
#ifndef STRATA_BASE_SERVER_ADDRESS_H_
#define STRATA_BASE_SERVER_ADDRESS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace strata {

// stratad's default gRPC port (`stratad --listen`, 127.0.0.1:7443).
inline constexpr int kDefaultServerPort = 7443;

struct ServerAddress {
  std::string target;  // what gRPC dials, e.g. "localhost:7443"
  // "" unless the value was rewritten in a way worth saying (a URL's
  // scheme stripped), e.g. "--server takes host:port; using h:443 ...".
  std::string note;
};

// `value`, given as `flag` (named in messages), as a gRPC target:
// - "host:port", "[v6]:port": unchanged;
// - "host", "[v6]", "::1": stratad's port 7443 is added (gRPC alone would
//   dial 443);
// - "https://host[:port][/]": the scheme is stripped (443 without a port,
//   as in a URL), with a note;
// - "dns:...", "ipv4:...", "ipv6:...", "unix:...": gRPC target syntax,
//   unchanged.
// kInvalidArgument, saying what to write instead, for "", "http://..." (gRPC
// is not HTTP/1 and strata does not guess the transport), other schemes,
// URL paths, blanks, an empty or non-numeric port or one above 65535.
absl::StatusOr<ServerAddress> ParseServerAddress(std::string_view value,
                                                 std::string_view flag);

// What gRPC's message for a failed connection means, in words ("connection
// refused: nothing listens on that port", "the host name x does not
// resolve", ...); "" when the message is not about reaching the server
// (e.g. the server itself answered UNAVAILABLE).
std::string ConnectFailureReason(std::string_view grpc_message);

// The one message for a server that could not be reached:
// "cannot reach stratad at <target>: <reason>; <fix> (gRPC: <message>)".
// `fix` names the tool's own flags, e.g. "start stratad there, or point
// --server (or STRATA_SERVER) at its gRPC port".
std::string UnreachableMessage(std::string_view target, std::string_view reason,
                               std::string_view fix,
                               std::string_view grpc_message);

}  // namespace strata

#endif  // STRATA_BASE_SERVER_ADDRESS_H_
