// Interop with the reference TypeScript implementation of TUF: metadata that
// Strata produces is verified by the `tuf-js` client, and a repository made
// with `@tufjs/models` is accepted by Strata's verifier. Needs node and npm;
// the npm packages (pinned in interop/package-lock.json) are installed into
// the build tree on first run.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/verifier.h"
#include "test_repo.h"

namespace strata::signing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult RunCommand(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

class InteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const CommandResult node = RunCommand("node --version");
    if (node.exit_code != 0) {
      setup_error_ =
          "node is required for the tuf-js interop test (Debian: apt-get "
          "install nodejs npm); `node --version` said: " +
          node.output;
      return;
    }
    const fs::path src = STRATA_INTEROP_SOURCE_DIR;
    work_ = STRATA_INTEROP_WORK_DIR;
    fs::create_directories(work_);
    // One installer at a time (ctest may run these tests in parallel).
    const std::string lock_path = (work_ / ".install.lock").string();
    const int lock =
        open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    flock(lock, LOCK_EX);
    for (const auto& entry : fs::directory_iterator(src)) {
      const std::string ext = entry.path().extension().string();
      if (ext == ".js" || ext == ".json") {
        fs::copy_file(entry.path(), work_ / entry.path().filename(),
                      fs::copy_options::overwrite_existing);
      }
    }
    if (!fs::exists(work_ / "node_modules" / "tuf-js" / "package.json") ||
        !fs::exists(work_ / "node_modules" / "@tufjs" / "models")) {
      const CommandResult npm = RunCommand("cd " + Quote(work_.string()) +
                                           " && npm ci --no-audit --no-fund");
      if (npm.exit_code != 0) {
        setup_error_ =
            "`npm ci` for tuf-js failed (is the npm registry "
            "reachable?):\n" +
            npm.output;
      }
    }
    flock(lock, LOCK_UN);
    close(lock);
  }

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    char tmpl[] = "/tmp/strata_interop_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult Node(const std::string& script, const std::string& args) {
    return RunCommand("node " + Quote((work_ / script).string()) + " " + args);
  }

  // Writes the repository's metadata and target files the way a TUF file
  // server lays them out.
  void WriteRepo(const testing::TestRepo& repo, const fs::path& out) {
    FileSystem* posix = PosixFileSystem();
    STRATA_ASSERT_OK(CreateDirs(*posix, (out / "metadata").string()));
    for (const auto& [name, bytes] : repo.source.files()) {
      STRATA_ASSERT_OK(WriteFileAtomically(
          *posix, (out / "metadata" / name).string(), bytes));
    }
    for (const auto& [name, bytes] : repo.contents) {
      const size_t slash = name.find('/');
      const fs::path dir = out / "targets" / name.substr(0, slash);
      STRATA_ASSERT_OK(CreateDirs(*posix, dir.string()));
      const std::string file =
          Sha256::HexHash(bytes) + "." + name.substr(slash + 1);
      STRATA_ASSERT_OK(
          WriteFileAtomically(*posix, (dir / file).string(), bytes));
    }
  }

  static inline fs::path work_;
  static inline std::string setup_error_;
  fs::path dir_;
};

TEST_F(InteropTest, TufJsVerifiesMetadataWeProduce) {
  testing::TestRepo repo(SystemClock()->Now());
  const std::string hot = repo.AddArtifact(Layer::kHotpatch, "core", 7,
                                           "hotpatch bytes for tuf-js");
  const std::string h5 =
      repo.AddArtifact(Layer::kH5, "mall-home", 3, "h5 bundle");
  repo.Publish();
  // A root rotation, too: v2 adds a fourth root key, signed by both sets.
  const PrivateKey extra = testing::TestKey(77);
  repo.root.common.version = 2;
  repo.root.AddKey("root", extra.public_key());
  repo.PublishRoot({&extra});
  WriteRepo(repo, dir_ / "repo");

  const CommandResult r =
      Node("tufjs_verify.js", Quote((dir_ / "repo").string()) + " " +
                                  Quote((dir_ / "work").string()) + " " + hot +
                                  " " + h5);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"ok\":true"));
  EXPECT_THAT(r.output,
              HasSubstr(Sha256::HexHash("hotpatch bytes for tuf-js")));
  EXPECT_THAT(r.output, HasSubstr("\"release_counter\":7"));
}

TEST_F(InteropTest, TufJsRejectsOurMetadataWhenASignatureIsBroken) {
  testing::TestRepo repo(SystemClock()->Now());
  const std::string hot =
      repo.AddArtifact(Layer::kHotpatch, "core", 7, "bytes");
  repo.tamper = [](const std::string& role, SignedMetadata& m) {
    if (role == "hotpatch") m.mutable_signatures().pop_back();  // 1 of 2
  };
  repo.Publish();
  WriteRepo(repo, dir_ / "repo");
  const CommandResult r =
      Node("tufjs_verify.js", Quote((dir_ / "repo").string()) + " " +
                                  Quote((dir_ / "work").string()) + " " + hot);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"ok\":false"));
  EXPECT_THAT(r.output, HasSubstr("hotpatch was signed by 1/2 keys"));
}

TEST_F(InteropTest, RepositoryMadeWithTufJsModelsIsAccepted) {
  const int64_t now = 1'700'000'000;
  const CommandResult made =
      Node("tufjs_make_repo.js",
           Quote((dir_ / "tufjs").string()) + " " + std::to_string(now));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  FileSystem* posix = PosixFileSystem();
  const std::string meta = (dir_ / "tufjs" / "metadata").string();
  STRATA_ASSERT_OK_AND_ASSIGN(std::string pinned,
                              posix->ReadFile(JoinPath(meta, "1.root.json")));

  strata::testing::SimulatedClock clock(absl::FromUnixSeconds(now));
  strata::testing::MemFileSystem state_fs;
  Env env;
  env.fs = &state_fs;
  env.clock = &clock;
  VerifierOptions options;
  options.state_dir = "/state";
  options.pinned_root = pinned;
  STRATA_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Verifier> v,
                              Verifier::Open(env, options));
  FileSystemMetadataSource source(posix, meta);
  STRATA_ASSERT_OK(v->Refresh(source));
  EXPECT_EQ(v->TrustedVersion("root"), 2u);  // the rotation made by tuf-js
  EXPECT_EQ(v->TrustedVersion("hotpatch"), 1u);

  DeviceInfo device;
  device.app_id = "wallet";
  device.device_id = "d1";
  device.app_version = "10.3.0";
  device.host_build = "10.3.0+100";
  STRATA_ASSERT_OK_AND_ASSIGN(
      VerifiedTarget t, v->ResolveModule(device, Layer::kHotpatch, "core"));
  EXPECT_EQ(t.name, "hotpatch/core@3");
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string content, posix->ReadFile((dir_ / "tufjs" / "targets" /
                                            "hotpatch" / (t.sha256 + ".core@3"))
                                               .string()));
  DownloadChecker check(t);
  STRATA_ASSERT_OK(check.Update(content));
  STRATA_ASSERT_OK(check.Finish());

  // A week later the tuf-js repository is frozen: rejected.
  clock.Advance(absl::Hours(24 * 8));
  const absl::Status frozen = v->Refresh(source);
  EXPECT_THAT(GetRejectReason(frozen),
              ::testing::Optional(RejectReason::kExpiredMetadata))
      << frozen;
}

}  // namespace
}  // namespace strata::signing
