// File trees on the device core (client_sdk/device_core/src/tree.cc): an
// archive `strata publish --dir` writes unpacks to the same files, a new
// version shares its unchanged files by hard link, hostile archives are
// refused before anything is written; and against a real stratad an H5
// tree installs, updates by patch into a new directory, and a crash
// between unpacking and committing leaves the old version serving.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "device_core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/device/c_api.h"
#include "url_map.h"

namespace strata {
namespace {

using ::strata::testing::DeviceCoreTest;
using ::strata::testing::IsOk;
using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  return PosixFileSystem()->ReadFile(path).value_or("<missing>");
}
bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}
ino_t Inode(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// One ustar entry as a hostile publisher could write it: a header with a
// correct checksum (unless `bad_sum`), the data, padding.
std::string TarEntry(const std::string& name, char type,
                     const std::string& data = "", const std::string& link = "",
                     bool bad_sum = false) {
  std::string h(512, '\0');
  auto put = [&h](size_t at, const std::string& v) {
    for (size_t i = 0; i < v.size(); ++i) h[at + i] = v[i];
  };
  put(0, name.substr(0, 100));
  put(100, "0000644");
  put(108, "0000000");
  put(116, "0000000");
  char field[16];
  std::snprintf(field, sizeof(field), "%011llo",
                static_cast<unsigned long long>(data.size()));
  put(124, field);
  put(136, "00000000000");
  h[156] = type;
  put(157, link.substr(0, 100));
  put(257, std::string("ustar\0", 6));
  put(263, "00");
  put(148, "        ");
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  if (bad_sum) ++sum;
  std::snprintf(field, sizeof(field), "%06o", sum);
  put(148, std::string(field, 7));  // six digits and a NUL; then the space
  std::string padded = data;
  padded.resize((data.size() + 511) / 512 * 512, '\0');
  return h + padded;
}
const std::string kEnd(1024, '\0');

class DeviceTreeUnitTest : public ::testing::Test {
 protected:
  // `files` written under <tmp>/<name>, packed as `strata publish --dir`.
  std::string Pack(const std::string& name,
                   const std::map<std::string, std::string>& files) {
    const std::string root = JoinPath(dir_.path(), name);
    for (const auto& [path, content] : files) {
      const std::string full = JoinPath(root, path);
      EXPECT_THAT(
          CreateDirs(*PosixFileSystem(), full.substr(0, full.rfind('/'))),
          IsOk());
      EXPECT_THAT(WriteFileAtomically(*PosixFileSystem(), full, content),
                  IsOk());
    }
    absl::StatusOr<std::string> archive =
        admin::ArchiveTree(*PosixFileSystem(), root);
    EXPECT_THAT(archive, IsOk());
    return archive.value_or("");
  }
  std::string Dir(const std::string& name) {
    return JoinPath(dir_.path(), name);
  }
  testing::TempDir dir_;
};

TEST_F(DeviceTreeUnitTest, UnpacksWhatPublishWritesAndSharesUnchangedFiles) {
  const std::string v1 =
      Pack("src1", {{"index.html", "<h1>v1</h1>"},
                    {"cart/index.html", "<h1>cart</h1>"},
                    {"static/app.js", std::string(9000, 'j')}});
  ASSERT_TRUE(device::LooksLikeTreeArchive(v1));
  EXPECT_FALSE(device::LooksLikeTreeArchive("{\"a\":1}"));
  uint64_t linked = 7;
  device::Error e = device::UnpackTree(v1, Dir("t1"), "", &linked);
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(linked, 0u);
  EXPECT_EQ(Read(Dir("t1/index.html")), "<h1>v1</h1>");
  EXPECT_EQ(Read(Dir("t1/cart/index.html")), "<h1>cart</h1>");
  EXPECT_EQ(Read(Dir("t1/static/app.js")), std::string(9000, 'j'));

  const std::string v2 =
      Pack("src2", {{"index.html", "<h1>v2</h1>"},
                    {"cart/index.html", "<h1>cart</h1>"},
                    {"static/app.js", std::string(9000, 'j')},
                    {"static/new.css", "body{}"}});
  e = device::UnpackTree(v2, Dir("t2"), Dir("t1"), &linked);
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(linked, 2u);  // cart/index.html and static/app.js
  EXPECT_EQ(Inode(Dir("t2/static/app.js")), Inode(Dir("t1/static/app.js")));
  EXPECT_NE(Inode(Dir("t2/index.html")), Inode(Dir("t1/index.html")));
  EXPECT_EQ(Read(Dir("t2/index.html")), "<h1>v2</h1>");
  EXPECT_EQ(Read(Dir("t2/static/new.css")), "body{}");
  EXPECT_EQ(Read(Dir("t1/index.html")), "<h1>v1</h1>");  // untouched

  // A leftover at the target (a crash mid-unpack) is replaced.
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(), Dir("t3"), "junk"),
              IsOk());
  e = device::UnpackTree(v2, Dir("t3"), "", nullptr);
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(Read(Dir("t3/static/new.css")), "body{}");
}

