#include "strata/admin_cli/release_flags.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "commands/layer_flag.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "strata/base/names.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

using google::protobuf::FieldDescriptor;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

// A non-negative decimal ("0.05", "1.5", "2"); no exponents, no signs.
bool ParseDecimal(std::string_view s, double& out) {
  if (s.empty()) return false;
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  if (dots > 1 || s == ".") return false;
  out = std::strtod(std::string(s).c_str(), nullptr);
  return std::isfinite(out);
}

constexpr std::string_view kDurationHelp =
    "write a number with a unit: 30s, 10m, 1h, 2d or 1h30m";

constexpr std::string_view kSecondsSuffix = "_seconds";

// "report_silence_seconds" -> "report_silence".
std::string ShortGateKey(const FieldDescriptor* field) {
  std::string name = field->name();
  if (name.size() > kSecondsSuffix.size() &&
      name.compare(name.size() - kSecondsSuffix.size(), kSecondsSuffix.size(),
                   kSecondsSuffix) == 0) {
    name.resize(name.size() - kSecondsSuffix.size());
  }
  return name;
}

// GATE_STATISTIC_Z_SCORE -> "z_score": the value's name after the enum's
// own name, lower case.
std::string EnumShortName(const google::protobuf::EnumValueDescriptor* v) {
  std::string prefix;
  for (char c : v->type()->name()) {
    if (std::isupper(static_cast<unsigned char>(c)) && !prefix.empty()) {
      prefix += '_';
    }
    prefix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  prefix += '_';
  std::string name = v->name();
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name;
}

const FieldDescriptor* FindGateField(std::string_view key) {
  const auto* desc = v1::GatePolicy::descriptor();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->name() == key || ShortGateKey(f) == key) return f;
  }
  return nullptr;
}

// The shortest plain decimal that reads back as `d` ("0.05",
// "0.3333333333333333", "0.00001"): what ParseDecimal accepts, so never an
// exponent, and no rounding to six digits as "%g" does.
std::string FormatDecimal(double d) {
  char buf[400];  // the longest double in fixed notation is ~330 characters
  auto [end, ec] =
      std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed);
  if (ec != std::errc()) return StrCat(d);
  return std::string(buf, end);
}

std::string KnownGateKeys() {
  std::string out;
  for (const std::string& k : GateKeys()) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) {
    return absl::InvalidArgumentError(
        StrCat("empty duration; ", kDurationHelp));
  }
  if (s == "0") return absl::ZeroDuration();
  absl::Duration total = absl::ZeroDuration();
  std::string_view rest = s;
  while (!rest.empty()) {
    size_t n = 0;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    if (n == 0 || n == rest.size()) {
      return absl::InvalidArgumentError(
          StrCat("'", s, "' is not a duration; ", kDurationHelp));
    }
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + n, value);
    if (ec != std::errc() || value > 100'000'000) {
      return absl::InvalidArgumentError(
          StrCat("'", s, "' is too long a duration"));
    }
    absl::Duration unit;
    size_t unit_len = 1;
    if (rest.substr(n, 2) == "ms") {
      unit = absl::Milliseconds(1);
      unit_len = 2;
    } else {
      switch (rest[n]) {
        case 's':
          unit = absl::Seconds(1);
          break;
        case 'm':
          unit = absl::Minutes(1);
          break;
        case 'h':
          unit = absl::Hours(1);
          break;
        case 'd':
          unit = absl::Hours(24);
          break;
        default:
          return absl::InvalidArgumentError(StrCat("unknown unit '", rest[n],
                                                   "' in duration '", s, "'; ",
                                                   kDurationHelp));
      }
    }
    total += unit * static_cast<int64_t>(value);
    // The same bound on the sum as on each number, so that ShortDuration's
    // form of any accepted duration ("<days>d...") reads back.
    if (total > absl::Hours(24) * 100'000'000) {
      return absl::InvalidArgumentError(
          StrCat("'", s, "' is too long a duration"));
    }
    rest.remove_prefix(n + unit_len);
  }
  return total;
}

std::string ShortDuration(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d) % 1000;
  int64_t s = absl::ToInt64Seconds(d);
  if (s <= 0) return ms > 0 ? StrCat(ms, "ms") : "0s";
  std::string out;
  const int64_t days = s / 86400, hours = s / 3600 % 24, minutes = s / 60 % 60,
                seconds = s % 60;
  if (days) out += StrCat(days, "d");
  if (hours) out += StrCat(hours, "h");
  if (minutes) out += StrCat(minutes, "m");
  if (seconds) out += StrCat(seconds, "s");
  if (ms) out += StrCat(ms, "ms");
  return out;
}

