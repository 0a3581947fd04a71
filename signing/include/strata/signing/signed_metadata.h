// The signed envelope of every metadata file:
//   {"signed": {...}, "signatures": [{"keyid": "...", "sig": "<hex>"}]}
// Signatures cover the canonical JSON of "signed". Also the threshold check
// that counts one signature per key (a repeated signature, key id, or the
// same public key listed under two ids counts once).
#ifndef STRATA_SIGNING_SIGNED_METADATA_H_
#define STRATA_SIGNING_SIGNED_METADATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/json.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"

namespace strata::signing {

struct Signature {
  std::string keyid;
  std::string sig_hex;
};

class SignedMetadata {
 public:
  // An unsigned envelope around `signed_part`.
  explicit SignedMetadata(Json signed_part) : signed_(std::move(signed_part)) {}

  // Parses a metadata file. `role` names it in errors. At most `max_bytes`
  // are accepted (ENDLESS_DATA beyond). Errors carry MALFORMED_METADATA.
  static absl::StatusOr<SignedMetadata> Parse(std::string_view bytes,
                                              std::string_view role,
                                              size_t max_bytes = 16u << 20);

  const Json& signed_part() const { return signed_; }
  // The "_type" member, or "" when absent.
  std::string type() const;
  const std::vector<Signature>& signatures() const { return signatures_; }
  std::vector<Signature>& mutable_signatures() { return signatures_; }
  // The bytes signatures cover.
  std::string CanonicalSigned() const { return signed_.Canonical(); }

  // Adds `key`'s signature, replacing an earlier one by the same key id.
  absl::Status Sign(const PrivateKey& key);
  // The file bytes (compact JSON, sorted keys).
  std::string Serialize() const;

 private:
  Json signed_;
  std::vector<Signature> signatures_;
};

// Checks that `metadata` carries valid signatures from at least
// `role.threshold` distinct keys of `role` (resolved through `keys`).
// Rejections (kUnauthenticated): UNSIGNED, BAD_SIGNATURE, THRESHOLD_NOT_MET;
// `role_name` names the role in the message.
absl::Status VerifyThreshold(const SignedMetadata& metadata,
                             const std::map<std::string, PublicKey>& keys,
                             const RoleKeys& role, std::string_view role_name);

// Convenience for builders: wraps `signed_part`, signs it with every key of
// `keys`, and returns the file bytes.
absl::StatusOr<std::string> SignToBytes(
    const Json& signed_part, const std::vector<const PrivateKey*>& keys);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_SIGNED_METADATA_H_
