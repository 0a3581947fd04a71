#include "strata/server/core/trust_repo.h"

#include <algorithm>
#include <functional>

#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/server/core/validation.h"
#include "strata/signing/signed_metadata.h"
#include "strata/signing/verifier.h"

namespace strata::server {
namespace {

// WithContext() for a StatusOr.
template <typename T>
absl::StatusOr<T> WithContext(absl::StatusOr<T> value,
                              std::string_view context) {
  if (value.ok()) return value;
  return ::strata::Annotate(value.status(), context);
}
absl::Status WithContext(const absl::Status& status, std::string_view context) {
  return ::strata::Annotate(status, context);
}

using signing::Layer;
using signing::RootMetadata;
using signing::SignedMetadata;
using signing::TargetFile;
using signing::TargetsMetadata;

// Whole seconds, as TUF writes times.
absl::Time Truncate(absl::Time t) {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(t));
}

std::string When(absl::Time t) { return signing::FormatTufTime(t); }

std::string ShortId(std::string_view key_id) {
  return std::string(key_id.substr(0, 16));
}

std::string LayerOf(const v1::ModuleId& module) {
  return std::string(signing::LayerName(static_cast<Layer>(module.layer())));
}

std::string Sha256Of(const TargetFile& t) {
  auto it = t.hashes.find("sha256");
  return it == t.hashes.end() ? std::string() : it->second;
}

const signing::DelegatedRole* Delegation(const TargetsMetadata& targets,
                                         std::string_view layer) {
  if (!targets.delegations.has_value()) return nullptr;
  for (const signing::DelegatedRole& r : targets.delegations->roles) {
    if (r.name == layer) return &r;
  }
  return nullptr;
}

// The reason a status carries, for messages ("... : <why>").
std::string Why(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

absl::Status Usable(const TrustView& view, absl::Time now) {
  if (view.root.common.expires <= now) {
    return absl::FailedPreconditionError(
        StrCat("root of trust for app ", view.app_id, " expired at ",
               When(view.root.common.expires),
               "; re-sign it with `strata trust rotate root`"));
  }
  if (view.targets.common.expires <= now) {
    return absl::FailedPreconditionError(
        StrCat("targets metadata for app ", view.app_id, " expired at ",
               When(view.targets.common.expires),
               "; re-sign it with `strata trust resign`"));
  }
  return absl::OkStatus();
}

// Whether `t` is the signed description of `statement`'s content.
bool Describes(const TargetFile& t, const v1::ArtifactStatement& st) {
  return t.artifact.has_value() && t.artifact->app_id == st.app_id() &&
         static_cast<int>(t.artifact->layer) ==
             static_cast<int>(st.module().layer()) &&
         t.artifact->module == st.module().name() &&
         t.artifact->version_label == st.version() &&
         Sha256Of(t) == st.content_sha256() && t.length == st.size();
}

// The layer a role's targets belong to, nullopt when it lists none.
absl::StatusOr<std::optional<std::string>> LayerFromTargets(
    const TargetsMetadata& meta) {
  std::optional<std::string> layer;
  for (const auto& [name, unused] : meta.targets) {
    const std::string first = name.substr(0, name.find('/'));
    if (layer.has_value() && *layer != first) {
      return absl::InvalidArgumentError(
          StrCat("a layer role lists targets of two layers (", *layer, " and ",
                 first, "); sign one role per layer"));
    }
    layer = first;
  }
  return layer;
}

// Signature, expiry, paths and artifact checks of a layer role against the
// delegation of `targets` (not its version).
absl::StatusOr<TrustView::Layer> VerifyLayerRole(const std::string& app_id,
                                                 const TargetsMetadata& targets,
                                                 std::string_view layer,
                                                 std::string_view bytes,
                                                 absl::Time now) {
  const signing::DelegatedRole* d = Delegation(targets, layer);
  if (d == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("targets v", targets.common.version, " of app ", app_id,
               " delegates no ", layer,
               " role; add the layer to targets with `strata trust rotate "
               "targets`"));
  }
  STRATA_ASSIGN_OR_RETURN(SignedMetadata md,
                          WithContext(SignedMetadata::Parse(bytes, layer),
                                      StrCat("the ", layer, " role")));
  STRATA_ASSIGN_OR_RETURN(
      TargetsMetadata meta,
      WithContext(signing::ParseTargets(md.signed_part(), layer),
                  StrCat("the ", layer, " role")));
  if (absl::Status s = signing::VerifyThreshold(
          md, targets.delegations->keys,
          signing::RoleKeys{d->keyids, d->threshold}, layer);
      !s.ok()) {
    return absl::PermissionDeniedError(StrCat(
        "the ", layer, " role v", meta.common.version, " is not signed by ",
        d->threshold, " of the ", d->keyids.size(), " ", layer,
        " publisher keys targets v", targets.common.version,
        " delegates: ", Why(s), "; sign it with the layer's publisher keys"));
  }
  if (meta.common.expires <= now) {
    return absl::InvalidArgumentError(
        StrCat("the ", layer, " role v", meta.common.version, " expired at ",
               When(meta.common.expires), "; sign it with a later expiry"));
  }
  if (meta.delegations.has_value() && !meta.delegations->roles.empty()) {
    return absl::InvalidArgumentError(
        StrCat("the ", layer,
               " role delegates further; layer roles sign "
               "targets only"));
  }
  for (const auto& [name, t] : meta.targets) {
    bool allowed = false;
    for (const std::string& p : d->paths) {
      allowed |= signing::MatchesPathPattern(name, p);
    }
    if (!allowed) {
      return absl::PermissionDeniedError(
          StrCat("the ", layer, " role lists target ", name,
                 " outside its delegated paths; a layer role signs only ",
                 layer, "/<module>@<counter>"));
    }
    if (!t.artifact.has_value()) {
      return absl::InvalidArgumentError(
          StrCat("target ", name, " of the ", layer,
                 " role carries no Strata artifact (custom)"));
    }
    const signing::ArtifactInfo& a = *t.artifact;
    if (a.app_id != app_id || signing::LayerName(a.layer) != layer ||
        signing::TargetName(a.layer, a.module, a.release_counter) != name) {
      return absl::InvalidArgumentError(StrCat(
          "target ", name, " describes ", a.app_id, "/",
          signing::LayerName(a.layer), "/", a.module, "@", a.release_counter,
          "; a target's artifact must match its name and app ", app_id));
    }
    if (Sha256Of(t).size() != 64) {
      return absl::InvalidArgumentError(
          StrCat("target ", name, " has no sha256 hash"));
    }
  }
  return TrustView::Layer{
      SignedFile{meta.common.version, std::string(bytes), meta.common.expires},
      std::move(meta)};
}

// A new role must keep every target a live release uses, unchanged.
absl::Status KeepsTargetsInUse(std::string_view layer,
                               const TrustView::Layer* stored,
                               const TrustView::Layer& next,
                               const std::set<std::string>& in_use) {
  const std::string prefix = StrCat(layer, "/");
  for (const std::string& name : in_use) {
    if (name.rfind(prefix, 0) != 0) continue;
    auto it = next.meta.targets.find(name);
    if (it == next.meta.targets.end()) {
      return absl::FailedPreconditionError(
          StrCat("the new ", layer, " role drops target ", name,
                 ", which a live release uses; keep it until no live release "
                 "needs it"));
    }
    if (stored == nullptr) continue;
    auto before = stored->meta.targets.find(name);
    if (before != stored->meta.targets.end() &&
        (Sha256Of(before->second) != Sha256Of(it->second) ||
         before->second.length != it->second.length)) {
      return absl::FailedPreconditionError(StrCat(
          "the new ", layer, " role changes the content of target ", name,
          ", which a live release uses; a new content needs a "
          "new counter"));
    }
  }
  return absl::OkStatus();
}

// The target describing `statement` with the highest counter, or null.
const std::pair<const std::string, TargetFile>* Newest(
    const TargetsMetadata& meta, const v1::ArtifactStatement& st) {
  const std::pair<const std::string, TargetFile>* best = nullptr;
  for (const auto& entry : meta.targets) {
    if (!Describes(entry.second, st)) continue;
    if (best == nullptr || entry.second.artifact->release_counter >
                               best->second.artifact->release_counter) {
      best = &entry;
    }
  }
  return best;
}

// The highest counter of `module` in `meta` other than `except`.
uint64_t HighestOther(const TargetsMetadata& meta, std::string_view module,
                      std::string_view except) {
  uint64_t out = 0;
  for (const auto& [name, t] : meta.targets) {
    if (name == except || !t.artifact.has_value() ||
        t.artifact->module != module) {
      continue;
    }
    out = std::max(out, t.artifact->release_counter);
  }
  return out;
}

v1::ArtifactStatement PlanStatement(const std::string& app,
                                    const v1::RollbackArtifact& p) {
  v1::ArtifactStatement st;
  st.set_app_id(app);
  *st.mutable_module() = p.module();
  st.set_version(p.version());
  st.set_content_sha256(p.content_sha256());
  st.set_size(p.size());
  return st;
}

absl::StatusOr<absl::Time> ExpiresOf(std::string_view bytes,
                                     std::string_view role) {
  STRATA_ASSIGN_OR_RETURN(SignedMetadata md,
                          SignedMetadata::Parse(bytes, role));
  const Json* e = md.signed_part().Find("expires");
  if (e == nullptr || !e->is_string()) {
    return absl::DataLossError(StrCat("stored ", role, " has no expiry"));
  }
  return signing::ParseTufTime(e->as_string());
}

}  // namespace

