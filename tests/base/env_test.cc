#include "strata/base/env.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;

// One contract, run against every FileSystem implementation.
class FileSystemContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "posix") {
      char tmpl[] = "/tmp/strata_env_test_XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      root_ = tmpl;
      fs_ = PosixFileSystem();
    } else {
      mem_ = std::make_unique<testing::MemFileSystem>();
      root_ = "/root";
      fs_ = mem_.get();
      ASSERT_THAT(fs_->CreateDir(root_), IsOk());
    }
  }
  void TearDown() override {
    if (GetParam() == "posix") (void)DeleteRecursively(*fs_, root_);
  }
  std::string Path(std::string_view name) { return JoinPath(root_, name); }

  std::unique_ptr<testing::MemFileSystem> mem_;
  FileSystem* fs_ = nullptr;
  std::string root_;
};

TEST_P(FileSystemContractTest, WriteThenReadBack) {
  auto file = fs_->NewWritableFile(Path("a"));
  ASSERT_THAT(file, IsOk());
  ASSERT_THAT((*file)->Append("hello "), IsOk());
  ASSERT_THAT((*file)->Append("world"), IsOk());
  ASSERT_THAT((*file)->Sync(), IsOk());
  ASSERT_THAT((*file)->Close(), IsOk());
  auto data = fs_->ReadFile(Path("a"));
  ASSERT_THAT(data, IsOk());
  EXPECT_EQ(*data, "hello world");
  auto info = fs_->Stat(Path("a"));
  ASSERT_THAT(info, IsOk());
  EXPECT_FALSE(info->is_directory);
  EXPECT_EQ(info->size, 11u);
}

TEST_P(FileSystemContractTest, NewWritableFileTruncatesAndAppendableAppends) {
  ASSERT_THAT(WriteFileAtomically(*fs_, Path("a"), "0123456789"), IsOk());
  {
    auto f = fs_->NewAppendableFile(Path("a"));
    ASSERT_THAT(f, IsOk());
    ASSERT_THAT((*f)->Append("ab"), IsOk());
    ASSERT_THAT((*f)->Close(), IsOk());
  }
  EXPECT_EQ(*fs_->ReadFile(Path("a")), "0123456789ab");
  {
    auto f = fs_->NewWritableFile(Path("a"));
    ASSERT_THAT(f, IsOk());
    ASSERT_THAT((*f)->Append("x"), IsOk());
    ASSERT_THAT((*f)->Close(), IsOk());
  }
  EXPECT_EQ(*fs_->ReadFile(Path("a")), "x");
}

TEST_P(FileSystemContractTest, RandomAccessReadsAtOffsets) {
  ASSERT_THAT(WriteFileAtomically(*fs_, Path("r"), "abcdefgh"), IsOk());
  auto f = fs_->NewRandomAccessFile(Path("r"));
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ((*f)->Size(), 8u);
  char buf[8];
  auto n = (*f)->Read(5, 8, buf);
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(std::string(buf, *n), "fgh");
  n = (*f)->Read(100, 8, buf);
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 0u);
}

