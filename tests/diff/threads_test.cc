// The delta engine's threads (diff/src/threads.h): jobs beside the calling
// thread, pools, the fallback when no thread can be started and the
// passing on of exceptions; and, end to end, that every way of making a
// patch makes the same bytes when no thread can be started.
#include "src/threads.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/delta.h"
#include "strata/diff/tree_delta.h"
#include "test_util.h"

namespace strata::diff {
namespace {

using internal::Beside;
using internal::FailThreadStartsForTesting;
using internal::RefusedThreadStartsForTesting;
using internal::RunBeside;
using internal::RunOnThreads;
using internal::RunReporting;
using ::strata::testing::IsOk;
using testing::Rng;
using testing::TempDir;
using testing::WriteFile;

// Refuses every thread start while in scope.
class NoThreads {
 public:
  NoThreads() { FailThreadStartsForTesting(1 << 30); }
  ~NoThreads() { FailThreadStartsForTesting(0); }
};

// No refusal left over from one test reaches the next.
class ThreadsTest : public ::testing::Test {
 protected:
  void TearDown() override { FailThreadStartsForTesting(0); }
};
using BesideTest = ThreadsTest;
using RunBesideTest = ThreadsTest;
using RunOnThreadsTest = ThreadsTest;
using RunReportingTest = ThreadsTest;
using ThreadFallbackTest = ThreadsTest;

TEST_F(BesideTest, RunsTheJobOnAThreadOfItsOwn) {
  std::thread::id ran;
  Beside b;
  b.Start(true, [&] { ran = std::this_thread::get_id(); });
  b.Join();
  EXPECT_NE(ran, std::thread::id());
  EXPECT_NE(ran, std::this_thread::get_id());
}

TEST_F(BesideTest, RunsTheJobHereWhenToldOrWhenNoThreadStarts) {
  std::thread::id ran;
  {
    Beside b;
    b.Start(false, [&] { ran = std::this_thread::get_id(); });
    b.Join();
    EXPECT_EQ(ran, std::this_thread::get_id());
  }
  const int refused = RefusedThreadStartsForTesting();
  FailThreadStartsForTesting(1);
  ran = std::thread::id();
  Beside b;
  b.Start(true, [&] { ran = std::this_thread::get_id(); });
  b.Join();
  EXPECT_EQ(ran, std::this_thread::get_id());
  EXPECT_EQ(RefusedThreadStartsForTesting(), refused + 1);
  // Only the one start was refused.
  Beside c;
  c.Start(true, [&] { ran = std::this_thread::get_id(); });
  c.Join();
  EXPECT_NE(ran, std::this_thread::get_id());
}

TEST_F(BesideTest, JoinRethrowsTheJobsException) {
  for (bool refuse : {false, true}) {
    SCOPED_TRACE(refuse ? "no thread" : "on a thread");
    if (refuse) FailThreadStartsForTesting(1);
    Beside b;
    b.Start(true, [] { throw std::bad_alloc(); });
    EXPECT_THROW(b.Join(), std::bad_alloc);
    // Once only: a second Join has nothing left to throw.
    EXPECT_NO_THROW(b.Join());
  }
}

TEST_F(BesideTest, LeavingTheScopeWaitsForTheJobAndDropsItsException) {
  std::atomic<bool> done{false};
  {
    Beside b;
    b.Start(true, [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      done = true;
      throw std::runtime_error("dropped");
    });
  }
  EXPECT_TRUE(done);
}

TEST_F(RunBesideTest, RunsBothAndRethrowsAfterBothAreDone) {
  std::atomic<bool> beside_done{false};
  // `here` throws at once: the exception leaves only after `beside` ends.
  EXPECT_THROW(RunBeside(
                   true,
                   [&] {
                     std::this_thread::sleep_for(std::chrono::milliseconds(50));
                     beside_done = true;
                   },
                   [] { throw std::runtime_error("here"); }),
               std::runtime_error);
  EXPECT_TRUE(beside_done);
  // `beside` throws on its thread: rethrown here once `here` is done.
  bool here_done = false;
  EXPECT_THROW(RunBeside(
                   true, [] { throw std::bad_alloc(); },
                   [&] {
                     std::this_thread::sleep_for(std::chrono::milliseconds(50));
                     here_done = true;
                   }),
               std::bad_alloc);
  EXPECT_TRUE(here_done);
  // Both throw: `here`'s is the one that leaves.
  EXPECT_THROW(RunBeside(
                   true, [] { throw std::bad_alloc(); },
                   [] { throw std::runtime_error("here"); }),
               std::runtime_error);
}

TEST_F(RunBesideTest, WithoutAThreadRunsBesideFirstThenHere) {
  std::vector<std::string> order;
  FailThreadStartsForTesting(1);
  RunBeside(
      true, [&] { order.push_back("beside"); },
      [&] { order.push_back("here"); });
  EXPECT_THAT(order, ::testing::ElementsAre("beside", "here"));
}

// `threads` workers over 1,000 items: each item done once, on at most
// `threads` distinct threads; returns how many threads took part.
size_t RunItems(int threads) {
  std::vector<std::atomic<int>> seen(1000);
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  RunOnThreads(threads, [&] {
    for (size_t i = next++; i < seen.size(); i = next++) {
      ++seen[i];
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    // Every worker passes here, with or without items.
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << i;
  return ids.size();
}

TEST_F(RunOnThreadsTest, EveryItemOnceOnAsManyThreadsAsAsked) {
  EXPECT_EQ(RunItems(1), 1u);
  EXPECT_EQ(RunItems(4), 4u);
  EXPECT_EQ(RunItems(0), 1u);  // at least the calling thread
}

TEST_F(RunOnThreadsTest, FewerThreadsWhenSomeCannotStart) {
  const int refused = RefusedThreadStartsForTesting();
  FailThreadStartsForTesting(2);
  EXPECT_EQ(RunItems(4), 2u);
  EXPECT_EQ(RefusedThreadStartsForTesting(), refused + 2);
  NoThreads none;
  EXPECT_EQ(RunItems(4), 1u);
}

TEST_F(RunOnThreadsTest, AHelpersExceptionLeavesOnceAllAreDone) {
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> helpers{0};
  std::atomic<int> finished{0};
  EXPECT_THROW(
      RunOnThreads(3,
                   [&] {
                     // The first helper throws at once; the caller and the
                     // other helper take a while.
                     if (std::this_thread::get_id() != caller &&
                         helpers++ == 0) {
                       throw std::bad_alloc();
                     }
                     std::this_thread::sleep_for(std::chrono::milliseconds(50));
                     ++finished;
                   }),
      std::bad_alloc);
  EXPECT_EQ(helpers, 2);
  EXPECT_EQ(finished, 2);
}

TEST_F(RunReportingTest, ReportsHereWhileTheWorkRunsBeside) {
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> reports{0};
  std::thread::id worked, reported;
  RunReporting(
      [&] {
        worked = std::this_thread::get_id();
        // Runs until it has been reported on three times.
        while (reports < 3) std::this_thread::yield();
      },
      [&] {
        reported = std::this_thread::get_id();
        ++reports;
      },
      std::chrono::milliseconds(1));
  EXPECT_NE(worked, caller);
  EXPECT_EQ(reported, caller);
  EXPECT_GE(reports, 3);
}

TEST_F(RunReportingTest, WorkThatThrowsEndsTheReportsAndReachesTheCaller) {
  // On a thread and without one: the reports stop (an hour's interval
  // would hold the test until ctest's timeout) and the exception leaves.
  for (int refused : {0, 1}) {
    SCOPED_TRACE(refused);
    FailThreadStartsForTesting(refused);
    std::atomic<int> reports{0};
    EXPECT_THROW(RunReporting([] { throw std::bad_alloc(); },
                              [&] { ++reports; }, std::chrono::hours(1)),
                 std::bad_alloc);
    EXPECT_LE(reports, 1);
  }
}

TEST_F(RunReportingTest, WithoutAThreadTheWorkRunsHereUnreported) {
  FailThreadStartsForTesting(1);
  std::thread::id worked;
  int reports = 0;
  RunReporting([&] { worked = std::this_thread::get_id(); }, [&] { ++reports; },
               std::chrono::milliseconds(1));
  EXPECT_EQ(worked, std::this_thread::get_id());
  EXPECT_EQ(reports, 0);
}

// A patch made with `refuse` thread starts refused, and how many were.
struct Made {
  std::string patch;
  int refused = 0;
};

Made MakeRefusing(int refuse, const std::string& old_data,
                  const std::string& new_data, const DiffOptions& o) {
  const int before = RefusedThreadStartsForTesting();
  FailThreadStartsForTesting(refuse);
  auto p = CreatePatch(old_data, new_data, o);
  FailThreadStartsForTesting(0);
  EXPECT_THAT(p, IsOk());
  return {p.ok() ? *p : "", RefusedThreadStartsForTesting() - before};
}

constexpr int kAll = 1 << 30;

// Every way of making a file patch makes the same bytes whether its
// threads start or not, and the patch applies.
TEST_F(ThreadFallbackTest, FilePatchesAreTheSameWithoutThreads) {
  Rng rng(20);
  const std::string text = rng.Text(600000);
  const std::string text_new = rng.MutateText(text, 150);
  const std::string bin = rng.Bytes(1200000);
  const std::string bin_new = rng.Mutate(bin, 200);
  struct Case {
    const char* name;
    const std::string* old_data;
    const std::string* new_data;
    DiffOptions options;
    // The thread starts of the steps named, on two threads.
    int thread_starts;
  };
  std::vector<Case> cases;
  DiffOptions o;
  // The anchored frame of text: the hashes, its two hash chains, the
  // walks and the two encodings.
  cases.push_back({"text, frame first", &text, &text_new, o, 4});
  // The hashes, both suffix-array scans of text and their two encodings.
  DiffOptions sa = o;
  sa.method = PatchMethod::kSuffixArray;
  cases.push_back({"text, suffix array", &text, &text_new, sa, 3});
  // A binary over 1 MiB: the hashes, the whole-file frame, the scan in
  // two chunks beside the progress reports, the streams' compression.
  DiffOptions with_progress = o;
  with_progress.progress = [](std::string_view, double) {};
  cases.push_back({"binary, auto", &bin, &bin_new, with_progress, 5});
  // Files over the prefix window: the hashes, the scan, the zstd-prefix
  // blocks in a pool.
  DiffOptions blocks = o;
  blocks.method = PatchMethod::kZstdPrefix;
  blocks.prefix_window_log = 18;
  cases.push_back({"binary, prefix blocks", &bin, &bin_new, blocks, 3});
  // The scan and the bzip2 streams.
  DiffOptions bsdiff = o;
  bsdiff.format = PatchFormat::kBsdiff40;
  cases.push_back({"BSDIFF40", &bin, &bin_new, bsdiff, 2});
  for (const Case& base : cases) {
    for (int threads : {1, 2, 4}) {
      Case c = base;
      c.options.threads = threads;
      SCOPED_TRACE(std::string(c.name) + ", threads " +
                   std::to_string(threads));
      auto with = CreatePatch(*c.old_data, *c.new_data, c.options);
      ASSERT_THAT(with, IsOk());
      Made none = MakeRefusing(kAll, *c.old_data, *c.new_data, c.options);
      if (threads == 1) {
        EXPECT_EQ(none.refused, 0) << "one thread starts none";
      } else if (threads == 2) {
        EXPECT_EQ(none.refused, c.thread_starts) << "a step was not reached";
      } else {
        EXPECT_GE(none.refused, c.thread_starts);
      }
      EXPECT_TRUE(none.patch == *with)
          << none.patch.size() << " bytes against " << with->size();
      if (threads > 1) {
        // Only the first start refused: that step runs here, the rest
        // on their threads.
        Made first = MakeRefusing(1, *c.old_data, *c.new_data, c.options);
        EXPECT_EQ(first.refused, 1);
        EXPECT_TRUE(first.patch == *with)
            << first.patch.size() << " bytes against " << with->size();
      }
      auto applied = ApplyPatchToString(*c.old_data, none.patch);
      ASSERT_THAT(applied, IsOk());
      EXPECT_TRUE(*applied == *c.new_data);
    }
  }
}

TEST_F(ThreadFallbackTest, TreePatchesAreTheSameWithoutThreads) {
  TempDir dir;
  testing::WriteEditedTrees(dir.path(), 21, 20);
  FileSystem& fs = *PosixFileSystem();
  // The per-file form: the two tree scans, then the body (its two
  // suffix-array scans and their encodings, the frame beside them); the
  // archive form adds a zstd-prefix patch of the archives (the hashes,
  // the frame beside them).
  for (auto [form, starts] : {std::pair{TreePatchForm::kPerFile, 4},
                              std::pair{TreePatchForm::kAuto, 6}}) {
    SCOPED_TRACE(static_cast<int>(form));
    TreeDiffOptions o;
    o.delta.threads = 2;
    o.form = form;
    auto with = CreateTreePatch(fs, dir / "old", dir / "new", o);
    ASSERT_THAT(with, IsOk());
    for (int refuse : {kAll, 1}) {
      const int before = RefusedThreadStartsForTesting();
      FailThreadStartsForTesting(refuse);
      auto without = CreateTreePatch(fs, dir / "old", dir / "new", o);
      FailThreadStartsForTesting(0);
      ASSERT_THAT(without, IsOk());
      EXPECT_EQ(RefusedThreadStartsForTesting() - before,
                refuse == 1 ? 1 : starts);
      EXPECT_TRUE(*without == *with)
          << without->size() << " bytes against " << with->size();
      const std::string stage =
          dir / ("stage" + std::to_string(static_cast<int>(form)) + "-" +
                 std::to_string(refuse));
      ASSERT_THAT(ApplyTreePatch(fs, dir / "old", *without, stage), IsOk());
      for (int i = 0; i < 20; ++i) {
        const std::string name = "/js/f" + std::to_string(i) + ".js";
        EXPECT_EQ(testing::ReadFile(stage + name),
                  testing::ReadFile(dir / ("new" + name)));
      }
    }
  }
}

}  // namespace
}  // namespace strata::diff
