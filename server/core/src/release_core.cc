#include "strata/server/core/release_core.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/names.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/rollout/preview.h"
#include "strata/rollout/targeting.h"
#include "strata/server/core/health_store.h"
#include "strata/server/core/release_model.h"
#include "strata/server/core/release_snapshot.h"
#include "strata/server/core/validation.h"

namespace strata::server {
namespace {

std::string ModuleText(const v1::ModuleId& m) {
  std::string layer = v1::Layer_Name(m.layer());
  if (layer.rfind("LAYER_", 0) == 0) layer = layer.substr(6);
  for (char& c : layer) c = static_cast<char>(std::tolower(c));
  return StrCat(layer, "/", m.name());
}

std::string ArtifactsText(const v1::Release& r) {
  std::string out;
  for (const v1::ReleaseArtifact& a : r.artifacts()) {
    if (!out.empty()) out += ",";
    out += StrCat(ModuleText(a.module()), "@", a.version());
  }
  return out;
}

std::string PlanText(const v1::Release& r) {
  std::string out;
  for (const v1::RolloutStage& s : r.stages()) {
    if (!out.empty()) out += ",";
    out += StrCat(s.exposure_bp() / 100.0, "%:", s.bake_seconds(),
                  "s:", s.min_reports());
  }
  return out;
}

// Whether an audit entry is about release `id`.
bool MentionsRelease(const v1::AuditEntry& e, uint64_t id) {
  const std::string a = StrCat("release_id=", id);
  const std::string b = StrCat("rolls_back=", id);
  for (const std::string& token : {a, b}) {
    size_t pos = 0;
    while ((pos = e.detail().find(token, pos)) != std::string::npos) {
      const size_t end = pos + token.size();
      const bool starts = pos == 0 || e.detail()[pos - 1] == ' ';
      const bool ends = end == e.detail().size() || e.detail()[end] == ' ';
      if (starts && ends) return true;
      pos = end;
    }
  }
  return false;
}

absl::Status Apply(rollout::Rollout& r, v1::SteerReleaseRequest::Action action,
                   absl::Time now, std::string_view reason) {
  switch (action) {
    case v1::SteerReleaseRequest::START:
      return r.Start(now, reason);
    case v1::SteerReleaseRequest::PAUSE:
      return r.Pause(now, reason);
    case v1::SteerReleaseRequest::RESUME:
      return r.Resume(now, reason);
    case v1::SteerReleaseRequest::PROMOTE:
      return r.Promote(now, reason);
    case v1::SteerReleaseRequest::HALT:
      return r.Halt(now, reason);
    default:
      return absl::InvalidArgumentError(
          "unknown action; use start, pause, resume, promote, halt or "
          "roll back");
  }
}

std::string SegmentOf(const v1::Release& r) {
  return r.segment().empty() ? "everyone" : r.segment();
}

std::string SaltOf(const v1::Release& r) {
  return r.salt().empty() ? StrCat("release-", r.release_id()) : r.salt();
}

// Free text kept with a release (message, source): bounded, one line.
absl::Status ValidateNote(std::string_view what, std::string_view text,
                          size_t max) {
  if (text.size() > max) {
    return absl::InvalidArgumentError(
        StrCat(what, " is ", text.size(), " bytes; at most ", max));
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          StrCat(what,
                 " contains a control character (a newline?); keep it "
                 "to one line"));
    }
  }
  return absl::OkStatus();
}

// The source a release was made from: "commit@branch", "commit", or "".
std::string SourceText(const v1::Release& r) {
  if (r.source_commit().empty()) return r.source_branch();
  if (r.source_branch().empty()) return r.source_commit();
  return StrCat(r.source_commit(), "@", r.source_branch());
}

// Whether segment `name` of `segments` matches every device.
bool IsEveryone(const std::string& name,
                const std::vector<v1::Segment>& segments) {
  if (name == "everyone") return true;
  for (const v1::Segment& s : segments) {
    if (s.name() != name) continue;
    return s.expression() == "true" && s.allow_user_ids().empty() &&
           s.deny_user_ids().empty();
  }
  return false;
}

// Whether completed release `g` reached every device that a release to
// `segment` bucketed by `salt` at `reached` basis points reached.
bool Covers(const v1::Release& g, const std::string& segment,
            const std::string& salt, uint32_t reached,
            const std::vector<v1::Segment>& segments) {
  const uint32_t cap = g.max_exposure_bp() == 0 ? 10000 : g.max_exposure_bp();
  if (cap >= 10000) {
    return IsEveryone(SegmentOf(g), segments) || SegmentOf(g) == segment;
  }
  // A capped release (a roll back): the same buckets of the same segment.
  return SegmentOf(g) == segment && SaltOf(g) == salt && cap >= reached;
}

bool SameModule(const v1::ModuleId& a, const v1::ModuleId& b) {
  return a.layer() == b.layer() && a.name() == b.name();
}

std::string ActionName(v1::SteerReleaseRequest::Action a) {
  std::string name = v1::SteerReleaseRequest::Action_Name(a);
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

}  // namespace

