#include "strata/server/core/release_snapshot.h"

#include <algorithm>
#include <set>

#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/server/core/release_model.h"
#include "strata/server/core/validation.h"
#include "strata/signing/verifier.h"

namespace strata::server {

v1::ArtifactStatement RevertStatement(const std::string& app_id,
                                      const v1::ReleaseArtifact& a) {
  v1::ArtifactStatement st;
  st.set_app_id(app_id);
  *st.mutable_module() = a.module();
  st.set_version(std::string(kEmbeddedVersionLabel));
  st.set_content_sha256(Sha256::HexHash(""));
  st.set_size(0);
  return st;
}

InstalledMap IndexInstalled(
    const google::protobuf::RepeatedPtrField<v1::InstalledModule>& installed) {
  InstalledMap out;
  for (const v1::InstalledModule& m : installed) {
    out[{m.module().layer(), m.module().name()}] = &m;
  }
  return out;
}

bool HasRelease(const LiveRelease& release, const InstalledMap& installed) {
  for (const v1::UpdateEntry& e : release.entries) {
    auto it = installed.find({e.module().layer(), e.module().name()});
    if (it != installed.end() &&
        it->second->release_sequence() == e.release_sequence() &&
        it->second->content_sha256() == e.statement().content_sha256()) {
      return true;
    }
  }
  return false;
}

Selection Select(const AppSnapshot& snapshot,
                 const rollout::DeviceAttributes& device,
                 const InstalledMap& installed) {
  Selection out;
  std::set<std::pair<int, std::string>> chosen;
  out.offers.reserve(snapshot.releases.size());
  for (const LiveRelease& r : snapshot.releases) {
    rollout::Offer offer;
    if (r.everyone) {
      offer.applies = true;
      offer.cohort = rollout::Cohort::kTreatment;
      offer.match = rollout::SegmentMatch::kMatched;
    } else {
      offer = rollout::DecideOffer(r.rollout, *r.segment, r.salt, device,
                                   HasRelease(r, installed));
    }
    out.offers.emplace_back(&r, offer);
    if (!offer.applies) continue;
    for (const v1::UpdateEntry& e : r.entries) {
      if (chosen.insert({e.module().layer(), e.module().name()}).second) {
        out.entries.emplace_back(&e, &r);
      }
    }
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const AppSnapshot>> ReleaseSnapshots::Get(
    const std::string& app_id) {
  uint64_t generation;
  {
    MutexLock lock(&mu_);
    auto it = apps_.find(app_id);
    if (it != apps_.end()) return it->second;
    generation = generation_;
  }
  if (!AppExists(app_id)) {
    static const auto* const kEmpty = new std::shared_ptr<const AppSnapshot>(
        std::make_shared<const AppSnapshot>());
    return *kEmpty;
  }
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const AppSnapshot> built,
                          Build(app_id));
  MutexLock lock(&mu_);
  // Keep it only if no invalidation raced with the build.
  if (generation == generation_) apps_[app_id] = built;
  return built;
}

bool ReleaseSnapshots::AppExists(const std::string& app_id) {
  {
    MutexLock lock(&mu_);
    if (known_.count(app_id) > 0) return true;
  }
  // A store error answers "exists" (not remembered): the caller's next
  // read reports it rather than this answering "nothing here".
  absl::StatusOr<bool> known = AppIsKnown(*store_, trust_, app_id);
  if (!known.ok()) return true;
  return *known ? Remember(app_id) : false;
}

bool ReleaseSnapshots::Remember(const std::string& app_id) {
  MutexLock lock(&mu_);
  known_.insert(app_id);
  return true;
}

size_t ReleaseSnapshots::cached() const {
  MutexLock lock(&mu_);
  return apps_.size();
}

size_t ReleaseSnapshots::known() const {
  MutexLock lock(&mu_);
  return known_.size();
}

void ReleaseSnapshots::Invalidate(const std::string& app_id) {
  MutexLock lock(&mu_);
  apps_.erase(app_id);
  ++generation_;
}

absl::StatusOr<v1::UpdateEntry> ReleaseSnapshots::MakeEntry(
    const v1::Release& release, const v1::ReleaseArtifact& a,
    const TrustView* trust) {
  std::optional<v1::StoredArtifact> artifact;
  if (a.revert_to_embedded()) {
    // "Run the embedded version": no content of its own.
    artifact.emplace();
    *artifact->mutable_statement() = RevertStatement(release.app_id(), a);
  } else {
    STRATA_ASSIGN_OR_RETURN(
        artifact,
        store_->GetArtifact(release.app_id(), a.module(), a.version()));
  }
  if (!artifact.has_value()) {
    return absl::DataLossError(StrCat("release ", release.release_id(),
                                      " names missing artifact version ",
                                      a.version(), " of ", a.module().name()));
  }
  v1::ArtifactStatement st = artifact->statement();
  v1::UpdateEntry entry;
  *entry.mutable_module() = a.module();
  entry.set_release_id(release.release_id());
  entry.set_release_sequence(a.release_sequence());
  entry.set_revert_to_embedded(a.revert_to_embedded());
  if (trust != nullptr) {
    // The facts the device verifies: those of the publisher-signed target.
    const std::string name =
        signing::TargetName(static_cast<signing::Layer>(a.module().layer()),
                            a.module().name(), a.release_sequence());
    const signing::TargetFile* target = trust->FindTarget(name);
    if (target == nullptr || !target->artifact.has_value()) {
      STRATA_LOG(Error) << "release " << release.release_id() << " of app "
                        << release.app_id() << " uses target " << name
                        << ", which no publisher role lists; devices will "
                           "refuse it";
    } else {
      const signing::ArtifactInfo& info = *target->artifact;
      auto sha = target->hashes.find("sha256");
      st.set_version(info.version_label);
      st.set_content_sha256(sha == target->hashes.end() ? "" : sha->second);
      st.set_size(target->length);
      v1::Compatibility* c = st.mutable_compatibility();
      c->Clear();
      c->set_min_app_version(info.compat.app_version.min);
      c->set_max_app_version(info.compat.app_version.max);
      c->set_host_build(info.compat.host_build);
      c->set_runtime_version(info.compat.runtime_version.min);
      c->set_min_sdk_version(info.compat.min_sdk_version);
    }
  } else {
    *entry.mutable_signatures() = artifact->signatures();
  }
  *entry.mutable_statement() = st;
  entry.mutable_full()->set_sha256(st.content_sha256());
  entry.mutable_full()->set_size(st.size());
  if (a.module().layer() == v1::LAYER_CONFIG && !a.revert_to_embedded() &&
      st.size() <= max_inline_bytes_) {
    STRATA_ASSIGN_OR_RETURN(
        std::string content,
        store_->ReadBlob(st.content_sha256(), 0, st.size()));
    entry.set_inline_content(std::move(content));
  }
  return entry;
}

absl::Status ReleaseSnapshots::SignDirector(
    const std::string& app_id, const AppSnapshot& snapshot,
    const TrustView& trust, const std::vector<v1::Segment>& segments) {
  signing::DirectorMetadata director;
  director.app_id = app_id;
  for (const LiveRelease& live : snapshot.releases) {
    const std::string segment =
        live.record.segment().empty() ? "everyone" : live.record.segment();
    if (!director.segments.count(segment)) {
      signing::DirectorSegment& s = director.segments[segment];
      s.expression = "true";
      for (const v1::Segment& stored : segments) {
        if (stored.name() != segment) continue;
        s.expression = stored.expression();
        s.allow_user_ids.assign(stored.allow_user_ids().begin(),
                                stored.allow_user_ids().end());
        s.deny_user_ids.assign(stored.deny_user_ids().begin(),
                               stored.deny_user_ids().end());
      }
    }
    signing::DirectorAssignment assignment;
    assignment.release = signing::DirectorRelease{
        rollout::RuleOf(live.rollout), segment, live.salt, live.everyone};
    for (const v1::UpdateEntry& e : live.entries) {
      const auto layer = static_cast<signing::Layer>(e.module().layer());
      const std::string name =
          signing::TargetName(layer, e.module().name(), e.release_sequence());
      const signing::TargetFile* target = trust.FindTarget(name);
      if (target == nullptr) continue;  // logged by MakeEntry
      assignment.modules[signing::ModuleKey(layer, e.module().name())] =
          signing::DirectorTargetFor(name, *target);
    }
    director.assignments.push_back(std::move(assignment));
  }
  return Annotate(trust_->SignDirector(app_id, std::move(director)),
                  StrCat("signing the director of app ", app_id));
}

absl::StatusOr<std::shared_ptr<const AppSnapshot>> ReleaseSnapshots::Build(
    const std::string& app_id) {
  auto snapshot = std::make_shared<AppSnapshot>();
  std::shared_ptr<const TrustView> trust =
      trust_ == nullptr ? nullptr : trust_->View(app_id);
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> releases,
                          store_->ListReleases(app_id));
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> stored_segments,
                          store_->ListSegments(app_id));
  std::map<std::string, std::shared_ptr<const rollout::Segment>> segments;
  segments["everyone"] = std::make_shared<rollout::Segment>();
  for (const v1::Segment& s : stored_segments) {
    absl::StatusOr<rollout::Segment> compiled = ToSegment(s);
    if (!compiled.ok()) {
      STRATA_LOG(Error) << "segment " << s.name() << " of app " << app_id
                        << " does not compile: " << compiled.status();
      continue;
    }
    segments[s.name()] =
        std::make_shared<rollout::Segment>(*std::move(compiled));
  }
  // Modules a newer completed release for everyone already decides.
  std::set<std::pair<int, std::string>> settled;
  std::reverse(releases.begin(), releases.end());  // newest first
  for (v1::Release& record : releases) {
    if (record.artifacts().empty()) {  // a record from before multi-artifact
      v1::ReleaseArtifact* a = record.add_artifacts();
      *a->mutable_module() = record.module();
      a->set_version(record.version());
      a->set_release_sequence(record.release_sequence());
    }
    if (record.state() == v1::RELEASE_DRAFT ||
        record.state() == v1::RELEASE_ROLLED_BACK) {
      continue;
    }
    absl::StatusOr<rollout::Rollout> rollout = ToRollout(record);
    if (!rollout.ok()) {
      STRATA_LOG(Error) << rollout.status();
      continue;
    }
    bool all_settled = true;
    for (const v1::ReleaseArtifact& a : record.artifacts()) {
      all_settled &= settled.count({a.module().layer(), a.module().name()}) > 0;
    }
    if (all_settled) continue;
    const std::string segment_name =
        record.segment().empty() ? "everyone" : record.segment();
    auto seg = segments.find(segment_name);
    if (seg == segments.end()) {
      STRATA_LOG(Error) << "release " << record.release_id()
                        << " targets unknown segment " << segment_name
                        << "; it reaches no device";
      continue;
    }
    const rollout::Segment& s = *seg->second;
    const bool uncapped =
        record.max_exposure_bp() == 0 || record.max_exposure_bp() >= 10000;
    const bool everyone = record.state() == v1::RELEASE_COMPLETED && uncapped &&
                          s.expression().text() == "true" &&
                          s.allow().size() == 0 && s.deny().size() == 0;
    LiveRelease live{
        record, *std::move(rollout), seg->second, "", everyone, true, {}};
    live.salt = live.rollout.spec().EffectiveSalt();
    for (const v1::ReleaseArtifact& a : record.artifacts()) {
      STRATA_ASSIGN_OR_RETURN(v1::UpdateEntry entry,
                              MakeEntry(record, a, trust.get()));
      if (trust != nullptr) {
        snapshot->target_names.insert(
            signing::TargetName(static_cast<signing::Layer>(a.module().layer()),
                                a.module().name(), a.release_sequence()));
      }
      live.config_only &= a.module().layer() == v1::LAYER_CONFIG;
      live.entries.push_back(std::move(entry));
      if (everyone) settled.insert({a.module().layer(), a.module().name()});
    }
    snapshot->releases.push_back(std::move(live));
  }
  if (trust != nullptr) {
    STRATA_RETURN_IF_ERROR(
        SignDirector(app_id, *snapshot, *trust, stored_segments));
  }
  return std::shared_ptr<const AppSnapshot>(std::move(snapshot));
}

}  // namespace strata::server
