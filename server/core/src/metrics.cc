#include "strata/server/core/metrics.h"

#include <cstdio>

#include "strata/base/mutex.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

std::string WithLabels(const std::string& name, const std::string& labels,
                       const std::string& extra = "") {
  std::string all = labels;
  if (!extra.empty()) all = all.empty() ? extra : StrCat(all, ",", extra);
  return all.empty() ? name : StrCat(name, "{", all, "}");
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

}  // namespace

void Metrics::Increment(const std::string& name, const std::string& labels,
                        uint64_t n) {
  MutexLock lock(&mu_);
  counters_[name][labels] += n;
}

void Metrics::Observe(const std::string& name, const std::string& labels,
                      absl::Duration d) {
  const double seconds = absl::ToDoubleSeconds(d);
  MutexLock lock(&mu_);
  Histogram& h = histograms_[name][labels];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

uint64_t Metrics::CounterValue(const std::string& name,
                               const std::string& labels) const {
  MutexLock lock(&mu_);
  auto it = counters_.find(name);
  if (it == counters_.end()) return 0;
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? 0 : jt->second;
}

void Metrics::SetGauge(const std::string& name, const std::string& labels,
                       int64_t value) {
  MutexLock lock(&mu_);
  gauges_[name][labels] = value;
}

int64_t Metrics::GaugeValue(const std::string& name,
                            const std::string& labels) const {
  MutexLock lock(&mu_);
  auto it = gauges_.find(name);
  if (it == gauges_.end()) return 0;
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? 0 : jt->second;
}

std::string Metrics::Render() const {
  MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, series] : counters_) {
    out += StrCat("# TYPE ", name, " counter\n");
    for (const auto& [labels, v] : series) {
      out += StrCat(WithLabels(name, labels), " ", v, "\n");
    }
  }
  for (const auto& [name, series] : gauges_) {
    out += StrCat("# TYPE ", name, " gauge\n");
    for (const auto& [labels, v] : series) {
      out += StrCat(WithLabels(name, labels), " ", v, "\n");
    }
  }
  for (const auto& [name, series] : histograms_) {
    out += StrCat("# TYPE ", name, " histogram\n");
    for (const auto& [labels, h] : series) {
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        out += StrCat(WithLabels(name + "_bucket", labels,
                                 StrCat("le=\"", Number(kBuckets[i]), "\"")),
                      " ", h.buckets[i], "\n");
      }
      out += StrCat(WithLabels(name + "_bucket", labels, "le=\"+Inf\""), " ",
                    h.count, "\n");
      out +=
          StrCat(WithLabels(name + "_sum", labels), " ", Number(h.sum), "\n");
      out += StrCat(WithLabels(name + "_count", labels), " ", h.count, "\n");
    }
  }
  return out;
}

RpcTimer::~RpcTimer() {
  if (metrics_ == nullptr) return;
  const std::string labels = StrCat("method=\"", method_, "\"");
  metrics_->Increment("strata_rpc_requests_total",
                      StrCat(labels, ",code=\"", code_, "\""));
  metrics_->Observe("strata_rpc_latency_seconds", labels, absl::Now() - start_);
}

}  // namespace strata::server