absl::StatusOr<std::pair<v1::Release, rollout::Rollout>> ReleaseCore::Prepare(
    const Principal& who, const v1::CreateReleaseRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_RELEASE_MANAGER,
                                             req.app_id(), "release.create"));
  v1::Release release;
  release.set_app_id(req.app_id());
  const bool single = req.has_module() || !req.version().empty();
  if (single && req.artifacts_size() > 0) {
    return absl::InvalidArgumentError(
        "give either module and version or a list of artifacts, not both");
  }
  if (single) {
    v1::ReleaseArtifact* a = release.add_artifacts();
    *a->mutable_module() = req.module();
    a->set_version(req.version());
  } else {
    for (const v1::ReleaseArtifact& a : req.artifacts()) {
      v1::ReleaseArtifact* copy = release.add_artifacts();
      *copy->mutable_module() = a.module();
      copy->set_version(a.version());
    }
  }
  if (release.artifacts().empty()) {
    return absl::InvalidArgumentError(
        "a release needs at least one artifact: a module and a published "
        "version");
  }
  std::set<std::pair<int, std::string>> modules;
  for (const v1::ReleaseArtifact& a : release.artifacts()) {
    STRATA_RETURN_IF_ERROR(ValidateModule(a.module()));
    STRATA_RETURN_IF_ERROR(ValidateName("version", a.version()));
    if (!modules.insert({a.module().layer(), a.module().name()}).second) {
      return absl::InvalidArgumentError(
          StrCat(ModuleText(a.module()),
                 " is listed twice; a release holds one version per module"));
    }
    STRATA_ASSIGN_OR_RETURN(
        std::optional<v1::StoredArtifact> artifact,
        store_->GetArtifact(req.app_id(), a.module(), a.version()));
    if (!artifact.has_value()) {
      return absl::NotFoundError(
          StrCat("version ", a.version(), " of ", a.module().name(), " in app ",
                 req.app_id(), " is not published; publish it first"));
    }
    if (artifact->embedded()) {
      return absl::FailedPreconditionError(StrCat(
          "version ", a.version(), " of ", a.module().name(),
          " is the app's embedded baseline and is never released; release a "
          "newer version"));
    }
  }
  STRATA_RETURN_IF_ERROR(RefuseYanked(release, "release"));
  if (trust_ != nullptr && trust_->HasTrust(req.app_id())) {
    // The counter devices check comes from the publishers' signature.
    for (v1::ReleaseArtifact& a : *release.mutable_artifacts()) {
      STRATA_ASSIGN_OR_RETURN(
          std::optional<v1::StoredArtifact> artifact,
          store_->GetArtifact(req.app_id(), a.module(), a.version()));
      const v1::ArtifactStatement& st = artifact->statement();
      STRATA_ASSIGN_OR_RETURN(
          uint64_t counter,
          trust_->ReleaseCounter(req.app_id(), a.module(), a.version(),
                                 st.content_sha256(), st.size()));
      a.set_release_sequence(counter);
    }
  }
  release.set_segment(req.segment().empty() ? "everyone" : req.segment());
  if (release.segment() != "everyone") {
    STRATA_RETURN_IF_ERROR(ValidateName("segment", release.segment()));
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> segments,
                            store_->ListSegments(req.app_id()));
    if (std::none_of(segments.begin(), segments.end(),
                     [&](const v1::Segment& s) {
                       return s.name() == release.segment();
                     })) {
      return absl::NotFoundError(
          StrCat("segment ", release.segment(), " does not exist in app ",
                 req.app_id(), "; create it with `strata segment put`"));
    }
  }
  if (!req.salt().empty()) {
    STRATA_RETURN_IF_ERROR(ValidateName("salt", req.salt()));
  }
  release.set_salt(req.salt());
  STRATA_RETURN_IF_ERROR(ValidateNote("the message", req.message(), 1000));
  STRATA_RETURN_IF_ERROR(
      ValidateNote("the source commit", req.source_commit(), 100));
  STRATA_RETURN_IF_ERROR(
      ValidateNote("the source branch", req.source_branch(), 255));
  release.set_message(req.message());
  release.set_source_commit(req.source_commit());
  release.set_source_branch(req.source_branch());
  if (req.all_at_once() && req.stages_size() > 0) {
    return absl::InvalidArgumentError(
        "all_at_once releases have no stages; drop one of them");
  }
  if (req.all_at_once()) {
    v1::RolloutStage* s = release.add_stages();
    s->set_exposure_bp(10000);
  } else if (req.stages_size() > 0) {
    *release.mutable_stages() = req.stages();
  } else {
    for (const rollout::Stage& s : rollout::RolloutPlan::Default().stages) {
      v1::RolloutStage* p = release.add_stages();
      p->set_exposure_bp(s.exposure_bp);
      p->set_bake_seconds(absl::ToInt64Seconds(s.bake_time));
      p->set_min_reports(s.min_reports);
    }
  }
  for (const v1::RolloutStage& s : release.stages()) {
    if (s.bake_seconds() < 0) {
      return absl::InvalidArgumentError(
          "a stage's bake time cannot be negative");
    }
  }
  *release.mutable_gates() = req.gates();
  release.set_state(v1::RELEASE_DRAFT);
  release.set_created_at_unix(absl::ToUnixSeconds(clock_->Now()));
  // Validate as the rollout library sees it (an id is needed for that).
  v1::Release probe = release;
  probe.set_release_id(1);
  absl::StatusOr<rollout::Rollout> r = ToRollout(probe);
  if (!r.ok()) {
    return absl::InvalidArgumentError(r.status().message());
  }
  const absl::Time now = clock_->Now();
  if (!req.draft()) {
    STRATA_RETURN_IF_ERROR(r->Start(now, StrCat("started by ", who.name)));
    if (req.all_at_once()) {
      STRATA_RETURN_IF_ERROR(
          r->Promote(now, StrCat("all at once, by ", who.name)));
    }
  }
  StoreStatus(*r, &release);
  return std::make_pair(std::move(release), *std::move(r));
}

absl::StatusOr<std::string> ReleaseCore::Overlaps(
    const v1::CreateReleaseRequest& req, const v1::Release& release) {
  // Two rollouts of one module to the same segment would judge each
  // other's devices: refused unless asked for.
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> existing,
                          store_->ListReleases(req.app_id()));
  std::string overlaps;
  for (const v1::Release& o : existing) {
    if (o.state() != v1::RELEASE_ROLLING && o.state() != v1::RELEASE_PAUSED) {
      continue;
    }
    if (SegmentOf(o) != release.segment()) continue;
    for (const v1::ReleaseArtifact& a : release.artifacts()) {
      for (const v1::ReleaseArtifact& b : o.artifacts()) {
        if (!SameModule(a.module(), b.module())) continue;
        if (!req.allow_overlap()) {
          return absl::FailedPreconditionError(StrCat(
              "release ", o.release_id(), " is still ", StateName(o.state()),
              " ", ModuleText(b.module()), "@", b.version(), " to segment ",
              release.segment(),
              "; two rollouts of one module to the same devices mix their "
              "health figures. Wait until it completes, halt or roll it back "
              "(`strata release halt ",
              o.release_id(), "`), or pass --allow-overlap (audited)"));
        }
        if (!overlaps.empty()) overlaps += ",";
        overlaps += std::to_string(o.release_id());
      }
    }
  }
  return overlaps;
}

