#include "strata/rollout/targeting.h"

#include <cstdio>

#include "strata/base/strings.h"
#include "strata/rollout/expression_explain.h"

namespace strata::rollout {
namespace {

std::string PercentOfBp(uint32_t bp) {
  char buf[32];
  if (bp % 100 == 0) {
    std::snprintf(buf, sizeof(buf), "%u%%", bp / 100);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f%%", bp / 100.0);
  }
  return buf;
}

// Collects nothing: the hot path.
struct NoReasons {
  template <typename F>
  void Add(F&&) {}
  template <typename F>
  void AddAll(F&&) {}
};
// Collects the reasons built by the callables.
struct Reasons {
  std::vector<std::string>* out;
  template <typename F>
  void Add(F&& make) {
    out->push_back(make());
  }
  template <typename F>
  void AddAll(F&& make) {
    for (std::string& line : make()) out->push_back(std::move(line));
  }
};

// `full` is only read for reasons (ExplainOffer passes it).
template <typename Sink>
Offer Decide(const OfferRule& r, const Rollout* full, const Segment& seg,
             std::string_view salt, const DeviceAttributes& d, bool installed,
             Sink& why) {
  Offer o;
  const uint64_t id = r.release_id;
  why.Add([&] { return full->Describe(); });
  if (installed) {
    if (r.keeps_installed_devices) {
      o.applies = true;
      o.cohort = Cohort::kTreatment;
      why.Add([&] {
        return std::string("already installed: devices that have it keep it");
      });
    } else {
      why.Add([&] {
        return std::string(
            "installed, but the release is not active (draft or rolled "
            "back)");
      });
    }
    why.Add([&] {
      return StrCat(o.applies ? "gets release " : "does not get release ", id);
    });
    return o;
  }
  o.match = seg.Match(d);
  switch (o.match) {
    case SegmentMatch::kDenied:
      why.Add([&] {
        return StrCat("denied by the deny list of segment '", seg.name(),
                      "' (user ", d.user_id, ")");
      });
      break;
    case SegmentMatch::kAllowed:
      o.cohort = Cohort::kTreatment;
      o.applies = r.accepts_new_devices;
      why.Add([&] {
        return StrCat("allowed by the allow list of segment '", seg.name(),
                      "' (user ", d.user_id,
                      "): expression and bucket bypassed");
      });
      break;
    case SegmentMatch::kNotMatched:
      why.Add([&] {
        return StrCat("segment '", seg.name(),
                      "' did not match: ", seg.expression().text());
      });
      why.AddAll([&] {
        std::vector<std::string> lines;
        for (std::string& c : ExplainFalseClauses(seg.expression().text(), d)) {
          lines.push_back(StrCat("  ", std::move(c)));
        }
        return lines;
      });
      break;
    case SegmentMatch::kMatched: {
      why.Add([&] {
        return StrCat("segment '", seg.name(),
                      "' matched: ", seg.expression().text());
      });
      o.bucketed = true;
      o.bucket = BucketOf(salt, BucketingId(d));
      const uint32_t exposure = r.exposure_bp;
      o.cohort = CohortOf(o.bucket, exposure);
      switch (o.cohort) {
        case Cohort::kTreatment:
          o.applies = r.accepts_new_devices;
          why.Add([&] {
            return StrCat("bucket ", o.bucket, " < ", exposure, " (",
                          PercentOfBp(exposure), "): treatment");
          });
          break;
        case Cohort::kControl:
          why.Add([&] {
            return StrCat("bucket ", o.bucket,
                          " >= ", kBucketCount - ControlSize(exposure),
                          ": control group, held back for comparison");
          });
          break;
        case Cohort::kOutside:
          why.Add([&] {
            return StrCat("bucket ", o.bucket, " >= ", exposure, " (",
                          PercentOfBp(exposure), "): not reached yet");
          });
          break;
      }
      break;
    }
  }
  if (!o.applies && o.cohort == Cohort::kTreatment) {
    why.Add([&] {
      return StrCat("the release takes no new devices while ",
                    ReleaseStateName(full->state()));
    });
  }
  why.Add([&] {
    return StrCat(o.applies ? "gets release " : "does not get release ", id);
  });
  return o;
}

}  // namespace

OfferRule RuleOf(const Rollout& rollout) {
  OfferRule rule;
  rule.release_id = rollout.release_id();
  rule.exposure_bp = rollout.exposure_bp();
  rule.accepts_new_devices = rollout.accepts_new_devices();
  rule.keeps_installed_devices = rollout.keeps_installed_devices();
  return rule;
}

Offer DecideOffer(const OfferRule& rule, const Segment& segment,
                  std::string_view salt, const DeviceAttributes& device,
                  bool installed) {
  NoReasons none;
  return Decide(rule, nullptr, segment, salt, device, installed, none);
}

Offer DecideOffer(const Rollout& rollout, const Segment& segment,
                  std::string_view salt, const DeviceAttributes& device,
                  bool installed) {
  return DecideOffer(RuleOf(rollout), segment, salt, device, installed);
}

OfferExplanation ExplainOffer(const Rollout& rollout, const Segment& segment,
                              const DeviceAttributes& device, bool installed) {
  OfferExplanation e;
  e.release_id = rollout.release_id();
  Reasons sink{&e.reasons};
  const std::string salt = rollout.spec().EffectiveSalt();
  e.offer =
      Decide(RuleOf(rollout), &rollout, segment, salt, device, installed, sink);
  return e;
}

}  // namespace strata::rollout
