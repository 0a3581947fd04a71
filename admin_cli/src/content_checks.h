// The checks stratad makes of a publish's content (server/core/
// artifact_core.h), made by the CLI first: a bad publish fails before
// anything is signed or uploaded, with the same message.
#ifndef STRATA_ADMIN_CLI_SRC_CONTENT_CHECKS_H_
#define STRATA_ADMIN_CLI_SRC_CONTENT_CHECKS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "strata/base/json.h"
#include "strata/base/json_schema.h"
#include "strata/v1/common.pb.h"

namespace strata::admin {

// `what` names the version ("config/payment.limits@3"). Empty content
// (unless `allow_empty`); CONFIG: a JSON object (fractions allowed) that
// satisfies `schema` when given; other layers: content that is a ustar
// archive must be a well-formed tree with at least one file. Things the
// server accepts but a person should know go to `notes` (a config with
// numbers the SDK's typed getters cannot read).
absl::Status CheckContent(v1::Layer layer, std::string_view what,
                          std::string_view content, bool allow_empty,
                          const JsonSchema* schema,
                          std::vector<std::string>* notes);

// A CONFIG document as the server parses it (RFC 8259, fractions allowed).
absl::StatusOr<Json> ParseConfigDocument(std::string_view what,
                                         std::string_view content);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_SRC_CONTENT_CHECKS_H_
