// Strata's binary patches (docs/formats/patch.md, versions 1 to 3) applied
// in memory by the device core: the old file and the output are whole
// strings, as the device core holds content (device_core.h). Every length
// and offset a patch declares is checked before it is used; the caller
// compares the output with the signed statement's SHA-256.
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_d_format (magicless frames)
#include <sodium.h>
#include <zstd.h>

#include <cstring>

#include "strata/device/device_core.h"

namespace strata::device {
namespace {

constexpr std::string_view kStrataMagic("STRDIFF\x1a", 8);
constexpr unsigned char kCompactMagic = 0xd3;
constexpr int kMaxWindowLog = 27;  // as the full SDK's applier

Error Damaged(const std::string& what) {
  return {15, "patch is damaged: " + what};
}
Error OverLimit(uint64_t new_size, uint64_t max_size) {
  return {8, "patch output of " + std::to_string(new_size) +
                 " bytes is over the limit of " + std::to_string(max_size)};
}
Error WrongBase(const std::string& what) {
  return {15, "patch does not apply to the installed content: " + what};
}

bool GetVarint(std::string_view& in, uint64_t* v) {
  uint64_t out = 0;
  for (int i = 0; i < 10 && !in.empty(); ++i) {
    const auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    if (i == 9 && b > 1) return false;  // past 64 bits
    out |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) {
      *v = out;
      return true;
    }
  }
  return false;
}

std::string Sha256(std::string_view data) {
  std::string d(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(d.data()),
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size());
  return d;
}

// Decodes the zstd frames that are all of `frame` (empty: an empty stream)
// against `prefix`, appending their output to `out`: exactly `size` bytes
// when `exact`, else at most `size`.
Error DecodeFrame(std::string_view frame, std::string_view prefix,
                  int window_log, bool magicless, uint64_t size, bool exact,
                  const char* name, std::string* out) {
  if (frame.empty()) {
    if (exact && size != 0) return Damaged(std::string(name) + " is missing");
    return {};
  }
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx == nullptr) return {8, "zstd: out of memory"};
  size_t r = ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, window_log);
  if (!ZSTD_isError(r) && magicless) {
    r = ZSTD_DCtx_setParameter(ctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
  }
  if (!ZSTD_isError(r) && !prefix.empty()) {
    r = ZSTD_DCtx_refPrefix(ctx, prefix.data(), prefix.size());
  }
  if (ZSTD_isError(r)) {
    ZSTD_freeDCtx(ctx);
    return {13, std::string("zstd: ") + ZSTD_getErrorName(r)};
  }
  const size_t start = out->size();
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  char buf[1 << 14];
  Error e;
  for (;;) {
    ZSTD_outBuffer o{buf, sizeof(buf), 0};
    r = ZSTD_decompressStream(ctx, &o, &in);
    if (ZSTD_isError(r)) {
      e = Damaged(std::string(name) + ": " + ZSTD_getErrorName(r));
      break;
    }
    if (o.pos > size - (out->size() - start)) {
      e = Damaged(std::string(name) + " decodes to more than " +
                  std::to_string(size) + " bytes");
      break;
    }
    out->append(buf, o.pos);
    // Done when a frame ended with the input (more frames may follow, as
    // the delta engine's reader takes them; the prefix serves the first).
    if (r == 0 && in.pos == in.size) break;
    if (r != 0 && in.pos == in.size && o.pos < o.size) {
      e = Damaged(std::string(name) + " is truncated");
      break;
    }
  }
  ZSTD_freeDCtx(ctx);
  if (e.ok() && exact && out->size() - start != size) {
    e = Damaged(std::string(name) + " decodes to " +
                std::to_string(out->size() - start) + " bytes, not " +
                std::to_string(size));
  }
  return e;
}

// The smallest window log (>= 10) holding `bytes`.
int WindowLogFor(uint64_t bytes) {
  int wl = 10;
  while (wl < kMaxWindowLog && (uint64_t{1} << wl) < bytes) ++wl;
  return wl;
}

// Version 3: 0xd3 0x03, varint new_size, 4 bytes of SHA-256(old), one
// magicless frame made against the whole old file.
Error ApplyCompact(std::string_view old, std::string_view patch,
                   uint64_t max_size, std::string* out) {
  std::string_view in = patch.substr(2);
  uint64_t new_size = 0;
  if (!GetVarint(in, &new_size) || in.size() < 4) {
    return Damaged("truncated header");
  }
  const std::string_view check = in.substr(0, 4);
  in.remove_prefix(4);
  if (new_size > max_size) return OverLimit(new_size, max_size);
  if ((new_size == 0) != in.empty()) {
    return Damaged("the frame does not match the new size");
  }
  if (old.size() > (uint64_t{1} << kMaxWindowLog) ||
      new_size > (uint64_t{1} << kMaxWindowLog) - old.size()) {
    return {8, "patch needs a window over 2^27 bytes"};
  }
  if (Sha256(old).compare(0, 4, check) != 0) return WrongBase("old check");
  return DecodeFrame(in, old, WindowLogFor(old.size() + new_size),
                     /*magicless=*/true, new_size, /*exact=*/true, "frame",
                     out);
}

