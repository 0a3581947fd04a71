// The canonical ustar archive (a device re-packs a tree it built from a
// tree patch and compares the result with the signed archive hash), tree
// patches made from two archives, and hard-linked unchanged files.
#include "strata/diff/ustar_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/tree_delta.h"
#include "strata/diff/ustar_reader.h"
#include "test_util.h"

namespace strata::diff {
namespace {

namespace fs = std::filesystem;
using ::strata::testing::StatusIs;
using testing::ReadFile;
using testing::Rng;
using testing::TempDir;
using testing::WriteFile;

// Sets the checksum of the header block at `header` after an edit.
void Rechecksum(std::string& archive, size_t header) {
  std::memset(archive.data() + header + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) {
    sum += static_cast<unsigned char>(archive[header + i]);
  }
  std::snprintf(archive.data() + header + 148, 8, "%06o", sum);
  archive[header + 155] = ' ';
}

class UstarWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(7);
    ::umask(022);  // the modes a device gives its files
    WriteFile(dir_ / "v1/a.txt", "alpha");
    WriteFile(dir_ / "v1/a/b.js", rng.Text(3000));
    WriteFile(dir_ / "v1/empty", "");
    WriteFile(dir_ / "v1/run.sh", "#!/bin/sh\n");
    fs::permissions(dir_ / "v1/run.sh", fs::perms(0755));
    // A path that needs the ustar prefix field.
    WriteFile(dir_ / ("v1/" + LongPath()), "deep");
    fs::create_symlink("a/b.js", dir_ / "v1/latest.js");
  }

  static std::string LongPath() {
    return std::string(60, 'd') + "/" + std::string(60, 'e') + "/file.txt";
  }

  absl::StatusOr<std::string> Pack(const std::string& root) {
    STRATA_ASSIGN_OR_RETURN(TreeManifest m, ScanTree(fs_, root));
    StringSink sink;
    STRATA_ASSIGN_OR_RETURN(uint64_t n,
                            WriteCanonicalUstar(fs_, root, m, sink));
    EXPECT_EQ(n, sink.data().size());
    return sink.Release();
  }

  FileSystem& fs_ = *PosixFileSystem();
  TempDir dir_;
};

TEST_F(UstarWriterTest, WritesTheCanonicalFormAndReadsItBack) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string archive, Pack(dir_ / "v1"));
  EXPECT_TRUE(IsCanonicalUstar(archive));
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<UstarEntry> entries,
                              UstarReader::Read(archive));
  std::vector<std::string> paths;
  for (const UstarEntry& e : entries) paths.push_back(e.path);
  EXPECT_THAT(paths, ::testing::ElementsAre("a.txt", "a/b.js", LongPath(),
                                            "empty", "latest.js", "run.sh"));
  // The archive's manifest is the scanned tree's.
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest scanned, ScanTree(fs_, dir_ / "v1"));
  std::vector<std::string_view> data;
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest from_archive,
                              ManifestOfArchive(archive, &data));
  EXPECT_TRUE(from_archive == scanned);
  ASSERT_EQ(data.size(), scanned.size());
  EXPECT_EQ(scanned[0].path, "a.txt");
  EXPECT_EQ(data[0], "alpha");
}

// The encoding is protocol (devices rebuild archives with it): any change
// to the bytes must be deliberate, and versioned.
TEST_F(UstarWriterTest, EncodingIsFrozen) {
  STRATA_ASSERT_OK_AND_ASSIGN(std::string archive, Pack(dir_ / "v1"));
  EXPECT_EQ(archive.size(), 512u * 17);
  EXPECT_EQ(ToHex(Sha256::Hash(archive)),
            "9927069bc29b5e8bad65ad9a3d43ac869b58b5fa1490d25364e3c7d47150063d");
}

// The fuzz seed that reaches the canonical path (written by hand from the
// format's description, so it also checks the writer against the doc).
TEST(UstarWriterSeedTest, TheCanonicalFuzzSeedIsCanonical) {
  absl::StatusOr<std::string> seed = PosixFileSystem()->ReadFile(
      STRATA_TEST_SOURCE_DIR "/diff/fuzz/seeds/ustar_reader/canonical.tar");
  ASSERT_TRUE(seed.ok()) << seed.status();
  EXPECT_TRUE(IsCanonicalUstar(*seed));
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest m,
                              ManifestOfArchive(*seed, nullptr));
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1].type, EntryType::kSymlink);
  EXPECT_EQ(m[2].mode, 0755u);
}

