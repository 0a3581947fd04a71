#include "strata/server/core/delivery_core.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string_view>

#include "google/protobuf/util/message_differencer.h"
#include "strata/base/log.h"
#include "strata/base/mutex.h"
#include "strata/base/names.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/failure_signature.h"
#include "strata/server/core/health_store.h"
#include "strata/server/core/release_model.h"
#include "strata/server/core/validation.h"

namespace strata::server {

namespace {

// 1 to 64 characters of [0-9A-Za-z_-].
bool IsValidEventId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                    (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsFailureKind(v1::ReportEvent::Kind kind) {
  return kind == v1::ReportEvent::KIND_FAILURE ||
         kind == v1::ReportEvent::KIND_REMEDY_APPLIED;
}

// A FAILURE event carries a signature whose id matches its normalised
// fields; a REMEDY_APPLIED event a valid remedy id. Other kinds carry
// neither. Bounds every new field: devices are not authenticated.
absl::Status CheckFailureFields(const v1::ReportEvent& e, int i) {
  if (!IsFailureKind(e.kind())) {
    if (e.has_failure() || !e.remedy_id().empty()) {
      return absl::InvalidArgumentError(
          StrCat("report event ", i,
                 " carries a failure signature or remedy id but is not a "
                 "FAILURE or REMEDY_APPLIED event"));
    }
    return absl::OkStatus();
  }
  if (e.kind() == v1::ReportEvent::KIND_REMEDY_APPLIED) {
    if (absl::Status s = ValidateName("remedy id", e.remedy_id()); !s.ok()) {
      return absl::InvalidArgumentError(
          StrCat("report event ", i, ": ", ToStd(s.message())));
    }
    if (e.detail().size() > 256) {
      return absl::InvalidArgumentError(StrCat(
          "report event ", i, ": a remedy's detail is at most 256 bytes"));
    }
    if (!e.has_failure()) return absl::OkStatus();
    // The signature the rule matched on: its id only.
    v1::FailureSignature id_only;
    id_only.set_signature_id(e.failure().signature_id());
    if (!IsFailureSignatureId(e.failure().signature_id()) ||
        !google::protobuf::util::MessageDifferencer::Equals(id_only,
                                                            e.failure())) {
      return absl::InvalidArgumentError(
          StrCat("report event ", i,
                 ": a REMEDY_APPLIED event names the signature its rule "
                 "matched by signature_id (16 lowercase hex) only"));
    }
    return absl::OkStatus();
  } else if (!e.has_failure()) {
    return absl::InvalidArgumentError(
        StrCat("report event ", i,
               " is a FAILURE without a signature; send the failure's kind "
               "and exception type, frames or host hash"));
  }
  v1::FailureSignature normalised = e.failure();
  if (absl::Status s = NormalizeFailureSignature(normalised); !s.ok()) {
    return absl::InvalidArgumentError(
        StrCat("report event ", i, ": ", ToStd(s.message())));
  }
  const std::string id = FailureSignatureId(normalised);
  if (normalised.signature_id() != id ||
      !google::protobuf::util::MessageDifferencer::Equals(normalised,
                                                          e.failure())) {
    return absl::InvalidArgumentError(StrCat(
        "report event ", i, " has failure signature id '",
        e.failure().signature_id().substr(0, 32),
        "' but its normalised fields give '", id,
        "'; send the signature as the SDK normalises it (docs/remedies.md)"));
  }
  return absl::OkStatus();
}

bool HasFailureEvents(const v1::ReportRequest& request) {
  for (const v1::ReportEvent& e : request.events()) {
    if (IsFailureKind(e.kind())) return true;
  }
  return false;
}

// What the failure aggregates keep of the device: a few attributes, cut to
// the length of a name.
v1::FailureDevice FailureDeviceOf(const v1::DeviceContext& d) {
  auto cut = [](const std::string& v) { return v.substr(0, 128); };
  v1::FailureDevice f;
  f.set_os(cut(d.os()));
  f.set_os_version(cut(d.os_version()));
  f.set_app_version(cut(d.app_version()));
  f.set_device_model(cut(d.device_model()));
  f.set_region(cut(d.region()));
  return f;
}

bool IsLaunch(const v1::ReportEvent& e) {
  return e.kind() == v1::ReportEvent::KIND_LAUNCH_OK ||
         e.kind() == v1::ReportEvent::KIND_LAUNCH_CRASH;
}

}  // namespace

uint32_t DeliveryCore::Attribute(const AppSnapshot& snapshot,
                                 const v1::ReportTicket& ticket,
                                 v1::StoredReport& report) {
  std::map<uint64_t, const LiveRelease*> live;
  for (const LiveRelease& r : snapshot.releases) {
    live[r.record.release_id()] = &r;
  }
  // What the ticket counts this device for, among releases still live.
  std::map<uint64_t, const LiveRelease*> treatment;
  std::vector<const LiveRelease*> controls;
  for (const v1::ReportTicket::Counted& c : ticket.releases()) {
    auto it = live.find(c.release_id());
    if (it == live.end()) continue;
    const LiveRelease* r = it->second;
    if (c.cohort() == static_cast<int32_t>(rollout::Cohort::kTreatment)) {
      treatment[c.release_id()] = r;
    } else if (c.cohort() == static_cast<int32_t>(rollout::Cohort::kControl) &&
               !r->everyone && r->record.state() != v1::RELEASE_COMPLETED) {
      controls.push_back(r);
    }
  }
  auto add = [&](uint32_t index, const LiveRelease& r, rollout::Cohort c) {
    v1::HealthAttribution* a = report.add_attributions();
    a->set_event_index(index);
    a->set_release_id(r.record.release_id());
    a->set_stage(r.rollout.stage());
    a->set_cohort(static_cast<int32_t>(c));
  };
  uint32_t not_counted = 0;
  for (int i = 0; i < report.events_size(); ++i) {
    const v1::ReportEvent& e = report.events(i);
    const uint32_t index = static_cast<uint32_t>(i);
    if (IsFailureKind(e.kind())) {
      // Failures and remedies are aggregated by signature (FailureCore),
      // not in release health: the gates read launches.
      ++not_counted;
      continue;
    }
    // The releases the event is about: the one it names, and for a launch
    // every release the launch ran.
    std::set<uint64_t> ran;
    if (IsLaunch(e)) {
      ran.insert(e.release_ids().begin(), e.release_ids().end());
    }
    if (e.release_id() != 0) ran.insert(e.release_id());
    bool counted = false;
    for (uint64_t id : ran) {
      auto it = treatment.find(id);
      if (it == treatment.end()) continue;
      add(index, *it->second, rollout::Cohort::kTreatment);
      counted = true;
    }
    if (IsLaunch(e)) {
      for (const LiveRelease* r : controls) {
        if (ran.count(r->record.release_id()) > 0) continue;
        add(index, *r, rollout::Cohort::kControl);
        counted = true;
      }
    }
    if (!counted) ++not_counted;
  }
  return not_counted;
}

absl::StatusOr<const ReportTickets*> DeliveryCore::Tickets() {
  MutexLock lock(&tickets_mu_);
  if (tickets_ == nullptr) {
    STRATA_ASSIGN_OR_RETURN(
        tickets_, ReportTickets::Open(store_, options_.random != nullptr
                                                  ? options_.random
                                                  : SystemRandom()));
  }
  return tickets_.get();
}

Mutex& DeliveryCore::ReportLock(const std::string& app_id,
                                const std::string& device_id) {
  const size_t h = std::hash<std::string>()(StrCat(app_id, "/", device_id));
  return report_mu_[h % report_mu_.size()];
}

absl::StatusOr<v1::CheckResponse> DeliveryCore::Check(
    const v1::CheckRequest& request) {
  v1::CheckResponse response;
  STRATA_RETURN_IF_ERROR(Check(request, &response));
  return response;
}

absl::Status DeliveryCore::Check(const v1::CheckRequest& request,
                                 v1::CheckResponse* out) {
  v1::CheckResponse& response = *out;
  response.Clear();
  const v1::DeviceContext& device = request.device();
  STRATA_RETURN_IF_ERROR(ValidateName("app id", device.app_id()));
  if (device.device_id().empty()) {
    return absl::InvalidArgumentError(
        "device_id is empty; every device needs a stable id");
  }
  if (!snapshots_.AppExists(device.app_id())) {
    // An app this server never had: an empty plan, as for an app with no
    // releases yet, and nothing remembered (no snapshot, no device), so a
    // flood of made-up app ids costs no memory (docs/architecture.md).
    const absl::Time at = clock_->Now();
    v1::UpdatePlan* empty = response.mutable_plan();
    empty->set_app_id(device.app_id());
    empty->set_device_id(device.device_id());
    empty->set_issued_at_unix(absl::ToUnixSeconds(at));
    empty->set_expires_at_unix(
        absl::ToUnixSeconds(at + options_.plan_lifetime));
    return absl::OkStatus();
  }
  const InstalledMap installed = IndexInstalled(request.installed());
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const AppSnapshot> snapshot,
                          snapshots_.Get(device.app_id()));
  const absl::Time now = clock_->Now();
  if (fleet_ != nullptr) fleet_->SeeDevice(device, now, request.installed());
  const Selection selection =
      Select(*snapshot, ToAttributes(device), installed);
  v1::UpdatePlan* plan = response.mutable_plan();
  plan->set_app_id(device.app_id());
  plan->set_device_id(device.device_id());
  plan->set_issued_at_unix(absl::ToUnixSeconds(now));
  plan->set_expires_at_unix(absl::ToUnixSeconds(now + options_.plan_lifetime));
  {
    // The report ticket: the releases still being judged that count this
    // device's reports, as treatment (it runs or is told to run them) or
    // control (held back for comparison).
    STRATA_ASSIGN_OR_RETURN(const ReportTickets* tickets, Tickets());
    v1::ReportTicket ticket;
    ticket.set_app_id(device.app_id());
    ticket.set_device_id(device.device_id());
    ticket.set_issued_at_unix(plan->issued_at_unix());
    ticket.set_expires_at_unix(plan->expires_at_unix());
    const bool may_count =
        !options_.may_count_reports || options_.may_count_reports(device);
    for (const auto& [release, offer] : selection.offers) {
      if (!may_count) break;
      if (release->everyone) continue;
      const bool treatment =
          offer.cohort == rollout::Cohort::kTreatment && offer.applies;
      if (!treatment && offer.cohort != rollout::Cohort::kControl) continue;
      v1::ReportTicket::Counted* c = ticket.add_releases();
      c->set_release_id(release->record.release_id());
      c->set_cohort(static_cast<int32_t>(offer.cohort));
    }
    plan->set_report_ticket(tickets->Sign(ticket));
  }
  for (const auto& [entry, release] : selection.entries) {
    auto it = installed.find({entry->module().layer(), entry->module().name()});
    if (it != installed.end() &&
        it->second->content_sha256() == entry->statement().content_sha256()) {
      continue;  // already up to date
    }
    if (entry->revert_to_embedded() &&
        (it == installed.end() ||
         it->second->version() == kEmbeddedVersionLabel)) {
      continue;  // already runs its embedded version (or has nothing)
    }
    v1::UpdateEntry* offered = plan->add_updates();
    *offered = *entry;
    if (deltas_ != nullptr && it != installed.end() &&
        !entry->revert_to_embedded() && !it->second->content_sha256().empty()) {
      const std::string& from = it->second->content_sha256();
      const std::string& to = entry->statement().content_sha256();
      if (std::optional<v1::StoredDelta> d = deltas_->Lookup(from, to)) {
        // The tree patch first (it is stored only when smaller), for
        // devices that apply it; the byte patch after it as the fallback.
        if (request.accepts_tree_patches() && !d->tree_patch_sha256().empty()) {
          v1::DeltaRef* ref = offered->add_deltas();
          ref->set_from_sha256(from);
          ref->set_tree(true);
          ref->mutable_patch()->set_sha256(d->tree_patch_sha256());
          ref->mutable_patch()->set_size(d->tree_patch_size());
        }
        if (d->worthwhile()) {
          v1::DeltaRef* ref = offered->add_deltas();
          ref->set_from_sha256(from);
          ref->mutable_patch()->set_sha256(d->patch_sha256());
          ref->mutable_patch()->set_size(d->patch_size());
        }
        if (request.accepts_tree_patches() && !d->tree_patch_considered() &&
            deltas_->tree_patches()) {
          // Stored before stratad made tree patches: computed again.
          deltas_->Request(from, to, entry->statement().size());
        }
      } else {
        deltas_->Request(from, to, entry->statement().size());  // next time
      }
    }
  }
  if (trust_ != nullptr) {
    // After the snapshot: its director is in the view by now.
    if (std::shared_ptr<const TrustView> view = trust_->View(device.app_id())) {
      view->AppendNewerFiles(request.trusted(), response.mutable_metadata());
    }
  }
  return absl::OkStatus();
}

void DeliveryCore::NewerMetadata(
    const std::string& app_id, v1::TrustedVersions& sent,
    google::protobuf::RepeatedPtrField<v1::MetadataFile>* out) {
  if (trust_ == nullptr) return;
  std::shared_ptr<const TrustView> view = trust_->View(app_id);
  if (view == nullptr) return;
  view->AppendNewerFiles(sent, out);
  const v1::TrustedVersions now = view->Versions();
  sent.set_root(std::max(sent.root(), now.root()));
  sent.set_timestamp(std::max(sent.timestamp(), now.timestamp()));
  sent.set_snapshot(std::max(sent.snapshot(), now.snapshot()));
  sent.set_targets(std::max(sent.targets(), now.targets()));
  for (const auto& [role, version] : now.roles()) {
    uint64_t& have = (*sent.mutable_roles())[role];
    have = std::max(have, version);
  }
  sent.set_director(std::max(sent.director(), now.director()));
}

absl::StatusOr<std::set<std::string>> DeliveryCore::TargetsInUse(
    const std::string& app_id) {
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const AppSnapshot> snapshot,
                          snapshots_.Get(app_id));
  return snapshot->target_names;
}

