#include "strata/signing/director.h"

#include <algorithm>
#include <set>

#include "json_fields.h"
#include "strata/base/bucketing.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/rollout/user_id_set.h"

namespace strata::signing {

using internal::Fields;
using internal::Malformed;

namespace {

constexpr uint32_t kMaxExposureBp = 10000;

Json JsonStrings(const std::vector<std::string>& values) {
  Json a = Json::MakeArray();
  for (const std::string& v : values) a.Append(v);
  return a;
}

// A user id exactly as rollout::UserIdSet stores it (no trimming, no
// comment lines), so the compiled set holds every listed id.
bool IsListableUserId(std::string_view id) {
  if (id.empty() || id.size() > rollout::kMaxUserIdBytes || id[0] == '#') {
    return false;
  }
  for (char c : id) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

absl::StatusOr<rollout::UserIdSet> CompileList(
    std::string_view segment, std::string_view list,
    const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    if (!IsListableUserId(id)) {
      return Malformed(strata::StrCat(
          "director metadata: segment '", segment, "': ", list, " entry \"",
          id.substr(0, 64), "\" is not a user id (non-empty, at most ",
          rollout::kMaxUserIdBytes,
          " bytes, no whitespace or control characters, not starting with "
          "'#')"));
    }
  }
  absl::StatusOr<rollout::UserIdSet> set = rollout::UserIdSet::FromIds(ids);
  if (!set.ok()) {
    return Malformed(strata::StrCat("director metadata: segment '", segment,
                                    "': ", list, ": ",
                                    ToStd(set.status().message())));
  }
  return set;
}

absl::StatusOr<std::shared_ptr<const rollout::Segment>> CompileSegment(
    const std::string& name, const DirectorSegment& segment) {
  STRATA_ASSIGN_OR_RETURN(
      rollout::UserIdSet allow,
      CompileList(name, "allow_user_ids", segment.allow_user_ids));
  STRATA_ASSIGN_OR_RETURN(
      rollout::UserIdSet deny,
      CompileList(name, "deny_user_ids", segment.deny_user_ids));
  absl::StatusOr<rollout::Segment> compiled = rollout::Segment::Create(
      name, segment.expression, std::move(allow), std::move(deny));
  if (!compiled.ok()) {
    // Segment::Create names the segment already ("segment '<name>': ...").
    std::string message(ToStd(compiled.status().message()));
    if (message.find(strata::StrCat("'", name, "'")) == std::string::npos) {
      message = strata::StrCat("segment '", name, "': ", message);
    }
    return Malformed(strata::StrCat("director metadata: ", message));
  }
  return std::make_shared<const rollout::Segment>(*std::move(compiled));
}

// Checks one release rule against the listed segments.
absl::Status CheckRelease(const DirectorMetadata& d, size_t index,
                          const DirectorAssignment& a) {
  if (!a.release.has_value()) return absl::OkStatus();
  const std::string where =
      strata::StrCat("director metadata: assignment ", index);
  const DirectorRelease& r = *a.release;
  if (!a.device_ids.empty() || a.buckets.has_value()) {
    return Malformed(strata::StrCat(
        where, " (release ", r.rule.release_id,
        ") has a release rule and also device_ids or buckets; an assignment "
        "is selected by one or the other"));
  }
  if (r.rule.exposure_bp > kMaxExposureBp) {
    return Malformed(strata::StrCat(where, " (release ", r.rule.release_id,
                                    ") has exposure_bp ", r.rule.exposure_bp,
                                    ", above ", kMaxExposureBp));
  }
  if (d.segments.find(r.segment) == d.segments.end()) {
    return Malformed(strata::StrCat(where, " (release ", r.rule.release_id,
                                    ") names segment '", r.segment,
                                    "', which `segments` does not list"));
  }
  return absl::OkStatus();
}

}  // namespace

bool DirectorRelease::operator==(const DirectorRelease& o) const {
  return rule.release_id == o.rule.release_id &&
         rule.exposure_bp == o.rule.exposure_bp &&
         rule.accepts_new_devices == o.rule.accepts_new_devices &&
         rule.keeps_installed_devices == o.rule.keeps_installed_devices &&
         segment == o.segment && salt == o.salt && everyone == o.everyone;
}

bool SameDirectorContent(const DirectorMetadata& a, const DirectorMetadata& b) {
  return a.common.spec_version == b.common.spec_version &&
         a.common.version == b.common.version &&
         a.common.expires == b.common.expires && a.app_id == b.app_id &&
         a.segments == b.segments && a.assignments == b.assignments;
}

absl::Status CompileDirectorSegments(DirectorMetadata& director) {
  std::map<std::string, std::shared_ptr<const rollout::Segment>> compiled;
  for (const auto& [name, segment] : director.segments) {
    STRATA_ASSIGN_OR_RETURN(compiled[name], CompileSegment(name, segment));
  }
  for (size_t i = 0; i < director.assignments.size(); ++i) {
    STRATA_RETURN_IF_ERROR(CheckRelease(director, i, director.assignments[i]));
  }
  director.compiled = std::move(compiled);
  return absl::OkStatus();
}

uint32_t RolloutBucket(std::string_view subject_id, std::string_view salt) {
  return ::strata::RolloutBucket(salt, subject_id);  // strata/base/bucketing.h
}

Json ToJson(const DirectorMetadata& director) {
  Json j = Json::MakeObject();
  j["_type"] = "director";
  j["spec_version"] = director.common.spec_version;
  j["version"] = director.common.version;
  j["expires"] = FormatTufTime(director.common.expires);
  j["app"] = director.app_id;
  if (!director.segments.empty()) {
    Json segments = Json::MakeObject();
    for (const auto& [name, seg] : director.segments) {
      Json sj = Json::MakeObject();
      sj["expression"] = seg.expression;
      sj["allow_user_ids"] = JsonStrings(seg.allow_user_ids);
      sj["deny_user_ids"] = JsonStrings(seg.deny_user_ids);
      segments[name] = std::move(sj);
    }
    j["segments"] = std::move(segments);
  }
  Json assignments = Json::MakeArray();
  for (const DirectorAssignment& a : director.assignments) {
    Json aj = Json::MakeObject();
    if (!a.device_ids.empty()) {
      Json ids = Json::MakeArray();
      for (const std::string& id : a.device_ids) ids.Append(id);
      aj["device_ids"] = std::move(ids);
    }
    if (a.buckets.has_value()) {
      aj["buckets"]["salt"] = a.buckets->salt;
      aj["buckets"]["begin"] = a.buckets->begin;
      aj["buckets"]["end"] = a.buckets->end;
    }
    if (a.release.has_value()) {
      const DirectorRelease& r = *a.release;
      Json rj = Json::MakeObject();
      rj["id"] = r.rule.release_id;
      rj["segment"] = r.segment;
      rj["salt"] = r.salt;
      rj["exposure_bp"] = r.rule.exposure_bp;
      rj["accepts_new"] = r.rule.accepts_new_devices;
      rj["keeps_installed"] = r.rule.keeps_installed_devices;
      rj["everyone"] = r.everyone;
      aj["release"] = std::move(rj);
    }
    Json modules = Json::MakeObject();
    for (const auto& [key, t] : a.modules) {
      Json tj = Json::MakeObject();
      tj["target"] = t.target;
      tj["length"] = t.length;
      Json hashes = Json::MakeObject();
      for (const auto& [algo, hex] : t.hashes) hashes[algo] = hex;
      tj["hashes"] = std::move(hashes);
      tj["release_counter"] = t.release_counter;
      modules[key] = std::move(tj);
    }
    aj["modules"] = std::move(modules);
    assignments.Append(std::move(aj));
  }
  j["assignments"] = std::move(assignments);
  return j;
}

absl::StatusOr<DirectorMetadata> ParseDirector(const Json& signed_part) {
  Fields f(signed_part, "director", "signed");
  STRATA_RETURN_IF_ERROR(f.CheckObject());
  STRATA_ASSIGN_OR_RETURN(std::string type, f.String("_type"));
  if (type != "director") {
    return Reject(RejectReason::kWrongMetadataType,
                  absl::StatusCode::kInvalidArgument,
                  strata::StrCat("director metadata: signed._type is \"", type,
                                 "\", expected \"director\""));
  }
  DirectorMetadata d;
  STRATA_ASSIGN_OR_RETURN(d.common.spec_version, f.String("spec_version"));
  if (d.common.spec_version.substr(0, 2) != "1.") {
    return f.Error("spec_version", "is not a 1.x version");
  }
  STRATA_ASSIGN_OR_RETURN(d.common.version, f.Uint("version"));
  if (d.common.version == 0) return f.Error("version", "must be at least 1");
  STRATA_ASSIGN_OR_RETURN(std::string expires, f.String("expires"));
  absl::StatusOr<absl::Time> t = ParseTufTime(expires);
  if (!t.ok()) return f.Error("expires", ToStd(t.status().message()));
  d.common.expires = *t;
  STRATA_ASSIGN_OR_RETURN(d.app_id, f.String("app"));
  STRATA_ASSIGN_OR_RETURN(const Json* segments, f.Object("segments", false));
  if (segments != nullptr) {
    for (const auto& [name, sj] : segments->as_object()) {
      Fields sf(sj, "director",
                f.PathOf(strata::StrCat("segments[", name, "]")));
      STRATA_RETURN_IF_ERROR(sf.CheckObject());
      DirectorSegment seg;
      STRATA_ASSIGN_OR_RETURN(seg.expression, sf.String("expression"));
      for (const char* list : {"allow_user_ids", "deny_user_ids"}) {
        STRATA_ASSIGN_OR_RETURN(const Json* ids, sf.Array(list, false));
        if (ids == nullptr) continue;
        std::vector<std::string>& out =
            std::string_view(list) == "allow_user_ids" ? seg.allow_user_ids
                                                       : seg.deny_user_ids;
        for (const Json& id : ids->as_array()) {
          if (!id.is_string()) return sf.Error(list, "must contain strings");
          out.push_back(id.as_string());
        }
      }
      d.segments.emplace(name, std::move(seg));
    }
  }
  STRATA_ASSIGN_OR_RETURN(const Json* assignments, f.Array("assignments"));
  size_t i = 0;
  for (const Json& aj : assignments->as_array()) {
    Fields af(aj, "director", strata::StrCat("signed.assignments[", i++, "]"));
    STRATA_RETURN_IF_ERROR(af.CheckObject());
    DirectorAssignment a;
    STRATA_ASSIGN_OR_RETURN(const Json* ids, af.Array("device_ids", false));
    if (ids != nullptr) {
      for (const Json& id : ids->as_array()) {
        if (!id.is_string() || id.as_string().empty()) {
          return af.Error("device_ids", "must contain non-empty strings");
        }
        a.device_ids.push_back(id.as_string());
      }
      if (a.device_ids.empty()) {
        return af.Error("device_ids", "must not be empty when present");
      }
    }
    STRATA_ASSIGN_OR_RETURN(const Json* buckets, af.Object("buckets", false));
    if (buckets != nullptr) {
      Fields bf(*buckets, "director", af.PathOf("buckets"));
      BucketRange r;
      STRATA_ASSIGN_OR_RETURN(r.salt, bf.String("salt"));
      STRATA_ASSIGN_OR_RETURN(uint64_t begin, bf.Uint("begin"));
      STRATA_ASSIGN_OR_RETURN(uint64_t end, bf.Uint("end"));
      if (begin > end || end > kBucketCount) {
        return bf.Error(
            "end", strata::StrCat("range [", begin, ", ", end,
                                  ") is not within [0, ", kBucketCount, ")"));
      }
      r.begin = static_cast<uint32_t>(begin);
      r.end = static_cast<uint32_t>(end);
      a.buckets = std::move(r);
    }
    STRATA_ASSIGN_OR_RETURN(const Json* release, af.Object("release", false));
    if (release != nullptr) {
      Fields rf(*release, "director", af.PathOf("release"));
      DirectorRelease r;
      STRATA_ASSIGN_OR_RETURN(r.rule.release_id, rf.Uint("id"));
      if (r.rule.release_id == 0) return rf.Error("id", "must be at least 1");
      STRATA_ASSIGN_OR_RETURN(r.segment, rf.String("segment"));
      STRATA_ASSIGN_OR_RETURN(r.salt, rf.String("salt"));
      if (r.salt.empty()) return rf.Error("salt", "must not be empty");
      STRATA_ASSIGN_OR_RETURN(uint64_t exposure, rf.Uint("exposure_bp"));
      if (exposure > kMaxExposureBp) {
        return rf.Error("exposure_bp",
                        strata::StrCat("is ", exposure, ", above ",
                                       kMaxExposureBp, " (100%)"));
      }
      r.rule.exposure_bp = static_cast<uint32_t>(exposure);
      STRATA_ASSIGN_OR_RETURN(r.rule.accepts_new_devices,
                              rf.Bool("accepts_new"));
      STRATA_ASSIGN_OR_RETURN(r.rule.keeps_installed_devices,
                              rf.Bool("keeps_installed"));
      STRATA_ASSIGN_OR_RETURN(r.everyone, rf.Bool("everyone"));
      if (ids != nullptr || buckets != nullptr) {
        return af.Error("release",
                        "must not be combined with device_ids or buckets");
      }
      if (d.segments.find(r.segment) == d.segments.end()) {
        return rf.Error("segment",
                        strata::StrCat("names \"", r.segment,
                                       "\", which signed.segments does not "
                                       "list"));
      }
      a.release = std::move(r);
    }
    STRATA_ASSIGN_OR_RETURN(const Json* modules, af.Object("modules"));
    for (const auto& [key, tj] : modules->as_object()) {
      Fields tf(tj, "director",
                af.PathOf(strata::StrCat("modules[", key, "]")));
      STRATA_RETURN_IF_ERROR(tf.CheckObject());
      const size_t slash = key.find('/');
      if (slash == std::string::npos ||
          !ParseLayer(key.substr(0, slash)).has_value() ||
          !IsValidModuleName(key.substr(slash + 1))) {
        return af.Error(
            "modules",
            strata::StrCat("key \"", key, "\" is not <layer>/<module>"));
      }
      DirectorTarget dt;
      STRATA_ASSIGN_OR_RETURN(dt.target, tf.String("target"));
      STRATA_ASSIGN_OR_RETURN(dt.length, tf.Uint("length"));
      STRATA_ASSIGN_OR_RETURN(dt.hashes, tf.Hashes("hashes", true));
      STRATA_ASSIGN_OR_RETURN(dt.release_counter, tf.Uint("release_counter"));
      a.modules.emplace(key, std::move(dt));
    }
    d.assignments.push_back(std::move(a));
  }
  STRATA_RETURN_IF_ERROR(CompileDirectorSegments(d));
  return d;
}

namespace {

bool HoldsRelease(const DirectorAssignment& a,
                  const std::map<std::string, uint64_t>& installed) {
  for (const auto& [key, t] : a.modules) {
    auto it = installed.find(key);
    if (it != installed.end() && it->second == t.release_counter) return true;
  }
  return false;
}

bool ReleaseApplies(const DirectorMetadata& director,
                    const DirectorAssignment& a,
                    const rollout::DeviceAttributes& device,
                    const std::map<std::string, uint64_t>& installed) {
  const DirectorRelease& r = *a.release;
  if (r.everyone) return true;
  std::shared_ptr<const rollout::Segment> segment;
  if (auto it = director.compiled.find(r.segment);
      it != director.compiled.end() && it->second != nullptr) {
    segment = it->second;
  } else if (auto s = director.segments.find(r.segment);
             s != director.segments.end()) {
    // Built in memory without CompileDirectorSegments: compile here.
    absl::StatusOr<std::shared_ptr<const rollout::Segment>> compiled =
        CompileSegment(r.segment, s->second);
    if (!compiled.ok()) return false;
    segment = *std::move(compiled);
  } else {
    return false;
  }
  return rollout::DecideOffer(r.rule, *segment, r.salt, device,
                              HoldsRelease(a, installed))
      .applies;
}

}  // namespace

std::map<std::string, DirectorChoice> DirectorChoicesFor(
    const DirectorMetadata& director, const rollout::DeviceAttributes& device,
    const std::map<std::string, uint64_t>& installed) {
  std::map<std::string, DirectorChoice> out;
  for (const DirectorAssignment& a : director.assignments) {
    bool match;
    if (a.release.has_value()) {
      match = ReleaseApplies(director, a, device, installed);
    } else if (!a.device_ids.empty()) {
      match = std::find(a.device_ids.begin(), a.device_ids.end(),
                        device.device_id) != a.device_ids.end();
    } else if (a.buckets.has_value()) {
      const uint32_t b =
          RolloutBucket(rollout::BucketingId(device), a.buckets->salt);
      match = b >= a.buckets->begin && b < a.buckets->end;
    } else {
      match = true;
    }
    if (!match) continue;
    const uint64_t release_id =
        a.release.has_value() ? a.release->rule.release_id : 0;
    for (const auto& [key, t] : a.modules) {
      out.emplace(key, DirectorChoice{t, release_id});
    }
  }
  return out;
}

std::map<std::string, DirectorTarget> DirectorTargetsFor(
    const DirectorMetadata& director, std::string_view device_id,
    std::string_view subject_id) {
  rollout::DeviceAttributes device;
  device.device_id = std::string(device_id);
  if (subject_id != device_id) device.user_id = std::string(subject_id);
  std::map<std::string, DirectorTarget> out;
  for (auto& [key, choice] : DirectorChoicesFor(director, device, {})) {
    out.emplace(key, std::move(choice.target));
  }
  return out;
}

}  // namespace strata::signing