// ------------------------------------------------------------------ view

const TargetFile* TrustView::FindTarget(std::string_view name) const {
  const std::string layer(name.substr(0, name.find('/')));
  auto l = layers.find(layer);
  if (l == layers.end()) return nullptr;
  auto t = l->second.meta.targets.find(std::string(name));
  return t == l->second.meta.targets.end() ? nullptr : &t->second;
}

void TrustView::AppendNewerFiles(
    const v1::TrustedVersions& trusted,
    google::protobuf::RepeatedPtrField<v1::MetadataFile>* out) const {
  // A version that differs from the device's, not only a newer one: a
  // device that trusts a version fast-forwarded with a stolen key gets the
  // real file again, and accepts it once a root rotates that key away.
  // With a new root, every online-signed file is sent (rotated keys make
  // the device drop what it trusted under the old ones).
  bool new_root = false;
  for (const auto& [version, file] : root_files) {
    if (version > trusted.root()) {
      *out->Add() = file;
      new_root = true;
    }
  }
  if (new_root || timestamp.version != trusted.timestamp()) {
    *out->Add() = timestamp_metadata;
  }
  if (new_root || snapshot.version != trusted.snapshot()) {
    *out->Add() = snapshot_metadata;
  }
  if (targets_file.version != trusted.targets()) {
    *out->Add() = targets_metadata;
  }
  for (const auto& [name, layer] : layers) {
    auto t = trusted.roles().find(name);
    const uint64_t have = t == trusted.roles().end() ? 0 : t->second;
    if (layer.file.version != have) *out->Add() = layer_metadata.at(name);
  }
  if (director.version != 0 &&
      (new_root || director.version != trusted.director())) {
    *out->Add() = director_metadata;
  }
}

v1::TrustedVersions TrustView::Versions() const {
  v1::TrustedVersions v;
  v.set_root(roots.empty() ? 0 : roots.rbegin()->first);
  v.set_timestamp(timestamp.version);
  v.set_snapshot(snapshot.version);
  v.set_targets(targets_file.version);
  for (const auto& [name, layer] : layers) {
    (*v.mutable_roles())[name] = layer.file.version;
  }
  v.set_director(director.version);
  return v;
}

void TrustView::Finish() {
  auto file = [](std::string name, const std::string& bytes) {
    v1::MetadataFile f;
    f.set_name(std::move(name));
    f.set_content(bytes);
    return f;
  };
  root_files.clear();
  for (const auto& [version, bytes] : roots) {
    root_files.emplace_back(version,
                            file(StrCat(version, ".root.json"), bytes));
  }
  timestamp_metadata = file("timestamp.json", timestamp.bytes);
  snapshot_metadata =
      file(StrCat(snapshot.version, ".snapshot.json"), snapshot.bytes);
  targets_metadata =
      file(StrCat(targets_file.version, ".targets.json"), targets_file.bytes);
  layer_metadata.clear();
  for (const auto& [name, layer] : layers) {
    layer_metadata[name] =
        file(StrCat(layer.file.version, ".", name, ".json"), layer.file.bytes);
  }
  director_metadata = file("director.json", director.bytes);
}

// ------------------------------------------------------------------ repo

TrustRepo::TrustRepo(Store* store, Clock* clock, OnlineKeys* keys,
                     TrustRepoOptions options)
    : store_(store), clock_(clock), keys_(keys), options_(options) {}

std::shared_ptr<const TrustView> TrustRepo::View(
    std::string_view app_id) const {
  MutexLock lock(&view_mu_);
  auto it = views_.find(app_id);
  return it == views_.end() ? nullptr : it->second;
}

std::vector<std::string> TrustRepo::Apps() const {
  MutexLock lock(&view_mu_);
  std::vector<std::string> out;
  for (const auto& [app, unused] : views_) out.push_back(app);
  return out;
}

void TrustRepo::Publish(std::shared_ptr<TrustView> view) {
  view->Finish();
  MutexLock lock(&view_mu_);
  views_[view->app_id] = std::move(view);
}

std::set<std::string> TrustRepo::InUse(std::string_view app_id) const {
  if (!targets_in_use_) return {};
  return targets_in_use_(std::string(app_id));
}

absl::StatusOr<std::shared_ptr<TrustView>> TrustRepo::LoadApp(
    const std::string& app) {
  STRATA_ASSIGN_OR_RETURN(std::vector<TrustFile> files,
                          store_->ListTrustFiles(app));
  auto view = std::make_shared<TrustView>();
  view->app_id = app;
  auto corrupt = [&](const absl::Status& s, std::string_view role) {
    return absl::DataLossError(StrCat(
        "the stored ", role, " metadata of app ", app, " does not parse (",
        Why(s), "); restore the data directory from a backup"));
  };
  for (TrustFile& f : files) {
    if (f.role == "root") {
      view->roots[f.version] = std::move(f.content);
    } else if (f.role == "targets") {
      view->targets_file.version = f.version;
      view->targets_file.bytes = std::move(f.content);
    } else if (f.role == "snapshot" || f.role == "timestamp" ||
               f.role == "director") {
      absl::StatusOr<absl::Time> expires = ExpiresOf(f.content, f.role);
      if (!expires.ok()) return corrupt(expires.status(), f.role);
      SignedFile sf{f.version, std::move(f.content), *expires};
      if (f.role == "snapshot") view->snapshot = std::move(sf);
      if (f.role == "timestamp") view->timestamp = std::move(sf);
      if (f.role == "director") {
        absl::StatusOr<SignedMetadata> md =
            SignedMetadata::Parse(sf.bytes, "director");
        if (!md.ok()) return corrupt(md.status(), "director");
        view->director_signed = md->signed_part();
        view->director = std::move(sf);
      }
    } else {
      absl::StatusOr<SignedMetadata> md =
          SignedMetadata::Parse(f.content, f.role);
      if (!md.ok()) return corrupt(md.status(), f.role);
      absl::StatusOr<TargetsMetadata> meta =
          signing::ParseTargets(md->signed_part(), f.role);
      if (!meta.ok()) return corrupt(meta.status(), f.role);
      view->layers[f.role] = TrustView::Layer{
          SignedFile{f.version, std::move(f.content), meta->common.expires},
          *std::move(meta)};
    }
  }
  if (view->roots.empty() || view->targets_file.bytes.empty()) {
    return absl::DataLossError(
        StrCat("the stored trust of app ", app, " has no root or no targets"));
  }
  {
    absl::StatusOr<SignedMetadata> md =
        SignedMetadata::Parse(view->roots.rbegin()->second, "root");
    if (!md.ok()) return corrupt(md.status(), "root");
    absl::StatusOr<RootMetadata> root = signing::ParseRoot(md->signed_part());
    if (!root.ok()) return corrupt(root.status(), "root");
    view->root = *std::move(root);
  }
  {
    absl::StatusOr<SignedMetadata> md =
        SignedMetadata::Parse(view->targets_file.bytes, "targets");
    if (!md.ok()) return corrupt(md.status(), "targets");
    absl::StatusOr<TargetsMetadata> t =
        signing::ParseTargets(md->signed_part(), "targets");
    if (!t.ok()) return corrupt(t.status(), "targets");
    view->targets = *std::move(t);
    view->targets_file.expires = view->targets.common.expires;
  }
  return view;
}

