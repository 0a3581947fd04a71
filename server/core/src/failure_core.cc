#include "strata/server/core/failure_core.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/failure_signature.h"
#include "strata/server/core/validation.h"

namespace strata::server {
namespace {

constexpr int64_t kWindowSeconds = 3600;
constexpr size_t kTopValues = 5;

struct SignatureTally {
  v1::FailureSignature first;
  uint64_t count = 0;
  std::set<std::string> devices;
  bool capped = false;
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  // release -> count, devices
  std::map<uint64_t, std::pair<uint64_t, std::set<std::string>>> releases;
  std::map<int64_t, std::pair<uint64_t, std::set<std::string>>> windows;
  std::map<std::string, uint64_t> versions;
  // attribute name -> value -> devices
  std::map<std::string, std::map<std::string, std::set<std::string>>> attrs;
  std::set<std::string> remedied;
};

struct RemedyTally {
  v1::RemedyCount info;
  std::set<std::string> devices;
};

// Everything one scan of an app's reports yields.
struct FailureScan {
  std::map<std::string, SignatureTally> signatures;
  // Launches reported per hour (the windows' denominators).
  std::map<int64_t, uint64_t> launches;
  std::map<std::string, RemedyTally> remedies;
  uint64_t reports = 0;
};

void AddDevice(std::set<std::string>& set, const std::string& device,
               bool* capped) {
  if (set.size() >= FailureCore::kMaxDevicesPerSignature &&
      set.count(device) == 0) {
    if (capped != nullptr) *capped = true;
    return;
  }
  set.insert(device);
}

int64_t HourOf(int64_t at) {
  return at - (at % kWindowSeconds + kWindowSeconds) % kWindowSeconds;
}

void CountFailure(SignatureTally& t, const v1::StoredReport& r,
                  const v1::ReportEvent& e) {
  const int64_t at = r.received_at_unix();
  if (t.count == 0) {
    t.first = e.failure();
    t.first_seen = at;
    t.last_seen = at;
  }
  ++t.count;
  t.first_seen = std::min(t.first_seen, at);
  t.last_seen = std::max(t.last_seen, at);
  AddDevice(t.devices, r.device_id(), &t.capped);
  auto& rel = t.releases[e.release_id()];
  ++rel.first;
  AddDevice(rel.second, r.device_id(), nullptr);
  auto& w = t.windows[HourOf(at)];
  ++w.first;
  AddDevice(w.second, r.device_id(), nullptr);
  if (!e.failure().module_version().empty()) {
    ++t.versions[e.failure().module_version()];
  }
  const v1::FailureDevice& d = r.failure_device();
  const std::pair<const char*, const std::string*> attrs[] = {
      {"os", &d.os()},
      {"os_version", &d.os_version()},
      {"app_version", &d.app_version()},
      {"device_model", &d.device_model()},
      {"region", &d.region()}};
  for (const auto& [name, value] : attrs) {
    if (value->empty()) continue;
    AddDevice(t.attrs[name][*value], r.device_id(), nullptr);
  }
}

absl::StatusOr<FailureScan> Scan(Store& store, const std::string& app_id,
                                 uint64_t release_id) {
  FailureScan scan;
  STRATA_RETURN_IF_ERROR(store.ForEachReport([&](std::string_view app,
                                                 const v1::StoredReport& r) {
    if (app != app_id) return true;
    ++scan.reports;
    for (const v1::ReportEvent& e : r.events()) {
      if (e.kind() == v1::ReportEvent::KIND_LAUNCH_OK ||
          e.kind() == v1::ReportEvent::KIND_LAUNCH_CRASH) {
        ++scan.launches[HourOf(r.received_at_unix())];
      } else if (e.kind() == v1::ReportEvent::KIND_FAILURE) {
        if (release_id != 0 && e.release_id() != release_id) continue;
        CountFailure(scan.signatures[e.failure().signature_id()], r, e);
      } else if (e.kind() == v1::ReportEvent::KIND_REMEDY_APPLIED) {
        RemedyTally& t = scan.remedies[e.remedy_id()];
        const int64_t at = r.received_at_unix();
        if (t.devices.empty()) {
          t.info.set_remedy_id(e.remedy_id());
          t.info.set_action(e.detail());
          *t.info.mutable_module() = e.module();
          t.info.set_first_applied_unix(at);
          t.info.set_last_applied_unix(at);
        }
        t.info.set_first_applied_unix(
            std::min(t.info.first_applied_unix(), at));
        t.info.set_last_applied_unix(std::max(t.info.last_applied_unix(), at));
        AddDevice(t.devices, r.device_id(), nullptr);
        if (e.has_failure() && !e.failure().signature_id().empty()) {
          // Counted below for signatures that have failures.
          scan.signatures[e.failure().signature_id()].remedied.insert(
              r.device_id());
        }
      }
    }
    return true;
  }));
  return scan;
}

v1::FailureInfo ToInfo(const SignatureTally& t,
                       const std::map<int64_t, uint64_t>& launches) {
  v1::FailureInfo info;
  *info.mutable_signature() = t.first;
  info.set_count(t.count);
  info.set_devices(t.devices.size());
  info.set_devices_capped(t.capped);
  info.set_first_seen_unix(t.first_seen);
  info.set_last_seen_unix(t.last_seen);
  std::vector<v1::FailureReleaseCount> releases;
  for (const auto& [id, c] : t.releases) {
    v1::FailureReleaseCount r;
    r.set_release_id(id);
    r.set_count(c.first);
    r.set_devices(c.second.size());
    releases.push_back(std::move(r));
  }
  std::stable_sort(
      releases.begin(), releases.end(),
      [](const auto& a, const auto& b) { return a.count() > b.count(); });
  for (auto& r : releases) *info.add_releases() = std::move(r);
  for (const auto& [name, values] : t.attrs) {
    std::vector<std::pair<std::string, uint64_t>> v;
    for (const auto& [value, devices] : values) {
      v.emplace_back(value, devices.size());
    }
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.second > b.second;
    });
    for (size_t i = 0; i < v.size() && i < kTopValues; ++i) {
      v1::AttributeCount* a = info.add_top_attributes();
      a->set_name(name);
      a->set_value(v[i].first);
      a->set_devices(v[i].second);
    }
  }
  // Every hour from the first report of the signature on that has
  // failures or launches: an hour with launches and no failure (after a
  // remedy, say) shows the rate dropping to 0.
  std::map<int64_t, std::pair<uint64_t, size_t>> hours;
  for (const auto& [hour, c] : t.windows) {
    hours[hour] = {c.first, c.second.size()};
  }
  if (!t.windows.empty()) {
    for (auto it = launches.lower_bound(t.windows.begin()->first);
         it != launches.end(); ++it) {
      hours.try_emplace(it->first, 0, 0);
    }
  }
  for (const auto& [hour, c] : hours) {
    v1::FailureWindow* w = info.add_windows();
    w->set_hour_unix(hour);
    w->set_count(c.first);
    w->set_devices(c.second);
    auto l = launches.find(hour);
    w->set_launches(l == launches.end() ? 0 : l->second);
  }
  std::vector<std::pair<std::string, uint64_t>> versions(t.versions.begin(),
                                                         t.versions.end());
  std::stable_sort(
      versions.begin(), versions.end(),
      [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [version, count] : versions) {
    v1::FailureVersionCount* v = info.add_versions();
    v->set_version(version);
    v->set_count(count);
  }
  info.set_remedied_devices(t.remedied.size());
  return info;
}

}  // namespace

