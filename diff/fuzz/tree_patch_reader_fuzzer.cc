// Fuzz target: the tree-patch reader (header, manifest, path rules) and the
// applier (data stream, embedded patches, staging; the archive form's
// rebuilt archives and unpacking) on an in-memory file
// system holding the old tree the seed was made from (see seeds/README).
//
// In the libFuzzer build (tools/fuzz.sh, STRATA_FUZZING) the header checksum
// and the manifest SHA-256 are skipped, so mutated headers and manifests
// (paths, ops, sizes) reach the path rules and the applier. Properties: an
// OK apply stages no more than the limit; a failed one leaves no staging
// directory. The target counts how far inputs got and prints it at exit.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "strata/base/file_util.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/diff/tree_delta.h"

namespace {

constexpr uint64_t kMaxTotal = 1 << 20;
// The seeds use a window of 2^23 (the default data window); 24 leaves room
// above it and still exercises the limit for mutated headers (25..27).
constexpr int kMaxWindowLog = 24;

struct Counters {
  unsigned long long inputs = 0, parsed = 0, applier_run = 0, applied_ok = 0;
  unsigned long long archive_parsed = 0, archive_ok = 0;  // the archive form
  ~Counters() {
    std::fprintf(stderr,
                 "tree_patch_reader reach: inputs=%llu parsed=%llu "
                 "applier_run=%llu applied_ok=%llu (archive form: "
                 "parsed=%llu applied_ok=%llu)\n",
                 inputs, parsed, applier_run, applied_ok, archive_parsed,
                 archive_ok);
  }
};
Counters counters;

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
  ++counters.inputs;
  auto info = strata::diff::ReadTreePatch(patch);
  if (!info.ok()) return 0;
  ++counters.parsed;
  if (info->archive_form) ++counters.archive_parsed;
  auto* fs = OldTree();
  static const strata::diff::TreeManifest old =
      *strata::diff::ScanTree(*fs, "/old");
  (void)info->NewManifest(old);
  // The checks ApplyTreePatch makes before it runs the applier.
  if (info->new_tree_bytes <= kMaxTotal &&
      static_cast<int>(info->window_log) <= kMaxWindowLog) {
    ++counters.applier_run;
  }
  strata::diff::TreeApplyOptions options;
  options.max_total_size = kMaxTotal;
  options.max_window_log = kMaxWindowLog;
  absl::Status s =
      strata::diff::ApplyTreePatch(*fs, "/old", patch, "/stage", options);
  if (s.ok()) {
    ++counters.applied_ok;
    if (info->archive_form) ++counters.archive_ok;
    uint64_t total = 0;
    for (const std::string& path : fs->AllFiles()) {
      if (path.rfind("/stage/", 0) != 0) continue;
      auto st = fs->Stat(path);
      if (!st.ok()) std::abort();
      total += st->size;
    }
    // (The archive form declares no tree size: its archive does.)
    if (total > kMaxTotal ||
        (!info->archive_form && total != info->new_tree_bytes)) {
      std::abort();
    }
  } else if (fs->Exists("/stage")) {
    std::fprintf(stderr, "failed apply left the staging dir: %s\n",
                 s.ToString().c_str());
    std::abort();
  }
  (void)strata::DeleteRecursively(*fs, "/stage");
  return 0;
}
