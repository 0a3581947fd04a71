#include "strata/signing/signed_metadata.h"

#include <set>

#include "absl/status/status.h"
#include "internal.h"
#include "json_fields.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/reject_reason.h"

namespace strata::signing {

absl::StatusOr<SignedMetadata> SignedMetadata::Parse(std::string_view bytes,
                                                     std::string_view role,
                                                     size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return Reject(RejectReason::kEndlessData,
                  absl::StatusCode::kResourceExhausted,
                  strata::StrCat(role, " metadata is ", bytes.size(),
                                 " bytes, more than the limit of ", max_bytes));
  }
  JsonParseOptions options;
  options.max_bytes = max_bytes;
  absl::StatusOr<Json> json = Json::Parse(bytes, options);
  if (!json.ok()) {
    return internal::Malformed(strata::StrCat(
        role, " metadata is not valid JSON: ", ToStd(json.status().message())));
  }
  internal::Fields f(*json, role, "(top level)");
  STRATA_RETURN_IF_ERROR(f.CheckObject());
  if (json->as_object().size() != 2) {
    return internal::Malformed(strata::StrCat(
        role, " metadata must have exactly the members signed and signatures"));
  }
  STRATA_ASSIGN_OR_RETURN(const Json* signed_part, f.Object("signed"));
  STRATA_ASSIGN_OR_RETURN(const Json* sigs, f.Array("signatures"));
  SignedMetadata out(*signed_part);
  size_t i = 0;
  for (const Json& s : sigs->as_array()) {
    internal::Fields sf(s, role, strata::StrCat("signatures[", i++, "]"));
    STRATA_RETURN_IF_ERROR(sf.CheckObject());
    Signature sig;
    STRATA_ASSIGN_OR_RETURN(sig.keyid, sf.String("keyid"));
    STRATA_ASSIGN_OR_RETURN(sig.sig_hex, sf.String("sig"));
    out.signatures_.push_back(std::move(sig));
  }
  return out;
}

std::string SignedMetadata::type() const {
  const Json* t = signed_.Find("_type");
  return t != nullptr && t->is_string() ? t->as_string() : std::string();
}

absl::Status SignedMetadata::Sign(const PrivateKey& key) {
  STRATA_ASSIGN_OR_RETURN(std::string sig, key.Sign(CanonicalSigned()));
  const std::string id = key.KeyId();
  for (Signature& s : signatures_) {
    if (s.keyid == id) {
      s.sig_hex = ToHex(sig);
      return absl::OkStatus();
    }
  }
  signatures_.push_back({id, ToHex(sig)});
  return absl::OkStatus();
}

std::string SignedMetadata::Serialize() const {
  Json j = Json::MakeObject();
  j["signed"] = signed_;
  Json sigs = Json::MakeArray();
  for (const Signature& s : signatures_) {
    Json e = Json::MakeObject();
    e["keyid"] = s.keyid;
    e["sig"] = s.sig_hex;
    sigs.Append(std::move(e));
  }
  j["signatures"] = std::move(sigs);
  return j.Dump();
}

absl::Status VerifyThreshold(const SignedMetadata& metadata,
                             const std::map<std::string, PublicKey>& keys,
                             const RoleKeys& role, std::string_view role_name) {
  const std::string message = metadata.CanonicalSigned();
  std::set<std::string> counted_ids;
  std::set<std::string> counted_keys;  // raw public keys
  size_t invalid = 0;
  size_t untrusted = 0;
  size_t duplicates = 0;
  for (const Signature& s : metadata.signatures()) {
    bool in_role = false;
    for (const std::string& id : role.keyids) in_role |= (id == s.keyid);
    auto key = keys.find(s.keyid);
    if (!in_role || key == keys.end()) {
      ++untrusted;
      continue;
    }
    std::optional<std::string> sig = internal::FromHex(s.sig_hex);
    if (!sig.has_value() || !key->second.Verify(message, *sig)) {
      ++invalid;
      continue;
    }
    if (!counted_ids.insert(s.keyid).second ||
        !counted_keys.insert(key->second.raw()).second) {
      ++duplicates;
    }
  }
  const uint64_t valid = counted_keys.size();
  if (valid >= role.threshold) return absl::OkStatus();
  const std::string detail = strata::StrCat(
      role_name, " metadata has ", valid, " valid signature(s) from distinct ",
      "trusted keys, needs ", role.threshold, " (", invalid, " invalid, ",
      untrusted, " from keys the role does not trust, ", duplicates,
      " duplicate(s) of an already counted key)");
  if (metadata.signatures().empty()) {
    return Reject(RejectReason::kUnsigned, absl::StatusCode::kUnauthenticated,
                  strata::StrCat(role_name, " metadata is not signed"));
  }
  if (invalid > 0 || untrusted > 0) {
    return Reject(RejectReason::kBadSignature,
                  absl::StatusCode::kUnauthenticated, detail);
  }
  return Reject(RejectReason::kThresholdNotMet,
                absl::StatusCode::kUnauthenticated, detail);
}

absl::StatusOr<std::string> SignToBytes(
    const Json& signed_part, const std::vector<const PrivateKey*>& keys) {
  SignedMetadata m(signed_part);
  for (const PrivateKey* k : keys) STRATA_RETURN_IF_ERROR(m.Sign(*k));
  return m.Serialize();
}

}  // namespace strata::signing
