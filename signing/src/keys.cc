#include "strata/signing/keys.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

#include "absl/status/status.h"
#include "internal.h"
#include "openssl_ptr.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::signing {
namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// Refuses encrypted PEM instead of prompting on a terminal.
int NoPassword(char*, int, int, void*) { return -1; }

absl::StatusOr<std::string> RawPublic(EVP_PKEY* pkey) {
  unsigned char pub[kEd25519PublicKeySize];
  size_t len = sizeof(pub);
  if (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 || len != sizeof(pub)) {
    return absl::InternalError(strata::StrCat(
        "cannot extract an Ed25519 public key: ", OpenSslError()));
  }
  return std::string(reinterpret_cast<char*>(pub), len);
}

absl::StatusOr<std::string> RawSeed(EVP_PKEY* pkey) {
  unsigned char seed[kEd25519SeedSize];
  size_t len = sizeof(seed);
  if (EVP_PKEY_get_raw_private_key(pkey, seed, &len) != 1 ||
      len != sizeof(seed)) {
    return absl::InternalError(strata::StrCat(
        "cannot extract an Ed25519 private key: ", OpenSslError()));
  }
  std::string out(reinterpret_cast<char*>(seed), len);
  OPENSSL_cleanse(seed, sizeof(seed));
  return out;
}

PkeyPtr PrivatePkey(const std::string& seed) {
  return PkeyPtr(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
}

}  // namespace

absl::StatusOr<PublicKey> PublicKey::FromRaw(std::string_view raw) {
  if (raw.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(
        strata::StrCat("an Ed25519 public key has 32 bytes, got ", raw.size()));
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        strata::StrCat("not a valid Ed25519 public key: ", OpenSslError()));
  }
  return PublicKey(std::string(raw));
}

absl::StatusOr<PublicKey> PublicKey::FromHex(std::string_view hex) {
  std::optional<std::string> raw = internal::FromHex(hex);
  if (!raw.has_value() || hex.size() != 2 * kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(
        "an Ed25519 public key in hex has 64 hex digits");
  }
  return FromRaw(*raw);
}

absl::StatusOr<PublicKey> PublicKey::FromPem(std::string_view pem) {
  if (pem.size() > 64 * 1024) {
    return absl::InvalidArgumentError("public key PEM is too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassword, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(strata::StrCat(
        "not a PEM public key (expected -----BEGIN PUBLIC KEY-----): ",
        OpenSslError()));
  }
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        "the PEM public key is not Ed25519 (generate one with `openssl "
        "genpkey -algorithm ed25519`)");
  }
  STRATA_ASSIGN_OR_RETURN(std::string raw, RawPublic(pkey.get()));
  return PublicKey(std::move(raw));
}

absl::StatusOr<PublicKey> PublicKey::FromTufJson(const Json& key,
                                                 std::string_view what) {
  auto bad = [&](std::string_view detail) {
    return absl::InvalidArgumentError(strata::StrCat(what, ": ", detail));
  };
  if (!key.is_object()) return bad("must be an object");
  const Json* keytype = key.Find("keytype");
  const Json* scheme = key.Find("scheme");
  const Json* keyval = key.Find("keyval");
  if (keytype == nullptr || !keytype->is_string() ||
      keytype->as_string() != "ed25519") {
    return bad("field keytype must be \"ed25519\" (the only supported type)");
  }
  if (scheme == nullptr || !scheme->is_string() ||
      scheme->as_string() != "ed25519") {
    return bad("field scheme must be \"ed25519\"");
  }
  if (keyval == nullptr || !keyval->is_object()) {
    return bad("field keyval must be an object");
  }
  const Json* pub = keyval->Find("public");
  if (pub == nullptr || !pub->is_string()) {
    return bad("field keyval.public must be a string");
  }
  absl::StatusOr<PublicKey> parsed = FromHex(pub->as_string());
  if (!parsed.ok()) {
    return bad(strata::StrCat("field keyval.public: ",
                              ToStd(parsed.status().message())));
  }
  return parsed;
}

std::string PublicKey::ToPem() const {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(raw_.data()), raw_.size()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (pkey == nullptr || bio == nullptr ||
      PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
    return std::string();
  }
  return BioContents(bio.get());
}

Json PublicKey::ToTufJson() const {
  Json key = Json::MakeObject();
  key["keytype"] = "ed25519";
  key["scheme"] = "ed25519";
  key["keyval"]["public"] = hex();
  return key;
}

std::string PublicKey::hex() const { return ToHex(raw_); }

std::string PublicKey::KeyId() const {
  return Sha256::HexHash(ToTufJson().Canonical());
}

bool PublicKey::Verify(std::string_view message,
                       std::string_view signature) const {
  if (signature.size() != kEd25519SignatureSize) return false;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(raw_.data()), raw_.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (pkey == nullptr || ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) !=
          1) {
    ERR_clear_error();
    return false;
  }
  const int ok = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
      signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
      message.size());
  ERR_clear_error();
  return ok == 1;
}

PrivateKey::~PrivateKey() {
  if (!seed_.empty()) OPENSSL_cleanse(seed_.data(), seed_.size());
}

