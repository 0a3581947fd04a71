#ifndef STRATA_BASE_SHA256_H_
#define STRATA_BASE_SHA256_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace strata {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // Returns the digest; the object may not be updated afterwards.
  Sha256Digest Finish();

  static Sha256Digest Hash(std::string_view data);
  static std::string HexHash(std::string_view data);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string ToHex(std::string_view bytes);
std::string ToHex(const Sha256Digest& digest);
// True for 64 lowercase hex characters.
bool IsSha256Hex(std::string_view s);

// HMAC-SHA256 (RFC 2104) of `data` under `key`.
Sha256Digest HmacSha256(std::string_view key, std::string_view data);

// HMAC-SHA256 under one key for many messages: keeps keyed contexts for
// reuse, so each MAC costs about a tenth of HmacSha256's. Thread-safe.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(std::string_view key);
  ~HmacSha256Key();
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  Sha256Digest Mac(std::string_view data) const;

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
};
// Compares in time that depends only on the lengths (for MACs and secrets).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace strata

#endif  // STRATA_BASE_SHA256_H_