absl::Status TrustRepo::Load() {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> apps,
                          store_->ListTrustApps());
  const absl::Time now = clock_->Now();
  for (const std::string& app : apps) {
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<TrustView> view, LoadApp(app));
    if (absl::Status s = Usable(*view, now); !s.ok()) {
      STRATA_LOG(Warning) << s.message()
                          << "; until then publishes and releases of app "
                          << app << " are refused";
    }
    for (std::string_view role : kOnlineRoles) {
      const std::vector<std::string>* ids = nullptr;
      if (role == "director") {
        if (view->root.director.has_value()) ids = &view->root.director->keyids;
      } else if (auto r = view->root.roles.find(std::string(role));
                 r != view->root.roles.end()) {
        ids = &r->second.keyids;
      }
      if (ids == nullptr) continue;
      if (keys_ == nullptr || keys_->Find(*ids).empty()) {
        STRATA_LOG(Warning)
            << "app " << app << ": this server holds none of the " << role
            << " keys its root lists; it cannot re-sign " << role
            << " metadata (check --online-keys-dir)";
      }
    }
    Publish(std::move(view));
  }
  if (!apps.empty()) {
    STRATA_LOG(Info) << "loaded the trust repositories of " << apps.size()
                     << " app(s)";
  }
  return absl::OkStatus();
}

absl::Status TrustRepo::CheckUsable(std::string_view app_id) const {
  std::shared_ptr<const TrustView> view = View(app_id);
  if (view == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("app ", app_id,
               " has no root of trust; install one with "
               "`strata trust init`"));
  }
  return Usable(*view, clock_->Now());
}

