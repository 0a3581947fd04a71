#include "strata/server/core/delivery_core.h"

#include <map>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/server/core/validation.h"

namespace strata::server {

absl::StatusOr<v1::CheckResponse> DeliveryCore::Check(
    const v1::CheckRequest& request) {
  const v1::DeviceContext& device = request.device();
  STRATA_RETURN_IF_ERROR(ValidateName("app id", device.app_id()));
  if (device.device_id().empty()) {
    return absl::InvalidArgumentError(
        "device_id is empty; every device needs a stable id");
  }
  std::map<std::pair<int, std::string>, const v1::InstalledModule*> installed;
  for (const auto& m : request.installed()) {
    installed[{m.module().layer(), m.module().name()}] = &m;
  }
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const AppSnapshot> snapshot,
                          snapshots_.Get(device.app_id()));
  v1::CheckResponse response;
  v1::UpdatePlan* plan = response.mutable_plan();
  const absl::Time now = clock_->Now();
  plan->set_app_id(device.app_id());
  plan->set_device_id(device.device_id());
  plan->set_issued_at_unix(absl::ToUnixSeconds(now));
  plan->set_expires_at_unix(absl::ToUnixSeconds(now + options_.plan_lifetime));
  for (const v1::UpdateEntry& entry : snapshot->entries) {
    auto it = installed.find({entry.module().layer(), entry.module().name()});
    if (it != installed.end() &&
        it->second->content_sha256() == entry.statement().content_sha256()) {
      continue;  // already up to date
    }
    v1::UpdateEntry* offered = plan->add_updates();
    *offered = entry;
    if (deltas_ != nullptr && it != installed.end() &&
        !it->second->content_sha256().empty()) {
      const std::string& from = it->second->content_sha256();
      const std::string& to = entry.statement().content_sha256();
      if (std::optional<v1::StoredDelta> d = deltas_->Lookup(from, to)) {
        v1::DeltaRef* ref = offered->add_deltas();
        ref->set_from_sha256(from);
        ref->mutable_patch()->set_sha256(d->patch_sha256());
        ref->mutable_patch()->set_size(d->patch_size());
      } else {
        deltas_->Request(from, to, entry.statement().size());  // for next time
      }
    }
  }
  return response;
}

void DeliveryCore::ReleasesChanged(const std::string& app_id) {
  snapshots_.Invalidate(app_id);
  {
    std::lock_guard<std::mutex> lock(change_mu_);
    ++change_counter_[app_id];
  }
  change_cv_.notify_all();
}

uint64_t DeliveryCore::ChangeCounter(const std::string& app_id) {
  std::lock_guard<std::mutex> lock(change_mu_);
  return change_counter_[app_id];
}

bool DeliveryCore::WaitForChange(const std::string& app_id, uint64_t seen,
                                 absl::Time deadline) {
  std::unique_lock<std::mutex> lock(change_mu_);
  return change_cv_.wait_until(lock, absl::ToChronoTime(deadline),
                               [&] { return change_counter_[app_id] != seen; });
}

absl::StatusOr<std::vector<v1::UpdateEntry>> DeliveryCore::ConfigChanges(
    const std::string& app_id, std::map<std::string, std::string>& known) {
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const AppSnapshot> snapshot,
                          snapshots_.Get(app_id));
  std::vector<v1::UpdateEntry> changes;
  for (const v1::UpdateEntry& entry : snapshot->entries) {
    if (entry.module().layer() != v1::LAYER_CONFIG) continue;
    std::string& sha = known[entry.module().name()];
    if (sha == entry.statement().content_sha256()) continue;
    sha = entry.statement().content_sha256();
    changes.push_back(entry);
  }
  return changes;
}

absl::StatusOr<v1::ReportResponse> DeliveryCore::Report(
    const v1::ReportRequest& request) {
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
  for (const auto& e : request.events()) {
    if (e.kind() == v1::ReportEvent::KIND_UNSPECIFIED ||
        !v1::ReportEvent::Kind_IsValid(e.kind())) {
      return absl::InvalidArgumentError("a report event has no valid kind");
    }
  }
  v1::StoredReport report;
  report.set_device_id(device.device_id());
  report.set_user_id(device.user_id());
  report.set_received_at_unix(absl::ToUnixSeconds(clock_->Now()));
  *report.mutable_events() = request.events();
  STRATA_RETURN_IF_ERROR(store_->AppendReport(device.app_id(), report));
  v1::ReportResponse response;
  response.set_accepted(static_cast<uint32_t>(request.events_size()));
  return response;
}

}  // namespace strata::server