absl::StatusOr<uint32_t> ParseExposure(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty() || s.back() != '%') {
    return absl::InvalidArgumentError(
        StrCat("exposure '", s,
               "' needs a percent sign, e.g. 5% (or 0.5% for half a "
               "percent)"));
  }
  s.remove_suffix(1);
  const size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (!AllDigits(whole) ||
      (dot != std::string_view::npos && !AllDigits(frac))) {
    return absl::InvalidArgumentError(
        StrCat("exposure '", text, "' is not a percentage such as 5%"));
  }
  if (frac.size() > 2) {
    return absl::InvalidArgumentError(StrCat(
        "exposure '", text, "' is finer than 0.01%; use at most two decimals"));
  }
  if (whole.size() > 3) {
    return absl::InvalidArgumentError(
        StrCat("exposure '", text, "' is above 100%"));
  }
  uint32_t bp = 0;
  for (char c : whole) bp = bp * 10 + static_cast<uint32_t>(c - '0');
  bp *= 100;
  if (frac.size() >= 1) bp += 10 * static_cast<uint32_t>(frac[0] - '0');
  if (frac.size() == 2) bp += static_cast<uint32_t>(frac[1] - '0');
  if (bp == 0) {
    return absl::InvalidArgumentError(StrCat(
        "exposure '", text, "' reaches nobody; a stage needs more than 0%"));
  }
  if (bp > 10000) {
    return absl::InvalidArgumentError(
        StrCat("exposure '", text, "' is above 100%"));
  }
  return bp;
}

std::string FormatExposure(uint32_t bp) {
  std::string out = std::to_string(bp / 100);
  const uint32_t frac = bp % 100;
  if (frac != 0) {
    out += '.';
    out += static_cast<char>('0' + frac / 10);
    if (frac % 10 != 0) out += static_cast<char>('0' + frac % 10);
  }
  return out + "%";
}

absl::StatusOr<std::vector<v1::RolloutStage>> ParsePlan(std::string_view text) {
  constexpr std::string_view kHelp =
      "write stages as exposure[:bake[:min_reports]] separated by commas, "
      "e.g. 1%:1h:200,5%:2h:500,20%,100%, or `default`";
  std::string_view s = Trim(text);
  if (s == "default") return std::vector<v1::RolloutStage>();
  if (s.empty())
    return absl::InvalidArgumentError(StrCat("--plan is empty; ", kHelp));
  std::vector<v1::RolloutStage> stages;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string_view::npos) end = s.size();
    std::string_view stage_text = Trim(s.substr(pos, end - pos));
    const size_t n = stages.size() + 1;
    auto fail = [&](std::string_view what) {
      return absl::InvalidArgumentError(
          StrCat("--plan stage ", n, " ('", stage_text, "'): ", what));
    };
    if (stage_text.empty()) return fail(StrCat("empty stage; ", kHelp));
    std::vector<std::string_view> parts;
    size_t p = 0;
    while (true) {
      size_t colon = stage_text.find(':', p);
      parts.push_back(stage_text.substr(p, colon == std::string_view::npos
                                               ? std::string_view::npos
                                               : colon - p));
      if (colon == std::string_view::npos) break;
      p = colon + 1;
    }
    if (parts.size() > 3) return fail(StrCat("too many ':' parts; ", kHelp));
    v1::RolloutStage stage;
    absl::StatusOr<uint32_t> bp = ParseExposure(parts[0]);
    if (!bp.ok()) return fail(ToStd(bp.status().message()));
    stage.set_exposure_bp(*bp);
    if (parts.size() >= 2) {
      absl::StatusOr<absl::Duration> bake = ParseDuration(parts[1]);
      if (!bake.ok()) {
        return fail(StrCat("bake time: ", ToStd(bake.status().message())));
      }
      if (*bake % absl::Seconds(1) != absl::ZeroDuration()) {
        return fail("bake time: use whole seconds");
      }
      stage.set_bake_seconds(absl::ToInt64Seconds(*bake));
    }
    if (parts.size() == 3) {
      std::string_view m = Trim(parts[2]);
      uint64_t min_reports = 0;
      auto [ptr, ec] =
          std::from_chars(m.data(), m.data() + m.size(), min_reports);
      if (!AllDigits(m) || ec != std::errc()) {
        return fail(StrCat("min_reports '", m,
                           "' is not a whole number of launch reports"));
      }
      stage.set_min_reports(min_reports);
    }
    if (!stages.empty() && stage.exposure_bp() <= stages.back().exposure_bp()) {
      return fail(StrCat("exposure ", FormatExposure(stage.exposure_bp()),
                         " does not grow past the previous stage's ",
                         FormatExposure(stages.back().exposure_bp()),
                         "; exposures must grow strictly"));
    }
    stages.push_back(stage);
    pos = end + 1;
  }
  if (stages.back().exposure_bp() != 10000) {
    return absl::InvalidArgumentError(
        StrCat("--plan ends at ", FormatExposure(stages.back().exposure_bp()),
               "; the last stage must be 100% (add ,100%)"));
  }
  return stages;
}

