#include "strata/proto/statement_signing.h"

namespace strata {
namespace {

void Field(std::string& out, const std::string& value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ',';
}

}  // namespace

std::string StatementSigningBytes(const v1::ArtifactStatement& st) {
  std::string out = "strata-statement-v1,";
  Field(out, st.app_id());
  Field(out, std::to_string(static_cast<int>(st.module().layer())));
  Field(out, st.module().name());
  Field(out, st.version());
  Field(out, st.content_sha256());
  Field(out, std::to_string(st.size()));
  const v1::Compatibility& c = st.compatibility();
  Field(out, c.min_app_version());
  Field(out, c.max_app_version());
  Field(out, c.host_build());
  Field(out, c.runtime_version());
  Field(out, c.min_sdk_version());
  // The delivery policy, when it is not the default (so statements signed
  // before it existed keep their bytes).
  const v1::DeliveryPolicy& d = st.delivery();
  if (d.on_demand() || d.mandatory() || d.network() != v1::NETWORK_ANY ||
      d.install_mode() != v1::INSTALL_DEFAULT) {
    Field(out, "delivery");
    Field(out, d.on_demand() ? "1" : "0");
    Field(out, std::to_string(static_cast<int>(d.network())));
    Field(out, std::to_string(static_cast<int>(d.install_mode())));
    Field(out, d.mandatory() ? "1" : "0");
  }
  return out;
}

}  // namespace strata
