#include "strata/rollout/sequential.h"

#include <math.h>  // lgamma_r: std::lgamma writes the global signgam

#include <algorithm>
#include <cmath>
#include <limits>

namespace strata::rollout {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double LogBeta(double a, double b) {
  int sign = 0;
  return lgamma_r(a, &sign) + lgamma_r(b, &sign) - lgamma_r(a + b, &sign);
}

// log of the mean of exp(terms), over the whole grid (a skipped
// alternative counts as weight given to E = 0, which keeps E an e-value).
double LogMixture(const std::array<double, kMixtureRatios.size()>& terms,
                  size_t used) {
  if (used == 0) return -kInf;
  double top = -kInf;
  for (size_t i = 0; i < used; ++i) top = std::max(top, terms[i]);
  if (top == -kInf) return -kInf;
  double sum = 0;
  for (size_t i = 0; i < used; ++i) sum += std::exp(terms[i] - top);
  return top + std::log(sum) -
         std::log(static_cast<double>(kMixtureRatios.size()));
}

// x * log(a), with 0 * log(0) = 0.
double XLogY(double x, double y) { return x == 0 ? 0 : x * std::log(y); }

// The set {p : logB(x+1, y+1) - x log p - y log(1-p) < log(1/alpha)}, an
// interval around x / (x + y) (where the left side is <= 0).
Interval BetaMixtureInterval(uint64_t x, uint64_t y, double alpha) {
  const double dx = static_cast<double>(x);
  const double dy = static_cast<double>(y);
  const double log_b = LogBeta(dx + 1, dy + 1);
  const double bound = std::log(1 / alpha);
  auto inside = [&](double p) {
    return log_b - XLogY(dx, p) - XLogY(dy, 1 - p) < bound;
  };
  const double mid = dx / (dx + dy);
  // Bisection between a point inside (mid) and one outside.
  auto edge = [&](double in, double out) {
    for (int i = 0; i < 100; ++i) {
      const double m = (in + out) / 2;
      (inside(m) ? in : out) = m;
    }
    return in;
  };
  Interval r;
  r.lower = (x == 0 || inside(0)) ? 0 : edge(mid, 0);
  r.upper = (y == 0 || inside(1)) ? 1 : edge(mid, 1);
  return r;
}

// Standard normal quantile by bisection on erfc (only sizing uses it).
double NormalQuantile(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double m = (lo + hi) / 2;
    (0.5 * std::erfc(-m / std::sqrt(2.0)) < p ? lo : hi) = m;
  }
  return (lo + hi) / 2;
}

}  // namespace

double LogEvidenceAboveRate(uint64_t x, uint64_t n, double p0) {
  if (n == 0 || !(p0 > 0 && p0 < 1)) return 0;
  const double dx = static_cast<double>(std::min(x, n));
  const double dy = static_cast<double>(n) - dx;
  std::array<double, kMixtureRatios.size()> terms{};
  size_t used = 0;
  for (double r : kMixtureRatios) {
    const double p = p0 * r;
    if (p >= 1) break;  // the grid rises: so do the rest
    terms[used++] = dx * std::log(p / p0) + dy * std::log((1 - p) / (1 - p0));
  }
  return LogMixture(terms, used);
}

double LogEvidenceAboveControl(uint64_t xt, uint64_t nt, uint64_t xc,
                               uint64_t nc) {
  if (nt == 0 || nc == 0 || xt + xc == 0) return 0;
  const double rho = static_cast<double>(nt) / static_cast<double>(nt + nc);
  const double dt = static_cast<double>(std::min(xt, nt));
  const double dc = static_cast<double>(std::min(xc, nc));
  std::array<double, kMixtureRatios.size()> terms{};
  size_t used = 0;
  for (double r : kMixtureRatios) {
    const double q = r * rho / (r * rho + 1 - rho);
    terms[used++] = dt * std::log(q / rho) + dc * std::log((1 - q) / (1 - rho));
  }
  return LogMixture(terms, used);
}

Interval RateInterval(uint64_t x, uint64_t n, double alpha) {
  if (n == 0) return {0, 1};
  x = std::min(x, n);
  return BetaMixtureInterval(x, n - x, alpha);
}

Interval RateRatioInterval(uint64_t xt, uint64_t nt, uint64_t xc, uint64_t nc,
                           double alpha) {
  if (nt == 0 || nc == 0 || xt + xc == 0) return {0, kInf};
  const double rho = static_cast<double>(nt) / static_cast<double>(nt + nc);
  const Interval q = BetaMixtureInterval(xt, xc, alpha);
  auto ratio = [&](double share) {
    if (share >= 1) return kInf;
    return share * (1 - rho) / (rho * (1 - share));
  };
  return {ratio(q.lower), ratio(q.upper)};
}

uint64_t DevicesToDetect(double baseline, double ratio, double alpha,
                         double power, bool against_control) {
  const double p0 = baseline;
  const double p1 = baseline * ratio;
  if (!(p0 > 0 && p0 < 1) || !(ratio > 1) || !(p1 < 1) ||
      !(alpha > 0 && alpha < 1) || !(power > 0 && power < 1)) {
    return 0;
  }
  const double z = NormalQuantile(power);
  const double c = std::log(static_cast<double>(kMixtureRatios.size()) / alpha);
  double best = kInf;
  for (double r : kMixtureRatios) {
    // Per device (per pair, against control) the log-likelihood ratio of
    // alternative r adds a*X + b*Y; its mean m and spread s under the
    // true rates.
    double m = 0;
    double s2 = 0;
    if (against_control) {
      const double rho = 0.5;  // equal cohorts
      const double q = r * rho / (r * rho + 1 - rho);
      const double a = std::log(q / rho);
      const double b = std::log((1 - q) / (1 - rho));
      m = a * p1 + b * p0;
      s2 = a * a * p1 * (1 - p1) + b * b * p0 * (1 - p0);
    } else {
      const double p = p0 * r;
      if (p >= 1) break;
      const double a = std::log(p / p0);
      const double b = std::log((1 - p) / (1 - p0));
      m = a * p1 + b * (1 - p1);
      s2 = (a - b) * (a - b) * p1 * (1 - p1);
    }
    if (!(m > 0)) continue;
    const double s = std::sqrt(s2);
    // n*m - z*s*sqrt(n) >= c, solved for sqrt(n).
    const double root = (z * s + std::sqrt(z * z * s2 + 4 * m * c)) / (2 * m);
    best = std::min(best, root * root);
  }
  if (best == kInf || best > 1e15) return 0;
  return static_cast<uint64_t>(std::ceil(best));
}

}  // namespace strata::rollout
