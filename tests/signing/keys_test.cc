// Ed25519 keys: RFC 8032 vectors, PEM interop with the openssl CLI, TUF key
// ids, private key files readable by their owner only.
#include "strata/signing/keys.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/fault_injection_file_system.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::signing {
namespace {

using ::strata::testing::MemFileSystem;
using ::strata::testing::StatusIs;

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(
        std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

TEST(KeysTest, Rfc8032TestVector1) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      PrivateKey key,
      PrivateKey::FromSeed(Unhex(
          "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")));
  EXPECT_EQ(key.public_key().hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  STRATA_ASSERT_OK_AND_ASSIGN(std::string sig, key.Sign(""));
  EXPECT_EQ(ToHex(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(key.public_key().Verify("", sig));
  EXPECT_FALSE(key.public_key().Verify("x", sig));
  sig[0] ^= 1;
  EXPECT_FALSE(key.public_key().Verify("", sig));
  EXPECT_FALSE(key.public_key().Verify("", "short"));
}

TEST(KeysTest, GeneratedKeysSignAndDiffer) {
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey a, PrivateKey::Generate());
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey b, PrivateKey::Generate());
  EXPECT_NE(a.KeyId(), b.KeyId());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string sig, a.Sign("message"));
  EXPECT_TRUE(a.public_key().Verify("message", sig));
  EXPECT_FALSE(b.public_key().Verify("message", sig));
}

TEST(KeysTest, KeyIdIsSha256OfTheCanonicalTufKey) {
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey k,
                              PrivateKey::FromSeed(std::string(32, '\x07')));
  const std::string canonical =
      "{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"" +
      k.public_key().hex() + "\"},\"scheme\":\"ed25519\"}";
  EXPECT_EQ(k.public_key().ToTufJson().Canonical(), canonical);
  EXPECT_EQ(k.KeyId(), Sha256::HexHash(canonical));
  STRATA_ASSERT_OK_AND_ASSIGN(
      PublicKey back, PublicKey::FromTufJson(k.public_key().ToTufJson()));
  EXPECT_EQ(back, k.public_key());
}

TEST(KeysTest, TufKeyObjectsAreCheckedFieldByField) {
  Json key = Json::MakeObject();
  key["keytype"] = "rsa";
  EXPECT_THAT(PublicKey::FromTufJson(key, "root key abc"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("root key abc: field keytype")));
  key["keytype"] = "ed25519";
  key["scheme"] = "ed25519";
  key["keyval"]["public"] = "abcd";
  EXPECT_THAT(PublicKey::FromTufJson(key),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("keyval.public")));
}

TEST(KeysTest, PemRoundTrip) {
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey k, PrivateKey::Generate());
  const std::string pem = k.ToPem();
  EXPECT_THAT(pem, ::testing::StartsWith("-----BEGIN PRIVATE KEY-----"));
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey back, PrivateKey::FromPem(pem));
  EXPECT_EQ(back.public_key(), k.public_key());
  STRATA_ASSERT_OK_AND_ASSIGN(PublicKey pub,
                              PublicKey::FromPem(k.public_key().ToPem()));
  EXPECT_EQ(pub, k.public_key());
  EXPECT_FALSE(PrivateKey::FromPem("garbage").ok());
  EXPECT_FALSE(PublicKey::FromPem(pem).ok());
}

TEST(KeysTest, PrivateKeyFilesAre0600OnMemFileSystem) {
  MemFileSystem fs;
  STRATA_ASSERT_OK(fs.CreateDir("/keys"));
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey k, PrivateKey::Generate());
  STRATA_ASSERT_OK(SavePrivateKey(fs, "/keys/root.pem", k));
  STRATA_ASSERT_OK_AND_ASSIGN(FileInfo info, fs.Stat("/keys/root.pem"));
  EXPECT_EQ(info.mode & 0777, 0600u);
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey back,
                              LoadPrivateKey(fs, "/keys/root.pem"));
  EXPECT_EQ(back.KeyId(), k.KeyId());
  EXPECT_EQ(fs.AllFiles(), std::vector<std::string>{"/keys/root.pem"});
}

