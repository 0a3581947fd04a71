// Trees through the Client, on real files (FakeTransport as the server):
// an H5 tree release unpacked and opened as a directory, pages resolved
// from its declared URL prefixes, an update by a delta over the archive
// producing a new directory that shares unchanged files, the old version
// collected after the healthy launch, refusals.
#include <sys/stat.h>

#include <filesystem>

#include "device_world.h"
#include "fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/client/client.h"
#include "strata/diff/delta.h"
#include "tree_testing.h"

namespace strata::client {
namespace {

using ::strata::client::tree_testing::Tar;
using ::strata::client::tree_testing::TarItem;
using ::strata::client::tree_testing::TempDir;
using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kPackage =
    R"({"url_prefixes": ["https://mall.example.com/"]})";

const std::string kTree1 = Tar({
    {"strata-package.json", kPackage},
    {"index.html", "<h1>mall v1</h1>"},
    {"cart/", "", '5'},
    {"cart/index.html", "<h1>cart</h1>"},
    {"static/app.js", "console.log('shared')"},
});
const std::string kTree2 = Tar({
    {"strata-package.json", kPackage},
    {"index.html", "<h1>mall v2</h1>"},
    {"cart/index.html", "<h1>cart</h1>"},
    {"static/app.js", "console.log('shared')"},
    {"static/new.css", "body{}"},
});

ino_t Inode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

class TreeClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    for (const std::string& c : {kTree1, kTree2}) {
      server_.blobs[Sha256::HexHash(c)] = c;
    }
    client_ = Open();
    ASSERT_NE(client_, nullptr);
  }
  std::unique_ptr<Client> Open() {
    ClientOptions o;
    o.app_id = "wallet";
    o.device.device_id = "d1";
    o.storage_dir = JoinPath(tmp_.path(), "sdk");
    o.insecure_skip_signature_verification_for_tests = true;  // not trust
    o.env = Env{PosixFileSystem(), &clock_, &random_};
    auto c = Client::CreateWithTransport(
        o, std::make_unique<device_world::SharedTransport>(&server_));
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  }
  std::string Read(const std::string& path) {
    return PosixFileSystem()->ReadFile(path).value_or("<missing>");
  }
  std::vector<std::string> Trees() {
    return PosixFileSystem()
        ->ListDir(JoinPath(tmp_.path(), "sdk/trees"))
        .value_or(std::vector<std::string>{"<unlistable>"});
  }
  // Version 1 installed, activated by opening it and by a healthy launch.
  std::string InstallV1() {
    server_.Serve({Entry(v1::LAYER_H5, "mall", "1", kTree1, 1, false)});
    auto r = client_->Check();
    EXPECT_THAT(r, IsOk());
    if (r.ok() && !r->failures.empty()) ADD_FAILURE() << r->failures.front();
    EXPECT_THAT(client_->BeginLaunch(), IsOk());
    EXPECT_THAT(client_->MarkLaunchHealthy(), IsOk());
    return client_->ModuleDir(Layer::kH5, "mall").value_or("");
  }

  TempDir tmp_;
  strata::testing::SimulatedClock clock_;
  strata::testing::FakeRandom random_;
  FakeTransport server_;
  std::unique_ptr<Client> client_;
};

