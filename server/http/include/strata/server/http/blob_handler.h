#ifndef STRATA_SERVER_HTTP_BLOB_HANDLER_H_
#define STRATA_SERVER_HTTP_BLOB_HANDLER_H_

#include "strata/server/core/metrics.h"
#include "strata/server/core/trust_repo.h"
#include "strata/server/http/http_server.h"
#include "strata/server/storage/store.h"

namespace strata::server {

// Routes:
//   GET|HEAD /v1/blobs/<sha256>  the blob; Range, ETag, If-None-Match,
//                                immutable caching headers
//   GET|HEAD /v1/tuf/<app>/...   the app's TUF repository (tuf_handler.h);
//                                `trust` may be null (then 404)
//   GET /metrics                 Prometheus text format
//   GET /healthz                 "ok"
HttpHandler MakeBlobHandler(Store* store, Metrics* metrics,
                            TrustRepo* trust = nullptr);

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_BLOB_HANDLER_H_
