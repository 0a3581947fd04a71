// What strata-device and strata-fleet share with `strata`: the exit codes,
// how --server is read, and the one message for a server that could not be
// reached.
#ifndef STRATA_CLIENT_SDK_TOOLS_TOOL_SUPPORT_H_
#define STRATA_CLIENT_SDK_TOOLS_TOOL_SUPPORT_H_

#include <string>

#include "absl/status/status.h"
#include "strata/base/exit_codes.h"
#include "strata/base/json.h"
#include "strata/base/server_address.h"
#include "strata/base/strings.h"

namespace strata::tools {

// Exit codes and ExitCodeFor: strata/base/exit_codes.h, the table `strata`
// uses too.

// A failed call's message as the tool prints it: a server that could not
// be reached is worded as `strata` words it; anything else is unchanged.
inline std::string Explain(const absl::Status& status,
                           const std::string& target) {
  const std::string message(ToStd(status.message()));
  if (!absl::IsUnavailable(status)) return message;
  const std::string reason = ConnectFailureReason(message);
  if (reason.empty()) return message;
  return UnreachableMessage(
      target, reason,
      StrCat("is stratad running there? Start it (`stratad --data-dir DIR` "
             "after `stratad init`), or point --server (or STRATA_SERVER) at "
             "its gRPC port: host:port, default 127.0.0.1:",
             kDefaultServerPort),
      message);
}

// The app a pinned root.json belongs to (its signed.custom.app), "" when
// it names none or does not parse (the SDK then says what is wrong).
inline std::string RootApp(const std::string& root_json) {
  absl::StatusOr<Json> root = Json::Parse(root_json);
  if (!root.ok()) return "";
  const Json* signed_part = root->Find("signed");
  const Json* custom =
      signed_part != nullptr ? signed_part->Find("custom") : nullptr;
  const Json* app = custom != nullptr ? custom->Find("app") : nullptr;
  return app != nullptr && app->is_string() ? app->as_string() : "";
}

// kNotFound when --app is not the app whose root of trust --root is: the
// device would be asking for an app nothing of it can verify.
inline absl::Status CheckRootApp(const std::string& root_json,
                                 const std::string& root_file,
                                 const std::string& app) {
  const std::string root_app = RootApp(root_json);
  if (root_app.empty() || root_app == app) return absl::OkStatus();
  return absl::NotFoundError(
      StrCat("--root ", root_file, " is the root of trust of app '", root_app,
             "', not of app '", app, "': check --app (or pin app '", app,
             "'s root.json, from `strata trust init --app ", app, "`)"));
}

}  // namespace strata::tools

#endif  // STRATA_CLIENT_SDK_TOOLS_TOOL_SUPPORT_H_