absl::Status TrustRepo::CheckReleaseTargets(const v1::Release& release) const {
  std::shared_ptr<const TrustView> view = View(release.app_id());
  if (view == nullptr) return absl::OkStatus();
  STRATA_RETURN_IF_ERROR(Usable(*view, clock_->Now()));
  for (const v1::ReleaseArtifact& a : release.artifacts()) {
    const std::string layer = LayerOf(a.module());
    const std::string name =
        signing::TargetName(static_cast<Layer>(a.module().layer()),
                            a.module().name(), a.release_sequence());
    STRATA_ASSIGN_OR_RETURN(
        std::optional<v1::StoredArtifact> stored,
        store_->GetArtifact(release.app_id(), a.module(), a.version()));
    const TargetFile* target = view->FindTarget(name);
    const signing::DelegatedRole* d = Delegation(view->targets, layer);
    auto role = view->layers.find(layer);
    bool ok = target != nullptr && stored.has_value() && d != nullptr &&
              role != view->layers.end() &&
              Sha256Of(*target) == stored->statement().content_sha256();
    if (ok) {
      absl::StatusOr<SignedMetadata> md =
          SignedMetadata::Parse(role->second.file.bytes, layer);
      ok = md.ok() && signing::VerifyThreshold(
                          *md, view->targets.delegations->keys,
                          signing::RoleKeys{d->keyids, d->threshold}, layer)
                          .ok();
    }
    if (!ok) {
      return absl::FailedPreconditionError(
          StrCat("release ", release.release_id(), " uses target ", name,
                 ", which the ", layer,
                 " publishers no longer sign with this "
                 "content; create a new release of a signed version"));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------- online signing

absl::StatusOr<std::string> TrustRepo::SignOnline(
    const TrustView& view, std::string_view role,
    const Json& signed_part) const {
  signing::RoleKeys wanted;
  if (role == "director") {
    if (!view.root.director.has_value()) {
      return absl::FailedPreconditionError(
          StrCat("the root of app ", view.app_id, " names no director keys"));
    }
    wanted = *view.root.director;
  } else {
    auto it = view.root.roles.find(std::string(role));
    if (it == view.root.roles.end()) {
      return absl::FailedPreconditionError(
          StrCat("the root of app ", view.app_id, " names no ", role, " keys"));
    }
    wanted = it->second;
  }
  std::vector<std::shared_ptr<const signing::PrivateKey>> held;
  if (keys_ != nullptr) held = keys_->Find(wanted.keyids);
  if (held.size() < wanted.threshold) {
    return absl::FailedPreconditionError(StrCat(
        "this server holds ", held.size(), " of the ", role, " keys root v",
        view.root.common.version, " of app ", view.app_id, " lists (threshold ",
        wanted.threshold,
        "); put the key files back in the online key directory, or make new "
        "ones with GenerateOnlineKeys and list them in a new root"));
  }
  std::vector<const signing::PrivateKey*> signers;
  for (const auto& k : held) signers.push_back(k.get());
  return signing::SignToBytes(signed_part, signers);
}

absl::Status TrustRepo::ResignSnapshot(TrustView& next, absl::Time now,
                                       std::vector<TrustFile>& files) const {
  signing::SnapshotMetadata snap;
  snap.common.version = next.snapshot.version + 1;
  snap.common.expires = Truncate(now + options_.snapshot_expiry);
  snap.meta["targets.json"] =
      signing::MetaFileFor(next.targets_file.bytes, next.targets_file.version);
  for (const auto& [name, layer] : next.layers) {
    snap.meta[StrCat(name, ".json")] =
        signing::MetaFileFor(layer.file.bytes, layer.file.version);
  }
  STRATA_ASSIGN_OR_RETURN(std::string bytes,
                          SignOnline(next, "snapshot", signing::ToJson(snap)));
  next.snapshot = SignedFile{snap.common.version, bytes, snap.common.expires};
  files.push_back(TrustFile{"snapshot", snap.common.version, std::move(bytes)});
  return absl::OkStatus();
}

absl::Status TrustRepo::ResignTimestamp(TrustView& next, absl::Time now,
                                        std::vector<TrustFile>& files) const {
  signing::TimestampMetadata ts;
  ts.common.version = next.timestamp.version + 1;
  ts.common.expires = Truncate(now + options_.timestamp_expiry);
  ts.snapshot =
      signing::MetaFileFor(next.snapshot.bytes, next.snapshot.version);
  STRATA_ASSIGN_OR_RETURN(std::string bytes,
                          SignOnline(next, "timestamp", signing::ToJson(ts)));
  next.timestamp = SignedFile{ts.common.version, bytes, ts.common.expires};
  files.push_back(TrustFile{"timestamp", ts.common.version, std::move(bytes)});
  return absl::OkStatus();
}

absl::Status TrustRepo::ResignDirector(TrustView& next, Json signed_part,
                                       absl::Time now,
                                       std::vector<TrustFile>& files) const {
  const uint64_t version = next.director.version + 1;
  const absl::Time expires = Truncate(now + options_.director_expiry);
  signed_part["version"] = version;
  signed_part["expires"] = signing::FormatTufTime(expires);
  STRATA_ASSIGN_OR_RETURN(std::string bytes,
                          SignOnline(next, "director", signed_part));
  next.director = SignedFile{version, bytes, expires};
  next.director_signed = std::move(signed_part);
  files.push_back(TrustFile{"director", version, std::move(bytes)});
  return absl::OkStatus();
}

// ------------------------------------------------------------- SetTrust

absl::StatusOr<v1::SetTrustResponse> TrustRepo::SetTrust(
    const v1::SetTrustRequest& req, v1::AuditEntry audit) {
  const std::string& app = req.app_id();
  STRATA_RETURN_IF_ERROR(ValidateName("app id", app));
  const std::set<std::string> in_use = InUse(app);
  ReleasableMutexLock lock(&write_mu_);
  const absl::Time now = clock_->Now();
  std::shared_ptr<const TrustView> base = View(app);
  auto next =
      base ? std::make_shared<TrustView>(*base) : std::make_shared<TrustView>();
  next->app_id = app;
  std::vector<TrustFile> files;
  bool root_changed = false;

  // Root: the next version, signed by the old root's threshold and its own.
  if (!req.root().empty()) {
    STRATA_ASSIGN_OR_RETURN(
        SignedMetadata md,
        WithContext(SignedMetadata::Parse(req.root(), "root"),
                    "root metadata"));
    STRATA_ASSIGN_OR_RETURN(
        RootMetadata root,
        WithContext(signing::ParseRoot(md.signed_part()), "root metadata"));
    for (const char* role : {"root", "targets", "snapshot", "timestamp"}) {
      if (!root.roles.count(role)) {
        return absl::InvalidArgumentError(
            StrCat("root metadata names no ", role,
                   " keys; a root lists root, targets, snapshot and "
                   "timestamp keys (and custom.director)"));
      }
    }
    if (!root.director.has_value() || root.director->keyids.empty()) {
      return absl::InvalidArgumentError(
          "root metadata names no director keys (custom.director); list "
          "the server's director key (GetTrust shows it)");
    }
    if (root.app_id != app) {
      return absl::InvalidArgumentError(StrCat(
          "root metadata is for app '", root.app_id, "' (custom.app), not '",
          app, "'; sign a root with custom.app set to the app it protects"));
    }
    if (!root.consistent_snapshot) {
      return absl::InvalidArgumentError(
          "root metadata must set consistent_snapshot: stratad serves "
          "versioned metadata files only");
    }
    if (absl::Status s = signing::VerifyThreshold(
            md, root.keys, root.roles.at("root"), "root");
        !s.ok()) {
      return WithContext(s, "root metadata is not signed by its own root keys");
    }
    if (base != nullptr) {
      const uint64_t installed = base->root.common.version;
      if (root.common.version != installed + 1) {
        return absl::InvalidArgumentError(
            StrCat("root version ", root.common.version,
                   " does not follow the installed version ", installed,
                   " of app ", app, "; sign version ", installed + 1));
      }
      if (absl::Status s = signing::VerifyThreshold(
              md, base->root.keys, base->root.roles.at("root"), "root");
          !s.ok()) {
        return WithContext(
            s,
            "a new root must also be signed by a threshold of the "
            "current root's keys");
      }
    } else if (root.common.version == 0) {
      return absl::InvalidArgumentError("root version must be at least 1");
    }
    if (root.common.expires <= now) {
      return absl::InvalidArgumentError(
          StrCat("root metadata expired at ", When(root.common.expires),
                 "; sign a new version with a later expiry"));
    }
    std::vector<std::string> missing;
    auto need = [&](std::string_view role, const signing::RoleKeys& keys) {
      for (const std::string& id : keys.keyids) {
        if (keys_ == nullptr || !keys_->Holds(id)) {
          missing.push_back(StrCat(role, " ", ShortId(id)));
        }
      }
    };
    need("snapshot", root.roles.at("snapshot"));
    need("timestamp", root.roles.at("timestamp"));
    need("director", *root.director);
    if (!missing.empty()) {
      std::string list;
      for (const std::string& m : missing) {
        if (!list.empty()) list += ", ";
        list += m;
      }
      return absl::FailedPreconditionError(StrCat(
          "root metadata lists online keys this server does not hold (", list,
          "); list the keys GetTrust shows (`strata trust init` reads them), "
          "or make new ones with GenerateOnlineKeys first"));
    }
    next->roots[root.common.version] = req.root();
    next->root = std::move(root);
    files.push_back(TrustFile{"root", next->root.common.version, req.root()});
    root_changed = true;
  } else if (base == nullptr) {
    return absl::InvalidArgumentError(
        StrCat("app ", app,
               " has no root of trust yet; send root and targets metadata "
               "(`strata trust init`)"));
  }

  // Targets: signed by the (new) root's targets keys, a higher version.
  const signing::RoleKeys& targets_keys = next->root.roles.at("targets");
  if (!req.targets().empty()) {
    STRATA_ASSIGN_OR_RETURN(
        SignedMetadata md,
        WithContext(SignedMetadata::Parse(req.targets(), "targets"),
                    "targets metadata"));
    if (absl::Status s = signing::VerifyThreshold(md, next->root.keys,
                                                  targets_keys, "targets");
        !s.ok()) {
      return WithContext(s,
                         "targets metadata is not signed by the root's targets "
                         "keys");
    }
    STRATA_ASSIGN_OR_RETURN(
        TargetsMetadata targets,
        WithContext(signing::ParseTargets(md.signed_part(), "targets"),
                    "targets metadata"));
    if (base != nullptr &&
        targets.common.version <= base->targets.common.version) {
      return absl::InvalidArgumentError(
          StrCat("targets version ", targets.common.version,
                 " does not replace the installed version ",
                 base->targets.common.version, "; raise the version"));
    }
    if (targets.common.expires <= now) {
      return absl::InvalidArgumentError(
          StrCat("targets metadata expired at ", When(targets.common.expires),
                 "; sign a new version with a later expiry"));
    }
    if (!targets.delegations.has_value() ||
        targets.delegations->roles.empty()) {
      return absl::InvalidArgumentError(
          "targets metadata delegates no layer to publisher keys; nobody could "
          "publish");
    }
    for (const signing::DelegatedRole& r : targets.delegations->roles) {
      if (!signing::ParseLayer(r.name).has_value() || r.paths.size() != 1 ||
          r.paths[0] != StrCat(r.name, "/*") || !r.terminating) {
        return absl::InvalidArgumentError(StrCat(
            "targets delegates role '", r.name,
            "'; delegate one terminating role per layer (config, h5, hcf, "
            "hotpatch, native) with paths [\"<layer>/*\"]"));
      }
      if (r.keyids.empty() || r.threshold == 0 ||
          r.threshold > r.keyids.size()) {
        return absl::InvalidArgumentError(StrCat(
            "targets delegates ", r.name, " to ", r.keyids.size(),
            " keys with threshold ", r.threshold, "; nobody could sign it"));
      }
    }
    next->targets = std::move(targets);
    next->targets_file = SignedFile{next->targets.common.version, req.targets(),
                                    next->targets.common.expires};
    files.push_back(
        TrustFile{"targets", next->targets.common.version, req.targets()});
  } else if (base == nullptr) {
    return absl::InvalidArgumentError(
        "the first root of trust needs targets metadata too");
  } else if (root_changed) {
    absl::StatusOr<SignedMetadata> md =
        SignedMetadata::Parse(next->targets_file.bytes, "targets");
    if (!md.ok() ||
        !signing::VerifyThreshold(*md, next->root.keys, targets_keys, "targets")
             .ok()) {
      return absl::FailedPreconditionError(
          StrCat("the new root's targets keys do not verify the installed "
                 "targets v",
                 next->targets.common.version,
                 "; send targets re-signed with the new targets key in the "
                 "same SetTrust"));
    }
  }

  // Layer roles. A role that lists targets names its layer; an empty one
  // goes to a delegated layer whose keys verify it (any such layer: an
  // empty role says the same for each).
  struct Candidate {
    std::string bytes;
    std::vector<std::pair<std::string, TrustView::Layer>> fits;
  };
  std::map<std::string, TrustView::Layer> incoming;
  std::vector<Candidate> empties;
  auto stored_version = [&](const std::string& layer) -> uint64_t {
    if (base == nullptr) return 0;
    auto stored = base->layers.find(layer);
    return stored == base->layers.end() ? 0 : stored->second.file.version;
  };
  // First install of a layer: any version; then the stored one + 1.
  auto version_ok = [&](const std::string& layer, uint64_t version) {
    const uint64_t v = stored_version(layer);
    return v == 0 ? version >= 1 : version == v + 1;
  };
  for (const std::string& bytes : req.layer_roles()) {
    STRATA_ASSIGN_OR_RETURN(
        SignedMetadata md,
        WithContext(SignedMetadata::Parse(bytes, "layer role"),
                    "a layer role"));
    STRATA_ASSIGN_OR_RETURN(
        TargetsMetadata meta,
        WithContext(signing::ParseTargets(md.signed_part(), "layer role"),
                    "a layer role"));
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> layer,
                            LayerFromTargets(meta));
    if (layer.has_value()) {
      STRATA_ASSIGN_OR_RETURN(
          TrustView::Layer role,
          VerifyLayerRole(app, next->targets, *layer, bytes, now));
      if (!version_ok(*layer, role.file.version)) {
        return absl::AbortedError(
            StrCat("the ", *layer, " role changed since you read it (now v",
                   stored_version(*layer), "); sign version ",
                   stored_version(*layer) + 1));
      }
      if (!incoming.emplace(*layer, std::move(role)).second) {
        return absl::InvalidArgumentError(
            StrCat("two ", *layer, " roles in one SetTrust"));
      }
      continue;
    }
    Candidate c{bytes, {}};
    for (const signing::DelegatedRole& d : next->targets.delegations->roles) {
      absl::StatusOr<TrustView::Layer> role =
          VerifyLayerRole(app, next->targets, d.name, bytes, now);
      if (role.ok() && version_ok(d.name, role->file.version)) {
        c.fits.emplace_back(d.name, *std::move(role));
      }
    }
    empties.push_back(std::move(c));
  }
  // Match the empty roles to distinct layers (at most five: backtracking).
  std::vector<int> choice(empties.size(), -1);
  std::set<std::string> taken;
  for (const auto& [layer, unused] : incoming) taken.insert(layer);
  std::function<bool(size_t)> assign = [&](size_t i) {
    if (i == empties.size()) return true;
    for (size_t k = 0; k < empties[i].fits.size(); ++k) {
      const std::string& layer = empties[i].fits[k].first;
      if (taken.count(layer)) continue;
      taken.insert(layer);
      choice[i] = static_cast<int>(k);
      if (assign(i + 1)) return true;
      taken.erase(layer);
    }
    return false;
  };
  if (!assign(0)) {
    return absl::PermissionDeniedError(
        "an empty layer role is signed by no delegated layer's publisher "
        "threshold (or has the wrong version); sign each layer's role with "
        "that layer's publisher keys, version 1 for a new layer and the "
        "stored version + 1 otherwise");
  }
  for (size_t i = 0; i < empties.size(); ++i) {
    auto& fit = empties[i].fits[static_cast<size_t>(choice[i])];
    incoming.emplace(fit.first, std::move(fit.second));
  }
  for (auto& [layer, role] : incoming) {
    auto stored = next->layers.find(layer);
    STRATA_RETURN_IF_ERROR(KeepsTargetsInUse(
        layer, stored == next->layers.end() ? nullptr : &stored->second, role,
        in_use));
    files.push_back(TrustFile{layer, role.file.version, role.file.bytes});
    next->layers[layer] = std::move(role);
  }
  // Every delegated layer needs a role the current delegation verifies:
  // a device refuses the whole repository otherwise.
  for (const signing::DelegatedRole& d : next->targets.delegations->roles) {
    auto have = next->layers.find(d.name);
    if (have == next->layers.end()) {
      return absl::FailedPreconditionError(StrCat(
          "targets delegates ", d.name, " but no ", d.name,
          " role is installed; send one (empty, version 1, signed by the ",
          d.name, " publisher keys) in layer_roles"));
    }
    if (incoming.count(d.name)) continue;
    absl::StatusOr<SignedMetadata> md =
        SignedMetadata::Parse(have->second.file.bytes, d.name);
    if (!md.ok() || !signing::VerifyThreshold(
                         *md, next->targets.delegations->keys,
                         signing::RoleKeys{d.keyids, d.threshold}, d.name)
                         .ok()) {
      return absl::FailedPreconditionError(StrCat(
          "the installed ", d.name, " role v", have->second.file.version,
          " is not signed by the ", d.name,
          " publisher keys the new targets delegates; send it re-signed by "
          "them (version ",
          have->second.file.version + 1, ") in the same SetTrust"));
    }
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(
        "nothing to install: send root, targets or layer roles");
  }
  STRATA_RETURN_IF_ERROR(ResignSnapshot(*next, now, files));
  STRATA_RETURN_IF_ERROR(ResignTimestamp(*next, now, files));
  if (root_changed && !next->director_signed.is_null()) {
    // A rotated director key signs at once.
    STRATA_RETURN_IF_ERROR(
        ResignDirector(*next, next->director_signed, now, files));
  }
  v1::SetTrustResponse response;
  response.set_root_version(next->root.common.version);
  response.set_targets_version(next->targets.common.version);
  for (const signing::DelegatedRole& r : next->targets.delegations->roles) {
    response.add_layers(
        StrCat(r.name, ": ", r.threshold, " of ", r.keyids.size(), " keys"));
  }
  audit.set_detail(StrCat(audit.detail(),
                          " root_version=", response.root_version(),
                          " targets_version=", response.targets_version(),
                          " snapshot_version=", next->snapshot.version));
  STRATA_RETURN_IF_ERROR(store_->PutTrustFiles(app, files, std::move(audit)));
  Publish(std::move(next));
  lock.Release();  // the listener rebuilds the director, which signs
  if (changed_) changed_(app);
  return response;
}

absl::Status TrustRepo::PutLayerRole(std::string_view app_id,
                                     std::string_view bytes,
                                     v1::AuditEntry audit) {
  const std::string app(app_id);
  const std::set<std::string> in_use = InUse(app);
  {
    MutexLock lock(&write_mu_);
    const absl::Time now = clock_->Now();
    std::shared_ptr<const TrustView> base = View(app);
    if (base == nullptr) {
      return absl::FailedPreconditionError(
          StrCat("app ", app,
                 " has no root of trust; install one with "
                 "`strata trust init`"));
    }
    STRATA_RETURN_IF_ERROR(Usable(*base, now));
    STRATA_ASSIGN_OR_RETURN(
        SignedMetadata md,
        WithContext(SignedMetadata::Parse(bytes, "layer role"),
                    "the layer role"));
    STRATA_ASSIGN_OR_RETURN(
        TargetsMetadata meta,
        WithContext(signing::ParseTargets(md.signed_part(), "layer role"),
                    "the layer role"));
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> named,
                            LayerFromTargets(meta));
    std::vector<std::string> layers;
    if (named.has_value()) {
      layers.push_back(*named);
    } else {
      for (const signing::DelegatedRole& d : base->targets.delegations->roles) {
        auto stored = base->layers.find(d.name);
        const uint64_t v =
            stored == base->layers.end() ? 0 : stored->second.file.version;
        if (meta.common.version == v + 1 &&
            VerifyLayerRole(app, base->targets, d.name, bytes, now).ok()) {
          layers.push_back(d.name);
        }
      }
      if (layers.size() != 1) {
        return absl::InvalidArgumentError(StrCat(
            "an empty layer role fits ", layers.size(),
            " layers (by keys and version); stratad cannot tell which layer "
            "it is for: keep at least one target in it"));
      }
    }
    const std::string& layer = layers[0];
    STRATA_ASSIGN_OR_RETURN(
        TrustView::Layer role,
        VerifyLayerRole(app, base->targets, layer, bytes, now));
    auto stored = base->layers.find(layer);
    const uint64_t v =
        stored == base->layers.end() ? 0 : stored->second.file.version;
    if (role.file.version != v + 1) {
      return absl::AbortedError(
          StrCat("the ", layer, " role changed since you read it (now v", v,
                 "); read it again (GetTrust) and sign version ", v + 1));
    }
    STRATA_RETURN_IF_ERROR(KeepsTargetsInUse(
        layer, stored == base->layers.end() ? nullptr : &stored->second, role,
        in_use));
    auto next = std::make_shared<TrustView>(*base);
    std::vector<TrustFile> files{
        TrustFile{layer, role.file.version, role.file.bytes}};
    next->layers[layer] = std::move(role);
    STRATA_RETURN_IF_ERROR(ResignSnapshot(*next, now, files));
    STRATA_RETURN_IF_ERROR(ResignTimestamp(*next, now, files));
    audit.set_detail(StrCat(audit.detail(), " role=", layer,
                            " version=", next->layers[layer].file.version,
                            " snapshot_version=", next->snapshot.version));
    STRATA_RETURN_IF_ERROR(store_->PutTrustFiles(app, files, std::move(audit)));
    Publish(std::move(next));
  }
  if (changed_) changed_(app);
  return absl::OkStatus();
}

v1::TrustInfo TrustRepo::Info(std::string_view app_id) const {
  v1::TrustInfo info;
  info.set_app_id(std::string(app_id));
  std::shared_ptr<const TrustView> view = View(app_id);
  auto listed = [&](const std::string& role, const std::string& id) {
    if (view == nullptr) return false;
    const signing::RoleKeys* keys = nullptr;
    if (role == "director") {
      if (view->root.director.has_value()) keys = &*view->root.director;
    } else if (auto r = view->root.roles.find(role);
               r != view->root.roles.end()) {
      keys = &r->second;
    }
    return keys != nullptr &&
           std::find(keys->keyids.begin(), keys->keyids.end(), id) !=
               keys->keyids.end();
  };
  if (keys_ != nullptr) {
    for (const OnlineKey& k : keys_->List()) {
      v1::OnlineKey* o = info.add_online_keys();
      o->set_role(k.role);
      o->set_key_id(k.key_id);
      o->set_public_key_pem(k.key->public_key().ToPem());
      o->set_in_use(listed(k.role, k.key_id));
    }
  }
  if (view == nullptr) return info;
  info.set_configured(true);
  info.set_root(view->roots.rbegin()->second);
  info.set_targets(view->targets_file.bytes);
  for (const auto& [name, layer] : view->layers) {
    (*info.mutable_layer_roles())[name] = layer.file.bytes;
  }
  const absl::Time now = clock_->Now();
  auto role = [&](const std::string& name, uint64_t version, absl::Time expires,
                  bool offline) {
    v1::RoleInfo* r = info.add_roles();
    r->set_role(name);
    r->set_version(version);
    r->set_expires_unix(absl::ToUnixSeconds(expires));
    if (!offline || version == 0) return;
    const std::string how =
        name == "root"
            ? std::string("re-sign it with `strata trust rotate root`")
            : std::string("re-sign it with `strata trust resign`");
    if (expires <= now) {
      info.add_warnings(StrCat(name, " expired at ", When(expires), ": ", how));
    } else if (expires - now <= options_.warn_within) {
      info.add_warnings(StrCat(name, " expires in ",
                               absl::ToInt64Hours(expires - now) / 24,
                               " days (", When(expires), "): ", how));
    }
  };
  role("root", view->root.common.version, view->root.common.expires, true);
  role("targets", view->targets.common.version, view->targets.common.expires,
       true);
  for (const auto& [name, layer] : view->layers) {
    role(name, layer.file.version, layer.file.expires, true);
    const signing::DelegatedRole* d = Delegation(view->targets, name);
    if (d == nullptr) continue;
    absl::StatusOr<SignedMetadata> md =
        SignedMetadata::Parse(layer.file.bytes, name);
    if (!md.ok() || !signing::VerifyThreshold(
                         *md, view->targets.delegations->keys,
                         signing::RoleKeys{d->keyids, d->threshold}, name)
                         .ok()) {
      info.add_warnings(StrCat("the ", name, " role v", layer.file.version,
                               " is not signed by the current ", name,
                               " publisher keys: re-sign it (PutLayerRole)"));
    }
  }
  role("snapshot", view->snapshot.version, view->snapshot.expires, false);
  role("timestamp", view->timestamp.version, view->timestamp.expires, false);
  role("director", view->director.version, view->director.expires, false);
  for (std::string_view online : kOnlineRoles) {
    const std::string r(online);
    const signing::RoleKeys* keys = nullptr;
    if (r == "director") {
      if (view->root.director.has_value()) keys = &*view->root.director;
    } else if (auto it = view->root.roles.find(r);
               it != view->root.roles.end()) {
      keys = &it->second;
    }
    if (keys == nullptr) continue;
    for (const std::string& id : keys->keyids) {
      if (keys_ == nullptr || !keys_->Holds(id)) {
        info.add_warnings(StrCat(
            "root v", view->root.common.version, " lists ", r, " key ",
            ShortId(id), " which this server does not hold: it cannot sign ", r,
            " metadata with it"));
      }
    }
  }
  return info;
}

// ------------------------------------------------------------- publishes

absl::StatusOr<TrustView::Layer> TrustRepo::VerifyPublish(
    const TrustView& view, const v1::ArtifactStatement& st,
    std::string_view role_bytes, const std::set<std::string>& in_use) const {
  const absl::Time now = clock_->Now();
  STRATA_RETURN_IF_ERROR(Usable(view, now));
  const std::string layer = LayerOf(st.module());
  if (role_bytes.empty()) {
    return absl::InvalidArgumentError(StrCat(
        "app ", view.app_id, " has a root of trust: a publish must carry the ",
        layer,
        " role re-signed by its publishers with a target for this upload "
        "(`strata publish --key ...` does this)"));
  }
  STRATA_ASSIGN_OR_RETURN(
      TrustView::Layer role,
      VerifyLayerRole(view.app_id, view.targets, layer, role_bytes, now));
  auto stored = view.layers.find(layer);
  const uint64_t v =
      stored == view.layers.end() ? 0 : stored->second.file.version;
  if (role.file.version != v + 1) {
    return absl::AbortedError(StrCat("the ", layer,
                                     " role changed since you read it (now v",
                                     v, "); publish again"));
  }
  int matches = 0;
  const std::pair<const std::string, TargetFile>* found = nullptr;
  for (const auto& entry : role.meta.targets) {
    if (Describes(entry.second, st)) {
      ++matches;
      found = &entry;
    }
  }
  if (matches != 1) {
    return absl::InvalidArgumentError(StrCat(
        "the signed ", layer, " role must list exactly one target for ",
        st.module().name(), " ", st.version(), " (sha256 ", st.content_sha256(),
        ", ", st.size(), " bytes); it lists ", matches));
  }
  const uint64_t counter = found->second.artifact->release_counter;
  const uint64_t other =
      HighestOther(role.meta, st.module().name(), found->first);
  if (counter <= other) {
    return absl::InvalidArgumentError(StrCat(
        "the new target ", found->first,
        " must have the highest "
        "release counter of ",
        st.module().name(), " in the ", layer, " role (another target has ",
        other, "); use counter ", other + 1));
  }
  STRATA_RETURN_IF_ERROR(KeepsTargetsInUse(
      layer, stored == view.layers.end() ? nullptr : &stored->second, role,
      in_use));
  return role;
}

absl::Status TrustRepo::CheckPublish(const v1::ArtifactStatement& statement,
                                     std::string_view role) const {
  std::shared_ptr<const TrustView> view = View(statement.app_id());
  if (view == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("app ", statement.app_id(), " has no root of trust"));
  }
  return VerifyPublish(*view, statement, role, {}).status();
}

