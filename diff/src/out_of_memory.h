// Running out of memory while making a patch is an error value, not an
// exception that ends the caller (stratad's delta worker, strata-diff).
#ifndef STRATA_DIFF_SRC_OUT_OF_MEMORY_H_
#define STRATA_DIFF_SRC_OUT_OF_MEMORY_H_

#include <new>
#include <stdexcept>
#include <string_view>

#include "absl/status/status.h"
#include "strata/base/strings.h"

namespace strata::diff::internal {

// Returns what `make` returns; if it runs out of memory, on this thread or
// on a helper (threads.h passes a helper's exception on: std::bad_alloc),
// kResourceExhausted saying that `what` could not be made. A size no
// container can hold (std::length_error) is kResourceExhausted too, said
// apart.
template <typename F>
auto MakeOrOutOfMemory(std::string_view what, F&& make) -> decltype(make()) {
  try {
    return make();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(strata::StrCat(
        "out of memory making ", what,
        " (making a patch holds about 5 bytes per old byte and 2 per new "
        "byte, docs/formats/patch.md); free memory, or make it on a machine "
        "with more"));
  } catch (const std::length_error& e) {
    return absl::ResourceExhaustedError(
        strata::StrCat("making ", what, " needs a buffer larger than any ",
                       "this system can hold (", e.what(), ")"));
  }
}

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_OUT_OF_MEMORY_H_
