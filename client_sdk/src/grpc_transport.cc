#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/support/channel_arguments.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/grpc_status.h"
#include "strata/signing/tls_policy.h"
#include "strata/v1/delivery.grpc.pb.h"
#include "transport.h"

namespace strata::client {
namespace {

constexpr auto kCheckDeadline = std::chrono::seconds(30);
constexpr auto kDownloadDeadline = std::chrono::minutes(10);

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  // A config watch is a long call without a deadline: pings find a peer
  // that vanished without closing the connection. Not more often than
  // gRPC servers accept by default (every 5 minutes while calls are open).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5 * 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  return args;
}

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

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const std::string& address, const TransportSecurity& security) {
  if (security.plaintext) {
    if (!security.ca_pem.empty() || !security.server_cert_pem.empty()) {
      return absl::InvalidArgumentError(
          "ClientOptions.insecure_plaintext_to_loopback_for_tests cannot be "
          "combined with tls_ca_pem or tls_server_cert_pem; choose TLS or "
          "plaintext");
    }
    if (!signing::IsLoopbackTarget(address)) {
      return absl::InvalidArgumentError(StrCat(
          "plaintext gRPC (ClientOptions.insecure_plaintext_to_loopback_for_"
          "tests) is refused for ",
          address,
          ": it is only for loopback addresses (127.0.0.0/8, ::1, localhost) "
          "in tests; use TLS with tls_ca_pem (the CA stratad's certificate "
          "is signed by, e.g. <data-dir>/tls/ca.pem)"));
    }
    return grpc::InsecureChannelCredentials();
  }
  if (!security.ca_pem.empty()) {
    STRATA_RETURN_IF_ERROR(signing::ParseCertificatesPem(
                               security.ca_pem, "ClientOptions.tls_ca_pem")
                               .status());
  }
  if (security.server_cert_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = security.ca_pem;  // "": the system's roots
    return grpc::SslCredentials(ssl);
  }
  STRATA_RETURN_IF_ERROR(
      signing::ParseCertificatesPem(security.server_cert_pem,
                                    "ClientOptions.tls_server_cert_pem")
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

// A failed call as a Status; a TLS failure says what to change.
absl::Status Failure(const grpc::Status& s, const std::string& address,
                     const TransportSecurity& security) {
  if (s.error_code() != grpc::UNAVAILABLE) return FromGrpcStatus(s);
  const std::string host = signing::TargetHost(address);
  std::string why;
  switch (signing::ClassifyTlsFailure(s.error_message(), security.plaintext)) {
    case signing::TlsFailure::kOther:
      return FromGrpcStatus(s);
    case signing::TlsFailure::kUntrusted:
      why = security.ca_pem.empty()
                ? "the server's certificate is not signed by a CA this "
                  "system trusts (or has expired); set "
                  "ClientOptions.tls_ca_pem to the CA that signed it (e.g. "
                  "<data-dir>/tls/ca.pem from `stratad init "
                  "--tls-self-signed`)"
                : "the server's certificate is not signed by the CA in "
                  "ClientOptions.tls_ca_pem (or has expired); embed the CA "
                  "that signed stratad's certificate";
      break;
    case signing::TlsFailure::kWrongName:
      why = StrCat("the server's certificate is not issued for ", host,
                   "; connect with a name or address it lists");
      break;
    case signing::TlsFailure::kNotPinned: {
      const size_t at = s.error_message().find("UNAUTHENTICATED: ");
      why = StrCat(at == std::string::npos
                       ? std::string("the server's certificate is not the "
                                     "pinned one")
                       : s.error_message().substr(at + 17),
                   " (ClientOptions.tls_server_cert_pem)");
      return absl::UnavailableError(
          StrCat("TLS handshake with ", host, " failed: ", why));
    }
    case signing::TlsFailure::kServerNotTls:
      why = "the server does not speak TLS";
      break;
    case signing::TlsFailure::kHandshake:
      why = "check that the address is stratad's gRPC port";
      break;
    case signing::TlsFailure::kServerNeedsTls:
      return absl::UnavailableError(
          StrCat(host,
                 " closed the plaintext connection: the server probably "
                 "requires TLS; unset "
                 "insecure_plaintext_to_loopback_for_tests and set "
                 "tls_ca_pem (gRPC: ",
                 s.error_message(), ")"));
  }
  return absl::UnavailableError(StrCat("TLS handshake with ", host,
                                       " failed: ", why,
                                       " (gRPC: ", s.error_message(), ")"));
}

class GrpcTransport : public Transport {
 public:
  GrpcTransport(const std::string& address, const TransportSecurity& security,
                std::shared_ptr<grpc::ChannelCredentials> credentials)
      : address_(address),
        security_(security),
        stub_(v1::Delivery::NewStub(grpc::CreateCustomChannel(
            address, std::move(credentials), ChannelArgs()))) {}

  absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCheckDeadline);
    v1::CheckResponse response;
    grpc::Status s = stub_->Check(&context, request, &response);
    if (!s.ok()) return Failure(s, address_, security_);
    return response;
  }

  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kDownloadDeadline);
    v1::DownloadRequest request;
    request.set_sha256(sha256);
    request.set_offset(offset);
    auto reader = stub_->Download(&context, request);
    v1::DownloadChunk chunk;
    while (reader->Read(&chunk)) {
      absl::Status s = sink(chunk);
      if (!s.ok()) {
        context.TryCancel();
        (void)reader->Finish();
        return s;
      }
    }
    const grpc::Status finished = reader->Finish();
    if (!finished.ok()) return Failure(finished, address_, security_);
    return absl::OkStatus();
  }

  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCheckDeadline);
    v1::ReportResponse response;
    grpc::Status s = stub_->Report(&context, request, &response);
    if (!s.ok()) return Failure(s, address_, security_);
    return response;
  }

  absl::Status WatchConfig(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event)
      override {
    // No deadline: the stream lives until the server or StopConfigWatch
    // ends it.
    grpc::ClientContext context;
    if (!cancel.Attach([&context] { context.TryCancel(); })) {
      return absl::CancelledError("config watch stopped");
    }
    auto reader = stub_->WatchConfig(&context, request);
    v1::ConfigEvent event;
    absl::Status handled;
    while (reader->Read(&event)) {
      handled = on_event(event);
      if (!handled.ok()) {
        context.TryCancel();
        break;
      }
    }
    const grpc::Status finished = reader->Finish();
    cancel.Detach();
    if (!handled.ok()) return handled;
    if (cancel.cancelled()) {
      return absl::CancelledError("config watch stopped");
    }
    if (!finished.ok()) return Failure(finished, address_, security_);
    return absl::OkStatus();
  }

 private:
  const std::string address_;
  const TransportSecurity security_;
  std::unique_ptr<v1::Delivery::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> NewGrpcTransport(
    const std::string& address, const TransportSecurity& security) {
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                          Credentials(address, security));
  if (creds == nullptr) {
    return absl::InternalError("gRPC could not make TLS credentials");
  }
  return std::unique_ptr<Transport>(
      std::make_unique<GrpcTransport>(address, security, std::move(creds)));
}

}  // namespace strata::client