// Version 2 after its version varint: zstd-prefix blocks.
Error ApplyBlocks(std::string_view old, std::string_view in, uint64_t max_size,
                  std::string* out) {
  uint64_t method, old_size, new_size, blocks, table_len = 0, wl;
  if (!GetVarint(in, &method)) return Damaged("truncated header");
  if (method != 1) return Damaged("unknown method " + std::to_string(method));
  if (!GetVarint(in, &old_size) || !GetVarint(in, &new_size) ||
      in.size() < 24) {
    return Damaged("truncated header");
  }
  const std::string_view old_check = in.substr(0, 8);
  const std::string_view new_check = in.substr(8, 16);
  in.remove_prefix(24);
  if (!GetVarint(in, &blocks) || (blocks > 0 && !GetVarint(in, &table_len)) ||
      !GetVarint(in, &wl) || in.size() < 4) {
    return Damaged("truncated header");
  }
  in.remove_prefix(4);  // header checksum: the output is checked instead
  if (wl < 10 || wl > kMaxWindowLog) return Damaged("window out of range");
  if (new_size > max_size) return OverLimit(new_size, max_size);
  if (table_len > in.size() || blocks > new_size) {
    return Damaged("block table does not add up");
  }
  if (old.size() != old_size) {
    return WrongBase("it is for " + std::to_string(old_size) + " bytes, not " +
                     std::to_string(old.size()));
  }
  if (Sha256(old).compare(0, 8, old_check) != 0) return WrongBase("old check");
  std::string_view table = in.substr(0, table_len);
  std::string_view frames = in.substr(table_len);
  const uint64_t budget = uint64_t{1} << wl;
  out->clear();
  for (uint64_t i = 0; i < (blocks == 0 ? 1 : blocks); ++i) {
    uint64_t new_len = new_size, old_off = 0, old_len = old_size,
             frame_len = frames.size();
    if (blocks > 0 &&
        (!GetVarint(table, &new_len) || !GetVarint(table, &old_off) ||
         !GetVarint(table, &old_len) || !GetVarint(table, &frame_len))) {
      return Damaged("truncated block table");
    }
    const std::string b = "block " + std::to_string(i);
    if (new_len > new_size - out->size()) {
      return Damaged(b + " runs past the new size");
    }
    if (old_len > old_size || old_off > old_size - old_len) {
      return Damaged(b + " reads past the old file");
    }
    if (frame_len > frames.size()) return Damaged(b + " runs past the patch");
    if (new_len > 0 && (old_len > budget || new_len > budget - old_len)) {
      return Damaged(b + " needs more than its declared window");
    }
    if (new_len == 0 && frame_len != 0) {
      return Damaged(b + " is empty but has data");
    }
    Error e = DecodeFrame(frames.substr(0, frame_len),
                          old.substr(old_off, old_len), static_cast<int>(wl),
                          /*magicless=*/false, new_len, /*exact=*/true,
                          b.c_str(), out);
    if (!e.ok()) return e;
    frames.remove_prefix(frame_len);
  }
  if (out->size() != new_size || !frames.empty() || !table.empty()) {
    return Damaged("blocks do not add up to the new file");
  }
  if (Sha256(*out).compare(0, 16, new_check) != 0) {
    return Damaged("output check");
  }
  return {};
}