absl::StatusOr<v1::Release> ReleaseCore::Create(
    const Principal& who, const v1::CreateReleaseRequest& req) {
  STRATA_ASSIGN_OR_RETURN(auto prepared, Prepare(who, req));
  v1::Release& release = prepared.first;
  MutexLock lock(&mu_);
  STRATA_ASSIGN_OR_RETURN(const std::string overlaps, Overlaps(req, release));
  std::string detail = StrCat(
      "artifacts=", ArtifactsText(release), " segment=", release.segment(),
      " plan=", PlanText(release), " state=", StateName(release.state()));
  if (!overlaps.empty()) detail += StrCat(" overlaps=", overlaps);
  if (!SourceText(release).empty()) {
    detail += StrCat(" source=", SourceText(release));
  }
  if (!release.message().empty()) {
    detail += StrCat(" message=", release.message());
  }
  absl::StatusOr<v1::Release> created = store_->CreateRelease(
      release,
      MakeAudit(clock_, who.name, "release.create", req.app_id(), detail));
  if (created.ok()) Changed(req.app_id());
  return created;
}

absl::StatusOr<std::vector<v1::Release>> ReleaseCore::List(
    const Principal& who, std::string_view app_id) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", app_id));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, app_id, "release.list"));
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> releases,
                          store_->ListReleases(app_id));
  if (releases.empty()) {
    STRATA_RETURN_IF_ERROR(RequireKnownApp(*store_, trust_, app_id));
  }
  return releases;
}

absl::StatusOr<v1::Release> ReleaseCore::Load(const std::string& app_id,
                                              uint64_t release_id) {
  STRATA_ASSIGN_OR_RETURN(std::optional<v1::Release> r,
                          store_->GetRelease(app_id, release_id));
  if (!r.has_value()) {
    return absl::NotFoundError(
        StrCat("release ", release_id, " of app ", app_id,
               " does not exist; `strata release list --app ", app_id,
               "` shows the releases"));
  }
  return *std::move(r);
}

absl::StatusOr<std::pair<v1::Release, rollout::Rollout>> ReleaseCore::View(
    const Principal& who, const std::string& app_id, uint64_t release_id,
    std::string_view action) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", app_id));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, app_id, action));
  STRATA_ASSIGN_OR_RETURN(v1::Release record, Load(app_id, release_id));
  STRATA_ASSIGN_OR_RETURN(rollout::Rollout r, ToRollout(record));
  return std::make_pair(std::move(record), std::move(r));
}

absl::StatusOr<v1::ReleaseStatus> ReleaseCore::Status(
    const Principal& who, const v1::GetReleaseStatusRequest& req) {
  STRATA_ASSIGN_OR_RETURN(
      auto viewed, View(who, req.app_id(), req.release_id(), "release.status"));
  auto& [record, r] = viewed;
  v1::ReleaseStatus out;
  const rollout::ReleaseHealth health = fleet_->health().Get(r.release_id());
  out.set_exposure_bp(r.exposure_bp());
  *out.mutable_treatment() = ToProto(health.treatment);
  *out.mutable_control() = ToProto(health.control);
  if (health.stage == r.stage()) {
    *out.mutable_treatment_stage() = ToProto(health.treatment_stage);
  }
  const rollout::GateDecision d =
      rollout::GateEvaluator(clock_).Evaluate(r, health);
  out.set_gate_action(std::string(rollout::GateActionName(d.action)));
  out.set_gate_rule(d.rule);
  out.set_gate_reason(d.reason);
  for (v1::AdoptionSample& s : fleet_->Adoption(r.release_id())) {
    *out.add_adoption() = std::move(s);
  }
  // The release's audit entries: read the log a page at a time from the
  // entry that created it.
  uint64_t after =
      record.created_audit_seq() > 0 ? record.created_audit_seq() - 1 : 0;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::AuditEntry> page,
                            store_->ListAudit(after, 1000));
    for (v1::AuditEntry& e : page) {
      if (e.app_id() == req.app_id() && MentionsRelease(e, r.release_id())) {
        *out.add_history() = e;
      }
    }
    if (page.size() < 1000) break;
    after = page.back().seq();
  }
  *out.mutable_release() = std::move(record);
  return out;
}

absl::StatusOr<v1::SteerReleaseResponse> ReleaseCore::Steer(
    const Principal& who, const v1::SteerReleaseRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_RELEASE_MANAGER,
                                             req.app_id(), "release.steer"));
  const std::string reason =
      req.reason().empty() ? StrCat(ActionName(req.action()), " by ", who.name)
                           : StrCat(req.reason(), " (", who.name, ")");
  MutexLock lock(&mu_);
  STRATA_ASSIGN_OR_RETURN(v1::Release record,
                          Load(req.app_id(), req.release_id()));
  if (req.action() == v1::SteerReleaseRequest::ROLL_BACK) {
    return RollBack(who, std::move(record), reason, req);
  }
  if (req.dry_run()) {
    return absl::InvalidArgumentError(
        "dry_run is for roll back only (it answers with the roll back plan)");
  }
  if (req.action() == v1::SteerReleaseRequest::START ||
      req.action() == v1::SteerReleaseRequest::RESUME) {
    STRATA_RETURN_IF_ERROR(RefuseYanked(record, ActionName(req.action())));
  }
  if (req.action() == v1::SteerReleaseRequest::START && trust_ != nullptr) {
    STRATA_RETURN_IF_ERROR(trust_->CheckReleaseTargets(record));
  }
  STRATA_ASSIGN_OR_RETURN(rollout::Rollout r, ToRollout(record));
  const std::string before = r.Describe();
  STRATA_RETURN_IF_ERROR(Apply(r, req.action(), clock_->Now(), reason));
  StoreStatus(r, &record);
  STRATA_RETURN_IF_ERROR(store_->UpdateRelease(
      record,
      MakeAudit(clock_, who.name, StrCat("release.", ActionName(req.action())),
                req.app_id(),
                StrCat("release_id=", record.release_id(), " ", before, " -> ",
                       r.Describe(), ": ", reason))));
  Changed(req.app_id());
  v1::SteerReleaseResponse out;
  *out.mutable_release() = std::move(record);
  return out;
}

