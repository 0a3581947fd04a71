// Each app's TUF repository over HTTP, in TUF's consistent-snapshot layout,
// so a CDN or a plain TUF client (tuf-js, python-tuf) can serve and read
// the offline-signed part:
//   GET /v1/tuf/<app>/<N>.root.json, root.json (current), timestamp.json,
//       <v>.snapshot.json, <v>.targets.json, <v>.<layer>.json, director.json
//   GET /v1/tuf/<app>/targets/<layer>/<sha256>.<module>@<counter>
//       the content of a publisher-signed target (404 unless signed)
// Versioned files are immutable; timestamp, director and root.json are
// `Cache-Control: no-cache`.
#ifndef STRATA_SERVER_HTTP_TUF_HANDLER_H_
#define STRATA_SERVER_HTTP_TUF_HANDLER_H_

#include <string_view>

#include "strata/server/core/trust_repo.h"
#include "strata/server/http/blob_cache.h"
#include "strata/server/http/http_server.h"
#include "strata/server/storage/store.h"

namespace strata::server {

// `rest` is the path after "/v1/tuf/". `cache` may be null.
HttpResponse ServeTuf(TrustRepo* trust, Store* store, BlobCache* cache,
                      const HttpRequest& req, std::string_view rest);

// Serves blob `sha` with Range, ETag, If-None-Match and immutable caching:
// from `cache` (null: none) without a copy, else streamed from the store.
HttpResponse ServeBlob(Store* store, BlobCache* cache, const HttpRequest& req,
                       std::string_view sha);

// "%40" -> "@"; nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s);

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_TUF_HANDLER_H_
