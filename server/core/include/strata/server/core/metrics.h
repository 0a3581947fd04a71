// Counters and latency histograms, exposed in Prometheus text format.
#ifndef STRATA_SERVER_CORE_METRICS_H_
#define STRATA_SERVER_CORE_METRICS_H_

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "strata/base/mutex.h"

namespace strata::server {

class Metrics {
 public:
  // Adds `n` to counter `name` with optional label set `labels` (already
  // formatted, e.g. `method="Check",code="OK"`).
  void Increment(const std::string& name, const std::string& labels = "",
                 uint64_t n = 1);
  // Records one observation in histogram `name` (seconds).
  void Observe(const std::string& name, const std::string& labels,
               absl::Duration d);
  uint64_t CounterValue(const std::string& name,
                        const std::string& labels = "") const;
  // Sets gauge `name` with `labels` to `value` (a size right now).
  void SetGauge(const std::string& name, const std::string& labels,
                int64_t value);
  int64_t GaugeValue(const std::string& name,
                     const std::string& labels = "") const;
  // Prometheus text exposition format 0.0.4.
  std::string Render() const;

 private:
  static constexpr std::array<double, 12> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable Mutex mu_;
  std::map<std::string, std::map<std::string, uint64_t>> counters_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, Histogram>> histograms_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, int64_t>> gauges_
      ABSL_GUARDED_BY(mu_);
};

// Counts one RPC and its latency when it goes out of scope.
class RpcTimer {
 public:
  RpcTimer(Metrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(absl::Now()) {}
  ~RpcTimer();
  void set_code(std::string code) { code_ = std::move(code); }

 private:
  Metrics* metrics_;
  std::string method_;
  std::string code_ = "OK";
  absl::Time start_;
};

}  // namespace strata::server

#endif  // STRATA_SERVER_CORE_METRICS_H_
