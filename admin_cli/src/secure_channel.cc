#include "secure_channel.h"

#include <vector>

#include "grpc/grpc.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/support/client_interceptor.h"
#include "strata/base/server_address.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/tls_policy.h"

namespace strata::admin {
namespace {

// Accepts the server only if its leaf certificate is the pinned one.
class PinnedCertificateVerifier
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit PinnedCertificateVerifier(std::string pinned_pem)
      : pinned_pem_(std::move(pinned_pem)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    const grpc::string_ref peer = request->peer_cert();
    absl::Status s = signing::CheckPinnedCertificate(
        std::string_view(peer.data(), peer.size()), pinned_pem_);
    *sync_status = s.ok() ? grpc::Status::OK
                          : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                         std::string(ToStd(s.message())));
    return true;  // synchronous
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }

 private:
  const std::string pinned_pem_;
};

// Rewrites the status of calls that failed in the TLS handshake into what
// to do about it.
class ExplainInterceptor : public grpc::experimental::Interceptor {
 public:
  ExplainInterceptor(const std::string* address,
                     const ChannelSecurity* security)
      : address_(address), security_(security) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_STATUS)) {
      grpc::Status* status = methods->GetRecvStatus();
      if (status != nullptr && status->error_code() == grpc::UNAVAILABLE) {
        *status =
            grpc::Status(status->error_code(),
                         ExplainConnectionFailure(*address_, *security_,
                                                  status->error_message()),
                         status->error_details());
      }
    }
    methods->Proceed();
  }

 private:
  const std::string* address_;
  const ChannelSecurity* security_;
};

class ExplainFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  ExplainFactory(std::string address, ChannelSecurity security)
      : address_(std::move(address)), security_(std::move(security)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new ExplainInterceptor(&address_, &security_);
  }

 private:
  const std::string address_;
  const ChannelSecurity security_;
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const std::string& address, const ChannelSecurity& security) {
  if (!security.invalid.empty()) {
    return absl::InvalidArgumentError(security.invalid);
  }
  if (security.plaintext) {
    if (!security.ca_pem.empty() || !security.server_cert_pem.empty()) {
      return absl::InvalidArgumentError(
          "--plaintext cannot be combined with --ca-file or --server-cert; "
          "choose TLS (drop --plaintext) or plaintext");
    }
    if (!signing::IsLoopbackTarget(address)) {
      return absl::InvalidArgumentError(StrCat(
          "--plaintext is refused for ", address,
          ": plaintext is only for loopback addresses (127.0.0.0/8, ::1, "
          "localhost), anything else would send the token in the clear; "
          "drop --plaintext and pass --ca-file with the CA `stratad init "
          "--tls-self-signed` wrote (<data-dir>/tls/ca.pem) or the CA that "
          "signed stratad's --tls-cert"));
    }
    return grpc::InsecureChannelCredentials();
  }
  if (!security.ca_pem.empty()) {
    STRATA_RETURN_IF_ERROR(
        signing::ParseCertificatesPem(security.ca_pem, security.ca_source)
            .status());
  }
  if (security.server_cert_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = security.ca_pem;  // "": the system's roots
    return grpc::SslCredentials(ssl);
  }
  STRATA_RETURN_IF_ERROR(
      signing::ParseCertificatesPem(security.server_cert_pem,
                                    security.server_cert_source)
          .status());
  grpc::experimental::TlsChannelCredentialsOptions tls;
  if (!security.ca_pem.empty()) {
    // Both: the chain must verify against the CA and the leaf match.
    tls.set_certificate_provider(
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
            security.ca_pem));
    tls.watch_root_certs();
    tls.set_verify_server_certs(true);
  } else {
    // The pin is the trust: the leaf must be exactly that certificate.
    tls.set_verify_server_certs(false);
  }
  tls.set_check_call_host(false);
  tls.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<
          PinnedCertificateVerifier>(security.server_cert_pem));
  return grpc::experimental::TlsCredentials(tls);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewSecureChannel(
    const std::string& address, const ChannelSecurity& security) {
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                          Credentials(address, security));
  if (creds == nullptr) {
    return absl::InternalError("gRPC could not make TLS credentials");
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<ExplainFactory>(address, security));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, creds, grpc::ChannelArguments(), std::move(interceptors));
}

