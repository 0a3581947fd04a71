// Fuzz target: the strict JSON parser and its two serializations.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "strata/base/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<strata::Json> j = strata::Json::Parse(text);
  if (!j.ok()) return 0;
  // Dump() re-parses to the same value; Canonical() is a fixed point.
  absl::StatusOr<strata::Json> dumped = strata::Json::Parse(j->Dump());
  if (!dumped.ok() || !(*dumped == *j)) std::abort();
  if (dumped->Canonical() != j->Canonical()) std::abort();
  return 0;
}
