// The exact bytes a publisher signs for an artifact statement, shared by
// the CLI (which signs) and the server and SDK (which verify).
#ifndef STRATA_PROTO_STATEMENT_SIGNING_H_
#define STRATA_PROTO_STATEMENT_SIGNING_H_

#include <string>

#include "strata/v1/common.pb.h"

namespace strata {

// "strata-statement-v1," then every field, length-prefixed: app, layer
// number, module, version, content_sha256, size, and the compatibility
// fields, then (only when not the default) "delivery" and the delivery
// policy's fields. Any change to any field changes the bytes.
std::string StatementSigningBytes(const v1::ArtifactStatement& statement);

}  // namespace strata

#endif  // STRATA_PROTO_STATEMENT_SIGNING_H_
