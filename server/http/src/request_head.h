// The strict check of an HTTP/1.x request head, split out so that the fuzz
// target server/http/fuzz/request_head_fuzzer.cc can call it. h2o parses
// requests leniently (it takes the first of two Content-Lengths, lets
// Transfer-Encoding win over Content-Length, accepts obs-fold and bare LF),
// which is how request smuggling through a front proxy starts; the server
// runs every HTTP/1 head through this first and answers 400 when it fails.
// Internal to server/http.
#ifndef STRATA_SERVER_HTTP_SRC_REQUEST_HEAD_H_
#define STRATA_SERVER_HTTP_SRC_REQUEST_HEAD_H_

#include <optional>
#include <string_view>

#include "strata/server/http/http_server.h"

namespace strata::server::internal {

// `head`: the bytes before the first empty line ("\r\n\r\n" ends it). The
// request line's method and target, and the header fields (lowercase names,
// values trimmed, a repeated name keeps the last value). nullopt with
// *error_status = 400 unless all of these hold:
//  - the request line is `token SP target SP HTTP/1.0|HTTP/1.1`, the target
//    without controls or spaces;
//  - every line ends in CR LF (no bare CR or LF anywhere);
//  - no line starts with a blank (obs-fold);
//  - every field is `token ":" value`, no blank before the colon, no
//    control characters but HT in the value;
//  - at most one Content-Length (digits only) and one Transfer-Encoding
//    ("chunked", HTTP/1.1 only), never both;
//  - exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
std::optional<HttpRequest> ParseRequestHead(std::string_view head,
                                            int* error_status);

// `s` without leading and trailing spaces and tabs.
std::string_view TrimBlanks(std::string_view s);

}  // namespace strata::server::internal

#endif  // STRATA_SERVER_HTTP_SRC_REQUEST_HEAD_H_
