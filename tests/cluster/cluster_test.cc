// Stratad replicas on one PostgreSQL (issue 19), as real processes on
// loopback: a change made through one replica is offered by every
// replica's Check and pushed to every replica's WatchConfig streams; the
// audit chain keeps one order across replicas; a PostgreSQL restart leaves
// Check answering and writes failing clearly, then working again.
#include "cluster.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/proto/audit_chain.h"

namespace strata {
namespace {

using ::strata::testing::Cluster;
using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::strata::testing::WaitFor;

v1::ArtifactStatement Flags(const std::string& version) {
  v1::ArtifactStatement st;
  st.set_app_id("wallet");
  st.mutable_module()->set_layer(v1::LAYER_CONFIG);
  st.mutable_module()->set_name("flags");
  st.set_version(version);
  return st;
}

class ClusterTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Idle channels first: stratad would wait out its grace for each.
    channels_.clear();
    cluster_.Stop();
  }

  // Publishes and releases (to everyone at once) `version` of wallet's
  // "flags" through replica `i`.
  void Release(int i, const std::string& version, const std::string& content) {
    auto admin = cluster_.Admin(i);
    ASSERT_THAT(admin->Publish(Flags(version), content, ""), IsOk());
    v1::CreateReleaseRequest r;
    r.set_app_id("wallet");
    *r.mutable_module() = Flags(version).module();
    r.set_version(version);
    r.set_all_at_once(true);
    ASSERT_THAT(admin->CreateRelease(r), IsOk());
  }

  // The version of "flags" replica `i` offers a new device ("" if none, or
  // the Check failed).
  std::string Offered(int i) {
    auto delivery = v1::Delivery::NewStub(ChannelPtr(i));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    v1::CheckRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id("checker");
    v1::CheckResponse resp;
    const grpc::Status s = delivery->Check(&ctx, req, &resp);
    if (!s.ok()) {
      // Said, so a failure of the caller's expectation shows which it was.
      std::cerr << "Check on replica " << i << " failed: " << s.error_code()
                << " " << s.error_message() << "\n";
      return "";
    }
    for (const v1::UpdateEntry& u : resp.plan().updates()) {
      if (u.module().name() == "flags") return u.statement().version();
    }
    return "";
  }

  // One channel per replica, kept (closed before the replicas stop).
  std::shared_ptr<grpc::Channel> ChannelPtr(int i) {
    while (static_cast<int>(channels_.size()) <= i) {
      channels_.push_back(cluster_.Channel(static_cast<int>(channels_.size())));
    }
    return channels_[i];
  }

  // Every replica's Check offers `version` (waiting for the change feed).
  void ExpectAllOffer(const std::string& version) {
    for (int i = 0; i < cluster_.size(); ++i) {
      EXPECT_TRUE(WaitFor([&] { return Offered(i) == version; }))
          << "replica " << i << " offers '" << Offered(i) << "', not "
          << version;
    }
  }

  Cluster cluster_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

// A WatchConfig stream on one replica, read on the test's thread.
struct Watch {
  std::unique_ptr<v1::Delivery::Stub> stub;
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<v1::ConfigEvent>> reader;

  Watch(std::shared_ptr<grpc::Channel> channel, const std::string& device) {
    stub = v1::Delivery::NewStub(channel);
    ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(120));  // a hang guard only
    v1::WatchConfigRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id(device);
    reader = stub->WatchConfig(ctx.get(), req);
  }
  // The version the next pushed event carries ("" when the stream ended).
  std::string Next() {
    v1::ConfigEvent event;
    if (!reader->Read(&event)) return "";
    return event.entry().statement().version();
  }
  ~Watch() {
    ctx->TryCancel();
    (void)reader->Finish();
  }
};

