// What the release engineer's machine holds for the trust tests: offline
// keys (root, targets, two publishers), stratad's online keys in a temp
// directory, and builders that sign root, targets and layer roles the way
// `strata trust init` and `strata publish` do.
#ifndef STRATA_TESTS_SERVER_TRUST_KIT_H_
#define STRATA_TESTS_SERVER_TRUST_KIT_H_

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/base/env.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/server/core/online_keys.h"
#include "strata/server/core/trust_repo.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/signed_metadata.h"
#include "strata/signing/verifier.h"
#include "strata/v1/admin.pb.h"

namespace strata::testing {

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::cerr << "trust kit: " << v.status() << "\n";
    std::abort();
  }
  return *std::move(v);
}

inline signing::PrivateKey SeedKey(char seed) {
  return Must(signing::PrivateKey::FromSeed(std::string(32, seed)));
}

class TrustKit {
 public:
  // Online keys are read from `online_dir` (and made there first when
  // `generate`).
  TrustKit(Clock* clock, const std::string& online_dir, bool generate = true,
           std::string app = "wallet")
      : clock_(clock), app_(std::move(app)) {
    online_ = Must(server::OnlineKeys::Open(PosixFileSystem(), online_dir));
    if (generate) (void)Must(online_->Generate({}));
  }

  server::OnlineKeys* online() { return online_.get(); }
  const std::string& app() const { return app_; }

  signing::PrivateKey root_key = SeedKey('r'), root2_key = SeedKey('s'),
                      targets_key = SeedKey('t'), targets2_key = SeedKey('u'),
                      pub_a = SeedKey('a'), pub_b = SeedKey('b'),
                      pub_c = SeedKey('c'), stranger = SeedKey('x');
  absl::Duration lifetime = absl::Hours(24 * 365);

  // Root `version` with `root_public` as its root key and the held online
  // keys for snapshot, timestamp and director.
  signing::RootMetadata Root(uint64_t version,
                             const signing::PrivateKey& root_public,
                             const signing::PrivateKey& targets_public) {
    signing::RootMetadata root;
    root.common.version = version;
    root.common.expires = Expires();
    root.app_id = app_;
    root.AddKey("root", root_public.public_key());
    root.AddKey("targets", targets_public.public_key());
    for (const server::OnlineKey& k : online_->List()) {
      root.AddKey(k.role, k.key->public_key());
    }
    return root;
  }
  std::string Sign(const Json& signed_part,
                   std::vector<const signing::PrivateKey*> keys) {
    return Must(signing::SignToBytes(signed_part, keys));
  }
  // Every layer delegated to publishers a and b; hotpatch and native need
  // both.
  signing::TargetsMetadata Targets(uint64_t version) {
    signing::TargetsMetadata t;
    t.common.version = version;
    t.common.expires = Expires();
    t.delegations = signing::LayerDelegations(
        {{signing::Layer::kHotpatch, 2}, {signing::Layer::kNative, 2}});
    for (const signing::DelegatedRole& r :
         std::vector<signing::DelegatedRole>(t.delegations->roles)) {
      t.delegations->AddKey(r.name, pub_a.public_key());
      t.delegations->AddKey(r.name, pub_b.public_key());
    }
    return t;
  }
  std::string EmptyRole(uint64_t version = 1) {
    signing::TargetsMetadata t;
    t.common.version = version;
    t.common.expires = Expires();
    return Sign(signing::ToJson(t), {&pub_a, &pub_b});
  }
  // What `strata trust init` sends.
  v1::SetTrustRequest Init() {
    v1::SetTrustRequest req;
    req.set_app_id(app_);
    req.set_root(
        Sign(signing::ToJson(Root(1, root_key, targets_key)), {&root_key}));
    req.set_targets(Sign(signing::ToJson(Targets(1)), {&targets_key}));
    for (int i = 0; i < 5; ++i) req.add_layer_roles(EmptyRole());
    return req;
  }