std::string FormatPlan(const std::vector<v1::RolloutStage>& stages) {
  if (stages.empty()) return "default";
  std::string out;
  for (const v1::RolloutStage& s : stages) {
    if (!out.empty()) out += ',';
    out += FormatExposure(s.exposure_bp());
    if (s.bake_seconds() != 0 || s.min_reports() != 0) {
      out += ":" + ShortDuration(absl::Seconds(s.bake_seconds()));
    }
    if (s.min_reports() != 0) out += StrCat(":", s.min_reports());
  }
  return out;
}

std::vector<std::string> GateKeys() {
  std::vector<std::string> keys;
  const auto* desc = v1::GatePolicy::descriptor();
  for (int i = 0; i < desc->field_count(); ++i)
    keys.push_back(ShortGateKey(desc->field(i)));
  std::sort(keys.begin(), keys.end());
  return keys;
}

absl::Status ApplyGate(std::string_view assignment, v1::GatePolicy& policy) {
  std::string_view a = Trim(assignment);
  const size_t eq = a.find('=');
  if (eq == std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("--gate '", a,
               "' needs the form key=value, e.g. max_crash_rate=0.05; keys: ",
               KnownGateKeys()));
  }
  std::string_view key = Trim(a.substr(0, eq));
  std::string_view value = Trim(a.substr(eq + 1));
  const FieldDescriptor* field = FindGateField(key);
  if (field == nullptr) {
    return absl::InvalidArgumentError(StrCat(
        "unknown --gate key '", key, "'; known keys: ", KnownGateKeys()));
  }
  const auto* reflection = policy.GetReflection();
  if (reflection->HasField(policy, field)) {
    return absl::InvalidArgumentError(
        StrCat("--gate ", ShortGateKey(field), " is given twice"));
  }
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(
        StrCat("--gate ", key, "='", value, "': ", what));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double d = 0;
      std::string_view number = value;
      const bool percent = !number.empty() && number.back() == '%';
      if (percent) number.remove_suffix(1);
      if (!ParseDecimal(number, d)) {
        return bad("expected a non-negative decimal such as 0.05 (or 5%)");
      }
      if (percent) d /= 100;
      const std::string& name = field->name();
      const bool ratio = name.find("_ratio") != std::string::npos;
      if (ratio && d < 1) {
        return bad("a ratio against control must be at least 1, e.g. 1.5");
      }
      if (!ratio && name != "min_z_score" && d > 1) {
        return bad(StrCat("a rate is a fraction between 0 and 1: write ",
                          d / 100, " or ", value, "%"));
      }
      reflection->SetDouble(&policy, field, d);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t n = 0;
      auto [ptr, ec] =
          std::from_chars(value.data(), value.data() + value.size(), n);
      if (!AllDigits(value) || ec != std::errc()) {
        return bad("expected a whole number such as 200");
      }
      reflection->SetUInt64(&policy, field, n);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      absl::StatusOr<absl::Duration> d = ParseDuration(value);
      if (!d.ok()) return bad(ToStd(d.status().message()));
      if (*d <= absl::ZeroDuration()) return bad("must be longer than 0s");
      if (*d % absl::Seconds(1) != absl::ZeroDuration()) {
        return bad("use whole seconds");
      }
      reflection->SetInt64(&policy, field, absl::ToInt64Seconds(*d));
      break;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      // statistic=sequential|z_score: the value's name without the enum's
      // prefix, in lower case.
      const auto* type = field->enum_type();
      std::string names;
      for (int i = 0; i < type->value_count(); ++i) {
        const auto* v = type->value(i);
        if (v->number() == 0) continue;  // UNSPECIFIED
        const std::string name = EnumShortName(v);
        if (name == value) {
          reflection->SetEnum(&policy, field, v);
          return absl::OkStatus();
        }
        names += names.empty() ? name : StrCat(" or ", name);
      }
      return bad(StrCat("expected ", names));
    }
    default:
      return bad("this field type is not supported by the CLI");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::GatePolicy> ParseGates(
    const std::vector<std::string>& assignments) {
  v1::GatePolicy policy;
  for (const std::string& a : assignments) {
    absl::Status s = ApplyGate(a, policy);
    if (!s.ok()) return s;
  }
  return policy;
}