// `curl -si` of `path` on replica `i`'s HTTP port with `headers` (status
// line, headers, blank line, body).
std::string CurlHttp(const Cluster& cluster, int i, const std::string& path,
                     const std::string& headers = "") {
  const std::string cmd =
      StrCat("curl -si --max-time 30 ", headers,
             " http://127.0.0.1:", cluster.replica(i).http_port, path);
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

// Blob chunks in s3rver (--blobs): published through one replica, served
// over HTTP (Range, ETag) by another.
TEST_F(ClusterTest, AChangeThroughOneReplicaIsOfferedAndPushedByAll) {
  ASSERT_NO_FATAL_FAILURE(cluster_.UseS3Blobs());
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(3));
  // Devices watch every replica before the app has anything.
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < 3; ++i) {
    watches.push_back(
        std::make_unique<Watch>(ChannelPtr(i), StrCat("device", i)));
  }
  ASSERT_NO_FATAL_FAILURE(Release(0, "1", "{\"limit\":1}"));
  const auto released = std::chrono::steady_clock::now();
  ExpectAllOffer("1");
  // Not asserted (no timed assertions): docs/benchmarks.md quotes it.
  std::printf("all 3 replicas offer the release %lld ms after it was made\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - released)
                      .count()));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(watches[i]->Next(), "1") << "stream on replica " << i;
  }
  // A change through another replica reaches the streams already open.
  ASSERT_NO_FATAL_FAILURE(Release(2, "2", "{\"limit\":2}"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(watches[i]->Next(), "2") << "stream on replica " << i;
  }
  ExpectAllOffer("2");
  // The content is there for every replica (chunks are in s3rver).
  const std::string content = "{\"limit\":2}";
  const std::string sha = Sha256::HexHash(content);
  auto got = cluster_.Admin(1)->Download(sha, content.size());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, content);
  // Over HTTP from a third replica: a range, with the content hash as ETag.
  const std::string ranged =
      CurlHttp(cluster_, 2, "/v1/blobs/" + sha, "-H 'Range: bytes=2-6'");
  EXPECT_NE(ranged.find(" 206 "), std::string::npos) << ranged;
  EXPECT_NE(ranged.find(StrCat("\"", sha, "\"")), std::string::npos) << ranged;
  EXPECT_TRUE(ranged.ends_with(content.substr(2, 5))) << ranged;
  const std::string cached =
      CurlHttp(cluster_, 2, "/v1/blobs/" + sha,
               StrCat("-H 'If-None-Match: \"", sha, "\"'"));
  EXPECT_NE(cached.find(" 304 "), std::string::npos) << cached;
  watches.clear();
}

// Publishes through all replicas at once land in one audit chain that
// verifies; one idempotency key sent to two replicas at once makes one
// artifact.
TEST_F(ClusterTest, ConcurrentWritesOnAllReplicasMakeOneAuditChain) {
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(3));
  constexpr int kEach = 5;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      auto admin = cluster_.Admin(i);
      for (int k = 0; k < kEach; ++k) {
        absl::StatusOr<v1::PublishResponse> r =
            admin->Publish(Flags(StrCat("r", i, "-", k)),
                           StrCat("{\"v\":", i * 10 + k, "}"), "");
        EXPECT_THAT(r, IsOk());
        if (!r.ok()) ++failures;
      }
    });
  }
  // The same upload with one key through replicas 0 and 1 at once; a
  // client retries what the server asks it to.
  std::atomic<int> fresh{0};
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      auto admin = cluster_.Admin(i);
      for (int attempt = 0; attempt < 5; ++attempt) {
        absl::StatusOr<v1::PublishResponse> r =
            admin->Publish(Flags("same"), "{\"same\":1}", "key-1");
        if (absl::IsAborted(r.status())) continue;
        EXPECT_THAT(r, IsOk());
        if (!r.ok()) {
          ++failures;
        } else if (!r->already_existed()) {
          ++fresh;
        }
        return;
      }
      ++failures;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fresh.load(), 1);
  auto audit = cluster_.Admin(2)->ListAudit(0);
  ASSERT_THAT(audit, IsOk());
  EXPECT_THAT(VerifyAuditChain(*audit, 1, ""), IsOk());
  int publishes = 0;
  for (const v1::AuditEntry& e : *audit) publishes += e.action() == "publish";
  EXPECT_EQ(publishes, 3 * kEach + 1);
  v1::ListArtifactsRequest list;
  list.set_app_id("wallet");
  auto artifacts = cluster_.Admin(1)->ListArtifacts(list);
  ASSERT_THAT(artifacts, IsOk());
  EXPECT_EQ(artifacts->artifacts_size(), 3 * kEach + 1);
}

