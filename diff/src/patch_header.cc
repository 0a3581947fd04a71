#include "src/patch_header.h"

#include <cstring>

#include "src/varint.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace strata::diff::internal {
namespace {

// Layout (little-endian):
//   0 magic[8]  8 version u32  12 flags u32  16 old_size u64  24 new_size u64
//  32 old_sha256[32]  64 new_sha256[32]  96 segments u64  104 ctrl_len u64
// 112 diff_len u64  120 extra_len u64  128 diff_raw u64  136 extra_raw u64
// 144 window_log u64 (10..27, the largest zstd window of the streams)  152
// header checksum: first 8 bytes of SHA-256(0..151)
constexpr size_t kChecksumOffset = 152;

absl::Status Bad(std::string_view what) {
  return absl::DataLossError(strata::StrCat(
      "not a valid Strata patch: ", what,
      "; the patch file is damaged or truncated, fetch it again"));
}

}  // namespace

std::string EncodeStrataHeader(const PatchInfo& info) {
  std::string h(kStrataMagic);
  PutFixed32(h, kStrataVersion);
  PutFixed32(h, 0);
  PutFixed64(h, info.old_size);
  PutFixed64(h, info.new_size);
  h.append(reinterpret_cast<const char*>(info.old_sha256.data()), 32);
  h.append(reinterpret_cast<const char*>(info.new_sha256.data()), 32);
  PutFixed64(h, info.segments);
  PutFixed64(h, info.ctrl_bytes);
  PutFixed64(h, info.diff_bytes);
  PutFixed64(h, info.extra_bytes);
  PutFixed64(h, info.diff_raw_bytes);
  PutFixed64(h, info.extra_raw_bytes);
  PutFixed64(h, info.window_log);
  Sha256Digest d = Sha256::Hash(h);
  h.append(reinterpret_cast<const char*>(d.data()), 8);
  return h;
}

absl::StatusOr<PatchInfo> DecodeStrataHeader(std::string_view patch) {
  if (patch.size() < kStrataHeaderSize) {
    return Bad(strata::StrCat("only ", patch.size(),
                              " bytes, the header needs ", kStrataHeaderSize));
  }
  if (patch.substr(0, 8) != kStrataMagic) return Bad("wrong magic");
  Sha256Digest d = Sha256::Hash(patch.substr(0, kChecksumOffset));
  if (std::memcmp(d.data(), patch.data() + kChecksumOffset, 8) != 0) {
    return Bad("header checksum mismatch");
  }
  const char* p = patch.data();
  PatchInfo info;
  info.format = PatchFormat::kStrata;
  info.version = GetFixed32(p + 8);
  if (info.version != kStrataVersion) {
    return Bad(strata::StrCat("format version ", info.version,
                              " is not supported (this build reads ",
                              kStrataVersion, ")"));
  }
  if (GetFixed32(p + 12) != 0) return Bad("unknown flags");
  info.old_size = GetFixed64(p + 16);
  info.new_size = GetFixed64(p + 24);
  info.has_hashes = true;
  std::memcpy(info.old_sha256.data(), p + 32, 32);
  std::memcpy(info.new_sha256.data(), p + 64, 32);
  info.segments = GetFixed64(p + 96);
  info.ctrl_bytes = GetFixed64(p + 104);
  info.diff_bytes = GetFixed64(p + 112);
  info.extra_bytes = GetFixed64(p + 120);
  info.diff_raw_bytes = GetFixed64(p + 128);
  info.extra_raw_bytes = GetFixed64(p + 136);
  uint64_t wl = GetFixed64(p + 144);
  if (wl < 10 || wl > 27) return Bad("window size out of range");
  info.window_log = static_cast<uint32_t>(wl);
  uint64_t body = patch.size() - kStrataHeaderSize;
  if (info.ctrl_bytes > body || info.diff_bytes > body - info.ctrl_bytes ||
      info.extra_bytes != body - info.ctrl_bytes - info.diff_bytes) {
    return Bad("stream lengths do not add up to the patch size (truncated?)");
  }
  if (info.diff_raw_bytes > info.new_size ||
      info.extra_raw_bytes != info.new_size - info.diff_raw_bytes) {
    return Bad("stream sizes do not add up to the new size");
  }
  if (info.segments > info.new_size + 1) return Bad("too many segments");
  return info;
}

void PutOfft(std::string& out, int64_t v) {
  uint64_t mag =
      v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) {
    uint8_t b = static_cast<uint8_t>(mag >> (8 * i));
    if (i == 7 && v < 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  }
}

bool GetOfft(const char* p, int64_t* v) {
  uint64_t mag = GetFixed64(p) & ~(uint64_t{1} << 63);
  bool neg = (static_cast<uint8_t>(p[7]) & 0x80) != 0;
  if (neg && mag == 0) {
    *v = 0;  // bspatch reads "-0" as 0
    return true;
  }
  *v = neg ? -static_cast<int64_t>(mag) : static_cast<int64_t>(mag);
  return true;
}

absl::StatusOr<PatchInfo> DecodeBsdiffHeader(std::string_view patch) {
  auto bad = [](std::string_view what) {
    return absl::DataLossError(strata::StrCat(
        "not a valid BSDIFF40 patch: ", what,
        "; the patch file is damaged or truncated, fetch it again"));
  };
  if (patch.size() < kBsdiffHeaderSize) return bad("shorter than its header");
  if (patch.substr(0, 8) != kBsdiffMagic) return bad("wrong magic");
  int64_t ctrl, diff, size;
  GetOfft(patch.data() + 8, &ctrl);
  GetOfft(patch.data() + 16, &diff);
  GetOfft(patch.data() + 24, &size);
  uint64_t body = patch.size() - kBsdiffHeaderSize;
  if (ctrl < 0 || diff < 0 || size < 0 || static_cast<uint64_t>(ctrl) > body ||
      static_cast<uint64_t>(diff) > body - static_cast<uint64_t>(ctrl)) {
    return bad("stream lengths exceed the patch size (truncated?)");
  }
  PatchInfo info;
  info.format = PatchFormat::kBsdiff40;
  info.new_size = static_cast<uint64_t>(size);
  info.ctrl_bytes = static_cast<uint64_t>(ctrl);
  info.diff_bytes = static_cast<uint64_t>(diff);
  info.extra_bytes = body - info.ctrl_bytes - info.diff_bytes;
  return info;
}

}  // namespace strata::diff::internal
