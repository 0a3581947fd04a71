#include "src/patch_header.h"

#include <cstring>

#include "src/fuzzing.h"
#include "src/streams.h"
#include "src/varint.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::diff::internal {
namespace {

// Layout (docs/formats/patch.md):
//   magic[8] "STRDIFF\x1a", varint version, varint flags,
//   (version 2 only:) varint method,
//   varint old_size, varint new_size, old_sha256[32], new_sha256[32],
//   varint segments, varint ctrl_len, varint diff_len, varint extra_len,
//   varint diff_raw, varint window_log,
//   checksum[4]: first 4 bytes of SHA-256 of all preceding header bytes.
constexpr size_t kChecksumSize = 4;
constexpr size_t kMinHeader =
    8 + 4 + kV2OldCheck + kV2NewCheck + 2 + kChecksumSize;

absl::Status Bad(std::string_view what) {
  return absl::DataLossError(strata::StrCat(
      "not a valid Strata patch: ", what,
      "; the patch file is damaged or truncated, fetch it again"));
}

absl::Status NewerVersion(uint64_t version) {
  return absl::DataLossError(strata::StrCat(
      "Strata patch format version ", version,
      " is not supported (this build reads versions 1 to ", kCompactVersion,
      "); the patch was made by a newer strata-diff: update this one, or "
      "make the patch with --method suffix-array (version 1)"));
}

// The suffix-array method's stream fields (versions 1 and bare bodies).
void PutStreamFields(std::string& h, const PatchInfo& info) {
  PutVarint(h, info.segments);
  PutVarint(h, info.ctrl_bytes);
  PutVarint(h, info.diff_bytes);
  PutVarint(h, info.extra_bytes);
  PutVarint(h, info.diff_raw_bytes);
}

// Checks the header checksum at the front of `in` (what is left of the
// header bytes in `patch`) and the window; returns the bytes after the
// header.
absl::StatusOr<uint64_t> FinishHeader(std::string_view patch,
                                      uint64_t patch_size, std::string_view in,
                                      uint64_t wl, PatchInfo* info) {
  size_t header_len = patch.size() - in.size();
  if (header_len + kChecksumSize > patch_size) return Bad("truncated header");
  Sha256Digest d = Sha256::Hash(patch.substr(0, header_len));
  if (!kSkipIntegrityChecksForFuzzing &&
      std::memcmp(d.data(), in.data(), kChecksumSize) != 0) {
    return Bad("header checksum mismatch");
  }
  if (wl < 10 || wl > 27) return Bad("window size out of range");
  info->window_log = static_cast<uint32_t>(wl);
  return patch_size - header_len - kChecksumSize;
}

// The rest of a version 2 header (after the version varint).
absl::StatusOr<PatchInfo> DecodeV2(std::string_view patch, uint64_t patch_size,
                                   std::string_view in, PatchInfo info) {
  auto varint = [&](uint64_t* v) { return GetVarint(in, v); };
  uint64_t method, blocks, wl;
  if (!varint(&method)) return Bad("truncated header");
  if (method != 1) return Bad(strata::StrCat("unknown method ", method));
  info.method = PatchMethod::kZstdPrefix;
  if (!varint(&info.old_size) || !varint(&info.new_size) ||
      in.size() < kV2OldCheck + kV2NewCheck) {
    return Bad("truncated header");
  }
  info.has_hashes = true;
  info.old_hash_bytes = kV2OldCheck;
  info.new_hash_bytes = kV2NewCheck;
  std::memcpy(info.old_sha256.data(), in.data(), kV2OldCheck);
  std::memcpy(info.new_sha256.data(), in.data() + kV2OldCheck, kV2NewCheck);
  in.remove_prefix(kV2OldCheck + kV2NewCheck);
  if (!varint(&blocks)) return Bad("truncated header");
  if (blocks > 0 && !varint(&info.ctrl_bytes)) return Bad("truncated header");
  if (!varint(&wl) || in.size() < kChecksumSize) {
    return Bad("truncated header");
  }
  STRATA_ASSIGN_OR_RETURN(uint64_t body,
                          FinishHeader(patch, patch_size, in, wl, &info));
  // Each block takes at least one new byte and 4 table bytes.
  if (blocks > info.new_size || info.ctrl_bytes > body ||
      (blocks > 0 &&
       (info.ctrl_bytes < 4 * blocks || info.ctrl_bytes > 40 * blocks))) {
    return Bad("block table does not add up");
  }
  info.segments = blocks == 0 ? 1 : blocks;
  info.diff_bytes = 0;
  info.diff_raw_bytes = 0;
  info.extra_bytes = body - info.ctrl_bytes;
  info.extra_raw_bytes = info.new_size;
  return info;
}

}  // namespace