// PostgreSQL goes away: Check keeps answering from the replicas' snapshots,
// a write fails saying why; once it is back writes work and every replica
// catches up.
TEST_F(ClusterTest, PostgresRestartLeavesCheckUpAndWritesResume) {
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(2));
  ASSERT_NO_FATAL_FAILURE(Release(0, "1", "{\"limit\":1}"));
  ExpectAllOffer("1");
  // A device watching replica 0 through the outage.
  Watch watch(ChannelPtr(0), "watcher");
  ASSERT_EQ(watch.Next(), "1");
  ASSERT_THAT(cluster_.postgres().Stop(), IsOk());
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Offered(i), "1") << "replica " << i;
  EXPECT_THAT(cluster_.Admin(1)->Publish(Flags("2"), "{\"limit\":2}", ""),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::HasSubstr("PostgreSQL")));
  ASSERT_THAT(cluster_.postgres().Restart(), IsOk());
  ASSERT_NO_FATAL_FAILURE(Release(1, "2", "{\"limit\":2}"));
  ExpectAllOffer("2");
  EXPECT_EQ(watch.Next(), "2");  // pushed by replica 0, made on replica 1
}

// A replica killed (SIGKILL) at some moment of a publish: whatever moment
// it was, no replica shows half of it (the artifact is there whole with
// its content, or not at all), the retry through another replica with the
// same idempotency key makes exactly one artifact, and the audit chain
// verifies.
TEST_F(ClusterTest, AReplicaKilledMidPublishLeavesNothingHalfVisible) {
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(2));
  // Large enough that the upload takes many chunks and round trips.
  std::string content = "{\"pad\":\"";
  for (uint64_t i = 0; content.size() < (6u << 20); ++i) {
    content += StrCat(i * 7919 % 100003, ",");
  }
  content += "\"}";
  const std::string sha = Sha256::HexHash(content);
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string version = StrCat("big-", round);
    std::thread publisher([&] {
      // Fails when the replica dies under it: expected.
      (void)cluster_.Admin(0)->Publish(Flags(version), content,
                                       StrCat("key-", round));
    });
    // Early in the upload, later in it, or after the commit: any moment
    // must do (nothing here depends on which).
    std::this_thread::sleep_for(std::chrono::milliseconds(40 * round));
    cluster_.Kill(0);
    publisher.join();
    auto admin = cluster_.Admin(1);
    v1::ListArtifactsRequest list;
    list.set_app_id("wallet");
    auto before = admin->ListArtifacts(list);
    if (before.ok()) {
      for (const auto& a : before->artifacts()) {
        if (a.statement().version() != version) continue;
        // Visible means whole.
        auto got = admin->Download(sha, content.size());
        ASSERT_THAT(got, IsOk()) << "round " << round;
      }
    }
    auto retried =
        admin->Publish(Flags(version), content, StrCat("key-", round));
    ASSERT_THAT(retried, IsOk()) << "round " << round;
    auto after = admin->ListArtifacts(list);
    ASSERT_THAT(after, IsOk());
    int copies = 0;
    for (const auto& a : after->artifacts()) {
      copies += a.statement().version() == version;
    }
    EXPECT_EQ(copies, 1) << "round " << round;
    auto got = admin->Download(sha, content.size());
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(*got, content);
    ASSERT_NO_FATAL_FAILURE(cluster_.StartReplica(0));
  }
  auto audit = cluster_.Admin(0)->ListAudit(0);
  ASSERT_THAT(audit, IsOk());
  EXPECT_THAT(VerifyAuditChain(*audit, 1, ""), IsOk());
  int publishes = 0;
  for (const v1::AuditEntry& e : *audit) publishes += e.action() == "publish";
  EXPECT_EQ(publishes, kRounds);
}

