// fleet_sim: a simulated fleet (1,000,000 devices by default) through two
// staged, health-gated releases of one H5 module, driven through the real
// server cores in this process (Store on RocksDB in a temp dir, AdminCore
// with its ReleaseCore and FleetObserver, DeliveryCore), wired as
// StrataServer wires them, without gRPC.
//
// Simulated time moves in slices (10 min). In each slice the devices whose
// turn it is launch the app: each does what the SDK does at a launch —
// Check (with what it has installed), install what the plan offers
// (DOWNLOADED, APPLIED, ACTIVATED), run it (LAUNCH_OK or LAUNCH_CRASH with
// the releases the launch ran) and Report those events with the ticket of
// that Check. After each slice the clock moves on and the health gates run
// once (ReleaseCore::Tick, what stratad's gate thread calls).
//
// Release A crashes `--bad-crash` of launches on the devices that run it;
// release B only the baseline `--base-crash` that every launch has. A is
// released first; B, the fix, once A has stopped. The run succeeds (exit 0)
// when A halted at its first stage and B completed, read back through
// ReleaseCore::Status; it prints the memory of the process (RSS before and
// after the devices, and its peak), the time per gate tick and the Check
// and Report throughput. docs/benchmarks.md, "Fleet simulator".
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "strata/base/exit_codes.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/delivery_core.h"
#include "strata/server/storage/store.h"

namespace strata::fleet_sim {
namespace {

using server::AdminCore;
using server::DeliveryCore;
using server::Principal;
using server::Store;
using Steady = std::chrono::steady_clock;

constexpr char kApp[] = "superapp";
constexpr char kModule[] = "mall-home";

struct Options {
  uint32_t devices = 1'000'000;
  uint64_t seed = 1;
  int threads = 2;          // Check threads (CPU: one per core)
  int report_threads = 32;  // Report threads (a synced write each)
  // A device launches once every this many slices (at its own phase).
  int launch_every = 12;
  double base_crash = 0.01;  // every launch
  double bad_crash = 0.20;   // launches running release A
  int max_slices = 120;      // per release
  std::string dir;           // empty: a new temp dir, removed at the end
};

// splitmix64: the per-device, per-slice randomness, the same whatever
// thread runs the device.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double Uniform(uint64_t seed, uint64_t a, uint64_t b) {
  return static_cast<double>(Mix(seed ^ Mix(a ^ Mix(b))) >> 11) * 0x1.0p-53;
}

// What the simulator keeps per device: 8 bytes. Ids, attributes and event
// ids are derived from the index when a request needs them.
struct Device {
  uint32_t events = 0;    // event ids sent so far ("<n>")
  uint8_t installed = 0;  // 0 nothing, else 1 + index into versions
};
static_assert(sizeof(Device) == 8);

// A published version of the module and the release that carries it.
struct Version {
  std::string version;
  std::string content;
  double crash = 0;  // share of launches running it that crash
  uint64_t release_id = 0;
  v1::InstalledModule installed;  // as a device that runs it reports it
  std::atomic<uint64_t> installs{0};
};

// Latency histogram: 8 buckets per doubling of nanoseconds.
class Histogram {
 public:
  void Add(int64_t ns) {
    ++n_;
    sum_ += ns;
    max_ = std::max(max_, ns);
    const double b = std::log2(static_cast<double>(std::max<int64_t>(ns, 1)));
    ++buckets_[std::min<size_t>(kBuckets - 1, static_cast<size_t>(b * 8))];
  }
  void Merge(const Histogram& o) {
    n_ += o.n_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
    for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
  }
  uint64_t count() const { return n_; }
  double max_ms() const { return static_cast<double>(max_) * 1e-6; }
  double sum_seconds() const { return static_cast<double>(sum_) * 1e-9; }
  // Upper edge of the bucket holding the p-quantile, in microseconds.
  double PercentileUs(double p) const {
    uint64_t seen = 0;
    const uint64_t want = std::min<uint64_t>(
        n_ - 1, static_cast<uint64_t>(p * static_cast<double>(n_)));
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen > want) return std::exp2(static_cast<double>(i + 1) / 8) / 1e3;
    }
    return 0;
  }

 private:
  static constexpr size_t kBuckets = 8 * 40;
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t n_ = 0;
  int64_t sum_ = 0;
  int64_t max_ = 0;
};