TEST_F(DeviceTreeUnitTest, SymlinksInsideTheTreeAreKept) {
  const std::string archive = TarEntry("docs/", '5') +
                              TarEntry("docs/a.html", '0', "A") +
                              TarEntry("latest", '2', "", "docs/a.html") +
                              TarEntry("docs/up", '2', "", "../latest") + kEnd;
  device::Error e = device::UnpackTree(archive, Dir("t"), "", nullptr);
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(Read(Dir("t/latest")), "A");
  EXPECT_EQ(Read(Dir("t/docs/up")), "A");
}

TEST_F(DeviceTreeUnitTest, RefusesHostileArchivesBeforeWritingAnything) {
  const std::string ok = TarEntry("a.html", '0', "fine");
  const struct {
    std::string name, archive, says;
  } cases[] = {
      {"parent", ok + TarEntry("../evil", '0', "x") + kEnd, "\"..\""},
      {"inner parent", ok + TarEntry("a/../../evil", '0', "x") + kEnd,
       "\"..\""},
      {"absolute", TarEntry("/tmp/evil", '0', "x") + kEnd, "absolute"},
      {"backslash", TarEntry("a\\..\\evil", '0', "x") + kEnd, "backslash"},
      {"escaping symlink", TarEntry("l", '2', "", "../../etc") + kEnd,
       "climbs above"},
      {"absolute symlink", TarEntry("l", '2', "", "/etc/passwd") + kEnd,
       "absolute"},
      {"hard link", ok + TarEntry("h", '1', "", "a.html") + kEnd,
       "entry type '1'"},
      {"device", TarEntry("dev", '3') + kEnd, "entry type '3'"},
      {"pax header", TarEntry("pax", 'x', "30 path=../../evil\n") + kEnd,
       "entry type 'x'"},
      {"twice", ok + ok + kEnd, "twice"},
      {"below a file", ok + TarEntry("a.html/x", '0', "x") + kEnd,
       "which is a file or a symlink"},
      {"below a symlink",
       TarEntry("d/", '5') + TarEntry("l", '2', "", "d") +
           TarEntry("l/x", '0', "x") + kEnd,
       "which is a file or a symlink"},
      {"bad checksum", TarEntry("a", '0', "x", "", true) + kEnd, "checksum"},
      {"cut short", ok.substr(0, 600), "runs past the archive"},
      {"cut header", ok + std::string(ok, 0, 100), "cut short"},
      {"after the end", ok + kEnd + ok, "after the end-of-archive"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = Dir("t-" + std::to_string(&c - cases));
    device::Error e = device::UnpackTree(c.archive, dir, "", nullptr);
    EXPECT_EQ(e.code, 3) << e.message;
    EXPECT_THAT(e.message, HasSubstr(c.says));
    EXPECT_FALSE(Exists(dir));
  }
  EXPECT_FALSE(Exists("/tmp/evil"));
}

// A C host's HTTP function for a handle that never goes online.
int NoNetwork(void*, const char*, const char*, const char* const*,
              const char* const*, size_t, const void*, size_t,
              strata_device_http_answer*, char* error, size_t error_size) {
  std::snprintf(error, error_size, "offline");
  return 14;
}

const std::string kPackage =
    R"({"name": "mall", "url_prefixes": ["https://mall.example.com/"]})";

class DeviceTreeTest : public DeviceCoreTest {
 protected:
  std::string TreeOf(const std::string& storage, const std::string& sha) {
    return JoinPath(storage, "trees/" + sha);
  }
};

TEST_F(DeviceTreeTest, InstallsUpdatesByPatchAndKeepsServingThroughACrash) {
  const std::string v1 =
      PackTree("mall-v1", {{"strata-package.json", kPackage},
                           {"index.html", "<h1>mall v1</h1>"},
                           {"cart/index.html", "<h1>cart</h1>"},
                           {"static/app.js", std::string(20000, 'j')}});
  ASSERT_NE(Release(v1::LAYER_H5, "mall", "1", v1), 0u);
  device::DeviceCoreOptions o = Options();
  o.insecure_skip_signature_verification_for_tests = true;  // unsigned here
  std::unique_ptr<device::DeviceCore> core;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  device::CheckOutcome outcome;
  device::Error e = core->Check(&outcome);
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_EQ(outcome.installed.size(), 1u)
      << ::testing::PrintToString(outcome.failures);
  const std::string dir1 = outcome.installed[0].tree_dir;
  ASSERT_NE(dir1, "");
  EXPECT_EQ(Read(JoinPath(dir1, "index.html")), "<h1>mall v1</h1>");
  EXPECT_EQ(Read(JoinPath(dir1, "cart/index.html")), "<h1>cart</h1>");
  EXPECT_EQ(core->Installed()[0].tree_dir, dir1);
  // Pages under the declared prefix come from the tree.
  device::UrlResolution page;
  ASSERT_TRUE(
      core->ResolveUrl("https://MALL.example.com/cart/?from=home", &page).ok());
  EXPECT_TRUE(page.offline) << page.fallback_reason;
  EXPECT_EQ(page.path, JoinPath(dir1, "cart/index.html"));
  EXPECT_EQ(page.module, "mall");
  EXPECT_EQ(page.version, "1");
  ASSERT_TRUE(core->ResolveUrl("https://mall.example.com/", &page).ok());
  EXPECT_EQ(page.path, JoinPath(dir1, "index.html"));
  ASSERT_TRUE(
      core->ResolveUrl("https://mall.example.com/static/new.css", &page).ok());
  EXPECT_FALSE(page.offline);
  EXPECT_THAT(page.fallback_reason, HasSubstr("has no file static/new.css"));
  ASSERT_TRUE(core->ResolveUrl("https://pay.example.com/", &page).ok());
  EXPECT_FALSE(page.offline);
  EXPECT_THAT(page.fallback_reason, HasSubstr("no installed H5/HCF tree"));
  for (const char* hostile :
       {"https://mall.example.com/%2e%2e/state.pb",
        "https://mall.example.com/cart/..%2f..%2fstate.pb",
        "https://mall.example.com/a\\b", "https://mall.example.com//etc"}) {
    EXPECT_EQ(core->ResolveUrl(hostile, &page).code, 3) << hostile;
    EXPECT_FALSE(page.offline);
  }

  // Version 2 comes as a patch of the archive; its tree is a new
  // directory sharing the unchanged files.
  const std::string v2 =
      PackTree("mall-v2", {{"strata-package.json", kPackage},
                           {"index.html", "<h1>mall v2</h1>"},
                           {"cart/index.html", "<h1>cart</h1>"},
                           {"static/app.js", std::string(20000, 'j')},
                           {"static/new.css", "body{}"}});
  const uint64_t computed = Metric("strata_deltas_computed_total");
  Publish(v1::LAYER_H5, "mall", "2", v2);
  ASSERT_NO_FATAL_FAILURE(WaitForDeltasPast(computed));

  // First a crash between unpacking version 2 and committing it: its
  // content file, its whole tree and the tree's marker are on disk, the
  // state still names version 1. Reopened, version 1 serves and the
  // leftovers are gone.
  const std::string storage = o.storage_dir;
  const std::string sha2 = Sha256::HexHash(v2);
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(),
                                  JoinPath(storage, "blobs/" + sha2), v2),
              IsOk());
  e = device::UnpackTree(v2, TreeOf(storage, sha2), dir1, nullptr);
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(),
                                  TreeOf(storage, sha2) + ".ok", ""),
              IsOk());
  // And a tree cut short by a crash (no marker), and a temp file.
  ASSERT_THAT(CreateDirs(*PosixFileSystem(), TreeOf(storage, "partial/x")),
              IsOk());
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(),
                                  JoinPath(storage, "state.pb.tmp"), "x"),
              IsOk());
  core.reset();
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  ASSERT_EQ(core->Installed().size(), 1u);
  EXPECT_EQ(core->Installed()[0].version, "1");
  EXPECT_EQ(core->Installed()[0].tree_dir, dir1);
  EXPECT_EQ(Read(JoinPath(dir1, "index.html")), "<h1>mall v1</h1>");
  EXPECT_FALSE(Exists(TreeOf(storage, sha2)));
  EXPECT_FALSE(Exists(TreeOf(storage, sha2) + ".ok"));
  EXPECT_FALSE(Exists(JoinPath(storage, "blobs/" + sha2)));
  EXPECT_FALSE(Exists(TreeOf(storage, "partial")));
  EXPECT_FALSE(Exists(JoinPath(storage, "state.pb.tmp")));

  ASSERT_NE(CreateRelease(v1::LAYER_H5, "mall", "2"), 0u);
  e = core->Check(&outcome);
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_EQ(outcome.installed.size(), 1u)
      << ::testing::PrintToString(outcome.failures);
  ASSERT_EQ(outcome.traffic.size(), 1u);
  EXPECT_TRUE(outcome.traffic[0].by_patch) << outcome.traffic[0].patch_error;
  EXPECT_LT(outcome.traffic[0].bytes, v2.size() / 4);
  // cart/index.html, static/app.js, strata-package.json
  EXPECT_EQ(outcome.traffic[0].tree_files_linked, 3u);
  const std::string dir2 = outcome.installed[0].tree_dir;
  ASSERT_NE(dir2, "");
  EXPECT_NE(dir2, dir1);
  EXPECT_EQ(Read(JoinPath(dir2, "index.html")), "<h1>mall v2</h1>");
  EXPECT_EQ(Read(JoinPath(dir2, "static/new.css")), "body{}");
  EXPECT_EQ(Inode(JoinPath(dir2, "static/app.js")),
            Inode(JoinPath(dir1, "static/app.js")));
  // The app may still read version 1 until the next Open.
  EXPECT_EQ(Read(JoinPath(dir1, "index.html")), "<h1>mall v1</h1>");
  // New pages come from version 2.
  ASSERT_TRUE(
      core->ResolveUrl("https://mall.example.com/static/new.css", &page).ok());
  EXPECT_TRUE(page.offline) << page.fallback_reason;
  EXPECT_EQ(page.path, JoinPath(dir2, "static/new.css"));
  EXPECT_EQ(page.version, "2");

  // Storage cleared of the tree: the next Open unpacks it again from the
  // content file, and collects version 1.
  ASSERT_THAT(DeleteRecursively(*PosixFileSystem(), dir2), IsOk());
  core.reset();
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  EXPECT_EQ(core->Installed()[0].tree_dir, dir2);
  EXPECT_EQ(Read(JoinPath(dir2, "index.html")), "<h1>mall v2</h1>");
  EXPECT_FALSE(Exists(dir1));
  EXPECT_FALSE(Exists(JoinPath(storage, "blobs/" + Sha256::HexHash(v1))));

  // A C host finds the same directory.
  core.reset();
  strata_device_options c = {};
  c.server_url = o.server_url.c_str();
  c.app_id = "wallet";
  c.device_id = "phone-core";
  c.storage_dir = storage.c_str();
  c.insecure_skip_signature_verification_for_tests = 1;
  c.http_send = &NoNetwork;
  strata_device* d = strata_device_open(&c);
  ASSERT_NE(d, nullptr) << strata_device_last_error();
  char* path = nullptr;
  ASSERT_EQ(strata_device_tree_dir(d, v1::LAYER_H5, "mall", &path), 0);
  ASSERT_NE(path, nullptr);
  EXPECT_EQ(std::string(path), dir2);
  std::free(path);
  ASSERT_EQ(strata_device_tree_dir(d, v1::LAYER_H5, "other", &path), 0);
  EXPECT_EQ(path, nullptr);
  char* reason = nullptr;
  ASSERT_EQ(strata_device_resolve_url(d, "https://mall.example.com/cart/",
                                      &path, &reason),
            0);
  ASSERT_NE(path, nullptr);
  EXPECT_EQ(std::string(path), JoinPath(dir2, "cart/index.html"));
  EXPECT_EQ(reason, nullptr);
  std::free(path);
  ASSERT_EQ(
      strata_device_resolve_url(d, "https://pay.example.com/", &path, &reason),
      0);
  EXPECT_EQ(path, nullptr);
  ASSERT_NE(reason, nullptr);
  EXPECT_THAT(reason, HasSubstr("load it from the network"));
  std::free(reason);
  EXPECT_EQ(strata_device_resolve_url(d, "https://mall.example.com/%2e%2e/x",
                                      &path, nullptr),
            3);
  strata_device_close(d);
}