TEST(KeysTest, FailedKeySaveLeavesNothingBehind) {
  MemFileSystem mem;
  STRATA_ASSERT_OK(mem.CreateDir("/keys"));
  strata::testing::FaultInjectionFileSystem fs(&mem);
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey k, PrivateKey::Generate());
  for (uint64_t n = 1; n <= 5; ++n) {
    fs.FailNthMutation(n, /*crash=*/false);
    EXPECT_FALSE(SavePrivateKey(fs, "/keys/k.pem", k).ok()) << n;
    EXPECT_TRUE(mem.AllFiles().empty()) << n;
  }
}

// ---- interop with the openssl command-line tool ----

class OpensslCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("openssl version > /dev/null 2>&1"), 0)
        << "the openssl CLI is required (apt-get install openssl)";
    char tmpl[] = "/tmp/strata_keys_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  int Run(const std::string& cmd) {
    return std::system((cmd + " > /dev/null 2>&1").c_str());
  }
  std::string Path(const std::string& name) { return JoinPath(dir_, name); }
  std::string dir_;
  FileSystem* fs_ = PosixFileSystem();
};

TEST_F(OpensslCliTest, LoadsKeysFromOpensslGenpkey) {
  ASSERT_EQ(Run("openssl genpkey -algorithm ed25519 -out " + Path("k.pem")), 0);
  ASSERT_EQ(Run("openssl pkey -in " + Path("k.pem") + " -pubout -out " +
                Path("k.pub")),
            0);
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey k,
                              LoadPrivateKey(*fs_, Path("k.pem")));
  STRATA_ASSERT_OK_AND_ASSIGN(PublicKey pub,
                              LoadPublicKey(*fs_, Path("k.pub")));
  EXPECT_EQ(k.public_key(), pub);
  // A signature by openssl verifies with our key.
  STRATA_ASSERT_OK(WriteFileAtomically(*fs_, Path("msg"), "signed by openssl"));
  ASSERT_EQ(Run("openssl pkeyutl -sign -rawin -inkey " + Path("k.pem") +
                " -in " + Path("msg") + " -out " + Path("sig")),
            0);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string sig, fs_->ReadFile(Path("sig")));
  EXPECT_TRUE(pub.Verify("signed by openssl", sig));
}

TEST_F(OpensslCliTest, OpensslReadsAndVerifiesOurKeys) {
  STRATA_ASSERT_OK_AND_ASSIGN(PrivateKey k, PrivateKey::Generate());
  STRATA_ASSERT_OK(SavePrivateKey(*fs_, Path("ours.pem"), k));
  STRATA_ASSERT_OK(SavePublicKey(*fs_, Path("ours.pub"), k.public_key()));
  struct stat st;
  ASSERT_EQ(stat(Path("ours.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(Run("openssl pkey -in " + Path("ours.pem") + " -pubout -out " +
                Path("derived.pub")),
            0);
  STRATA_ASSERT_OK_AND_ASSIGN(std::string derived,
                              fs_->ReadFile(Path("derived.pub")));
  EXPECT_EQ(derived, k.public_key().ToPem());
  STRATA_ASSERT_OK(WriteFileAtomically(*fs_, Path("msg"), "signed by strata"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string sig, k.Sign("signed by strata"));
  STRATA_ASSERT_OK(WriteFileAtomically(*fs_, Path("sig"), sig));
  EXPECT_EQ(
      Run("openssl pkeyutl -verify -rawin -pubin -inkey " + Path("ours.pub") +
          " -in " + Path("msg") + " -sigfile " + Path("sig")),
      0);
  STRATA_ASSERT_OK(WriteFileAtomically(*fs_, Path("msg"), "tampered"));
  EXPECT_NE(
      Run("openssl pkeyutl -verify -rawin -pubin -inkey " + Path("ours.pub") +
          " -in " + Path("msg") + " -sigfile " + Path("sig")),
      0);
}

TEST_F(OpensslCliTest, RefusesNonEd25519AndEncryptedKeys) {
  ASSERT_EQ(
      Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
          "-out " +
          Path("ec.pem")),
      0);
  EXPECT_THAT(LoadPrivateKey(*fs_, Path("ec.pem")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("not Ed25519")));
  ASSERT_EQ(Run("openssl genpkey -algorithm ed25519 -aes256 -pass pass:secret "
                "-out " +
                Path("enc.pem")),
            0);
  EXPECT_THAT(LoadPrivateKey(*fs_, Path("enc.pem")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace strata::signing