absl::Status TrustRepo::CommitPublish(
    const v1::ArtifactStatement& st, std::string_view role_bytes,
    const std::function<absl::Status(const std::vector<TrustFile>&)>& commit) {
  const std::set<std::string> in_use = InUse(st.app_id());
  MutexLock lock(&write_mu_);
  std::shared_ptr<const TrustView> base = View(st.app_id());
  if (base == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("app ", st.app_id(), " has no root of trust"));
  }
  STRATA_ASSIGN_OR_RETURN(TrustView::Layer role,
                          VerifyPublish(*base, st, role_bytes, in_use));
  const std::string layer = LayerOf(st.module());
  auto next = std::make_shared<TrustView>(*base);
  std::vector<TrustFile> files{
      TrustFile{layer, role.file.version, role.file.bytes}};
  next->layers[layer] = std::move(role);
  const absl::Time now = clock_->Now();
  STRATA_RETURN_IF_ERROR(ResignSnapshot(*next, now, files));
  STRATA_RETURN_IF_ERROR(ResignTimestamp(*next, now, files));
  STRATA_RETURN_IF_ERROR(commit(files));
  Publish(std::move(next));
  return absl::OkStatus();
}

// -------------------------------------------------------------- releases

absl::StatusOr<uint64_t> TrustRepo::ReleaseCounter(
    std::string_view app_id, const v1::ModuleId& module,
    std::string_view version, std::string_view content_sha256,
    uint64_t size) const {
  std::shared_ptr<const TrustView> view = View(app_id);
  if (view == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("app ", app_id, " has no root of trust"));
  }
  const absl::Time now = clock_->Now();
  STRATA_RETURN_IF_ERROR(Usable(*view, now));
  const std::string layer = LayerOf(module);
  auto role = view->layers.find(layer);
  const signing::DelegatedRole* d = Delegation(view->targets, layer);
  if (role == view->layers.end() || d == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("app ", app_id, " has no ", layer,
               " role; nothing of that layer is signed by publishers"));
  }
  // Re-checked against the current delegation: a role signed by a revoked
  // publisher key no longer counts.
  absl::StatusOr<SignedMetadata> md =
      SignedMetadata::Parse(role->second.file.bytes, layer);
  if (!md.ok() || !signing::VerifyThreshold(
                       *md, view->targets.delegations->keys,
                       signing::RoleKeys{d->keyids, d->threshold}, layer)
                       .ok()) {
    return absl::FailedPreconditionError(
        StrCat("the ", layer, " role v", role->second.file.version,
               " is not signed by the ", layer, " publisher keys targets v",
               view->targets.common.version,
               " delegates (a key was revoked?); re-sign it with the current "
               "publisher keys (PutLayerRole) and create the release again"));
  }
  if (role->second.file.expires <= now) {
    return absl::FailedPreconditionError(StrCat(
        "the ", layer, " role expired at ", When(role->second.file.expires),
        "; re-sign it with a later expiry (PutLayerRole)"));
  }
  v1::ArtifactStatement st;
  st.set_app_id(std::string(app_id));
  *st.mutable_module() = module;
  st.set_version(std::string(version));
  st.set_content_sha256(std::string(content_sha256));
  st.set_size(size);
  const auto* newest = Newest(role->second.meta, st);
  if (newest == nullptr) {
    return absl::FailedPreconditionError(StrCat(
        "version ", version, " of ", layer, "/", module.name(),
        " has no target signed by the ", layer, " publishers (", layer,
        " role v", role->second.file.version,
        "); publish it with `strata publish --key ...` so its publishers "
        "sign it"));
  }
  return newest->second.artifact->release_counter;
}

