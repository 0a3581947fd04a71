// Publishing safely and the artifact inventory, with the real binaries
// against a real stratad (issue 14): `publish --dir` (dot and VCS files,
// .strataignore, symlinks, the file list, --dry-run), content checks
// (empty, JSON, schemas; also when a client skips the CLI), immutable
// versions, the 512 MiB limit, `artifact list|show|diff` and `artifact
// yank` (releases halted, devices no longer offered it, content deleted
// once nothing references it).
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/diff/ustar_reader.h"
#include "strata/v1/delivery.grpc.pb.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliArtifactTest : public CliFixture {
 protected:
  std::string Dir(const std::string& name) {
    const std::string path = JoinPath(dir_.path(), name);
    EXPECT_TRUE(CreateDirs(*PosixFileSystem(), path).ok());
    return path;
  }
  void Link(const std::string& target, const std::string& at) {
    ASSERT_EQ(::symlink(target.c_str(), JoinPath(dir_.path(), at).c_str()), 0)
        << at;
  }
  admin::AdminClient Client() {
    return admin::AdminClient(server_, token_,
                              admin::ChannelSecurity::Plaintext());
  }
  // The published content of `module`@`version`, as devices download it.
  std::string Content(v1::Layer layer, const std::string& module,
                      const std::string& version) {
    admin::AdminClient client = Client();
    v1::GetArtifactRequest req;
    req.set_app_id("wallet");
    req.mutable_module()->set_layer(layer);
    req.mutable_module()->set_name(module);
    req.set_version(version);
    absl::StatusOr<v1::ArtifactInfo> info = client.GetArtifact(req);
    EXPECT_TRUE(info.ok()) << info.status();
    if (!info.ok()) return "";
    absl::StatusOr<std::string> bytes = client.Download(
        info->statement().content_sha256(), info->statement().size());
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : "";
  }
  // What a device with nothing installed is offered for h5 module `module`
  // ("" for nothing).
  std::string OfferedVersion(const std::string& device,
                             const std::string& module) {
    auto stub = v1::Delivery::NewStub(
        grpc::CreateChannel(server_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    v1::CheckRequest req;
    req.mutable_device()->set_app_id("wallet");
    req.mutable_device()->set_device_id(device);
    v1::CheckResponse resp;
    grpc::Status s = stub->Check(&context, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const v1::UpdateEntry& e : resp.plan().updates()) {
      if (e.module().name() == module) return e.statement().version();
    }
    return "";
  }
  CmdResult PublishDir(const std::string& module, const std::string& version,
                       const std::string& dir, const std::string& extra = "") {
    return Strata(StrCat("publish --app wallet --layer h5 --module ", module,
                         " --version ", version, " --dir ", dir, " ", extra),
                  true);
  }
  CmdResult PublishFile(const std::string& layer, const std::string& module,
                        const std::string& version, const std::string& file,
                        const std::string& extra = "") {
    return Strata(
        StrCat("publish --app wallet --layer ", layer, " --module ", module,
               " --version ", version, " --file ", file, " ", extra),
        true);
  }
  std::string Audit() { return Strata("audit list").out; }
};

TEST_F(CliArtifactTest, PublishDirSkipsDotAndVcsFilesAndHonoursStrataignore) {
  const std::string tree = Dir("web");
  Dir("web/.git");
  Dir("web/build");
  Dir("web/.well-known");
  Dir("web/js");
  WriteFile("web/.git/config", "[remote] url = secret");
  WriteFile("web/.DS_Store", "finder");
  WriteFile("web/.env", "API_KEY=1");
  WriteFile("web/index.html", "<html>home</html>");
  WriteFile("web/js/app.js", "console.log(1)");
  WriteFile("web/debug.log", "log");
  WriteFile("web/build/out.js", "generated");
  WriteFile("web/.well-known/assetlinks.json", "[]");
  WriteFile("web/.strataignore",
            "# not for devices\n*.log\nbuild/\n!.well-known/\n");
  Link("index.html", "web/latest");  // inside the tree: kept as a link

  // --dry-run lists what would be packed and sends nothing.
  CmdResult r = PublishDir("home", "1", tree, "--dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("packed " + tree + ": 3 files"));
  EXPECT_THAT(r.out, HasSubstr(", 1 symlink"));
  EXPECT_THAT(r.out, HasSubstr("index.html"));
  EXPECT_THAT(r.out, HasSubstr("latest -> index.html"));
  EXPECT_THAT(r.out, HasSubstr(".well-known/assetlinks.json"));
  EXPECT_THAT(r.out, HasSubstr("skipped 6 (dot files, VCS files, "
                               ".strataignore): .DS_Store .env .git/ "
                               ".strataignore build/ debug.log"));
  EXPECT_THAT(r.out, HasSubstr("dry run: h5/home@1 would be"));
  EXPECT_EQ(Strata("artifact show h5/home@1 --app wallet").exit_code, 3);
  // The same as JSON, one object.
  r = Strata(
      "--output json publish --app wallet --layer h5 --module home "
      "--version 1 --dir " +
      tree + " --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectJsonLines(r.out, "dry run");
  auto json = Json::Parse(r.out.substr(0, r.out.find('\n')));
  ASSERT_TRUE(json.ok()) << r.out;
  EXPECT_EQ(json->Find("files")->as_array().size(), 4u);
  EXPECT_EQ(json->Find("skipped")->as_array().size(), 6u);

  // Published: the stored archive holds exactly the listed entries.
  r = PublishDir("home", "1", tree, "--quiet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("packed")));
  EXPECT_THAT(r.out, HasSubstr("published: h5/home 1"));
  auto entries = diff::UstarReader::Read(Content(v1::LAYER_H5, "home", "1"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> paths;
  for (const diff::UstarEntry& e : *entries) {
    paths.push_back(e.path);
    if (e.path == "latest") {
      EXPECT_EQ(e.type, diff::UstarEntry::Type::kSymlink);
      EXPECT_EQ(e.link_target, "index.html");
    }
  }
  EXPECT_EQ(paths,
            (std::vector<std::string>{".well-known/assetlinks.json",
                                      "index.html", "js/app.js", "latest"}));
}

TEST_F(CliArtifactTest, SymlinksLeavingTheTreeAreRefusedByName) {
  const std::string tree = Dir("web");
  WriteFile("web/index.html", "<html>");
  Link("/etc/hostname", "web/host");
  CmdResult r = PublishDir("home", "1", tree);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("symlink 'host' -> '/etc/hostname' leaves the "
                               "tree"));
  ASSERT_EQ(::unlink(JoinPath(tree, "host").c_str()), 0);
  Dir("web/a");
  Link("../../outside", "web/a/up");
  r = PublishDir("home", "1", tree);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("symlink 'a/up' -> '../../outside' leaves the "
                               "tree"));
  EXPECT_THAT(r.out, HasSubstr("climbs above the tree root"));
  // Listed in .strataignore, it is simply left out.
  WriteFile("web/.strataignore", "a/up\n");
  r = PublishDir("home", "1", tree);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("skipped 2 (dot files, VCS files, "
                               ".strataignore): .strataignore a/up"));
  // A directory with nothing to pack is refused.
  const std::string dots = Dir("dots");
  WriteFile("dots/.hidden", "x");
  r = PublishDir("other", "1", dots);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("holds no files to publish (1 skipped"));
}

TEST_F(CliArtifactTest, ContentChecksRefuseEmptyAndInvalidConfig) {
  const std::string empty = WriteFile("empty.json", "");
  CmdResult r = PublishFile("config", "limits", "1", empty);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("config/limits@1 is empty (0 bytes); nothing "
                               "is stored"));
  const std::string bad = WriteFile("bad.json", "{\"daily\": 5000,}");
  r = PublishFile("config", "limits", "1", bad);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("config/limits@1 is not valid JSON: invalid "
                               "JSON at byte 15"));
  r = PublishFile("config", "limits", "1", WriteFile("arr.json", "[1]"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("must be a JSON object"));
  // Nothing was stored: wallet is not even a known app yet (3).
  r = Strata("artifact list --app wallet", true);
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_THAT(r.out, HasSubstr("app wallet is not known to this server"));
  // Empty on purpose.
  r = PublishFile("hotpatch", "fix", "1", empty,
                  "--host-build b100 --allow-empty");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // A config with fractions is published, with a note on the SDK's getters.
  r = PublishFile("config", "limits", "1",
                  WriteFile("rate.json", R"({"rate": 0.25})"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("strata: note: config/limits@1 has numbers "
                               "with fractions (the first at /rate)"));

  // The server checks too, whatever the client: a raw gRPC publish.
  v1::ArtifactStatement st;
  st.set_app_id("wallet");
  st.mutable_module()->set_layer(v1::LAYER_CONFIG);
  st.mutable_module()->set_name("limits");
  st.set_version("2");
  auto refused = Client().Publish(st, "not json", "raw-2");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("config/limits@2 is not valid JSON"));
  refused = Client().Publish(st, "", "raw-3");
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("is empty (0 bytes)"));
}

