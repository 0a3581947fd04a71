// Fuzz target: the binary patch reader (both formats) on untrusted bytes.
// Any input must give OK or an error status, never a crash, a hang or an
// output above the limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "strata/diff/delta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view patch(reinterpret_cast<const char*>(data), size);
  (void)strata::diff::ReadPatchInfo(patch);
  // A fixed old file; the Strata base check fails early for most inputs,
  // BSDIFF40 inputs exercise the full apply loop.
  static const std::string old_data = [] {
    std::string s(4096, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 31);
    return s;
  }();
  strata::diff::ApplyOptions options;
  options.max_output_size = 1 << 20;
  options.max_window_log = 20;
  (void)strata::diff::ApplyPatchToString(old_data, patch, options);
  return 0;
}
