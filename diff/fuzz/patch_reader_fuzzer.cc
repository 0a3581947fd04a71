// Fuzz target: the binary patch reader (both formats) on untrusted bytes.
// Any input must give OK or an error status, never a crash, a hang or more
// output than the limit; an OK result is exactly the declared new size.
//
// In the libFuzzer build (tools/fuzz.sh, STRATA_FUZZING) the header checksum
// is skipped, so mutated headers reach the apply code. The target counts how
// many inputs got how far and prints it at exit (see docs/testing.md).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "patch_seed_files.h"
#include "strata/base/sha256.h"
#include "strata/diff/byte_sink.h"
#include "strata/diff/delta.h"

namespace {

constexpr uint64_t kMaxOutput = 1 << 20;
// The seeds use windows of 2^21 (strata.patch); 24 leaves room above them
// and still exercises the window limit for mutated headers (25..27).
constexpr int kMaxWindowLog = 24;

// Fails the run the moment the apply code writes past the limit, even if it
// would report an error afterwards.
class LimitCheckingSink : public strata::diff::ByteSink {
 public:
  absl::Status Append(std::string_view data) override {
    if (data.size() > kMaxOutput - out_.size()) {
      std::fprintf(stderr, "apply wrote more than the %llu-byte limit\n",
                   static_cast<unsigned long long>(kMaxOutput));
      std::abort();
    }
    out_.append(data);
    return absl::OkStatus();
  }
  const std::string& data() const { return out_; }

 private:
  std::string out_;
};

struct Counters {
  unsigned long long inputs = 0, header_ok = 0, strata_apply = 0,
                     compact_apply = 0, bsdiff_apply = 0, applied_ok = 0;
  ~Counters() {
    std::fprintf(stderr,
                 "patch_reader reach: inputs=%llu header_ok=%llu "
                 "strata_apply=%llu (compact v3: %llu) bsdiff_apply=%llu "
                 "applied_ok=%llu\n",
                 inputs, header_ok, strata_apply, compact_apply, bsdiff_apply,
                 applied_ok);
  }
};
Counters counters;

using ::strata::fuzz::NewData;
using ::strata::fuzz::OldData;

// The first `n` bytes of two digests agree (versions 2 and 3 keep short
// checks; the rest of the declared digest reads as zero).
bool SamePrefix(const strata::Sha256Digest& a, const strata::Sha256Digest& b,
                uint32_t n) {
  return n <= a.size() && std::equal(a.begin(), a.begin() + n, b.begin());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view patch(reinterpret_cast<const char*>(data), size);
  ++counters.inputs;
  auto info = strata::diff::ReadPatchInfo(patch);
  // The old file the seeds were made from (seeds/README.md).
  const std::string& old_data = OldData();
  static const strata::Sha256Digest old_sha256 = strata::Sha256::Hash(old_data);
  const bool compact = info.ok() && info->version == 3;
  if (info.ok()) {
    ++counters.header_ok;
    // The conditions ApplyPatch checks before it enters the format's apply
    // loop (delta.cc): count the inputs that get there.
    if (info->new_size <= kMaxOutput) {
      if (info->format == strata::diff::PatchFormat::kBsdiff40) {
        ++counters.bsdiff_apply;
      } else if (compact) {
        // Version 3: no old size or window in the header; the old check.
        if (SamePrefix(info->old_sha256, old_sha256, info->old_hash_bytes)) {
          ++counters.strata_apply;
          ++counters.compact_apply;
        }
      } else if (static_cast<int>(info->window_log) <= kMaxWindowLog &&
                 info->old_size == old_data.size() &&
                 SamePrefix(info->old_sha256, old_sha256,
                            info->old_hash_bytes)) {
        ++counters.strata_apply;
      }
    }
  }
  strata::diff::ApplyOptions options;
  options.max_output_size = kMaxOutput;
  options.max_window_log = kMaxWindowLog;
  // A compact patch without its own output check needs the caller's hash
  // (as the SDK gives the signed one): the seeds' new file.
  static const strata::Sha256Digest new_sha256 =
      strata::Sha256::Hash(NewData());
  if (compact && !info->frame_checksum)
    options.expected_new_sha256 = new_sha256;
  strata::diff::MemoryRandomAccessFile old_file(old_data);
  LimitCheckingSink sink;
  absl::Status s = strata::diff::ApplyPatch(old_file, patch, sink, options);
  if (s.ok()) {
    ++counters.applied_ok;
    // OK means a well-formed header and exactly the declared output.
    if (!info.ok() || sink.data().size() != info->new_size) std::abort();
    const strata::Sha256Digest got = strata::Sha256::Hash(sink.data());
    if (info->has_hashes &&
        !SamePrefix(got, info->new_sha256, info->new_hash_bytes)) {
      std::abort();
    }
    if (options.expected_new_sha256 && got != *options.expected_new_sha256) {
      std::abort();
    }
  }
  return 0;
}