TEST_F(TreeClientTest, AnH5TreeIsUnpackedAndOpenedAsADirectory) {
  server_.Serve({Entry(v1::LAYER_H5, "mall", "1", kTree1, 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_TRUE(r.failures.empty()) << r.failures.front();
  ASSERT_EQ(r.staged.size(), 1u);
  // Staged: unpacked already, active only once opened.
  EXPECT_THAT(client_->ModuleDir(Layer::kH5, "mall"),
              StatusIs(absl::StatusCode::kNotFound));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string dir,
                              client_->OpenModule(Layer::kH5, "mall"));
  EXPECT_EQ(dir, JoinPath(tmp_.path(), "sdk/trees/" + Sha256::HexHash(kTree1)));
  EXPECT_EQ(Read(JoinPath(dir, "index.html")), "<h1>mall v1</h1>");
  EXPECT_EQ(Read(JoinPath(dir, "cart/index.html")), "<h1>cart</h1>");
  EXPECT_THAT(client_->ModuleDir(Layer::kH5, "mall"), IsOk());
  EXPECT_EQ(client_->ModuleDir(Layer::kH5, "mall").value_or(""), dir);
}

TEST_F(TreeClientTest, ResolveUrlServesPagesFromTheActiveTree) {
  const std::string dir = InstallV1();
  ASSERT_FALSE(dir.empty());
  struct Hit {
    std::string url, file;
  };
  for (const Hit& h : std::vector<Hit>{
           {"https://mall.example.com/", "index.html"},
           {"https://mall.example.com/?utm=push#top", "index.html"},
           {"https://MALL.example.com/cart/", "cart/index.html"},
           {"https://mall.example.com/cart", "cart/index.html"},
           {"https://mall.example.com/static/app.js?v=3", "static/app.js"},
       }) {
    SCOPED_TRACE(h.url);
    STRATA_ASSERT_OK_AND_ASSIGN(Client::UrlResolution res,
                                client_->ResolveUrl(h.url));
    EXPECT_TRUE(res.offline) << res.fallback_reason;
    EXPECT_EQ(res.path, JoinPath(dir, h.file));
    EXPECT_EQ(res.module, "mall");
    EXPECT_EQ(res.version, "1");
  }
}

TEST_F(TreeClientTest, ResolveUrlSaysWhenToUseTheNetwork) {
  ASSERT_FALSE(InstallV1().empty());
  STRATA_ASSERT_OK_AND_ASSIGN(
      Client::UrlResolution other,
      client_->ResolveUrl("https://news.example.com/index.html"));
  EXPECT_FALSE(other.offline);
  EXPECT_TRUE(other.path.empty());
  EXPECT_THAT(other.fallback_reason, HasSubstr("network"));
  STRATA_ASSERT_OK_AND_ASSIGN(
      Client::UrlResolution missing,
      client_->ResolveUrl("https://mall.example.com/not-shipped.html"));
  EXPECT_FALSE(missing.offline);
  EXPECT_EQ(missing.module, "mall");
  EXPECT_THAT(missing.fallback_reason, HasSubstr("not-shipped.html"));
}

TEST_F(TreeClientTest, ResolveUrlRefusesTraversal) {
  ASSERT_FALSE(InstallV1().empty());
  for (const char* url : {"https://mall.example.com/../sdk/state",
                          "https://mall.example.com/%2e%2e/%2e%2e/etc/passwd",
                          "https://mall.example.com/cart/..%5c..%5cstate",
                          "https://mall.example.com/cart\\..\\..\\state"}) {
    SCOPED_TRACE(url);
    EXPECT_THAT(
        client_->ResolveUrl(url),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refused")));
  }
}

// The "Must show" flow without the crash (crash_test.cc has that): v1
// unpacked; v2 arrives as a patch over the archive, is unpacked into a new
// directory sharing the unchanged files; v1's tree stays as the last known
// good version until the healthy launch, then it is collected.
TEST_F(TreeClientTest, ATreeDeltaMakesANewDirectoryAndTheOldGoesAfterHealth) {
  const std::string dir1 = InstallV1();
  ASSERT_FALSE(dir1.empty());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string patch,
                              diff::CreatePatch(kTree1, kTree2));
  v1::UpdateEntry e = Entry(v1::LAYER_H5, "mall", "2", kTree2, 2, false);
  v1::DeltaRef* d = e.add_deltas();
  d->set_from_sha256(Sha256::HexHash(kTree1));
  d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
  d->mutable_patch()->set_size(patch.size());
  server_.blobs[Sha256::HexHash(patch)] = patch;
  server_.Serve({e});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_TRUE(r.failures.empty()) << r.failures.front();
  EXPECT_EQ(r.via_delta, 1u);
  EXPECT_EQ(r.bytes_downloaded, patch.size());
  // Until the switch the app reads v1.
  EXPECT_EQ(client_->ModuleDir(Layer::kH5, "mall").value_or(""), dir1);
  STRATA_ASSERT_OK_AND_ASSIGN(LaunchResult launch, client_->BeginLaunch());
  ASSERT_EQ(launch.activated.size(), 1u);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string dir2,
                              client_->ModuleDir(Layer::kH5, "mall"));
  EXPECT_NE(dir2, dir1);
  EXPECT_EQ(Read(JoinPath(dir2, "index.html")), "<h1>mall v2</h1>");
  EXPECT_EQ(Read(JoinPath(dir2, "static/new.css")), "body{}");
  EXPECT_EQ(Inode(JoinPath(dir1, "static/app.js")),
            Inode(JoinPath(dir2, "static/app.js")));
  EXPECT_EQ(Read(JoinPath(dir1, "index.html")), "<h1>mall v1</h1>");
  STRATA_ASSERT_OK_AND_ASSIGN(
      Client::UrlResolution page,
      client_->ResolveUrl("https://mall.example.com/index.html"));
  EXPECT_EQ(page.path, JoinPath(dir2, "index.html"));
  EXPECT_EQ(page.version, "2");
  EXPECT_EQ(Trees().size(), 4u);  // v1 is the last known good one
  ASSERT_THAT(client_->MarkLaunchHealthy(), IsOk());
  EXPECT_THAT(Trees(), ::testing::ElementsAre(Sha256::HexHash(kTree2),
                                              Sha256::HexHash(kTree2) + ".ok"));
  EXPECT_EQ(Read(JoinPath(dir2, "static/app.js")), "console.log('shared')");
}

TEST_F(TreeClientTest, AMissingTreeIsUnpackedAgainFromItsArchive) {
  const std::string dir = InstallV1();
  ASSERT_FALSE(dir.empty());
  std::filesystem::remove_all(dir);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string again,
                              client_->ModuleDir(Layer::kH5, "mall"));
  EXPECT_EQ(again, dir);
  EXPECT_EQ(Read(JoinPath(dir, "index.html")), "<h1>mall v1</h1>");
}