// `stratad init --metadata` on a database that has a cluster already is
// refused before anything is made, saying what a new replica needs.
// `stratad migrate` copies a single stratad's RocksDB data directory into
// PostgreSQL (chunks into s3rver): a replica on the copy serves the same
// artifacts, releases, segments and tokens, its audit log is the same
// chain, and writes carry on (ids, sequences and idempotency keys).
TEST_F(ClusterTest, AMigratedRocksDbDataDirectoryServesEverything) {
  const std::string single_dir = JoinPath(cluster_.dir(), "single");
  std::vector<v1::AuditEntry> before;
  std::vector<v1::Release> releases_before;
  v1::TrustInfo trust_before;
  uint64_t reported_release = 0;
  uint64_t launches_before = 0;
  const std::string big =
      StrCat("{\"pad\":\"", std::string(300000, 'x'), "\"}");
  {
    testing::StratadProcess single;
    ASSERT_NO_FATAL_FAILURE(single.Start(single_dir, {"--gate-interval", "0"}));
    admin::AdminClient admin(single.address(), single.token(),
                             admin::ChannelSecurity::Plaintext(),
                             absl::Seconds(30));
    ASSERT_THAT(admin.Publish(Flags("1"), "{\"limit\":1}", "key-1"), IsOk());
    ASSERT_THAT(admin.Publish(Flags("2"), big, ""), IsOk());
    for (const char* version : {"1", "2"}) {
      v1::CreateReleaseRequest r;
      r.set_app_id("wallet");
      *r.mutable_module() = Flags(version).module();
      r.set_version(version);
      if (std::string(version) == "1") {
        r.set_all_at_once(true);
      } else {  // staged (to everyone): its health is tracked
        v1::RolloutStage* stage = r.add_stages();
        stage->set_exposure_bp(10000);
        stage->set_bake_seconds(3600);
      }
      ASSERT_THAT(admin.CreateRelease(r), IsOk());
    }
    v1::Segment seg;
    seg.set_app_id("wallet");
    seg.set_name("beta");
    seg.set_expression("region == \"CN-31\"");
    ASSERT_THAT(admin.PutSegment(seg), IsOk());
    v1::CreateTokenRequest t;
    t.set_name("ci-wallet");
    t.set_role(v1::ROLE_PUBLISHER);
    t.set_app_id("wallet");
    ASSERT_THAT(admin.CreateToken(t), IsOk());
    // An app with a root of trust and a signed publish (the real CLI).
    const std::string keys = JoinPath(single_dir, "keys");
    const std::string cli =
        StrCat(JoinPath(Dirname(Cluster::Stratad()), "strata"),
               " --plaintext --server ", single.address(), " --token ",
               single.token(), " ");
    const std::string file = JoinPath(single_dir, "m.json");
    ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(), file, "{\"m\":1}"),
                IsOk());
    for (const std::string& args :
         {StrCat("keys gen --dir ", keys),
          StrCat("trust init --keys ", keys, " --app secure"),
          StrCat("publish --app secure --layer config --module m --version 1 "
                 "--file ",
                 file, " --key ", keys, "/publisher-a.key --key ", keys,
                 "/publisher-b.key")}) {
      ASSERT_EQ(std::system((cli + args + " >/dev/null").c_str()), 0) << args;
    }
    auto trust = admin.GetTrust("secure");
    ASSERT_THAT(trust, IsOk());
    trust_before = *trust;
    // A device's report, counted in the release's health.
    auto delivery = v1::Delivery::NewStub(grpc::CreateChannel(
        single.address(), grpc::InsecureChannelCredentials()));
    v1::CheckRequest check;
    check.mutable_device()->set_app_id("wallet");
    check.mutable_device()->set_device_id("reporter");
    v1::CheckResponse plan;
    grpc::ClientContext c1;
    ASSERT_TRUE(delivery->Check(&c1, check, &plan).ok());
    ASSERT_FALSE(plan.plan().updates().empty());
    v1::ReportRequest report;
    *report.mutable_device() = check.device();
    report.set_ticket(plan.plan().report_ticket());
    v1::ReportEvent* e = report.add_events();
    e->set_event_id("launch-1");
    e->set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
    e->add_release_ids(plan.plan().updates(0).release_id());
    reported_release = plan.plan().updates(0).release_id();
    v1::ReportResponse ack;
    grpc::ClientContext c2;
    ASSERT_TRUE(delivery->Report(&c2, report, &ack).ok());
    auto status = admin.GetReleaseStatus("wallet", reported_release);
    ASSERT_THAT(status, IsOk());
    launches_before = status->treatment().launches_ok();
    ASSERT_GT(launches_before, 0u);
    auto audit = admin.ListAudit(0);
    ASSERT_THAT(audit, IsOk());
    before = *audit;
    auto releases = admin.ListReleases("wallet");
    ASSERT_THAT(releases, IsOk());
    releases_before = *releases;
  }  // stopped: a data directory is migrated with its stratad down

  ASSERT_NO_FATAL_FAILURE(cluster_.UseS3Blobs());
  cluster_.MigrateFrom(JoinPath(single_dir, "data"));
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(1));
  std::printf("%s", cluster_.InitLog().c_str());
  auto admin = cluster_.Admin(0);
  // The audit log is the same chain, entry for entry.
  auto audit = admin->ListAudit(0);
  ASSERT_THAT(audit, IsOk());
  ASSERT_EQ(audit->size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ((*audit)[i].SerializeAsString(), before[i].SerializeAsString())
        << "audit entry " << i + 1;
  }
  EXPECT_THAT(VerifyAuditChain(*audit, 1, ""), IsOk());
  // Releases as they were, and Check offers the newest.
  auto releases = admin->ListReleases("wallet");
  ASSERT_THAT(releases, IsOk());
  ASSERT_EQ(releases->size(), releases_before.size());
  for (size_t i = 0; i < releases->size(); ++i) {
    EXPECT_EQ((*releases)[i].SerializeAsString(),
              releases_before[i].SerializeAsString());
  }
  EXPECT_EQ(Offered(0), "2");
  // Content, from s3rver.
  auto got = admin->Download(Sha256::HexHash(big), big.size());
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(*got == big);
  auto segments = admin->ListSegments("wallet");
  ASSERT_THAT(segments, IsOk());
  ASSERT_EQ(segments->segments_size(), 1);
  EXPECT_EQ(segments->segments(0).expression(), "region == \"CN-31\"");
  // The root of trust and every role's version; health from the reports.
  auto trust = admin->GetTrust("secure");
  ASSERT_THAT(trust, IsOk());
  EXPECT_EQ(trust->root(), trust_before.root());
  EXPECT_EQ(trust->targets(), trust_before.targets());
  ASSERT_EQ(trust->roles_size(), trust_before.roles_size());
  for (int i = 0; i < trust->roles_size(); ++i) {
    EXPECT_EQ(trust->roles(i).role(), trust_before.roles(i).role());
    EXPECT_EQ(trust->roles(i).version(), trust_before.roles(i).version())
        << trust->roles(i).role();
  }
  auto status = admin->GetReleaseStatus("wallet", reported_release);
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->treatment().launches_ok(), launches_before);
  auto tokens = admin->ListTokens(true);
  ASSERT_THAT(tokens, IsOk());
  bool found = false;
  for (const v1::TokenInfo& t : tokens->tokens())
    found |= t.name() == "ci-wallet";
  EXPECT_TRUE(found);
  // Writes carry on: the idempotency key is known, ids continue, the
  // chain grows from the migrated head.
  auto again = admin->Publish(Flags("1"), "{\"limit\":1}", "key-1");
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->already_existed());
  ASSERT_THAT(admin->Publish(Flags("3"), "{\"limit\":3}", ""), IsOk());
  v1::CreateReleaseRequest r3;
  r3.set_app_id("wallet");
  *r3.mutable_module() = Flags("3").module();
  r3.set_version("3");
  r3.set_all_at_once(true);
  r3.set_allow_overlap(true);  // release 2 still rolls (it bakes an hour)
  ASSERT_THAT(admin->CreateRelease(r3), IsOk());
  releases = admin->ListReleases("wallet");
  ASSERT_THAT(releases, IsOk());
  uint64_t newest = 0;
  for (const v1::Release& r : *releases) {
    newest = std::max<uint64_t>(newest, r.release_id());
  }
  EXPECT_EQ(newest, releases_before.size() + 1);
  EXPECT_EQ(Offered(0), "3");
  audit = admin->ListAudit(0);
  ASSERT_THAT(audit, IsOk());
  EXPECT_GT(audit->size(), before.size());
  EXPECT_THAT(VerifyAuditChain(*audit, 1, ""), IsOk());
}

