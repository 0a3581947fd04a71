// A self-signed certificate authority and a server certificate it signs,
// for trying stratad over TLS (`stratad init --tls-self-signed`). ECDSA
// P-256 keys, SHA-256 signatures (OpenSSL underneath; no OpenSSL type leaks
// out). The CA's private key is only used to sign the server certificate
// and is not returned: nothing else can ever be signed by that CA.
#ifndef STRATA_SIGNING_SELF_SIGNED_TLS_H_
#define STRATA_SIGNING_SELF_SIGNED_TLS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace strata::signing {

struct SelfSignedTlsOptions {
  // Names and addresses the server certificate is valid for (its
  // subjectAltName entries): IPv4 and IPv6 addresses become IP entries,
  // anything else a DNS name. At least one.
  std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
  // Start of validity (a few minutes earlier, for clock skew) and lifetime
  // of both certificates.
  absl::Time now;
  absl::Duration validity = absl::Hours(24 * 365);
};

struct SelfSignedTls {
  std::string ca_cert_pem;      // what clients trust (--ca-file)
  std::string server_cert_pem;  // the server's certificate, signed by the CA
  std::string server_key_pem;   // its private key (PKCS#8), a secret
};

// kInvalidArgument for an empty host list or a host that is neither an IP
// address nor a DNS name (letters, digits, '-', '.', '*').
absl::StatusOr<SelfSignedTls> GenerateSelfSignedTls(
    const SelfSignedTlsOptions& options);

// Splits "localhost,127.0.0.1,::1" at commas (spaces trimmed, empty items
// dropped) and validates each host as GenerateSelfSignedTls does.
absl::StatusOr<std::vector<std::string>> ParseTlsHosts(std::string_view list);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_SELF_SIGNED_TLS_H_
