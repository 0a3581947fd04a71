// The parsing of an HTTP/1.1 request head, split out of the connection loop
// (http_server.cc) so that the fuzz target server/http/fuzz/
// request_head_fuzzer.cc can call it. Internal to server/http.
#ifndef STRATA_SERVER_HTTP_SRC_REQUEST_HEAD_H_
#define STRATA_SERVER_HTTP_SRC_REQUEST_HEAD_H_

#include <optional>
#include <string_view>

#include "strata/server/http/http_server.h"

namespace strata::server::internal {

// `head`: the bytes before the first "\r\n\r\n". The request line's method
// and target, and the header fields (lowercase names, values trimmed; a
// line without ':' is skipped, a repeated name keeps the last value).
// nullopt with *error_status = 400 when the request line has fewer than
// two spaces.
std::optional<HttpRequest> ParseRequestHead(std::string_view head,
                                            int* error_status);

}  // namespace strata::server::internal

#endif  // STRATA_SERVER_HTTP_SRC_REQUEST_HEAD_H_
