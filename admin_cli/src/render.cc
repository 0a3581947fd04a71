#include "strata/admin_cli/render.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

#include "commands/layer_flag.h"
#include "strata/admin_cli/release_flags.h"
#include "strata/base/strings.h"

namespace strata::admin {
namespace {

std::string Pad(const std::string& s, size_t width, bool right) {
  if (s.size() >= width) return s;
  std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

std::string Strftime(absl::Time t, const char* format) {
  std::time_t secs = static_cast<std::time_t>(absl::ToUnixSeconds(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), format, &tm);
  return buf;
}

// "35m", "2h10m", "3d": an approximate age for people.
std::string Ago(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  int64_t s = absl::ToInt64Seconds(d);
  if (s >= 86400)
    s -= s % 3600;  // days and hours are enough
  else if (s >= 3600)
    s -= s % 60;
  return ShortDuration(absl::Seconds(s));
}

uint64_t Launches(const v1::CohortHealth& h) {
  return h.launches_ok() + h.launch_crashes();
}

uint64_t ApplyFailures(const v1::CohortHealth& h) {
  return h.apply_failed() + h.rejected();
}

uint64_t Devices(const v1::ReleaseStatus& s) {
  if (!s.adoption().empty()) return s.adoption().rbegin()->devices();
  return s.treatment().activated();
}

void AppendIndented(std::string& out, const std::string& block,
                    const std::string& indent) {
  size_t pos = 0;
  while (pos < block.size()) {
    size_t end = block.find('\n', pos);
    if (end == std::string::npos) end = block.size();
    out += indent + block.substr(pos, end - pos) + "\n";
    pos = end + 1;
  }
}

// "abc123def456@main": the release's source, commit cut to 12 digits.
std::string SourceText(const v1::Release& r) {
  const std::string commit = r.source_commit().substr(0, 12);
  if (commit.empty()) return r.source_branch();
  if (r.source_branch().empty()) return commit;
  return StrCat(commit, "@", r.source_branch());
}

// At most `max` bytes of `text`, "..." marking a cut (not inside a UTF-8
// sequence).
std::string Shorten(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut) + "...";
}

}  // namespace

Table::Table(std::vector<std::string> header, std::vector<bool> numeric)
    : header_(std::move(header)), numeric_(std::move(numeric)) {
  numeric_.resize(header_.size(), false);
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> width(header_.size(), 0);
  for (size_t c = 0; c < header_.size(); ++c) {
    width[c] = header_[c].size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) out += "  ";
      out += Pad(cells[c], width[c], numeric_[c]);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header_);
  for (const auto& row : rows_) out += line(row);
  return out;
}

