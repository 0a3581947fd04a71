#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "strata/base/strings.h"

namespace strata::server::internal {
namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  if (e == 0) return "no detail";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

Bio MemBio(std::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

absl::StatusOr<ssl_ctx_st*> NewServerTlsContext(std::string_view cert_chain_pem,
                                                std::string_view key_pem) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(
      SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (ctx == nullptr) {
    return absl::InternalError(
        StrCat("cannot create a TLS context: ", OpenSslError()));
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION |
                                     SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  Bio certs = MemBio(cert_chain_pem);
  X509* leaf = PEM_read_bio_X509_AUX(certs.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr || SSL_CTX_use_certificate(ctx.get(), leaf) != 1) {
    if (leaf != nullptr) X509_free(leaf);
    return absl::InvalidArgumentError(
        StrCat("the HTTP port's TLS certificate (--tls-cert) is not a PEM "
               "certificate: ",
               OpenSslError(), "; pass the server's PEM chain"));
  }
  X509_free(leaf);
  while (X509* extra =
             PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx.get(), extra) != 1) {
      X509_free(extra);
      return absl::InvalidArgumentError(StrCat(
          "cannot add a chain certificate for HTTP TLS: ", OpenSslError()));
    }
  }
  ERR_clear_error();  // the end of the chain reads as an error
  Bio key_bio = MemBio(key_pem);
  EVP_PKEY* key =
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr || SSL_CTX_use_PrivateKey(ctx.get(), key) != 1) {
    if (key != nullptr) EVP_PKEY_free(key);
    return absl::InvalidArgumentError(
        StrCat("the HTTP port's TLS key (--tls-key) is not a PEM private "
               "key: ",
               OpenSslError()));
  }
  EVP_PKEY_free(key);
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return absl::InvalidArgumentError(
        StrCat("the TLS key does not match the certificate: ", OpenSslError(),
               "; pass the key of --tls-cert"));
  }
  return ctx.release();
}

void FreeServerTlsContext(ssl_ctx_st* ctx) { SSL_CTX_free(ctx); }

}  // namespace strata::server::internal
