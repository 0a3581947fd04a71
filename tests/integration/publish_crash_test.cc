// kill -9 of a real stratad at moments the publisher picks (after k
// acknowledged publishes, part way through the next upload):
// every acknowledged publish must survive, and nothing may be half visible
// (an artifact record whose blob is missing or wrong).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "../server/test_util.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/rpc/strata_server.h"
#include "strata/server/storage/store.h"
#include "stratad_process.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;

std::string BinDir() {
  const char* dir = std::getenv("STRATA_BIN_DIR");
  return dir ? dir : STRATA_TEST_BIN_DIR;
}

int Cycles() {
  const char* v = std::getenv("STRATA_CRASH_CYCLES");
  return v ? std::atoi(v) : 100;
}

struct Acked {
  std::string version;
  std::string sha256;
};

class StratadProcess {
 public:
  explicit StratadProcess(const std::string& data_dir) : data_dir_(data_dir) {}
  void Start() {
    const std::string port_file = JoinPath(data_dir_, "port");
    (void)PosixFileSystem()->DeleteFile(port_file);
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const std::string bin = JoinPath(BinDir(), "stratad");
      ::execl(bin.c_str(), "stratad", "--data-dir", data_dir_.c_str(),
              "--listen", "127.0.0.1:0", "--http", "",
              "--allow-unsigned-publishes", "--port-file", port_file.c_str(),
              nullptr);
      ::_exit(127);
    }
    // A hang guard only; stops early if stratad exits.
    auto port = testing::WaitForPortFile(pid_, port_file);
    ASSERT_TRUE(port.ok()) << port.status();
    address_ = "127.0.0.1:" + port->substr(0, port->find('\n'));
  }
  void Kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  ~StratadProcess() {
    if (pid_ > 0) Kill9();
  }
  const std::string& address() const { return address_; }

 private:
  std::string data_dir_;
  std::string address_;
  pid_t pid_ = -1;
};

TEST(PublishCrashTest, KillNineDuringPublishesLosesNothingAcknowledged) {
  testing::TempDir dir;
  const std::string data = JoinPath(dir.path(), "data");
  const std::string token_file = JoinPath(data, "admin.token");
  ASSERT_THAT(server::InitializeDataDir(data, token_file), IsOk());
  std::string token = *PosixFileSystem()->ReadFile(token_file);
  token = token.substr(0, token.find('\n'));

  std::mt19937_64 rng(12345);
  std::vector<Acked> acked;
  int killed_mid_upload = 0;
  // What the kill points chosen below must lead to, exactly.
  size_t want_acked = 0;
  int want_mid_upload = 0;
  StratadProcess server(data);
  std::set<std::string> verified;  // versions whose blob was checked already
  for (int cycle = 0; cycle < Cycles(); ++cycle) {
    server.Start();
    if (::testing::Test::HasFatalFailure()) return;
    // The deadline is a hang guard only.
    admin::AdminClient client(server.address(), token,
                              admin::ChannelSecurity::Plaintext(),
                              absl::Seconds(120));
    // The kill point, chosen by the publisher, not by a timer: `k`
    // acknowledged publishes, then the next upload is cut once `cut` of its
    // bytes were handed to gRPC (the header and at least one chunk sent, the
    // end of the stream not), or, when `cut` is 0, the server is killed
    // right after the k-th acknowledgement, before the next upload starts.
    const int k = static_cast<int>(rng() % 3);
    std::mt19937_64 local(static_cast<uint64_t>(cycle) * 7919);
    for (int i = 0; i <= k; ++i) {
      // Sizes from a few bytes to several 256 KiB chunks.
      const size_t size = 1 + local() % (5 << 19);
      std::string content(size, '\0');
      for (size_t j = 0; j < size; j += 8) {
        uint64_t v = local();
        std::memcpy(&content[j], &v, std::min<size_t>(8, size - j));
      }
      v1::ArtifactStatement st;
      st.set_app_id("wallet");
      st.mutable_module()->set_layer(v1::LAYER_H5);
      st.mutable_module()->set_name("crashy");
      const std::string version = StrCat("c", cycle, "-", i);
      st.set_version(version);
      if (i < k) {
        auto r = client.Publish(st, content, version);
        ASSERT_THAT(r, IsOk()) << version;
        acked.push_back({version, Sha256::HexHash(content)});
        ++want_acked;
        continue;
      }
      const uint64_t cut = rng() % 8 == 0 ? 0 : 1 + rng() % size;
      if (cut == 0) {
        server.Kill9();
        break;
      }
      bool killed = false;
      auto r = client.Publish(st, content, version,
                              [&](uint64_t sent, uint64_t /*total*/) {
                                if (!killed && sent >= cut) {
                                  server.Kill9();
                                  killed = true;
                                }
                              });
      ASSERT_TRUE(killed) << version;
      ASSERT_FALSE(r.ok()) << version << ": acknowledged by a dead server";
      ++killed_mid_upload;
      ++want_mid_upload;
    }

    // With the server dead, look at what is on disk.
    auto store = server::Store::Open(JoinPath(data, "db"));
    ASSERT_THAT(store, IsOk());
    auto all = (*store)->ListArtifacts("wallet");
    ASSERT_THAT(all, IsOk());
    std::map<std::string, std::string> present;
    for (const auto& a : *all) {
      present[a.statement().version()] = a.statement().content_sha256();
      // Versions are immutable: a record checked in an earlier cycle stays.
      if (!verified.insert(a.statement().version()).second) continue;
      // Nothing half visible: every record's blob is complete and right.
      auto blob = (*store)->ReadBlob(a.statement().content_sha256(), 0,
                                     uint64_t{1} << 30);
      ASSERT_THAT(blob, IsOk())
          << "cycle " << cycle << " " << a.statement().version();
      ASSERT_EQ(Sha256::HexHash(*blob), a.statement().content_sha256())
          << "cycle " << cycle << " " << a.statement().version();
    }
    for (const Acked& a : acked) {
      ASSERT_EQ(present.count(a.version), 1u)
          << "acknowledged publish " << a.version << " lost after cycle "
          << cycle;
      ASSERT_EQ(present[a.version], a.sha256);
    }
  }
  // Every kill landed where the publisher put it, on any machine.
  EXPECT_EQ(acked.size(), want_acked);
  EXPECT_EQ(killed_mid_upload, want_mid_upload);
  EXPECT_GT(killed_mid_upload, 0);
  std::printf(
      "crash cycles: %d, acknowledged publishes checked: %zu, kills "
      "mid-upload: %d\n",
      Cycles(), acked.size(), killed_mid_upload);
}

}  // namespace
}  // namespace strata