// One device thread's figures.
struct ThreadStats {
  Histogram check, report;
  uint64_t events = 0;       // events reported
  uint64_t not_counted = 0;  // events the server kept but did not count
  uint64_t crashes = 0;
  absl::Status error;
};

// Resident and peak memory of this process, from /proc/self/status.
struct Memory {
  uint64_t rss_kb = 0, hwm_kb = 0;
};
Memory ReadMemory() {
  Memory m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    uint64_t v = 0;
    auto value = [&] {
      std::string s = line.substr(line.find(':') + 1);
      s.erase(std::remove_if(s.begin(), s.end(),
                             [](char c) { return c < '0' || c > '9'; }),
              s.end());
      return absl::SimpleAtoi(s, &v) ? v : 0;
    };
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kb = value();
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kb = value();
  }
  return m;
}
double Mb(uint64_t kb) { return static_cast<double>(kb) / 1024.0; }

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  }
  return n;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

class FleetSim {
 public:
  explicit FleetSim(const Options& o) : o_(o) {}

  absl::Status Open(const std::string& db_dir) {
    STRATA_ASSIGN_OR_RETURN(store_, Store::Open(db_dir));
    // As StrataServer::Start, without gRPC, online keys or deltas; the
    // app has no root of trust, so publishes are unsigned.
    admin_ = std::make_unique<AdminCore>(
        store_.get(), &clock_,
        server::AdminLimits{.require_signatures = false});
    STRATA_RETURN_IF_ERROR(admin_->LoadTrust());
    server::DeliveryOptions delivery;
    delivery.random = &random_;
    delivery_ =
        std::make_unique<DeliveryCore>(store_.get(), &clock_, delivery, nullptr,
                                       admin_->fleet(), admin_->trust());
    STRATA_RETURN_IF_ERROR(admin_->releases().LoadHealth());
    admin_->OnReleasesChanged([d = delivery_.get()](const std::string& app) {
      d->ReleasesChanged(app);
    });
    versions_[0].version = "2.0.0";
    versions_[0].content = "mall-home 2.0.0: crashes on launch";
    versions_[0].crash = o_.bad_crash;
    versions_[1].version = "2.0.1";
    versions_[1].content = "mall-home 2.0.1: the fix";
    versions_[1].crash = o_.base_crash;
    for (Version& v : versions_) {
      v1::PublishHeader h;
      v1::ArtifactStatement* st = h.mutable_statement();
      st->set_app_id(kApp);
      st->mutable_module()->set_layer(v1::LAYER_H5);
      st->mutable_module()->set_name(kModule);
      st->set_version(v.version);
      st->set_content_sha256(Sha256::HexHash(v.content));
      st->set_size(v.content.size());
      STRATA_RETURN_IF_ERROR(admin_->PublishBytes(who_, h, v.content).status());
    }
    return absl::OkStatus();
  }

