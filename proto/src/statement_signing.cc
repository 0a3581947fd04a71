#include "strata/proto/statement_signing.h"

#include "strata/proto/statement_signing_bytes.h"

namespace strata {

std::string StatementSigningBytes(const v1::ArtifactStatement& st) {
  return proto_internal::SigningBytesOf(st);
}

}  // namespace strata
