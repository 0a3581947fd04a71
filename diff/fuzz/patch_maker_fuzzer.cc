// Fuzz target: the patch maker (CreatePatch, every method and output check)
// on pairs built from the input. Every patch must be made (the options are
// valid) and apply to exactly the new file: a wrong frame from the anchored
// zstd-prefix maker (diff/src/anchored_frame.cc), a wrong match or a wrong
// offset mapping shows up as an abort here.
//
// Input: byte 0 chooses the method, output check, level and how the new
// file is built; bytes 1-2 where the rest is cut into the old file and a
// tail. The new file is the tail (unrelated files), the old file with the
// tail inserted (long identical runs around a changed stretch: the anchored
// maker's case), or the old file with tail bytes written over it at
// scattered places (sparse changes). The target counts what it made and
// prints it at exit (docs/testing.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "strata/base/sha256.h"
#include "strata/diff/delta.h"

namespace {

struct Counters {
  unsigned long long inputs = 0, compact = 0, suffix_array = 0, prefix_v2 = 0;
  ~Counters() {
    std::fprintf(stderr,
                 "patch_maker reach: inputs=%llu compact_v3=%llu "
                 "suffix_array=%llu prefix_v2=%llu\n",
                 inputs, compact, suffix_array, prefix_v2);
  }
};
Counters counters;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  ++counters.inputs;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint8_t mode = data[0];
  std::string_view body = in.substr(3);
  const size_t cut = (data[1] | (size_t{data[2]} << 8)) % (body.size() + 1);
  std::string old_data(body.substr(0, cut));
  std::string tail(body.substr(cut));
  std::string new_data;
  switch (mode % 3) {
    case 0:
      new_data = tail;
      break;
    case 1: {
      size_t at = tail.size() % (old_data.size() + 1);
      new_data = old_data.substr(0, at) + tail + old_data.substr(at);
      break;
    }
    default:
      new_data = old_data;
      for (size_t i = 0; i < tail.size() && !new_data.empty(); ++i) {
        new_data[(i * 131 + static_cast<uint8_t>(tail[i])) % new_data.size()] =
            tail[i];
      }
  }
  strata::diff::DiffOptions options;
  options.threads = 1;
  options.level = (mode & 0x08) != 0 ? 19 : 3;
  switch ((mode >> 4) % 3) {
    case 0:
      options.method = strata::diff::PatchMethod::kAuto;
      break;
    case 1:
      options.method = strata::diff::PatchMethod::kZstdPrefix;
      break;
    default:
      options.method = strata::diff::PatchMethod::kSuffixArray;
  }
  // A small prefix budget (2^16) sends larger pairs to the block form.
  if ((mode & 0x04) != 0) options.prefix_window_log = 16;
  if ((mode & 0x80) != 0) {
    options.output_check = strata::diff::OutputCheck::kByCaller;
  }
  auto patch = strata::diff::CreatePatch(old_data, new_data, options);
  if (!patch.ok()) {
    std::fprintf(stderr, "CreatePatch failed: %s\n",
                 std::string(patch.status().message()).c_str());
    std::abort();
  }
  auto info = strata::diff::ReadPatchInfo(*patch);
  if (!info.ok()) std::abort();
  if (info->version == 3) {
    ++counters.compact;
  } else if (info->method == strata::diff::PatchMethod::kZstdPrefix) {
    ++counters.prefix_v2;
  } else {
    ++counters.suffix_array;
  }
  strata::diff::ApplyOptions apply;
  apply.expected_new_sha256 = strata::Sha256::Hash(new_data);
  auto out = strata::diff::ApplyPatchToString(old_data, *patch, apply);
  if (!out.ok() || *out != new_data) {
    std::fprintf(stderr, "the patch does not apply: %s\n",
                 out.ok() ? "wrong output"
                          : std::string(out.status().message()).c_str());
    std::abort();
  }
  return 0;
}
