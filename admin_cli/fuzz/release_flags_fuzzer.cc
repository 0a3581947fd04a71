// Fuzz target: the parsers of the structured `strata release` flags
// (admin_cli/release_flags.h) on untrusted text: --plan, --gate, durations,
// exposures and --artifact. The whole input is tried as a plan, a
// duration, an exposure and an artifact; its lines as --gate assignments.
// Properties: no crash; what parses is in range (exposures 0.01%..100%,
// plans strictly growing to 100%, rates in [0, 1], ratios >= 1, durations
// >= 0, gate durations > 0); and every formatter's output parses back to the
// same value (FormatPlan, FormatGates, ShortDuration, FormatExposure,
// FormatArtifact), since the CLI shows them to users as what to type.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "strata/admin_cli/release_flags.h"

namespace {

using google::protobuf::FieldDescriptor;
namespace admin = strata::admin;
namespace v1 = strata::v1;

void Check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(sep, pos);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

bool SameStages(const std::vector<v1::RolloutStage>& a,
                const std::vector<v1::RolloutStage>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].SerializeAsString() != b[i].SerializeAsString()) return false;
  }
  return true;
}

void CheckPlan(std::string_view text) {
  absl::StatusOr<std::vector<v1::RolloutStage>> plan = admin::ParsePlan(text);
  if (!plan.ok()) {
    Check(plan.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  uint32_t previous = 0;
  for (const v1::RolloutStage& s : *plan) {
    Check(s.exposure_bp() > previous && s.exposure_bp() <= 10000);
    Check(s.bake_seconds() >= 0);
    previous = s.exposure_bp();
  }
  Check(plan->empty() || plan->back().exposure_bp() == 10000);
  const std::string formatted = admin::FormatPlan(*plan);
  absl::StatusOr<std::vector<v1::RolloutStage>> again =
      admin::ParsePlan(formatted);
  Check(again.ok() && SameStages(*again, *plan));
}

void CheckGates(std::string_view text) {
  absl::StatusOr<v1::GatePolicy> gates = admin::ParseGates(Split(text, '\n'));
  if (!gates.ok()) {
    Check(gates.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const auto* desc = v1::GatePolicy::descriptor();
  const auto* reflection = gates->GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (!reflection->HasField(*gates, f)) continue;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
      const double d = reflection->GetDouble(*gates, f);
      Check(std::isfinite(d) && d >= 0);
      if (f->name().find("_ratio") != std::string::npos) {
        Check(d >= 1);
      } else if (f->name() != "min_z_score") {
        Check(d <= 1);
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
      Check(reflection->GetInt64(*gates, f) > 0);
    }
  }
  const std::string formatted = admin::FormatGates(*gates);
  std::vector<std::string> assignments;
  if (!formatted.empty()) assignments = Split(formatted, ' ');
  absl::StatusOr<v1::GatePolicy> again = admin::ParseGates(assignments);
  Check(again.ok() && again->SerializeAsString() == gates->SerializeAsString());
}

void CheckDuration(std::string_view text) {
  absl::StatusOr<absl::Duration> d = admin::ParseDuration(text);
  if (!d.ok()) return;
  Check(*d >= absl::ZeroDuration() && *d < absl::InfiniteDuration());
  absl::StatusOr<absl::Duration> again =
      admin::ParseDuration(admin::ShortDuration(*d));
  Check(again.ok() && *again == *d);
}

void CheckExposure(std::string_view text) {
  absl::StatusOr<uint32_t> bp = admin::ParseExposure(text);
  if (!bp.ok()) return;
  Check(*bp >= 1 && *bp <= 10000);
  absl::StatusOr<uint32_t> again =
      admin::ParseExposure(admin::FormatExposure(*bp));
  Check(again.ok() && *again == *bp);
}

void CheckArtifact(std::string_view text) {
  absl::StatusOr<v1::ReleaseArtifact> a = admin::ParseArtifact(text);
  if (!a.ok()) return;
  Check(!a->module().name().empty() && !a->version().empty());
  absl::StatusOr<v1::ReleaseArtifact> again =
      admin::ParseArtifact(admin::FormatArtifact(*a));
  Check(again.ok() && again->SerializeAsString() == a->SerializeAsString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckPlan(text);
  CheckGates(text);
  CheckDuration(text);
  CheckExposure(text);
  CheckArtifact(text);
  return 0;
}
