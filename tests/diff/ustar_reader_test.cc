// The ustar reader the server checks published trees with: what it accepts
// (files, directories, symlinks inside the tree, "./" prefixes, streamed in
// any piece sizes) and what it refuses, naming the entry.
#include "strata/diff/ustar_reader.h"

#include <cstdio>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/env.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::diff {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

// One ustar header + data, as tar writes it.
std::string Entry(const std::string& name, char type, const std::string& data,
                  const std::string& link = "", bool gnu_magic = false,
                  uint32_t mode = 0644) {
  char h[512] = {};
  std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(h + 100, 8, "%07o", mode);
  std::snprintf(h + 124, 12, "%011llo",
                static_cast<unsigned long long>(data.size()));
  std::memset(h + 148, ' ', 8);
  h[156] = type;
  std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 100));
  std::memcpy(h + 257,
              gnu_magic ? "ustar  "
                        : "ustar\0"
                          "00",
              8);
  unsigned sum = 0;
  for (unsigned char c : std::string_view(h, 512)) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  std::string out(h, 512);
  out += data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}

std::string End() { return std::string(1024, '\0'); }

TEST(UstarReaderTest, ReadsFilesDirectoriesAndInsideSymlinks) {
  const std::string tar = Entry("./", '5', "") + Entry("./web/", '5', "") +
                          Entry("./web/index.html", '0', "<html>") +
                          Entry("web/run.sh", '0', "#!", "", false, 0755) +
                          Entry("latest", '2', "", "web/index.html") + End();
  ASSERT_TRUE(LooksLikeUstar(tar));
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<UstarEntry> entries,
                              UstarReader::Read(tar));
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].path, "web");
  EXPECT_EQ(entries[0].type, UstarEntry::Type::kDirectory);
  EXPECT_EQ(entries[1].path, "web/index.html");
  EXPECT_EQ(entries[1].size, 6u);
  EXPECT_EQ(tar.substr(entries[1].data_offset, 6), "<html>");
  EXPECT_EQ(entries[2].mode, 0755u);
  EXPECT_EQ(entries[3].type, UstarEntry::Type::kSymlink);
  EXPECT_EQ(entries[3].link_target, "web/index.html");
}

TEST(UstarReaderTest, ReadsWhatGnuTarWrites) {
  // The fuzz seed: samples/h5/mall-home-v1 through `tar --format=ustar`.
  absl::StatusOr<std::string> tar = PosixFileSystem()->ReadFile(
      STRATA_TEST_SOURCE_DIR "/diff/fuzz/seeds/ustar_reader/mall-home.tar");
  ASSERT_TRUE(tar.ok()) << tar.status();
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<UstarEntry> entries,
                              UstarReader::Read(*tar));
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].path, "mall-home-v1");
  EXPECT_EQ(entries[0].type, UstarEntry::Type::kDirectory);
}

TEST(UstarReaderTest, StreamedInPiecesGivesTheSameEntries) {
  const std::string tar = Entry("a", '0', std::string(700, 'x')) +
                          Entry("b", '0', "yy") +
                          Entry("GNU", '0', "z", "",
                                /*gnu_magic=*/true) +
                          End();
  for (size_t piece : {1u, 7u, 511u, 512u, 4096u}) {
    UstarReader r;
    for (size_t off = 0; off < tar.size(); off += piece) {
      STRATA_ASSERT_OK(r.Append(std::string_view(tar).substr(off, piece)));
    }
    STRATA_ASSERT_OK_AND_ASSIGN(std::vector<UstarEntry> entries, r.Finish());
    ASSERT_EQ(entries.size(), 3u) << piece;
    EXPECT_EQ(entries[1].data_offset, 512u + 1024u + 512u);
  }
}

TEST(UstarReaderTest, RefusesPathsThatLeaveTheTree) {
  EXPECT_THAT(UstarReader::Read(Entry("../etc/passwd", '0', "x") + End()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"..\" components are not allowed")));
  EXPECT_THAT(UstarReader::Read(Entry("/etc/passwd", '0', "x") + End()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("absolute paths are not allowed")));
  EXPECT_THAT(
      UstarReader::Read(Entry("web/up", '2', "", "../../etc") + End()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("archive entry 1 (header at byte 0): symlink "
                         "\"web/up\" -> \"../../etc\" climbs above the tree")));
  EXPECT_THAT(
      UstarReader::Read(Entry("host", '2', "", "/etc/hostname") + End()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is absolute")));
  // A file written through a symlink or below a file.
  EXPECT_THAT(UstarReader::Read(Entry("lib", '2', "", "sub") +
                                Entry("lib/x", '0', "x") + End()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'lib/x' below 'lib', which is a file or a "
                                 "symlink")));
  EXPECT_THAT(
      UstarReader::Read(Entry("a", '0', "1") + Entry("a", '0', "2") + End()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("holds 'a' twice")));
}

TEST(UstarReaderTest, RefusesOtherEntryTypesByName) {
  EXPECT_THAT(UstarReader::Read(Entry("h", '1', "", "a") + End()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'h' is a hard link")));
  EXPECT_THAT(UstarReader::Read(Entry("dev", '3', "") + End()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry type '3' (device, FIFO")));
  EXPECT_THAT(UstarReader::Read(Entry("PaxHeader", 'x', "30 path=x\n") + End()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("pax or GNU extension header")));
}

TEST(UstarReaderTest, RefusesDamagedArchives) {
  std::string tar = Entry("a", '0', "hello") + End();
  std::string bad_sum = tar;
  bad_sum[0] = 'b';
  EXPECT_THAT(UstarReader::Read(bad_sum),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("checksum is wrong")));
  EXPECT_THAT(UstarReader::Read(tar.substr(0, 600)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cut short in entry 1")));
  EXPECT_THAT(UstarReader::Read(tar + Entry("b", '0', "x")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("data after its end-of-archive block")));
  std::string not_tar(1024, 'x');
  EXPECT_FALSE(LooksLikeUstar(not_tar));
  EXPECT_THAT(UstarReader::Read(not_tar),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a ustar header")));
  // An empty archive has no entries (callers decide whether that is empty
  // content).
  STRATA_ASSERT_OK_AND_ASSIGN(std::vector<UstarEntry> none,
                              UstarReader::Read(End()));
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace strata::diff
