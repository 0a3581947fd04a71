// Start-up time of stratad with many stored device reports (issue 16):
// release health is read from stored aggregates, so a start with 10
// million stored reports should take as long as one with none. Measured in
// one run:
//   empty      StrataServer::Start on a data directory without reports
//   full       the same with N stored reports (aggregates present)
//   migration  the first start on a directory an earlier version wrote
//              (reports, no aggregates): the one-time rebuild from reports
//   replay     today's replay alone: every stored report parsed and counted
//              into an in-memory HealthAggregator (the old LoadHealth)
// Starts are repeated (median of --runs), empty and full interleaved.
//
//   build/bin/startup_bench [--reports=10000000] [--runs=5] [--dir=D]
//                           [--keep]
//   build/bin/startup_bench --smoke   (2,000 reports, 1 run; ctest)
// --report-rate=K also measures report append throughput (8 threads, K
// synced reports) before and with aggregates.
// --dir reuses a directory filled by an earlier --keep run (no refill:
// only the starts; with --again its aggregates are dropped first and
// migration and replay measured again). --reports must then say how many
// reports it holds (it is only printed).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/rollout/health.h"
#include "strata/server/core/health_store.h"
#include "strata/server/core/release_model.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/server/storage/store.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from) {
  return std::chrono::duration<double>(Clock::now() - from).count();
}

[[noreturn]] void Fail(std::string_view what, const absl::Status& s) {
  std::fprintf(stderr, "startup_bench: %.*s: %s\n",
               static_cast<int>(what.size()), what.data(),
               s.ToString().c_str());
  std::exit(1);
}

constexpr int kReleases = 4;
constexpr int64_t kStartUnix = 1'750'000'000;

// Report `i` of `n` from `devices` devices: each device reports about
// n / devices times over five days, two events a report (a launch and an
// install step), attributed to one of four releases (80% treatment, 20%
// control; stage 0 for a device's first two reports, then stage 1). About
// 230 bytes stored with its event markers.
v1::StoredReport MakeReport(uint64_t i, uint64_t n, uint64_t devices) {
  const uint64_t d = i % devices;
  const uint64_t round = i / devices;
  const uint64_t release = 1 + d % kReleases;
  v1::StoredReport r;
  char device_id[40];
  std::snprintf(device_id, sizeof(device_id), "%08llx-4c1e-9a3f-%012llx",
                static_cast<unsigned long long>(d * 2654435761u),
                static_cast<unsigned long long>(d));
  r.set_device_id(device_id);
  r.set_user_id(StrCat("user-", d));
  r.set_received_at_unix(kStartUnix +
                         static_cast<int64_t>(i * (5 * 86400) / n));
  v1::ReportEvent* launch = r.add_events();
  launch->set_event_id(StrCat("l-", round, "-", d));
  launch->set_kind((d * 7 + round) % 50 == 0
                       ? v1::ReportEvent::KIND_LAUNCH_CRASH
                       : v1::ReportEvent::KIND_LAUNCH_OK);
  launch->add_release_ids(release);
  v1::ReportEvent* step = r.add_events();
  step->set_event_id(StrCat("s-", round, "-", d));
  step->set_kind(round == 0 ? v1::ReportEvent::KIND_DOWNLOADED
                            : v1::ReportEvent::KIND_ACTIVATED);
  step->set_release_id(release);
  for (uint32_t e = 0; e < 2; ++e) {
    v1::HealthAttribution* a = r.add_attributions();
    a->set_event_index(e);
    a->set_release_id(release);
    a->set_stage(round < 2 ? 0 : 1);
    a->set_cohort(d % 10 < 8 ? 1 : 2);
  }
  return r;
}

void Fill(const std::string& db, uint64_t n) {
  auto store = server::Store::Open(db);
  if (!store.ok()) Fail("opening the store to fill", store.status());
  const uint64_t devices = std::max<uint64_t>(1, n / 5);
  constexpr uint64_t kBatch = 20000;
  std::vector<v1::StoredReport> batch;
  for (uint64_t i = 0; i < n; i += kBatch) {
    batch.clear();
    for (uint64_t j = i; j < std::min(n, i + kBatch); ++j) {
      batch.push_back(MakeReport(j, n, devices));
    }
    absl::Status s = (*store)->ImportReports("superapp", batch);
    if (!s.ok()) Fail("importing reports", s);
  }
}

