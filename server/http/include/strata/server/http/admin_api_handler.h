// The Admin API as JSON over stratad's HTTP port, for the release console
// (docs/console.md):
//
//   POST /api/v1/<Method>   body: the request message as protobuf JSON
//                           Authorization: Bearer <token> (as the CLI sends)
//   -> 200 and the response message as protobuf JSON, or an error status
//      (401, 403, 404, 400, 412 ... as HttpStatusFor maps the gRPC code)
//      with {"code": "PERMISSION_DENIED", "message": "..."}.
//
// Each call is forwarded in-process to the real gRPC Admin service (the
// token goes as the same `authorization` metadata the CLI sends), so roles,
// audit entries, limits and error messages are exactly the CLI's: there is
// no second authorization path. Only unary methods: Publish (a client
// stream) is refused with 400, an unknown method with 404.
//
// Against cross-site use: a request must carry Content-Type
// application/json and an Authorization header, neither of which a page on
// another origin can send without a CORS preflight, which is never
// answered (no Access-Control-* headers).
#ifndef STRATA_SERVER_HTTP_ADMIN_API_HANDLER_H_
#define STRATA_SERVER_HTTP_ADMIN_API_HANDLER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "strata/server/http/http_router.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace strata::server {

inline constexpr char kAdminApiPrefix[] = "/api/v1/";

// One unary call of a gRPC method with serialized protobuf bodies.
class AdminCalls {
 public:
  virtual ~AdminCalls() = default;
  // `full_method`: "/strata.v1.Admin/<Method>"; `authorization`: the
  // metadata value to send ("" for none).
  virtual absl::Status Call(const std::string& full_method,
                            std::string_view authorization,
                            const std::string& request,
                            std::string* response) = 0;
};

// Calls `server`'s services through its in-process channel (no socket, no
// TLS). `server` must outlive the result.
std::shared_ptr<AdminCalls> InProcessAdminCalls(grpc::Server* server,
                                                int max_message_bytes);

void AddAdminApiRoutes(HttpRouter& router, std::shared_ptr<AdminCalls> calls);

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_ADMIN_API_HANDLER_H_