  // The plan of both releases: 1%, 10%, 50%, 100%, an hour each, with
  // minimum reports and launches that scale with the fleet (200, 1000,
  // 5000, 5000 reports and 200 launches at a million devices).
  absl::Status CreateRelease(int index) {
    Version& v = versions_[index];
    v1::CreateReleaseRequest r;
    r.set_app_id(kApp);
    r.mutable_module()->set_layer(v1::LAYER_H5);
    r.mutable_module()->set_name(kModule);
    r.set_version(v.version);
    r.set_message(StrCat("fleet_sim release of ", v.version));
    const double scale = static_cast<double>(o_.devices) / 1e6;
    auto scaled = [&](uint64_t at_million) {
      return std::max<uint64_t>(
          10, static_cast<uint64_t>(static_cast<double>(at_million) * scale));
    };
    const std::pair<uint32_t, uint64_t> stages[] = {
        {100, 200}, {1000, 1000}, {5000, 5000}, {10000, 5000}};
    for (const auto& [bp, min_reports] : stages) {
      v1::RolloutStage* s = r.add_stages();
      s->set_exposure_bp(bp);
      s->set_bake_seconds(3600);
      s->set_min_reports(scaled(min_reports));
    }
    r.mutable_gates()->set_min_launches(scaled(200));
    STRATA_ASSIGN_OR_RETURN(v1::Release created,
                            admin_->releases().Create(who_, r));
    v.release_id = created.release_id();
    *v.installed.mutable_module() = r.module();
    v.installed.set_version(v.version);
    v.installed.set_content_sha256(Sha256::HexHash(v.content));
    v.installed.set_release_sequence(created.artifacts(0).release_sequence());
    return absl::OkStatus();
  }

  absl::StatusOr<v1::ReleaseStatus> Status(int index) {
    v1::GetReleaseStatusRequest req;
    req.set_app_id(kApp);
    req.set_release_id(versions_[index].release_id);
    return admin_->releases().Status(who_, req);
  }

  void AllocateDevices() {
    devices_.assign(o_.devices, Device{});  // touched: counted in RSS
  }

  // One slice: the devices whose turn it is launch. Every one's Check,
  // then every one's Report with the ticket of its Check: the phases are
  // timed apart (Check is CPU; Report is a synced RocksDB write, which
  // RocksDB commits in groups when reports arrive concurrently, as they
  // do on a server).
  absl::Status RunSlice(int slice) {
    std::vector<uint32_t> launching;
    for (uint32_t i = 0; i < o_.devices; ++i) {
      if (Mix(o_.seed ^ Mix(i)) % static_cast<uint64_t>(o_.launch_every) ==
          static_cast<uint64_t>(slice % o_.launch_every)) {
        launching.push_back(i);
      }
    }
    std::vector<Pending> pending(launching.size());
    STRATA_RETURN_IF_ERROR(Parallel(
        o_.threads, &check_seconds_, [&](size_t t, size_t n, ThreadStats& s) {
          v1::CheckRequest req;
          for (size_t k = t; k < launching.size(); k += n) {
            pending[k].device = launching[k];
            STRATA_RETURN_IF_ERROR(CheckDevice(pending[k], req, s));
          }
          return absl::OkStatus();
        }));
    return Parallel(
        o_.report_threads, &report_seconds_,
        [&](size_t t, size_t n, ThreadStats& s) {
          v1::ReportRequest req;
          for (size_t k = t; k < pending.size(); k += n) {
            STRATA_RETURN_IF_ERROR(ReportDevice(pending[k], slice, req, s));
          }
          return absl::OkStatus();
        });
  }

  // Moves the clock past the slice and runs the gates once, timed.
  absl::Status Tick() {
    clock_.Advance(absl::Minutes(10));
    const auto start = Steady::now();
    STRATA_ASSIGN_OR_RETURN(std::vector<rollout::GateDecision> changed,
                            admin_->releases().Tick());
    tick_ms_.push_back(
        std::chrono::duration<double, std::milli>(Steady::now() - start)
            .count());
    for (const rollout::GateDecision& d : changed) {
      std::printf("  gate: release %llu stage %d -> %s (%s): %s\n",
                  static_cast<unsigned long long>(d.figures.release_id),
                  d.figures.stage,
                  std::string(rollout::GateActionName(d.action)).c_str(),
                  d.rule.c_str(), d.reason.c_str());
    }
    return absl::OkStatus();
  }

