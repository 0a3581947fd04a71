#include "strata/server/http/console_handler.h"

#include <string>
#include <string_view>

#include "console_assets.h"

namespace strata::server {
namespace {

void SecurityHeaders(HttpResponse& r) {
  r.headers["Content-Security-Policy"] = kConsoleCsp;
  r.headers["X-Content-Type-Options"] = "nosniff";
  r.headers["X-Frame-Options"] = "DENY";
  r.headers["Referrer-Policy"] = "no-referrer";
}

const ConsoleAsset* FindAsset(std::string_view path) {
  for (size_t i = 0; i < kConsoleAssetCount; ++i) {
    if (path == kConsoleAssets[i].path) return &kConsoleAssets[i];
  }
  return nullptr;
}

}  // namespace

bool ConsoleHasCharts() { return kConsoleHasCharts; }

void AddConsoleRoutes(HttpRouter& router) {
  router.Exact("/console", {"GET", "HEAD"},
               [](const HttpRequest&, std::string_view) {
                 HttpResponse r = TextResponse(301, "moved to /console/");
                 r.headers["Location"] = kConsolePath;
                 SecurityHeaders(r);
                 return r;
               });
  router.Prefix(
      kConsolePath, {"GET", "HEAD"},
      [](const HttpRequest&, std::string_view rest) {
        const ConsoleAsset* asset =
            FindAsset(rest.empty() ? "index.html" : rest);
        HttpResponse r;
        if (asset == nullptr) {
          r = TextResponse(404, "no such console file; open /console/");
        } else {
          r.headers["Content-Type"] = asset->content_type;
          // Same bytes for the life of the binary; revalidated
          // on each load so an upgraded stratad is picked up.
          r.headers["Cache-Control"] = "no-cache";
          r.body_view = std::string_view(
              reinterpret_cast<const char*>(asset->data), asset->size);
          r.body_owner =
              std::shared_ptr<const void>(asset->data, [](const void*) {});
        }
        SecurityHeaders(r);
        return r;
      });
}

}  // namespace strata::server
