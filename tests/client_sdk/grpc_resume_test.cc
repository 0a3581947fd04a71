// Downloads over real gRPC on loopback: a small Delivery service in the test
// cuts the Download stream after N bytes on the first attempt; the SDK must
// resume from the offset it already has, and reports must arrive once.
#include <grpcpp/grpcpp.h>

#include <mutex>
#include <thread>

#include "../signing/test_repo.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/c_api.h"
#include "strata/client/client.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/strata_sdk_test_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)DeleteRecursively(*PosixFileSystem(), path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class CuttingDelivery final : public v1::Delivery::Service {
 public:
  std::mutex mu;
  std::string blob;
  v1::CheckResponse plan;
  int cuts_left = 1;
  uint64_t cut_after = 0;
  std::vector<uint64_t> offsets;
  std::vector<v1::ReportEvent> reports;

  grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest*,
                     v1::CheckResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    *response = plan;
    return grpc::Status::OK;
  }
  grpc::Status Download(
      grpc::ServerContext*, const v1::DownloadRequest* request,
      grpc::ServerWriter<v1::DownloadChunk>* writer) override {
    bool cut;
    {
      std::lock_guard<std::mutex> lock(mu);
      offsets.push_back(request->offset());
      cut = cuts_left > 0;
      if (cut) --cuts_left;
    }
    if (request->sha256() != Sha256::HexHash(blob)) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such blob");
    }
    uint64_t sent = 0;
    for (uint64_t off = request->offset(); off < blob.size();) {
      if (cut && sent >= cut_after) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "cut by the test");
      }
      v1::DownloadChunk chunk;
      chunk.set_offset(off);
      chunk.set_total_size(blob.size());
      size_t n = std::min<uint64_t>(64 * 1024, blob.size() - off);
      if (cut) n = std::min<uint64_t>(n, cut_after - sent);
      chunk.set_data(blob.substr(off, n));
      if (!writer->Write(chunk)) break;
      off += n;
      sent += n;
    }
    return grpc::Status::OK;
  }
  grpc::Status Report(grpc::ServerContext*, const v1::ReportRequest* request,
                      v1::ReportResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& e : request->events()) reports.push_back(e);
    response->set_accepted(request->events_size());
    return grpc::Status::OK;
  }
};

class GrpcResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { server_->Shutdown(); }
  void ServeH5(const std::string& content) {
    service_.blob = content;
    v1::UpdateEntry* e = service_.plan.mutable_plan()->add_updates();
    e->mutable_module()->set_layer(v1::LAYER_H5);
    e->mutable_module()->set_name("mall-home");
    e->set_release_id(1);
    e->set_release_sequence(1);
    auto* st = e->mutable_statement();
    st->set_app_id("wallet");
    *st->mutable_module() = e->module();
    st->set_version("1");
    st->set_content_sha256(Sha256::HexHash(content));
    st->set_size(content.size());
    e->mutable_full()->set_sha256(st->content_sha256());
    e->mutable_full()->set_size(content.size());
  }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  CuttingDelivery service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  TempDir dir_;
};

std::string BigContent(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919) >> 5);
  return s;
}

TEST_F(GrpcResumeTest, CutStreamResumesFromTheReceivedOffset) {
  const std::string content = BigContent(3 * 1024 * 1024 + 17);
  ServeH5(content);
  service_.cut_after = 1024 * 1024 + 5;
  ClientOptions options;
  options.server_address = Address();
  options.insecure_plaintext_to_loopback_for_tests = true;  // fake server
  options.app_id = "wallet";
  options.device.device_id = "d1";
  options.storage_dir = dir_.path();
  options.insecure_skip_signature_verification_for_tests = true;
  STRATA_ASSERT_OK_AND_ASSIGN(auto client, Client::Create(options));
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client->Check());
  EXPECT_TRUE(r.failures.empty()) << ::testing::PrintToString(r.failures);
  ASSERT_EQ(r.installed.size(), 1u);
  EXPECT_EQ(service_.offsets, (std::vector<uint64_t>{0, 1024 * 1024 + 5}));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string path,
                              client->OpenModule(Layer::kH5, "mall-home"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string got,
                              PosixFileSystem()->ReadFile(path));
  EXPECT_TRUE(got == content);
  // The APPLIED and ACTIVATED events reached the server through gRPC once.
  ASSERT_THAT(client->FlushReports(), IsOk());
  std::lock_guard<std::mutex> lock(service_.mu);
  int applied = 0;
  for (const auto& e : service_.reports) {
    applied += e.kind() == v1::ReportEvent::KIND_APPLIED;
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(client->PendingReports(), 0u);
}

