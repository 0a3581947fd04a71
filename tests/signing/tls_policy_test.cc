// The self-signed CA and server certificate (`stratad init
// --tls-self-signed`) checked with OpenSSL's own chain verification, and the
// client-side TLS policy: pins and the loopback rule.
#include "strata/signing/tls_policy.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/signing/self_signed_tls.h"

namespace strata::signing {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr ParsePem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

// OpenSSL's verdict on `leaf` against the single trusted `ca` at `when`,
// for TLS server use with host `host` ("" for no host check).
int Verify(X509* leaf, X509* ca, absl::Time when, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(when));
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (!host.empty()) {
    const bool ip =
        host.find_first_not_of("0123456789.:abcdef") == std::string::npos &&
        host.find_first_of("0123456789") != std::string::npos;
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    }
  }
  const int ok = X509_verify_cert(ctx);
  const int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

const absl::Time kNow = absl::FromUnixSeconds(1'750'000'000);

SelfSignedTls Generate(std::vector<std::string> hosts = {"localhost",
                                                         "127.0.0.1", "::1"}) {
  SelfSignedTlsOptions options;
  options.hosts = std::move(hosts);
  options.now = kNow;
  absl::StatusOr<SelfSignedTls> tls = GenerateSelfSignedTls(options);
  EXPECT_THAT(tls, IsOk());
  return tls.ok() ? *tls : SelfSignedTls();
}

TEST(SelfSignedTlsTest, ServerCertificateChainsToTheCaForEveryHost) {
  SelfSignedTls tls = Generate();
  X509Ptr ca = ParsePem(tls.ca_cert_pem);
  X509Ptr leaf = ParsePem(tls.server_cert_pem);
  ASSERT_TRUE(ca && leaf);
  for (const char* host : {"localhost", "127.0.0.1", "::1"}) {
    EXPECT_EQ(Verify(leaf.get(), ca.get(), kNow, host), X509_V_OK) << host;
  }
  EXPECT_NE(Verify(leaf.get(), ca.get(), kNow, "example.com"), X509_V_OK);
  EXPECT_NE(Verify(leaf.get(), ca.get(), kNow, "10.0.0.1"), X509_V_OK);
}

TEST(SelfSignedTlsTest, ValidForOneYear) {
  SelfSignedTls tls = Generate();
  X509Ptr ca = ParsePem(tls.ca_cert_pem);
  X509Ptr leaf = ParsePem(tls.server_cert_pem);
  ASSERT_TRUE(ca && leaf);
  EXPECT_EQ(Verify(leaf.get(), ca.get(), kNow + absl::Hours(24 * 364), ""),
            X509_V_OK);
  EXPECT_EQ(Verify(leaf.get(), ca.get(), kNow + absl::Hours(24 * 366), ""),
            X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(Verify(leaf.get(), ca.get(), kNow - absl::Hours(1), ""),
            X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST(SelfSignedTlsTest, AnotherCaDoesNotVerifyIt) {
  SelfSignedTls a = Generate();
  SelfSignedTls b = Generate();
  X509Ptr other_ca = ParsePem(b.ca_cert_pem);
  X509Ptr leaf = ParsePem(a.server_cert_pem);
  EXPECT_NE(Verify(leaf.get(), other_ca.get(), kNow, "localhost"), X509_V_OK);
}

TEST(SelfSignedTlsTest, KeysAreP256AndTheKeyMatchesTheCertificate) {
  SelfSignedTls tls = Generate();
  BIO* bio = BIO_new_mem_buf(tls.server_key_pem.data(),
                             static_cast<int>(tls.server_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key), 256);
  X509Ptr leaf = ParsePem(tls.server_cert_pem);
  EXPECT_EQ(X509_check_private_key(leaf.get(), key), 1);
  EVP_PKEY_free(key);
  // The CA is a CA, the server certificate is not.
  X509Ptr ca = ParsePem(tls.ca_cert_pem);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
}

TEST(SelfSignedTlsTest, BadHostsAreRefused) {
  SelfSignedTlsOptions options;
  options.now = kNow;
  options.hosts = {};
  EXPECT_THAT(GenerateSelfSignedTls(options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.hosts = {"bad host"};
  EXPECT_THAT(
      GenerateSelfSignedTls(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'bad host'")));
  EXPECT_THAT(ParseTlsHosts(" , "),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ParseTlsHosts("a.example.com,under_score"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("under_score")));
  absl::StatusOr<std::vector<std::string>> hosts =
      ParseTlsHosts("localhost, 127.0.0.1,::1,,strata.example.com");
  ASSERT_THAT(hosts, IsOk());
  EXPECT_THAT(*hosts, ::testing::ElementsAre("localhost", "127.0.0.1", "::1",
                                             "strata.example.com"));
}

TEST(TlsPolicyTest, ParsesEveryCertificateOfABundle) {
  SelfSignedTls a = Generate();
  SelfSignedTls b = Generate();
  auto certs =
      ParseCertificatesPem(a.ca_cert_pem + b.server_cert_pem, "bundle");
  ASSERT_THAT(certs, IsOk());
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_THAT((*certs)[0].subject, HasSubstr("Strata self-signed CA"));
  EXPECT_THAT((*certs)[1].subject, HasSubstr("localhost"));
  EXPECT_EQ((*certs)[0].sha256.size(), 64u);
  EXPECT_EQ((*certs)[0].not_after, kNow + absl::Hours(24 * 365));
}

TEST(TlsPolicyTest, NotACertificateIsInvalidArgumentNamingTheSource) {
  EXPECT_THAT(ParseCertificatesPem("hello", "--ca-file x.pem"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--ca-file x.pem holds no PEM certificate")));
  EXPECT_THAT(ParseCertificatesPem("-----BEGIN CERTIFICATE-----\nAAAA\n"
                                   "-----END CERTIFICATE-----\n",
                                   "--ca-file x.pem"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a valid PEM")));
  // A private key is not a certificate.
  EXPECT_THAT(ParseCertificatesPem(Generate().server_key_pem, "key.pem"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TlsPolicyTest, PinAcceptsOnlyTheSameCertificate) {
  SelfSignedTls a = Generate();
  SelfSignedTls b = Generate();
  EXPECT_THAT(CheckPinnedCertificate(a.server_cert_pem, a.server_cert_pem),
              IsOk());
  // The peer's chain may follow the leaf; only the leaf counts.
  EXPECT_THAT(CheckPinnedCertificate(a.server_cert_pem + a.ca_cert_pem,
                                     a.server_cert_pem),
              IsOk());
  EXPECT_THAT(CheckPinnedCertificate(b.server_cert_pem, a.server_cert_pem),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not the pinned one")));
  // Pinning the CA does not accept the leaf it signed.
  EXPECT_THAT(CheckPinnedCertificate(a.server_cert_pem, a.ca_cert_pem),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(CheckPinnedCertificate("", a.server_cert_pem),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(TlsPolicyTest, LoopbackTargets) {
  for (const char* t :
       {"127.0.0.1:7443", "127.8.9.10:1", "localhost:7443", "[::1]:7443", "::1",
        "localhost", "dns:///localhost:7443", "ipv4:127.0.0.1:7443",
        "ipv6:[::1]:7443"}) {
    EXPECT_TRUE(IsLoopbackTarget(t)) << t;
  }
  for (const char* t :
       {"10.0.0.1:7443", "128.0.0.1:7443", "stratad.example.com:7443",
        "[::2]:7443", "[fe80::1]:7443", "localhost.example.com:7443",
        "0.0.0.0:7443", "unix:/tmp/s", "", "dns://8.8.8.8/localhost:7443"}) {
    EXPECT_FALSE(IsLoopbackTarget(t)) << t;
  }
  EXPECT_EQ(TargetHost("stratad.example.com:7443"), "stratad.example.com");
  EXPECT_EQ(TargetHost("[::1]:7443"), "::1");
}

}  // namespace
}  // namespace strata::signing