absl::StatusOr<v1::SteerReleaseResponse> ReleaseCore::RollBack(
    const Principal& who, v1::Release bad, const std::string& reason,
    const v1::SteerReleaseRequest& req) {
  if (bad.rolls_back_release_id() != 0) {
    return absl::FailedPreconditionError(StrCat(
        "release ", bad.release_id(), " is itself the roll back of release ",
        bad.rolls_back_release_id(),
        "; rolling it back would only put the content rolled back again. To "
        "ship that content once more, create a new release of it (`strata "
        "release create`)"));
  }
  const bool to_embedded = req.rollback_to() == kEmbeddedVersionLabel;
  if (!req.rollback_to().empty() && !to_embedded) {
    return absl::InvalidArgumentError(
        StrCat("roll back to '", req.rollback_to(),
               "': give nothing (each module's last good content) or "
               "\"embedded\" (the version the app ships with)"));
  }
  STRATA_ASSIGN_OR_RETURN(rollout::Rollout r, ToRollout(bad));
  const std::string before = r.Describe();
  // What the bad release reached: its segment, its buckets (salt) up to
  // the exposure it got to. The roll back reaches exactly these.
  const uint32_t reached = r.exposure_bp();
  const std::string segment = SegmentOf(bad);
  const std::string salt = r.spec().EffectiveSalt();
  STRATA_RETURN_IF_ERROR(r.RollBack(clock_->Now(), reason));
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> all,
                          store_->ListReleases(bad.app_id()));
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> segments,
                          store_->ListSegments(bad.app_id()));
  v1::Release good;
  good.set_app_id(bad.app_id());
  std::string restored;
  std::vector<RollbackTarget> plan;
  for (const v1::ReleaseArtifact& a : bad.artifacts()) {
    // The last good content: the module's newest earlier completed release
    // that reached every device this one reached.
    const v1::ReleaseArtifact* found = nullptr;
    const v1::Release* from = nullptr;
    std::string not_covering;
    for (auto it = all.rbegin();
         it != all.rend() && found == nullptr && !to_embedded; ++it) {
      if (it->release_id() >= bad.release_id() ||
          it->state() != v1::RELEASE_COMPLETED) {
        continue;
      }
      for (const v1::ReleaseArtifact& b : it->artifacts()) {
        if (!SameModule(b.module(), a.module())) continue;
        if (Covers(*it, segment, salt, reached, segments)) {
          found = &b;
          from = &*it;
        } else if (not_covering.empty()) {
          not_covering = StrCat("release ", it->release_id(), " (segment ",
                                SegmentOf(*it), ")");
        }
        break;
      }
    }
    RollbackTarget t;
    *t.plan.mutable_module() = a.module();
    t.plan.set_min_release_counter(a.release_sequence());
    v1::ReleaseArtifact* g = good.add_artifacts();
    *g->mutable_module() = a.module();
    if (found != nullptr && !found->revert_to_embedded()) {
      STRATA_ASSIGN_OR_RETURN(
          std::optional<v1::StoredArtifact> content,
          store_->GetArtifact(bad.app_id(), found->module(), found->version()));
      if (!content.has_value()) {
        return absl::DataLossError(StrCat(
            "the last good release of ", ModuleText(found->module()),
            " names version ", found->version(), ", which is not stored"));
      }
      t.plan.set_version(found->version());
      t.plan.set_content_sha256(content->statement().content_sha256());
      t.plan.set_size(content->statement().size());
      t.plan.set_why(StrCat("release ", from->release_id(), " (segment ",
                            SegmentOf(*from), ") completed with version ",
                            found->version()));
      g->set_version(found->version());
    } else {
      const v1::ArtifactStatement st = RevertStatement(bad.app_id(), a);
      t.plan.set_version(st.version());
      t.plan.set_content_sha256(st.content_sha256());
      t.plan.set_size(st.size());
      t.plan.set_revert_to_embedded(true);
      if (to_embedded) {
        t.plan.set_why("asked for: the version the app ships with");
      } else if (found != nullptr) {
        t.plan.set_why(StrCat("release ", from->release_id(),
                              " had rolled it back to the embedded version"));
      } else if (!not_covering.empty()) {
        t.plan.set_why(
            StrCat("no earlier completed release reached every device release ",
                   bad.release_id(), " reached (", not_covering,
                   " does not cover segment ", segment,
                   "): back to the version the app ships with"));
      } else {
        t.plan.set_why(StrCat("release ", bad.release_id(),
                              " was the first of ", ModuleText(a.module()),
                              ": back to the version the app ships with"));
      }
      g->set_version(st.version());
      g->set_revert_to_embedded(true);
    }
    if (!restored.empty()) restored += ",";
    restored += StrCat(ModuleText(a.module()), "@", t.plan.version());
    plan.push_back(std::move(t));
  }
  if (req.dry_run()) {
    v1::SteerReleaseResponse out;
    *out.mutable_release() = std::move(bad);
    for (const RollbackTarget& t : plan) *out.add_rollback_plan() = t.plan;
    return out;
  }
  const bool trusted = trust_ != nullptr && trust_->HasTrust(bad.app_id());
  if (trusted && req.layer_roles().empty()) {
    return absl::FailedPreconditionError(StrCat(
        "app ", bad.app_id(),
        " has a root of trust: a roll back re-approves the old content under "
        "new release counters signed by its publishers; ask for the plan "
        "with dry_run, sign the layer roles and send them (`strata release "
        "rollback --key ...` does this)"));
  }
  if (!trusted && !req.layer_roles().empty()) {
    return absl::InvalidArgumentError(
        StrCat("app ", bad.app_id(),
               " has no root of trust; a roll back takes no layer roles"));
  }
  // At once, to the devices the bad release reached (same segment, same
  // buckets up to its exposure), with a higher release counter.
  good.set_segment(segment);
  good.set_salt(salt);
  good.add_stages()->set_exposure_bp(10000);
  if (reached < 10000) good.set_max_exposure_bp(reached);
  good.set_rolls_back_release_id(bad.release_id());
  good.set_message(
      StrCat("rolls back release ", bad.release_id(), ": ", reason));
  good.set_created_at_unix(absl::ToUnixSeconds(clock_->Now()));
  v1::Release probe = good;
  probe.set_release_id(1);
  STRATA_ASSIGN_OR_RETURN(rollout::Rollout g, ToRollout(probe));
  STRATA_RETURN_IF_ERROR(g.Start(clock_->Now(), reason));
  STRATA_RETURN_IF_ERROR(g.Promote(
      clock_->Now(), StrCat("rolls back release ", bad.release_id())));
  StoreStatus(g, &good);
  StoreStatus(r, &bad);
  v1::AuditEntry audit =
      MakeAudit(clock_, who.name, "release.rollback", bad.app_id(),
                StrCat("rolls_back=", bad.release_id(), " ", before,
                       " -> rolled_back: ", reason, "; restores=", restored));
  v1::Release created;
  if (trusted) {
    // The publishers' new targets give the counters; the roles, re-signed
    // snapshot and timestamp and the release go in one batch.
    STRATA_RETURN_IF_ERROR(trust_->CommitRollback(
        bad.app_id(), req.layer_roles(), plan,
        [&](const std::vector<TrustFile>& files) -> absl::Status {
          for (int i = 0; i < good.artifacts_size(); ++i) {
            good.mutable_artifacts(i)->set_release_sequence(
                plan[static_cast<size_t>(i)].release_counter);
          }
          STRATA_ASSIGN_OR_RETURN(
              created,
              store_->CreateRelease(good, std::move(audit), &bad, &files));
          return absl::OkStatus();
        }));
  } else {
    STRATA_ASSIGN_OR_RETURN(
        created, store_->CreateRelease(good, std::move(audit), &bad));
  }
  Changed(bad.app_id());
  v1::SteerReleaseResponse out;
  *out.mutable_release() = std::move(bad);
  *out.mutable_rollback() = std::move(created);
  return out;
}

