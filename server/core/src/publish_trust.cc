#include "strata/server/core/publish_trust.h"

#include <algorithm>
#include <set>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/statement_signing.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"

namespace strata::server {

struct PublishTrust::State {
  signing::RootMetadata root;
  signing::TargetsMetadata targets;
};

PublishTrust::PublishTrust(Clock* clock) : clock_(clock) {}
PublishTrust::~PublishTrust() = default;

absl::StatusOr<std::shared_ptr<const PublishTrust::State>> PublishTrust::Parse(
    std::string_view root_bytes, std::string_view targets_bytes,
    const State* previous) const {
  const absl::Time now = clock_->Now();
  auto state = std::make_shared<State>();
  STRATA_ASSIGN_OR_RETURN(signing::SignedMetadata root_md,
                          signing::SignedMetadata::Parse(root_bytes, "root"));
  STRATA_ASSIGN_OR_RETURN(state->root,
                          signing::ParseRoot(root_md.signed_part()));
  auto root_role = state->root.roles.find("root");
  auto targets_role = state->root.roles.find("targets");
  if (root_role == state->root.roles.end() ||
      targets_role == state->root.roles.end()) {
    return absl::InvalidArgumentError(
        "root metadata must name the root and targets roles");
  }
  STRATA_RETURN_IF_ERROR(
      Annotate(signing::VerifyThreshold(root_md, state->root.keys,
                                        root_role->second, "root"),
               "root metadata is not signed by its own root keys"));
  if (state->root.common.expires <= now) {
    return absl::InvalidArgumentError(
        "root metadata has expired; sign a new version");
  }
  if (previous != nullptr) {
    if (state->root.common.version <= previous->root.common.version) {
      return absl::InvalidArgumentError(
          StrCat("root version ", state->root.common.version,
                 " does not replace the installed version ",
                 previous->root.common.version, "; raise the version"));
    }
    STRATA_RETURN_IF_ERROR(Annotate(
        signing::VerifyThreshold(root_md, previous->root.keys,
                                 previous->root.roles.at("root"), "root"),
        "a new root must also be signed by a threshold of the current root's "
        "keys"));
  }
  STRATA_ASSIGN_OR_RETURN(
      signing::SignedMetadata targets_md,
      signing::SignedMetadata::Parse(targets_bytes, "targets"));
  STRATA_RETURN_IF_ERROR(
      Annotate(signing::VerifyThreshold(targets_md, state->root.keys,
                                        targets_role->second, "targets"),
               "targets metadata is not signed by the root's targets keys"));
  STRATA_ASSIGN_OR_RETURN(
      state->targets,
      signing::ParseTargets(targets_md.signed_part(), "targets"));
  if (state->targets.common.expires <= now) {
    return absl::InvalidArgumentError(
        "targets metadata has expired; sign a new version");
  }
  if (!state->targets.delegations.has_value() ||
      state->targets.delegations->roles.empty()) {
    return absl::InvalidArgumentError(
        "targets metadata delegates no layer to publisher keys; nobody could "
        "publish");
  }
  return std::shared_ptr<const State>(std::move(state));
}

absl::StatusOr<v1::SetTrustResponse> PublishTrust::Check(
    std::string_view root, std::string_view targets) const {
  std::shared_ptr<const State> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    previous = state_;
  }
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const State> state,
                          Parse(root, targets, previous.get()));
  v1::SetTrustResponse response;
  response.set_root_version(state->root.common.version);
  response.set_targets_version(state->targets.common.version);
  for (const auto& role : state->targets.delegations->roles) {
    response.add_layers(StrCat(role.name, ": ", role.threshold, " of ",
                               role.keyids.size(), " keys"));
  }
  return response;
}

absl::Status PublishTrust::Install(std::string_view root,
                                   std::string_view targets) {
  // The chain was checked by Check() before the metadata was stored; here
  // (also at start-up) signatures, thresholds and expiry are checked again.
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const State> state,
                          Parse(root, targets, nullptr));
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(state);
  return absl::OkStatus();
}

bool PublishTrust::configured() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ != nullptr;
}

absl::Status PublishTrust::VerifyStatement(
    const v1::ArtifactStatement& statement,
    const google::protobuf::RepeatedPtrField<v1::Signature>& signatures) const {
  std::shared_ptr<const State> state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state = state_;
  }
  if (state == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no root of trust, so no publish can be verified; "
        "install one "
        "with `strata trust init` (or start stratad with "
        "--allow-unsigned-publishes "
        "for development only)");
  }
  if (!state->root.app_id.empty() && state->root.app_id != statement.app_id()) {
    return absl::PermissionDeniedError(StrCat("the root of trust is for app '",
                                              state->root.app_id, "', not '",
                                              statement.app_id(), "'"));
  }
  const std::string layer = std::string(signing::LayerName(
      static_cast<signing::Layer>(statement.module().layer())));
  const signing::DelegatedRole* role = nullptr;
  for (const auto& r : state->targets.delegations->roles) {
    if (r.name == layer) role = &r;
  }
  if (role == nullptr) {
    return absl::PermissionDeniedError(
        StrCat("no publisher keys are delegated for layer ", layer));
  }
  const std::string message = StatementSigningBytes(statement);
  std::set<std::string> counted;
  std::string problems;
  for (const v1::Signature& sig : signatures) {
    const bool delegated = std::find(role->keyids.begin(), role->keyids.end(),
                                     sig.key_id()) != role->keyids.end();
    auto key = state->targets.delegations->keys.find(sig.key_id());
    if (!delegated || key == state->targets.delegations->keys.end()) {
      problems += StrCat(" key ", sig.key_id().substr(0, 12), " is not a ",
                         layer, " publisher key;");
      continue;
    }
    if (counted.count(sig.key_id())) continue;  // one vote per key
    if (!key->second.Verify(message, sig.signature())) {
      problems += StrCat(" the signature of key ", sig.key_id().substr(0, 12),
                         " does not match the statement;");
      continue;
    }
    counted.insert(sig.key_id());
  }
  if (counted.size() < role->threshold) {
    return absl::PermissionDeniedError(
        StrCat("publishing to ", layer, " needs ", role->threshold,
               " valid publisher signature(s), got ", counted.size(), ";",
               problems, " sign with `strata publish --key <publisher key>`"));
  }
  return absl::OkStatus();
}

}  // namespace strata::server