  // Slices until release `index` is no longer rolling; returns them.
  absl::StatusOr<int> RunUntilDecided(int index, int* slice) {
    for (int n = 0; n < o_.max_slices; ++n) {
      const uint64_t launches = total_.check.count();
      const uint64_t events = total_.events;
      slice_check_max_ms_ = 0;
      const double check = check_seconds_, report = report_seconds_;
      STRATA_RETURN_IF_ERROR(RunSlice((*slice)++));
      STRATA_RETURN_IF_ERROR(Tick());
      STRATA_ASSIGN_OR_RETURN(v1::ReleaseStatus s, Status(index));
      STRATA_ASSIGN_OR_RETURN(const double probe_us, DedupeProbeUs(*slice));
      // One line per slice: where the release is and what the server holds.
      std::printf(
          "slice %3d  %s stage %d (%5.1f%%)  launches %7llu  Check %5.1f s "
          "(max %6.1f ms)  Report %6.1f s (%.2f events each, dedupe look-up "
          "%5.1f us)  tick %6.3f ms  RSS %7.1f MB  fleet view %7zu  health "
          "marks in memory %8zu\n",
          *slice, index == 0 ? "A" : "B", s.release().stage(),
          s.exposure_bp() / 100.0,
          static_cast<unsigned long long>(total_.check.count() - launches),
          check_seconds_ - check, slice_check_max_ms_, report_seconds_ - report,
          static_cast<double>(total_.events - events) /
              static_cast<double>(
                  std::max<uint64_t>(1, total_.check.count() - launches)),
          probe_us, tick_ms_.back(), Mb(ReadMemory().rss_kb),
          admin_->fleet()->devices(),
          admin_->fleet()->health().tracked_devices());
      std::fflush(stdout);
      if (s.release().state() != v1::RELEASE_ROLLING) return n + 1;
    }
    return o_.max_slices;
  }

  // What Report's dedupe costs apart from the synced write: the mean time
  // of Store::HaveReportEvents for one event id no device sent, over 1,000
  // devices, on this thread while nothing else runs.
  absl::StatusOr<double> DedupeProbeUs(int slice) {
    constexpr int kProbes = 1000;
    const auto start = Steady::now();
    for (int k = 0; k < kProbes; ++k) {
      const uint64_t i = Mix(o_.seed ^ Mix(static_cast<uint64_t>(slice)) ^
                             static_cast<uint64_t>(k)) %
                         o_.devices;
      STRATA_ASSIGN_OR_RETURN(
          std::vector<bool> have,
          store_->HaveReportEvents(kApp, StrCat("device-", i),
                                   {StrCat("probe-", slice, "-", k)}));
      if (have[0]) return absl::InternalError("a probe id was found");
    }
    return std::chrono::duration<double, std::micro>(Steady::now() - start)
               .count() /
           kProbes;
  }

  const Version& version(int i) const { return versions_[i]; }
  const ThreadStats& total() const { return total_; }
  double check_seconds() const { return check_seconds_; }
  double report_seconds() const { return report_seconds_; }
  const std::vector<double>& tick_ms() const { return tick_ms_; }
  server::FleetObserver* fleet() { return admin_->fleet(); }
  absl::StatusOr<std::vector<v1::AuditEntry>> Audit() {
    return admin_->ListAudit(who_, 0, 1000);
  }
  // Devices whose installed version is `index`.
  uint64_t Running(int index) const {
    return static_cast<uint64_t>(std::count_if(
        devices_.begin(), devices_.end(),
        [&](const Device& d) { return d.installed == index + 1; }));
  }
  // Installs of A while it was not rolling (must stay 0).
  uint64_t installs_of_a_after_halt() const { return installs_after_halt_; }
  void MarkAHalted() { a_halted_.store(true); }

 private:
  // A device between its Check and its Report.
  struct Pending {
    uint32_t device = 0;
    int offered = -1;  // the version its Check installed, if any
    std::string ticket;
  };