absl::StatusOr<v1::PreviewReleaseResponse> ReleaseCore::Preview(
    const Principal& who, const v1::PreviewReleaseRequest& req) {
  std::optional<std::pair<v1::Release, rollout::Rollout>> viewed;
  const bool dry_run = req.has_dry_run_of();
  if (dry_run) {
    // A release not created yet: checked as Create checks it, not stored.
    if (req.release_id() != 0) {
      return absl::InvalidArgumentError(
          "give a release id or a release to create (dry run), not both");
    }
    v1::CreateReleaseRequest spec = req.dry_run_of();
    if (spec.app_id().empty()) spec.set_app_id(req.app_id());
    if (spec.app_id() != req.app_id()) {
      return absl::InvalidArgumentError(
          StrCat("the dry run's app ", spec.app_id(),
                 " is not the preview's app ", req.app_id()));
    }
    STRATA_ASSIGN_OR_RETURN(viewed, Prepare(who, spec));
    STRATA_RETURN_IF_ERROR(Overlaps(spec, viewed->first).status());
  } else {
    STRATA_ASSIGN_OR_RETURN(
        viewed, View(who, req.app_id(), req.release_id(), "release.preview"));
  }
  const auto& [record, r] = *viewed;
  rollout::Segment segment;
  if (record.segment() != "everyone" && !record.segment().empty()) {
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> segments,
                            store_->ListSegments(req.app_id()));
    auto it = std::find_if(segments.begin(), segments.end(),
                           [&record = record](const v1::Segment& s) {
                             return s.name() == record.segment();
                           });
    if (it == segments.end()) {
      return absl::NotFoundError(
          StrCat("segment ", record.segment(), " no longer exists"));
    }
    STRATA_ASSIGN_OR_RETURN(segment, ToSegment(*it));
  }
  uint64_t last_hour = 0;
  const std::vector<rollout::DeviceAttributes> devices = fleet_->RecentDevices(
      req.app_id(), clock_->Now() - absl::Hours(1), &last_hour);
  const rollout::ReachPreview p = rollout::PreviewReach(r, segment, devices);
  const rollout::VerdictPlan verdict =
      rollout::PlanVerdict(r.spec().gates, p, last_hour);
  v1::PreviewReleaseResponse out;
  out.set_release_id(dry_run ? 0 : p.release_id);
  out.set_segment(p.segment);
  out.set_devices(p.devices);
  out.set_denied(p.denied);
  out.set_allowed(p.allowed);
  out.set_matched(p.matched);
  out.set_not_matched(p.not_matched);
  auto fill = [](const rollout::StageReach& s, v1::StageReach* o) {
    o->set_exposure_bp(s.exposure_bp);
    o->set_treatment(s.treatment);
    o->set_control(s.control);
  };
  fill(p.current, out.mutable_current());
  for (const rollout::StageReach& s : p.stages) fill(s, out.add_stages());
  out.set_devices_for_verdict(verdict.devices_for_verdict);
  out.set_first_stage_devices_per_hour(verdict.first_stage_devices_per_hour);
  out.set_verdict(verdict.summary);
  return out;
}

absl::StatusOr<v1::ExplainDeviceResponse> ReleaseCore::Explain(
    const Principal& who, const v1::ExplainDeviceRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(),
                                             "release.explain"));
  auto seen = fleet_->LastSeen(req.app_id(), req.device_id());
  if (!seen.has_value()) {
    return absl::NotFoundError(
        StrCat("device ", req.device_id(), " has not checked in with app ",
               req.app_id(), " since the server started"));
  }
  ReleaseSnapshots snapshots(store_, 0);
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const AppSnapshot> snapshot,
                          snapshots.Get(req.app_id()));
  const rollout::DeviceAttributes device = ToAttributes(seen->first);
  // What the device said it runs at that check.
  google::protobuf::RepeatedPtrField<v1::InstalledModule> reported;
  for (v1::InstalledModule& m :
       fleet_->InstalledOf(req.app_id(), req.device_id())) {
    *reported.Add() = std::move(m);
  }
  const InstalledMap installed = IndexInstalled(reported);
  v1::ExplainDeviceResponse out;
  *out.mutable_device() = seen->first;
  out.set_last_seen_unix(absl::ToUnixSeconds(seen->second));
  // Per module, the release the device takes it from: the newest that
  // applies (the snapshot is newest first, as Check decides).
  std::map<std::pair<int, std::string>, uint64_t> taken;
  for (const LiveRelease& r : snapshot->releases) {
    const rollout::OfferExplanation e = rollout::ExplainOffer(
        r.rollout, *r.segment, device, HasRelease(r, installed));
    v1::ReleaseExplanation* x = out.add_releases();
    x->set_release_id(e.release_id);
    x->set_applies(e.offer.applies);
    x->set_cohort(std::string(rollout::CohortName(e.offer.cohort)));
    for (const std::string& reason : e.reasons) x->add_reasons(reason);
    if (!e.offer.applies) continue;
    for (const v1::UpdateEntry& entry : r.entries) {
      const auto key = std::make_pair(static_cast<int>(entry.module().layer()),
                                      entry.module().name());
      auto [it, fresh] = taken.emplace(key, e.release_id);
      if (fresh) {
        x->add_wins(ModuleText(entry.module()));
      } else {
        x->add_loses(StrCat(ModuleText(entry.module()), ": release ",
                            it->second, " wins (newer)"));
      }
    }
  }
  return out;
}

