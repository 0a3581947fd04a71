// Failures and remedies on the device (docs/remedies.md): ReportFailure,
// and applying the `strata.remedies` rules at a launch, a check or a
// config push.
#include "client_impl.h"
#include "strata/proto/failure_signature.h"

namespace strata::client {
namespace {

v1::FailureSignature ToProtoSignature(const FailureSignature& f) {
  v1::FailureSignature s;
  s.set_kind(static_cast<v1::FailureSignature::Kind>(f.kind));
  s.set_exception_type(f.exception_type);
  for (const std::string& frame : f.top_frames) *s.add_top_frames() = frame;
  s.set_host_hash(f.host_hash);
  if (!f.module.empty()) {
    s.mutable_module()->set_layer(static_cast<v1::Layer>(f.layer));
    s.mutable_module()->set_name(f.module);
  }
  s.set_module_version(f.version);
  return s;
}

// Normalised, with its id set.
absl::StatusOr<v1::FailureSignature> Normalised(const FailureSignature& f) {
  v1::FailureSignature s = ToProtoSignature(f);
  if (f.top_frames.size() > static_cast<size_t>(kMaxFailureFrames)) {
    s.mutable_top_frames()->DeleteSubrange(
        kMaxFailureFrames, s.top_frames_size() - kMaxFailureFrames);
  }
  STRATA_RETURN_IF_ERROR(NormalizeFailureSignature(s));
  s.set_signature_id(::strata::FailureSignatureId(s));
  return s;
}

std::string RemedyModuleText(const ModuleKey& key) {
  return StrCat(LayerName(static_cast<Layer>(key.first)), "/", key.second);
}

}  // namespace

absl::StatusOr<std::string> FailureSignatureId(const FailureSignature& f) {
  STRATA_ASSIGN_OR_RETURN(v1::FailureSignature s, Normalised(f));
  return s.signature_id();
}

absl::StatusOr<std::string> Client::ReportFailure(
    const FailureSignature& failure) {
  Impl& d = *impl_;
  FailureSignature f = failure;
  MutexLock lock(&d.mu);
  uint64_t release_id = 0;
  if (!f.module.empty()) {
    const ModuleKey key{static_cast<int>(f.layer), f.module};
    if (std::optional<InstalledModule> a = d.Active(key)) {
      if (f.version.empty()) f.version = a->version;
      if (f.version == a->version) release_id = a->release_id;
    }
  }
  STRATA_ASSIGN_OR_RETURN(v1::FailureSignature sig, Normalised(f));
  // Remembered first (remedies match on it), then reported: a crash in
  // between loses the report, never a report of a state not on disk.
  ClientState next = d.store->state();
  auto& seen = next.seen_signatures;
  if (std::find(seen.begin(), seen.end(), sig.signature_id()) == seen.end()) {
    seen.push_back(sig.signature_id());
    if (seen.size() > kMaxSeenSignatures) seen.erase(seen.begin());
    STRATA_RETURN_IF_ERROR(StorageFullError(d.store->Commit(std::move(next)),
                                            "recording the failure signature"));
  }
  v1::ReportEvent e =
      d.Event(v1::ReportEvent::KIND_FAILURE,
              f.module.empty() ? ModuleKey{0, ""}
                               : ModuleKey{static_cast<int>(f.layer), f.module},
              release_id, v1::REJECT_REASON_UNSPECIFIED, "");
  *e.mutable_failure() = sig;
  d.Queue(std::move(e));
  return sig.signature_id();
}

std::vector<std::string> Client::AppliedRemedies() {
  MutexLock lock(&impl_->mu);
  const auto& applied = impl_->store->state().applied_remedies;
  return {applied.begin(), applied.end()};
}

std::optional<std::string> Client::DisabledBy(Layer layer,
                                              std::string_view name) {
  MutexLock lock(&impl_->mu);
  return impl_->DisabledBy({static_cast<int>(layer), std::string(name)});
}

std::string Client::RemedyRulesError() {
  MutexLock lock(&impl_->mu);
  return impl_->remedy_error;
}

absl::StatusOr<std::string> Client::Impl::DisabledPath(
    const ModuleKey& key, const std::string& remedy) {
  std::optional<ModuleStore::Embedded> e =
      store->FindEmbedded(key.first, key.second);
  if (!e.has_value()) {
    return absl::UnavailableError(
        StrCat("module ", RemedyModuleText(key),
               " is disabled on this device by ", "remedy ", remedy,
               " and the app embeds no version of it; load it from the "
               "network"));
  }
  if (PointOf(key.first) == ActivationPoint::kOpenOrLaunch) {
    STRATA_ASSIGN_OR_RETURN(bool is_tree,
                            TreeStore::IsTreeArchive(*env.fs, e->path));
    if (is_tree) {
      TreeStore trees = Trees();
      STRATA_RETURN_IF_ERROR(trees.Unpack(e->sha256, e->path, std::nullopt));
      return trees.DirOf(e->sha256);
    }
  }
  return e->path;
}

std::vector<std::string> Client::Impl::ApplyRemedies(int unhealthy_launches) {
  std::vector<std::string> applied;
  const ModuleKey doc_key{v1::LAYER_CONFIG, std::string(kRemediesModule)};
  std::optional<InstalledModule> doc = Active(doc_key);
  std::optional<std::string> path = ActivePath(doc_key);
  if (!doc.has_value() || !path.has_value()) {
    remedy_error.clear();
    return applied;
  }
  absl::StatusOr<std::string> text = env.fs->ReadFile(*path);
  absl::StatusOr<std::vector<RemedyRule>> rules =
      text.ok() ? ParseRemedyRules(*text)
                : absl::StatusOr<std::vector<RemedyRule>>(text.status());
  if (!rules.ok()) {
    // Signed and verified, but not rules this SDK can use: nothing is
    // applied (bad input changes nothing); reported once per document.
    remedy_error = StrCat("config/", kRemediesModule, " ", doc->version,
                          " not used: ", ToStd(rules.status().message()));
    STRATA_LOG(Warning) << remedy_error;
    if (reported_bad_remedies.insert(doc->content_sha256).second) {
      Queue(Event(v1::ReportEvent::KIND_APPLY_FAILED, doc_key, doc->release_id,
                  v1::REJECT_APPLY_FAILED, remedy_error));
    }
    return applied;
  }
  remedy_error.clear();
  for (const RemedyRule& rule : *rules) {
    const ClientState& now = store->state();
    if (now.applied_remedies.count(rule.id) > 0) continue;
    if (now.applied_remedies.size() >= kMaxAppliedRemedies) {
      STRATA_LOG(Warning) << "remedy " << rule.id
                          << " not applied: " << kMaxAppliedRemedies
                          << " remedies were applied on this device already";
      break;
    }
    RemedyFacts facts;
    facts.device = &options.device;
    facts.seen_signatures = &now.seen_signatures;
    facts.unhealthy_launches =
        unhealthy_launches >= 0 ? unhealthy_launches : now.unhealthy_launches;
    facts.active_version = [&](const ModuleKey& key) {
      mu.AssertHeld();
      std::optional<InstalledModule> a = Active(key);
      return a.has_value() ? a->version : std::string();
    };
    if (!RemedyMatches(rule, facts)) continue;
    ClientState next = now;
    std::string detail(RemedyActionName(rule.action));
    const std::optional<ModuleKey>& target = rule.target;
    absl::Status hook = absl::OkStatus();
    switch (rule.action) {
      case RemedyAction::kDisableModule:
        next.disabled[*target] = rule.id;
        break;
      case RemedyAction::kRollbackToEmbedded: {
        auto it = next.modules.find(*target);
        if (it != next.modules.end()) {
          ModuleState& m = it->second;
          if (m.active.has_value()) {
            // Like the launch guard's roll back: never installed again.
            m.banned.insert(m.active->sha256);
            detail += StrCat(" (from ", m.active->version, ")");
          }
          m.active.reset();
          m.staged.reset();
          m.good.reset();
          m.pending = false;
        }
        break;
      }
      case RemedyAction::kClearModuleCache:
        if (options.remedy_hooks.clear_module_cache) {
          hook = options.remedy_hooks.clear_module_cache(
              static_cast<Layer>(target->first), target->second);
        } else {
          detail += " (no host hook)";
        }
        break;
      case RemedyAction::kClearAppData:
        if (options.remedy_hooks.clear_app_data) {
          hook = options.remedy_hooks.clear_app_data();
        } else {
          detail += " (no host hook)";
        }
        break;
      case RemedyAction::kBlockUpdate: {
        next.blocked[{*target, rule.target_version}] = rule.id;
        auto it = next.modules.find(*target);
        if (it != next.modules.end() && it->second.staged.has_value() &&
            it->second.staged->version == rule.target_version) {
          it->second.staged.reset();
        }
        break;
      }
      case RemedyAction::kCountOnly:
        break;
    }
    if (!hook.ok()) {
      // Not recorded: tried again at the next launch or push.
      STRATA_LOG(Warning) << "remedy " << rule.id << " (" << detail
                          << "): the host hook failed: " << hook.ToString()
                          << "; trying again at the next launch or push";
      continue;
    }
    // The effect and the record in one atomic write: a crash leaves
    // neither or both, so a rule is never applied twice. (A host hook
    // runs before the write: after a crash in between it runs once more,
    // which clearing a cache allows.)
    next.applied_remedies.insert(rule.id);
    if (absl::Status s = store->Commit(std::move(next)); !s.ok()) {
      STRATA_LOG(Warning) << StorageFullError(
                                 s, StrCat("recording remedy ", rule.id))
                                 .ToString();
      break;
    }
    v1::ReportEvent e = Event(v1::ReportEvent::KIND_REMEDY_APPLIED,
                              target.value_or(ModuleKey{0, ""}), 0,
                              v1::REJECT_REASON_UNSPECIFIED, detail);
    e.set_remedy_id(rule.id);
    if (!rule.signature.empty()) {
      e.mutable_failure()->set_signature_id(rule.signature);
    }
    Queue(std::move(e));
    STRATA_LOG(Info) << "remedy " << rule.id << " applied: " << detail
                     << (target.has_value()
                             ? StrCat(" ", RemedyModuleText(*target))
                             : std::string());
    applied.push_back(rule.id);
  }
  return applied;
}

}  // namespace strata::client
