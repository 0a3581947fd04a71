#ifndef STRATA_SERVER_HTTP_BLOB_HANDLER_H_
#define STRATA_SERVER_HTTP_BLOB_HANDLER_H_

#include <cstdint>
#include <memory>

#include "strata/server/core/metrics.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/http/blob_cache.h"
#include "strata/server/http/http_router.h"
#include "strata/server/http/http_server.h"
#include "strata/server/storage/store.h"

namespace strata::server {

// Decompressed blobs kept for HTTP by default (stratad --http-cache-mb).
inline constexpr uint64_t kDefaultBlobCacheBytes = uint64_t{256} << 20;

// Routes:
//   GET|HEAD /v1/blobs/<sha256>  the blob; Range, ETag, If-None-Match,
//                                immutable caching headers
//   GET|HEAD /v1/tuf/<app>/...   the app's TUF repository (tuf_handler.h);
//                                `trust` may be null (then 404)
//   GET /metrics                 Prometheus text format
//   GET /healthz                 "ok"
// Every response counts in strata_http_requests_total{code}.
void AddBlobRoutes(HttpRouter& router, Store* store, Metrics* metrics,
                   TrustRepo* trust, std::shared_ptr<BlobCache> cache);

// A router with just those routes, and a cache of `cache_bytes`.
HttpHandler MakeBlobHandler(Store* store, Metrics* metrics,
                            TrustRepo* trust = nullptr,
                            uint64_t cache_bytes = kDefaultBlobCacheBytes);

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_BLOB_HANDLER_H_
