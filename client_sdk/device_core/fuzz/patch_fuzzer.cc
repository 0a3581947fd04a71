// Fuzz target: the device core's patch applier (device::ApplyPatch,
// client_sdk/device_core/src/patch.cc) on untrusted bytes, against the
// delta engine's applier as the reference. Input: a patch, applied to the
// old file of the patch_reader seeds (diff/fuzz/patch_seed_files.h; the
// replay reads diff's patch_reader seeds and corpus). Properties: never a
// crash or a hang; an error leaves no output; an output is at most the
// limit; and every patch the delta engine applies (other than BSDIFF40,
// which the device core does not read), the device core applies to the
// same bytes. (In the libFuzzer build the delta engine skips header
// checksums, which the device core never reads: the comparison holds in
// both builds.)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "patch_seed_files.h"
#include "strata/base/sha256.h"
#include "strata/device/device_core.h"
#include "strata/diff/byte_sink.h"
#include "strata/diff/delta.h"

namespace {

constexpr uint64_t kMaxOutput = 1 << 20;
constexpr int kMaxWindowLog = 27;  // the device core's own bound

struct Counters {
  unsigned long long inputs = 0, device_ok = 0, engine_ok = 0;
  ~Counters() {
    std::fprintf(stderr,
                 "device_patch reach: inputs=%llu device_ok=%llu "
                 "engine_ok=%llu\n",
                 inputs, device_ok, engine_ok);
  }
};
Counters counters;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ::strata::fuzz::NewData;
  using ::strata::fuzz::OldData;
  const std::string_view patch(reinterpret_cast<const char*>(data), size);
  ++counters.inputs;
  std::string out = "stale";
  const strata::device::Error e =
      strata::device::ApplyPatch(OldData(), patch, kMaxOutput, &out);
  if (!e.ok() && !out.empty()) std::abort();
  if (e.ok() && out.size() > kMaxOutput) std::abort();
  if (e.ok()) ++counters.device_ok;
  if (patch.substr(0, 8) == "BSDIFF40") return 0;

  auto info = strata::diff::ReadPatchInfo(patch);
  strata::diff::ApplyOptions options;
  options.max_output_size = kMaxOutput;
  options.max_window_log = kMaxWindowLog;
  static const strata::Sha256Digest new_sha256 =
      strata::Sha256::Hash(NewData());
  if (info.ok() && info->version == 3 && !info->frame_checksum) {
    options.expected_new_sha256 = new_sha256;
  }
  const std::string& old_data = OldData();
  strata::diff::MemoryRandomAccessFile old_file(old_data);
  strata::diff::StringSink sink;
  if (!strata::diff::ApplyPatch(old_file, patch, sink, options).ok()) return 0;
  ++counters.engine_ok;
  if (!e.ok()) {
    std::fprintf(stderr,
                 "the device core refused what the engine applied: %s\n",
                 e.message.c_str());
    std::abort();
  }
  if (out != sink.data()) {
    std::fprintf(stderr,
                 "the device core's output differs from the engine's\n");
    std::abort();
  }
  return 0;
}