std::string EncodeStrataHeader(const PatchInfo& info) {
  std::string h(kStrataMagic);
  if (info.method == PatchMethod::kZstdPrefix) {
    // Version 2: method, sizes, short checks of the old and new files
    // (accident detection; the caller's signed hash is the integrity
    // check), the block count (0: one block of the whole files, no table),
    // the table length and the window.
    PutVarint(h, 2);
    PutVarint(h, 1);
    PutVarint(h, info.old_size);
    PutVarint(h, info.new_size);
    h.append(reinterpret_cast<const char*>(info.old_sha256.data()),
             kV2OldCheck);
    h.append(reinterpret_cast<const char*>(info.new_sha256.data()),
             kV2NewCheck);
    PutVarint(h, info.ctrl_bytes == 0 ? 0 : info.segments);
    if (info.ctrl_bytes != 0) PutVarint(h, info.ctrl_bytes);
    PutVarint(h, info.window_log);
    Sha256Digest d = Sha256::Hash(h);
    h.append(reinterpret_cast<const char*>(d.data()), kChecksumSize);
    return h;
  }
  PutVarint(h, 1);
  PutVarint(h, 0);
  PutVarint(h, info.old_size);
  PutVarint(h, info.new_size);
  h.append(reinterpret_cast<const char*>(info.old_sha256.data()), 32);
  h.append(reinterpret_cast<const char*>(info.new_sha256.data()), 32);
  PutStreamFields(h, info);
  PutVarint(h, info.window_log);
  Sha256Digest d = Sha256::Hash(h);
  h.append(reinterpret_cast<const char*>(d.data()), kChecksumSize);
  return h;
}

uint64_t StrataHeaderSize(const PatchInfo& info, uint64_t patch_size) {
  return patch_size - info.ctrl_bytes - info.diff_bytes - info.extra_bytes;
}

absl::StatusOr<PatchInfo> DecodeStrataHeader(std::string_view patch,
                                             uint64_t patch_size) {
  if (patch_size < kMinHeader || patch.size() < kMinHeader) {
    return Bad(
        strata::StrCat("only ", patch_size, " bytes, shorter than any header"));
  }
  if (patch.substr(0, 8) != kStrataMagic) return Bad("wrong magic");
  std::string_view in = patch.substr(8);
  PatchInfo info;
  info.format = PatchFormat::kStrata;
  uint64_t version, flags, wl;
  auto varint = [&](uint64_t* v) { return GetVarint(in, v); };
  if (!varint(&version)) return Bad("truncated header");
  if (version == 0) return Bad("format version 0");
  if (version > kCompactVersion) {
    return NewerVersion(version);
  }
  // Version 3 has its own short header (DecodeCompactHeader).
  if (version > kStrataVersion) return Bad("version 3 in a long header");
  info.version = static_cast<uint32_t>(version);
  if (version == 2) return DecodeV2(patch, patch_size, in, info);
  if (!varint(&flags)) return Bad("truncated header");
  if (flags != 0) return Bad("unknown flags");
  info.method = PatchMethod::kSuffixArray;
  if (!varint(&info.old_size) || !varint(&info.new_size) || in.size() < 64) {
    return Bad("truncated header");
  }
  info.has_hashes = true;
  std::memcpy(info.old_sha256.data(), in.data(), 32);
  std::memcpy(info.new_sha256.data(), in.data() + 32, 32);
  in.remove_prefix(64);
  if (!varint(&info.segments) || !varint(&info.ctrl_bytes) ||
      !varint(&info.diff_bytes) || !varint(&info.extra_bytes) ||
      !varint(&info.diff_raw_bytes) || !varint(&wl) ||
      in.size() < kChecksumSize) {
    return Bad("truncated header");
  }
  STRATA_ASSIGN_OR_RETURN(uint64_t body,
                          FinishHeader(patch, patch_size, in, wl, &info));
  if (info.ctrl_bytes > body || info.diff_bytes > body - info.ctrl_bytes ||
      info.extra_bytes != body - info.ctrl_bytes - info.diff_bytes) {
    return Bad("stream lengths do not add up to the patch size (truncated?)");
  }
  if (info.diff_raw_bytes > info.new_size) {
    return Bad("stream sizes do not add up to the new size");
  }
  info.extra_raw_bytes = info.new_size - info.diff_raw_bytes;
  if (info.segments > info.new_size + 1) return Bad("too many segments");
  return info;
}

