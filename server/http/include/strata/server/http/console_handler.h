// The release console's static files (docs/console.md), embedded in the
// binary at build time from console/ and uPlot's dist files:
//
//   GET /console          -> 301 /console/
//   GET /console/         -> index.html
//   GET /console/<file>   -> the page's modules, stylesheet and
//                            vendor/uPlot.*
//
// Every answer carries a Content-Security-Policy that allows scripts,
// styles and fetches from this origin only (no inline script, no other
// origin), X-Content-Type-Options: nosniff, no framing and no referrer.
// The page itself reads the Admin API as JSON (admin_api_handler.h).
#ifndef STRATA_SERVER_HTTP_CONSOLE_HANDLER_H_
#define STRATA_SERVER_HTTP_CONSOLE_HANDLER_H_

#include "strata/server/http/http_router.h"

namespace strata::server {

inline constexpr char kConsolePath[] = "/console/";
inline constexpr char kConsoleCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void AddConsoleRoutes(HttpRouter& router);

// Whether the console was built with its charts (uPlot found at build time).
bool ConsoleHasCharts();

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_CONSOLE_HANDLER_H_
