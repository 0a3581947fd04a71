// Fuzz target: the request-head parser of stratad's HTTP server
// (internal::ParseRequestHead, server/http/src/request_head.h) on untrusted
// bytes, and the Range parser on the Range value it yields. Input: the
// bytes before "\r\n\r\n" (the target cuts the input at the first one, as
// the server does). Properties: no crash; a failure is a 400; a parsed
// request has a method without spaces, and nothing parsed spans a line
// (contains CR LF); header names are lowercase without ':', values have no
// surrounding blanks; a parsed Range lies inside the resource for a few
// resource sizes. (Since the move to h2o the parser is strict: a bare CR
// or LF, obs-fold or a smuggling shape is a 400.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "request_head.h"
#include "strata/server/http/http_server.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool HasLineBreak(std::string_view s) {
  return s.find("\r\n") != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view head(reinterpret_cast<const char*>(data), size);
  head = head.substr(0, head.find("\r\n\r\n"));
  int error_status = 0;
  std::optional<strata::server::HttpRequest> req =
      strata::server::internal::ParseRequestHead(head, &error_status);
  if (!req.has_value()) {
    Check(error_status == 400);
    return 0;
  }
  Check(req->method.find(' ') == std::string::npos &&
        !HasLineBreak(req->method));
  Check(!HasLineBreak(req->path));
  for (const auto& [name, value] : req->headers) {
    Check(name.find(':') == std::string::npos && !HasLineBreak(name));
    for (char c : name) Check(c < 'A' || c > 'Z');
    Check(!HasLineBreak(value));
    if (!value.empty()) {
      Check(value.front() != ' ' && value.front() != '\t');
      Check(value.back() != ' ' && value.back() != '\t');
    }
  }
  if (auto range = req->headers.find("range"); range != req->headers.end()) {
    for (uint64_t resource : {uint64_t{0}, uint64_t{1}, uint64_t{1000},
                              uint64_t{1} << 40, ~uint64_t{0}}) {
      std::optional<strata::server::ByteRange> r =
          strata::server::ParseRange(range->second, resource);
      if (r.has_value()) Check(r->first <= r->last && r->last < resource);
    }
  }
  return 0;
}
