// Trees end to end against a real stratad (in this process, on loopback):
// a directory packed as `strata publish --dir` packs it is published and
// released as H5 "mall", installed and unpacked by the SDK, and its pages
// resolved from the URL prefixes it declares; version 2 then arrives as
// a delta stratad computed on publish (a tree patch applied to the active
// tree, or a byte patch of the archive) and lands in a new directory
// sharing the unchanged files.
#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server_fixture.h"
#include "strata/admin_cli/tree_archive.h"
#include "strata/base/http_get.h"
#include "strata/base/status_macros.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/client/c_api.h"
#include "strata/client/client.h"
#include "strata/diff/delta.h"
#include "strata/diff/tree_delta.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::testing::HasSubstr;

class TreeServerTest : public testing::SdkServerTest {
 protected:
  std::unique_ptr<client::Client> Device(const std::string& id = "phone-1") {
    client::ClientOptions o;
    o.server_address = server_.address();
    o.app_id = "wallet";
    o.device.device_id = id;
    o.storage_dir = JoinPath(dir_.path(), id);
    o.insecure_skip_signature_verification_for_tests = true;  // unsigned app
    o.insecure_plaintext_to_loopback_for_tests = true;
    absl::StatusOr<std::unique_ptr<client::Client>> c =
        client::Client::Create(o);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  }
  std::string Pack(const std::string& name,
                   const std::map<std::string, std::string>& files) {
    return PackTree(name, files);
  }
  static std::string Read(const std::string& path) {
    return PosixFileSystem()->ReadFile(path).value_or("<missing>");
  }
};

const std::string kPackage =
    R"({"url_prefixes": ["https://mall.example.com/"]})";

