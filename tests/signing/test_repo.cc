#include "test_repo.h"

#include <cstdlib>
#include <iostream>

#include "strata/base/strings.h"

namespace strata::signing::testing {
namespace {

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::cerr << "test repo setup failed: " << v.status() << "\n";
    std::abort();
  }
  return *std::move(v);
}

}  // namespace

PrivateKey TestKey(int n) {
  return Must(PrivateKey::FromSeed(std::string(32, static_cast<char>(n))));
}

TestRepo::TestRepo(absl::Time now, absl::Duration lifetime)
    : targets_key(TestKey(10)),
      snapshot_key(TestKey(11)),
      timestamp_key(TestKey(12)),
      director_key(TestKey(13)),
      now_(now),
      lifetime_(lifetime) {
  for (int i = 1; i <= 3; ++i) root_keys.push_back(TestKey(i));
  int seed = 20;
  for (Layer l : kAllLayers) {
    std::vector<PrivateKey>& keys = layer_keys[std::string(LayerName(l))];
    keys.push_back(TestKey(seed++));
    keys.push_back(TestKey(seed++));
  }

  const absl::Time expires = now + lifetime;
  root.common.expires = expires + absl::Hours(24 * 30);
  root.app_id = "wallet";
  for (const PrivateKey& k : root_keys) root.AddKey("root", k.public_key());
  root.roles["root"].threshold = 2;
  root.AddKey("targets", targets_key.public_key());
  root.AddKey("snapshot", snapshot_key.public_key());
  root.AddKey("timestamp", timestamp_key.public_key());
  root.AddKey("director", director_key.public_key());

  targets.common.expires = expires;
  targets.delegations = LayerDelegations({{Layer::kHotpatch, 2},
                                          {Layer::kNative, 2},
                                          {Layer::kConfig, 1},
                                          {Layer::kH5, 1},
                                          {Layer::kHcf, 1}});
  for (auto& [role, keys] : layer_keys) {
    for (const PrivateKey& k : keys) {
      targets.delegations->AddKey(role, k.public_key());
    }
    TargetsMetadata d;
    d.common.expires = expires;
    delegated[role] = d;
  }
  snapshot.common.expires = expires;
  timestamp.common.expires = expires;
  director.common.expires = expires;
  director.app_id = "wallet";
  director.assignments.emplace_back();

  signers["root"] = {&root_keys[0], &root_keys[1]};
  signers["targets"] = {&targets_key};
  signers["snapshot"] = {&snapshot_key};
  signers["timestamp"] = {&timestamp_key};
  signers["director"] = {&director_key};
  for (auto& [role, keys] : layer_keys) {
    signers[role] = {&keys[0], &keys[1]};
  }

  pinned_root_ = PublishRoot();
}

std::string TestRepo::AddArtifact(Layer layer, std::string_view module,
                                  uint64_t release_counter, std::string content,
                                  const Compatibility& compat,
                                  std::string app) {
  ArtifactInfo a;
  a.app_id = std::move(app);
  a.layer = layer;
  a.module = std::string(module);
  a.release_counter = release_counter;
  a.compat = compat;
  if (layer == Layer::kHotpatch && a.compat.host_build.empty()) {
    a.compat.host_build = "10.3.0+100";
  }
  const std::string name = TargetName(layer, module, release_counter);
  delegated[std::string(LayerName(layer))].targets[name] =
      TargetFileFor(content, a);
  contents[name] = std::move(content);
  return name;
}

void TestRepo::Assign(std::string_view target) {
  const std::string role(target.substr(0, target.find('/')));
  const TargetFile& file = delegated.at(role).targets.at(std::string(target));
  director.assignments[0]
      .modules[ModuleKey(file.artifact->layer, file.artifact->module)] =
      DirectorTargetFor(target, file);
}

std::string TestRepo::SignRole(const std::string& role,
                               const Json& signed_part) {
  SignedMetadata m(signed_part);
  for (const PrivateKey* k : signers.at(role)) {
    absl::Status s = m.Sign(*k);
    if (!s.ok()) std::abort();
  }
  if (tamper) tamper(role, m);
  std::string bytes = m.Serialize();
  published_[role] = bytes;
  return bytes;
}

std::string TestRepo::PublishRoot(
    const std::vector<const PrivateKey*>& extra_signers) {
  std::vector<const PrivateKey*> saved = signers["root"];
  for (const PrivateKey* k : extra_signers) signers["root"].push_back(k);
  std::string bytes = SignRole("root", ToJson(root));
  signers["root"] = saved;
  source.Put(strata::StrCat(root.common.version, ".root.json"), bytes);
  return bytes;
}

void TestRepo::Publish() {
  for (auto& [role, meta] : delegated) {
    const std::string bytes = SignRole(role, ToJson(meta));
    source.Put(strata::StrCat(meta.common.version, ".", role, ".json"), bytes);
    snapshot.meta[strata::StrCat(role, ".json")] =
        MetaFileFor(bytes, meta.common.version);
  }
  const std::string targets_bytes = SignRole("targets", ToJson(targets));
  source.Put(strata::StrCat(targets.common.version, ".targets.json"),
             targets_bytes);
  snapshot.meta["targets.json"] =
      MetaFileFor(targets_bytes, targets.common.version);
  const std::string snapshot_bytes = SignRole("snapshot", ToJson(snapshot));
  source.Put(strata::StrCat(snapshot.common.version, ".snapshot.json"),
             snapshot_bytes);
  timestamp.snapshot = MetaFileFor(snapshot_bytes, snapshot.common.version);
  source.Put("timestamp.json", SignRole("timestamp", ToJson(timestamp)));
  source.Put("director.json", SignRole("director", ToJson(director)));
}

void TestRepo::BumpVersions() {
  const absl::Time expires = now_ + lifetime_;
  for (auto& [role, meta] : delegated) {
    ++meta.common.version;
    meta.common.expires = expires;
  }
  ++targets.common.version;
  targets.common.expires = expires;
  ++snapshot.common.version;
  snapshot.common.expires = expires;
  ++timestamp.common.version;
  timestamp.common.expires = expires;
  ++director.common.version;
  director.common.expires = expires;
}

void TestRepo::SetExpiry(absl::Time expires) {
  root.common.expires = expires;
  for (auto& [role, meta] : delegated) meta.common.expires = expires;
  targets.common.expires = expires;
  snapshot.common.expires = expires;
  timestamp.common.expires = expires;
  director.common.expires = expires;
}

DeviceInfo TestRepo::Device() const {
  DeviceInfo d;
  d.app_id = "wallet";
  d.device_id = "device-1";
  d.user_id = "user-1";
  d.app_version = "10.3.0";
  d.host_build = "10.3.0+100";
  d.runtime_version = "3.1";
  d.sdk_version = "1.0.0";
  return d;
}

}  // namespace strata::signing::testing
