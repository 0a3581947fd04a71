#include "strata/signing/tls_policy.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>

#include "openssl_ptr.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace strata::signing {
namespace {

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";

std::string NameLine(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE) < 0) {
    return "?";
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

absl::Time NotAfter(const X509* cert) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) {
    return absl::InfinitePast();
  }
  return absl::FromTM(tm, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::vector<CertificateInfo>> ParseCertificatesPem(
    std::string_view pem, std::string_view what) {
  std::vector<CertificateInfo> out;
  size_t pos = pem.find(kBegin);
  while (pos != std::string_view::npos) {
    const size_t next = pem.find(kBegin, pos + kBegin.size());
    std::string_view block = pem.substr(
        pos, next == std::string_view::npos ? pem.size() - pos : next - pos);
    BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                     : nullptr);
    ERR_clear_error();
    if (!cert) {
      return absl::InvalidArgumentError(
          StrCat(what, ": certificate ", out.size() + 1,
                 " is not a valid PEM X.509 certificate"));
    }
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert.get(), &der);
    if (len <= 0) {
      return absl::InvalidArgumentError(
          StrCat(what, ": certificate ", out.size() + 1, " cannot be encoded"));
    }
    CertificateInfo info;
    info.sha256 = Sha256::HexHash(
        std::string_view(reinterpret_cast<const char*>(der), len));
    OPENSSL_free(der);
    info.subject = NameLine(X509_get_subject_name(cert.get()));
    info.issuer = NameLine(X509_get_issuer_name(cert.get()));
    info.not_after = NotAfter(cert.get());
    out.push_back(std::move(info));
    pos = next;
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        StrCat(what, " holds no PEM certificate (", kBegin, " ...)"));
  }
  return out;
}

absl::Status CheckPinnedCertificate(std::string_view peer_pem,
                                    std::string_view pinned_pem) {
  absl::StatusOr<std::vector<CertificateInfo>> peer =
      ParseCertificatesPem(peer_pem, "the server's certificate");
  if (!peer.ok()) {
    return absl::UnauthenticatedError(peer.status().message());
  }
  absl::StatusOr<std::vector<CertificateInfo>> pinned =
      ParseCertificatesPem(pinned_pem, "the pinned certificate");
  if (!pinned.ok()) {
    return absl::UnauthenticatedError(pinned.status().message());
  }
  if (peer->front().sha256 != pinned->front().sha256) {
    return absl::UnauthenticatedError(
        StrCat("the server presented certificate ", peer->front().subject,
               " (sha256 ", peer->front().sha256.substr(0, 16),
               "...), not the pinned one ", pinned->front().subject,
               " (sha256 ", pinned->front().sha256.substr(0, 16), "...)"));
  }
  return absl::OkStatus();
}

std::string TargetHost(std::string_view target) {
  for (std::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (target.substr(0, scheme.size()) == scheme) {
      target.remove_prefix(scheme.size());
      break;
    }
  }
  if (!target.empty() && target.front() == '[') {
    const size_t close = target.find(']');
    if (close == std::string_view::npos) return "";
    return std::string(target.substr(1, close - 1));
  }
  const size_t colon = target.rfind(':');
  // "::1" without brackets or port: an IPv6 address on its own.
  if (colon != std::string_view::npos && target.find(':') != colon) {
    return std::string(target);
  }
  return std::string(target.substr(0, colon));
}

bool IsLoopbackTarget(std::string_view target) {
  const std::string host = TargetHost(target);
  if (host == "localhost") return true;
  unsigned char v4[4];
  if (inet_pton(AF_INET, host.c_str(), v4) == 1) return v4[0] == 127;
  unsigned char v6[16];
  if (inet_pton(AF_INET6, host.c_str(), v6) == 1) {
    static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                0, 0, 0, 0, 0, 0, 0, 1};
    return std::equal(v6, v6 + 16, kLoopback);
  }
  return false;
}

TlsFailure ClassifyTlsFailure(std::string_view message, bool plaintext) {
  auto has = [message](std::string_view part) {
    return message.find(part) != std::string_view::npos;
  };
  if (plaintext) {
    // A TLS server drops the HTTP/2 preface without a word.
    return has("Socket closed") || has("Connection reset") ||
                   has("connection reset") || has("GOAWAY")
               ? TlsFailure::kServerNeedsTls
               : TlsFailure::kOther;
  }
  if (has("Custom verification check failed")) return TlsFailure::kNotPinned;
  if (has("certificate verify failed")) return TlsFailure::kUntrusted;
  if (has("is not in peer certificate")) return TlsFailure::kWrongName;
  if (has("wrong version number") || has("packet length too long")) {
    return TlsFailure::kServerNotTls;
  }
  if (has("andshake failed") || has("Handshake read failed")) {
    return TlsFailure::kHandshake;
  }
  return TlsFailure::kOther;
}

}  // namespace strata::signing