absl::Status TrustRepo::CommitRollback(
    std::string_view app_id,
    const google::protobuf::RepeatedPtrField<std::string>& roles,
    std::vector<RollbackTarget>& plan,
    const std::function<absl::Status(const std::vector<TrustFile>&)>& commit) {
  const std::string app(app_id);
  const std::set<std::string> in_use = InUse(app);
  MutexLock lock(&write_mu_);
  std::shared_ptr<const TrustView> base = View(app);
  if (base == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("app ", app, " has no root of trust"));
  }
  const absl::Time now = clock_->Now();
  STRATA_RETURN_IF_ERROR(Usable(*base, now));
  std::map<std::string, TrustView::Layer> incoming;
  for (const std::string& bytes : roles) {
    STRATA_ASSIGN_OR_RETURN(
        SignedMetadata md,
        WithContext(SignedMetadata::Parse(bytes, "layer role"),
                    "a layer role"));
    STRATA_ASSIGN_OR_RETURN(
        TargetsMetadata meta,
        WithContext(signing::ParseTargets(md.signed_part(), "layer role"),
                    "a layer role"));
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> layer,
                            LayerFromTargets(meta));
    if (!layer.has_value()) {
      return absl::InvalidArgumentError(
          "a roll back's layer role lists no targets");
    }
    STRATA_ASSIGN_OR_RETURN(
        TrustView::Layer role,
        VerifyLayerRole(app, base->targets, *layer, bytes, now));
    auto stored = base->layers.find(*layer);
    const uint64_t v =
        stored == base->layers.end() ? 0 : stored->second.file.version;
    if (role.file.version != v + 1) {
      return absl::AbortedError(StrCat("the ", *layer,
                                       " role changed since you read it (now v",
                                       v, "); run the roll back again"));
    }
    if (!incoming.emplace(*layer, std::move(role)).second) {
      return absl::InvalidArgumentError(
          StrCat("two ", *layer, " roles in one roll back"));
    }
  }
  std::set<std::string> used;
  for (RollbackTarget& entry : plan) {
    const std::string layer = LayerOf(entry.plan.module());
    auto role = incoming.find(layer);
    const std::string what = StrCat(layer, "/", entry.plan.module().name(), " ",
                                    entry.plan.version());
    if (role == incoming.end()) {
      return absl::InvalidArgumentError(StrCat(
          "rolling back needs the ", layer,
          " role re-signed with a target for ", what,
          " at a release counter above ", entry.plan.min_release_counter(),
          "; ask for the plan with dry_run first (`strata release rollback` "
          "does both)"));
    }
    used.insert(layer);
    const auto* newest =
        Newest(role->second.meta, PlanStatement(app, entry.plan));
    if (newest == nullptr || newest->second.artifact->release_counter <=
                                 entry.plan.min_release_counter()) {
      return absl::InvalidArgumentError(
          StrCat("the ", layer, " role lists no target for ", what, " (sha256 ",
                 entry.plan.content_sha256(),
                 ") with a release counter "
                 "above ",
                 entry.plan.min_release_counter(),
                 "; add one at the module's highest counter + 1"));
    }
    if (entry.plan.revert_to_embedded()) {
      // Devices must read it as "run the embedded version", not as empty
      // content: the publishers say so in the signed target.
      const Json& custom = newest->second.extra_custom;
      const Json* revert = custom.is_object() ? custom.Find("revert") : nullptr;
      if (revert == nullptr || !revert->is_string() ||
          revert->as_string() != "embedded") {
        return absl::InvalidArgumentError(StrCat(
            "the roll back target ", newest->first, " for ", what,
            " does not carry custom \"revert\": \"embedded\"; a revert "
            "target must say so (`strata release rollback` signs it so)"));
      }
    }
    const uint64_t counter = newest->second.artifact->release_counter;
    if (HighestOther(role->second.meta, entry.plan.module().name(),
                     newest->first) >= counter) {
      return absl::InvalidArgumentError(
          StrCat("the roll back target ", newest->first,
                 " must have the highest release counter of ",
                 entry.plan.module().name(), " in the ", layer, " role"));
    }
    entry.release_counter = counter;
  }
  for (const auto& [layer, unused] : incoming) {
    if (!used.count(layer)) {
      return absl::InvalidArgumentError(
          StrCat("the roll back carries a ", layer,
                 " role but restores nothing of that layer"));
    }
  }
  auto next = std::make_shared<TrustView>(*base);
  std::vector<TrustFile> files;
  for (auto& [layer, role] : incoming) {
    auto stored = next->layers.find(layer);
    STRATA_RETURN_IF_ERROR(KeepsTargetsInUse(
        layer, stored == next->layers.end() ? nullptr : &stored->second, role,
        in_use));
    files.push_back(TrustFile{layer, role.file.version, role.file.bytes});
    next->layers[layer] = std::move(role);
  }
  STRATA_RETURN_IF_ERROR(ResignSnapshot(*next, now, files));
  STRATA_RETURN_IF_ERROR(ResignTimestamp(*next, now, files));
  STRATA_RETURN_IF_ERROR(commit(files));
  Publish(std::move(next));
  return absl::OkStatus();
}