absl::StatusOr<v1::Release> ReleaseCore::Edit(
    const Principal& who, const v1::EditReleaseRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(AuthCore::Authorize(who, v1::ROLE_RELEASE_MANAGER,
                                             req.app_id(), "release.edit"));
  const bool plan = req.remaining_stages_size() > 0;
  const bool gates = req.gates().ByteSizeLong() > 0;
  const bool message = req.has_message();
  if (!plan && !gates && !message) {
    return absl::InvalidArgumentError(
        "nothing to change: give the remaining plan, gate thresholds or a "
        "message (`strata release edit ID --plan ... --gate ... --message "
        "...`)");
  }
  if (message) {
    STRATA_RETURN_IF_ERROR(ValidateNote("the message", req.message(), 1000));
  }
  STRATA_RETURN_IF_ERROR(ValidateNote("the reason", req.reason(), 1000));
  MutexLock lock(&mu_);
  STRATA_ASSIGN_OR_RETURN(v1::Release record,
                          Load(req.app_id(), req.release_id()));
  STRATA_ASSIGN_OR_RETURN(rollout::Rollout r, ToRollout(record));
  if (plan || gates) {
    if (record.state() == v1::RELEASE_COMPLETED ||
        record.state() == v1::RELEASE_ROLLED_BACK) {
      return absl::FailedPreconditionError(StrCat(
          "release ", record.release_id(), " is ", StateName(record.state()),
          ": it has no stages left to change (only its message can change); "
          "create a new release instead"));
    }
    if (record.rolls_back_release_id() != 0) {
      return absl::FailedPreconditionError(StrCat(
          "release ", record.release_id(), " is the roll back of release ",
          record.rolls_back_release_id(),
          ": it goes at once to the devices that release reached and has no "
          "plan or gates to change"));
    }
  }
  v1::Release next = record;
  std::vector<std::string> changes;
  if (plan) {
    const bool draft = record.state() == v1::RELEASE_DRAFT;
    const int from = draft ? 0 : record.stage();
    const uint32_t now_bp = r.exposure_bp();
    if (req.remaining_stages(0).exposure_bp() < now_bp) {
      return absl::FailedPreconditionError(StrCat(
          "release ", record.release_id(), " is at ", now_bp / 100.0,
          "% of its segment now (stage ", record.stage() + 1,
          "): devices in it already have the release and keep it, so the "
          "plan from the current stage on cannot start below ",
          now_bp / 100.0, "%; halt or roll it back to take it back"));
    }
    next.clear_stages();
    for (int i = 0; i < from; ++i) *next.add_stages() = record.stages(i);
    for (const v1::RolloutStage& st : req.remaining_stages()) {
      if (st.bake_seconds() < 0) {
        return absl::InvalidArgumentError(
            "a stage's bake time cannot be negative");
      }
      *next.add_stages() = st;
    }
    changes.push_back(
        StrCat("plan=", PlanText(record), " -> ", PlanText(next)));
  }
  if (gates) {
    next.mutable_gates()->MergeFrom(req.gates());
    changes.push_back(StrCat("gates={", record.gates().ShortDebugString(),
                             "} -> {", next.gates().ShortDebugString(), "}"));
  }
  if (message) {
    next.set_message(req.message());
    changes.push_back(StrCat("message=\"", record.message(), "\" -> \"",
                             req.message(), "\""));
  }
  // What the rollout library accepts (increasing, ends at 100%, gates in
  // range), as at create.
  if (absl::StatusOr<rollout::Rollout> probe = ToRollout(next); !probe.ok()) {
    return absl::InvalidArgumentError(
        StrCat("release ", record.release_id(),
               " cannot take this change: ", ToStd(probe.status().message())));
  }
  std::string detail = StrCat("release_id=", record.release_id());
  for (const std::string& c : changes) detail += StrCat(" ", c);
  detail += StrCat(": ", req.reason().empty()
                             ? StrCat("edited by ", who.name)
                             : StrCat(req.reason(), " (", who.name, ")"));
  STRATA_RETURN_IF_ERROR(store_->UpdateRelease(
      next, MakeAudit(clock_, who.name, "release.edit", req.app_id(), detail)));
  Changed(req.app_id());
  return next;
}