absl::StatusOr<PrivateKey> PrivateKey::Generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (pkey == nullptr) {
    return absl::InternalError(
        strata::StrCat("Ed25519 key generation failed: ", OpenSslError()));
  }
  STRATA_ASSIGN_OR_RETURN(std::string seed, RawSeed(pkey.get()));
  STRATA_ASSIGN_OR_RETURN(std::string pub, RawPublic(pkey.get()));
  STRATA_ASSIGN_OR_RETURN(PublicKey public_key, PublicKey::FromRaw(pub));
  return PrivateKey(std::move(seed), std::move(public_key));
}

absl::StatusOr<PrivateKey> PrivateKey::FromSeed(std::string_view seed) {
  if (seed.size() != kEd25519SeedSize) {
    return absl::InvalidArgumentError(
        strata::StrCat("an Ed25519 seed has 32 bytes, got ", seed.size()));
  }
  std::string s(seed);
  PkeyPtr pkey = PrivatePkey(s);
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        strata::StrCat("invalid Ed25519 seed: ", OpenSslError()));
  }
  STRATA_ASSIGN_OR_RETURN(std::string pub, RawPublic(pkey.get()));
  STRATA_ASSIGN_OR_RETURN(PublicKey public_key, PublicKey::FromRaw(pub));
  return PrivateKey(std::move(s), std::move(public_key));
}

absl::StatusOr<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  if (pem.size() > 64 * 1024) {
    return absl::InvalidArgumentError("private key PEM is too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(strata::StrCat(
        "not an unencrypted PEM private key (expected -----BEGIN PRIVATE "
        "KEY----- as `openssl genpkey -algorithm ed25519` writes): ",
        OpenSslError()));
  }
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        "the PEM private key is not Ed25519 (generate one with `openssl "
        "genpkey -algorithm ed25519`)");
  }
  STRATA_ASSIGN_OR_RETURN(std::string seed, RawSeed(pkey.get()));
  STRATA_ASSIGN_OR_RETURN(std::string pub, RawPublic(pkey.get()));
  STRATA_ASSIGN_OR_RETURN(PublicKey public_key, PublicKey::FromRaw(pub));
  return PrivateKey(std::move(seed), std::move(public_key));
}

std::string PrivateKey::ToPem() const {
  PkeyPtr pkey = PrivatePkey(seed_);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (pkey == nullptr || bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0,
                               nullptr, nullptr) != 1) {
    return std::string();
  }
  std::string out = BioContents(bio.get());
  // The BIO's buffer held the key; wipe it before it is freed.
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  if (n > 0) OPENSSL_cleanse(data, static_cast<size_t>(n));
  return out;
}

absl::StatusOr<std::string> PrivateKey::Sign(std::string_view message) const {
  PkeyPtr pkey = PrivatePkey(seed_);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (pkey == nullptr || ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) !=
          1) {
    return absl::InternalError(
        strata::StrCat("cannot initialise Ed25519 signing: ", OpenSslError()));
  }
  unsigned char sig[kEd25519SignatureSize];
  size_t len = sizeof(sig);
  if (EVP_DigestSign(ctx.get(), sig, &len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      len != sizeof(sig)) {
    return absl::InternalError(
        strata::StrCat("Ed25519 signing failed: ", OpenSslError()));
  }
  return std::string(reinterpret_cast<char*>(sig), len);
}

absl::Status SavePrivateKey(FileSystem& fs, std::string_view path,
                            const PrivateKey& key) {
  std::string pem = key.ToPem();
  if (pem.empty()) return absl::InternalError("cannot encode the private key");
  const std::string tmp = strata::StrCat(path, ".tmp");
  absl::Status status = [&]() -> absl::Status {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                            fs.NewWritableFile(tmp));
    // Restrict the file before any secret byte lands in it.
    absl::Status s = fs.SetPermissions(tmp, 0600);
    if (s.ok()) s = file->Append(pem);
    if (s.ok()) s = file->Sync();
    absl::Status closed = file->Close();
    STRATA_RETURN_IF_ERROR(s);
    STRATA_RETURN_IF_ERROR(closed);
    return fs.Rename(tmp, path);
  }();
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!status.ok()) {
    (void)fs.DeleteFile(tmp);
    return Annotate(status, strata::StrCat("saving private key ", path));
  }
  return Annotate(fs.SyncDir(Dirname(path)),
                  strata::StrCat("making ", path, " durable"));
}

absl::StatusOr<PrivateKey> LoadPrivateKey(FileSystem& fs,
                                          std::string_view path) {
  absl::StatusOr<std::string> pem = fs.ReadFile(path);
  if (!pem.ok()) {
    return Annotate(pem.status(), strata::StrCat("reading private key ", path));
  }
  absl::StatusOr<PrivateKey> key = PrivateKey::FromPem(*pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!key.ok()) return Annotate(key.status(), path);
  return key;
}

absl::Status SavePublicKey(FileSystem& fs, std::string_view path,
                           const PublicKey& key) {
  return WriteFileAtomically(fs, path, key.ToPem());
}

absl::StatusOr<PublicKey> LoadPublicKey(FileSystem& fs, std::string_view path) {
  absl::StatusOr<std::string> pem = fs.ReadFile(path);
  if (!pem.ok()) {
    return Annotate(pem.status(), strata::StrCat("reading public key ", path));
  }
  absl::StatusOr<PublicKey> key = PublicKey::FromPem(*pem);
  if (!key.ok()) return Annotate(key.status(), path);
  return key;
}

}  // namespace strata::signing