// The device core's own small JSON reader agrees with the full SDK's
// (strata::Json) on what a strata-package.json declares, and refuses what
// it refuses.
TEST(DevicePackageJsonTest, ReadsPrefixesAsTheFullSdkDoes) {
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::string docs[] = {
      R"({"url_prefixes": ["https://mall.example.com/"]})",
      R"({"url_prefixes": ["https://a.example.com/x/", "http://b:8080/"]})",
      R"(  {"name": "m", "v": [1, -2.5e3, true, null, {"k": "\u00e9"}],
            "url_prefixes": ["https:\/\/c.example.com\/\u0061/"]}  )",
      R"({})",
      R"({"other": {"url_prefixes": 3}})",
      R"({"url_prefixes": []})",
      R"({"url_prefixes": "https://a.example.com/"})",
      R"({"url_prefixes": [1]})",
      R"({"url_prefixes": ["https://a.example.com"]})",
      R"({"url_prefixes": ["ftp://a.example.com/"]})",
      R"({"url_prefixes": ["https://a.example.com/?q/"]})",
      R"({"url_prefixes": ["https://a.example.com/"]} x)",
      R"({"url_prefixes": ["https://a.example.com/"],})",
      R"(["https://a.example.com/"])",
      R"({"a": 01})",
      R"({"a": "\ud800"})",
      "{\"a\": \"tab\tinside\"}",
      "{\"a\": " + deep + "}",
      "{\"a\": " + std::string(70, '[') + std::string(70, ']') + "}",
      "{\"a\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
      "{\"a\": \"\xff\"}",
      "{\"a\": \"\xc0\xaf\"}",
      "{\"a\": \"\xed\xa0\x80\"}",
      "{\"a\": \"\xe2\x82\"}",
      R"({"url_prefixes": [], "url_prefixes": ["https://a.example.com/"]})",
      R"({"a": {"k": 1, "k": 2}, "url_prefixes": []})",
      "",
  };
  for (const std::string& doc : docs) {
    SCOPED_TRACE(doc);
    std::vector<std::string> device_prefixes;
    const device::Error e = device::ParseUrlPrefixes(doc, &device_prefixes);
    absl::StatusOr<std::vector<std::string>> sdk =
        client::ParseUrlPrefixes(doc);
    EXPECT_EQ(e.ok(), sdk.ok()) << e.message << " / " << sdk.status();
    if (e.ok() && sdk.ok()) {
      EXPECT_EQ(device_prefixes, *sdk);
    }
    if (!e.ok()) {
      EXPECT_EQ(e.code, 3);
      EXPECT_THAT(e.message, HasSubstr("strata-package.json"));
    }
  }
  std::vector<std::string> p;
  ASSERT_TRUE(device::ParseUrlPrefixes(docs[2], &p).ok());
  EXPECT_EQ(p, std::vector<std::string>{"https://c.example.com/a/"});
}

