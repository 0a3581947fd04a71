#include "release_rollback.h"

#include <algorithm>
#include <map>

#include "layer_flag.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/metadata.h"

namespace strata::admin {

absl::StatusOr<SignedRollback> SignRollbackRoles(
    const std::string& app, const AppTrust& trust,
    const google::protobuf::RepeatedPtrField<v1::RollbackArtifact>& plan,
    const std::vector<signing::PrivateKey>& keys) {
  SignedRollback out;
  std::map<std::string, signing::TargetsMetadata> roles;
  for (const v1::RollbackArtifact& entry : plan) {
    const std::string layer_name = LayerFlagName(entry.module().layer());
    std::optional<signing::Layer> layer = signing::ParseLayer(layer_name);
    if (!layer.has_value()) {
      return absl::InvalidArgumentError(
          StrCat("the roll back plan names module ", entry.module().name(),
                 " in an unknown layer"));
    }
    auto [it, fresh] = roles.try_emplace(layer_name);
    if (fresh) it->second = trust.Role(layer_name);
    signing::TargetsMetadata& role = it->second;
    signing::ArtifactInfo info;
    info.app_id = app;
    info.layer = *layer;
    info.module = entry.module().name();
    info.version_label = entry.version();
    info.release_counter = std::max(HighestCounter(role, info.module),
                                    entry.min_release_counter()) +
                           1;
    signing::TargetFile file;
    if (entry.revert_to_embedded()) {
      // "Run the embedded version": zero bytes, marked so, and only for
      // SDKs that know the mark (older ones refuse it as incompatible
      // rather than install empty content).
      info.compat.min_sdk_version = std::string(kRevertMinSdkVersion);
      file.extra_custom = Json::MakeObject();
      file.extra_custom["revert"] = "embedded";
    } else {
      // The compatibility the publishers signed for this version before.
      const std::string earlier =
          FindTargetFor(role, info.module, entry.version(),
                        entry.content_sha256(), entry.size());
      if (!earlier.empty())
        info.compat = role.targets.at(earlier).artifact->compat;
    }
    file.length = entry.size();
    file.hashes["sha256"] = entry.content_sha256();
    file.artifact = info;
    const std::string name =
        signing::TargetName(*layer, info.module, info.release_counter);
    role.targets[name] = std::move(file);
    out.targets.push_back(
        entry.revert_to_embedded()
            ? StrCat(name, " (revert to the embedded version)")
            : StrCat(name, " (version ", entry.version(), ")"));
  }
  const absl::Time now = absl::Now();
  for (auto& [layer, role] : roles) {
    STRATA_ASSIGN_OR_RETURN(
        std::vector<const signing::PrivateKey*> signers,
        SigningKeysFor(trust.targets, layer, keys, "--key"));
    STRATA_ASSIGN_OR_RETURN(
        std::string bytes,
        SignNextVersion(std::move(role), now, kDefaultRoleDays, signers));
    out.roles.push_back(std::move(bytes));
  }
  return out;
}

}  // namespace strata::admin
