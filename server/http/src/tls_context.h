// The OpenSSL server context of the HTTP port's TLS, made from the same PEM
// certificate chain and key the gRPC port serves. The only OpenSSL-facing
// code of server/http (h2o takes an SSL_CTX). Internal to server/http.
#ifndef STRATA_SERVER_HTTP_SRC_TLS_CONTEXT_H_
#define STRATA_SERVER_HTTP_SRC_TLS_CONTEXT_H_

#include <string_view>

#include "absl/status/statusor.h"

struct ssl_ctx_st;

namespace strata::server::internal {

// A TLS 1.2+ server context for `cert_chain_pem` and `key_pem`, offering
// HTTP/2 and HTTP/1.1 through ALPN. kInvalidArgument when the PEM does not
// parse or the key does not match the certificate. Free with
// FreeServerTlsContext.
absl::StatusOr<ssl_ctx_st*> NewServerTlsContext(std::string_view cert_chain_pem,
                                                std::string_view key_pem);
void FreeServerTlsContext(ssl_ctx_st* ctx);

}  // namespace strata::server::internal

#endif  // STRATA_SERVER_HTTP_SRC_TLS_CONTEXT_H_
