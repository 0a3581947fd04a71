// Fuzz target: the tree-patch reader (header, manifest, path rules) and the
// applier (data stream, embedded patches, staging) on an in-memory file
// system holding the old tree the seed was made from (see seeds/README).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "strata/base/file_util.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/diff/tree_delta.h"

namespace {

strata::testing::MemFileSystem* OldTree() {
  static auto* fs = [] {
    auto* mem = new strata::testing::MemFileSystem();
    std::string f(4096, '\0');
    for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<char>(i * 31);
    (void)strata::CreateDirs(*mem, "/old/a");
    (void)strata::WriteFileAtomically(*mem, "/old/a/f.bin", f);
    (void)strata::WriteFileAtomically(*mem, "/old/x.txt", "hi\n");
    return mem;
  }();
  return fs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view patch(reinterpret_cast<const char*>(data), size);
  auto info = strata::diff::ReadTreePatch(patch);
  if (!info.ok()) return 0;
  (void)info->NewManifest();
  strata::diff::TreeApplyOptions options;
  options.max_total_size = 1 << 20;
  options.max_window_log = 20;
  auto* fs = OldTree();
  (void)strata::diff::ApplyTreePatch(*fs, "/old", patch, "/stage", options);
  (void)strata::DeleteRecursively(*fs, "/stage");
  return 0;
}