void DeliveryCore::ReleasesChanged(const std::string& app_id) {
  snapshots_.Invalidate(app_id);
  if (trust_ != nullptr && trust_->HasTrust(app_id)) {
    // Rebuilt now, so the director is signed on the change, not on a
    // device's Check.
    if (absl::StatusOr<std::shared_ptr<const AppSnapshot>> s =
            snapshots_.Get(app_id);
        !s.ok()) {
      STRATA_LOG(Error) << "rebuilding the releases of app " << app_id << ": "
                        << s.status();
    }
  }
  watch_.Changed(app_id);  // wakes only this app's streams
}

std::shared_ptr<ConfigStream> DeliveryCore::WatchConfig(
    const v1::WatchConfigRequest& request, ConfigSink* sink) {
  return ConfigStream::Open(
      &watch_, request, sink,
      [this, app_id = request.device().app_id()](
          v1::TrustedVersions& sent,
          google::protobuf::RepeatedPtrField<v1::MetadataFile>* out) {
        NewerMetadata(app_id, sent, out);
      });
}

absl::StatusOr<std::vector<v1::UpdateEntry>> DeliveryCore::ConfigChanges(
    const v1::DeviceContext& device,
    std::map<std::string, v1::InstalledModule>& known) {
  std::shared_ptr<const ConfigPlan> plan =
      MakeConfigPlan(0, snapshots_.Get(device.app_id()));
  STRATA_RETURN_IF_ERROR(plan->status);
  std::vector<v1::UpdateEntry> changes;
  for (const v1::UpdateEntry* e :
       ConfigChangesFor(*plan, ToAttributes(device), known)) {
    changes.push_back(*e);
  }
  return changes;
}

