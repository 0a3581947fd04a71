// An unmodified tuf-js Updater (the reference TypeScript TUF client, from
// npm, pinned in tests/signing/interop/package-lock.json) pointed at a real
// stratad's HTTP TUF repository: it walks the root chain from the root that
// `strata trust init` wrote, verifies timestamp, snapshot, targets and the
// per-layer role, and downloads and verifies a published target.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "cli_fixture.h"
#include "gtest/gtest.h"
#include "strata/base/json.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

std::string Quote(const std::string& s) { return "'" + s + "'"; }

class TufJsHttpTest : public CliFixture {
 protected:
  static void SetUpTestSuite() {
    if (RunCommand("node --version").exit_code != 0) {
      setup_error_ =
          "node is required (Debian: apt-get install nodejs npm; "
          "./strata.sh deps installs it)";
      return;
    }
    const fs::path src = STRATA_TUFJS_SOURCE_DIR;
    work_ = STRATA_TUFJS_WORK_DIR;
    fs::create_directories(work_);
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
    if (!fs::exists(work_ / "node_modules" / "tuf-js" / "package.json")) {
      CmdResult npm = RunCommand(
          "cd " + Quote(work_.string()) + " && npm ci --no-audit --no-fund",
          true);
      if (npm.exit_code != 0) setup_error_ = "npm ci failed:\n" + npm.out;
    }
    flock(lock, LOCK_UN);
    close(lock);
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    allow_unsigned_ = false;
    CliFixture::SetUp();
  }

  static inline std::string setup_error_;
  static inline fs::path work_;
};

TEST_F(TufJsHttpTest, UpdaterDownloadsAndVerifiesAPublishedTarget) {
  const std::string keys = JoinPath(dir_.path(), "keys");
  ASSERT_FALSE(InitTrust().empty());
  const std::string content(70000, 'c');
  const std::string file = WriteFile("cart.js", content);
  CmdResult pub = Strata(
      StrCat("publish --app wallet --layer hcf --module cart --version 1 ",
             "--file ", file, " --key ", JoinPath(keys, "publisher-a.key")),
      true);
  ASSERT_EQ(pub.exit_code, 0) << pub.out;
  // A rotation first, so the updater walks a chain (1.root.json is pinned).
  CmdResult rot =
      Strata("trust rotate root --keys " + keys + " --app wallet", true);
  ASSERT_EQ(rot.exit_code, 0) << rot.out;

  const std::string base =
      StrCat("http://127.0.0.1:", http_port_, "/v1/tuf/wallet/");
  const std::string pinned = WriteFile("pinned-root.json", [&] {
    // The root the app shipped with: version 1.
    auto r = RunCommand(StrCat("curl -sf ", base, "1.root.json"));
    return r.out;
  }());
  CmdResult node = RunCommand(
      StrCat("node ", Quote((work_ / "tufjs_http_update.js").string()), " ",
             Quote(pinned), " ", Quote(base), " ", Quote(base + "targets/"),
             " ", Quote(JoinPath(dir_.path(), "tufjs")), " hcf/cart@1"),
      true);
  ASSERT_EQ(node.exit_code, 0) << node.out;
  auto json = Json::Parse(node.out.substr(0, node.out.find('\n')));
  ASSERT_TRUE(json.ok()) << node.out;
  const Json* ok = json->Find("ok");
  ASSERT_TRUE(ok != nullptr && ok->is_bool() && ok->as_bool()) << node.out;
  Json& target = (*json)["targets"]["hcf/cart@1"];
  EXPECT_EQ(target["sha256"].as_string(), Sha256::HexHash(content));
  EXPECT_EQ(target["length"].as_int(), static_cast<int64_t>(content.size()));
  EXPECT_EQ(target["custom"]["module"].as_string(), "cart");
}

TEST_F(TufJsHttpTest, UpdaterFailsClosedWhenTheTargetIsNotServed) {
  // The metadata verifies, but the target base URL serves nothing under the
  // consistent-snapshot name: the updater reports failure, it does not
  // invent content.
  const std::string keys = JoinPath(dir_.path(), "keys");
  ASSERT_EQ(Strata("keys gen --dir " + keys).exit_code, 0);
  ASSERT_EQ(Strata("trust init --keys " + keys + " --app wallet").exit_code, 0);
  const std::string file = WriteFile("cart.js", std::string(5000, 'a'));
  ASSERT_EQ(Strata(StrCat("publish --app wallet --layer hcf --module cart ",
                          "--version 1 --file ", file, " --key ",
                          JoinPath(keys, "publisher-a.key")))
                .exit_code,
            0);
  const std::string base =
      StrCat("http://127.0.0.1:", http_port_, "/v1/tuf/wallet/");
  const std::string pinned = JoinPath(keys, "root.json");
  // A target base with nothing behind it: the download fails closed.
  CmdResult node = RunCommand(
      StrCat("node ", Quote((work_ / "tufjs_http_update.js").string()), " ",
             Quote(pinned), " ", Quote(base), " ",
             Quote(StrCat("http://127.0.0.1:", http_port_, "/v1/blobs/")), " ",
             Quote(JoinPath(dir_.path(), "tufjs")), " hcf/cart@1"),
      true);
  EXPECT_NE(node.exit_code, 0) << node.out;
  EXPECT_NE(node.out.find("\"ok\":false"), std::string::npos) << node.out;
}

}  // namespace
}  // namespace strata
