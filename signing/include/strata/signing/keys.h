// Ed25519 keys (OpenSSL 3 EVP underneath; no OpenSSL type leaks out):
// generation, PEM files interoperable with `openssl genpkey -algorithm
// ed25519` / `openssl pkey -pubout`, TUF key objects and key ids, signing
// and verification.
#ifndef STRATA_SIGNING_KEYS_H_
#define STRATA_SIGNING_KEYS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/base/json.h"

namespace strata::signing {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

class PublicKey {
 public:
  // 32 raw bytes.
  static absl::StatusOr<PublicKey> FromRaw(std::string_view raw);
  // 64 hex characters (TUF's "keyval.public" form).
  static absl::StatusOr<PublicKey> FromHex(std::string_view hex);
  // "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo), as
  // `openssl pkey -pubout` writes it.
  static absl::StatusOr<PublicKey> FromPem(std::string_view pem);
  // A TUF key object {"keytype":"ed25519","scheme":"ed25519",
  // "keyval":{"public":"<hex>"}}; `what` names it in errors.
  static absl::StatusOr<PublicKey> FromTufJson(const Json& key,
                                               std::string_view what = "key");

  std::string ToPem() const;
  Json ToTufJson() const;
  const std::string& raw() const { return raw_; }
  std::string hex() const;
  // TUF key id: lowercase hex SHA-256 of the canonical JSON of ToTufJson().
  std::string KeyId() const;

  // True iff `signature` is a valid Ed25519 signature of `message`.
  bool Verify(std::string_view message, std::string_view signature) const;

  bool operator==(const PublicKey& other) const { return raw_ == other.raw_; }

 private:
  explicit PublicKey(std::string raw) : raw_(std::move(raw)) {}
  std::string raw_;
};

class PrivateKey {
 public:
  // A fresh key from OpenSSL's CSPRNG.
  static absl::StatusOr<PrivateKey> Generate();
  // The key derived from a 32-byte seed (RFC 8032); deterministic, for tests
  // and for keys kept in HSM-like stores as seeds.
  static absl::StatusOr<PrivateKey> FromSeed(std::string_view seed);
  // Unencrypted PKCS#8 "-----BEGIN PRIVATE KEY-----", as `openssl genpkey
  // -algorithm ed25519` writes it. Encrypted keys are refused.
  static absl::StatusOr<PrivateKey> FromPem(std::string_view pem);

  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  PrivateKey(PrivateKey&&) = default;
  PrivateKey& operator=(PrivateKey&&) = default;
  ~PrivateKey();

  // Unencrypted PKCS#8 PEM (readable by `openssl pkey`).
  std::string ToPem() const;
  const PublicKey& public_key() const { return public_key_; }
  std::string KeyId() const { return public_key_.KeyId(); }
  // A 64-byte Ed25519 signature of `message`.
  absl::StatusOr<std::string> Sign(std::string_view message) const;

 private:
  PrivateKey(std::string seed, PublicKey pub)
      : seed_(std::move(seed)), public_key_(std::move(pub)) {}
  std::string seed_;
  PublicKey public_key_;
};

// Writes `key` as PKCS#8 PEM readable only by its owner (mode 0600, set
// before any key byte is written), atomically (temp, fsync, rename, fsync
// directory).
absl::Status SavePrivateKey(FileSystem& fs, std::string_view path,
                            const PrivateKey& key);
absl::StatusOr<PrivateKey> LoadPrivateKey(FileSystem& fs,
                                          std::string_view path);
// Writes the SubjectPublicKeyInfo PEM (mode 0644), atomically.
absl::Status SavePublicKey(FileSystem& fs, std::string_view path,
                           const PublicKey& key);
absl::StatusOr<PublicKey> LoadPublicKey(FileSystem& fs, std::string_view path);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_KEYS_H_