std::shared_ptr<grpc::Channel> NewRefusingChannel(const absl::Status& status) {
  // gRPC's "lame" channel: every call fails at once with this status.
  grpc_init();
  grpc_channel* lame = grpc_lame_client_channel_create(
      "refused", static_cast<grpc_status_code>(status.code()),
      std::string(ToStd(status.message())).c_str());
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannelInternal("", lame, {});
  grpc_shutdown();
  return channel;
}

std::string ExplainConnectionFailure(const std::string& address,
                                     const ChannelSecurity& security,
                                     const std::string& message) {
  const std::string host = signing::TargetHost(address);
  const std::string plaintext_hint =
      signing::IsLoopbackTarget(address)
          ? ", or --plaintext if this loopback server has no TLS"
          : "";
  std::string why;
  switch (signing::ClassifyTlsFailure(message, security.plaintext)) {
    case signing::TlsFailure::kOther: {
      // Not TLS: the server could not be reached at all (or it answered
      // UNAVAILABLE itself, which stays as it is).
      const std::string reason = ConnectFailureReason(message);
      if (reason.empty()) return message;
      return UnreachableMessage(
          address, reason,
          StrCat("is stratad running there? Start it (`stratad --data-dir "
                 "DIR` after `stratad init`), or point --server (or "
                 "STRATA_SERVER) at its gRPC port: host:port, default "
                 "127.0.0.1:",
                 kDefaultServerPort),
          message);
    }
    case signing::TlsFailure::kUntrusted:
      why = security.ca_pem.empty()
                ? StrCat(
                      "the server's certificate is not signed by a CA "
                      "this system trusts (or has expired); pass "
                      "--ca-file with the CA it chains to (<data-dir>/tls/"
                      "ca.pem that `stratad init --tls-self-signed` "
                      "wrote), or --server-cert with the certificate it "
                      "serves",
                      plaintext_hint)
                : StrCat("the server's certificate is not signed by a CA in ",
                         security.ca_source,
                         " (or has expired); pass the CA `stratad init "
                         "--tls-self-signed` wrote (<data-dir>/tls/ca.pem) "
                         "or the CA that signed its --tls-cert",
                         plaintext_hint);
      break;
    case signing::TlsFailure::kWrongName:
      why = StrCat("the server's certificate is not issued for ", host,
                   "; connect with a name or address it lists (`stratad "
                   "init --tls-hosts`), or pin it with --server-cert");
      break;
    case signing::TlsFailure::kNotPinned: {
      // The verifier's own words name both certificates.
      const size_t at = message.find("UNAUTHENTICATED: ");
      return StrCat("TLS handshake with ", host, " failed: ",
                    at == std::string::npos
                        ? std::string("the server's certificate is not the "
                                      "pinned one")
                        : message.substr(at + 17),
                    " in ", security.server_cert_source,
                    "; pass the certificate stratad serves (its --tls-cert, "
                    "or <data-dir>/tls/server.pem)",
                    plaintext_hint);
    }
    case signing::TlsFailure::kServerNotTls:
      why = StrCat(
          "the server does not speak TLS; give stratad a "
          "certificate (`stratad init --tls-self-signed`, or "
          "--tls-cert/--tls-key)",
          plaintext_hint);
      break;
    case signing::TlsFailure::kHandshake:
      why = StrCat(
          "check that the address is stratad's gRPC port and that "
          "--ca-file/--server-cert belong to it",
          plaintext_hint);
      break;
    case signing::TlsFailure::kServerNeedsTls:
      return StrCat(
          host,
          " closed the plaintext connection: the server probably "
          "requires TLS; drop --plaintext and pass --ca-file with its "
          "CA (<data-dir>/tls/ca.pem) (gRPC: ",
          message, ")");
  }
  return StrCat("TLS handshake with ", host, " failed: ", why,
                " (gRPC: ", message, ")");
}

bool IsTlsMismatch(const std::string& message) {
  return message.rfind("TLS handshake with ", 0) == 0 ||
         message.find(" closed the plaintext connection: ") !=
             std::string::npos;
}

}  // namespace strata::admin
