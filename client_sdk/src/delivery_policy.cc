#include "delivery_policy.h"

#include <algorithm>
#include <sstream>

#include "strata/base/file_util.h"
#include "strata/base/log.h"
#include "strata/base/strings.h"

namespace strata::client {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

bool Stricter(NetworkRequirement a, NetworkRequirement b) {
  return static_cast<int>(a) > static_cast<int>(b);
}

std::string HumanDuration(absl::Duration d) {
  return absl::FormatDuration(absl::Seconds(absl::ToInt64Seconds(d)));
}

}  // namespace

absl::StatusOr<v1::DeliveryPolicy> DeliveryFromCustom(const Json& delivery) {
  v1::DeliveryPolicy p;
  if (delivery.is_null()) return p;
  if (!delivery.is_object()) {
    return absl::InvalidArgumentError("custom \"delivery\" is not an object");
  }
  if (const Json* j = delivery.Find("on_demand")) {
    if (!j->is_bool()) {
      return absl::InvalidArgumentError("delivery.on_demand is not a boolean");
    }
    p.set_on_demand(j->as_bool());
  }
  if (const Json* j = delivery.Find("mandatory")) {
    if (!j->is_bool()) {
      return absl::InvalidArgumentError("delivery.mandatory is not a boolean");
    }
    p.set_mandatory(j->as_bool());
  }
  if (const Json* j = delivery.Find("network")) {
    if (!j->is_string() ||
        (j->as_string() != "any" && j->as_string() != "unmetered")) {
      return absl::InvalidArgumentError(
          "delivery.network must be \"any\" or \"unmetered\"");
    }
    p.set_network(j->as_string() == "unmetered" ? v1::NETWORK_UNMETERED_ONLY
                                                : v1::NETWORK_ANY);
  }
  if (const Json* j = delivery.Find("install")) {
    static const std::map<std::string, v1::InstallMode, std::less<>> kModes = {
        {"default", v1::INSTALL_DEFAULT},
        {"immediate", v1::INSTALL_IMMEDIATE},
        {"next_launch", v1::INSTALL_NEXT_LAUNCH},
        {"next_resume", v1::INSTALL_NEXT_RESUME}};
    auto it = j->is_string() ? kModes.find(j->as_string()) : kModes.end();
    if (it == kModes.end()) {
      return absl::InvalidArgumentError(
          "delivery.install must be \"default\", \"immediate\", "
          "\"next_launch\" or \"next_resume\"");
    }
    p.set_install_mode(it->second);
  }
  return p;
}

bool NetworkAllows(NetworkRequirement need, Network network) {
  if (network == Network::kOffline) return false;
  return need == NetworkRequirement::kAny || network == Network::kUnmetered;
}

NetworkRequirement EffectiveRequirement(
    const DownloadPolicy& app, const ModuleKey& key,
    const v1::DeliveryPolicy& signed_policy) {
  NetworkRequirement need =
      signed_policy.network() == v1::NETWORK_UNMETERED_ONLY
          ? NetworkRequirement::kUnmeteredOnly
          : NetworkRequirement::kAny;
  const auto layer = app.layer_networks.find(static_cast<Layer>(key.first));
  if (layer != app.layer_networks.end() && Stricter(layer->second, need)) {
    need = layer->second;
  }
  const auto module = app.module_networks.find(
      StrCat(LayerName(static_cast<Layer>(key.first)), "/", key.second));
  if (module != app.module_networks.end() && Stricter(module->second, need)) {
    need = module->second;
  }
  return need;
}

TrafficLedger TrafficLedger::Open(const Env& env, std::string path) {
  TrafficLedger ledger(env, std::move(path));
  ledger.day_ = ledger.Day();
  // A write cut by a crash.
  const std::string tmp = StrCat(ledger.path_, ".tmp");
  if (env.fs->Exists(tmp)) (void)env.fs->DeleteFile(tmp);
  absl::StatusOr<std::string> text = env.fs->ReadFile(ledger.path_);
  if (!text.ok()) return ledger;
  std::istringstream in(*text);
  std::string line, header;
  std::getline(in, header);
  if (header != "strata-traffic 1") {
    STRATA_LOG(Warning) << ledger.path_ << " is not a traffic ledger; "
                        << "starting a new one";
    return ledger;
  }
  int64_t day = -1;
  std::map<Network, uint64_t> today;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string kind;
    f >> kind;
    if (kind == "day") {
      f >> day;
    } else if (kind == "today" || kind == "total") {
      int network = 0;
      uint64_t bytes = 0;
      if (!(f >> network >> bytes) || network < 0 || network > 3) continue;
      (kind == "today" ? today : ledger.total_)[static_cast<Network>(network)] =
          bytes;
    } else if (kind == "backoff") {
      int layer = 0;
      std::string name;
      Backoff b;
      if (f >> layer >> name >> b.failures >> b.until_unix) {
        ledger.backoff_[{layer, name}] = b;
      }
    }
  }
  if (day == ledger.day_) ledger.today_ = std::move(today);
  return ledger;
}

