// Power loss and a full disk under an in-process stratad (issue 15, items 3
// and 4).
//
// The server's RocksDB runs on PowerLossDisk. One workload makes every
// kind of acknowledged write (token, trust, signed and unsigned publish,
// delta record, segment put and delete, release create and every state
// change, roll back, report ticket key, report with its health aggregates,
// audit chain). Before every file operation of that run the file system
// writes what a power cut at that moment would leave (unsynced tails
// dropped, torn or zero-filled in turn; names not yet fsynced into their
// directory gone). Afterwards a real stratad starts on every one of those
// images (which collects orphaned chunks first) and the test reads back
// over gRPC: every write acknowledged before the cut is there, nothing
// acknowledged later is half there, the audit chain verifies, every blob
// downloads and hashes right, and a report is kept iff the release's
// health figures count it. A full disk refuses writes clearly and they
// resume with space; a stalled disk makes Reports beyond the server-wide
// bound fail fast instead of queueing.
#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../server/test_util.h"
#include "../server/trust_kit.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/proto/audit_chain.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/server/storage/store.h"
#include "strata/server/storage/testing/power_loss_disk.h"
#include "strata/v1/admin.grpc.pb.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using testing::IsOk;
using Tail = testing::PowerLossDisk::Tail;

// What a client can read back, as key -> value (absent keys read as "").
using Observed = std::map<std::string, std::string>;

std::string CartContent(int version) {
  // 300 KB over several chunks; version 2 differs in a few places, so the
  // delta worker stores a patch.
  std::string s;
  uint32_t x = 12345;
  while (s.size() < 300 * 1024) {
    x = x * 1103515245u + 12345u;
    s += StrCat("line ", s.size(), " value ", (x >> 8) % 1000, "\n");
  }
  if (version > 1) {
    for (size_t at : {1000u, 150000u, 290000u}) s[at] = '#';
  }
  return s;
}

class Server {
 public:
  Server(const std::string& data, const std::string& token, Clock* clock,
         rocksdb::Env* storage_env, size_t max_reports_in_flight = 4096) {
    server::ServerOptions options;
    options.data_dir = data;
    options.listen_address = "127.0.0.1:0";
    options.http_address = "";
    options.allow_unsigned_publishes = true;
    options.gate_interval = absl::ZeroDuration();
    options.trust_refresh_interval = absl::ZeroDuration();
    options.report_prune_interval = absl::ZeroDuration();
    options.storage_env = storage_env;
    options.max_reports_in_flight = max_reports_in_flight;
    Env env = Env::Default();
    env.clock = clock;
    auto started = server::StrataServer::Start(options, env);
    status_ = started.status();
    if (!started.ok()) return;
    server_ = *std::move(started);
    auto channel = grpc::CreateChannel(StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel);
    delivery_ = v1::Delivery::NewStub(channel);
    token_ = token;
  }
  ~Server() {
    if (server_) server_->Shutdown(absl::ZeroDuration());
  }
  const absl::Status& status() const { return status_; }
  v1::Admin::Stub& admin() { return *admin_; }
  v1::Delivery::Stub& delivery() { return *delivery_; }