// ---------------------------------------------------------- online roles

absl::Status TrustRepo::Reload(std::string_view app_id) {
  MutexLock lock(&write_mu_);
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> apps,
                          store_->ListTrustApps());
  if (std::find(apps.begin(), apps.end(), app_id) == apps.end()) {
    return absl::OkStatus();
  }
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<TrustView> view,
                          LoadApp(std::string(app_id)));
  Publish(std::move(view));
  return absl::OkStatus();
}

absl::Status TrustRepo::SignDirector(std::string_view app_id,
                                     signing::DirectorMetadata director) {
  MutexLock lock(&write_mu_);
  director.app_id = std::string(app_id);
  // What devices would refuse is refused here, naming the segment.
  STRATA_RETURN_IF_ERROR(signing::CompileDirectorSegments(director));
  const Json signed_part = signing::ToJson(director);
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<const TrustView> base = View(app_id);
    if (base == nullptr || !base->root.director.has_value()) {
      return absl::OkStatus();
    }
    const absl::Time now = clock_->Now();
    if (!base->director_signed.is_null()) {
      // The same selection, still fresh: keep what devices have.
      Json same = signed_part;
      for (const char* field : {"version", "expires"}) {
        if (const Json* f = base->director_signed.Find(field)) same[field] = *f;
      }
      if (same == base->director_signed &&
          base->director.expires - now >= options_.director_expiry / 2) {
        return absl::OkStatus();
      }
    }
    auto next = std::make_shared<TrustView>(*base);
    std::vector<TrustFile> files;
    STRATA_RETURN_IF_ERROR(ResignDirector(*next, signed_part, now, files));
    absl::Status s = store_->PutTrustFiles(app_id, files, std::nullopt);
    if (s.ok()) {
      Publish(std::move(next));
      return absl::OkStatus();
    }
    // Replicas: another one stored this director version first (it saw
    // the same change): adopt what is stored, then compare again.
    if (!absl::IsAborted(s) || attempt == 2) return s;
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<TrustView> stored,
                            LoadApp(std::string(app_id)));
    Publish(std::move(stored));
  }
}

