#include "strata/base/sha256.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <vector>

#include "strata/base/mutex.h"

namespace strata {

namespace {

// OpenSSL 3 looks an algorithm up in its provider store on every implicit
// use (EVP_sha256(), HMAC()): fetched once here, a digest costs a third
// and an HMAC under a kept key a tenth (docs/benchmarks.md, Check).
// Never freed: they live as long as the process.
const EVP_MD* FetchedSha256() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) std::abort();  // a broken OpenSSL
    return fetched;
  }();
  return md;
}

EVP_MAC* FetchedHmac() {
  static EVP_MAC* mac = [] {
    EVP_MAC* fetched = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (fetched == nullptr) std::abort();  // a broken OpenSSL
    return fetched;
  }();
  return mac;
}

}  // namespace

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (state_->ctx == nullptr ||
      EVP_DigestInit_ex(state_->ctx, FetchedSha256(), nullptr) != 1) {
    std::abort();  // Out of memory or a broken OpenSSL: nothing to recover.
  }
}

Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(state_->ctx, data.data(), data.size());
}

Sha256Digest Sha256::Finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, out.data(), &len);
  return out;
}

Sha256Digest Sha256::Hash(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

std::string Sha256::HexHash(std::string_view data) { return ToHex(Hash(data)); }

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string ToHex(const Sha256Digest& digest) {
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest.data()),
                                digest.size()));
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Keyed HMAC contexts, reused: re-initialising one with its key kept is
// the cheap path; a new one is made only when every kept one is in use.
struct HmacSha256Key::Pool {
  std::string key;
  Mutex mu;
  std::vector<EVP_MAC_CTX*> free ABSL_GUARDED_BY(mu);
  ~Pool() ABSL_NO_THREAD_SAFETY_ANALYSIS {  // no other user left
    for (EVP_MAC_CTX* c : free) EVP_MAC_CTX_free(c);
  }
};

HmacSha256Key::HmacSha256Key(std::string_view key)
    : pool_(std::make_unique<Pool>()) {
  pool_->key.assign(key);
}

HmacSha256Key::~HmacSha256Key() = default;

Sha256Digest HmacSha256Key::Mac(std::string_view data) const {
  EVP_MAC_CTX* ctx = nullptr;
  {
    MutexLock lock(&pool_->mu);
    if (!pool_->free.empty()) {
      ctx = pool_->free.back();
      pool_->free.pop_back();
    }
  }
  bool ok = true;
  if (ctx == nullptr) {
    ctx = EVP_MAC_CTX_new(FetchedHmac());
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    // An empty key is valid for HMAC; OpenSSL wants a non-null pointer.
    static const unsigned char kEmpty = 0;
    const std::string& key = pool_->key;
    ok = ctx != nullptr &&
         EVP_MAC_init(ctx,
                      key.empty()
                          ? &kEmpty
                          : reinterpret_cast<const unsigned char*>(key.data()),
                      key.size(), params) == 1;
  } else {
    ok = EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1;  // same key again
  }
  Sha256Digest out{};
  size_t len = 0;
  ok = ok &&
       EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()),
                      data.size()) == 1 &&
       EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 &&
       len == out.size();
  if (!ok) std::abort();  // Out of memory or a broken OpenSSL.
  MutexLock lock(&pool_->mu);
  pool_->free.push_back(ctx);
  return out;
}

Sha256Digest HmacSha256(std::string_view key, std::string_view data) {
  return HmacSha256Key(key).Mac(data);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace strata