std::string StateName(v1::ReleaseState state) {
  std::string name = v1::ReleaseState_Name(state);
  if (state == v1::RELEASE_STATE_UNSPECIFIED) return "unspecified";
  if (name.rfind("RELEASE_", 0) == 0) name = name.substr(8);
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

std::string TimeText(absl::Time t) { return Strftime(t, "%Y-%m-%d %H:%M:%S"); }

std::string FormatCount(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatRate(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", rate * 100);
  return buf;
}

std::vector<v1::ReleaseArtifact> ArtifactsOf(const v1::Release& r) {
  std::vector<v1::ReleaseArtifact> out(r.artifacts().begin(),
                                       r.artifacts().end());
  if (out.empty() && !r.module().name().empty()) {
    v1::ReleaseArtifact a;
    *a.mutable_module() = r.module();
    a.set_version(r.version());
    a.set_release_sequence(r.release_sequence());
    out.push_back(a);
  }
  return out;
}

uint32_t ExposureOf(const v1::Release& r) {
  switch (r.state()) {
    case v1::RELEASE_COMPLETED:
      return 10000;
    case v1::RELEASE_ROLLING:
    case v1::RELEASE_PAUSED:
    case v1::RELEASE_HALTED:
      if (r.stage() >= 0 && r.stage() < r.stages_size())
        return r.stages(r.stage()).exposure_bp();
      return r.stages().empty() ? 10000 : 0;
    default:
      return 0;
  }
}

std::string StageOf(const v1::Release& r) {
  if (r.stages().empty()) return "-";
  if (r.state() == v1::RELEASE_DRAFT) return StrCat("0/", r.stages_size());
  return StrCat(std::min(r.stage() + 1, r.stages_size()), "/", r.stages_size());
}

std::string ReleaseLine(const v1::Release& r) {
  std::string out =
      StrCat("release ", r.release_id(), ": ", StateName(r.state()));
  if (!r.stages().empty() && r.state() != v1::RELEASE_DRAFT &&
      r.state() != v1::RELEASE_COMPLETED &&
      r.state() != v1::RELEASE_ROLLED_BACK) {
    out += StrCat(", stage ", std::min(r.stage() + 1, r.stages_size()), " of ",
                  r.stages_size());
  }
  out += StrCat(" (", FormatExposure(ExposureOf(r)), " exposure), segment ",
                r.segment().empty() ? "everyone" : r.segment());
  return out;
}

std::string RenderReleaseList(const std::vector<v1::Release>& releases) {
  Table table({"ID", "STATE", "STAGE", "EXPOSURE", "SEGMENT", "CREATED",
               "ARTIFACTS", "SOURCE", "MESSAGE"},
              {true, false, false, true, false, false, false, false, false});
  for (const v1::Release& r : releases) {
    std::vector<v1::ReleaseArtifact> artifacts = ArtifactsOf(r);
    std::string state = StateName(r.state());
    if (r.rolled_back_by_release_id() != 0)
      state += StrCat(" (by ", r.rolled_back_by_release_id(), ")");
    if (r.rolls_back_release_id() != 0)
      state += StrCat(" (rolls back ", r.rolls_back_release_id(), ")");
    table.AddRow({std::to_string(r.release_id()), state, StageOf(r),
                  FormatExposure(ExposureOf(r)),
                  r.segment().empty() ? "everyone" : r.segment(),
                  TimeText(absl::FromUnixSeconds(r.created_at_unix())),
                  artifacts.empty() ? "" : FormatArtifact(artifacts[0]),
                  SourceText(r), Shorten(r.message(), 48)});
    for (size_t i = 1; i < artifacts.size(); ++i)
      table.AddRow({"", "", "", "", "", "", FormatArtifact(artifacts[i])});
  }
  return table.Render();
}

std::string RenderAdoptionChart(const std::vector<v1::AdoptionSample>& samples,
                                int width, int height) {
  if (samples.empty() || width < 1 || height < 1) return "";
  std::vector<v1::AdoptionSample> sorted = samples;
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const auto& a, const auto& b) { return a.at_ms() < b.at_ms(); });
  const int64_t t0 = sorted.front().at_ms(), t1 = sorted.back().at_ms();
  uint64_t max = 0;
  for (const auto& s : sorted) max = std::max(max, s.devices());
  const int columns = t1 > t0 ? width : 1;
  std::vector<int> bar(columns, 0);
  size_t next = 0;
  uint64_t value = 0;
  for (int c = 0; c < columns; ++c) {
    const int64_t t = columns == 1 ? t1 : t0 + (t1 - t0) * c / (columns - 1);
    while (next < sorted.size() && sorted[next].at_ms() <= t)
      value = sorted[next++].devices();
    if (max > 0 && value > 0) {
      bar[c] = std::max<int>(
          1, static_cast<int>(std::lround(static_cast<double>(value) * height /
                                          static_cast<double>(max))));
    }
  }
  const std::string top = FormatCount(max);
  const size_t label = std::max<size_t>(top.size(), 1);
  std::string out;
  for (int r = height; r >= 1; --r) {
    std::string line = Pad(r == height ? top : "", label, true) + " |";
    for (int c = 0; c < columns; ++c) line += bar[c] >= r ? '#' : ' ';
    while (line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  out += Pad("0", label, true) + " +" + std::string(columns, '-') + "\n";
  const absl::Duration span = absl::Milliseconds(t1 - t0);
  const char* format = span < absl::Hours(1)    ? "%H:%M:%S"
                       : span < absl::Hours(24) ? "%H:%M"
                                                : "%m-%d %H:%M";
  const std::string first = Strftime(absl::FromUnixMillis(t0), format);
  const std::string last = Strftime(absl::FromUnixMillis(t1), format);
  std::string axis = std::string(label + 2, ' ') + first;
  if (t1 > t0) {
    const size_t end = label + 2 + static_cast<size_t>(columns);
    if (end >= axis.size() + 2 + last.size()) {
      axis += std::string(end - axis.size() - last.size(), ' ') + last;
    } else {
      axis += "  " + last;
    }
  }
  out += axis + " UTC\n";
  return out;
}

std::string RenderReleaseStatus(const v1::ReleaseStatus& status,
                                absl::Time now) {
  const v1::Release& r = status.release();
  std::string out = StrCat("Release ", r.release_id(), " of ", r.app_id(), ": ",
                           StateName(r.state()), "\n");
  Table summary({"", ""});
  if (!r.state_reason().empty()) summary.AddRow({"reason", r.state_reason()});
  std::vector<v1::ReleaseArtifact> artifacts = ArtifactsOf(r);
  for (size_t i = 0; i < artifacts.size(); ++i) {
    summary.AddRow({i == 0 ? "artifacts" : "",
                    StrCat(FormatArtifact(artifacts[i]),
                           artifacts[i].release_sequence()
                               ? StrCat(" (sequence ",
                                        artifacts[i].release_sequence(), ")")
                               : std::string())});
  }
  summary.AddRow(
      {"segment",
       StrCat(r.segment().empty() ? "everyone" : r.segment(), " (salt ",
              r.salt().empty() ? StrCat("release-", r.release_id()) : r.salt(),
              ")")});
  summary.AddRow(
      {"created", TimeText(absl::FromUnixSeconds(r.created_at_unix()))});
  summary.AddRow({"exposure", StrCat(FormatExposure(status.exposure_bp()),
                                     " of the segment")});
  summary.AddRow(
      {"adoption", StrCat(FormatCount(Devices(status)), " devices activated")});
  if (!r.message().empty()) summary.AddRow({"message", r.message()});
  if (!SourceText(r).empty()) summary.AddRow({"source", SourceText(r)});
  if (r.max_exposure_bp() != 0 && r.max_exposure_bp() < 10000) {
    summary.AddRow(
        {"reaches", StrCat("at most ", FormatExposure(r.max_exposure_bp()),
                           " of the segment (the buckets of the "
                           "release it rolls back)")});
  }
  if (r.rolls_back_release_id() != 0)
    summary.AddRow(
        {"rolls back", StrCat("release ", r.rolls_back_release_id())});
  if (r.rolled_back_by_release_id() != 0) {
    summary.AddRow(
        {"rolled back by", StrCat("release ", r.rolled_back_by_release_id())});
  }
  const std::string gates = FormatGates(r.gates());
  if (!gates.empty()) summary.AddRow({"gates", gates});
  std::string rendered = summary.Render();
  rendered = rendered.substr(rendered.find('\n') + 1);  // no header line
  AppendIndented(out, rendered, "  ");

  out += "\nPlan\n";
  if (r.stages().empty()) {
    out += "  all at once: every device of the segment, no stages or gates\n";
  } else {
    Table plan({"", "STAGE", "EXPOSURE", "BAKE", "MIN REPORTS", "STATUS"},
               {false, true, true, true, true, false});
    const absl::Time started = absl::FromUnixMillis(r.stage_started_at_ms());
    for (int i = 0; i < r.stages_size(); ++i) {
      const v1::RolloutStage& s = r.stages(i);
      std::string mark, what;
      const bool live = r.state() == v1::RELEASE_ROLLING ||
                        r.state() == v1::RELEASE_PAUSED ||
                        r.state() == v1::RELEASE_HALTED;
      if (r.state() == v1::RELEASE_COMPLETED || (live && i < r.stage()) ||
          (r.state() == v1::RELEASE_ROLLED_BACK && i < r.stage())) {
        mark = "x";
        what = "done";
      } else if (live && i == r.stage()) {
        mark = ">";
        what = StrCat(StateName(r.state()), " here");
        if (r.stage_started_at_ms() > 0) {
          what += StrCat(", since ", Ago(now - started), " ago");
          const absl::Duration left =
              started + absl::Seconds(s.bake_seconds()) - now;
          if (r.state() == v1::RELEASE_ROLLING && left > absl::ZeroDuration())
            what += StrCat(", bake ends in ", Ago(left));
        }
      } else if (r.state() == v1::RELEASE_ROLLED_BACK && i == r.stage()) {
        mark = "!";
        what = "rolled back here";
      }
      plan.AddRow({mark, std::to_string(i + 1), FormatExposure(s.exposure_bp()),
                   ShortDuration(absl::Seconds(s.bake_seconds())),
                   FormatCount(s.min_reports()), what});
    }
    AppendIndented(out, plan.Render(), "  ");
  }

  out += "\nHealth\n";
  Table health({"", "TREATMENT", "CONTROL", "THIS STAGE"},
               {false, true, true, true});
  const v1::CohortHealth& t = status.treatment();
  const v1::CohortHealth& c = status.control();
  const v1::CohortHealth& st = status.treatment_stage();
  auto row = [&](const std::string& name, auto fn) {
    health.AddRow({name, fn(t), fn(c), fn(st)});
  };
  row("activated",
      [](const v1::CohortHealth& h) { return FormatCount(h.activated()); });
  row("launches",
      [](const v1::CohortHealth& h) { return FormatCount(Launches(h)); });
  row("crash rate", [](const v1::CohortHealth& h) {
    return StrCat(FormatRate(h.crash_rate()), " (",
                  FormatCount(h.launch_crashes()), ")");
  });
  row("apply failures", [](const v1::CohortHealth& h) {
    return StrCat(FormatRate(h.apply_failure_rate()), " (",
                  FormatCount(ApplyFailures(h)), ")");
  });
  row("integrity failures", [](const v1::CohortHealth& h) {
    return FormatCount(h.integrity_failures());
  });
  row("rolled back",
      [](const v1::CohortHealth& h) { return FormatCount(h.rolled_back()); });
  AppendIndented(out, health.Render(), "  ");

  out += "\nGate: ";
  if (status.gate_action().empty()) {
    out += "not judged yet\n";
  } else if (status.gate_rule() == "not_rolling") {
    // Gates judge rolling releases only.
    out += StrCat("not judging (the release is ", StateName(r.state()), ")\n");
  } else {
    out += status.gate_action();
    if (!status.gate_rule().empty())
      out += StrCat(" (", status.gate_rule(), ")");
    if (!status.gate_reason().empty())
      out += StrCat(": ", status.gate_reason());
    out += "\n";
  }

  std::vector<v1::AdoptionSample> samples(status.adoption().begin(),
                                          status.adoption().end());
  out += "\nAdoption (devices activated)\n";
  uint64_t most = 0;
  for (const auto& a : samples) most = std::max(most, a.devices());
  if (samples.empty()) {
    out += "  no samples yet\n";
  } else if (most == 0) {
    out += StrCat(
        "  no device has activated it yet (", samples.size(),
        samples.size() == 1 ? " sample" : " samples", " since ",
        Strftime(absl::FromUnixMillis(samples.front().at_ms()), "%H:%M:%S"),
        " UTC)\n");
  } else {
    AppendIndented(out, RenderAdoptionChart(samples), "  ");
  }

  out += "\nHistory\n";
  if (status.history().empty()) {
    out += "  none\n";
  } else {
    Table history({"TIME", "ACTOR", "ACTION", "DETAIL"});
    for (const v1::AuditEntry& e : status.history()) {
      history.AddRow({TimeText(absl::FromUnixSeconds(e.at_unix())), e.actor(),
                      e.action(), ReadableAuditDetail(e.detail())});
    }
    AppendIndented(out, history.Render(), "  ");
  }
  return out;
}

std::string TransitionLine(const v1::ReleaseStatus& status, absl::Time at) {
  const v1::Release& r = status.release();
  std::string out = StrCat(Strftime(at, "%H:%M:%S"), "  release ",
                           r.release_id(), "  ", StateName(r.state()));
  if (!r.stages().empty()) out += StrCat("  stage ", StageOf(r));
  out += StrCat("  ", FormatExposure(status.exposure_bp()), "  devices ",
                FormatCount(Devices(status)));
  if (!r.state_reason().empty()) out += StrCat("  ", r.state_reason());
  return out;
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B",
                  static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

std::string ProgressLine(uint64_t done, uint64_t total, absl::Duration elapsed,
                         int bar_width) {
  if (done > total) done = total;
  const double fraction =
      total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(fraction * bar_width);
  std::string out = "upload [" + std::string(filled, '#') +
                    std::string(bar_width - filled, '-') + "] ";
  char pct[8];
  std::snprintf(pct, sizeof(pct), "%3d%%", static_cast<int>(fraction * 100));
  out += pct;
  out += StrCat("  ", FormatBytes(done), " / ", FormatBytes(total));
  const double secs = absl::ToDoubleSeconds(elapsed);
  if (secs > 0.05) {
    out += StrCat(
        "  ",
        FormatBytes(static_cast<uint64_t>(static_cast<double>(done) / secs)),
        "/s");
  }
  return out;
}

std::string ReadableAuditDetail(const std::string& detail) {
  static constexpr std::string_view kKey = "module=";
  std::string out;
  size_t pos = 0;
  while (pos < detail.size()) {
    const size_t at = detail.find(kKey, pos);
    // Only a key at the start of the detail or after a blank.
    if (at == std::string::npos) break;
    const size_t value = at + kKey.size();
    size_t digits = value;
    while (digits < detail.size() &&
           std::isdigit(static_cast<unsigned char>(detail[digits])))
      ++digits;
    const bool is_key = at == 0 || detail[at - 1] == ' ';
    if (!is_key || digits == value || digits - value > 3 ||
        digits >= detail.size() || detail[digits] != ':') {
      out.append(detail, pos, value - pos);
      pos = value;
      continue;
    }
    const int number = std::stoi(detail.substr(value, digits - value));
    const std::string name =
        v1::Layer_IsValid(number) && number != v1::LAYER_UNSPECIFIED
            ? LayerFlagName(static_cast<v1::Layer>(number))
            : "unknown";
    out.append(detail, pos, value - pos);
    out += name == "unknown" ? detail.substr(value, digits - value + 1)
                             : name + "/";
    pos = digits + 1;
  }
  out.append(detail, pos, std::string::npos);
  return out;
}

std::string RenderAuditList(const std::vector<v1::AuditEntry>& entries) {
  if (entries.empty()) return "no audit entries\n";
  Table table({"SEQ", "TIME", "ACTOR", "ACTION", "APP", "DETAIL"},
              {true, false, false, false, false, false});
  for (const v1::AuditEntry& e : entries) {
    table.AddRow({std::to_string(e.seq()),
                  TimeText(absl::FromUnixSeconds(e.at_unix())), e.actor(),
                  e.action(), e.app_id().empty() ? "-" : e.app_id(),
                  ReadableAuditDetail(e.detail())});
  }
  return table.Render();
}

}  // namespace strata::admin
