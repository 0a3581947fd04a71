// Parsing of the `strata release` flags that carry structure: durations,
// exposures, rollout plans, gate thresholds and artifact references. Pure
// functions (no I/O), so they are tested directly. Every error is
// kInvalidArgument and says what was wrong and what to write instead.
#ifndef STRATA_ADMIN_CLI_RELEASE_FLAGS_H_
#define STRATA_ADMIN_CLI_RELEASE_FLAGS_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/v1/admin.pb.h"

namespace strata::admin {

// "30s", "10m", "1h", "2d", "1h30m", "500ms", "0"; not negative. Plans and
// gates take whole seconds only.
absl::StatusOr<absl::Duration> ParseDuration(std::string_view text);
// The shortest form ParseDuration reads back: "1h30m", "45s", "0s".
std::string ShortDuration(absl::Duration d);

// "1%", "0.5%", "100%" -> basis points (100 = 1%); 0 < exposure <= 100%,
// at most two decimals.
absl::StatusOr<uint32_t> ParseExposure(std::string_view text);
// 100 -> "1%", 50 -> "0.5%", 1 -> "0.01%".
std::string FormatExposure(uint32_t basis_points);

// --plan: "default" (the server's 1,5,20,50,100% plan; returns no stages)
// or comma-separated stages "exposure[:bake[:min_reports]]", e.g.
// "1%:1h:200,5%:2h:500,20%,100%". An omitted bake is 0 and omitted
// min_reports 0 (the gates still need the release's min_launches before
// promoting). Exposures must grow strictly and the last must be 100%.
absl::StatusOr<std::vector<v1::RolloutStage>> ParsePlan(std::string_view text);
// The inverse, for messages and docs: "1%:1h:200,5%:2h:500,20%,100%".
std::string FormatPlan(const std::vector<v1::RolloutStage>& stages);

// The keys --gate accepts, sorted: the GatePolicy field names, with
// `report_silence` for `report_silence_seconds` (both are accepted).
std::vector<std::string> GateKeys();
// Applies one --gate "key=value" to `policy`. Rates and ratios are decimals
// (a rate may also be written as a percentage: 5% = 0.05), counts are whole
// numbers, *_seconds fields take durations (30m). Unknown keys are an error
// that lists the known ones; a key given twice is an error.
absl::Status ApplyGate(std::string_view assignment, v1::GatePolicy& policy);
absl::StatusOr<v1::GatePolicy> ParseGates(
    const std::vector<std::string>& assignments);
// "max_crash_rate=0.05 min_launches=20" for the fields that are set.
std::string FormatGates(const v1::GatePolicy& policy);

// --artifact "LAYER/MODULE@VERSION", e.g. "h5/mall-home@12".
absl::StatusOr<v1::ReleaseArtifact> ParseArtifact(std::string_view text);
// "h5/mall-home@12".
std::string FormatArtifact(const v1::ReleaseArtifact& artifact);

// Where a release was built from: the commit and branch.
struct SourceInfo {
  std::string commit;
  std::string branch;
  std::string from;  // "GITHUB_SHA", "CI_COMMIT_SHA", "git", "" (none)
};
// CI's variables first (GitHub Actions: GITHUB_SHA, GITHUB_REF_NAME;
// GitLab: CI_COMMIT_SHA, CI_COMMIT_REF_NAME), else `git rev-parse HEAD`
// and `git rev-parse --abbrev-ref HEAD` in the current directory (a
// detached HEAD has no branch). `getenv` returns nullptr for an unset
// variable; `run` returns a command's first output line, or nullopt when it
// fails. Values are trimmed; empty ones count as unset.
SourceInfo DetectSource(
    const std::function<const char*(const char*)>& getenv,
    const std::function<std::optional<std::string>(const std::string&)>& run);
// DetectSource over the process's environment and shell.
SourceInfo DetectSource();

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_RELEASE_FLAGS_H_