// StrataServer::Start to serving, then a shutdown (not timed).
double TimeStart(const std::string& data_dir) {
  server::ServerOptions options;
  options.data_dir = data_dir;
  options.listen_address = "127.0.0.1:0";
  options.http_address = "127.0.0.1:0";
  const Clock::time_point t = Clock::now();
  auto server = server::StrataServer::Start(options);
  const double s = Seconds(t);
  if (!server.ok()) Fail(StrCat("starting on ", data_dir), server.status());
  (*server)->Shutdown();
  return s;
}

// How the previous version counted a report: into memory, device marks
// included (its Report path and its start-up replay). Returns the events.
uint64_t RecordInMemory(rollout::HealthAggregator& health,
                        const v1::StoredReport& r) {
  const uint64_t device = rollout::DeviceKey(r.device_id());
  for (const v1::HealthAttribution& a : r.attributions()) {
    rollout::HealthEvent e =
        server::ToHealthEvent(r.events(static_cast<int>(a.event_index())),
                              absl::FromUnixSeconds(r.received_at_unix()));
    e.device = device;
    health.Record(a.release_id(), a.stage(),
                  static_cast<rollout::Cohort>(a.cohort()), e);
  }
  return static_cast<uint64_t>(r.attributions_size());
}

// The old LoadHealth: every stored report counted into memory.
double TimeReplay(const std::string& db, uint64_t* events) {
  const Clock::time_point t = Clock::now();
  auto store = server::Store::Open(db);
  if (!store.ok()) Fail("opening the store to replay", store.status());
  rollout::HealthAggregator health;
  absl::Status s =
      (*store)->ForEachReport([&](std::string_view, const v1::StoredReport& r) {
        *events += RecordInMemory(health, r);
        return true;
      });
  if (!s.ok()) Fail("replaying reports", s);
  return Seconds(t);
}

// Report store throughput, 8 threads of synced appends: as before (the
// report alone, health counted in memory) and now (the device's marks read,
// report and aggregate changes in one batch). Returns reports per second.
double ReportRate(const std::string& dir, bool aggregates, uint64_t n) {
  std::filesystem::remove_all(dir);
  auto store = server::Store::Open(dir);
  if (!store.ok())
    Fail("opening the store for the report rate", store.status());
  rollout::HealthAggregator health;
  constexpr int kThreads = 8;
  // A multiple of kThreads, so each device stays with one thread.
  const uint64_t devices =
      std::max<uint64_t>(kThreads, n / 3 / kThreads * kThreads);
  std::vector<std::thread> threads;
  const Clock::time_point t = Clock::now();
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      // Thread `th` owns the devices d % kThreads == th (the per-device
      // lock of DeliveryCore, in effect).
      for (uint64_t i = static_cast<uint64_t>(th); i < n; i += kThreads) {
        const v1::StoredReport r = MakeReport(i, n, devices);
        absl::Status s;
        if (aggregates) {
          auto counted = server::CountReportHealth(**store, r);
          if (!counted.ok()) Fail("counting a report", counted.status());
          s = (*store)->AppendReport("superapp", r, &counted->update);
          server::ApplyHealth(health, counted->update.buckets);
        } else {
          s = (*store)->AppendReport("superapp", r);
          RecordInMemory(health, r);
        }
        if (!s.ok()) Fail("appending a report", s);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  return static_cast<double>(n) / Seconds(t);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) total += f.file_size();
  }
  return total;
}