TEST_P(FileSystemContractTest, MissingFilesAreNotFound) {
  EXPECT_THAT(fs_->ReadFile(Path("nope")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(fs_->Stat(Path("nope")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(fs_->DeleteFile(Path("nope")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(fs_->Rename(Path("nope"), Path("x")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(fs_->NewWritableFile(Path("no/such/dir/f")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(fs_->Exists(Path("nope")));
}

TEST_P(FileSystemContractTest, RenameReplacesTarget) {
  ASSERT_THAT(WriteFileAtomically(*fs_, Path("a"), "new"), IsOk());
  ASSERT_THAT(WriteFileAtomically(*fs_, Path("b"), "old"), IsOk());
  ASSERT_THAT(fs_->Rename(Path("a"), Path("b")), IsOk());
  EXPECT_FALSE(fs_->Exists(Path("a")));
  EXPECT_EQ(*fs_->ReadFile(Path("b")), "new");
}

TEST_P(FileSystemContractTest, DirectoriesListCreateAndDelete) {
  ASSERT_THAT(CreateDirs(*fs_, Path("x/y/z")), IsOk());
  ASSERT_THAT(WriteFileAtomically(*fs_, Path("x/f"), "1"), IsOk());
  auto names = fs_->ListDir(Path("x"));
  ASSERT_THAT(names, IsOk());
  EXPECT_EQ(*names, (std::vector<std::string>{"f", "y"}));
  EXPECT_TRUE(fs_->Stat(Path("x/y"))->is_directory);
  EXPECT_THAT(fs_->CreateDir(Path("x/y")), IsOk());  // already there
  EXPECT_THAT(fs_->DeleteDir(Path("x")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_THAT(DeleteRecursively(*fs_, Path("x")), IsOk());
  EXPECT_FALSE(fs_->Exists(Path("x")));
  EXPECT_THAT(DeleteRecursively(*fs_, Path("x")), IsOk());
}

TEST_P(FileSystemContractTest, CreateDirsRefusesAFileInTheWay) {
  ASSERT_THAT(WriteFileAtomically(*fs_, Path("f"), "1"), IsOk());
  EXPECT_THAT(CreateDirs(*fs_, Path("f/sub")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(FileSystemContractTest, PermissionsAreSet) {
  ASSERT_THAT(WriteFileAtomically(*fs_, Path("k"), "secret"), IsOk());
  ASSERT_THAT(fs_->SetPermissions(Path("k"), 0600), IsOk());
  EXPECT_EQ(fs_->Stat(Path("k"))->mode, 0600u);
}

INSTANTIATE_TEST_SUITE_P(AllFileSystems, FileSystemContractTest,
                         ::testing::Values("posix", "memory"));

// ENOSPC on real files, without root: /dev/full fails every write with
// it. (A full file system proper needs a mount, i.e. root.)
TEST(PosixDiskFullTest, EnospcIsResourceExhaustedSayingNoSpace) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  auto f = PosixFileSystem()->NewAppendableFile("/dev/full");
  ASSERT_THAT(f, IsOk());
  absl::Status s = (*f)->Append("some bytes");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_NE(s.message().find("write /dev/full: No space left on device"),
            absl::string_view::npos)
      << s;
  (void)(*f)->Close();
}

// A file that may not grow (RLIMIT_FSIZE, in a child process): EFBIG,
// also RESOURCE_EXHAUSTED. The real-file stand-in for a quota.
TEST(PosixDiskFullTest, FileSizeLimitIsResourceExhausted) {
  char tmpl[] = "/tmp/strata_efbig_test_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = JoinPath(tmpl, "file");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // the write fails instead of killing
    struct rlimit limit = {16, 16};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(2);
    auto f = PosixFileSystem()->NewWritableFile(path);
    if (!f.ok()) ::_exit(3);
    absl::Status s = (*f)->Append(std::string(64, 'x'));
    ::_exit(absl::IsResourceExhausted(s) &&
                    s.message().find("File too large") !=
                        absl::string_view::npos
                ? 0
                : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: EFBIG not RESOURCE_EXHAUSTED";
  (void)DeleteRecursively(*PosixFileSystem(), tmpl);
}

TEST(PathTest, JoinDirnameBasename) {
  EXPECT_EQ(JoinPath("a/b", "c"), "a/b/c");
  EXPECT_EQ(JoinPath("a/", "c"), "a/c");
  EXPECT_EQ(JoinPath("", "c"), "c");
  EXPECT_EQ(Dirname("a/b/c"), "a/b");
  EXPECT_EQ(Dirname("c"), ".");
  EXPECT_EQ(Dirname("/c"), "/");
  EXPECT_EQ(Basename("a/b/c"), "c");
  EXPECT_EQ(Basename("c"), "c");
}

TEST(RandomTest, UniformStaysInRangeAndFillCoversOddSizes) {
  testing::FakeRandom r(7);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(r.Uniform(10), 10u);
  std::string buf(13, '\0');
  r.Fill(buf.data(), buf.size());
  EXPECT_NE(buf, std::string(13, '\0'));
  std::string sys(16, '\0');
  SystemRandom()->Fill(sys.data(), sys.size());
  EXPECT_NE(sys, std::string(16, '\0'));
}

TEST(ClockTest, SimulatedClockMovesOnlyWhenTold) {
  testing::SimulatedClock clock;
  absl::Time t0 = clock.Now();
  EXPECT_EQ(clock.Now(), t0);
  clock.SleepFor(absl::Seconds(30));
  EXPECT_EQ(clock.Now() - t0, absl::Seconds(30));
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ(clock.Now() - t0, absl::Seconds(90));
}

}  // namespace
}  // namespace strata