TEST_F(TreeServerTest, PublishedTreeIsUnpackedServedAndUpdatedByDelta) {
  const std::string v1 =
      Pack("mall-v1", {{"strata-package.json", kPackage},
                       {"index.html", "<h1>mall v1</h1>"},
                       {"cart/index.html", "<h1>cart</h1>"},
                       {"static/app.js", std::string(20000, 'j')}});
  ASSERT_NE(Release(v1::LAYER_H5, "mall", "1", v1), 0u);
  auto device = Device();
  ASSERT_NE(device, nullptr);
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r1, device->Check());
  ASSERT_TRUE(r1.failures.empty()) << r1.failures.front();
  ASSERT_EQ(r1.staged.size(), 1u);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string dir1,
                              device->OpenModule(client::Layer::kH5, "mall"));
  EXPECT_EQ(Read(JoinPath(dir1, "index.html")), "<h1>mall v1</h1>");
  STRATA_ASSERT_OK_AND_ASSIGN(
      client::Client::UrlResolution cart,
      device->ResolveUrl("https://mall.example.com/cart/?from=home"));
  EXPECT_TRUE(cart.offline) << cart.fallback_reason;
  EXPECT_EQ(cart.path, JoinPath(dir1, "cart/index.html"));
  STRATA_ASSERT_OK_AND_ASSIGN(client::Client::UrlResolution away,
                              device->ResolveUrl("https://pay.example.com/"));
  EXPECT_FALSE(away.offline);
  EXPECT_THAT(device->ResolveUrl("https://mall.example.com/%2e%2e/state"),
              ::strata::testing::StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(device->BeginLaunch(), IsOk());
  ASSERT_THAT(device->MarkLaunchHealthy(), IsOk());

  // Version 2: stratad computes the delta from version 1 on publish; wait
  // for that state (a hang guard, not a timing assumption).
  const uint64_t computed = Metric("strata_deltas_computed_total");
  const std::string v2 =
      Pack("mall-v2", {{"strata-package.json", kPackage},
                       {"index.html", "<h1>mall v2</h1>"},
                       {"cart/index.html", "<h1>cart</h1>"},
                       {"static/app.js", std::string(20000, 'j')},
                       {"static/new.css", "body{}"}});
  Publish(v1::LAYER_H5, "mall", "2", v2);
  ASSERT_NO_FATAL_FAILURE(WaitForDeltasPast(computed));
  ASSERT_NE(CreateRelease(v1::LAYER_H5, "mall", "2"), 0u);
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r2, device->Check());
  ASSERT_TRUE(r2.failures.empty()) << r2.failures.front();
  EXPECT_EQ(r2.via_delta, 1u);
  EXPECT_LT(r2.bytes_downloaded, v2.size() / 4);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string dir2,
                              device->OpenModule(client::Layer::kH5, "mall"));
  EXPECT_NE(dir2, dir1);
  EXPECT_EQ(Read(JoinPath(dir2, "index.html")), "<h1>mall v2</h1>");
  EXPECT_EQ(Read(JoinPath(dir2, "static/new.css")), "body{}");
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(JoinPath(dir1, "static/app.js").c_str(), &a), 0);
  ASSERT_EQ(::stat(JoinPath(dir2, "static/app.js").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "the unchanged file is not shared";
  STRATA_ASSERT_OK_AND_ASSIGN(
      client::Client::UrlResolution page,
      device->ResolveUrl("https://mall.example.com/index.html"));
  EXPECT_EQ(page.path, JoinPath(dir2, "index.html"));
  EXPECT_EQ(page.version, "2");
  // The healthy launch confirms v2; v1's tree goes.
  ASSERT_THAT(device->BeginLaunch(), IsOk());
  ASSERT_THAT(device->MarkLaunchHealthy(), IsOk());
  EXPECT_FALSE(PosixFileSystem()->Exists(dir1));
  EXPECT_EQ(Read(JoinPath(dir2, "static/app.js")), std::string(20000, 'j'));

  // The same storage through the C API (after the C++ client is gone).
  device.reset();
  const std::string address = server_.address();
  const std::string storage = JoinPath(dir_.path(), "phone-1");
  strata_client_options o{};
  o.server_address = address.c_str();
  o.insecure_plaintext_to_loopback_for_tests = 1;
  o.insecure_skip_signature_verification_for_tests = 1;  // unsigned app
  o.app_id = "wallet";
  o.device_id = "phone-1";
  o.storage_dir = storage.c_str();
  strata_client* c = strata_client_create(&o);
  ASSERT_NE(c, nullptr) << strata_last_error();
  char* path = nullptr;
  ASSERT_EQ(strata_client_module_dir(c, "h5", "mall", &path), 0)
      << strata_last_error();
  EXPECT_EQ(std::string(path), dir2);
  strata_free(path);
  ASSERT_EQ(
      strata_client_resolve_url(c, "https://mall.example.com/cart/", &path), 0)
      << strata_last_error();
  ASSERT_NE(path, nullptr);
  EXPECT_EQ(std::string(path), JoinPath(dir2, "cart/index.html"));
  strata_free(path);
  ASSERT_EQ(strata_client_resolve_url(c, "https://pay.example.com/", &path), 0);
  EXPECT_EQ(path, nullptr);  // from the network
  EXPECT_EQ(
      strata_client_resolve_url(c, "https://mall.example.com/..%2fx", &path),
      static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(strata_last_error(), HasSubstr("refused"));
  strata_client_destroy(c);
}

// A package of many files (as H5 packages are); version 2 moves half of
// them to another directory (a bundler's new output path), edits one and
// adds one.
std::map<std::string, std::string> ManyFiles(int version) {
  std::map<std::string, std::string> files = {
      {"strata-package.json", kPackage}};
  for (int f = 0; f < 80; ++f) {
    std::string data(2000, '\0');
    strata::testing::FakeRandom random(static_cast<uint64_t>(f) + 1);
    random.Fill(data.data(), data.size());
    files[StrCat(version >= 2 && f % 2 == 0 ? "static/app/" : "static/js/",
                 "chunk-", f, ".js")] = data;
  }
  files["index.html"] = StrCat("<h1>mall v", version, "</h1>");
  if (version >= 2) {
    files["static/js/chunk-9.js"].replace(300, 6, "v2v2v2");
    files["static/css/extra.css"] = "body { margin: 0 }\n";
  }
  return files;
}

// Version 2 arrives as a tree patch: stratad made it on publish (both
// archives canonical) and offers it first; the SDK builds the new tree
// from the active one (unchanged files hard-linked), re-packs it and
// checks the signed archive hash, and downloads only the tree patch. A
// device whose active tree was changed behind the SDK's back fails the
// tree patch (wrong base) and falls back to the byte patch.
TEST_F(TreeServerTest, UpdateByTreePatchIntoANewDirectory) {
  const std::string v1 = Pack("many-v1", ManyFiles(1));
  const std::string v2 = Pack("many-v2", ManyFiles(2));
  // What stratad makes (same engine, same options): the tree patch is the
  // smaller on this pair, so it is the one stored and offered.
  diff::DiffOptions byte_options;
  byte_options.output_check = diff::OutputCheck::kByCaller;
  byte_options.threads = 1;
  STRATA_ASSERT_OK_AND_ASSIGN(std::string byte_patch,
                              diff::CreatePatch(v1, v2, byte_options));
  diff::TreeDiffOptions tree_options;
  tree_options.delta.threads = 1;
  tree_options.form = diff::TreePatchForm::kPerFile;  // as stratad does
  STRATA_ASSERT_OK_AND_ASSIGN(
      std::string tree_patch,
      diff::CreateTreePatchFromArchives(v1, v2, tree_options));
  ASSERT_LT(tree_patch.size(), byte_patch.size());

  ASSERT_NE(Release(v1::LAYER_H5, "mall", "1", v1), 0u);
  auto device = Device();
  ASSERT_NE(device, nullptr);
  auto other = Device("phone-2");
  ASSERT_NE(other, nullptr);
  std::string dir1, other_dir1;
  for (auto* d : {device.get(), other.get()}) {
    STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r, d->Check());
    ASSERT_TRUE(r.failures.empty()) << r.failures.front();
    STRATA_ASSERT_OK_AND_ASSIGN(std::string dir,
                                d->OpenModule(client::Layer::kH5, "mall"));
    (d == device.get() ? dir1 : other_dir1) = dir;
    ASSERT_THAT(d->BeginLaunch(), IsOk());
    ASSERT_THAT(d->MarkLaunchHealthy(), IsOk());
  }

  const uint64_t computed = Metric("strata_deltas_computed_total");
  const uint64_t trees = Metric("strata_tree_deltas_computed_total");
  Publish(v1::LAYER_H5, "mall", "2", v2);
  ASSERT_NO_FATAL_FAILURE(WaitForDeltasPast(computed));
  EXPECT_EQ(Metric("strata_tree_deltas_computed_total"), trees + 1);
  ASSERT_NE(CreateRelease(v1::LAYER_H5, "mall", "2"), 0u);

  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult r2, device->Check());
  ASSERT_TRUE(r2.failures.empty()) << r2.failures.front();
  EXPECT_EQ(r2.via_tree_delta, 1u);
  EXPECT_EQ(r2.via_delta, 1u);
  EXPECT_EQ(r2.bytes_downloaded, tree_patch.size());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string dir2,
                              device->OpenModule(client::Layer::kH5, "mall"));
  EXPECT_NE(dir2, dir1);
  EXPECT_EQ(Read(JoinPath(dir2, "index.html")), "<h1>mall v2</h1>");
  EXPECT_EQ(Read(JoinPath(dir2, "static/js/chunk-9.js")),
            ManyFiles(2)["static/js/chunk-9.js"]);
  EXPECT_EQ(Read(JoinPath(dir2, "static/css/extra.css")),
            "body { margin: 0 }\n");
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(JoinPath(dir1, "static/js/chunk-3.js").c_str(), &a), 0);
  ASSERT_EQ(::stat(JoinPath(dir2, "static/js/chunk-3.js").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "the unchanged file is not shared";
  ASSERT_EQ(::stat(JoinPath(dir1, "static/js/chunk-4.js").c_str(), &a), 0);
  ASSERT_EQ(::stat(JoinPath(dir2, "static/app/chunk-4.js").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "the moved file is not shared";
  ASSERT_EQ(::stat(JoinPath(dir1, "static/js/chunk-9.js").c_str(), &a), 0);
  ASSERT_EQ(::stat(JoinPath(dir2, "static/js/chunk-9.js").c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino) << "a changed file must be a new file";
  // The archive the SDK re-packed is the signed one, byte for byte.
  EXPECT_THAT(device->VerifyInstalled(), IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(
      client::Client::UrlResolution page,
      device->ResolveUrl("https://mall.example.com/index.html"));
  EXPECT_EQ(page.path, JoinPath(dir2, "index.html"));
  EXPECT_EQ(page.version, "2");

  // The other device's v1 tree was changed behind the SDK's back: the tree
  // patch does not apply to it, the byte patch (from the archive) does.
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(),
                                  JoinPath(other_dir1, "index.html"), "hacked"),
              IsOk());
  STRATA_ASSERT_OK_AND_ASSIGN(client::CheckResult o2, other->Check());
  ASSERT_TRUE(o2.failures.empty()) << o2.failures.front();
  EXPECT_EQ(o2.via_tree_delta, 0u);
  EXPECT_EQ(o2.via_delta, 1u);
  EXPECT_EQ(o2.bytes_downloaded, tree_patch.size() + byte_patch.size());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string other_dir2,
                              other->OpenModule(client::Layer::kH5, "mall"));
  EXPECT_EQ(Read(JoinPath(other_dir2, "index.html")), "<h1>mall v2</h1>");
  // v1 stays the known good version until a healthy launch: its changed
  // file is still found.
  EXPECT_THAT(other->VerifyInstalled(),
              ::strata::testing::StatusIs(absl::StatusCode::kDataLoss,
                                          HasSubstr("file index.html")));
}

}  // namespace
}  // namespace strata
