// The release console's files, embedded at build time (console/embed.cmake
// generates their definitions).
#ifndef STRATA_SERVER_HTTP_SRC_CONSOLE_ASSETS_H_
#define STRATA_SERVER_HTTP_SRC_CONSOLE_ASSETS_H_

#include <cstddef>

namespace strata::server {

struct ConsoleAsset {
  const char* path;  // under /console/, e.g. "index.html", "vendor/..."
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

extern const ConsoleAsset kConsoleAssets[];
extern const size_t kConsoleAssetCount;
// Whether uPlot was found at build time (console/node_modules).
extern const bool kConsoleHasCharts;

}  // namespace strata::server

#endif  // STRATA_SERVER_HTTP_SRC_CONSOLE_ASSETS_H_