// A tree that breaks the path rules is refused and reported, and nothing
// of it stays. stratad refuses such an archive at publish, so this is the
// device's own defence against a server that serves one anyway: the
// host's HTTP stack here is scripted (the seam is ours), answering the
// check with the hostile tree inline and taking the report.
TEST_F(DeviceTreeUnitTest, AHostileTreeFromAServerIsRefusedAndReported) {
  const std::string evil = TarEntry("index.html", '0', "<h1>hi</h1>") +
                           TarEntry("../../escape.sh", '0', "rm -rf") + kEnd;
  v1::CheckResponse check;
  v1::UpdateEntry* u = check.mutable_plan()->add_updates();
  u->mutable_module()->set_layer(v1::LAYER_H5);
  u->mutable_module()->set_name("mall");
  u->set_release_id(7);
  u->set_release_sequence(1);
  v1::ArtifactStatement* st = u->mutable_statement();
  st->set_app_id("wallet");
  *st->mutable_module() = u->module();
  st->set_version("1");
  st->set_content_sha256(Sha256::HexHash(evil));
  st->set_size(evil.size());
  u->set_inline_content(evil);
  std::vector<v1::ReportEvent> reported;
  device::DeviceCoreOptions o;
  o.server_url = "https://updates.example.com";
  o.app_id = "wallet";
  o.device_id = "phone";
  o.storage_dir = Dir("storage");
  o.insecure_skip_signature_verification_for_tests = true;
  o.http = [&](const device::HttpExchange& x, device::HttpResult* r) {
    r->status = 200;
    if (x.url.ends_with("/v1/delivery/check")) {
      r->body = check.SerializeAsString();
    } else if (x.url.ends_with("/v1/delivery/report")) {
      v1::ReportRequest req;
      EXPECT_TRUE(req.ParseFromString(x.body));
      reported.insert(reported.end(), req.events().begin(), req.events().end());
      v1::ReportResponse resp;
      resp.set_accepted(req.events_size());
      r->body = resp.SerializeAsString();
    } else {
      r->status = 404;
    }
    return device::Error{};
  };
  std::unique_ptr<device::DeviceCore> core;
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  device::CheckOutcome outcome;
  ASSERT_TRUE(core->Check(&outcome).ok());
  EXPECT_TRUE(outcome.installed.empty());
  ASSERT_EQ(outcome.failures.size(), 1u);
  EXPECT_THAT(outcome.failures[0], HasSubstr("unpacking the tree of mall 1"));
  EXPECT_THAT(outcome.failures[0], HasSubstr("../../escape.sh"));
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].kind(), v1::ReportEvent::KIND_REJECTED);
  EXPECT_EQ(reported[0].reason(), v1::REJECT_APPLY_FAILED);
  EXPECT_TRUE(core->Installed().empty());
  EXPECT_FALSE(Exists(Dir("escape.sh")));
  EXPECT_FALSE(Exists(JoinPath(dir_.path(), "../escape.sh")));
  // Its content file is collected at the next Open; no tree was left.
  EXPECT_TRUE(std::filesystem::is_empty(o.storage_dir + "/trees"));
  core.reset();
  ASSERT_TRUE(device::DeviceCore::Open(o, &core).ok());
  EXPECT_TRUE(std::filesystem::is_empty(o.storage_dir + "/blobs"));
}

}  // namespace
}  // namespace strata
