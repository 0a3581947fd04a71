// File trees published as ustar archives: chunks are cut at entry
// boundaries, so unchanged files are stored once across versions, and the
// archive reads back byte for byte.
#include <cstdio>
#include <set>

#include "gtest/gtest.h"
#include "strata/admin_cli/tree_archive.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/core/blob_writer.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::IsOk;

std::string Bytes(size_t n, int seed) {
  std::string s(n, '\0');
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 7;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

class TreeBlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(JoinPath(dir_.path(), "db"));
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }
  std::string Tree(const std::string& name, const std::string& changed) {
    FileSystem& fs = *PosixFileSystem();
    const std::string root = JoinPath(dir_.path(), name);
    EXPECT_THAT(CreateDirs(fs, JoinPath(root, "assets/img")), IsOk());
    EXPECT_THAT(WriteFileAtomically(fs, JoinPath(root, "index.html"), changed),
                IsOk());
    EXPECT_THAT(
        WriteFileAtomically(fs, JoinPath(root, "app.js"), Bytes(300000, 1)),
        IsOk());
    EXPECT_THAT(WriteFileAtomically(fs, JoinPath(root, "assets/img/logo.png"),
                                    Bytes(2500000, 2)),
                IsOk());
    auto archive = admin::ArchiveTree(fs, root);
    EXPECT_THAT(archive, IsOk());
    return *archive;
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(TreeBlobTest, UnchangedFilesShareChunksAcrossVersions) {
  const std::string v1 = Tree("v1", "<html>one</html>");
  const std::string v2 = Tree("v2", "<html>two!</html>");
  // A real ustar archive: GNU tar lists it.
  const std::string tar_file = JoinPath(dir_.path(), "v1.tar");
  ASSERT_THAT(WriteFileAtomically(*PosixFileSystem(), tar_file, v1), IsOk());
  FILE* p = ::popen(("tar -tf " + tar_file).c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string listing;
  char buf[256];
  while (std::fgets(buf, sizeof(buf), p)) listing += buf;
  EXPECT_EQ(::pclose(p), 0);
  EXPECT_EQ(listing, "app.js\nassets/img/logo.png\nindex.html\n");
  // Deterministic: the same tree archives to the same bytes.
  EXPECT_EQ(Tree("v1-again", "<html>one</html>"), v1);

  // Feed v1 in odd-sized pieces, as a gRPC stream would.
  BlobWriter w1(store_.get());
  for (size_t off = 0; off < v1.size(); off += 77777) {
    ASSERT_THAT(w1.Append(std::string_view(v1).substr(off, 77777)), IsOk());
  }
  STRATA_ASSERT_OK_AND_ASSIGN(BlobManifest m1, w1.Finish());
  STRATA_ASSERT_OK_AND_ASSIGN(BlobManifest m2,
                              BlobWriter::WriteAll(store_.get(), v2));
  EXPECT_EQ(m1.sha256, Sha256::HexHash(v1));

  std::set<std::string> c1, c2;
  uint64_t bytes2_new = 0;
  for (const auto& c : m1.chunks) c1.insert(c.sha256);
  for (const auto& c : m2.chunks) {
    c2.insert(c.sha256);
    if (!c1.count(c.sha256)) bytes2_new += c.size;
  }
  // Only index.html's header, data and padding differ: a few hundred bytes
  // of new chunks for a 2.8 MB tree.
  EXPECT_LT(bytes2_new, 4096u) << "new bytes stored for v2: " << bytes2_new;
  EXPECT_GE(c1.size(), 6u);  // header + data chunks per file

  // The archive reads back byte for byte.
  v1::StoredArtifact a;
  *a.mutable_statement() = testing::ConfigHeader("tree", "1", v1).statement();
  ASSERT_THAT(store_->PutArtifact(a, m1, nullptr, testing::TestAudit("p")),
              IsOk());
  EXPECT_EQ(*store_->ReadBlob(m1.sha256, 0, uint64_t{1} << 30), v1);
}

TEST_F(TreeBlobTest, PlainBlobsAreChunkedBySize) {
  const std::string data = Bytes(3 * (1 << 20) + 5, 9);
  STRATA_ASSERT_OK_AND_ASSIGN(BlobManifest m,
                              BlobWriter::WriteAll(store_.get(), data));
  ASSERT_EQ(m.chunks.size(), 4u);
  EXPECT_EQ(m.chunks[0].size, 1u << 20);
  EXPECT_EQ(m.chunks[3].size, 5u);
}

TEST_F(TreeBlobTest, ArchivingRefusesWhatUstarCannotHold) {
  FileSystem& fs = *PosixFileSystem();
  const std::string root = JoinPath(dir_.path(), "deep");
  const std::string long_dir = JoinPath(root, std::string(200, 'd'));
  ASSERT_THAT(CreateDirs(fs, long_dir), IsOk());
  ASSERT_THAT(
      WriteFileAtomically(fs, JoinPath(long_dir, std::string(120, 'f')), "x"),
      IsOk());
  EXPECT_THAT(admin::ArchiveTree(fs, root),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("too long")));
  EXPECT_THAT(admin::ArchiveTree(fs, JoinPath(dir_.path(), "missing")),
              testing::StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace strata::server
