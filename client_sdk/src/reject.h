// A strata.v1.RejectReason carried in an absl::Status payload, so the
// reason that made the SDK refuse something travels with the error to the
// report queue.
#ifndef STRATA_CLIENT_SRC_REJECT_H_
#define STRATA_CLIENT_SRC_REJECT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "strata/signing/reject_reason.h"
#include "strata/v1/common.pb.h"

namespace strata::client {

inline constexpr char kRejectReasonUrl[] = "strata.client/reject_reason";

inline absl::Status WithReason(absl::Status s, v1::RejectReason reason) {
  if (!s.ok()) {
    s.SetPayload(kRejectReasonUrl, absl::Cord(std::to_string(reason)));
  }
  return s;
}

// The SDK's own reason, else the signing library's (numbers 1-29 are the
// same in both enums), else `fallback`.
inline v1::RejectReason ReasonOf(const absl::Status& s,
                                 v1::RejectReason fallback) {
  auto p = s.GetPayload(kRejectReasonUrl);
  if (!p.has_value()) {
    std::optional<signing::RejectReason> r = signing::GetRejectReason(s);
    if (r.has_value() && v1::RejectReason_IsValid(static_cast<int>(*r))) {
      return static_cast<v1::RejectReason>(*r);
    }
    return fallback;
  }
  int n = std::atoi(std::string(*p).c_str());
  return v1::RejectReason_IsValid(n) ? static_cast<v1::RejectReason>(n)
                                     : fallback;
}

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_REJECT_H_
