#include "strata/signing/self_signed_tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "openssl_ptr.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::signing {
namespace {

absl::Status OpenSslFailure(std::string_view what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  char buf[256] = "unknown OpenSSL error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  return absl::InternalError(StrCat(what, ": ", buf));
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

absl::Status ValidateHost(const std::string& host) {
  if (IsIpAddress(host)) return absl::OkStatus();
  bool ok = !host.empty() && host.size() <= 253 && host.front() != '.' &&
            host.front() != '-' && host.back() != '.';
  for (char c : host) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        StrCat("'", host,
               "' is neither an IP address nor a DNS name; list the names "
               "and addresses clients use, e.g. "
               "--tls-hosts localhost,127.0.0.1,::1,strata.example.com"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PkeyPtr> NewP256Key() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) !=
          1) {
    return OpenSslFailure("preparing a P-256 key");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return OpenSslFailure("generating a P-256 key");
  }
  return PkeyPtr(raw);
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslFailure(
        StrCat("adding extension ", OBJ_nid2sn(nid), " = ", value));
  }
  return absl::OkStatus();
}

// A certificate for `key` named `common_name`, without extensions or
// signature yet.
absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key,
                                       const std::string& common_name,
                                       const SelfSignedTlsOptions& options) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) {
    return OpenSslFailure("creating a certificate");
  }
  // A random positive 127-bit serial number.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return OpenSslFailure("drawing a serial number");
  }
  serial[0] &= 0x7f;
  BnPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) ==
                 nullptr) {
    return OpenSslFailure("setting the serial number");
  }
  const time_t not_before =
      absl::ToTimeT(options.now - absl::Minutes(5));  // clock skew
  const time_t not_after = absl::ToTimeT(options.now + options.validity);
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), not_after) == nullptr) {
    return OpenSslFailure("setting the validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(
          name, "O", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>("Strata"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
          0) != 1) {
    return OpenSslFailure("naming the certificate");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslFailure("setting the public key");
  }
  return cert;
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslFailure("encoding a certificate");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    return OpenSslFailure("encoding the server key");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseTlsHosts(std::string_view list) {
  std::vector<std::string> hosts;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      std::string host(item);
      STRATA_RETURN_IF_ERROR(ValidateHost(host));
      hosts.push_back(std::move(host));
    }
    pos = comma + 1;
  }
  if (hosts.empty()) {
    return absl::InvalidArgumentError(
        "no TLS hosts given; list the names and addresses clients use, e.g. "
        "--tls-hosts localhost,127.0.0.1,::1");
  }
  return hosts;
}

absl::StatusOr<SelfSignedTls> GenerateSelfSignedTls(
    const SelfSignedTlsOptions& options) {
  if (options.hosts.empty()) {
    return absl::InvalidArgumentError(
        "a server certificate needs at least one host name or address");
  }
  std::string san;
  for (const std::string& host : options.hosts) {
    STRATA_RETURN_IF_ERROR(ValidateHost(host));
    if (!san.empty()) san += ",";
    san += StrCat(IsIpAddress(host) ? "IP:" : "DNS:", host);
  }
  if (options.validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the validity must be positive");
  }

  // The CA: signs the server certificate, then its key is dropped.
  STRATA_ASSIGN_OR_RETURN(PkeyPtr ca_key, NewP256Key());
  STRATA_ASSIGN_OR_RETURN(
      X509Ptr ca,
      NewCertificate(ca_key.get(), "Strata self-signed CA", options));
  if (X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) != 1) {
    return OpenSslFailure("naming the CA's issuer");
  }
  STRATA_RETURN_IF_ERROR(AddExtension(ca.get(), ca.get(), NID_basic_constraints,
                                      "critical,CA:TRUE,pathlen:0"));
  STRATA_RETURN_IF_ERROR(AddExtension(ca.get(), ca.get(), NID_key_usage,
                                      "critical,keyCertSign,cRLSign"));
  STRATA_RETURN_IF_ERROR(
      AddExtension(ca.get(), ca.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(ca.get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpenSslFailure("signing the CA certificate");
  }

  // The server certificate, for every host.
  STRATA_ASSIGN_OR_RETURN(PkeyPtr server_key, NewP256Key());
  STRATA_ASSIGN_OR_RETURN(
      X509Ptr server,
      NewCertificate(server_key.get(), options.hosts.front(), options));
  if (X509_set_issuer_name(server.get(), X509_get_subject_name(ca.get())) !=
      1) {
    return OpenSslFailure("naming the server certificate's issuer");
  }
  STRATA_RETURN_IF_ERROR(AddExtension(
      server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE"));
  STRATA_RETURN_IF_ERROR(AddExtension(server.get(), ca.get(), NID_key_usage,
                                      "critical,digitalSignature"));
  STRATA_RETURN_IF_ERROR(
      AddExtension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth"));
  STRATA_RETURN_IF_ERROR(
      AddExtension(server.get(), ca.get(), NID_subject_alt_name, san));
  STRATA_RETURN_IF_ERROR(AddExtension(
      server.get(), ca.get(), NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(server.get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpenSslFailure("signing the server certificate");
  }
  ca_key.reset();  // the CA key is never kept

  SelfSignedTls out;
  STRATA_ASSIGN_OR_RETURN(out.ca_cert_pem, CertPem(ca.get()));
  STRATA_ASSIGN_OR_RETURN(out.server_cert_pem, CertPem(server.get()));
  STRATA_ASSIGN_OR_RETURN(out.server_key_pem, KeyPem(server_key.get()));
  return out;
}

}  // namespace strata::signing