// Version 1 after its version varint: the suffix-array method.
Error ApplySuffixArray(std::string_view old, std::string_view in,
                       uint64_t max_size, std::string* out) {
  uint64_t flags, old_size, new_size, segments, ctrl_len, diff_len, extra_len,
      diff_raw, wl;
  if (!GetVarint(in, &flags)) return Damaged("truncated header");
  if (flags != 0) return Damaged("unknown flags");
  if (!GetVarint(in, &old_size) || !GetVarint(in, &new_size) ||
      in.size() < 64) {
    return Damaged("truncated header");
  }
  const std::string_view old_sha = in.substr(0, 32);
  const std::string_view new_sha = in.substr(32, 32);
  in.remove_prefix(64);
  if (!GetVarint(in, &segments) || !GetVarint(in, &ctrl_len) ||
      !GetVarint(in, &diff_len) || !GetVarint(in, &extra_len) ||
      !GetVarint(in, &diff_raw) || !GetVarint(in, &wl) || in.size() < 4) {
    return Damaged("truncated header");
  }
  in.remove_prefix(4);  // header checksum: the output is checked instead
  if (wl < 10 || wl > kMaxWindowLog) return Damaged("window out of range");
  if (ctrl_len > in.size() || diff_len > in.size() - ctrl_len ||
      extra_len != in.size() - ctrl_len - diff_len) {
    return Damaged("stream lengths do not add up to the patch size");
  }
  if (new_size > max_size) return OverLimit(new_size, max_size);
  if (diff_raw > new_size || segments > new_size + 1) {
    return Damaged("stream sizes do not add up to the new size");
  }
  if (old.size() != old_size) {
    return WrongBase("it is for " + std::to_string(old_size) + " bytes, not " +
                     std::to_string(old.size()));
  }
  if (Sha256(old) != old_sha) return WrongBase("old SHA-256");
  // The three streams, decoded whole. Control: three varints (at most 10
  // bytes each) a segment. Sparse diff: groups of two varints and their
  // literals; every group holds at least one diff byte.
  std::string ctrl, diff, extra;
  const int w = static_cast<int>(wl);
  Error e = DecodeFrame(in.substr(0, ctrl_len), {}, w, false, segments * 30,
                        false, "control stream", &ctrl);
  if (e.ok()) {
    e = DecodeFrame(in.substr(ctrl_len, diff_len), {}, w, false,
                    diff_raw + 20 * diff_raw, false, "diff stream", &diff);
  }
  if (e.ok()) {
    e = DecodeFrame(in.substr(ctrl_len + diff_len), {}, w, false,
                    new_size - diff_raw, false, "extra stream", &extra);
  }
  if (!e.ok()) return e;
  std::string_view c = ctrl, d = diff, x = extra;
  uint64_t zeros = 0, literals = 0;  // what is left of the diff group
  out->clear();
  out->reserve(new_size);
  uint64_t old_pos = 0, added = 0;
  for (uint64_t i = 0; i < segments; ++i) {
    uint64_t add, ext, zseek;
    if (!GetVarint(c, &add) || !GetVarint(c, &ext) || !GetVarint(c, &zseek)) {
      return Damaged("truncated control stream");
    }
    const std::string s = "segment " + std::to_string(i);
    const uint64_t left = new_size - out->size();
    if (add > left || ext > left - add || ext > x.size()) {
      return Damaged(s + " runs past the new size");
    }
    if (add > old_size || old_pos > old_size - add) {
      return Damaged(s + " reads past the old file");
    }
    int carry = 0;
    for (uint64_t k = 0; k < add; ++k) {
      if (zeros == 0 && literals == 0) {
        if (!GetVarint(d, &zeros) || !GetVarint(d, &literals) ||
            (zeros == 0 && literals == 0) || literals > d.size()) {
          return Damaged("diff stream");
        }
      }
      int delta = 0;
      if (zeros > 0) {
        --zeros;
      } else {
        delta = static_cast<int8_t>(d.front());
        d.remove_prefix(1);
        --literals;
      }
      const int sum = static_cast<uint8_t>(old[old_pos + k]) + delta + carry;
      carry = sum >= 256 ? 1 : (sum < 0 ? -1 : 0);
      out->push_back(static_cast<char>(static_cast<uint8_t>(sum)));
    }
    old_pos += add;
    added += add;
    out->append(x.substr(0, ext));
    x.remove_prefix(ext);
    const uint64_t mag = zseek >> 1;  // zigzag: (v << 1) ^ (v >> 63)
    if ((zseek & 1) != 0) {           // -(mag + 1)
      if (mag + 1 > old_pos) return Damaged(s + " seeks before the old file");
      old_pos -= mag + 1;
    } else {
      if (mag > old_size - old_pos) {
        return Damaged(s + " seeks past the old file");
      }
      old_pos += mag;
    }
  }
  if (out->size() != new_size || added != diff_raw || !c.empty() ||
      !d.empty() || zeros != 0 || literals != 0 || !x.empty()) {
    return Damaged("streams do not add up to the new file");
  }
  if (Sha256(*out) != new_sha) return Damaged("output SHA-256");
  return {};
}

}  // namespace

Error ApplyPatch(std::string_view old, std::string_view patch,
                 uint64_t max_size, std::string* out) {
  out->clear();
  if (patch.size() >= 2 && static_cast<uint8_t>(patch[0]) == kCompactMagic) {
    if (static_cast<uint8_t>(patch[1]) != 3) {
      return {12, "compact patch version " +
                      std::to_string(static_cast<uint8_t>(patch[1])) +
                      " is not supported (this device core reads 1 to 3)"};
    }
    Error e = ApplyCompact(old, patch, max_size, out);
    if (!e.ok()) out->clear();
    return e;
  }
  if (patch.substr(0, 8) != kStrataMagic) {
    return {12,
            "not a Strata patch (the device core applies versions 1 to 3, "
            "not BSDIFF40)"};
  }
  std::string_view in = patch.substr(8);
  uint64_t version = 0;
  if (!GetVarint(in, &version)) return Damaged("truncated header");
  Error e;
  if (version == 1) {
    e = ApplySuffixArray(old, in, max_size, out);
  } else if (version == 2) {
    e = ApplyBlocks(old, in, max_size, out);
  } else {
    e = {12, "patch version " + std::to_string(version) +
                 " is not supported (this device core reads 1 to 3)"};
  }
  if (!e.ok()) out->clear();
  return e;
}

}  // namespace strata::device