TEST_F(TreeClientTest, VerifyInstalledComparesTreeFilesWithTheArchive) {
  const std::string dir = InstallV1();
  ASSERT_FALSE(dir.empty());
  EXPECT_THAT(client_->VerifyInstalled(), IsOk());
  // Replaced (not written in place, which would change v2's shared file).
  ASSERT_THAT(
      WriteFileAtomically(*PosixFileSystem(), JoinPath(dir, "cart/index.html"),
                          "<h1>tampered</h1>"),
      IsOk());
  EXPECT_THAT(
      client_->VerifyInstalled(),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("cart/index.html")));
}

TEST_F(TreeClientTest, AnArchiveBreakingThePathRulesIsNotInstalled) {
  const std::string evil = Tar({{"../../state", "launch 0 0 0"}});
  server_.blobs[Sha256::HexHash(evil)] = evil;
  server_.Serve({Entry(v1::LAYER_H5, "mall", "1", evil, 1, false)});
  STRATA_ASSERT_OK_AND_ASSIGN(CheckResult r, client_->Check());
  ASSERT_EQ(r.failure_details.size(), 1u);
  EXPECT_THAT(r.failure_details[0].message, HasSubstr("refused"));
  EXPECT_TRUE(r.staged.empty());
  EXPECT_FALSE(client_->Staged(Layer::kH5, "mall").has_value());
  EXPECT_TRUE(Trees().empty());
}

TEST_F(TreeClientTest, ModuleDirOfContentThatIsNotATree) {
  server_.Serve({Entry(v1::LAYER_H5, "page", "1", "<h1>one file</h1>", 1, true),
                 Entry(v1::LAYER_CONFIG, "c", "1", "{}", 1, true)});
  ASSERT_THAT(client_->Check(), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string file,
                              client_->OpenModule(Layer::kH5, "page"));
  EXPECT_EQ(Read(file), "<h1>one file</h1>");
  EXPECT_THAT(
      client_->ModuleDir(Layer::kH5, "page"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a tree")));
  EXPECT_THAT(client_->ModuleDir(Layer::kConfig, "c"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(client_->ModuleDir(Layer::kH5, "nothing"),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace strata::client