std::string EncodeBareHeader(const PatchInfo& info) {
  std::string h;
  if (info.method == PatchMethod::kZstdPrefix) {
    PutVarint(h, 1);
    PutVarint(h, info.ctrl_bytes == 0 ? 0 : info.segments);
    if (info.ctrl_bytes != 0) PutVarint(h, info.ctrl_bytes);
  } else {
    PutVarint(h, 0);
    PutStreamFields(h, info);
  }
  PutVarint(h, info.window_log);
  return h;
}

absl::StatusOr<PatchInfo> DecodeBareHeader(std::string_view head,
                                           uint64_t body_size,
                                           uint64_t old_size,
                                           uint64_t new_size) {
  std::string_view in = head;
  auto varint = [&](uint64_t* v) { return GetVarint(in, v); };
  PatchInfo info;
  info.format = PatchFormat::kStrata;
  info.version = 0;
  info.old_size = old_size;
  info.new_size = new_size;
  info.old_hash_bytes = 0;
  info.new_hash_bytes = 0;
  uint64_t method, wl;
  if (!varint(&method)) return Bad("truncated body header");
  if (method == 1) {
    info.method = PatchMethod::kZstdPrefix;
    uint64_t blocks;
    if (!varint(&blocks) || (blocks > 0 && !varint(&info.ctrl_bytes))) {
      return Bad("truncated body header");
    }
    if (blocks > new_size || (blocks > 0 && (info.ctrl_bytes < 4 * blocks ||
                                             info.ctrl_bytes > 40 * blocks))) {
      return Bad("block table does not add up");
    }
    info.segments = blocks == 0 ? 1 : blocks;
  } else if (method == 0) {
    info.method = PatchMethod::kSuffixArray;
    if (!varint(&info.segments) || !varint(&info.ctrl_bytes) ||
        !varint(&info.diff_bytes) || !varint(&info.extra_bytes) ||
        !varint(&info.diff_raw_bytes)) {
      return Bad("truncated body header");
    }
    if (info.diff_raw_bytes > new_size) {
      return Bad("stream sizes do not add up to the new size");
    }
    if (info.segments > new_size + 1) return Bad("too many segments");
  } else {
    return Bad(strata::StrCat("unknown body method ", method));
  }
  if (!varint(&wl)) return Bad("truncated body header");
  if (wl < 10 || wl > 27) return Bad("window size out of range");
  info.window_log = static_cast<uint32_t>(wl);
  uint64_t header_len = head.size() - in.size();
  if (header_len > body_size) return Bad("truncated body header");
  uint64_t body = body_size - header_len;
  if (info.method == PatchMethod::kZstdPrefix) {
    if (info.ctrl_bytes > body) return Bad("block table exceeds the body");
    info.extra_bytes = body - info.ctrl_bytes;
    info.extra_raw_bytes = new_size;
  } else {
    if (info.ctrl_bytes > body || info.diff_bytes > body - info.ctrl_bytes ||
        info.extra_bytes != body - info.ctrl_bytes - info.diff_bytes) {
      return Bad("stream lengths do not add up to the body size");
    }
    info.extra_raw_bytes = new_size - info.diff_raw_bytes;
  }
  return info;
}

