// The encoding behind StatementSigningBytes (statement_signing.h) as a
// template over the message type, so the device core, which is built on
// protobuf-lite copies of the same messages (strata.device.v1), signs and
// verifies the very same bytes without linking the full protos.
#ifndef STRATA_PROTO_STATEMENT_SIGNING_BYTES_H_
#define STRATA_PROTO_STATEMENT_SIGNING_BYTES_H_

#include <string>

namespace strata::proto_internal {

inline void SigningField(std::string& out, const std::string& value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ',';
}

// `Statement` is strata.v1.ArtifactStatement or its lite twin.
template <typename Statement>
std::string SigningBytesOf(const Statement& st) {
  std::string out = "strata-statement-v1,";
  SigningField(out, st.app_id());
  SigningField(out, std::to_string(static_cast<int>(st.module().layer())));
  SigningField(out, st.module().name());
  SigningField(out, st.version());
  SigningField(out, st.content_sha256());
  SigningField(out, std::to_string(st.size()));
  const auto& c = st.compatibility();
  SigningField(out, c.min_app_version());
  SigningField(out, c.max_app_version());
  SigningField(out, c.host_build());
  SigningField(out, c.runtime_version());
  SigningField(out, c.min_sdk_version());
  // The delivery policy, when it is not the default (NETWORK_ANY and
  // INSTALL_DEFAULT are 0), so statements signed before it existed keep
  // their bytes.
  const auto& d = st.delivery();
  if (d.on_demand() || d.mandatory() || static_cast<int>(d.network()) != 0 ||
      static_cast<int>(d.install_mode()) != 0) {
    SigningField(out, "delivery");
    SigningField(out, d.on_demand() ? "1" : "0");
    SigningField(out, std::to_string(static_cast<int>(d.network())));
    SigningField(out, std::to_string(static_cast<int>(d.install_mode())));
    SigningField(out, d.mandatory() ? "1" : "0");
  }
  return out;
}

}  // namespace strata::proto_internal

#endif  // STRATA_PROTO_STATEMENT_SIGNING_BYTES_H_