TEST_F(ClusterTest, ASecondInitOfTheDatabaseIsRefused) {
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(1));
  const std::string keys = JoinPath(cluster_.dir(), "other-keys");
  const std::string log = JoinPath(cluster_.dir(), "second-init.log");
  const std::string cmd =
      StrCat(Cluster::Stratad(), " init --data-dir ",
             JoinPath(cluster_.dir(), "other"), " --metadata ", cluster_.url(),
             " --online-keys-dir ", keys, " >", log, " 2>&1");
  EXPECT_NE(std::system(cmd.c_str()), 0);
  EXPECT_THAT(PosixFileSystem()->ReadFile(log).value_or(""),
              ::testing::HasSubstr("needs no init"));
  EXPECT_FALSE(PosixFileSystem()->Exists(keys));
}

// The health gates run on one replica, the holder of the "gates" lease;
// when it dies another takes over, and a leader paused past its lease
// (SIGSTOP, then SIGCONT) finds another in charge and stands by.
TEST_F(ClusterTest, TheGateLeaderFailsOverAndAPausedOneStandsBy) {
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(3, {"--gate-interval", "0.2"}));
  // Which replica leads now (-1 while not exactly one of `alive` does).
  auto leader = [&](const std::vector<int>& alive) {
    int found = -1;
    for (int i : alive) {
      const double v = cluster_.Metric(i, "strata_gate_leader");
      if (v == 1) {
        if (found >= 0) return -1;
        found = i;
      } else if (v != 0) {
        return -1;  // no pass yet
      }
    }
    return found;
  };
  int first = -1;
  ASSERT_TRUE(WaitFor([&] { return (first = leader({0, 1, 2})) >= 0; }));
  std::vector<int> rest;
  for (int i = 0; i < 3; ++i) {
    if (i != first) rest.push_back(i);
  }
  cluster_.Kill(first);
  const auto killed = std::chrono::steady_clock::now();
  int second = -1;
  ASSERT_TRUE(WaitFor([&] { return (second = leader(rest)) >= 0; }));
  std::printf("gate leader fail-over after kill -9: %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - killed)
                      .count()));
  const int third = rest[0] == second ? rest[1] : rest[0];
  ::kill(cluster_.replica(second).pid, SIGSTOP);
  ASSERT_TRUE(WaitFor([&] { return leader({third}) == third; }));
  ::kill(cluster_.replica(second).pid, SIGCONT);
  // Awake, the old leader finds the lease taken and stands by.
  ASSERT_TRUE(WaitFor(
      [&] { return cluster_.Metric(second, "strata_gate_leader") == 0; }));
  EXPECT_EQ(leader({second, third}), third);
}

