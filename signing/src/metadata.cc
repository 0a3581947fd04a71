#include "strata/signing/metadata.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "absl/status/status.h"
#include "json_fields.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/reject_reason.h"

namespace strata::signing {

using internal::Fields;
using internal::Malformed;

std::string_view LayerName(Layer layer) {
  switch (layer) {
    case Layer::kConfig:
      return "config";
    case Layer::kH5:
      return "h5";
    case Layer::kHcf:
      return "hcf";
    case Layer::kHotpatch:
      return "hotpatch";
    case Layer::kNative:
      return "native";
  }
  return "unknown";
}

std::optional<Layer> ParseLayer(std::string_view name) {
  for (Layer l : kAllLayers) {
    if (LayerName(l) == name) return l;
  }
  return std::nullopt;
}

bool IsValidModuleName(std::string_view module) {
  if (module.empty() || module.size() > 128 || module.front() == '.') {
    return false;
  }
  for (char c : module) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string TargetName(Layer layer, std::string_view module,
                       uint64_t release_counter) {
  return strata::StrCat(LayerName(layer), "/", module, "@", release_counter);
}

std::string ModuleKey(Layer layer, std::string_view module) {
  return strata::StrCat(LayerName(layer), "/", module);
}

namespace {

// Glob match of one segment: '*' any run, '?' one character.
bool GlobMatch(std::string_view s, std::string_view p) {
  size_t si = 0, pi = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
      ++si;
      ++pi;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace

bool MatchesPathPattern(std::string_view target, std::string_view pattern) {
  while (true) {
    const size_t ts = target.find('/');
    const size_t ps = pattern.find('/');
    if ((ts == std::string_view::npos) != (ps == std::string_view::npos)) {
      return false;
    }
    if (!GlobMatch(target.substr(0, ts), pattern.substr(0, ps))) return false;
    if (ts == std::string_view::npos) return true;
    target.remove_prefix(ts + 1);
    pattern.remove_prefix(ps + 1);
  }
}

std::string FormatTufTime(absl::Time t) {
  const absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02dZ",
                static_cast<long long>(c.year()), c.month(), c.day(), c.hour(),
                c.minute(), c.second());
  return buf;
}

absl::StatusOr<absl::Time> ParseTufTime(std::string_view text) {
  // Exactly YYYY-MM-DDTHH:MM:SSZ.
  auto bad = [&] {
    return absl::InvalidArgumentError(strata::StrCat(
        "time '", text, "' is not of the form YYYY-MM-DDTHH:MM:SSZ"));
  };
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' ||
      text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
      text[19] != 'Z') {
    return bad();
  }
  auto num = [&](size_t pos, size_t len, int& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) ||
      !num(14, 2, mi) || !num(17, 2, s)) {
    return bad();
  }
  const absl::CivilSecond c(y, mo, d, h, mi, s);
  if (c.year() != y || c.month() != mo || c.day() != d || c.hour() != h ||
      c.minute() != mi || c.second() != s) {
    return absl::InvalidArgumentError(
        strata::StrCat("time '", text, "' is not a valid date"));
  }
  return absl::FromCivil(c, absl::UTCTimeZone());
}

void RootMetadata::AddKey(std::string_view role, const PublicKey& key) {
  const std::string id = key.KeyId();
  keys.insert_or_assign(id, key);
  RoleKeys& r = role == "director"
                    ? (director.has_value() ? *director : director.emplace())
                    : roles[std::string(role)];
  if (std::find(r.keyids.begin(), r.keyids.end(), id) == r.keyids.end()) {
    r.keyids.push_back(id);
  }
}

void Delegations::AddKey(std::string_view role, const PublicKey& key) {
  const std::string id = key.KeyId();
  keys.insert_or_assign(id, key);
  for (DelegatedRole& r : roles) {
    if (r.name != role) continue;
    if (std::find(r.keyids.begin(), r.keyids.end(), id) == r.keyids.end()) {
      r.keyids.push_back(id);
    }
  }
}

Delegations LayerDelegations(const std::map<Layer, uint64_t>& thresholds) {
  Delegations d;
  for (Layer l : kAllLayers) {
    DelegatedRole r;
    r.name = std::string(LayerName(l));
    auto it = thresholds.find(l);
    r.threshold = it == thresholds.end() ? 1 : it->second;
    r.terminating = true;
    r.paths = {strata::StrCat(LayerName(l), "/*")};
    d.roles.push_back(std::move(r));
  }
  return d;
}

// ---- builders ----

namespace {

Json CommonJson(std::string_view type, const SignedCommon& c) {
  Json j = Json::MakeObject();
  j["_type"] = type;
  j["spec_version"] = c.spec_version;
  j["version"] = c.version;
  j["expires"] = FormatTufTime(c.expires);
  return j;
}

Json StringArray(const std::vector<std::string>& v) {
  Json a = Json::MakeArray();
  for (const std::string& s : v) a.Append(s);
  return a;
}

Json RoleJson(const RoleKeys& r) {
  Json j = Json::MakeObject();
  j["keyids"] = StringArray(r.keyids);
  j["threshold"] = r.threshold;
  return j;
}

Json KeysJson(const std::map<std::string, PublicKey>& keys) {
  Json j = Json::MakeObject();
  for (const auto& [id, key] : keys) j[id] = key.ToTufJson();
  return j;
}

Json HashesJson(const std::map<std::string, std::string>& hashes) {
  Json j = Json::MakeObject();
  for (const auto& [algo, hex] : hashes) j[algo] = hex;
  return j;
}

Json MetaFileJson(const MetaFileInfo& m) {
  Json j = Json::MakeObject();
  j["version"] = m.version;
  if (m.length.has_value()) j["length"] = *m.length;
  if (!m.hashes.empty()) j["hashes"] = HashesJson(m.hashes);
  return j;
}

Json RangeJson(const VersionRange& r) {
  Json j = Json::MakeObject();
  if (!r.min.empty()) j["min"] = r.min;
  if (!r.max.empty()) j["max"] = r.max;
  return j;
}

}  // namespace

Json ToJson(const RootMetadata& root) {
  Json j = CommonJson("root", root.common);
  j["consistent_snapshot"] = root.consistent_snapshot;
  j["keys"] = KeysJson(root.keys);
  Json roles = Json::MakeObject();
  for (const auto& [name, r] : root.roles) roles[name] = RoleJson(r);
  j["roles"] = std::move(roles);
  if (root.director.has_value() || !root.app_id.empty()) {
    Json custom = Json::MakeObject();
    if (!root.app_id.empty()) custom["app"] = root.app_id;
    if (root.director.has_value())
      custom["director"] = RoleJson(*root.director);
    j["custom"] = std::move(custom);
  }
  return j;
}

Json ToJson(const TimestampMetadata& timestamp) {
  Json j = CommonJson("timestamp", timestamp.common);
  j["meta"]["snapshot.json"] = MetaFileJson(timestamp.snapshot);
  return j;
}

Json ToJson(const SnapshotMetadata& snapshot) {
  Json j = CommonJson("snapshot", snapshot.common);
  Json meta = Json::MakeObject();
  for (const auto& [name, m] : snapshot.meta) meta[name] = MetaFileJson(m);
  j["meta"] = std::move(meta);
  return j;
}

Json ArtifactToJson(const ArtifactInfo& a) {
  Json j = Json::MakeObject();
  j["app"] = a.app_id;
  j["layer"] = LayerName(a.layer);
  j["module"] = a.module;
  j["release_counter"] = a.release_counter;
  if (!a.version_label.empty()) j["version"] = a.version_label;
  Json compat = Json::MakeObject();
  if (!a.compat.app_version.min.empty() || !a.compat.app_version.max.empty()) {
    compat["app_version"] = RangeJson(a.compat.app_version);
  }
  if (!a.compat.host_build.empty()) compat["host_build"] = a.compat.host_build;
  if (!a.compat.runtime_version.min.empty() ||
      !a.compat.runtime_version.max.empty()) {
    compat["runtime_version"] = RangeJson(a.compat.runtime_version);
  }
  if (!a.compat.min_sdk_version.empty()) {
    compat["min_sdk_version"] = a.compat.min_sdk_version;
  }
  j["compat"] = std::move(compat);
  if (!a.deltas.empty()) {
    Json deltas = Json::MakeArray();
    for (const DeltaEntry& d : a.deltas) {
      Json e = Json::MakeObject();
      e["from_sha256"] = d.from_sha256;
      e["length"] = d.length;
      e["hashes"]["sha256"] = d.sha256;
      e["format"] = d.format;
      deltas.Append(std::move(e));
    }
    j["deltas"] = std::move(deltas);
  }
  return j;
}

Json ToJson(const TargetsMetadata& targets) {
  Json j = CommonJson("targets", targets.common);
  Json t = Json::MakeObject();
  for (const auto& [name, file] : targets.targets) {
    Json f = Json::MakeObject();
    f["length"] = file.length;
    f["hashes"] = HashesJson(file.hashes);
    Json custom =
        file.extra_custom.is_object() ? file.extra_custom : Json::MakeObject();
    if (file.artifact.has_value()) {
      const Json artifact = ArtifactToJson(*file.artifact);
      for (const auto& [k, v] : artifact.as_object()) custom[k] = v;
    }
    if (!custom.as_object().empty()) f["custom"] = std::move(custom);
    t[name] = std::move(f);
  }
  j["targets"] = std::move(t);
  if (targets.delegations.has_value()) {
    Json d = Json::MakeObject();
    d["keys"] = KeysJson(targets.delegations->keys);
    Json roles = Json::MakeArray();
    for (const DelegatedRole& r : targets.delegations->roles) {
      Json rj = Json::MakeObject();
      rj["name"] = r.name;
      rj["keyids"] = StringArray(r.keyids);
      rj["threshold"] = r.threshold;
      rj["terminating"] = r.terminating;
      rj["paths"] = StringArray(r.paths);
      roles.Append(std::move(rj));
    }
    d["roles"] = std::move(roles);
    j["delegations"] = std::move(d);
  }
  return j;
}

// ---- parsers ----

namespace {

absl::Status CheckType(const Json& signed_part, std::string_view role,
                       std::string_view expected_type) {
  Fields f(signed_part, role, "signed");
  STRATA_RETURN_IF_ERROR(f.CheckObject());
  STRATA_ASSIGN_OR_RETURN(std::string type, f.String("_type"));
  if (type != expected_type) {
    return Reject(RejectReason::kWrongMetadataType,
                  absl::StatusCode::kInvalidArgument,
                  strata::StrCat(role, " metadata: signed._type is \"", type,
                                 "\", expected \"", expected_type, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<SignedCommon> ParseCommon(const Fields& f) {
  SignedCommon c;
  STRATA_ASSIGN_OR_RETURN(c.spec_version, f.String("spec_version"));
  // Accept 1.x.y: the major version is the compatibility promise.
  if (c.spec_version.empty() || c.spec_version.substr(0, 2) != "1.") {
    if (c.spec_version != "1") {
      return f.Error("spec_version", strata::StrCat("\"", c.spec_version,
                                                    "\" is not a 1.x version"));
    }
  }
  STRATA_ASSIGN_OR_RETURN(c.version, f.Uint("version"));
  if (c.version == 0) return f.Error("version", "must be at least 1");
  STRATA_ASSIGN_OR_RETURN(std::string expires, f.String("expires"));
  absl::StatusOr<absl::Time> t = ParseTufTime(expires);
  if (!t.ok()) return f.Error("expires", ToStd(t.status().message()));
  c.expires = *t;
  return c;
}

absl::StatusOr<std::map<std::string, PublicKey>> ParseKeys(
    const Fields& f, std::string_view name) {
  std::map<std::string, PublicKey> keys;
  STRATA_ASSIGN_OR_RETURN(const Json* obj, f.Object(name));
  for (const auto& [id, key] : obj->as_object()) {
    absl::StatusOr<PublicKey> k = PublicKey::FromTufJson(
        key,
        strata::StrCat(f.role(), " metadata: field ", f.PathOf(name), ".", id));
    if (!k.ok()) return Malformed(ToStd(k.status().message()));
    keys.emplace(id, *std::move(k));
  }
  return keys;
}

absl::StatusOr<RoleKeys> ParseRoleKeys(
    const Fields& f, const std::map<std::string, PublicKey>* keys) {
  RoleKeys r;
  STRATA_RETURN_IF_ERROR(f.CheckObject());
  STRATA_ASSIGN_OR_RETURN(const Json* ids, f.Array("keyids"));
  std::set<std::string> seen;
  for (const Json& id : ids->as_array()) {
    if (!id.is_string()) return f.Error("keyids", "must contain strings");
    if (!seen.insert(id.as_string()).second) {
      return f.Error("keyids",
                     strata::StrCat("lists key id ", id.as_string(), " twice"));
    }
    if (keys != nullptr && keys->find(id.as_string()) == keys->end()) {
      return f.Error("keyids", strata::StrCat("names key id ", id.as_string(),
                                              " that is not in keys"));
    }
    r.keyids.push_back(id.as_string());
  }
  STRATA_ASSIGN_OR_RETURN(r.threshold, f.Uint("threshold"));
  if (r.threshold == 0) return f.Error("threshold", "must be at least 1");
  return r;
}

absl::StatusOr<MetaFileInfo> ParseMetaFile(const Fields& f) {
  STRATA_RETURN_IF_ERROR(f.CheckObject());
  MetaFileInfo m;
  STRATA_ASSIGN_OR_RETURN(m.version, f.Uint("version"));
  if (m.version == 0) return f.Error("version", "must be at least 1");
  STRATA_ASSIGN_OR_RETURN(m.length, f.OptUint("length"));
  STRATA_ASSIGN_OR_RETURN(m.hashes, f.Hashes("hashes", /*required=*/false));
  return m;
}

absl::StatusOr<VersionRange> ParseRange(const Fields& f,
                                        std::string_view name) {
  VersionRange r;
  STRATA_ASSIGN_OR_RETURN(const Json* obj, f.Object(name, false));
  if (obj == nullptr) return r;
  Fields rf(*obj, f.role(), f.PathOf(name));
  STRATA_ASSIGN_OR_RETURN(r.min, rf.OptString("min"));
  STRATA_ASSIGN_OR_RETURN(r.max, rf.OptString("max"));
  return r;
}

}  // namespace

absl::StatusOr<RootMetadata> ParseRoot(const Json& signed_part) {
  STRATA_RETURN_IF_ERROR(CheckType(signed_part, "root", "root"));
  Fields f(signed_part, "root", "signed");
  RootMetadata root;
  STRATA_ASSIGN_OR_RETURN(root.common, ParseCommon(f));
  STRATA_ASSIGN_OR_RETURN(root.consistent_snapshot,
                          f.Bool("consistent_snapshot"));
  STRATA_ASSIGN_OR_RETURN(root.keys, ParseKeys(f, "keys"));
  STRATA_ASSIGN_OR_RETURN(const Json* roles, f.Object("roles"));
  for (const char* name : {"root", "targets", "snapshot", "timestamp"}) {
    const Json* r = roles->Find(name);
    if (r == nullptr) {
      return f.Error("roles", strata::StrCat("lacks the role \"", name, "\""));
    }
    STRATA_ASSIGN_OR_RETURN(
        RoleKeys keys,
        ParseRoleKeys(
            Fields(*r, "root", f.PathOf(strata::StrCat("roles.", name))),
            &root.keys));
    root.roles.emplace(name, std::move(keys));
  }
  STRATA_ASSIGN_OR_RETURN(const Json* custom, f.Object("custom", false));
  if (custom != nullptr) {
    Fields cf(*custom, "root", "signed.custom");
    STRATA_ASSIGN_OR_RETURN(root.app_id, cf.OptString("app"));
    STRATA_ASSIGN_OR_RETURN(const Json* director, cf.Object("director", false));
    if (director != nullptr) {
      STRATA_ASSIGN_OR_RETURN(
          root.director,
          ParseRoleKeys(Fields(*director, "root", "signed.custom.director"),
                        &root.keys));
    }
  }
  return root;
}

absl::StatusOr<TimestampMetadata> ParseTimestamp(const Json& signed_part) {
  STRATA_RETURN_IF_ERROR(CheckType(signed_part, "timestamp", "timestamp"));
  Fields f(signed_part, "timestamp", "signed");
  TimestampMetadata ts;
  STRATA_ASSIGN_OR_RETURN(ts.common, ParseCommon(f));
  STRATA_ASSIGN_OR_RETURN(const Json* meta, f.Object("meta"));
  const Json* snap = meta->Find("snapshot.json");
  if (snap == nullptr || meta->as_object().size() != 1) {
    return f.Error("meta", "must hold exactly one entry, \"snapshot.json\"");
  }
  STRATA_ASSIGN_OR_RETURN(
      ts.snapshot,
      ParseMetaFile(Fields(*snap, "timestamp", "signed.meta[snapshot.json]")));
  return ts;
}

absl::StatusOr<SnapshotMetadata> ParseSnapshot(const Json& signed_part) {
  STRATA_RETURN_IF_ERROR(CheckType(signed_part, "snapshot", "snapshot"));
  Fields f(signed_part, "snapshot", "signed");
  SnapshotMetadata s;
  STRATA_ASSIGN_OR_RETURN(s.common, ParseCommon(f));
  STRATA_ASSIGN_OR_RETURN(const Json* meta, f.Object("meta"));
  for (const auto& [name, entry] : meta->as_object()) {
    STRATA_ASSIGN_OR_RETURN(
        MetaFileInfo m,
        ParseMetaFile(Fields(entry, "snapshot",
                             strata::StrCat("signed.meta[", name, "]"))));
    s.meta.emplace(name, std::move(m));
  }
  if (s.meta.find("targets.json") == s.meta.end()) {
    return f.Error("meta", "lacks the entry \"targets.json\"");
  }
  return s;
}

namespace {

absl::StatusOr<ArtifactInfo> ParseArtifactAt(const Json& custom,
                                             std::string_view what,
                                             const std::string& path) {
  Fields f(custom, what, path);
  STRATA_RETURN_IF_ERROR(f.CheckObject());
  ArtifactInfo a;
  STRATA_ASSIGN_OR_RETURN(a.app_id, f.String("app"));
  STRATA_ASSIGN_OR_RETURN(std::string layer, f.String("layer"));
  std::optional<Layer> l = ParseLayer(layer);
  if (!l.has_value()) {
    return f.Error("layer", strata::StrCat("\"", layer,
                                           "\" is not one of config, h5, hcf, "
                                           "hotpatch, native"));
  }
  a.layer = *l;
  STRATA_ASSIGN_OR_RETURN(a.module, f.String("module"));
  if (!IsValidModuleName(a.module)) {
    return f.Error("module", strata::StrCat("\"", a.module,
                                            "\" is not a valid module name"));
  }
  STRATA_ASSIGN_OR_RETURN(a.release_counter, f.Uint("release_counter"));
  STRATA_ASSIGN_OR_RETURN(a.version_label, f.OptString("version"));
  STRATA_ASSIGN_OR_RETURN(const Json* compat, f.Object("compat", false));
  if (compat != nullptr) {
    Fields cf(*compat, what, f.PathOf("compat"));
    STRATA_ASSIGN_OR_RETURN(a.compat.app_version,
                            ParseRange(cf, "app_version"));
    STRATA_ASSIGN_OR_RETURN(a.compat.host_build, cf.OptString("host_build"));
    STRATA_ASSIGN_OR_RETURN(a.compat.runtime_version,
                            ParseRange(cf, "runtime_version"));
    STRATA_ASSIGN_OR_RETURN(a.compat.min_sdk_version,
                            cf.OptString("min_sdk_version"));
  }
  if (a.layer == Layer::kHotpatch && a.compat.host_build.empty()) {
    return f.Error("compat.host_build",
                   "is required for hotpatches (they bind to one host build)");
  }
  STRATA_ASSIGN_OR_RETURN(const Json* deltas, f.Array("deltas", false));
  if (deltas != nullptr) {
    size_t i = 0;
    for (const Json& d : deltas->as_array()) {
      Fields df(d, what, strata::StrCat(path, ".deltas[", i++, "]"));
      STRATA_RETURN_IF_ERROR(df.CheckObject());
      DeltaEntry e;
      STRATA_ASSIGN_OR_RETURN(e.from_sha256, df.String("from_sha256"));
      if (!IsSha256Hex(e.from_sha256)) {
        return df.Error("from_sha256", "must be 64 lowercase hex digits");
      }
      STRATA_ASSIGN_OR_RETURN(e.length, df.Uint("length"));
      STRATA_ASSIGN_OR_RETURN(auto hashes, df.Hashes("hashes", true));
      auto it = hashes.find("sha256");
      if (it == hashes.end()) return df.Error("hashes", "lacks sha256");
      e.sha256 = it->second;
      STRATA_ASSIGN_OR_RETURN(e.format, df.String("format"));
      a.deltas.push_back(std::move(e));
    }
  }
  return a;
}

}  // namespace

absl::StatusOr<ArtifactInfo> ParseArtifact(const Json& custom,
                                           std::string_view what) {
  return ParseArtifactAt(custom, what, "custom");
}

absl::StatusOr<TargetsMetadata> ParseTargets(const Json& signed_part,
                                             std::string_view role) {
  STRATA_RETURN_IF_ERROR(CheckType(signed_part, role, "targets"));
  Fields f(signed_part, role, "signed");
  TargetsMetadata t;
  STRATA_ASSIGN_OR_RETURN(t.common, ParseCommon(f));
  STRATA_ASSIGN_OR_RETURN(const Json* targets, f.Object("targets"));
  for (const auto& [name, entry] : targets->as_object()) {
    Fields tf(entry, role, strata::StrCat("signed.targets[", name, "]"));
    STRATA_RETURN_IF_ERROR(tf.CheckObject());
    TargetFile file;
    STRATA_ASSIGN_OR_RETURN(file.length, tf.Uint("length"));
    STRATA_ASSIGN_OR_RETURN(file.hashes, tf.Hashes("hashes", true));
    STRATA_ASSIGN_OR_RETURN(const Json* custom, tf.Object("custom", false));
    if (custom != nullptr) {
      Json extra = *custom;
      if (custom->Find("release_counter") != nullptr ||
          custom->Find("layer") != nullptr) {
        STRATA_ASSIGN_OR_RETURN(
            file.artifact, ParseArtifactAt(*custom, role, tf.PathOf("custom")));
        for (const char* k : {"app", "layer", "module", "release_counter",
                              "version", "compat", "deltas"}) {
          extra.as_object().erase(k);
        }
      }
      file.extra_custom = std::move(extra);
    }
    t.targets.emplace(name, std::move(file));
  }
  STRATA_ASSIGN_OR_RETURN(const Json* delegations,
                          f.Object("delegations", false));
  if (delegations != nullptr) {
    Fields df(*delegations, role, "signed.delegations");
    Delegations d;
    STRATA_ASSIGN_OR_RETURN(d.keys, ParseKeys(df, "keys"));
    STRATA_ASSIGN_OR_RETURN(const Json* roles, df.Array("roles"));
    std::set<std::string> names;
    size_t i = 0;
    for (const Json& r : roles->as_array()) {
      Fields rf(r, role, strata::StrCat("signed.delegations.roles[", i++, "]"));
      STRATA_ASSIGN_OR_RETURN(RoleKeys keys, ParseRoleKeys(rf, &d.keys));
      DelegatedRole dr;
      dr.keyids = std::move(keys.keyids);
      dr.threshold = keys.threshold;
      STRATA_ASSIGN_OR_RETURN(dr.name, rf.String("name"));
      if (dr.name.empty() || dr.name.size() > 128 ||
          dr.name.find_first_of("/\\") != std::string::npos ||
          dr.name == "root" || dr.name == "targets" || dr.name == "snapshot" ||
          dr.name == "timestamp" || dr.name == "director" ||
          dr.name.front() == '.') {
        return rf.Error(
            "name",
            strata::StrCat("\"", dr.name, "\" is not an allowed role name"));
      }
      if (!names.insert(dr.name).second) {
        return rf.Error("name",
                        strata::StrCat("\"", dr.name, "\" is delegated twice"));
      }
      STRATA_ASSIGN_OR_RETURN(dr.terminating, rf.Bool("terminating"));
      if (rf.Find("path_hash_prefixes") != nullptr) {
        return rf.Error("path_hash_prefixes", "is not supported; use paths");
      }
      STRATA_ASSIGN_OR_RETURN(const Json* paths, rf.Array("paths"));
      for (const Json& p : paths->as_array()) {
        if (!p.is_string()) return rf.Error("paths", "must contain strings");
        dr.paths.push_back(p.as_string());
      }
      d.roles.push_back(std::move(dr));
    }
    t.delegations = std::move(d);
  }
  return t;
}

}  // namespace strata::signing