TEST_F(GrpcResumeTest, CApiChecksReadsConfigAndGuardsLaunches) {
  const std::string doc = "{\"daily_limit\": 5000}";
  v1::UpdateEntry* e = service_.plan.mutable_plan()->add_updates();
  e->mutable_module()->set_layer(v1::LAYER_CONFIG);
  e->mutable_module()->set_name("payment.limits");
  e->set_release_sequence(1);
  auto* st = e->mutable_statement();
  st->set_app_id("wallet");
  *st->mutable_module() = e->module();
  st->set_version("1");
  st->set_content_sha256(Sha256::HexHash(doc));
  st->set_size(doc.size());
  e->set_inline_content(doc);

  const std::string address = Address();
  strata_client_options o{};
  o.server_address = address.c_str();
  o.insecure_plaintext_to_loopback_for_tests = 1;  // fake server
  o.app_id = "wallet";
  o.device_id = "d1";
  o.storage_dir = dir_.path().c_str();
  // Without a pinned root the client is refused, naming the fix.
  EXPECT_EQ(strata_client_create(&o), nullptr);
  EXPECT_NE(std::string(strata_last_error()).find("strata trust init"),
            std::string::npos)
      << strata_last_error();
  EXPECT_EQ(strata_last_error_code(), 3);  // INVALID_ARGUMENT
  strata_client_options_set_insecure_skip_signature_verification_for_tests(
      &o, 1);  // this test is not about trust
  strata_client* c = strata_client_create(&o);
  ASSERT_NE(c, nullptr) << strata_last_error();
  size_t rolled_back = 9;
  EXPECT_EQ(strata_client_begin_launch(c, &rolled_back), 0);
  EXPECT_EQ(rolled_back, 0u);
  size_t installed = 0, failed = 0;
  ASSERT_EQ(strata_client_check(c, &installed, &failed), 0)
      << strata_last_error();
  EXPECT_EQ(installed, 1u);
  EXPECT_EQ(failed, 0u);
  char* value = nullptr;
  size_t size = 0;
  ASSERT_EQ(strata_client_get_config(c, "payment.limits", &value, &size), 0);
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(std::string(value, size), doc);
  strata_free(value);
  ASSERT_EQ(strata_client_get_config(c, "absent", &value, &size), 0);
  EXPECT_EQ(value, nullptr);
  char* path = nullptr;
  ASSERT_EQ(strata_client_open_module(c, "config", "payment.limits", &path), 0);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string on_disk,
                              PosixFileSystem()->ReadFile(path));
  EXPECT_EQ(on_disk, doc);
  strata_free(path);
  EXPECT_EQ(strata_client_open_module(c, "nope", "x", &path),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(strata_client_open_module(c, "h5", "absent", &path),
            static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(strata_client_mark_launch_healthy(c), 0);
  // A second mark without a launch is refused, with a readable reason.
  EXPECT_EQ(strata_client_mark_launch_healthy(c),
            static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(std::string(strata_last_error()).find("BeginLaunch"),
            std::string::npos);
  strata_client_destroy(c);

  // Bad options: NULL and the reason.
  strata_client_options bad{};
  bad.app_id = "wallet";
  EXPECT_EQ(strata_client_create(&bad), nullptr);
  EXPECT_NE(std::string(strata_last_error()).find("device_id"),
            std::string::npos);
  // An unreachable server: the check fails with UNAVAILABLE.
  o.server_address = "127.0.0.1:1";
  c = strata_client_create(&o);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(strata_client_check(c, nullptr, nullptr),
            static_cast<int>(absl::StatusCode::kUnavailable));
  strata_client_destroy(c);
}

TEST_F(GrpcResumeTest, CApiVerifiesAgainstThePinnedRoot) {
  // A signed repository: the publisher signed this config, the director
  // assigns it to everyone; its files travel in the Check answer.
  const std::string doc = "{\"daily_limit\": 7000}";
  signing::testing::TestRepo repo(absl::Now());
  const std::string name =
      repo.AddArtifact(signing::Layer::kConfig, "payment.limits", 1, doc);
  repo.delegated["config"].targets[name].artifact->version_label = "1";
  repo.Assign(name);
  repo.Publish();
  v1::CheckResponse& answer = service_.plan;
  answer.mutable_plan()->set_device_id("d1");
  answer.mutable_plan()->set_expires_at_unix(
      absl::ToUnixSeconds(absl::Now() + absl::Hours(1)));
  for (const auto& [file, bytes] : repo.source.files()) {
    v1::MetadataFile* f = answer.add_metadata();
    f->set_name(file);
    f->set_content(bytes);
  }
  v1::UpdateEntry* e = answer.mutable_plan()->add_updates();
  e->mutable_module()->set_layer(v1::LAYER_CONFIG);
  e->mutable_module()->set_name("payment.limits");
  e->set_release_sequence(1);
  auto* st = e->mutable_statement();
  st->set_app_id("wallet");
  *st->mutable_module() = e->module();
  st->set_version("1");
  st->set_content_sha256(Sha256::HexHash(doc));
  st->set_size(doc.size());
  e->set_inline_content(doc);

  const std::string address = Address();
  const std::string storage = JoinPath(dir_.path(), "verified");
  strata_client_options o{};
  o.server_address = address.c_str();
  o.insecure_plaintext_to_loopback_for_tests = 1;  // fake server
  o.app_id = "wallet";
  o.device_id = "d1";
  o.storage_dir = storage.c_str();
  strata_client_options_set_pinned_root(&o, repo.pinned_root().c_str());
  strata_client* c = strata_client_create(&o);
  ASSERT_NE(c, nullptr) << strata_last_error();
  size_t installed = 0, failed = 0;
  ASSERT_EQ(strata_client_check(c, &installed, &failed), 0)
      << strata_last_error();
  EXPECT_EQ(installed, 1u);
  EXPECT_EQ(failed, 0u);
  char* value = nullptr;
  ASSERT_EQ(strata_client_get_config(c, "payment.limits", &value, nullptr), 0);
  EXPECT_STREQ(value, doc.c_str());
  strata_free(value);
  strata_client_destroy(c);

  // The same server now offers bytes no publisher signed: refused.
  const std::string evil = "{\"daily_limit\": 9999999}";
  {
    std::lock_guard<std::mutex> lock(service_.mu);
    st->set_content_sha256(Sha256::HexHash(evil));
    st->set_size(evil.size());
    e->set_inline_content(evil);
  }
  const std::string other = JoinPath(dir_.path(), "other");
  o.storage_dir = other.c_str();
  c = strata_client_create(&o);
  ASSERT_NE(c, nullptr) << strata_last_error();
  ASSERT_EQ(strata_client_check(c, &installed, &failed), 0);
  EXPECT_EQ(installed, 0u);
  EXPECT_EQ(failed, 1u);
  ASSERT_EQ(strata_client_get_config(c, "payment.limits", &value, nullptr), 0);
  EXPECT_EQ(value, nullptr);
  strata_client_destroy(c);
}

}  // namespace
}  // namespace strata::client