// An app with a root of trust, set up and published through replica 0:
// replica 1 serves the same signed files (snapshot, timestamp and director
// are signed once and stored; the other replica reloads them), and a
// device that pins the root installs the update through replica 1.
TEST_F(ClusterTest, TrustIsSignedOnceAndServedIdenticallyByEveryReplica) {
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(2));
  const std::string keys = JoinPath(cluster_.dir(), "keys");
  const std::string bin = Dirname(Cluster::Stratad());
  const std::string cli =
      StrCat(JoinPath(bin, "strata"), " --plaintext --server ",
             cluster_.replica(0).address, " --token ", cluster_.token(), " ");
  const std::string file = JoinPath(cluster_.dir(), "m.json");
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(), file, "{\"m\":1}"),
              IsOk());
  const std::string signers = StrCat(" --key ", keys, "/publisher-a.key --key ",
                                     keys, "/publisher-b.key");
  for (const std::string& args :
       {StrCat("keys gen --dir ", keys),
        StrCat("trust init --keys ", keys, " --app secure"),
        StrCat("publish --app secure --layer config --module m --version 1 "
               "--file ",
               file, signers),
        std::string("release create --app secure --layer config --module m "
                    "--version 1 --all-at-once")}) {
    ASSERT_EQ(std::system((cli + args + " >/dev/null").c_str()), 0) << args;
  }
  auto file_on = [&](int i, const std::string& name) {
    auto r = HttpGet(StrCat("http://127.0.0.1:", cluster_.replica(i).http_port,
                            "/v1/tuf/secure/", name));
    return r.ok() && r->status_code == 200 ? r->body : std::string();
  };
  for (const char* name :
       {"1.root.json", "timestamp.json", "director.json", "1.targets.json"}) {
    EXPECT_TRUE(WaitFor([&] {
      const std::string a = file_on(0, name);
      return !a.empty() && a == file_on(1, name);
    })) << name
        << " differs between the replicas";
  }
  auto info0 = cluster_.Admin(0)->GetTrust("secure");
  auto info1 = cluster_.Admin(1)->GetTrust("secure");
  ASSERT_THAT(info0, IsOk());
  ASSERT_THAT(info1, IsOk());
  ASSERT_EQ(info0->roles_size(), info1->roles_size());
  for (int i = 0; i < info0->roles_size(); ++i) {
    EXPECT_EQ(info0->roles(i).version(), info1->roles(i).version())
        << info0->roles(i).role();
  }
  // A device pinning the root, through replica 1, verifies and installs.
  const std::string device =
      StrCat(JoinPath(bin, "strata-device"), " --plaintext --server ",
             cluster_.replica(1).address, " --app secure --device-id d1 ",
             "--storage-dir ", JoinPath(cluster_.dir(), "device"), " --root ",
             keys, "/root.json >", cluster_.dir(), "/device.log 2>&1");
  EXPECT_EQ(std::system(device.c_str()), 0)
      << PosixFileSystem()
             ->ReadFile(JoinPath(cluster_.dir(), "device.log"))
             .value_or("");
  const std::string log = PosixFileSystem()
                              ->ReadFile(JoinPath(cluster_.dir(), "device.log"))
                              .value_or("");
  EXPECT_NE(log.find("config/m"), std::string::npos) << log;
}

