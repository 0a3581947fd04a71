// The one place HTTP routes are added: an exact path or a path prefix, the
// methods it answers, and a handler. The blob and TUF routes and /metrics
// live here now; the Delivery API over HTTP (protobuf bodies), more TUF
// files and the console's assets and API are added the same way.
#ifndef STRATA_SERVER_HTTP_HTTP_ROUTER_H_
#define STRATA_SERVER_HTTP_HTTP_ROUTER_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/server/http/http_server.h"

namespace strata::server {

class HttpRouter {
 public:
  // `rest`: the path after the route's prefix, without the query ("" for
  // an exact route).
  using Route =
      std::function<HttpResponse(const HttpRequest&, std::string_view rest)>;

  // `path` exactly (the query string is ignored when matching).
  HttpRouter& Exact(std::string path, std::vector<std::string> methods,
                    Route route);
  // Every path that starts with `prefix`; the longest matching prefix wins
  // and an exact route wins over any prefix.
  HttpRouter& Prefix(std::string prefix, std::vector<std::string> methods,
                     Route route);
  // Called with every response (e.g. to count it).
  HttpRouter& OnResponse(
      std::function<void(const HttpRequest&, const HttpResponse&)> observer);

  // 404 when no route matches, 405 with Allow when the method is not one
  // of the route's.
  HttpResponse Handle(const HttpRequest& req) const;
  HttpHandler AsHandler() &&;

 private:
  struct Entry {
    std::string path;
    bool prefix;
    std::vector<std::string> methods;
    Route route;
  };
  std::vector<Entry> entries_;
  std::function<void(const HttpRequest&, const HttpResponse&)> observer_;
};

// A text/plain response (the body gets a trailing newline).
HttpResponse TextResponse(int status, std::string body);

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_HTTP_ROUTER_H_