absl::StatusOr<v1::ReportResponse> DeliveryCore::Report(
    const v1::ReportRequest& request, ReportStats* stats) {
  const v1::DeviceContext& device = request.device();
  STRATA_RETURN_IF_ERROR(ValidateName("app id", device.app_id()));
  if (device.device_id().empty()) {
    return absl::InvalidArgumentError(
        "device_id is empty; every device needs a stable id");
  }
  if (static_cast<uint32_t>(request.events_size()) >
      options_.max_report_events) {
    return absl::ResourceExhaustedError(
        StrCat("a report carries at most ", options_.max_report_events,
               " events; send the rest in another report"));
  }
  for (int i = 0; i < request.events_size(); ++i) {
    const v1::ReportEvent& e = request.events(i);
    if (e.kind() == v1::ReportEvent::KIND_UNSPECIFIED ||
        !v1::ReportEvent::Kind_IsValid(e.kind())) {
      return absl::InvalidArgumentError(
          StrCat("report event ", i, " has no valid kind"));
    }
    if (!IsValidEventId(e.event_id())) {
      return absl::InvalidArgumentError(StrCat(
          "report event ", i, " has event_id '", e.event_id().substr(0, 80),
          "'; every event needs a unique id of 1 to 64 characters of "
          "[0-9A-Za-z_-], kept when the event is sent again"));
    }
    STRATA_RETURN_IF_ERROR(CheckFailureFields(e, i));
  }
  if (!snapshots_.AppExists(device.app_id())) {
    // An app this server never had: its events count for nothing and are
    // not kept, so made-up app ids cannot fill the disk. Answered OK: the
    // device has nothing to send again.
    v1::ReportResponse response;
    response.set_not_counted(static_cast<uint32_t>(request.events_size()));
    if (stats != nullptr && request.events_size() > 0) {
      stats->not_counted_reason = "unknown_app";
    }
    return response;
  }
  const absl::Time now = clock_->Now();
  STRATA_ASSIGN_OR_RETURN(const ReportTickets* tickets, Tickets());
  const CheckedTicket ticket = tickets->Verify(
      request.ticket(), device.app_id(), device.device_id(), now);
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const AppSnapshot> snapshot,
                          snapshots_.Get(device.app_id()));
  v1::ReportResponse response;
  v1::StoredReport report;
  report.set_device_id(device.device_id());
  report.set_user_id(device.user_id());
  report.set_received_at_unix(absl::ToUnixSeconds(now));
  if (HasFailureEvents(request))
    *report.mutable_failure_device() = FailureDeviceOf(device);
  ReportHealth health;
  {
    // Dedupe and append as one step per device: two copies of a batch
    // sent at once cannot both be kept.
    MutexLock lock(&ReportLock(device.app_id(), device.device_id()));
    std::vector<std::string> ids;
    ids.reserve(static_cast<size_t>(request.events_size()));
    for (const v1::ReportEvent& e : request.events())
      ids.push_back(e.event_id());
    STRATA_ASSIGN_OR_RETURN(
        std::vector<bool> have,
        store_->HaveReportEvents(device.app_id(), device.device_id(), ids));
    std::set<std::string_view> seen;
    for (int i = 0; i < request.events_size(); ++i) {
      const v1::ReportEvent& e = request.events(i);
      if (have[static_cast<size_t>(i)] || !seen.insert(e.event_id()).second) {
        response.set_duplicates(response.duplicates() + 1);
        continue;
      }
      *report.add_events() = e;
    }
    if (report.events_size() == 0) return response;
    uint32_t not_counted = static_cast<uint32_t>(report.events_size());
    if (ticket.problem == TicketProblem::kNone) {
      not_counted = Attribute(*snapshot, ticket.ticket, report);
    }
    // The report and what it changes in the stored health aggregates
    // (the device's marks, under this lock) in one durable batch; the
    // in-memory figures count it once it is stored.
    STRATA_ASSIGN_OR_RETURN(health, CountReportHealth(*store_, report));
    STRATA_RETURN_IF_ERROR(
        store_->AppendReport(device.app_id(), report, &health.update));
    response.set_accepted(static_cast<uint32_t>(report.events_size()));
    response.set_not_counted(not_counted);
  }
  if (fleet_ != nullptr) ApplyHealth(fleet_->health(), health.update.buckets);
  const uint32_t repeated = health.repeated;
  if (stats != nullptr) {
    stats->repeated = repeated;
    if (response.not_counted() > 0) {
      stats->not_counted_reason = ticket.problem == TicketProblem::kNone
                                      ? std::string_view("not_offered")
                                      : TicketProblemName(ticket.problem);
    }
  }
  return response;
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> DeliveryCore::PruneReports() {
  const absl::Time before = clock_->Now() - options_.report_retention;
  STRATA_ASSIGN_OR_RETURN(auto pruned,
                          store_->PruneReports(absl::ToUnixSeconds(before)));
  if (pruned.first > 0) {
    STRATA_LOG(Info) << "pruned " << pruned.first << " device reports ("
                     << pruned.second << " events) received before "
                     << absl::FormatTime(before);
  }
  return pruned;
}

}  // namespace strata::server