  // Runs fn(thread index, threads, stats) on `n` threads, adds the wall
  // time to `*seconds` and the threads' figures to the totals.
  template <typename Fn>
  absl::Status Parallel(int n, double* seconds, Fn fn) {
    std::vector<ThreadStats> stats(static_cast<size_t>(n));
    std::vector<std::thread> threads;
    const auto start = Steady::now();
    for (size_t t = 0; t < stats.size(); ++t) {
      threads.emplace_back(
          [&, t] { stats[t].error = fn(t, stats.size(), stats[t]); });
    }
    for (std::thread& t : threads) t.join();
    *seconds += std::chrono::duration<double>(Steady::now() - start).count();
    for (ThreadStats& s : stats) {
      STRATA_RETURN_IF_ERROR(s.error);
      total_.check.Merge(s.check);
      slice_check_max_ms_ = std::max(slice_check_max_ms_, s.check.max_ms());
      total_.report.Merge(s.report);
      total_.not_counted += s.not_counted;
      total_.events += s.events;
      total_.crashes += s.crashes;
    }
    return absl::OkStatus();
  }

  void FillDevice(uint32_t i, v1::DeviceContext* d) const {
    d->set_app_id(kApp);
    d->set_device_id(StrCat("device-", i));
    d->set_user_id(StrCat("user-", i));
    d->set_os(i % 3 == 0 ? "ios" : "android");
    d->set_app_version("10.4.0");
  }

  void AddEvent(v1::ReportRequest& req, Device& d, v1::ReportEvent::Kind kind,
                const Version* v) {
    v1::ReportEvent* e = req.add_events();
    e->set_event_id(StrCat(++d.events));
    e->set_kind(kind);
    e->set_at_unix(absl::ToUnixSeconds(clock_.Now()));
    if (v == nullptr) return;
    if (kind == v1::ReportEvent::KIND_LAUNCH_OK ||
        kind == v1::ReportEvent::KIND_LAUNCH_CRASH) {
      e->add_release_ids(v->release_id);
    } else {
      *e->mutable_module() = v->installed.module();
      e->set_release_id(v->release_id);
    }
  }

  // The device's Check; installs what it offers.
  absl::Status CheckDevice(Pending& p, v1::CheckRequest& check,
                           ThreadStats& s) {
    Device& d = devices_[p.device];
    check.Clear();
    FillDevice(p.device, check.mutable_device());
    if (d.installed != 0) {
      *check.add_installed() = versions_[d.installed - 1].installed;
    }
    const auto t0 = Steady::now();
    absl::StatusOr<v1::CheckResponse> plan = delivery_->Check(check);
    s.check.Add(std::chrono::nanoseconds(Steady::now() - t0).count());
    if (!plan.ok()) return Annotate(plan.status(), "Check");
    p.ticket = plan->plan().report_ticket();
    for (const v1::UpdateEntry& e : plan->plan().updates()) {
      const int index = e.release_id() == versions_[0].release_id   ? 0
                        : e.release_id() == versions_[1].release_id ? 1
                                                                    : -1;
      if (index < 0) {
        return absl::InternalError(StrCat("device ", p.device,
                                          " was offered unknown release ",
                                          e.release_id()));
      }
      p.offered = index;
      d.installed = static_cast<uint8_t>(index + 1);
      versions_[index].installs.fetch_add(1, std::memory_order_relaxed);
      if (index == 0 && a_halted_.load(std::memory_order_relaxed)) {
        installs_after_halt_.fetch_add(1);
      }
    }
    return absl::OkStatus();
  }