// The gate leader judges on the reports every replica took: devices that
// check and report crashes only through a replica that does not lead get
// the release halted by the one that does, once.
TEST_F(ClusterTest, TheGateLeaderHaltsOnReportsTakenByAnotherReplica) {
  ASSERT_NO_FATAL_FAILURE(cluster_.Start(2, {"--gate-interval", "0.2"}));
  int leader = -1;
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < 2; ++i) {
      if (cluster_.Metric(i, "strata_gate_leader") == 1) leader = i;
    }
    return leader >= 0;
  }));
  const int other = 1 - leader;
  auto admin = cluster_.Admin(other);
  ASSERT_THAT(admin->Publish(Flags("1"), "{\"limit\":1}", ""), IsOk());
  v1::CreateReleaseRequest req;
  req.set_app_id("wallet");
  *req.mutable_module() = Flags("1").module();
  req.set_version("1");
  for (uint32_t bp : {5000u, 10000u}) {
    v1::RolloutStage* s = req.add_stages();
    s->set_exposure_bp(bp);
    s->set_bake_seconds(3600);  // never promoted while the test runs
    s->set_min_reports(5);
  }
  req.mutable_gates()->set_min_launches(5);
  auto release = admin->CreateRelease(req);
  ASSERT_THAT(release, IsOk());
  auto delivery = v1::Delivery::NewStub(ChannelPtr(other));
  int reached = 0;
  for (int i = 0; i < 40; ++i) {
    v1::CheckRequest check;
    check.mutable_device()->set_app_id("wallet");
    check.mutable_device()->set_device_id(StrCat("device-", i));
    v1::CheckResponse plan;
    grpc::ClientContext c1;
    ASSERT_TRUE(delivery->Check(&c1, check, &plan).ok());
    if (plan.plan().updates().empty()) continue;
    ++reached;
    v1::ReportRequest report;
    *report.mutable_device() = check.device();
    report.set_ticket(plan.plan().report_ticket());
    v1::ReportEvent* e = report.add_events();
    e->set_event_id(StrCat("launch-", i));
    e->set_kind(v1::ReportEvent::KIND_LAUNCH_CRASH);
    e->add_release_ids(plan.plan().updates(0).release_id());
    v1::ReportResponse ack;
    grpc::ClientContext c2;
    ASSERT_TRUE(delivery->Report(&c2, report, &ack).ok());
  }
  ASSERT_GT(reached, 5);
  auto state = [&] {
    auto releases = cluster_.Admin(leader)->ListReleases("wallet");
    return releases.ok() && !releases->empty() ? releases->back().state()
                                               : v1::RELEASE_STATE_UNSPECIFIED;
  };
  ASSERT_TRUE(WaitFor([&] { return state() == v1::RELEASE_HALTED; }))
      << "the leader never judged the other replica's crash reports";
  auto audit = admin->ListAudit(0);
  ASSERT_THAT(audit, IsOk());
  int halts = 0;
  for (const v1::AuditEntry& e : *audit) {
    halts += e.action().find("halt") != std::string::npos;
  }
  EXPECT_EQ(halts, 1);
  EXPECT_THAT(VerifyAuditChain(*audit, 1, ""), IsOk());
}

}  // namespace
}  // namespace strata
