// Fuzz target: the metadata envelope and every role parser, plus the
// signature-threshold check over whatever keys the input itself declares.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "strata/base/json.h"
#include "strata/signing/director.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"

using namespace strata::signing;  // NOLINT: fuzz target

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SignedMetadata> m = SignedMetadata::Parse(bytes, "fuzz");
  if (!m.ok()) return 0;
  const strata::Json& sp = m->signed_part();
  // Serialization round-trips exactly.
  absl::StatusOr<strata::Json> again = strata::Json::Parse(sp.Dump());
  if (!again.ok() || !(*again == sp)) std::abort();
  absl::StatusOr<RootMetadata> root = ParseRoot(sp);
  if (root.ok()) {
    (void)VerifyThreshold(*m, root->keys, root->roles.at("root"), "root");
    absl::StatusOr<RootMetadata> reparsed = ParseRoot(ToJson(*root));
    if (!reparsed.ok() || !(ToJson(*reparsed) == ToJson(*root))) std::abort();
  }
  (void)ParseTimestamp(sp);
  (void)ParseSnapshot(sp);
  absl::StatusOr<TargetsMetadata> targets = ParseTargets(sp, "fuzz");
  if (targets.ok() && targets->delegations.has_value()) {
    for (const DelegatedRole& r : targets->delegations->roles) {
      (void)VerifyThreshold(*m, targets->delegations->keys,
                            RoleKeys{r.keyids, r.threshold}, r.name);
      for (const std::string& p : r.paths) (void)MatchesPathPattern(p, p);
    }
  }
  absl::StatusOr<DirectorMetadata> director = ParseDirector(sp);
  if (director.ok()) {
    (void)DirectorTargetsFor(*director, "d", "u");
    strata::rollout::DeviceAttributes device;
    device.user_id = "u";
    device.device_id = "d";
    device.os = "android";
    (void)DirectorChoicesFor(*director, device, {{"h5/home", 1}});
    absl::StatusOr<DirectorMetadata> reparsed =
        ParseDirector(ToJson(*director));
    if (!reparsed.ok() || !SameDirectorContent(*reparsed, *director)) {
      std::abort();
    }
  }
  return 0;
}
