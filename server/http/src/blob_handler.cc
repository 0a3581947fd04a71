#include "strata/server/http/blob_handler.h"

#include "strata/base/strings.h"
#include "strata/server/http/tuf_handler.h"

namespace strata::server {

void AddBlobRoutes(HttpRouter& router, Store* store, Metrics* metrics,
                   TrustRepo* trust, std::shared_ptr<BlobCache> cache) {
  const std::vector<std::string> kRead = {"GET", "HEAD"};
  router
      .Prefix("/v1/blobs/", kRead,
              [store, cache](const HttpRequest& req, std::string_view sha) {
                return ServeBlob(store, cache.get(), req, sha);
              })
      .Prefix(
          "/v1/tuf/", kRead,
          [store, trust, cache](const HttpRequest& req, std::string_view rest) {
            return ServeTuf(trust, store, cache.get(), req, rest);
          })
      .Exact("/metrics", kRead,
             [metrics, cache](const HttpRequest&, std::string_view) {
               const BlobCache::Stats s = cache->stats();
               metrics->SetGauge("strata_http_blob_cache_bytes", "",
                                 static_cast<int64_t>(s.bytes));
               metrics->SetGauge("strata_http_blob_cache_entries", "",
                                 static_cast<int64_t>(s.entries));
               metrics->SetGauge("strata_http_blob_cache_hits", "",
                                 static_cast<int64_t>(s.hits));
               metrics->SetGauge("strata_http_blob_cache_misses", "",
                                 static_cast<int64_t>(s.misses));
               HttpResponse r = TextResponse(200, metrics->Render());
               r.headers["Content-Type"] = "text/plain; version=0.0.4";
               return r;
             })
      .Exact("/healthz", kRead,
             [](const HttpRequest&, std::string_view) {
               return TextResponse(200, "ok");
             })
      .OnResponse([metrics](const HttpRequest&, const HttpResponse& r) {
        metrics->Increment("strata_http_requests_total",
                           StrCat("code=\"", r.status, "\""));
      });
}

HttpHandler MakeBlobHandler(Store* store, Metrics* metrics, TrustRepo* trust,
                            uint64_t cache_bytes) {
  HttpRouter router;
  AddBlobRoutes(router, store, metrics, trust,
                std::make_shared<BlobCache>(store, cache_bytes));
  return std::move(router).AsHandler();
}

}  // namespace strata::server