  // The device's events since its Check: the install, then the launch
  // running what it has (crashing as that version does), sent with the
  // Check's ticket.
  absl::Status ReportDevice(const Pending& p, int slice,
                            v1::ReportRequest& report, ThreadStats& s) {
    Device& d = devices_[p.device];
    report.Clear();
    FillDevice(p.device, report.mutable_device());
    report.set_ticket(p.ticket);
    if (p.offered >= 0) {
      for (auto kind :
           {v1::ReportEvent::KIND_DOWNLOADED, v1::ReportEvent::KIND_APPLIED,
            v1::ReportEvent::KIND_ACTIVATED}) {
        AddEvent(report, d, kind, &versions_[p.offered]);
      }
    }
    const Version* running =
        d.installed == 0 ? nullptr : &versions_[d.installed - 1];
    const double crash = running == nullptr ? o_.base_crash : running->crash;
    const bool crashed =
        Uniform(o_.seed, p.device, static_cast<uint64_t>(slice)) < crash;
    s.crashes += crashed;
    AddEvent(report, d,
             crashed ? v1::ReportEvent::KIND_LAUNCH_CRASH
                     : v1::ReportEvent::KIND_LAUNCH_OK,
             running);
    const auto t0 = Steady::now();
    absl::StatusOr<v1::ReportResponse> r = delivery_->Report(report);
    s.report.Add(std::chrono::nanoseconds(Steady::now() - t0).count());
    if (!r.ok()) return Annotate(r.status(), "Report");
    if (r->accepted() != static_cast<uint32_t>(report.events_size())) {
      return absl::InternalError(
          StrCat("device ", p.device, ": ", r->accepted(), " of ",
                 report.events_size(), " events accepted"));
    }
    s.not_counted += r->not_counted();
    s.events += static_cast<uint64_t>(report.events_size());
    return absl::OkStatus();
  }

  const Options o_;
  testing::SimulatedClock clock_;
  testing::FakeRandom random_{42};
  Principal who_{"fleet-sim", v1::ROLE_ADMIN, "*"};
  std::unique_ptr<Store> store_;
  std::unique_ptr<AdminCore> admin_;
  std::unique_ptr<DeliveryCore> delivery_;
  std::array<Version, 2> versions_;
  std::vector<Device> devices_;
  std::atomic<bool> a_halted_{false};
  std::atomic<uint64_t> installs_after_halt_{0};
  ThreadStats total_;
  double check_seconds_ = 0;
  double slice_check_max_ms_ = 0;  // the slowest Check of this slice
  double report_seconds_ = 0;
  std::vector<double> tick_ms_;
};

const char* StateName(v1::ReleaseState s) {
  return v1::ReleaseState_Name(s).c_str();
}