std::string FormatGates(const v1::GatePolicy& policy) {
  std::string out;
  const auto* desc = v1::GatePolicy::descriptor();
  const auto* reflection = policy.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (!reflection->HasField(policy, f)) continue;
    if (!out.empty()) out += ' ';
    out += ShortGateKey(f) + "=";
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE:
        out += FormatDecimal(reflection->GetDouble(policy, f));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        out += StrCat(reflection->GetUInt64(policy, f));
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        out += ShortDuration(absl::Seconds(reflection->GetInt64(policy, f)));
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        out += EnumShortName(reflection->GetEnum(policy, f));
        break;
      default:
        out += "?";
    }
  }
  return out;
}

absl::StatusOr<v1::ReleaseArtifact> ParseArtifact(std::string_view text) {
  std::string_view s = Trim(text);
  const size_t slash = s.find('/');
  const size_t at = s.find('@');
  if (slash == std::string_view::npos || at == std::string_view::npos ||
      at < slash) {
    return absl::InvalidArgumentError(
        StrCat("--artifact '", s,
               "' needs the form LAYER/MODULE@VERSION, e.g. h5/mall-home@12"));
  }
  const std::string layer(s.substr(0, slash));
  const std::string module(s.substr(slash + 1, at - slash - 1));
  const std::string version(s.substr(at + 1));
  auto it = LayerNames().find(layer);
  if (it == LayerNames().end()) {
    return absl::InvalidArgumentError(
        StrCat("--artifact '", s, "': unknown layer '", layer,
               "'; use config, h5, hcf, hotpatch or native"));
  }
  if (module.empty() || version.empty()) {
    return absl::InvalidArgumentError(StrCat(
        "--artifact '", s, "' names no ", module.empty() ? "module" : "version",
        "; write LAYER/MODULE@VERSION, e.g. h5/mall-home@12"));
  }
  for (const auto& [what, value] :
       {std::pair<const char*, const std::string&>{"module", module},
        {"version", version}}) {
    absl::Status valid = ValidateName(what, value);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          StrCat("--artifact '", s, "': ", ToStd(valid.message())));
    }
  }
  v1::ReleaseArtifact artifact;
  artifact.mutable_module()->set_layer(it->second);
  artifact.mutable_module()->set_name(module);
  artifact.set_version(version);
  return artifact;
}

std::string FormatArtifact(const v1::ReleaseArtifact& a) {
  return StrCat(LayerFlagName(a.module().layer()), "/", a.module().name(), "@",
                a.version());
}

namespace {

std::string TrimLine(std::string s) {
  const size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) {
    s.pop_back();
  }
  size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  return s.substr(start);
}

}  // namespace

SourceInfo DetectSource(
    const std::function<const char*(const char*)>& getenv,
    const std::function<std::optional<std::string>(const std::string&)>& run) {
  auto var = [&](const char* name) {
    const char* v = getenv(name);
    return v == nullptr ? std::string() : TrimLine(v);
  };
  SourceInfo out;
  const std::pair<const char*, const char*> ci[] = {
      {"GITHUB_SHA", "GITHUB_REF_NAME"},
      {"CI_COMMIT_SHA", "CI_COMMIT_REF_NAME"}};
  for (const auto& [sha, ref] : ci) {
    out.commit = var(sha);
    if (out.commit.empty()) continue;
    out.branch = var(ref);
    out.from = sha;
    return out;
  }
  out = SourceInfo();
  std::optional<std::string> head = run("git rev-parse HEAD");
  if (!head.has_value() || TrimLine(*head).empty()) return out;
  out.commit = TrimLine(*head);
  out.from = "git";
  std::optional<std::string> branch = run("git rev-parse --abbrev-ref HEAD");
  if (branch.has_value()) {
    out.branch = TrimLine(*branch);
    if (out.branch == "HEAD") out.branch.clear();  // detached
  }
  return out;
}

SourceInfo DetectSource() {
  return DetectSource([](const char* name) { return std::getenv(name); },
                      [](const std::string& cmd) -> std::optional<std::string> {
                        FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
                        if (p == nullptr) return std::nullopt;
                        std::string out;
                        char buf[256];
                        size_t n;
                        while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0 &&
                               out.size() < 4096) {
                          out.append(buf, n);
                        }
                        if (::pclose(p) != 0) return std::nullopt;
                        return out;
                      });
}

}  // namespace strata::admin