absl::StatusOr<int> TrustRepo::RefreshExpiring() {
  const std::vector<std::string> apps = Apps();
  int changed = 0;
  absl::Status first_error;
  for (const std::string& app : apps) {
    MutexLock lock(&write_mu_);
    std::shared_ptr<const TrustView> base = View(app);
    if (base == nullptr) continue;
    const absl::Time now = clock_->Now();
    auto next = std::make_shared<TrustView>(*base);
    std::vector<TrustFile> files;
    absl::Status s;
    const bool snapshot =
        base->snapshot.expires - now < options_.snapshot_expiry / 2;
    if (snapshot) s.Update(ResignSnapshot(*next, now, files));
    if (s.ok() && (snapshot || base->timestamp.expires - now <
                                   options_.timestamp_expiry / 2)) {
      s.Update(ResignTimestamp(*next, now, files));
    }
    if (s.ok() && !base->director_signed.is_null() &&
        base->director.expires - now < options_.director_expiry / 2) {
      s.Update(ResignDirector(*next, base->director_signed, now, files));
    }
    if (s.ok() && !files.empty()) {
      s.Update(store_->PutTrustFiles(app, files, std::nullopt));
      if (absl::IsAborted(s)) {
        // Replicas: another one re-signed them first; serve its files.
        absl::StatusOr<std::shared_ptr<TrustView>> stored = LoadApp(app);
        if (stored.ok()) {
          Publish(*std::move(stored));
          continue;
        }
        s = stored.status();
      }
    }
    if (!s.ok()) {
      STRATA_LOG(Error) << "re-signing the online metadata of app " << app
                        << ": " << s;
      first_error.Update(s);
      continue;
    }
    if (files.empty()) continue;
    Publish(std::move(next));
    ++changed;
  }
  if (!first_error.ok() && changed == 0) return first_error;
  return changed;
}

// ------------------------------------------------------------------ HTTP

absl::StatusOr<std::optional<std::string>> TrustRepo::File(
    std::string_view app_id, std::string_view name) const {
  std::shared_ptr<const TrustView> view = View(app_id);
  if (view == nullptr) return std::nullopt;
  if (name == "root.json") return view->roots.rbegin()->second;
  if (name == "timestamp.json") return view->timestamp.bytes;
  if (name == "director.json") {
    if (view->director.version == 0) return std::nullopt;
    return view->director.bytes;
  }
  // "<version>.<role>.json"
  constexpr std::string_view kSuffix = ".json";
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19 ||
      name.size() <= dot + 1 + kSuffix.size() ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  uint64_t version = 0;
  for (char c : name.substr(0, dot)) {
    if (c < '0' || c > '9') return std::nullopt;
    version = version * 10 + static_cast<uint64_t>(c - '0');
  }
  const std::string role(
      name.substr(dot + 1, name.size() - dot - 1 - kSuffix.size()));
  if (role == "root") {
    auto it = view->roots.find(version);
    if (it == view->roots.end()) return std::nullopt;
    return it->second;
  }
  if (role == "snapshot" && version == view->snapshot.version) {
    return view->snapshot.bytes;
  }
  if (role == "targets" && version == view->targets_file.version) {
    return view->targets_file.bytes;
  }
  if (role == "snapshot" || role == "targets") {
    return store_->GetTrustFile(app_id, role, version);
  }
  auto layer = view->layers.find(role);
  if (layer != view->layers.end() && layer->second.file.version == version) {
    return layer->second.file.bytes;
  }
  return std::nullopt;
}

}  // namespace strata::server