absl::StatusOr<v1::GetFleetResponse> ReleaseCore::Fleet(
    const Principal& who, const v1::GetFleetRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(), "fleet.view"));
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> releases,
                          store_->ListReleases(req.app_id()));
  if (releases.empty()) {
    STRATA_RETURN_IF_ERROR(RequireKnownApp(*store_, trust_, req.app_id()));
  }
  uint64_t devices = 0;
  std::vector<FleetObserver::ModuleVersions> modules =
      fleet_->Fleet(req.app_id(), &devices);
  v1::GetFleetResponse out;
  out.set_devices(devices);
  for (const FleetObserver::ModuleVersions& m : modules) {
    v1::FleetModule* fm = out.add_modules();
    *fm->mutable_module() = m.module;
    fm->set_devices(m.devices);
    for (const FleetObserver::Version& v : m.versions) {
      v1::FleetVersion* fv = fm->add_versions();
      fv->set_version(v.version);
      fv->set_content_sha256(v.content_sha256);
      fv->set_release_sequence(v.release_sequence);
      fv->set_devices(v.devices);
      if (v.release_sequence == 0) continue;  // embedded
      // The release that carries this module at this counter.
      for (auto it = releases.rbegin(); it != releases.rend(); ++it) {
        const bool carries =
            std::any_of(it->artifacts().begin(), it->artifacts().end(),
                        [&](const v1::ReleaseArtifact& a) {
                          return SameModule(a.module(), m.module) &&
                                 a.release_sequence() == v.release_sequence;
                        });
        if (!carries) continue;
        const rollout::ReleaseHealth h = fleet_->health().Get(it->release_id());
        fv->set_release_id(it->release_id());
        fv->set_launches_ok(h.treatment.launches_ok);
        fv->set_launch_crashes(h.treatment.launch_crashes);
        fv->set_rolled_back(h.treatment.rolled_back);
        break;
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<v1::Release>> ReleaseCore::ReleasesUsingSegment(
    const std::string& app_id, const std::string& segment, bool with_drafts) {
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> all,
                          store_->ListReleases(app_id));
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> segments,
                          store_->ListSegments(app_id));
  std::set<std::pair<int, std::string>> settled;
  std::vector<v1::Release> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {  // newest first
    const v1::Release& r = *it;
    if (r.state() == v1::RELEASE_ROLLED_BACK) continue;
    bool all_settled = !r.artifacts().empty();
    for (const v1::ReleaseArtifact& a : r.artifacts()) {
      all_settled &= settled.count({a.module().layer(), a.module().name()}) > 0;
    }
    if (r.state() == v1::RELEASE_COMPLETED && r.max_exposure_bp() == 0 &&
        IsEveryone(SegmentOf(r), segments)) {
      for (const v1::ReleaseArtifact& a : r.artifacts()) {
        settled.insert({a.module().layer(), a.module().name()});
      }
    }
    if (all_settled) continue;
    if (r.state() == v1::RELEASE_DRAFT && !with_drafts) continue;
    if (SegmentOf(r) == segment) out.push_back(r);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<rollout::GateDecision>> ReleaseCore::Tick() {
  std::vector<rollout::GateDecision> changed;
  MutexLock lock(&mu_);
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> all,
                          store_->ListAllReleases());
  const rollout::GateEvaluator gates(clock_);
  for (v1::Release& record : all) {
    if (record.state() == v1::RELEASE_DRAFT ||
        record.state() == v1::RELEASE_ROLLED_BACK) {
      continue;
    }
    absl::StatusOr<rollout::Rollout> r = ToRollout(record);
    if (!r.ok()) {
      STRATA_LOG(Error) << r.status();
      continue;
    }
    const rollout::ReleaseHealth health = fleet_->health().Get(r->release_id());
    const int artifacts = std::max(1, record.artifacts_size());
    const uint64_t active =
        health.treatment.activated > health.treatment.rolled_back
            ? health.treatment.activated - health.treatment.rolled_back
            : 0;
    fleet_->SampleAdoption(r->release_id(), clock_->Now(), r->exposure_bp(),
                           active / static_cast<uint64_t>(artifacts));
    if (record.state() != v1::RELEASE_ROLLING) continue;
    const std::string before = r->Describe();
    absl::StatusOr<rollout::GateDecision> d = gates.Step(*r, health);
    if (!d.ok()) {
      STRATA_LOG(Error) << "gates of release " << record.release_id() << ": "
                        << d.status();
      continue;
    }
    if (d->action == rollout::GateAction::kHold) continue;
    StoreStatus(*r, &record);
    absl::Status s = store_->UpdateRelease(
        record,
        MakeAudit(clock_, "stratad",
                  StrCat("release.auto_", rollout::GateActionName(d->action)),
                  record.app_id(),
                  StrCat("release_id=", record.release_id(), " ", before,
                         " -> ", r->Describe(), " rule=", d->rule, ": ",
                         d->reason, " | ", d->figures.ToString())));
    if (!s.ok()) {
      STRATA_LOG(Error) << "storing the gates' decision for release "
                        << record.release_id() << ": " << s;
      continue;
    }
    STRATA_LOG(Info) << "release " << record.release_id() << ": "
                     << rollout::GateActionName(d->action) << " (" << d->rule
                     << "): " << d->reason;
    Changed(record.app_id());
    changed.push_back(*std::move(d));
  }
  return changed;
}

absl::Status ReleaseCore::RefuseYanked(const v1::Release& release,
                                       std::string_view action) {
  for (const v1::ReleaseArtifact& a : release.artifacts()) {
    STRATA_ASSIGN_OR_RETURN(
        std::optional<v1::StoredArtifact> artifact,
        store_->GetArtifact(release.app_id(), a.module(), a.version()));
    if (artifact.has_value() && artifact->yanked_at_unix() != 0) {
      return absl::FailedPreconditionError(StrCat(
          "cannot ", action, " ",
          release.release_id() == 0 ? std::string("it")
                                    : StrCat("release ", release.release_id()),
          ": ", ModuleText(a.module()), "@", a.version(), " was yanked by ",
          artifact->yanked_by(), " (", artifact->yank_reason(),
          "); devices are no longer offered it. Release another version"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Release>> ReleaseCore::HaltForYank(
    const std::string& app_id, const v1::ModuleId& module,
    const std::string& version, const std::string& reason,
    const std::function<absl::Status(const std::vector<v1::Release>&)>&
        commit) {
  MutexLock lock(&mu_);
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> all,
                          store_->ListReleases(app_id));
  std::vector<v1::Release> halted;
  const absl::Time now = clock_->Now();
  for (v1::Release& record : all) {
    const bool lists = std::any_of(
        record.artifacts().begin(), record.artifacts().end(),
        [&](const v1::ReleaseArtifact& a) {
          return a.module().layer() == module.layer() &&
                 a.module().name() == module.name() && a.version() == version;
        });
    if (!lists) continue;
    if (record.state() == v1::RELEASE_ROLLING ||
        record.state() == v1::RELEASE_PAUSED) {
      STRATA_ASSIGN_OR_RETURN(rollout::Rollout r, ToRollout(record));
      STRATA_RETURN_IF_ERROR(r.Halt(now, reason));
      StoreStatus(r, &record);
    } else if (record.state() == v1::RELEASE_COMPLETED) {
      // Halted at its last stage: devices that run it keep it, no other
      // device is offered it.
      record.set_state(v1::RELEASE_HALTED);
      record.set_state_reason(reason);
    } else {
      continue;
    }
    halted.push_back(std::move(record));
  }
  STRATA_RETURN_IF_ERROR(commit(halted));
  if (!halted.empty()) Changed(app_id);
  return halted;
}

absl::Status ReleaseCore::RefreshHealth() {
  return ReloadHealthAggregates(*store_, fleet_->health()).status();
}

absl::Status ReleaseCore::LoadHealth() {
  STRATA_ASSIGN_OR_RETURN(const HealthLoad load,
                          LoadHealthAggregates(*store_, fleet_->health()));
  if (load.rebuilt) {
    STRATA_LOG(Info) << "rebuilt release health aggregates from "
                     << load.reports
                     << " stored reports (a data directory of an earlier "
                        "version); later starts read the aggregates";
  }
  return absl::OkStatus();
}

namespace {

// The ranges of GetReleaseDistribution (names unique in server_core's
// unity batches).
void AddDistributionBucket(
    google::protobuf::RepeatedPtrField<v1::DistributionBucket>* out,
    const std::string& label, uint64_t devices) {
  v1::DistributionBucket* b = out->Add();
  b->set_label(label);
  b->set_devices(devices);
}

std::string DistributionBytesText(uint64_t bytes) {
  if (bytes < 1024) return StrCat(bytes, " B");
  if (bytes < (uint64_t{1} << 20)) return StrCat(bytes >> 10, " KiB");
  return StrCat(bytes >> 20, " MiB");
}

}  // namespace

absl::StatusOr<v1::ReleaseDistribution> ReleaseCore::Distribution(
    const Principal& who, const v1::GetReleaseDistributionRequest& req) {
  STRATA_ASSIGN_OR_RETURN(auto viewed, View(who, req.app_id(), req.release_id(),
                                            "release.distribution"));
  const uint64_t id = viewed.first.release_id();
  struct Launches {
    uint64_t ok = 0;
    uint64_t crashed = 0;
  };
  // [0] treatment, [1] control: launches per device.
  std::map<std::string, Launches> launches[2];
  // Per device, per module, the most bytes an event reported for it (an
  // update's APPLIED and ACTIVATED may both carry its traffic).
  std::map<std::string, std::map<std::string, uint64_t>> received;
  uint64_t scanned = 0;
  STRATA_RETURN_IF_ERROR(store_->ForEachReport([&](std::string_view app,
                                                   const v1::StoredReport& r) {
    if (app != req.app_id()) return true;
    ++scanned;
    for (const v1::HealthAttribution& a : r.attributions()) {
      if (a.release_id() != id ||
          a.event_index() >= static_cast<uint32_t>(r.events_size())) {
        continue;
      }
      const v1::ReportEvent& e = r.events(static_cast<int>(a.event_index()));
      const int cohort =
          a.cohort() == static_cast<int>(rollout::Cohort::kTreatment) ? 0
          : a.cohort() == static_cast<int>(rollout::Cohort::kControl) ? 1
                                                                      : -1;
      if (cohort < 0) continue;
      if (e.kind() == v1::ReportEvent::KIND_LAUNCH_OK) {
        ++launches[cohort][r.device_id()].ok;
      } else if (e.kind() == v1::ReportEvent::KIND_LAUNCH_CRASH) {
        ++launches[cohort][r.device_id()].crashed;
      }
    }
    for (const v1::ReportEvent& e : r.events()) {
      if ((e.kind() != v1::ReportEvent::KIND_APPLIED &&
           e.kind() != v1::ReportEvent::KIND_ACTIVATED) ||
          e.release_id() != id || e.traffic().empty()) {
        continue;
      }
      uint64_t bytes = 0;
      for (const v1::NetworkBytes& n : e.traffic()) bytes += n.bytes();
      uint64_t& kept = received[r.device_id()][StrCat(
          static_cast<int>(e.module().layer()), "/", e.module().name())];
      kept = std::max(kept, bytes);
    }
    return true;
  }));

  v1::ReleaseDistribution out;
  out.set_release_id(id);
  out.set_reports_scanned(scanned);
  for (int c = 0; c < 2; ++c) {
    v1::CohortDistribution* d = out.add_cohorts();
    d->set_cohort(c == 0 ? "treatment" : "control");
    uint64_t per_count[5] = {}, per_share[5] = {};
    for (const auto& [device, l] : launches[c]) {
      const uint64_t n = l.ok + l.crashed;
      if (n == 0) continue;
      d->set_devices(d->devices() + 1);
      d->set_launches(d->launches() + n);
      d->set_crashes(d->crashes() + l.crashed);
      ++per_count[n == 1 ? 0 : n <= 3 ? 1 : n <= 7 ? 2 : n <= 15 ? 3 : 4];
      // Shares compared in integers: crashed/n against 1/10 and 1/2.
      ++per_share[l.crashed == 0        ? 0
                  : l.crashed * 10 <= n ? 1
                  : l.crashed * 2 <= n  ? 2
                  : l.crashed < n       ? 3
                                        : 4];
    }
    const char* count_labels[] = {"1 launch", "2-3 launches", "4-7 launches",
                                  "8-15 launches", "16 or more launches"};
    const char* share_labels[] = {"none crashed", "up to 10% crashed",
                                  "over 10% to 50% crashed", "over 50% crashed",
                                  "every launch crashed"};
    for (int i = 0; i < 5; ++i) {
      AddDistributionBucket(d->mutable_launches_per_device(), count_labels[i],
                            per_count[i]);
      AddDistributionBucket(d->mutable_crash_share(), share_labels[i],
                            per_share[i]);
    }
  }
  std::vector<uint64_t> sizes;
  for (const auto& [device, modules] : received) {
    uint64_t total = 0;
    for (const auto& [module, bytes] : modules) total += bytes;
    sizes.push_back(total);
  }
  std::sort(sizes.begin(), sizes.end());
  out.set_download_devices(sizes.size());
  if (!sizes.empty()) {
    // Nearest rank: the smallest size at least q of the devices are at
    // or below.
    auto quantile = [&sizes](uint64_t percent) {
      const size_t rank = (sizes.size() * percent + 99) / 100;
      return sizes[std::max<size_t>(rank, 1) - 1];
    };
    uint64_t total = 0;
    for (uint64_t s : sizes) total += s;
    out.set_download_bytes_total(total);
    out.set_download_bytes_p50(quantile(50));
    out.set_download_bytes_p90(quantile(90));
    out.set_download_bytes_p99(quantile(99));
    out.set_download_bytes_max(sizes.back());
    // Ranges by powers of 16 from 1 KiB: < 1 KiB, 1-16 KiB, 16-256 KiB,
    // 256 KiB-4 MiB, 4-64 MiB, 64 MiB or more.
    const uint64_t bounds[] = {1024, 16 << 10, 256 << 10, 4 << 20, 64 << 20};
    uint64_t counts[6] = {};
    for (uint64_t s : sizes) {
      int i = 0;
      while (i < 5 && s >= bounds[i]) ++i;
      ++counts[i];
    }
    for (int i = 0; i < 6; ++i) {
      const std::string label =
          i == 0   ? StrCat("under ", DistributionBytesText(bounds[0]))
          : i == 5 ? StrCat(DistributionBytesText(bounds[4]), " or more")
                   : StrCat(DistributionBytesText(bounds[i - 1]), " to under ",
                            DistributionBytesText(bounds[i]));
      AddDistributionBucket(out.mutable_download_bytes(), label, counts[i]);
    }
  }
  return out;
}

}  // namespace strata::server
