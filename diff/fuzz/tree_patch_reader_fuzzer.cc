// Fuzz target: the tree-patch reader (header, manifest, path rules).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "strata/diff/tree_delta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view patch(reinterpret_cast<const char*>(data), size);
  auto info = strata::diff::ReadTreePatch(patch);
  if (info.ok()) (void)info->NewManifest();
  return 0;
}
