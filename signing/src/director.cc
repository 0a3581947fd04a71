#include "strata/signing/director.h"

#include <algorithm>
#include <set>

#include "json_fields.h"
#include "strata/base/bucketing.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::signing {

using internal::Fields;

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
  return d;
}

std::map<std::string, DirectorTarget> DirectorTargetsFor(
    const DirectorMetadata& director, std::string_view device_id,
    std::string_view subject_id) {
  std::map<std::string, DirectorTarget> out;
  for (const DirectorAssignment& a : director.assignments) {
    bool match;
    if (!a.device_ids.empty()) {
      match = std::find(a.device_ids.begin(), a.device_ids.end(), device_id) !=
              a.device_ids.end();
    } else if (a.buckets.has_value()) {
      const uint32_t b = RolloutBucket(subject_id, a.buckets->salt);
      match = b >= a.buckets->begin && b < a.buckets->end;
    } else {
      match = true;
    }
    if (!match) continue;
    for (const auto& [key, t] : a.modules) out.emplace(key, t);
  }
  return out;
}

}  // namespace strata::signing
