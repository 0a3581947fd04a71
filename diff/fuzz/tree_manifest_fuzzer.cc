// Fuzz target: the tree manifest (records, paths, path rules, sizes) and
// the applier, structure-aware. The input carries the manifest
// uncompressed and the body (an embedded binary patch) as is; the target
// compresses the manifest and writes a valid tree patch header (format
// version 2) around them: checksum, manifest SHA-256 and the old tree's
// digest included, so byte mutations land in the manifest itself instead
// of breaking zstd. The new tree's digest cannot be known: outside the
// libFuzzer build (which skips that check) no apply ends OK, but every
// step before the final check is reached.
//
// Input: new_tree_bytes u64 LE, content_bytes u64 LE, manifest_len u16 LE,
// manifest, body.
// Properties: as tree_patch_reader_fuzzer.cc (an OK apply stages exactly
// the declared size, at most the limit; a failed one leaves no staging).
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/diff/tree_delta.h"

namespace {

constexpr uint64_t kMaxTotal = 1 << 20;

struct Counters {
  unsigned long long inputs = 0, parsed = 0, applied_ok = 0;
  ~Counters() {
    std::fprintf(stderr,
                 "tree_manifest reach: inputs=%llu parsed=%llu "
                 "applied_ok=%llu\n",
                 inputs, parsed, applied_ok);
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

uint64_t Get(std::string_view s, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    v |= uint64_t{static_cast<uint8_t>(s[i])} << (8 * i);
  }
  return v;
}

void Put(std::string& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::string Compress(std::string_view raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  if (ZSTD_isError(n)) std::abort();
  out.resize(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(bytes), size);
  ++counters.inputs;
  if (in.size() < 18) return 0;
  uint64_t new_tree_bytes = Get(in, 8);
  uint64_t content_bytes = Get(in.substr(8), 8);
  size_t manifest_len = static_cast<size_t>(Get(in.substr(16), 2));
  in.remove_prefix(18);
  if (manifest_len > in.size()) manifest_len = in.size();
  std::string_view manifest = in.substr(0, manifest_len);
  std::string_view body = in.substr(manifest_len);
  auto* fs = OldTree();
  static const strata::diff::TreeManifest old =
      *strata::diff::ScanTree(*fs, "/old");
  static const strata::Sha256Digest old_tree = strata::diff::TreeDigest(old);

  // The header layout of tree_delta.cc (docs/formats/tree-patch.md).
  std::string cman = Compress(manifest);
  std::string patch("STRTREE\x1a", 8);
  Put(patch, 2, 4);      // version
  PutVarint(patch, 22);  // window log
  PutVarint(patch, cman.size());
  PutVarint(patch, body.size());
  PutVarint(patch, new_tree_bytes);
  PutVarint(patch, content_bytes);
  PutVarint(patch, 1);  // zstd manifest
  patch.append(reinterpret_cast<const char*>(old_tree.data()), 8);
  patch.append(16, '\0');  // the new tree's digest: unknown
  strata::Sha256Digest msha = strata::Sha256::Hash(manifest);
  patch.append(reinterpret_cast<const char*>(msha.data()), 4);
  strata::Sha256Digest check = strata::Sha256::Hash(patch);
  patch.append(reinterpret_cast<const char*>(check.data()), 4);
  patch += cman;
  patch += body;

  auto info = strata::diff::ReadTreePatch(patch);
  if (!info.ok()) return 0;
  ++counters.parsed;
  (void)info->NewManifest(old);
  strata::diff::TreeApplyOptions options;
  options.max_total_size = kMaxTotal;
  options.max_window_log = 24;
  absl::Status s =
      strata::diff::ApplyTreePatch(*fs, "/old", patch, "/stage", options);
  if (s.ok()) {
    ++counters.applied_ok;
    uint64_t total = 0;
    for (const std::string& path : fs->AllFiles()) {
      if (path.rfind("/stage/", 0) != 0) continue;
      auto st = fs->Stat(path);
      if (!st.ok()) std::abort();
      total += st->size;
    }
    if (total > kMaxTotal || total != info->new_tree_bytes) std::abort();
  } else if (fs->Exists("/stage")) {
    std::fprintf(stderr, "failed apply left the staging dir: %s\n",
                 s.ToString().c_str());
    std::abort();
  }
  (void)strata::DeleteRecursively(*fs, "/stage");
  return 0;
}
