#include "strata/server/http/blob_handler.h"

#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/server/http/tuf_handler.h"

namespace strata::server {
namespace {

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "text/plain; charset=utf-8";
  r.body = std::move(body) + "\n";
  return r;
}

}  // namespace

HttpHandler MakeBlobHandler(Store* store, Metrics* metrics, TrustRepo* trust) {
  return [store, metrics, trust](const HttpRequest& req) -> HttpResponse {
    constexpr std::string_view kBlobs = "/v1/blobs/";
    constexpr std::string_view kTuf = "/v1/tuf/";
    std::string_view path = req.path;
    HttpResponse r;
    if (req.method != "GET" && req.method != "HEAD") {
      r = Text(405, "only GET and HEAD");
      r.headers["Allow"] = "GET, HEAD";
    } else if (path.substr(0, kBlobs.size()) == kBlobs) {
      r = ServeBlob(store, req, path.substr(kBlobs.size()));
    } else if (path.substr(0, kTuf.size()) == kTuf) {
      r = ServeTuf(trust, store, req, path.substr(kTuf.size()));
    } else if (path == "/metrics") {
      r = Text(200, metrics->Render());
      r.headers["Content-Type"] = "text/plain; version=0.0.4";
    } else if (path == "/healthz") {
      r = Text(200, "ok");
    } else {
      r = Text(404,
               "not found; try /v1/blobs/<sha256>, "
               "/v1/tuf/<app>/timestamp.json or /metrics");
    }
    metrics->Increment("strata_http_requests_total",
                       StrCat("code=\"", r.status, "\""));
    return r;
  };
}

}  // namespace strata::server