absl::StatusOr<v1::ListFailuresResponse> FailureCore::List(
    const Principal& who, const v1::ListFailuresRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(), "failures.view"));
  if (req.limit() > 1000) {
    return absl::InvalidArgumentError(
        StrCat("limit ", req.limit(), " is over 1000; ask for fewer"));
  }
  const size_t limit = req.limit() == 0 ? 100 : req.limit();
  STRATA_ASSIGN_OR_RETURN(FailureScan scan,
                          Scan(*store_, req.app_id(), req.release_id()));
  v1::ListFailuresResponse response;
  response.set_reports_scanned(scan.reports);
  std::vector<const SignatureTally*> order;
  for (const auto& [id, t] : scan.signatures) {
    if (t.count > 0) order.push_back(&t);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const SignatureTally* a, const SignatureTally* b) {
                     return a->count > b->count;
                   });
  for (size_t i = 0; i < order.size() && i < limit; ++i) {
    *response.add_failures() = ToInfo(*order[i], scan.launches);
  }
  for (auto& [id, t] : scan.remedies) {
    t.info.set_devices(t.devices.size());
    *response.add_remedies() = t.info;
  }
  if (response.failures().empty() && response.remedies().empty()) {
    STRATA_RETURN_IF_ERROR(RequireKnownApp(*store_, trust_, req.app_id()));
  }
  return response;
}

absl::StatusOr<v1::FailureInfo> FailureCore::Get(
    const Principal& who, const v1::GetFailureRequest& req) {
  STRATA_RETURN_IF_ERROR(ValidateName("app id", req.app_id()));
  STRATA_RETURN_IF_ERROR(
      AuthCore::Authorize(who, v1::ROLE_VIEWER, req.app_id(), "failures.view"));
  if (!IsFailureSignatureId(req.signature_id())) {
    return absl::InvalidArgumentError(
        StrCat("'", req.signature_id().substr(0, 64),
               "' is not a failure signature id (16 lowercase hex digits, as "
               "`strata failures list` shows)"));
  }
  STRATA_ASSIGN_OR_RETURN(FailureScan scan, Scan(*store_, req.app_id(), 0));
  auto it = scan.signatures.find(req.signature_id());
  if (it == scan.signatures.end() || it->second.count == 0) {
    STRATA_RETURN_IF_ERROR(RequireKnownApp(*store_, trust_, req.app_id()));
    return absl::NotFoundError(StrCat(
        "no stored report of app ", req.app_id(), " has failure signature ",
        req.signature_id(), "; `strata failures list --app ", req.app_id(),
        "` shows the signatures reported"));
  }
  return ToInfo(it->second, scan.launches);
}

}  // namespace strata::server
