// libsodium and zstd behind the device core's building blocks.
#include <sodium.h>
#include <zstd.h>

#include "strata/device/device_core.h"

namespace strata::device {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(
      digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  return std::string(hex, 2 * crypto_hash_sha256_BYTES);
}

bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES ||
      signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(
             reinterpret_cast<const unsigned char*>(signature.data()),
             reinterpret_cast<const unsigned char*>(message.data()),
             message.size(),
             reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

Error ZstdDecompress(std::string_view frame, std::string_view prefix,
                     uint64_t max_size, std::string* out) {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx == nullptr) return {8, "zstd: out of memory"};
  if (!prefix.empty()) {
    const size_t r = ZSTD_DCtx_refPrefix(ctx, prefix.data(), prefix.size());
    if (ZSTD_isError(r)) {
      ZSTD_freeDCtx(ctx);
      return {13, std::string("zstd: ") + ZSTD_getErrorName(r)};
    }
  }
  // The window a frame may ask for is bounded (2^27, as the SDK's patches).
  ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, 27);
  out->clear();
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  size_t r = 1;
  while (r != 0) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    r = ZSTD_decompressStream(ctx, &o, &in);
    if (ZSTD_isError(r)) {
      ZSTD_freeDCtx(ctx);
      return {15, std::string("zstd frame: ") + ZSTD_getErrorName(r)};
    }
    if (out->size() + o.pos > max_size) {
      ZSTD_freeDCtx(ctx);
      return {8, "zstd frame decodes to more than " + std::to_string(max_size) +
                     " bytes"};
    }
    out->append(buf.data(), o.pos);
    if (r != 0 && in.pos == in.size && o.pos < o.size) {
      ZSTD_freeDCtx(ctx);
      return {15, "zstd frame is truncated"};
    }
  }
  ZSTD_freeDCtx(ctx);
  return {};
}

}  // namespace strata::device