int64_t TrafficLedger::Day() const {
  return absl::ToUnixSeconds(env_.clock->Now()) / kSecondsPerDay;
}

void TrafficLedger::Roll() {
  const int64_t day = Day();
  if (day != day_) {
    day_ = day;
    today_.clear();
    dirty_ = true;
  }
}

void TrafficLedger::Add(Network network, uint64_t bytes) {
  Roll();
  today_[network] += bytes;
  total_[network] += bytes;
  dirty_ = true;
}

uint64_t TrafficLedger::BytesToday() {
  Roll();
  uint64_t sum = 0;
  for (const auto& [n, b] : today_) sum += b;
  return sum;
}

std::map<Network, uint64_t> TrafficLedger::Today() {
  Roll();
  return today_;
}

std::optional<absl::Time> TrafficLedger::BackoffUntil(
    const ModuleKey& key) const {
  const auto it = backoff_.find(key);
  if (it == backoff_.end()) return std::nullopt;
  const absl::Time until = absl::FromUnixSeconds(it->second.until_unix);
  if (until <= env_.clock->Now()) return std::nullopt;
  return until;
}

void TrafficLedger::Failed(const ModuleKey& key, absl::Duration initial,
                           absl::Duration max) {
  Backoff& b = backoff_[key];
  ++b.failures;
  absl::Duration wait = initial;
  for (int i = 1; i < b.failures && wait < max; ++i) wait *= 2;
  wait = std::min(wait, max);
  b.until_unix = absl::ToUnixSeconds(env_.clock->Now() + wait);
  dirty_ = true;
}

void TrafficLedger::Succeeded(const ModuleKey& key) {
  if (backoff_.erase(key) > 0) dirty_ = true;
}

void TrafficLedger::Save() {
  Roll();
  if (!dirty_) return;
  std::string out = StrCat("strata-traffic 1\nday ", day_, "\n");
  for (const auto& [n, b] : today_) {
    out += StrCat("today ", static_cast<int>(n), " ", b, "\n");
  }
  for (const auto& [n, b] : total_) {
    out += StrCat("total ", static_cast<int>(n), " ", b, "\n");
  }
  for (const auto& [key, b] : backoff_) {
    out += StrCat("backoff ", key.first, " ", key.second, " ", b.failures, " ",
                  b.until_unix, "\n");
  }
  absl::Status s = WriteFileAtomically(*env_.fs, path_, out);
  if (!s.ok()) {
    STRATA_LOG(Warning) << "traffic ledger not saved: " << s.ToString();
    return;
  }
  dirty_ = false;
}

std::string WhyNotNow(const DownloadPolicy& app, const ModuleKey& key,
                      const v1::DeliveryPolicy& signed_policy,
                      uint64_t estimated_bytes, Network network,
                      TrafficLedger& ledger, absl::Time now,
                      bool user_waiting) {
  const NetworkRequirement need = EffectiveRequirement(app, key, signed_policy);
  if (!NetworkAllows(need, network)) {
    return network == Network::kOffline
               ? std::string("the device is offline")
               : StrCat("needs an unmetered network (now ",
                        NetworkName(network), ")");
  }
  if (user_waiting) return "";
  if (std::optional<absl::Time> until = ledger.BackoffUntil(key)) {
    return StrCat("backing off after a failed download; next try in ",
                  HumanDuration(*until - now));
  }
  if (app.daily_budget_bytes > 0) {
    const uint64_t used = ledger.BytesToday();
    if (used + estimated_bytes > app.daily_budget_bytes) {
      return StrCat("daily budget: ", used, " of ", app.daily_budget_bytes,
                    " bytes used today, this would need ", estimated_bytes,
                    " more");
    }
  }
  return "";
}

}  // namespace strata::client
