// `strata trust rotate root|targets|publisher|online` (and `strata keys
// rotate`, the older name of `trust rotate publisher`).
#ifndef STRATA_ADMIN_CLI_SRC_COMMANDS_TRUST_ROTATE_H_
#define STRATA_ADMIN_CLI_SRC_COMMANDS_TRUST_ROTATE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "strata/admin_cli/cli_context.h"

namespace strata::admin {

struct PublisherRotation {
  std::string dir;  // the key directory
  std::string app;
  std::string key;  // file name stem of the key to replace: publisher-a
  std::string as;   // file name stem of the new key ("": see RotatePublisher)
  std::vector<std::string> layers;  // only these layers ("" = all it signs)
  int days = 365;
};

// Replaces a publisher key: new targets metadata delegating the key's
// layers to a new key, and every layer role re-signed with the keys now
// delegated, installed together with SetTrust.
absl::Status RotatePublisher(const PublisherRotation& r, CliContext& ctx);

// Adds `trust rotate` under `trust`.
void AddTrustRotateCommand(CLI::App& trust, CliContext& ctx);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_SRC_COMMANDS_TRUST_ROTATE_H_
