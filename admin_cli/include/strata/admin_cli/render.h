// Text output for people: aligned tables, release summaries, the
// `release status` page and its adoption chart. Pure functions of the
// protocol messages (times are passed in), so they are tested directly.
#ifndef STRATA_ADMIN_CLI_RENDER_H_
#define STRATA_ADMIN_CLI_RENDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "strata/v1/admin.pb.h"

namespace strata::admin {

// Columns separated by two spaces, each as wide as its widest cell; columns
// marked numeric are right-aligned. Trailing spaces are trimmed. A row may
// have fewer cells than the header (the rest are blank).
class Table {
 public:
  explicit Table(std::vector<std::string> header,
                 std::vector<bool> numeric = {});
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;
  size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> header_;
  std::vector<bool> numeric_;
  std::vector<std::vector<std::string>> rows_;
};

// RELEASE_ROLLED_BACK -> "rolled_back".
std::string StateName(v1::ReleaseState state);
// "2026-11-25 10:03:07" (UTC).
std::string TimeText(absl::Time t);
// 12345 -> "12,345".
std::string FormatCount(uint64_t n);
// 0.0123 -> "1.23%".
std::string FormatRate(double rate);

// Every artifact of a release; for old single-module records, the
// module/version fields.
std::vector<v1::ReleaseArtifact> ArtifactsOf(const v1::Release& release);
// The share of the segment that gets the release now: 0 for drafts and
// rolled back releases, 100% when completed, else the current stage's.
uint32_t ExposureOf(const v1::Release& release);
// "2/5" (1-based current stage of the plan), or "-" without stages.
std::string StageOf(const v1::Release& release);
// One line: "release 7: rolling, stage 2 of 5 (5%), segment everyone".
std::string ReleaseLine(const v1::Release& release);

// The `release list` table: one row per release; the artifacts of a
// multi-artifact release on continuation rows.
std::string RenderReleaseList(const std::vector<v1::Release>& releases);

// A chart of the adoption samples (devices over time), `height` rows of
// '#' bars scaled to the largest count, `width` columns at most, with the
// count axis on the left and the first and last sample times below.
// Samples are a step function: a column shows the last sample at or before
// its time. "" without samples.
std::string RenderAdoptionChart(const std::vector<v1::AdoptionSample>& samples,
                                int width = 60, int height = 6);

// The whole `release status` page: summary, plan (done stages marked 'x',
// the current one '>'), health of treatment vs control, the gate's latest
// verdict, the adoption chart and the history. `now` is for "ago" figures.
std::string RenderReleaseStatus(const v1::ReleaseStatus& status,
                                absl::Time now);

// One line for `--wait` when the release changes state or stage:
// "10:03:07  rolling  stage 2/5  5%  devices 183  <reason>".
std::string TransitionLine(const v1::ReleaseStatus& status, absl::Time at);

// The upload progress line publish draws on a terminal's stderr:
// "upload [##########----------]  50%  12.0/24.0 MiB  3.1 MiB/s".
std::string ProgressLine(uint64_t done, uint64_t total, absl::Duration elapsed,
                         int bar_width = 30);
// 1536 -> "1.5 KiB".
std::string FormatBytes(uint64_t bytes);

// An audit entry's detail for people: layers by name ("module=1:limits",
// as stratad records a module, reads "module=config/limits"). The stored
// detail (and the JSON output) stays as it is: the hash chain covers it.
std::string ReadableAuditDetail(const std::string& detail);

// The `audit list` table: SEQ, TIME (UTC), ACTOR, ACTION, APP, DETAIL,
// aligned under a header; "no audit entries\n" for none.
std::string RenderAuditList(const std::vector<v1::AuditEntry>& entries);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_RENDER_H_