TEST_F(CliArtifactTest, ConfigSchemasAreSetAuditedAndChecked) {
  const std::string schema = WriteFile("limits.schema.json", R"({
    "type": "object", "required": ["daily_limit_cny"],
    "additionalProperties": false,
    "properties": {
      "daily_limit_cny": {"type": "integer", "minimum": 0, "maximum": 50000},
      "single_payment_max_cny": {"type": "integer", "minimum": 0},
      "risk_check": {"enum": ["standard", "strict"]}}})");
  CmdResult r = Strata(
      "schema set --app wallet --module payment.limits "
      "--file " +
          schema,
      true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("later publishes must match the schema"));
  r = Strata("schema show --app wallet --module payment.limits");
  EXPECT_THAT(r.out, HasSubstr("\"daily_limit_cny\""));
  EXPECT_THAT(Audit(), HasSubstr("schema.set"));

  r = PublishFile(
      "config", "payment.limits", "1",
      WriteFile("over.json",
                R"({"daily_limit_cny": 70000, "risk_check": "lax"})"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("config/payment.limits@1 does not match the module's "
                        "schema: at /daily_limit_cny: 70000 is above the "
                        "maximum 50000; at /risk_check: \"lax\" is not one of "
                        "\"standard\", \"strict\""));
  r = PublishFile("config", "payment.limits", "1",
                  JoinPath(STRATA_TEST_SOURCE_DIR,
                           "samples/config/payment.limits.v1.json"));
  EXPECT_EQ(r.exit_code, 0) << r.out;

  // Keywords outside the subset are refused by name, before sending.
  r = Strata(
      "schema set --app wallet --module payment.limits --file " +
          WriteFile("bad.schema.json", R"({"type":"string","pattern":"^a"})"),
      true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("keyword 'pattern' is not supported"));
  r = Strata("schema clear --app wallet --module payment.limits", true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(Strata("schema show --app wallet --module payment.limits").out,
              HasSubstr("has no schema"));
  EXPECT_THAT(Audit(), HasSubstr("schema.clear"));
}

TEST_F(CliArtifactTest, VersionsAreImmutableAndTheLimitIsCheckedFirst) {
  Publish("config", "limits", "1", R"({"a":1})");
  CmdResult r = PublishFile("config", "limits", "1",
                            WriteFile("other.json", R"({"a":2})"));
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("config/limits@1 is already published with "
                               "other content"));
  EXPECT_THAT(r.out, HasSubstr("versions are immutable: publish this content "
                               "as a new --version"));
  EXPECT_THAT(r.out, Not(HasSubstr("idempotency")));
  // The same content again is a no-op.
  r = PublishFile("config", "limits", "1",
                  WriteFile("same.json", R"({"a":1})"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("already published"));

  // 513 MiB, sparse: refused from its size, before it is read or hashed.
  const std::string big = JoinPath(dir_.path(), "big.bin");
  ASSERT_EQ(::truncate(WriteFile("big.bin", "").c_str(), 0), 0);
  ASSERT_EQ(::truncate(big.c_str(), (513ll << 20)), 0);
  r = PublishFile("native", "scanner", "1", big);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("is 537919488 bytes (513.0 MiB); a publish is "
                               "at most 536870912 bytes (512 MiB)"));
  const std::string tree = Dir("huge");
  ASSERT_EQ(::rename(big.c_str(), JoinPath(tree, "blob.bin").c_str()), 0);
  r = PublishDir("huge", "1", tree);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("a publish is at most 536870912 bytes"));
}

