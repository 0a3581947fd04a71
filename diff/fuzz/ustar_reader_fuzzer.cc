// Fuzz target: the ustar reader the server checks published trees with,
// whole and streamed in uneven pieces (both must agree); and what stratad
// runs on stored archives before making a tree patch (ustar_writer.h): a
// canonical archive always reads and always has a manifest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "strata/diff/ustar_reader.h"
#include "strata/diff/ustar_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view archive(reinterpret_cast<const char*>(data), size);
  auto whole = strata::diff::UstarReader::Read(archive);
  strata::diff::UstarReader streamed;
  absl::Status s;
  for (size_t off = 0, piece = 1; off < archive.size() && s.ok();
       off += piece, piece = piece * 3 % 1031 + 1) {
    s = streamed.Append(archive.substr(off, piece));
  }
  auto again = s.ok()
                   ? streamed.Finish()
                   : absl::StatusOr<std::vector<strata::diff::UstarEntry>>(s);
  if (whole.ok() != again.ok()) std::abort();
  if (whole.ok() && whole->size() != again->size()) std::abort();
  std::vector<std::string_view> contents;
  auto manifest = strata::diff::ManifestOfArchive(archive, &contents);
  if (manifest.ok() && (!whole.ok() || contents.size() != manifest->size())) {
    std::abort();
  }
  if (strata::diff::IsCanonicalUstar(archive) && !manifest.ok()) std::abort();
  return 0;
}