TEST_F(UstarWriterTest, RefusesWhatADeviceCouldNotRebuild) {
  STRATA_ASSERT_OK_AND_ASSIGN(const std::string good, Pack(dir_ / "v1"));
  ASSERT_TRUE(IsCanonicalUstar(good));
  std::string mtime = good;
  std::memcpy(mtime.data() + 136, "00000000001", 11);
  Rechecksum(mtime, 0);
  ASSERT_TRUE(UstarReader::Read(mtime).ok());
  EXPECT_FALSE(IsCanonicalUstar(mtime));

  std::string mode = good;
  std::memcpy(mode.data() + 100, "0000600", 7);
  Rechecksum(mode, 0);
  EXPECT_FALSE(IsCanonicalUstar(mode));

  EXPECT_FALSE(IsCanonicalUstar(good + std::string(512, '\0')));
  EXPECT_FALSE(IsCanonicalUstar(good.substr(0, good.size() - 512)));

  // A directory entry first.
  STRATA_ASSERT_OK_AND_ASSIGN(std::string dir_header,
                              CanonicalUstarHeader("a", 0, false, ""));
  dir_header[156] = '5';
  Rechecksum(dir_header, 0);
  EXPECT_FALSE(IsCanonicalUstar(dir_header + good));

  // Out of order: the first two entries swapped ("a.txt": one header and
  // one data block; "a/b.js": one header and six).
  std::string swapped = good.substr(1024, 512 * 7) + good.substr(0, 1024) +
                        good.substr(1024 + 512 * 7);
  ASSERT_EQ(swapped.size(), good.size());
  ASSERT_TRUE(UstarReader::Read(swapped).ok());
  EXPECT_FALSE(IsCanonicalUstar(swapped));
  EXPECT_FALSE(IsCanonicalUstar("not an archive"));
}

TEST_F(UstarWriterTest, ArchivePatchIsTheDirectoryPatch) {
  Rng rng(9);
  fs::copy(dir_ / "v1", dir_ / "v2",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  WriteFile(dir_ / "v2/a/b.js", rng.Mutate(ReadFile(dir_ / "v1/a/b.js"), 4));
  WriteFile(dir_ / "v2/new.css", rng.Text(800));
  fs::remove(dir_ / "v2/a.txt");
  STRATA_ASSERT_OK_AND_ASSIGN(std::string a1, Pack(dir_ / "v1"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string a2, Pack(dir_ / "v2"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string from_dirs,
                              CreateTreePatch(fs_, dir_ / "v1", dir_ / "v2"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string from_archives,
                              CreateTreePatchFromArchives(a1, a2));
  EXPECT_EQ(from_archives, from_dirs);

  // Applied with unchanged files hard-linked, then re-packed: the new
  // archive, byte for byte.
  TreeApplyOptions options;
  options.link_unchanged = true;
  STRATA_ASSERT_OK(
      ApplyTreePatch(fs_, dir_ / "v1", from_archives, dir_ / "stage", options));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string repacked, Pack(dir_ / "stage"));
  EXPECT_EQ(repacked, a2);
  struct stat kept, old;
  ASSERT_EQ(::stat((dir_ / "stage/run.sh").c_str(), &kept), 0);
  ASSERT_EQ(::stat((dir_ / "v1/run.sh").c_str(), &old), 0);
  EXPECT_EQ(kept.st_ino, old.st_ino);
  ASSERT_EQ(::stat((dir_ / "stage/a/b.js").c_str(), &kept), 0);
  ASSERT_EQ(::stat((dir_ / "v1/a/b.js").c_str(), &old), 0);
  EXPECT_NE(kept.st_ino, old.st_ino);
  // Without the option, nothing is shared.
  STRATA_ASSERT_OK(
      ApplyTreePatch(fs_, dir_ / "v1", from_archives, dir_ / "copied"));
  ASSERT_EQ(::stat((dir_ / "copied/run.sh").c_str(), &kept), 0);
  ASSERT_EQ(::stat((dir_ / "v1/run.sh").c_str(), &old), 0);
  EXPECT_NE(kept.st_ino, old.st_ino);
}

TEST_F(UstarWriterTest, ArchiveModesAreTheDevicesModes) {
  // tar keeps 0600 and 0700; a device unpacks them as 0644 and 0755, so
  // the patch's manifest must say so.
  STRATA_ASSERT_OK_AND_ASSIGN(std::string a, Pack(dir_ / "v1"));
  std::string odd = a;
  // run.sh is the last entry: its header is 3 blocks from the end (header,
  // data, two end blocks).
  const size_t h = odd.size() - 4 * 512;
  ASSERT_EQ(std::string(odd.data() + h), "run.sh");
  std::memcpy(odd.data() + h + 100, "0000700", 7);
  Rechecksum(odd, h);
  STRATA_ASSERT_OK_AND_ASSIGN(TreeManifest m, ManifestOfArchive(odd, nullptr));
  EXPECT_EQ(m.back().path, "run.sh");
  EXPECT_EQ(m.back().mode, 0755u);
  EXPECT_THAT(ManifestOfArchive("junk", nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace strata::diff