int Main(int argc, char** argv) {
  uint64_t n = 10'000'000;
  int runs = 5;
  std::string dir;
  bool keep = false;
  uint64_t report_rate = 0;
  bool again = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--smoke") {
      n = 2000;
      runs = 1;
      report_rate = 200;
    } else if (arg.starts_with("--reports=")) {
      n = std::stoull(std::string(arg.substr(10)));
    } else if (arg.starts_with("--runs=")) {
      runs = std::max(1, std::stoi(std::string(arg.substr(7))));
    } else if (arg.starts_with("--dir=")) {
      dir = std::string(arg.substr(6));
    } else if (arg.starts_with("--report-rate=")) {
      report_rate = std::stoull(std::string(arg.substr(14)));
    } else if (arg == "--again") {
      again = true;
    } else if (arg == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: startup_bench [--reports=N] [--runs=R] [--dir=D] "
                   "[--again] [--keep] [--report-rate=K] | --smoke\n");
      return 2;
    }
  }
  const bool reuse = !dir.empty() && std::filesystem::exists(dir);
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        StrCat(tmp != nullptr ? tmp : "/tmp", "/startup_bench.XXXXXX");
    if (::mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = templ;
  }
  const std::string empty = JoinPath(dir, "empty");
  const std::string full = JoinPath(dir, "full");
  if (!reuse) {
    std::filesystem::create_directories(dir);
    for (const std::string& d : {empty, full}) {
      absl::Status s = server::InitializeDataDir(d, JoinPath(d, "admin.token"));
      if (!s.ok()) Fail(StrCat("initializing ", d), s);
    }
    const Clock::time_point t = Clock::now();
    Fill(JoinPath(full, "db"), n);
    std::printf("filled %llu reports in %.1f s (%.0f MB on disk)\n",
                static_cast<unsigned long long>(n), Seconds(t),
                static_cast<double>(DirBytes(full)) / 1e6);
    std::fflush(stdout);
  } else if (again) {
    // As a data directory of an earlier version again: no aggregates.
    auto store = server::Store::Open(JoinPath(full, "db"));
    if (!store.ok()) Fail("opening the store", store.status());
    absl::Status s = (*store)->BeginHealthRebuild();
    if (!s.ok()) Fail("dropping the aggregates", s);
  }
  if (!reuse || again) {
    const double migration = TimeStart(full);
    std::printf("migration (first start, rebuild from reports): %.3f s\n",
                migration);
    uint64_t events = 0;
    const double replay = TimeReplay(JoinPath(full, "db"), &events);
    std::printf("today's replay (%llu events into memory): %.3f s\n",
                static_cast<unsigned long long>(events), replay);
    std::fflush(stdout);
  }
  std::vector<double> empty_s, full_s;
  for (int i = 0; i < runs; ++i) {
    empty_s.push_back(TimeStart(empty));
    full_s.push_back(TimeStart(full));
  }
  const double e = Median(empty_s), f = Median(full_s);
  std::printf(
      "start-up, median of %d: empty %.3f s, %llu reports %.3f s "
      "(full/empty %.2f; min %.3f / %.3f, max %.3f / %.3f)\n",
      runs, e, static_cast<unsigned long long>(n), f, f / e,
      *std::min_element(empty_s.begin(), empty_s.end()),
      *std::min_element(full_s.begin(), full_s.end()),
      *std::max_element(empty_s.begin(), empty_s.end()),
      *std::max_element(full_s.begin(), full_s.end()));
  if (report_rate > 0) {
    // Alternated, best of three each.
    double before = 0, after = 0;
    for (int i = 0; i < 3; ++i) {
      before = std::max(before,
                        ReportRate(JoinPath(dir, "rate"), false, report_rate));
      after =
          std::max(after, ReportRate(JoinPath(dir, "rate"), true, report_rate));
    }
    std::filesystem::remove_all(JoinPath(dir, "rate"));
    std::printf(
        "report appends, 8 threads, %llu reports: before %.0f/s, with "
        "aggregates %.0f/s (%.2fx)\n",
        static_cast<unsigned long long>(report_rate), before, after,
        after / before);
  }
  if (!keep) {
    std::filesystem::remove_all(dir);
  } else {
    std::printf("kept %s\n", dir.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) { return strata::Main(argc, argv); }