TEST_F(CliArtifactTest, ListShowAndDiff) {
  const std::string v1 = Dir("v1");
  Dir("v1/js");
  WriteFile("v1/index.html", "<html>one</html>");
  WriteFile("v1/old.css", "body{}");
  WriteFile("v1/js/app.js", "console.log(1)");
  const std::string v2 = Dir("v2");
  Dir("v2/js");
  WriteFile("v2/index.html", "<html>two, longer</html>");
  WriteFile("v2/js/app.js", "console.log(1)");
  WriteFile("v2/js/new.js", "new()");
  ASSERT_EQ(PublishDir("mall-home", "1", v1).exit_code, 0);
  ASSERT_EQ(PublishDir("mall-home", "2", v2).exit_code, 0);
  Publish("config", "limits", "1", R"({"daily": 5000, "gone": "x"})");
  Publish("config", "limits", "2", R"({"daily": 8000, "new": true})");
  Publish("hcf", "cart", "1", "cart bytes v1");
  Publish("hcf", "cart", "2", "cart bytes v2!");
  ASSERT_EQ(Strata("release create --app wallet --artifact h5/mall-home@1 "
                   "--all-at-once")
                .exit_code,
            0);

  CmdResult r = Strata("artifact list --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("ARTIFACT"));
  EXPECT_THAT(r.out, HasSubstr("RELEASES"));
  EXPECT_THAT(r.out, HasSubstr("h5/mall-home@1"));
  EXPECT_THAT(r.out, HasSubstr("#1 completed"));
  EXPECT_THAT(r.out, HasSubstr("config/limits@2"));
  r = Strata("artifact list --app wallet --layer config");
  EXPECT_THAT(r.out, Not(HasSubstr("mall-home")));
  r = Strata("--output json artifact list --app wallet --module cart");
  ExpectJsonLines(r.out, "artifact list");
  EXPECT_THAT(r.out, HasSubstr("\"published_by\":\"admin\""));

  r = Strata("artifact show h5/mall-home@1 --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("#1 completed, segment everyone"));
  EXPECT_THAT(r.out, HasSubstr("published"));
  EXPECT_EQ(Strata("artifact show h5/mall-home@9 --app wallet").exit_code, 3);
  EXPECT_EQ(Strata("artifact show mall-home --app wallet").exit_code, 2);

  r = Strata("artifact diff h5/mall-home@1 @2 --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("h5/mall-home@1 -> h5/mall-home@2: 1 added, 1 "
                               "removed, 1 changed, 1 unchanged"));
  EXPECT_THAT(r.out, HasSubstr("+ js/new.js  5 B"));
  EXPECT_THAT(r.out, HasSubstr("- old.css  6 B"));
  EXPECT_THAT(r.out, HasSubstr("~ index.html  16 B -> 24 B"));
  r = Strata("artifact diff config/limits@1 config/limits@2 --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("1 added, 1 removed, 1 changed"));
  EXPECT_THAT(r.out, HasSubstr("~ /daily: 5000 -> 8000"));
  EXPECT_THAT(r.out, HasSubstr("+ /new: true"));
  EXPECT_THAT(r.out, HasSubstr("- /gone: \"x\""));
  r = Strata("--output json artifact diff hcf/cart@1 2 --app wallet");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto json = Json::Parse(r.out.substr(0, r.out.find('\n')));
  ASSERT_TRUE(json.ok()) << r.out;
  EXPECT_EQ(json->Find("kind")->as_string(), "bytes");
  EXPECT_EQ(json->Find("first_difference")->as_int(), 12);
  EXPECT_EQ(json->Find("to_size")->as_int(), 14);
}

TEST_F(CliArtifactTest, YankStopsOffersHaltsReleasesAndDeletesTheContent) {
  const std::string v1 = Dir("v1");
  WriteFile("v1/index.html", "<html>one</html>");
  const std::string v2 = Dir("v2");
  WriteFile("v2/index.html", "<html>two</html>");
  WriteFile("v2/secret.txt", "API_KEY=oops");
  ASSERT_EQ(PublishDir("mall-home", "1", v1).exit_code, 0);
  ASSERT_EQ(PublishDir("mall-home", "2", v2).exit_code, 0);
  for (const char* v : {"1", "2"}) {
    ASSERT_EQ(Strata(StrCat("release create --app wallet --artifact "
                            "h5/mall-home@",
                            v, " --all-at-once"))
                  .exit_code,
              0);
  }
  ASSERT_EQ(OfferedVersion("d1", "mall-home"), "2");

  CmdResult r = Strata("artifact yank h5/mall-home@2 --app wallet", true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("give --reason"));
  r = Strata(
      "artifact yank h5/mall-home@2 --app wallet --reason 'ships a "
      "key'",
      true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("yanked h5/mall-home@2: no device is offered "
                               "it any more"));
  EXPECT_THAT(r.out, HasSubstr("halted: release 2"));
  EXPECT_THAT(r.out, HasSubstr("content kept: release 2 (halted)"));
  // Devices are no longer offered it; a fresh one gets version 1.
  EXPECT_EQ(OfferedVersion("d2", "mall-home"), "1");
  r = Strata("artifact show h5/mall-home@2 --app wallet");
  EXPECT_THAT(r.out, HasSubstr("by admin: ships a key"));
  EXPECT_THAT(r.out, HasSubstr("#2 halted"));
  EXPECT_THAT(Strata("artifact list --app wallet").out, HasSubstr("yanked"));
  EXPECT_THAT(Strata("release list --app wallet").out, HasSubstr("halted"));

  // Immutable: not published, released or resumed again.
  r = PublishDir("mall-home", "2", v2);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("was yanked"));
  EXPECT_THAT(r.out, HasSubstr("versions are immutable"));
  r = Strata(
      "release create --app wallet --artifact h5/mall-home@2 "
      "--all-at-once",
      true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("was yanked by admin (ships a key)"));
  r = Strata("release resume 2 --app wallet", true);
  EXPECT_EQ(r.exit_code, 4) << r.out;

  // The content is still served to the devices that run it...
  const std::string sha =
      Sha256::HexHash(Content(v1::LAYER_H5, "mall-home", "2"));
  // ...until the release is rolled back: then nothing references it.
  r = Strata("release rollback 2 --app wallet --yes", true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Strata("--output json artifact show h5/mall-home@2 --app wallet");
  EXPECT_THAT(r.out, HasSubstr("\"content_deleted\":true"));
  auto gone = Client().Download(sha, 1);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  r = Strata("artifact diff h5/mall-home@1 @2 --app wallet", true);
  EXPECT_EQ(r.exit_code, 4) << r.out;
  EXPECT_THAT(r.out, HasSubstr("was deleted after its yank"));
  const std::string audit = Audit();
  EXPECT_THAT(audit, HasSubstr("artifact.yank"));
  EXPECT_THAT(audit, HasSubstr("artifact.content_deleted"));
  // Yanking it again changes nothing.
  r = Strata("artifact yank h5/mall-home@2 --app wallet --reason again");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("was already yanked"));
}

}  // namespace
}  // namespace strata
