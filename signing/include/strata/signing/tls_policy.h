// What Strata's TLS clients (the `strata` CLI, the SDK) accept, without
// gRPC or OpenSSL types: PEM certificates for a CA file or a pinned server
// certificate, and the rule that plaintext is only for loopback addresses.
#ifndef STRATA_SIGNING_TLS_POLICY_H_
#define STRATA_SIGNING_TLS_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace strata::signing {

struct CertificateInfo {
  // Lowercase hex SHA-256 of the DER encoding: equal iff the certificates
  // are byte for byte the same.
  std::string sha256;
  std::string subject;  // one line, e.g. "CN=localhost"
  std::string issuer;
  absl::Time not_after;
};

// Every "-----BEGIN CERTIFICATE-----" block of `pem`, in order.
// kInvalidArgument naming `what` (e.g. "--ca-file ca.pem") when there is
// none or one does not parse.
absl::StatusOr<std::vector<CertificateInfo>> ParseCertificatesPem(
    std::string_view pem, std::string_view what);

// The pin check: OK iff the first certificate of `peer_pem` (the leaf the
// server presented) is the first certificate of `pinned_pem`; otherwise
// kUnauthenticated naming both fingerprints.
absl::Status CheckPinnedCertificate(std::string_view peer_pem,
                                    std::string_view pinned_pem);

// The host part of a gRPC target: "h:port", "[v6]:port", optionally behind
// "dns:///", "ipv4:" or "ipv6:". "" when there is none.
std::string TargetHost(std::string_view target);

// True iff the target's host is loopback: 127.0.0.0/8, ::1 or "localhost".
bool IsLoopbackTarget(std::string_view target);

// Why a connection failed, read from gRPC's error message (gRPC 1.51 with
// OpenSSL; the messages are not an API, so kOther is always possible).
enum class TlsFailure {
  kOther,           // not recognizably about TLS
  kUntrusted,       // the chain does not verify against the trusted CAs
  kWrongName,       // valid chain, but not issued for the host dialled
  kNotPinned,       // not the pinned certificate
  kServerNotTls,    // a TLS client met a server that does not speak TLS
  kHandshake,       // another TLS handshake failure
  kServerNeedsTls,  // a plaintext client was cut off (likely a TLS server)
};
TlsFailure ClassifyTlsFailure(std::string_view grpc_message, bool plaintext);

}  // namespace strata::signing

#endif  // STRATA_SIGNING_TLS_POLICY_H_