  static signing::Layer LayerOf(v1::Layer layer) {
    return static_cast<signing::Layer>(layer);
  }
  // The current layer role as the server holds it (empty when none).
  static signing::TargetsMetadata Current(const server::TrustRepo& repo,
                                          const std::string& app,
                                          signing::Layer layer) {
    std::shared_ptr<const server::TrustView> view = repo.View(app);
    if (view == nullptr) return {};
    auto it = view->layers.find(std::string(signing::LayerName(layer)));
    return it == view->layers.end() ? signing::TargetsMetadata{}
                                    : it->second.meta;
  }
  // The same from GetTrust's answer (what the CLI reads).
  static signing::TargetsMetadata Current(const v1::TrustInfo& info,
                                          signing::Layer layer) {
    auto it = info.layer_roles().find(std::string(signing::LayerName(layer)));
    if (it == info.layer_roles().end()) return {};
    signing::SignedMetadata md =
        Must(signing::SignedMetadata::Parse(it->second, "layer"));
    return Must(signing::ParseTargets(md.signed_part(), "layer"));
  }
  static uint64_t NextCounter(const signing::TargetsMetadata& role,
                              const std::string& module) {
    uint64_t max = 0;
    for (const auto& [name, t] : role.targets) {
      if (t.artifact.has_value() && t.artifact->module == module) {
        max = std::max(max, t.artifact->release_counter);
      }
    }
    return max + 1;
  }
  signing::TargetFile Target(signing::Layer layer, const std::string& module,
                             uint64_t counter, const std::string& version,
                             const std::string& content,
                             const std::string& host_build = "") {
    signing::ArtifactInfo a;
    a.app_id = app_;
    a.layer = layer;
    a.module = module;
    a.release_counter = counter;
    a.version_label = version;
    a.compat.host_build = host_build;
    return signing::TargetFileFor(content, a);
  }
  // `role` with one more version, a fresh expiry, signed by `signers`.
  std::string Resign(signing::TargetsMetadata role,
                     std::vector<const signing::PrivateKey*> signers) {
    role.common.version += 1;
    role.common.expires = Expires();
    return Sign(signing::ToJson(role), signers);
  }

  // What `strata publish --key a --key b` sends: the statement and the
  // layer role (read from `repo`) with a target for `content` at the
  // module's next counter.
  v1::PublishHeader Publish(
      const server::TrustRepo& repo, v1::Layer layer, const std::string& module,
      const std::string& version, const std::string& content,
      std::vector<const signing::PrivateKey*> signers = {}) {
    return PublishOnto(Current(repo, app_, LayerOf(layer)), layer, module,
                       version, content, std::move(signers));
  }
  // The same onto a given current role.
  v1::PublishHeader PublishOnto(
      signing::TargetsMetadata role, v1::Layer layer, const std::string& module,
      const std::string& version, const std::string& content,
      std::vector<const signing::PrivateKey*> signers = {}) {
    if (signers.empty()) signers = {&pub_a, &pub_b};
    v1::PublishHeader h;
    v1::ArtifactStatement* st = h.mutable_statement();
    st->set_app_id(app_);
    st->mutable_module()->set_layer(layer);
    st->mutable_module()->set_name(module);
    st->set_version(version);
    st->set_content_sha256(Sha256::HexHash(content));
    st->set_size(content.size());
    const std::string host = layer == v1::LAYER_HOTPATCH ? "b100" : "";
    st->mutable_compatibility()->set_host_build(host);
    const uint64_t counter = NextCounter(role, module);
    role.targets[signing::TargetName(LayerOf(layer), module, counter)] =
        Target(LayerOf(layer), module, counter, version, content, host);
    h.set_layer_role(Resign(role, signers));
    return h;
  }

  absl::Time Expires() const { return clock_->Now() + lifetime; }

 private:
  Clock* clock_;
  std::string app_;
  std::unique_ptr<server::OnlineKeys> online_;
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_SERVER_TRUST_KIT_H_