  std::unique_ptr<grpc::ClientContext> Ctx() const {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("authorization", "Bearer " + token_);
    c->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(60));
    return c;
  }

  grpc::Status Publish(const v1::PublishHeader& header,
                       const std::string& content) {
    v1::PublishResponse resp;
    auto ctx = Ctx();
    auto writer = admin_->Publish(ctx.get(), &resp);
    v1::PublishRequest part;
    *part.mutable_header() = header;
    writer->Write(part);
    // Several messages, so a cut can fall between the chunks of one upload.
    for (size_t at = 0; at < content.size(); at += 64 * 1024) {
      v1::PublishRequest chunk;
      chunk.set_chunk(content.substr(at, 64 * 1024));
      writer->Write(chunk);
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Downloads blob `sha` and says whether its bytes hash to it.
  bool BlobVerifies(const std::string& sha) {
    v1::DownloadRequest req;
    req.set_sha256(sha);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    auto reader = delivery_->Download(&ctx, req);
    std::string data;
    v1::DownloadChunk chunk;
    while (reader->Read(&chunk)) data += chunk.data();
    return reader->Finish().ok() && Sha256::HexHash(data) == sha;
  }

 private:
  absl::Status status_;
  std::unique_ptr<server::StrataServer> server_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Delivery::Stub> delivery_;
  std::string token_;
};

class PowerLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = JoinPath(dir_.path(), "server");
    const std::string token_file = JoinPath(data_, "admin.token");
    ASSERT_THAT(server::InitializeDataDir(data_, token_file), IsOk());
    token_ = testing::Must(PosixFileSystem()->ReadFile(token_file));
    token_ = token_.substr(0, token_.find('\n'));
    kit_ = std::make_unique<testing::TrustKit>(
        &clock_, JoinPath(data_, "online-keys"), /*generate=*/false);
    fs_ = std::make_unique<testing::PowerLossDisk>();
  }

  // Reads back everything the workload can have written, and checks what
  // holds whatever was acknowledged: the audit chain verifies, every
  // artifact's blob downloads and hashes right.
  Observed Observe(Server& s, std::vector<std::string>* errors) {
    Observed o;
    std::map<uint64_t, uint64_t> launches_ok;  // by release
    {
      v1::ListTokensRequest req;
      req.set_include_revoked(true);
      v1::ListTokensResponse resp;
      grpc::Status st = s.admin().ListTokens(s.Ctx().get(), req, &resp);
      if (!st.ok()) errors->push_back("ListTokens: " + st.error_message());
      for (const v1::TokenInfo& t : resp.tokens()) {
        if (t.name() == "admin") continue;
        o["token/" + t.name()] = t.revoked_at_unix() ? "revoked" : "active";
      }
    }
    {
      v1::GetTrustRequest req;
      req.set_app_id("wallet");
      v1::TrustInfo info;
      grpc::Status st = s.admin().GetTrust(s.Ctx().get(), req, &info);
      if (!st.ok()) errors->push_back("GetTrust: " + st.error_message());
      if (info.configured()) o["trust/wallet"] = "configured";
      for (const auto& [role, bytes] : info.layer_roles()) {
        o["trust/wallet/" + role] = Sha256::HexHash(bytes).substr(0, 12);
      }
    }
    for (const char* app : {"wallet", "plain"}) {
      v1::ListArtifactsRequest req;
      req.set_app_id(app);
      v1::ListArtifactsResponse resp;
      grpc::Status st = s.admin().ListArtifacts(s.Ctx().get(), req, &resp);
      if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) {
        errors->push_back("ListArtifacts: " + st.error_message());
      }
      for (const v1::ArtifactInfo& a : resp.artifacts()) {
        const v1::ArtifactStatement& st2 = a.statement();
        o[StrCat("artifact/", app, "/", st2.module().name(), "@",
                 st2.version())] = st2.content_sha256();
        if (!s.BlobVerifies(st2.content_sha256())) {
          errors->push_back(StrCat("blob of ", app, "/", st2.module().name(),
                                   "@", st2.version(), " does not verify"));
        }
      }
      v1::ListReleasesRequest rreq;
      rreq.set_app_id(app);
      v1::ListReleasesResponse rresp;
      st = s.admin().ListReleases(s.Ctx().get(), rreq, &rresp);
      if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) {
        errors->push_back("ListReleases: " + st.error_message());
      }
      for (const v1::Release& r : rresp.releases()) {
        o[StrCat("release/", app, "/", r.release_id())] =
            StrCat(v1::ReleaseState_Name(r.state()), " stage ", r.stage(), " v",
                   r.version());
        // Health figures (stored aggregates, issue 16).
        v1::GetReleaseStatusRequest hreq;
        hreq.set_app_id(app);
        hreq.set_release_id(r.release_id());
        v1::ReleaseStatus status;
        st = s.admin().GetReleaseStatus(s.Ctx().get(), hreq, &status);
        if (!st.ok()) {
          errors->push_back("GetReleaseStatus: " + st.error_message());
        }
        launches_ok[r.release_id()] = status.treatment().launches_ok();
        o[StrCat("health/", app, "/", r.release_id())] =
            StrCat("launches_ok ", status.treatment().launches_ok(),
                   " crashes ", status.treatment().launch_crashes());
      }
      v1::ListSegmentsRequest sreq;
      sreq.set_app_id(app);
      v1::ListSegmentsResponse sresp;
      st = s.admin().ListSegments(s.Ctx().get(), sreq, &sresp);
      if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) {
        errors->push_back("ListSegments: " + st.error_message());
      }
      for (const v1::Segment& seg : sresp.segments()) {
        o[StrCat("segment/", app, "/", seg.name())] = seg.expression();
      }
    }
    {
      std::vector<v1::AuditEntry> entries;
      for (;;) {
        v1::ListAuditRequest req;
        req.set_after_seq(entries.empty() ? 0 : entries.back().seq());
        v1::ListAuditResponse resp;
        grpc::Status st = s.admin().ListAudit(s.Ctx().get(), req, &resp);
        if (!st.ok()) {
          errors->push_back("ListAudit: " + st.error_message());
          break;
        }
        if (resp.entries().empty()) break;
        entries.insert(entries.end(), resp.entries().begin(),
                       resp.entries().end());
      }
      absl::Status chain = VerifyAuditChain(entries, 1, "");
      if (!chain.ok()) errors->push_back(chain.ToString());
      for (const v1::AuditEntry& e : entries) {
        o[StrCat("audit/", e.seq())] = StrCat(e.action(), " ", e.hash());
      }
    }
    // Last, because it writes: an acknowledged report is stored iff
    // sending it again is a duplicate.
    for (const auto& [name, report] : reports_) {
      v1::ReportResponse ack;
      grpc::ClientContext ctx;
      // (Before the ticket key was stored the ticket does not verify; the
      // comparison below says whether that was allowed.)
      grpc::Status st = s.delivery().Report(&ctx, report, &ack);
      const bool stored = st.ok() && ack.duplicates() > 0;
      o["report/" + name] = stored ? "stored" : "";
      // The report and its health count are one write: a kept launch
      // counts once for the release it ran, a lost one not at all (read
      // before this resend).
      const uint64_t counts = stored ? report_counts_[name] : 0;
      for (uint64_t id : report.events(0).release_ids()) {
        if (launches_ok[id] != counts) {
          errors->push_back(StrCat("report ", name, " is ",
                                   stored ? "stored" : "not stored",
                                   " but release ", id, " counts ",
                                   launches_ok[id], " healthy launches"));
        }
      }
    }
    return o;
  }

  // Runs the workload on the power-loss file system; `steps_` gets the
  // state after every acknowledged step.
  void RunWorkload(Server& s) {
    auto step = [&](const std::string& what, grpc::Status st) {
      ASSERT_TRUE(st.ok()) << what << ": " << st.error_message();
      const uint64_t at = fs_->ops();
      std::vector<std::string> errors;
      // Reading has no side effect but the report duplicates it counts;
      // stored reports are what the step acknowledged anyway.
      Observed o = Observe(s, &errors);
      ASSERT_TRUE(errors.empty()) << what << ": " << errors.front();
      steps_.push_back({what, at, std::move(o)});
    };
    auto ctx = [&] { return s.Ctx(); };
    {
      v1::CreateTokenRequest req;
      req.set_name("ci");
      req.set_role(v1::ROLE_VIEWER);
      req.set_app_id("plain");
      v1::CreateTokenResponse resp;
      step("token create", s.admin().CreateToken(ctx().get(), req, &resp));
    }
    {
      v1::SetTrustResponse resp;
      step("trust init", s.admin().SetTrust(ctx().get(), kit_->Init(), &resp));
    }
    {
      v1::GetTrustRequest req;
      req.set_app_id("wallet");
      v1::TrustInfo info;
      ASSERT_TRUE(s.admin().GetTrust(ctx().get(), req, &info).ok());
      const signing::TargetsMetadata role = testing::TrustKit::Current(
          info, testing::TrustKit::LayerOf(v1::LAYER_H5));
      step("signed publish",
           s.Publish(
               kit_->PublishOnto(role, v1::LAYER_H5, "home", "1", "page one"),
               "page one"));
    }
    for (int v : {1, 2}) {
      const std::string content = CartContent(v);
      v1::PublishHeader header;
      v1::ArtifactStatement* st = header.mutable_statement();
      st->set_app_id("plain");
      st->mutable_module()->set_layer(v1::LAYER_HCF);
      st->mutable_module()->set_name("cart");
      st->set_version(std::to_string(v));
      st->set_content_sha256(Sha256::HexHash(content));
      st->set_size(content.size());
      step(StrCat("publish cart ", v), s.Publish(header, content));
    }
    for (const auto& [name, expr] :
         std::vector<std::pair<std::string, std::string>>{
             {"beta", "os == \"android\""}, {"gone", "os == \"ios\""}}) {
      v1::Segment seg;
      seg.set_app_id("plain");
      seg.set_name(name);
      seg.set_expression(expr);
      v1::Segment out;
      step("segment put " + name, s.admin().PutSegment(ctx().get(), seg, &out));
    }
    {
      v1::DeleteSegmentRequest req;
      req.set_app_id("plain");
      req.set_name("gone");
      v1::DeleteSegmentResponse resp;
      step("segment delete", s.admin().DeleteSegment(ctx().get(), req, &resp));
    }
    uint64_t first = 0, second = 0;
    {
      v1::CreateReleaseRequest req;
      req.set_app_id("plain");
      req.mutable_module()->set_layer(v1::LAYER_HCF);
      req.mutable_module()->set_name("cart");
      req.set_version("1");
      // One stage to every device, still rolling: its devices' reports
      // count for its health (a completed release for everyone counts
      // none).
      v1::RolloutStage* stage = req.add_stages();
      stage->set_exposure_bp(10000);
      stage->set_bake_seconds(3600);
      v1::Release r;
      step("release cart 1", s.admin().CreateRelease(ctx().get(), req, &r));
      first = r.release_id();
    }
    {
      // A device checks (the report ticket key is created and stored
      // first) and reports a launch.
      v1::CheckRequest check;
      check.mutable_device()->set_app_id("plain");
      check.mutable_device()->set_device_id("device-1");
      v1::CheckResponse plan;
      grpc::ClientContext c1;
      ASSERT_TRUE(s.delivery().Check(&c1, check, &plan).ok());
      ASSERT_FALSE(plan.plan().updates().empty());
      v1::ReportRequest report;
      *report.mutable_device() = check.device();
      report.set_ticket(plan.plan().report_ticket());
      v1::ReportEvent* e = report.add_events();
      e->set_event_id("launch-1");
      e->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
      e->add_release_ids(plan.plan().updates(0).release_id());
      v1::ReportResponse ack;
      grpc::ClientContext c2;
      grpc::Status st = s.delivery().Report(&c2, report, &ack);
      reports_["launch-1"] = report;
      // The release rolls (one stage), so the launch counts for its health.
      EXPECT_EQ(ack.not_counted(), 0u);
      report_counts_["launch-1"] = ack.accepted() - ack.not_counted();
      step("report", st);
    }
    {
      v1::CreateReleaseRequest req;
      req.set_app_id("plain");
      req.mutable_module()->set_layer(v1::LAYER_HCF);
      req.mutable_module()->set_name("cart");
      req.set_version("2");
      req.set_segment("beta");
      for (uint32_t bp : {1000u, 5000u, 10000u}) {
        v1::RolloutStage* stage = req.add_stages();
        stage->set_exposure_bp(bp);
        stage->set_bake_seconds(3600);
      }
      v1::Release r;
      step("release cart 2", s.admin().CreateRelease(ctx().get(), req, &r));
      second = r.release_id();
    }
    for (auto action :
         {v1::SteerReleaseRequest::PAUSE, v1::SteerReleaseRequest::RESUME,
          v1::SteerReleaseRequest::PROMOTE, v1::SteerReleaseRequest::HALT,
          v1::SteerReleaseRequest::ROLL_BACK}) {
      v1::SteerReleaseRequest req;
      req.set_app_id("plain");
      req.set_release_id(second);
      req.set_action(action);
      req.set_reason("power loss test");
      v1::SteerReleaseResponse resp;
      step(v1::SteerReleaseRequest::Action_Name(action),
           s.admin().SteerRelease(ctx().get(), req, &resp));
    }
    {
      v1::RevokeTokenRequest req;
      req.set_name_or_id("ci");
      v1::RevokeTokenResponse resp;
      step("token revoke", s.admin().RevokeToken(ctx().get(), req, &resp));
    }
    EXPECT_GT(first, 0u);
  }

  struct Step {
    std::string what;
    uint64_t acked_at_op;
    Observed state;
  };

  testing::TempDir dir_;
  testing::SimulatedClock clock_{absl::FromUnixSeconds(1'780'000'000)};
  std::string data_, token_;
  std::unique_ptr<testing::TrustKit> kit_;
  std::unique_ptr<testing::PowerLossDisk> fs_;
  std::vector<Step> steps_;
  std::map<std::string, v1::ReportRequest> reports_;
  // Healthy launches each acknowledged report counted for its release.
  std::map<std::string, uint64_t> report_counts_;
};

// Every key reads as it did after the last step acknowledged before the
// cut, or as the step in flight left it (it may have reached the disk
// before its reply was sent).
std::vector<std::string> Compare(const Observed& got, const Observed* acked,
                                 const Observed* in_flight) {
  static const Observed kNone;
  const Observed& a = acked ? *acked : kNone;
  const Observed& b = in_flight ? *in_flight : a;
  std::vector<std::string> errors;
  std::vector<std::string> keys;
  for (const Observed* m : {&got, &a, &b}) {
    for (const auto& [k, v] : *m) keys.push_back(k);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  auto value = [](const Observed& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string() : it->second;
  };
  for (const std::string& k : keys) {
    const std::string g = value(got, k);
    if (g != value(a, k) && g != value(b, k)) {
      errors.push_back(StrCat(k, " reads \"", g, "\"; acknowledged \"",
                              value(a, k), "\"", in_flight ? " or \"" : "",
                              in_flight ? value(b, k) + "\"" : ""));
    }
  }
  return errors;
}

TEST_F(PowerLossTest, EveryAcknowledgedWriteSurvivesACutAtEveryFileOperation) {
  const std::string images = JoinPath(dir_.path(), "images");
  struct Cut {
    uint64_t op;
    Tail tail;
  };
  std::vector<Cut> points;
  {
    Server s(data_, token_, &clock_, fs_->env());
    ASSERT_THAT(s.status(), IsOk());
    const uint64_t start = fs_->ops();
    // Each tail model where some data is not synced yet (they all leave
    // the same disk otherwise).
    fs_->SetHook([&](uint64_t op) {
      for (Tail tail : {Tail::kDropped, Tail::kTorn, Tail::kZeroFilled}) {
        if (tail != Tail::kDropped && !fs_->HasUnsyncedData()) break;
        const std::string to =
            JoinPath(images, StrCat(op, "-", static_cast<int>(tail)));
        absl::Status copied = fs_->CopyDurableImage(data_, to, tail);
        EXPECT_THAT(copied, IsOk());
        points.push_back({op, tail});
      }
    });
    RunWorkload(s);
    fs_->SetHook(nullptr);
    ASSERT_FALSE(HasFailure());
    std::cout << "workload: " << steps_.size() << " acknowledged steps, "
              << fs_->ops() - start << " file operations\n";
  }
  ASSERT_GE(steps_.size(), 15u);
  ASSERT_GE(points.size(), steps_.size());

  std::map<std::string, int> cuts_per_step;
  int verified = 0, images_with_orphans = 0, images_with_delta = 0;
  uint64_t orphans = 0;
  std::map<Tail, int> per_tail;
  for (const auto& [op, tail] : points) {
    // The last step whose reply was sent before operation `op`.
    int acked = -1;
    for (size_t i = 0; i < steps_.size(); ++i) {
      if (steps_[i].acked_at_op <= op) acked = static_cast<int>(i);
    }
    const Observed* a = acked >= 0 ? &steps_[acked].state : nullptr;
    const Observed* next = acked + 1 < static_cast<int>(steps_.size())
                               ? &steps_[acked + 1].state
                               : nullptr;
    const std::string image =
        JoinPath(images, StrCat(op, "-", static_cast<int>(tail)));
    SCOPED_TRACE(StrCat("power cut before file operation ", op, " (tail ",
                        static_cast<int>(tail), "), after step \"",
                        acked >= 0 ? steps_[acked].what : "start", "\""));
    // Chunks of an upload the cut interrupted are referenced by nothing;
    // stratad collects them before it serves (as here), and every blob
    // must still verify after.
    {
      auto store = server::Store::Open(JoinPath(image, "db"));
      ASSERT_THAT(store.status(), IsOk());
      auto garbage = (*store)->CollectGarbage();
      ASSERT_THAT(garbage.status(), IsOk());
      orphans += garbage->chunks_removed;
      images_with_orphans += garbage->chunks_removed > 0;
      // The delta worker's record (not acknowledged to anyone: a cache) is
      // either absent or whole, its patch blob there and verifying.
      auto delta = (*store)->GetDelta(Sha256::HexHash(CartContent(1)),
                                      Sha256::HexHash(CartContent(2)));
      ASSERT_THAT(delta.status(), IsOk());
      if (delta->has_value() && (*delta)->worthwhile()) {
        auto patch = (*store)->ReadBlob((*delta)->patch_sha256(), 0,
                                        (*delta)->patch_size() + 1);
        ASSERT_THAT(patch.status(), IsOk());
        EXPECT_EQ(patch->size(), (*delta)->patch_size());
        EXPECT_EQ(Sha256::HexHash(*patch), (*delta)->patch_sha256());
        ++images_with_delta;
      }
    }
    Server restarted(image, token_, &clock_, nullptr);
    ASSERT_THAT(restarted.status(), IsOk());
    std::vector<std::string> errors;
    const Observed got = Observe(restarted, &errors);
    for (const std::string& e : Compare(got, a, next)) errors.push_back(e);
    ASSERT_TRUE(errors.empty()) << errors.front();
    // The server takes writes again.
    v1::Segment seg;
    seg.set_app_id("plain");
    seg.set_name("after");
    seg.set_expression("os == \"android\"");
    v1::Segment out;
    grpc::Status put =
        restarted.admin().PutSegment(restarted.Ctx().get(), seg, &out);
    ASSERT_TRUE(put.ok()) << put.error_message();
    ++cuts_per_step[next ? steps_[acked + 1].what : "after the last step"];
    ++verified;
    ++per_tail[tail];
    (void)DeleteRecursively(*PosixFileSystem(), image);
  }
  std::cout << "power cuts verified: " << verified << " (" << orphans
            << " orphaned chunks collected in " << images_with_orphans
            << " images); unsynced tails dropped " << per_tail[Tail::kDropped]
            << ", torn " << per_tail[Tail::kTorn] << ", zero-filled "
            << per_tail[Tail::kZeroFilled] << "\n";
  // The torn tails leave a whole chunk with its upload's batch cut.
  EXPECT_GT(images_with_orphans, 0);
  std::cout << "images holding the delta record: " << images_with_delta << "\n";
  EXPECT_GT(images_with_delta, 0);
  for (const Step& s : steps_) {
    std::cout << "  during " << s.what << ": " << cuts_per_step[s.what] << "\n";
  }
}

v1::PublishHeader CartHeader(int version, const std::string& content) {
  v1::PublishHeader header;
  v1::ArtifactStatement* st = header.mutable_statement();
  st->set_app_id("plain");
  st->mutable_module()->set_layer(v1::LAYER_HCF);
  st->mutable_module()->set_name("cart");
  st->set_version(std::to_string(version));
  st->set_content_sha256(Sha256::HexHash(content));
  st->set_size(content.size());
  return header;
}

TEST_F(PowerLossTest, AFullDiskRefusesWritesClearlyAndTheyResumeWithSpace) {
  Observed before;
  {
    Server s(data_, token_, &clock_, fs_->env());
    ASSERT_THAT(s.status(), IsOk());
    const std::string one = CartContent(1), two = CartContent(2);
    ASSERT_TRUE(s.Publish(CartHeader(1, one), one).ok());
    v1::CreateReleaseRequest release;
    release.set_app_id("plain");
    release.mutable_module()->set_layer(v1::LAYER_HCF);
    release.mutable_module()->set_name("cart");
    release.set_version("1");
    release.set_all_at_once(true);
    v1::Release r;
    ASSERT_TRUE(s.admin().CreateRelease(s.Ctx().get(), release, &r).ok());
    v1::CheckRequest check;
    check.mutable_device()->set_app_id("plain");
    check.mutable_device()->set_device_id("device-1");
    v1::CheckResponse plan;
    {
      grpc::ClientContext c;
      ASSERT_TRUE(s.delivery().Check(&c, check, &plan).ok());
    }

    fs_->SetFull(true);
    // A publish, a segment and a report are refused with what to do.
    grpc::Status publish = s.Publish(CartHeader(2, two), two);
    EXPECT_EQ(publish.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << publish.error_message();
    EXPECT_THAT(publish.error_message(),
                HasSubstr("the disk holding the data directory is full"));
    EXPECT_THAT(publish.error_message(), HasSubstr("free space there"));
    v1::Segment seg;
    seg.set_app_id("plain");
    seg.set_name("beta");
    seg.set_expression("os == \"android\"");
    v1::Segment out;
    grpc::Status put = s.admin().PutSegment(s.Ctx().get(), seg, &out);
    EXPECT_EQ(put.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << put.error_message();
    v1::ReportRequest report;
    *report.mutable_device() = check.device();
    report.set_ticket(plan.plan().report_ticket());
    v1::ReportEvent* e = report.add_events();
    e->set_event_id("launch-1");
    e->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
    e->add_release_ids(r.release_id());
    {
      v1::ReportResponse ack;
      grpc::ClientContext c;
      grpc::Status st = s.delivery().Report(&c, report, &ack);
      EXPECT_FALSE(st.ok()) << "a report the server could not store was "
                               "acknowledged";
    }
    EXPECT_GT(fs_->full_failures(), 0u);
    // Reads and device checks go on.
    {
      grpc::ClientContext c;
      v1::CheckResponse again;
      grpc::Status st = s.delivery().Check(&c, check, &again);
      EXPECT_TRUE(st.ok()) << st.error_message();
      EXPECT_EQ(again.plan().updates_size(), 1);
    }
    std::vector<std::string> errors;
    reports_["launch-1"] = report;
    Observed full = Observe(s, &errors);
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_EQ(full.count("artifact/plain/cart@2"), 0u);
    EXPECT_EQ(full["artifact/plain/cart@1"], Sha256::HexHash(one));

    // Space returns: the same writes go through, without a restart.
    fs_->SetFull(false);
    grpc::Status resumed = s.Publish(CartHeader(2, two), two);
    EXPECT_TRUE(resumed.ok()) << resumed.error_message();
    EXPECT_TRUE(s.admin().PutSegment(s.Ctx().get(), seg, &out).ok());
    {
      v1::ReportResponse ack;
      grpc::ClientContext c;
      ASSERT_TRUE(s.delivery().Report(&c, report, &ack).ok());
      EXPECT_EQ(ack.accepted(), 1u);
      report_counts_["launch-1"] = ack.accepted() - ack.not_counted();
    }
    before = Observe(s, &errors);
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_EQ(before["artifact/plain/cart@2"], Sha256::HexHash(two));
    EXPECT_EQ(before["segment/plain/beta"], "os == \"android\"");
    EXPECT_EQ(before["report/launch-1"], "stored");
  }
  // After a restart everything acknowledged is there, once.
  Server again(data_, token_, &clock_, nullptr);
  ASSERT_THAT(again.status(), IsOk());
  std::vector<std::string> errors;
  const Observed after = Observe(again, &errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(after, before);
}

// While the disk stalls, Reports beyond the server-wide bound are refused
// at once with a retry pushback, not queued without limit; nothing of a
// refused Report is stored, so its retry counts in full.
TEST_F(PowerLossTest, ReportsBeyondTheBoundWhileWritesStallAreRefused) {
  Server s(data_, token_, &clock_, fs_->env(), /*max_reports_in_flight=*/1);
  ASSERT_THAT(s.status(), IsOk());
  const std::string one = CartContent(1);
  ASSERT_TRUE(s.Publish(CartHeader(1, one), one).ok());  // the app exists
  auto report = [](const std::string& device, const std::string& event) {
    v1::ReportRequest r;
    r.mutable_device()->set_app_id("plain");
    r.mutable_device()->set_device_id(device);
    v1::ReportEvent* e = r.add_events();
    e->set_event_id(event);
    e->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
    return r;
  };
  // Writes from the server's own threads (not RocksDB's background ones)
  // stop at the disk until released.
  std::mutex mu;
  std::condition_variable cv;
  bool stall = true, stalled = false;
  fs_->SetHook([&](uint64_t) {
    char name[16] = {};
    ::pthread_getname_np(::pthread_self(), name, sizeof name);
    if (std::string(name).rfind("rocksdb", 0) == 0) return;
    std::unique_lock<std::mutex> lock(mu);
    stalled = true;
    cv.notify_all();
    cv.wait(lock, [&] { return !stall; });
  });
  grpc::Status first_status;
  v1::ReportResponse first_ack;
  std::thread first([&] {
    grpc::ClientContext c;
    first_status = s.delivery().Report(&c, report("d1", "e1"), &first_ack);
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return stalled; });  // d1's write is at the disk
  }
  v1::ReportResponse ack;
  grpc::ClientContext refused_ctx;
  // A hang guard: a queued Report would wait for the stalled disk.
  refused_ctx.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(20));
  grpc::Status refused =
      s.delivery().Report(&refused_ctx, report("d2", "e2"), &ack);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("--max-reports-in-flight"));
  const auto& trailers = refused_ctx.GetServerTrailingMetadata();
  auto pushback = trailers.find("grpc-retry-pushback-ms");
  ASSERT_NE(pushback, trailers.end());
  EXPECT_EQ(std::string(pushback->second.data(), pushback->second.size()),
            "1000");
  {
    std::lock_guard<std::mutex> lock(mu);
    stall = false;
  }
  cv.notify_all();
  first.join();
  fs_->SetHook(nullptr);
  EXPECT_TRUE(first_status.ok()) << first_status.error_message();
  // The refused report was not stored: sent again, it is new.
  grpc::ClientContext again;
  grpc::Status retried = s.delivery().Report(&again, report("d2", "e2"), &ack);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_EQ(ack.duplicates(), 0u);
}

}  // namespace
}  // namespace strata