std::string EncodeCompactHeader(const PatchInfo& info) {
  std::string h;
  h.push_back(kCompactMagic);
  h.push_back(static_cast<char>(kCompactVersion));
  PutVarint(h, info.new_size);
  h.append(reinterpret_cast<const char*>(info.old_sha256.data()), kV3OldCheck);
  return h;
}

absl::StatusOr<PatchInfo> DecodeCompactHeader(std::string_view head,
                                              uint64_t patch_size) {
  if (head.size() < 2 || head[0] != kCompactMagic) return Bad("wrong magic");
  const uint32_t version = static_cast<uint8_t>(head[1]);
  if (version == kTreeArchiveVersion) {
    return absl::InvalidArgumentError(
        "this is a tree patch (archive form), not a file patch: apply it to "
        "the old directory (strata-diff apply OLD_DIR PATCH NEW_DIR)");
  }
  if (version > kCompactVersion) {
    return NewerVersion(version);
  }
  if (version != kCompactVersion) {
    return Bad(strata::StrCat("compact format version ", version));
  }
  std::string_view in = head.substr(2);
  PatchInfo info;
  info.format = PatchFormat::kStrata;
  info.version = kCompactVersion;
  info.method = PatchMethod::kZstdPrefix;
  if (!GetVarint(in, &info.new_size) || in.size() < kV3OldCheck) {
    return Bad("truncated header");
  }
  info.has_hashes = true;
  info.old_hash_bytes = kV3OldCheck;
  info.new_hash_bytes = 0;
  std::memcpy(info.old_sha256.data(), in.data(), kV3OldCheck);
  in.remove_prefix(kV3OldCheck);
  const uint64_t header_len = head.size() - in.size();
  if (header_len > patch_size) return Bad("truncated header");
  info.segments = 1;
  info.extra_bytes = patch_size - header_len;
  info.extra_raw_bytes = info.new_size;
  if ((info.new_size == 0) != (info.extra_bytes == 0)) {
    return Bad("the frame does not match the new size");
  }
  if (info.extra_bytes > 0) {
    STRATA_ASSIGN_OR_RETURN(info.frame_checksum, MagiclessFrameHasChecksum(in));
  }
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

absl::StatusOr<PatchInfo> DecodeBsdiffHeader(std::string_view patch,
                                             uint64_t patch_size) {
  auto bad = [](std::string_view what) {
    return absl::DataLossError(strata::StrCat(
        "not a valid BSDIFF40 patch: ", what,
        "; the patch file is damaged or truncated, fetch it again"));
  };
  if (patch_size < kBsdiffHeaderSize || patch.size() < kBsdiffHeaderSize) {
    return bad("shorter than its header");
  }
  if (patch.substr(0, 8) != kBsdiffMagic) return bad("wrong magic");
  int64_t ctrl, diff, size;
  GetOfft(patch.data() + 8, &ctrl);
  GetOfft(patch.data() + 16, &diff);
  GetOfft(patch.data() + 24, &size);
  uint64_t body = patch_size - kBsdiffHeaderSize;
  if (ctrl < 0 || diff < 0 || size < 0 || static_cast<uint64_t>(ctrl) > body ||
      static_cast<uint64_t>(diff) > body - static_cast<uint64_t>(ctrl)) {
    return bad("stream lengths exceed the patch size (truncated?)");
  }
  PatchInfo info;
  info.format = PatchFormat::kBsdiff40;
  info.old_hash_bytes = 0;  // no hashes
  info.new_hash_bytes = 0;
  info.new_size = static_cast<uint64_t>(size);
  info.ctrl_bytes = static_cast<uint64_t>(ctrl);
  info.diff_bytes = static_cast<uint64_t>(diff);
  info.extra_bytes = body - info.ctrl_bytes - info.diff_bytes;
  return info;
}

}  // namespace strata::diff::internal