int Run(const Options& o) {
  std::string dir = o.dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/strata_fleet_sim_XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::fprintf(stderr, "fleet_sim: cannot make a temp dir in /tmp\n");
      return kExitFailure;
    }
    dir = tmpl;
  }
  auto fail = [&](const absl::Status& s) {
    std::fprintf(stderr, "fleet_sim: %s\n", s.ToString().c_str());
    if (o.dir.empty()) (void)DeleteRecursively(*PosixFileSystem(), dir);
    return ExitCodeFor(s);
  };
  std::printf(
      "fleet_sim: %u devices, %d Check / %d Report threads, a launch every %d "
      "slices of 10 "
      "min, crash %.2f%% baseline / %.2f%% with release A, seed %llu, "
      "RocksDB in %s\n",
      o.devices, o.threads, o.report_threads, o.launch_every,
      100 * o.base_crash, 100 * o.bad_crash,
      static_cast<unsigned long long>(o.seed), dir.c_str());
  const Memory at_start = ReadMemory();
  FleetSim sim(o);
  if (absl::Status s = sim.Open(JoinPath(dir, "db")); !s.ok()) return fail(s);
  if (absl::Status s = sim.CreateRelease(0); !s.ok()) return fail(s);
  const Memory server_ready = ReadMemory();
  sim.AllocateDevices();
  const Memory table_ready = ReadMemory();

  // Release A, until its gates decide.
  int slice = 0;
  absl::StatusOr<int> a_slices = sim.RunUntilDecided(0, &slice);
  if (!a_slices.ok()) return fail(a_slices.status());
  sim.MarkAHalted();
  absl::StatusOr<v1::ReleaseStatus> a = sim.Status(0);
  if (!a.ok()) return fail(a.status());
  std::printf("release A (%s, id %llu): %s at stage %d after %d slices\n",
              sim.version(0).version.c_str(),
              static_cast<unsigned long long>(sim.version(0).release_id),
              StateName(a->release().state()), a->release().stage(), *a_slices);
  // Release B, the fix.
  if (absl::Status s = sim.CreateRelease(1); !s.ok()) return fail(s);
  absl::StatusOr<int> b_slices = sim.RunUntilDecided(1, &slice);
  if (!b_slices.ok()) return fail(b_slices.status());
  absl::StatusOr<v1::ReleaseStatus> b = sim.Status(1);
  if (!b.ok()) return fail(b.status());
  a = sim.Status(0);
  if (!a.ok()) return fail(a.status());
  std::printf("release B (%s, id %llu): %s at stage %d after %d slices\n",
              sim.version(1).version.c_str(),
              static_cast<unsigned long long>(sim.version(1).release_id),
              StateName(b->release().state()), b->release().stage(), *b_slices);
  const Memory at_end = ReadMemory();

  // The figures.
  const ThreadStats& t = sim.total();
  const uint64_t sessions = t.check.count();
  std::printf(
      "\nsimulated time %d slices (%.1f h); %llu launches (Check + "
      "Report each), %llu crashed\n",
      slice, slice / 6.0, static_cast<unsigned long long>(sessions),
      static_cast<unsigned long long>(t.crashes));
  for (int i = 0; i < 2; ++i) {
    std::printf("  %s: %llu installs, %llu devices run it at the end\n",
                sim.version(i).version.c_str(),
                static_cast<unsigned long long>(sim.version(i).installs.load()),
                static_cast<unsigned long long>(sim.Running(i)));
  }
  for (const auto& [name, st] : {std::pair{"A", &*a}, std::pair{"B", &*b}}) {
    std::printf(
        "  %s health: treatment %llu launched devices, %llu crashed; "
        "control %llu launched, %llu crashed\n",
        name,
        static_cast<unsigned long long>(st->treatment().launches_ok() +
                                        st->treatment().launch_crashes()),
        static_cast<unsigned long long>(st->treatment().launch_crashes()),
        static_cast<unsigned long long>(st->control().launches_ok() +
                                        st->control().launch_crashes()),
        static_cast<unsigned long long>(st->control().launch_crashes()));
  }
  std::printf("  events kept but not counted (outside both cohorts): %llu\n",
              static_cast<unsigned long long>(t.not_counted));
  std::printf("  installs of A after it halted: %llu\n",
              static_cast<unsigned long long>(sim.installs_of_a_after_halt()));

  std::printf("\ncalls through the core:\n");
  for (const auto& [name, h, threads, seconds] :
       {std::tuple{"Check ", &t.check, o.threads, sim.check_seconds()},
        std::tuple{"Report", &t.report, o.report_threads,
                   sim.report_seconds()}}) {
    std::printf(
        "  %s %llu calls on %d threads in %.1f s: %.0f/s; p50 %.0f us, p99 "
        "%.0f us, max %.1f ms\n",
        name, static_cast<unsigned long long>(h->count()), threads, seconds,
        static_cast<double>(h->count()) / seconds, h->PercentileUs(0.5),
        h->PercentileUs(0.99), h->max_ms());
  }
  const std::vector<double>& ticks = sim.tick_ms();
  std::printf("gate ticks: %zu, p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              ticks.size(), Percentile(ticks, 0.5), Percentile(ticks, 0.99),
              Percentile(ticks, 1.0));
  std::printf(
      "memory: RSS %.1f MB at start, %.1f MB with the server cores, %.1f MB "
      "with the device table (%.1f MB for %u devices), %.1f MB at the end: "
      "server growth %.1f MB (%.0f bytes per device); peak (VmHWM) %.1f MB\n",
      Mb(at_start.rss_kb), Mb(server_ready.rss_kb), Mb(table_ready.rss_kb),
      Mb(table_ready.rss_kb - server_ready.rss_kb), o.devices,
      Mb(at_end.rss_kb), Mb(at_end.rss_kb - table_ready.rss_kb),
      static_cast<double>(at_end.rss_kb - table_ready.rss_kb) * 1024.0 /
          o.devices,
      Mb(at_end.hwm_kb));
  std::printf(
      "  held by the server: fleet view %zu devices (capped per app), "
      "health marks in memory %zu (device x release x cohort x stage; "
      "stored with the aggregates in RocksDB since issue 16); RocksDB %.1f "
      "MB on disk\n",
      sim.fleet()->devices(), sim.fleet()->health().tracked_devices(),
      static_cast<double>(DirBytes(JoinPath(dir, "db"))) / (1 << 20));
  // How much of the RSS is live heap, and how much the allocator keeps
  // of what was freed (32 report threads: many malloc arenas).
  const struct mallinfo2 heap = ::mallinfo2();
  ::malloc_trim(0);
  std::printf(
      "  malloc: %.1f MB in use (%.1f MB of it mmapped blocks), %.1f MB "
      "free but held; RSS after malloc_trim %.1f MB\n",
      static_cast<double>(heap.uordblks + heap.hblkhd) / (1 << 20),
      static_cast<double>(heap.hblkhd) / (1 << 20),
      static_cast<double>(heap.fordblks) / (1 << 20), Mb(ReadMemory().rss_kb));

  if (o.dir.empty()) (void)DeleteRecursively(*PosixFileSystem(), dir);
  const bool a_ok = a->release().state() == v1::RELEASE_HALTED &&
                    a->release().stage() == 0 &&
                    sim.installs_of_a_after_halt() == 0;
  const bool b_ok = b->release().state() == v1::RELEASE_COMPLETED;
  std::printf(
      "\n%s: release A %s at stage %d (want HALTED at 0), release B "
      "%s (want COMPLETED)\n",
      a_ok && b_ok ? "PASS" : "FAIL", StateName(a->release().state()),
      a->release().stage(), StateName(b->release().state()));
  return a_ok && b_ok ? kExitOk : kExitFailure;
}

}  // namespace
}  // namespace strata::fleet_sim

int main(int argc, char** argv) {
  strata::fleet_sim::Options o;
  CLI::App app{
      "A simulated fleet through two staged releases in the server cores: "
      "the crashing one must halt at its first stage, the healthy one "
      "complete (exit 0)."};
  app.add_option("--devices", o.devices, "fleet size")
      ->check(CLI::Range(100u, 100'000'000u));
  app.add_option("--seed", o.seed, "randomness of launches and crashes");
  app.add_option("--threads", o.threads, "threads calling Check")
      ->check(CLI::Range(1, 256));
  app.add_option("--report-threads", o.report_threads,
                 "threads calling Report (concurrent synced writes)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--launch-every", o.launch_every,
                 "slices of 10 min between a device's launches")
      ->check(CLI::Range(1, 1000));
  app.add_option("--base-crash", o.base_crash,
                 "share of launches that crash anyway")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--bad-crash", o.bad_crash,
                 "share of launches running release A that crash")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-slices", o.max_slices,
                 "give up on a release after this many slices")
      ->check(CLI::Range(1, 100000));
  app.add_option("--dir", o.dir,
                 "data directory (kept); default a temp dir, removed");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? strata::kExitOk : strata::kExitBadInput;
  }
  return strata::fleet_sim::Run(o);
}
